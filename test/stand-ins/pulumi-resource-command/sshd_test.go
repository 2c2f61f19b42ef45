package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// testSSHD is a throwaway OpenSSH server on 127.0.0.1, started once for the
// whole package. The remote tests run real commands through it as root.
type testSSHD struct {
	port        int
	hostKey     string // authorized_keys form of the server's host key
	otherKey    string // a host key the server does not have
	clientKey   string // PEM private key that may log in as root
	dir         string
	cmd         *exec.Cmd
	stderr      *strings.Builder
	startupFail error
}

var sshd *testSSHD

const sshdPath = "/usr/sbin/sshd"

func TestMain(m *testing.M) {
	sshd = startSSHD()
	code := m.Run()
	sshd.stop()
	os.Exit(code)
}

// requireSSHD fails (never skips) the test when the server is not usable.
func requireSSHD(t *testing.T) *testSSHD {
	t.Helper()
	if sshd.startupFail != nil {
		t.Fatalf("the test sshd is not available: %v", sshd.startupFail)
	}
	return sshd
}

func newKeyPair() (ssh.Signer, []byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	return signer, pem.EncodeToMemory(block), err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startSSHD tries a few times: the free port it picks can be taken by another
// process on this machine before sshd binds it.
func startSSHD() *testSSHD {
	var s *testSSHD
	for attempt := 0; attempt < 3; attempt++ {
		s = &testSSHD{stderr: &strings.Builder{}}
		if s.startupFail = s.start(); s.startupFail == nil {
			return s
		}
		s.stop()
	}
	return s
}

func (s *testSSHD) start() error {
	if _, err := os.Stat(sshdPath); err != nil {
		return fmt.Errorf("%s not found (install Debian's openssh-server: apt-get install -y openssh-server): %v",
			sshdPath, err)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("the remote tests log in to a real sshd as root and must run as root (uid is %d)", os.Geteuid())
	}
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "stand-in-sshd-")
	if err != nil {
		return err
	}
	s.dir = dir
	host, hostPEM, err := newKeyPair()
	if err != nil {
		return err
	}
	other, _, err := newKeyPair()
	if err != nil {
		return err
	}
	client, clientPEM, err := newKeyPair()
	if err != nil {
		return err
	}
	s.hostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(host.PublicKey())))
	s.otherKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other.PublicKey())))
	s.clientKey = string(clientPEM)
	files := map[string][]byte{
		"host_ed25519":    hostPEM,
		"authorized_keys": ssh.MarshalAuthorizedKey(client.PublicKey()),
		"sshd_config": []byte(strings.Join([]string{
			"ListenAddress 127.0.0.1",
			"HostKey " + filepath.Join(dir, "host_ed25519"),
			"PidFile " + filepath.Join(dir, "sshd.pid"),
			"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
			"PermitRootLogin prohibit-password",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"UsePAM no",
			"StrictModes no",
			"LogLevel ERROR",
		}, "\n") + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	if s.port, err = freePort(); err != nil {
		return err
	}
	s.cmd = exec.Command(sshdPath, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"), "-p", fmt.Sprint(s.port))
	s.cmd.Stdout, s.cmd.Stderr = s.stderr, s.stderr
	// sshd dies with the test binary even if a test panics.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %v", sshdPath, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("sshd exited at start (%v): %s", err, s.stderr.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(s.port)), time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("sshd did not listen on port %d within 15s: %s", s.port, s.stderr.String())
}

func (s *testSSHD) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
