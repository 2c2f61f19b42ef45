package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// connection is command:remote:Connection after Check has applied defaults.
type connection struct {
	host               string
	port               int
	user               string
	password           *string
	privateKey         *string
	privateKeyPassword *string
	hostKey            *string
	agentSocketPath    *string
	dialErrorLimit     int // -1: retry forever
	perDialTimeout     int // seconds; 0: no limit
}

// Defaults of command:remote:Connection, as in the upstream schema and the SDK's
// connectionArgsProvideDefaults.
var connectionDefaults = resource.PropertyMap{
	"port":           resource.NewProperty(22.0),
	"user":           resource.NewProperty("root"),
	"dialErrorLimit": resource.NewProperty(10.0),
	"perDialTimeout": resource.NewProperty(15.0),
}

func parseConnection(v resource.PropertyValue) (*connection, error) {
	v = plain(v)
	if !v.IsObject() {
		return nil, errors.New("connection: expected an object")
	}
	m := v.ObjectValue()
	if present(m, "proxy") {
		return nil, errors.New("connection.proxy is not supported by this stand-in of the command provider")
	}
	c := &connection{}
	host, err := optString(m, "host")
	if err != nil {
		return nil, fmt.Errorf("connection.%w", err)
	}
	if host == nil || *host == "" {
		return nil, errors.New("connection.host is required")
	}
	c.host = *host
	user, err := optString(m, "user")
	if err != nil {
		return nil, fmt.Errorf("connection.%w", err)
	}
	c.user = "root"
	if user != nil {
		c.user = *user
	}
	for _, f := range []struct {
		key resource.PropertyKey
		dst **string
	}{
		{"password", &c.password}, {"privateKey", &c.privateKey},
		{"privateKeyPassword", &c.privateKeyPassword}, {"hostKey", &c.hostKey},
		{"agentSocketPath", &c.agentSocketPath},
	} {
		if *f.dst, err = optString(m, f.key); err != nil {
			return nil, fmt.Errorf("connection.%w", err)
		}
	}
	// port is a "number" in the upstream schema; only whole numbers make sense.
	if c.port, err = optInt(m, "port", 22); err != nil {
		return nil, fmt.Errorf("connection.%w", err)
	}
	if c.dialErrorLimit, err = optInt(m, "dialErrorLimit", 10); err != nil {
		return nil, fmt.Errorf("connection.%w", err)
	}
	if c.perDialTimeout, err = optInt(m, "perDialTimeout", 15); err != nil {
		return nil, fmt.Errorf("connection.%w", err)
	}
	return c, nil
}

// target names the remote end in errors and logs. It never includes secrets.
func (c *connection) target() string {
	return c.user + "@" + net.JoinHostPort(c.host, strconv.Itoa(c.port))
}

// hostKeyMismatchError is not retried: a different key will not go away by
// dialing again, and retrying would only delay the report.
type hostKeyMismatchError struct {
	target, got, want string
}

func (e *hostKeyMismatchError) Error() string {
	return fmt.Sprintf("host key mismatch for %s: the server presented %s but connection.hostKey pins %s",
		e.target, e.got, e.want)
}

// parseHostKey accepts the forms people paste: an authorized_keys line
// ("ssh-ed25519 AAAA... comment"), a known_hosts line ("host ssh-ed25519 AAAA..."),
// or the bare base64 blob.
func parseHostKey(s string) (ssh.PublicKey, error) {
	if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s)); err == nil {
		return k, nil
	}
	if _, _, k, _, _, err := ssh.ParseKnownHosts([]byte(s)); err == nil {
		return k, nil
	}
	if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err == nil {
		if k, err := ssh.ParsePublicKey(raw); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("connection.hostKey: not an SSH public key (expected e.g. \"ssh-ed25519 AAAA...\")")
}

func (c *connection) clientConfig() (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{User: c.user, HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	if c.hostKey != nil && *c.hostKey != "" {
		want, err := parseHostKey(*c.hostKey)
		if err != nil {
			return nil, err
		}
		target := c.target()
		cfg.HostKeyCallback = func(_ string, _ net.Addr, got ssh.PublicKey) error {
			if bytes.Equal(got.Marshal(), want.Marshal()) {
				return nil
			}
			return &hostKeyMismatchError{target,
				got.Type() + " " + ssh.FingerprintSHA256(got), want.Type() + " " + ssh.FingerprintSHA256(want)}
		}
		// Ask only for the pinned key's algorithm: a server with several host keys
		// would otherwise be free to present another one and fail the pin.
		cfg.HostKeyAlgorithms = []string{want.Type()}
		if want.Type() == ssh.KeyAlgoRSA {
			cfg.HostKeyAlgorithms = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
	}
	if c.privateKey != nil {
		var signer ssh.Signer
		var err error
		if c.privateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.privateKey), []byte(*c.privateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.privateKey))
		}
		if err != nil {
			// The parse error never quotes the key.
			return nil, fmt.Errorf("connection.privateKey: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.password != nil {
		pw := *c.password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	// Like upstream: an explicit agent socket must work; SSH_AUTH_SOCK is used
	// when it does (upstream fails on a stale SSH_AUTH_SOCK; we ignore it).
	if c.agentSocketPath != nil {
		conn, err := net.Dial("unix", *c.agentSocketPath)
		if err != nil {
			return nil, fmt.Errorf("connection.agentSocketPath: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	} else if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	return cfg, nil
}

// dialOnce makes one attempt. perDialTimeout bounds the TCP connect and the SSH
// handshake together (upstream bounds only the TCP connect), so a host that
// accepts TCP but never speaks SSH still counts as a failed dial.
func dialOnce(ctx context.Context, addr string, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if timeout > 0 {
		_ = conn.SetDeadline(time.Now().Add(timeout))
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// dial retries like upstream (pulumi's retry.Until defaults: 100 ms, x1.5, at
// most 5 s between dials) and gives up once more than dialErrorLimit dials
// failed, so the default limit of 10 fails an unreachable host in about 11 s
// plus the dial timeouts.
func (c *connection) dial(ctx context.Context, status func(string)) (*ssh.Client, error) {
	cfg, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(c.host, strconv.Itoa(c.port))
	timeout := time.Duration(c.perDialTimeout) * time.Second
	delay := 100 * time.Millisecond
	for dials := 1; ; dials++ {
		client, err := dialOnce(ctx, addr, cfg, timeout)
		if err == nil {
			return client, nil
		}
		var mismatch *hostKeyMismatchError
		if errors.As(err, &mismatch) {
			return nil, mismatch
		}
		if c.dialErrorLimit >= 0 && dials > c.dialErrorLimit {
			return nil, fmt.Errorf("ssh to %s failed after %d dial attempts: %w", c.target(), dials, err)
		}
		limit := "inf"
		if c.dialErrorLimit >= 0 {
			limit = strconv.Itoa(c.dialErrorLimit)
		}
		status(fmt.Sprintf("Dial %d/%s to %s failed: retrying", dials, limit, c.target()))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, fmt.Errorf("ssh to %s: %w (last dial error: %v)", c.target(), ctx.Err(), err)
		}
		delay = min(delay*3/2, 5*time.Second)
	}
}

// runRemote runs script on the host over one SSH session. env is applied as
// `export` lines in front of the script rather than with session.Setenv as
// upstream does, because sshd drops Setenv variables unless its AcceptEnv
// allows them (Debian and Raspberry Pi OS accept only LANG and LC_*). This
// assumes a POSIX login shell on the remote host.
func runRemote(ctx context.Context, c *connection, script string, env map[string]string, stdin *string,
	out *outputSink,
) error {
	prefix, err := exportLines(env)
	if err != nil {
		return err
	}
	client, err := c.dial(ctx, out.status)
	if err != nil {
		return err
	}
	defer client.Close()
	// Closing the client is the only way to stop a running session on cancel.
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()

	session, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("opening an SSH session on %s: %w", c.target(), err)
	}
	defer session.Close()
	if stdin != nil && *stdin != "" {
		session.Stdin = strings.NewReader(*stdin)
	}
	session.Stdout, session.Stderr = out.stdoutWriter(), out.stderrWriter()
	err = session.Run(prefix + script)
	out.flush()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("command on %s was cancelled: %w", c.target(), ctx.Err())
	}
	// Never quote the script: it may carry secrets (it also carries env values).
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("command on %s failed with exit status %d%s", c.target(), exit.ExitStatus(), out.stderrTail())
	}
	return fmt.Errorf("command on %s failed: %v%s", c.target(), err, out.stderrTail())
}

// exportLines renders env as shell export statements, single-quoted so values
// are taken literally.
func exportLines(env map[string]string) (string, error) {
	var b strings.Builder
	for _, k := range sortedKeys(env) {
		if !validEnvName(k) {
			return "", fmt.Errorf("environment: %q is not a valid shell variable name", k)
		}
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`))
	}
	return b.String(), nil
}

func validEnvName(k string) bool {
	for i, r := range k {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return k != ""
}
