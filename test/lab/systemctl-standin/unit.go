package main

// Reading unit files the way systemd does, for the keys k3s's installer writes
// (../shared/upstream/k3s/install.sh create_systemd_service_file): systemd.syntax(7) for the
// file format (sections, "\" line continuation, "#"/";" comments), systemd.service(5) for
// Type=, ExecStartPre=/ExecStart= (with the "-" prefix: a failure is ignored), Restart=,
// RestartSec=, KillMode=, TimeoutStopSec=, systemd.exec(5) for Environment= and
// EnvironmentFile= (the "-" prefix: a missing file is not an error; %N is the unit name without
// its suffix), systemd.unit(5) for [Install] WantedBy=.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type execLine struct {
	argv          []string
	ignoreFailure bool // the "-" prefix
}

type unitFile struct {
	name         string // k3s.service
	path         string
	serviceType  string // simple, exec, notify, oneshot
	execStartPre []execLine
	execStart    execLine
	environment  []string
	envFiles     []string // as written, "-" prefix kept
	restart      string   // no, always, on-failure
	restartSec   time.Duration
	killMode     string // control-group, process, mixed
	timeoutStop  time.Duration
	timeoutStart time.Duration // 0: wait as long as it takes (k3s's TimeoutStartSec=0)
	wantedBy     []string
}

// unitName completes "k3s" to "k3s.service" (systemctl does the same for a name without suffix).
func unitName(arg string) string {
	base := filepath.Base(arg)
	if strings.Contains(base, ".") {
		return base
	}
	return base + ".service"
}

// unitPath is where the stand-in looks: only the administrator's units in /etc/systemd/system,
// where k3s's installer writes. Units that packages ship (/lib/systemd/system) belong to the
// Pi's init, which starts them with their SysV scripts (test/lab/pilab-init).
func unitPath(name string) string { return filepath.Join(systemdDir, name) }

func readUnitFile(name string) (*unitFile, error) { return readUnitFileAt(unitPath(name), name) }

func readUnitFileAt(path, name string) (*unitFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	u := &unitFile{name: name, path: path, serviceType: "simple", restart: "no",
		restartSec: 100 * time.Millisecond, killMode: "control-group", timeoutStop: 90 * time.Second, timeoutStart: 90 * time.Second}
	section := ""
	for _, line := range logicalLines(string(b)) {
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch section + "." + key {
		case "Service.Type":
			u.serviceType = value
		case "Service.ExecStartPre":
			if l, err := parseExec(value); err == nil {
				u.execStartPre = append(u.execStartPre, l)
			}
		case "Service.ExecStart":
			l, err := parseExec(value)
			if err != nil {
				return nil, fmt.Errorf("%s: ExecStart: %v", path, err)
			}
			u.execStart = l
		case "Service.Environment":
			words, err := splitWords(value)
			if err != nil {
				return nil, fmt.Errorf("%s: Environment: %v", path, err)
			}
			u.environment = append(u.environment, words...)
		case "Service.EnvironmentFile":
			u.envFiles = append(u.envFiles, value)
		case "Service.Restart":
			u.restart = value
		case "Service.RestartSec":
			u.restartSec = parseSeconds(value, u.restartSec)
		case "Service.KillMode":
			u.killMode = value
		case "Service.TimeoutStopSec":
			u.timeoutStop = parseSeconds(value, u.timeoutStop)
		case "Service.TimeoutStartSec":
			u.timeoutStart = parseSeconds(value, u.timeoutStart)
		case "Install.WantedBy":
			u.wantedBy = append(u.wantedBy, strings.Fields(value)...)
		}
	}
	if len(u.execStart.argv) == 0 {
		return nil, fmt.Errorf("%s has no ExecStart=", path)
	}
	return u, nil
}

// logicalLines joins "\"-continued lines and drops comments and blank lines.
func logicalLines(text string) []string {
	var out []string
	var cur strings.Builder
	for _, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\"))
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(line)
		out = append(out, strings.TrimSpace(cur.String()))
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}

func parseExec(value string) (execLine, error) {
	l := execLine{}
	for len(value) > 0 && strings.ContainsRune("-@:+!", rune(value[0])) {
		if value[0] == '-' {
			l.ignoreFailure = true
		}
		value = value[1:]
	}
	words, err := splitWords(value)
	if err != nil {
		return l, err
	}
	if len(words) == 0 || !strings.HasPrefix(words[0], "/") {
		return l, fmt.Errorf("the command must be an absolute path: %q", value)
	}
	l.argv = words
	return l, nil
}

// splitWords splits as systemd does for command lines: whitespace separates words, single and
// double quotes group, a backslash escapes the next character.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	runes := []rune(s)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '\'' || r == '"'):
			quote, inWord = r, true
		case r == '\\' && i+1 < len(runes) && quote != '\'':
			i++
			cur.WriteRune(runes[i])
			inWord = true
		case quote == 0 && (r == ' ' || r == '\t'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unbalanced quotes")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// parseSeconds reads "5s", "5", "100ms", "1min" (the forms k3s's and Debian's units use).
func parseSeconds(v string, fallback time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "infinity" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(n * float64(time.Second))
	}
	v = strings.ReplaceAll(v, "min", "m")
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	return fallback
}

// env is what systemd gives a service: a clean environment, then Environment=, then each
// EnvironmentFile= in order (systemd.exec(5)).
func (u *unitFile) env() ([]string, error) {
	out := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root", "USER=root"}
	out = append(out, u.environment...)
	base := strings.TrimSuffix(u.name, filepath.Ext(u.name))
	for _, spec := range u.envFiles {
		optional := strings.HasPrefix(spec, "-")
		p := strings.ReplaceAll(strings.TrimPrefix(spec, "-"), "%N", base)
		p = strings.ReplaceAll(p, "%n", u.name)
		vars, err := readEnvFile(p)
		if err != nil {
			if optional && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("failed to load environment file %s: %v", p, err)
		}
		out = append(out, vars...)
	}
	return out, nil
}

func readEnvFile(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(strings.TrimPrefix(k, "export "))
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '\'' && v[len(v)-1] == '\'' || v[0] == '"' && v[len(v)-1] == '"') {
			v = v[1 : len(v)-1]
		}
		out = append(out, k+"="+v)
	}
	return out, sc.Err()
}
