package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The unit as k3s's installer writes it (../shared/upstream/k3s/install.sh
// create_systemd_service_file, with quote_indent's "\"-continued, single-quoted arguments).
const k3sAgentUnit = `[Unit]
Description=Lightweight Kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=notify
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/sysconfig/%N
EnvironmentFile=-ENVFILE
KillMode=process
Delegate=yes
User=root
# Having non-zero Limit*s causes performance problems due to accounting overhead
LimitNOFILE=1048576
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/k3s \
    agent \
	'--node-label' \
	'role=edge worker' \

`

func writeUnit(t *testing.T, text string) (dir string) {
	t.Helper()
	dir = t.TempDir()
	env := filepath.Join(dir, "k3s-agent.service.env")
	if err := os.WriteFile(env, []byte("K3S_URL='https://198.18.0.100:6443'\nK3S_TOKEN_FILE=/etc/rancher/k3s/token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, "k3s-agent.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(text, "ENVFILE", env)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReadsTheUnitK3sInstallerWrites(t *testing.T) {
	dir := writeUnit(t, k3sAgentUnit)
	u, err := readUnitFileAt(filepath.Join(dir, "k3s-agent.service"), "k3s-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/usr/local/bin/k3s", "agent", "--node-label", "role=edge worker"}; !reflect.DeepEqual(u.execStart.argv, want) {
		t.Fatalf("ExecStart %q, want %q", u.execStart.argv, want)
	}
	if u.serviceType != "notify" || u.restart != "always" || u.restartSec != 5*time.Second || u.killMode != "process" {
		t.Fatalf("type %q restart %q %s killmode %q", u.serviceType, u.restart, u.restartSec, u.killMode)
	}
	if u.timeoutStart != 0 || u.timeoutStop != 90*time.Second {
		t.Fatalf("TimeoutStartSec %s (want 0: unbounded), TimeoutStopSec %s (want the 90 s default)", u.timeoutStart, u.timeoutStop)
	}
	if len(u.execStartPre) != 2 || !u.execStartPre[0].ignoreFailure || u.execStartPre[0].argv[0] != "/sbin/modprobe" {
		t.Fatalf("ExecStartPre %+v", u.execStartPre)
	}
	if !reflect.DeepEqual(u.wantedBy, []string{"multi-user.target"}) {
		t.Fatalf("WantedBy %q", u.wantedBy)
	}
	env, err := u.env()
	if err != nil {
		t.Fatal(err)
	}
	if !contains(env, "K3S_URL=https://198.18.0.100:6443") || !contains(env, "K3S_TOKEN_FILE=/etc/rancher/k3s/token") {
		t.Fatalf("env %q", env)
	}
}

func TestAMissingRequiredEnvironmentFileIsAnError(t *testing.T) {
	dir := writeUnit(t, strings.ReplaceAll(k3sAgentUnit, "EnvironmentFile=-ENVFILE", "EnvironmentFile=/nonexistent/k3s.env"))
	u, err := readUnitFileAt(filepath.Join(dir, "k3s-agent.service"), "k3s-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.env(); err == nil {
		t.Fatal("a missing EnvironmentFile without '-' must fail the start")
	}
}

func TestSplitWordsFollowsSystemdQuoting(t *testing.T) {
	for in, want := range map[string][]string{
		`/bin/echo 'a b' "c d" e\ f`: {"/bin/echo", "a b", "c d", "e f"},
		`/bin/true`:                  {"/bin/true"},
		`/bin/x ''`:                  {"/bin/x", ""},
	} {
		got, err := splitWords(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := splitWords(`/bin/echo 'open`); err == nil {
		t.Error("unbalanced quotes must be refused")
	}
}

func TestParseSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"5s": 5 * time.Second, "5": 5 * time.Second, "100ms": 100 * time.Millisecond, "1min": time.Minute, "0": 0} {
		if got := parseSeconds(in, time.Hour); got != want {
			t.Errorf("parseSeconds(%q) = %s, want %s", in, got, want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
