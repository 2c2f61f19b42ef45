// systemctl STAND-IN for the picluster lab (test/lab). The lab's simulated Pis have no systemd
// (a Pi is a network namespace whose pid 1 is test/lab/pilab-init), yet k3s's real installer
// (../shared/upstream/k3s/install.sh) and the k3s-killall.sh and k3s[-agent]-uninstall.sh it
// writes drive k3s through systemctl. This program is installed as /usr/local/sbin/systemctl
// on every Pi, ahead of the host's /bin/systemctl on PATH, and gives those scripts the systemd
// behaviour they rely on, following systemctl(1) and systemd.service(5):
//
//	enable UNIT|PATH     symlink into <WantedBy>.wants/, as the [Install] section says
//	disable UNIT         remove those symlinks ("Unit file ... does not exist" when there is none)
//	daemon-reload        accepted; unit files are read at every start
//	start|stop|restart   start blocks like a Type=notify job: until the service sends READY=1 to
//	                     $NOTIFY_SOCKET (sd_notify(3)), or fails when it exits first; --no-block
//	                     returns at once; stop sends SIGTERM as KillMode= says, SIGKILL after
//	                     TimeoutStopSec=
//	is-active, is-enabled, status, reset-failed
//	start multi-user.target   what pilab-init runs at boot: every enabled unit, --no-block
//
// Each started unit gets a supervisor process that runs ExecStartPre= ("-": failure ignored)
// and ExecStart= with Environment= and EnvironmentFile=, and restarts it as Restart= and
// RestartSec= say. The output of a unit goes to /run/systemctl-standin/<unit>/log (the journal's
// stand-in; /run is emptied at a reboot, as the volatile journal is). One difference, on
// purpose: ExecStartPre= lines that run modprobe are logged and skipped, because loading a
// kernel module would change the host's kernel, not the simulated Pi.
package main

import (
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

const (
	systemdDir = "/etc/systemd/system"
	stateRoot  = "/run/systemctl-standin"
)

// holdDir is the lab's fault-injection folder (set at build time by test/lab/lab): while
// <holdDir>/hold.<hostname> exists, `systemctl restart` on that Pi stops before starting
// anything (bounded: 120 s) and says so in <holdDir>/held.<hostname>. k3s's installer calls it
// last, with k3s installed and enabled but not started: the end-to-end test kills `pulumi up`
// right there.
var holdDir = ""

func holdIfAsked() {
	if holdDir == "" {
		return
	}
	host, _ := os.Hostname()
	hold := filepath.Join(holdDir, "hold."+host)
	if _, err := os.Stat(hold); err != nil {
		return
	}
	_ = os.WriteFile(filepath.Join(holdDir, "held."+host), nil, 0o644)
	for i := 0; i < 600; i++ {
		if _, err := os.Stat(hold); err != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func main() {
	args := os.Args[1:]
	block, quiet := true, false
	var rest []string
	for _, a := range args {
		switch a {
		case "--no-block":
			block = false
		case "-q", "--quiet":
			quiet = true
		case "--no-pager", "--no-ask-password", "--system":
		default:
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 {
		fmt.Fprintln(os.Stderr, "systemctl (lab stand-in): a verb is required")
		os.Exit(1)
	}
	verb, units := rest[0], rest[1:]
	if verb == "__supervise" && len(units) == 1 {
		os.Exit(supervise(units[0]))
	}
	os.Exit(run(verb, units, block, quiet))
}

func run(verb string, units []string, block, quiet bool) int {
	switch verb {
	case "daemon-reload":
		return 0
	case "enable", "disable", "start", "stop", "restart", "is-active", "is-enabled", "status", "reset-failed":
	default:
		fmt.Fprintf(os.Stderr, "Unknown command verb '%s'.\n", verb)
		return 1
	}
	if len(units) == 0 && verb != "reset-failed" && verb != "status" {
		fmt.Fprintf(os.Stderr, "Too few arguments.\n")
		return 1
	}
	rc := 0
	worst := func(r int) {
		if r > rc {
			rc = r
		}
	}
	for _, arg := range units {
		name := unitName(arg)
		switch verb {
		case "enable":
			worst(enable(name, quiet))
		case "disable":
			worst(disable(name, quiet))
		case "start":
			if name == "multi-user.target" {
				worst(startWanted(name))
				continue
			}
			worst(start(name, block))
		case "stop":
			worst(stop(name))
		case "restart":
			holdIfAsked()
			if r := stop(name); r != 0 && r != 5 {
				worst(r)
				continue
			}
			worst(start(name, block))
		case "is-active":
			state := activeState(name)
			if !quiet {
				fmt.Println(state)
			}
			if state != "active" {
				worst(3)
			}
		case "is-enabled":
			worst(isEnabled(name, quiet))
		case "status":
			worst(status(name))
		case "reset-failed":
			worst(resetFailed(name))
		}
	}
	return rc
}

// --- state of a started unit: /run/systemctl-standin/<unit>/{supervisor.pid,main.pid,state,start-failed,log,notify}

func stateDir(name string) string        { return filepath.Join(stateRoot, name) }
func statePath(name, file string) string { return filepath.Join(stateDir(name), file) }
func setState(name, state string) {
	_ = os.WriteFile(statePath(name, "state"), []byte(state+"\n"), 0o644)
}
func readState(name string) string          { return strings.TrimSpace(readFile(statePath(name, "state"))) }
func readFile(p string) string              { b, _ := os.ReadFile(p); return string(b) }
func supervisorMarker(name string) []string { return []string{"__supervise", name} }

// livePid is the pid in a pid file if that process still runs and its command line has every
// marker (a recycled pid is not mistaken for the service).
func livePid(file string, markers ...string) (int, bool) {
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(file)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(cmdline) == 0 {
		return 0, false // gone, or a zombie
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	for _, m := range markers {
		found := false
		for _, a := range args {
			if a == m {
				found = true
			}
		}
		if !found {
			return 0, false
		}
	}
	return pid, true
}

func supervisorPid(name string) (int, bool) {
	return livePid(statePath(name, "supervisor.pid"), supervisorMarker(name)...)
}

func activeState(name string) string {
	if _, ok := supervisorPid(name); ok {
		if s := readState(name); s != "" {
			return s
		}
		return "activating"
	}
	if readState(name) == "failed" {
		return "failed"
	}
	return "inactive"
}

// --- enable / disable

func enable(name string, quiet bool) int {
	u, err := readUnitFile(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Failed to enable unit: Unit file %s does not exist.\n", name)
		return 1
	}
	for _, target := range u.wantedBy {
		dir := filepath.Join(systemdDir, target+".wants")
		link := filepath.Join(dir, name)
		if dest, err := os.Readlink(link); err == nil && dest == u.path {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "Failed to enable unit: %v\n", err)
			return 1
		}
		_ = os.Remove(link)
		if err := os.Symlink(u.path, link); err != nil {
			fmt.Fprintf(os.Stderr, "Failed to enable unit: %v\n", err)
			return 1
		}
		if !quiet {
			fmt.Fprintf(os.Stderr, "Created symlink %s → %s.\n", link, u.path)
		}
	}
	return 0
}

func wantLinks(name string) []string {
	links, _ := filepath.Glob(filepath.Join(systemdDir, "*.wants", name))
	return links
}

func disable(name string, quiet bool) int {
	links := wantLinks(name)
	if _, err := os.Stat(unitPath(name)); err != nil && len(links) == 0 {
		fmt.Fprintf(os.Stderr, "Failed to disable unit: Unit file %s does not exist.\n", name)
		return 1
	}
	for _, l := range links {
		if err := os.Remove(l); err == nil && !quiet {
			fmt.Fprintf(os.Stderr, "Removed \"%s\".\n", l)
		}
		// A .wants folder this emptied goes too (rmdir fails on one that holds other units).
		_ = os.Remove(filepath.Dir(l))
	}
	return 0
}

func isEnabled(name string, quiet bool) int {
	if _, err := os.Stat(unitPath(name)); err != nil {
		fmt.Fprintf(os.Stderr, "Failed to get unit file state for %s: No such file or directory\n", name)
		return 1
	}
	state, rc := "disabled", 1
	if len(wantLinks(name)) > 0 {
		state, rc = "enabled", 0
	}
	if !quiet {
		fmt.Println(state)
	}
	return rc
}

// --- start / stop

func startWanted(target string) int {
	links, _ := filepath.Glob(filepath.Join(systemdDir, target+".wants", "*.service"))
	for _, l := range links {
		name := filepath.Base(l)
		if dest, err := filepath.EvalSymlinks(l); err != nil || filepath.Dir(dest) != systemdDir {
			continue // a packaged unit: the Pi's init starts those (see unitPath)
		}
		start(name, false)
	}
	return 0
}

func start(name string, block bool) int {
	u, err := readUnitFile(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "Failed to start %s: Unit %s not found.\n", name, name)
			return 5
		}
		fmt.Fprintf(os.Stderr, "Failed to start %s: %v\n", name, err)
		return 1
	}
	if _, running := supervisorPid(name); !running {
		if err := os.MkdirAll(stateDir(name), 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "Failed to start %s: %v\n", name, err)
			return 1
		}
		_ = os.Remove(statePath(name, "start-failed"))
		setState(name, "activating")
		if err := spawnSupervisor(name); err != nil {
			fmt.Fprintf(os.Stderr, "Failed to start %s: %v\n", name, err)
			return 1
		}
	}
	if !block {
		return 0
	}
	// TimeoutStartSec=0 (k3s's unit) waits for as long as it takes; the caller bounds it.
	limit := u.timeoutStart
	deadline := time.Now().Add(limit)
	for limit == 0 || time.Now().Before(deadline) {
		if readState(name) == "active" {
			return 0
		}
		if why := strings.TrimSpace(readFile(statePath(name, "start-failed"))); why != "" {
			fmt.Fprintf(os.Stderr, "Job for %s failed because the control process exited with error code (%s).\n", name, why)
			fmt.Fprintf(os.Stderr, "See \"systemctl status %s\" for details.\n", name)
			return 1
		}
		if _, running := supervisorPid(name); !running && readState(name) != "activating" {
			fmt.Fprintf(os.Stderr, "Job for %s failed.\n", name)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop(name)
	fmt.Fprintf(os.Stderr, "Job for %s failed because a timeout was exceeded.\n", name)
	return 1
}

func spawnSupervisor(name string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(statePath(name, "log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(self, "__supervise", name)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	_ = os.WriteFile(statePath(name, "supervisor.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	return cmd.Process.Release()
}

func stop(name string) int {
	sup, running := supervisorPid(name)
	if !running {
		if _, err := os.Stat(unitPath(name)); err != nil && readState(name) == "" {
			fmt.Fprintf(os.Stderr, "Failed to stop %s: Unit %s not loaded.\n", name, name)
			return 5
		}
		if readState(name) != "failed" {
			setState(name, "inactive")
		}
		return 0
	}
	limit := 90 * time.Second
	if u, err := readUnitFile(name); err == nil && u.timeoutStop > 0 {
		limit = u.timeoutStop
	}
	_ = syscall.Kill(sup, syscall.SIGTERM)
	// The supervisor escalates to SIGKILL after TimeoutStopSec itself; this is the backstop.
	deadline := time.Now().Add(limit + 10*time.Second)
	for time.Now().Before(deadline) {
		if _, alive := supervisorPid(name); !alive {
			return 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(sup, syscall.SIGKILL)
	if pid, ok := livePid(statePath(name, "main.pid")); ok {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	setState(name, "inactive")
	return 0
}

// --- status / reset-failed

func status(name string) int {
	_, fileErr := os.Stat(unitPath(name))
	state := activeState(name)
	if fileErr != nil && state == "inactive" {
		fmt.Fprintf(os.Stderr, "Unit %s could not be found.\n", name)
		return 4
	}
	enabled := "disabled"
	if len(wantLinks(name)) > 0 {
		enabled = "enabled"
	}
	fmt.Printf("● %s\n     Loaded: loaded (%s; %s)\n     Active: %s\n", name, unitPath(name), enabled, state)
	if pid, ok := livePid(statePath(name, "main.pid")); ok {
		fmt.Printf("   Main PID: %d\n", pid)
	}
	fmt.Print(tail(statePath(name, "log"), 10))
	if state == "active" {
		return 0
	}
	return 3
}

func resetFailed(name string) int {
	if _, err := os.Stat(stateDir(name)); err != nil {
		if _, err := os.Stat(unitPath(name)); err != nil {
			fmt.Fprintf(os.Stderr, "Failed to reset failed state of unit %s: Unit %s not loaded.\n", name, name)
			return 1
		}
		return 0
	}
	if readState(name) == "failed" {
		setState(name, "inactive")
	}
	_ = os.Remove(statePath(name, "start-failed"))
	return 0
}

func tail(path string, n int) string {
	text := strings.TrimRight(readFile(path), "\n")
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// --- the supervisor: one per started unit, in its own session

func logf(format string, a ...any) {
	fmt.Printf("%s systemd: "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
}

func supervise(name string) int {
	_ = os.WriteFile(statePath(name, "supervisor.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	ready := make(chan struct{}, 1)
	socket := statePath(name, "notify")
	_ = os.Remove(socket)
	conn, err := listenNotify(socket, ready)
	if err != nil {
		logf("%s: cannot create the notify socket: %v", name, err)
		_ = os.WriteFile(statePath(name, "start-failed"), []byte("notify socket: "+err.Error()+"\n"), 0o644)
		setState(name, "failed")
		return 1
	}
	defer conn.Close()
	everReady := false
	for {
		u, err := readUnitFile(name)
		if err != nil {
			logf("%v", err)
			failStart(name, everReady, err.Error())
			return 1
		}
		setState(name, "activating")
		env, err := u.env()
		if err != nil {
			logf("%s: %v", name, err)
			failStart(name, everReady, "resources")
			return 1
		}
		if why := runPre(u, env); why != "" {
			failStart(name, everReady, why)
			if !restartAfter(u, false, sig) {
				return 0
			}
			continue
		}
		select { // a READY=1 of the previous run does not count for this one
		case <-ready:
		default:
		}
		cmd := exec.Command(u.execStart.argv[0], u.execStart.argv[1:]...)
		cmd.Env = env
		if u.serviceType == "notify" {
			cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+socket)
		}
		cmd.Stdout, cmd.Stderr, cmd.Dir = os.Stdout, os.Stderr, "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		logf("Starting %s: %s", name, strings.Join(u.execStart.argv, " "))
		if err := cmd.Start(); err != nil {
			logf("%s: failed to execute %s: %v", name, u.execStart.argv[0], err)
			failStart(name, everReady, "exec")
			if !restartAfter(u, false, sig) {
				return 0
			}
			continue
		}
		_ = os.WriteFile(statePath(name, "main.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
		if u.serviceType != "notify" {
			setState(name, "active")
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var exitErr error
	running:
		for {
			select {
			case <-ready:
				if readState(name) != "active" {
					logf("Started %s.", name)
				}
				everReady = true
				setState(name, "active")
			case <-sig:
				logf("Stopping %s...", name)
				stopMain(u, cmd.Process.Pid, done)
				_ = os.Remove(statePath(name, "main.pid"))
				setState(name, "inactive")
				logf("Stopped %s.", name)
				return 0
			case exitErr = <-done:
				break running
			}
		}
		_ = os.Remove(statePath(name, "main.pid"))
		result := "status=0/SUCCESS"
		if exitErr != nil {
			result = exitErr.Error()
		}
		logf("%s: Main process exited, %s", name, result)
		if u.killMode == "control-group" || u.killMode == "mixed" {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what is left of its process group
		}
		if readState(name) != "active" {
			failStart(name, everReady, result)
		}
		if !restartAfter(u, exitErr == nil, sig) {
			if exitErr != nil {
				setState(name, "failed")
			} else {
				setState(name, "inactive")
			}
			return 0
		}
	}
}

// failStart records why the first start failed, for the `systemctl start` waiting on it.
func failStart(name string, everReady bool, why string) {
	if !everReady {
		_ = os.WriteFile(statePath(name, "start-failed"), []byte(why+"\n"), 0o644)
	}
	setState(name, "failed")
}

// restartAfter waits RestartSec= when Restart= asks for a restart; false means stop supervising.
func restartAfter(u *unitFile, clean bool, sig chan os.Signal) bool {
	if !(u.restart == "always" || (u.restart == "on-failure" && !clean)) {
		return false
	}
	logf("%s: Scheduled restart in %s.", u.name, u.restartSec)
	select {
	case <-sig:
		setState(u.name, "inactive")
		return false
	case <-time.After(u.restartSec):
		return true
	}
}

func runPre(u *unitFile, env []string) string {
	for _, pre := range u.execStartPre {
		if filepath.Base(pre.argv[0]) == "modprobe" {
			logf("%s: skipped ExecStartPre=%s (the lab does not load modules into the host's kernel)", u.name, strings.Join(pre.argv, " "))
			continue
		}
		cmd := exec.Command(pre.argv[0], pre.argv[1:]...)
		cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, os.Stdout, os.Stderr, "/"
		if err := cmd.Run(); err != nil {
			if pre.ignoreFailure {
				logf("%s: ExecStartPre=%s failed (%v), ignored", u.name, strings.Join(pre.argv, " "), err)
				continue
			}
			logf("%s: Control process exited: %v", u.name, err)
			return "ExecStartPre: " + err.Error()
		}
	}
	return ""
}

// stopMain sends SIGTERM as KillMode= says (process: the main process only, as k3s's unit asks,
// so that its containers outlive a restart; control-group: the whole group), and SIGKILL to the
// same after TimeoutStopSec=.
func stopMain(u *unitFile, pid int, done chan error) {
	target := -pid
	if u.killMode == "process" {
		target = pid
	}
	_ = syscall.Kill(target, syscall.SIGTERM)
	limit := u.timeoutStop
	if limit == 0 {
		limit = 24 * time.Hour
	}
	select {
	case <-done:
	case <-time.After(limit):
		logf("%s: State 'stop-sigterm' timed out. Killing.", u.name)
		_ = syscall.Kill(target, syscall.SIGKILL)
		<-done
	}
	if u.killMode == "control-group" {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
