package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A stand-in for the part of systemd k3s relies on: the lab's Pis have no systemd, so
// install.sh asks this to `restart` the unit it wrote (/etc/systemd/system/<name>.service,
// its EnvironmentFile), and the Pi's init asks it to start the enabled units at boot.
//   restart NAME   start NAME under a supervisor (Restart=always, RestartSec=5s) and wait,
//                  like `systemctl restart` of a Type=notify unit, until the process says
//                  it is ready (exit 0) or exits first (exit 1, with the log's tail)
//   stop NAME|--all, status NAME, boot
// State: /run/k3s-standin/<name>.{supervisor.pid,pid,ready,exit,log}.

const (
	unitDir  = "/etc/systemd/system"
	runState = "/run/k3s-standin"
)

func statePath(name, ext string) string { return filepath.Join(runState, name+"."+ext) }

func serviceMain(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: k3s stand-in-service restart|stop|status|boot|supervise NAME")
		return 2
	}
	_ = os.MkdirAll(runState, 0o755)
	name := ""
	if len(args) > 1 {
		name = strings.TrimSuffix(args[1], ".service")
	}
	switch args[0] {
	case "restart":
		return svcRestart(name)
	case "stop":
		if name == "--all" {
			rc := 0
			for _, n := range runningUnits() {
				if svcStop(n) != 0 {
					rc = 1
				}
			}
			return rc
		}
		return svcStop(name)
	case "status":
		if pid, ok := livePid(statePath(name, "pid"), "/usr/local/bin/k3s"); ok {
			fmt.Printf("%s: active (running), pid %d\n", name, pid)
			return 0
		}
		fmt.Printf("%s: inactive\n", name)
		return 3
	case "boot":
		units, _ := filepath.Glob(filepath.Join(unitDir, "multi-user.target.wants", "k3s*.service"))
		for _, u := range units {
			n := strings.TrimSuffix(filepath.Base(u), ".service")
			if err := spawnSupervisor(n); err != nil {
				fmt.Fprintf(os.Stderr, "boot: %s: %v\n", n, err)
			} else {
				fmt.Printf("boot: started %s\n", n)
			}
		}
		return 0
	case "supervise":
		return supervise(name)
	}
	fmt.Fprintf(os.Stderr, "stand-in-service: unknown action %q\n", args[0])
	return 2
}

type unit struct {
	exec []string
	env  []string
}

func readUnit(name string) (*unit, error) {
	b, err := os.ReadFile(filepath.Join(unitDir, name+".service"))
	if err != nil {
		return nil, err
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	u := &unit{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "ExecStart="):
			for _, f := range strings.Fields(strings.TrimPrefix(line, "ExecStart=")) {
				u.exec = append(u.exec, strings.Trim(f, `'"`))
			}
		case strings.HasPrefix(line, "EnvironmentFile="):
			p := strings.TrimPrefix(line, "EnvironmentFile=")
			optional := strings.HasPrefix(p, "-")
			p = strings.ReplaceAll(strings.TrimPrefix(p, "-"), "%N", name)
			vars, err := readEnvFile(p)
			if err != nil {
				if optional && errors.Is(err, os.ErrNotExist) {
					continue
				}
				return nil, err
			}
			u.env = append(u.env, vars...)
		}
	}
	if len(u.exec) == 0 {
		return nil, fmt.Errorf("%s.service has no ExecStart", name)
	}
	return u, nil
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
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if len(v) >= 2 && (v[0] == '\'' && v[len(v)-1] == '\'' || v[0] == '"' && v[len(v)-1] == '"') {
			v = v[1 : len(v)-1]
		}
		out = append(out, k+"="+v)
	}
	return out, sc.Err()
}

// livePid reads a pid file and checks the process still runs `want` (no pid reuse mistakes).
func livePid(file, want string) (int, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(strings.ReplaceAll(string(cmd), "\x00", " "), want) {
		return 0, false
	}
	return pid, true
}

func runningUnits() []string {
	files, _ := filepath.Glob(filepath.Join(runState, "*.supervisor.pid"))
	var out []string
	for _, f := range files {
		out = append(out, strings.TrimSuffix(filepath.Base(f), ".supervisor.pid"))
	}
	return out
}

func spawnSupervisor(name string) error {
	if _, err := readUnit(name); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(statePath(name, "log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	cmd := exec.Command(self, "stand-in-service", "supervise", name)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	_ = cmd.Process.Release()
	return nil
}

func svcRestart(name string) int {
	if name == "" {
		fmt.Fprintln(os.Stderr, "restart: which unit?")
		return 2
	}
	svcStop(name)
	_ = os.Remove(statePath(name, "ready"))
	_ = os.Remove(statePath(name, "exit"))
	if err := spawnSupervisor(name); err != nil {
		fmt.Fprintf(os.Stderr, "Failed to restart %s.service: %v\n", name, err)
		return 1
	}
	limit := 600 * time.Second
	if v, err := strconv.Atoi(os.Getenv("K3S_STANDIN_START_TIMEOUT")); err == nil && v > 0 {
		limit = time.Duration(v) * time.Second
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(statePath(name, "ready")); err == nil {
			return 0
		}
		if b, err := os.ReadFile(statePath(name, "exit")); err == nil {
			fmt.Fprintf(os.Stderr, "Job for %s.service failed because the control process exited with error code (%s).\n",
				name, strings.TrimSpace(string(b)))
			fmt.Fprintf(os.Stderr, "The last lines of its log (%s):\n%s", statePath(name, "log"), tail(statePath(name, "log"), 15))
			return 1
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "%s.service did not report ready within %s; its log:\n%s", name, limit, tail(statePath(name, "log"), 15))
	return 1
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

func svcStop(name string) int {
	sup, ok := livePid(statePath(name, "supervisor.pid"), "stand-in-service supervise "+name)
	if ok {
		_ = syscall.Kill(sup, syscall.SIGTERM)
		for i := 0; i < 150; i++ {
			if _, alive := livePid(statePath(name, "supervisor.pid"), "stand-in-service supervise "+name); !alive {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, alive := livePid(statePath(name, "supervisor.pid"), "stand-in-service supervise "+name); alive {
			_ = syscall.Kill(sup, syscall.SIGKILL)
		}
	}
	if pid, ok := livePid(statePath(name, "pid"), "/usr/local/bin/k3s"); ok {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, ext := range []string{"supervisor.pid", "pid", "ready"} {
		_ = os.Remove(statePath(name, ext))
	}
	return 0
}

// supervise runs the unit's ExecStart and restarts it 5 s after it exits, until SIGTERM.
func supervise(name string) int {
	_ = os.WriteFile(statePath(name, "supervisor.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	first := true
	for {
		u, err := readUnit(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "supervisor: %v\n", err)
			_ = os.WriteFile(statePath(name, "exit"), []byte(err.Error()+"\n"), 0o644)
			return 1
		}
		cmd := exec.Command(u.exec[0], u.exec[1:]...)
		cmd.Env = append(append(baseEnv(), u.env...), "K3S_STANDIN_NOTIFY="+statePath(name, "ready"))
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.Dir = "/"
		if err := cmd.Start(); err != nil {
			_ = os.WriteFile(statePath(name, "exit"), []byte(err.Error()+"\n"), 0o644)
			return 1
		}
		_ = os.WriteFile(statePath(name, "pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-sig:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			_ = os.Remove(statePath(name, "pid"))
			_ = os.Remove(statePath(name, "ready"))
			_ = os.Remove(statePath(name, "supervisor.pid"))
			return 0
		case err := <-done:
			msg := "status=0/SUCCESS"
			if err != nil {
				msg = err.Error()
			}
			fmt.Fprintf(os.Stderr, "supervisor: %s.service: main process exited, %s; restarting in 5s\n", name, msg)
			if first {
				if _, err := os.Stat(statePath(name, "ready")); err != nil {
					_ = os.WriteFile(statePath(name, "exit"), []byte(msg+"\n"), 0o644)
				}
			}
			_ = os.Remove(statePath(name, "ready"))
		}
		first = false
		select {
		case <-sig:
			_ = os.Remove(statePath(name, "pid"))
			_ = os.Remove(statePath(name, "supervisor.pid"))
			return 0
		case <-time.After(5 * time.Second):
		}
	}
}

func baseEnv() []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
}
