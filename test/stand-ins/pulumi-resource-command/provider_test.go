package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

// harness drives the provider through the same gRPC server object the engine
// talks to, so marshalling of secrets and unknowns is exercised too.
type harness struct {
	t    *testing.T
	srv  pulumirpc.ResourceProviderServer
	mu   sync.Mutex
	logs []string
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t}
	h.srv = plugin.NewProviderServer(newCommandProvider(func(_ context.Context, _ resource.URN, msg string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.logs = append(h.logs, msg)
	}))
	_, err := h.srv.Handshake(context.Background(), &pulumirpc.ProviderHandshakeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) logged() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.logs...)
}

func urnOf(typ tokens.Type) resource.URN {
	return resource.NewURN("dev", "standin", "", typ, "cmd")
}

func (h *harness) marshal(m resource.PropertyMap) *structpb.Struct {
	h.t.Helper()
	s, err := plugin.MarshalProperties(m, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) unmarshal(s *structpb.Struct) resource.PropertyMap {
	h.t.Helper()
	m, err := plugin.UnmarshalProperties(s, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) check(typ tokens.Type, news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	h.t.Helper()
	resp, err := h.srv.Check(context.Background(), &pulumirpc.CheckRequest{Urn: string(urnOf(typ)), News: h.marshal(news)})
	if err != nil {
		h.t.Fatal(err)
	}
	return h.unmarshal(resp.Inputs), resp.Failures
}

// checked runs Check and fails the test on check failures.
func (h *harness) checked(typ tokens.Type, news resource.PropertyMap) resource.PropertyMap {
	h.t.Helper()
	in, failures := h.check(typ, news)
	if len(failures) > 0 {
		h.t.Fatalf("check failures: %v", failures)
	}
	return in
}

func (h *harness) create(typ tokens.Type, inputs resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	h.t.Helper()
	resp, err := h.srv.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: string(urnOf(typ)), Properties: h.marshal(inputs), Preview: preview,
	})
	if err != nil {
		return "", nil, err
	}
	return resp.Id, h.unmarshal(resp.Properties), nil
}

func (h *harness) update(typ tokens.Type, id string, olds, oldInputs, news resource.PropertyMap, preview bool,
) (resource.PropertyMap, error) {
	h.t.Helper()
	resp, err := h.srv.Update(context.Background(), &pulumirpc.UpdateRequest{
		Urn: string(urnOf(typ)), Id: id, Olds: h.marshal(olds), OldInputs: h.marshal(oldInputs),
		News: h.marshal(news), Preview: preview,
	})
	if err != nil {
		return nil, err
	}
	return h.unmarshal(resp.Properties), nil
}

func (h *harness) delete(typ tokens.Type, id string, outputs, oldInputs resource.PropertyMap) error {
	h.t.Helper()
	_, err := h.srv.Delete(context.Background(), &pulumirpc.DeleteRequest{
		Urn: string(urnOf(typ)), Id: id, Properties: h.marshal(outputs), OldInputs: h.marshal(oldInputs),
	})
	return err
}

func (h *harness) diff(typ tokens.Type, olds, oldInputs, news resource.PropertyMap) *pulumirpc.DiffResponse {
	h.t.Helper()
	resp, err := h.srv.Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: string(urnOf(typ)), Id: "x", Olds: h.marshal(olds), OldInputs: h.marshal(oldInputs), News: h.marshal(news),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func str(s string) resource.PropertyValue { return resource.NewProperty(s) }

// conn is the connection the @pulumi/command SDK would send: a secret object.
func conn(s *testSSHD, extra resource.PropertyMap) resource.PropertyValue {
	m := resource.PropertyMap{
		"host":       str("127.0.0.1"),
		"port":       resource.NewProperty(float64(s.port)),
		"privateKey": str(s.clientKey),
	}
	for k, v := range extra {
		m[k] = v
	}
	return resource.MakeSecret(resource.NewProperty(m))
}

func outString(t *testing.T, m resource.PropertyMap, k resource.PropertyKey) string {
	t.Helper()
	v := plain(m[k])
	if !v.IsString() {
		t.Fatalf("output %s is %v, want a string", k, m[k])
	}
	return v.StringValue()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCheckAppliesDefaults(t *testing.T) {
	h := newHarness(t)
	in := h.checked(remoteCommand, resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewProperty(resource.PropertyMap{"host": str("10.0.0.5")})),
		"create":     str("true"),
	})
	if !in["connection"].IsSecret() {
		t.Fatalf("connection lost its secret wrapper in Check: %v", in["connection"])
	}
	c := plain(in["connection"]).ObjectValue()
	want := map[resource.PropertyKey]any{"port": 22.0, "user": "root", "dialErrorLimit": 10.0, "perDialTimeout": 15.0}
	for k, v := range want {
		if c[k].V != v {
			t.Errorf("connection.%s = %v, want %v", k, c[k], v)
		}
	}
	if v := in["addPreviousOutputInEnv"]; !v.IsBool() || !v.BoolValue() {
		t.Errorf("addPreviousOutputInEnv = %v, want true", v)
	}
}

func TestCheckFailures(t *testing.T) {
	h := newHarness(t)
	cases := map[string]struct {
		news resource.PropertyMap
		prop string
		want string
	}{
		"no connection": {resource.PropertyMap{"create": str("x")}, "connection", "missing required"},
		"no host": {resource.PropertyMap{"connection": resource.NewProperty(resource.PropertyMap{
			"user": str("pi")})}, "connection", "host is required"},
		"proxy": {resource.PropertyMap{"connection": resource.NewProperty(resource.PropertyMap{
			"host": str("a"), "proxy": resource.NewProperty(resource.PropertyMap{"host": str("b")})})},
			"connection", "not supported by this stand-in"},
		"bad logging": {resource.PropertyMap{"connection": resource.NewProperty(resource.PropertyMap{
			"host": str("a")}), "logging": str("loud")}, "logging", "must be one of"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, failures := h.check(remoteCommand, c.news)
			if len(failures) != 1 || failures[0].Property != c.prop || !strings.Contains(failures[0].Reason, c.want) {
				t.Fatalf("failures = %v, want one on %s containing %q", failures, c.prop, c.want)
			}
		})
	}
	// Unknown values during preview are not failures.
	_, failures := h.check(remoteCommand, resource.PropertyMap{"connection": resource.MakeComputed(str(""))})
	if len(failures) != 0 {
		t.Fatalf("unknown connection gave failures %v", failures)
	}
}

func TestRemoteCreateUpdateDelete(t *testing.T) {
	s := requireSSHD(t)
	h := newHarness(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	inputs := h.checked(remoteCommand, resource.PropertyMap{
		"connection": conn(s, nil),
		"create":     str("echo created > " + state + "; echo out-create; echo err-create >&2"),
		"update":     str(`printf 'prev=%s/%s\n' "$PULUMI_COMMAND_STDOUT" "$PULUMI_COMMAND_STDERR" > ` + state + "; echo out-update"),
		"delete":     str(`printf 'deleted after %s\n' "$PULUMI_COMMAND_STDOUT" > ` + state),
	})
	id, outs, err := h.create(remoteCommand, inputs, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "cmd") || len(id) != len("cmd")+8 {
		t.Errorf("id = %q, want cmd + 8 hex digits", id)
	}
	if got := outString(t, outs, "stdout"); got != "out-create" {
		t.Errorf("stdout = %q", got)
	}
	if got := outString(t, outs, "stderr"); got != "err-create" {
		t.Errorf("stderr = %q", got)
	}
	if got := readFile(t, state); got != "created\n" {
		t.Errorf("after create the file holds %q", got)
	}
	if !outs["connection"].IsSecret() {
		t.Errorf("connection output is not secret")
	}
	if outString(t, outs, "create") != plain(inputs["create"]).StringValue() {
		t.Errorf("inputs are not echoed in the outputs: %v", outs)
	}

	// Update runs `update`, with the previous outputs in the environment.
	news := inputs.Copy()
	news["environment"] = resource.NewProperty(resource.PropertyMap{"X": str("1")})
	outs2, err := h.update(remoteCommand, id, outs, inputs, news, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, state); got != "prev=out-create/err-create\n" {
		t.Errorf("after update the file holds %q", got)
	}
	if got := outString(t, outs2, "stdout"); got != "out-update" {
		t.Errorf("stdout after update = %q", got)
	}
	if got := outString(t, outs2, "stderr"); got != "" {
		t.Errorf("stderr after update = %q", got)
	}

	// Without `update`, an update runs `create` again.
	news2 := news.Copy()
	delete(news2, "update")
	if _, err := h.update(remoteCommand, id, outs2, news, news2, false); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, state); got != "created\n" {
		t.Errorf("update without `update` did not rerun create: file holds %q", got)
	}

	// Delete runs `delete` from the state.
	if err := h.delete(remoteCommand, id, outs2, news); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, state); got != "deleted after out-update\n" {
		t.Errorf("after delete the file holds %q", got)
	}
}

func TestRemoteStdinAndEnvironment(t *testing.T) {
	s := requireSSHD(t)
	h := newHarness(t)
	tricky := `it's "$HOME" and $(echo not-run) and a \ backslash`
	inputs := h.checked(remoteCommand, resource.PropertyMap{
		"connection": conn(s, nil),
		"create":     str(`printf '%s|' "$TRICKY" "$PLAIN"; tr a-z A-Z`),
		"stdin":      str("from stdin\n"),
		"environment": resource.NewProperty(resource.PropertyMap{
			"TRICKY": str(tricky), "PLAIN": resource.MakeSecret(str("secret-value")),
		}),
	})
	_, outs, err := h.create(remoteCommand, inputs, false)
	if err != nil {
		t.Fatal(err)
	}
	want := tricky + "|secret-value|FROM STDIN"
	if got := outString(t, outs, "stdout"); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if env := outs["environment"].ObjectValue(); !env["PLAIN"].IsSecret() {
		t.Errorf("a secret environment value came back public: %v", env)
	}
}

func TestRemoteHostKey(t *testing.T) {
	s := requireSSHD(t)
	h := newHarness(t)
	ok := h.checked(remoteCommand, resource.PropertyMap{
		"connection": conn(s, resource.PropertyMap{"hostKey": str(s.hostKey)}),
		"create":     str("echo pinned"),
	})
	if _, outs, err := h.create(remoteCommand, ok, false); err != nil {
		t.Fatalf("matching host key was rejected: %v", err)
	} else if outString(t, outs, "stdout") != "pinned" {
		t.Fatalf("stdout = %v", outs["stdout"])
	}

	bad := h.checked(remoteCommand, resource.PropertyMap{
		"connection": conn(s, resource.PropertyMap{"hostKey": str(s.otherKey)}),
		"create":     str("echo should-not-run"),
	})
	start := time.Now()
	_, _, err := h.create(remoteCommand, bad, false)
	if err == nil || !strings.Contains(err.Error(), "host key mismatch") ||
		!strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("mismatching host key: err = %v, want a host key mismatch naming the host", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("a host key mismatch was retried (%s)", time.Since(start))
	}
}

func TestRemoteUnreachablePort(t *testing.T) {
	h := newHarness(t)
	port, err := freePort() // nothing listens there any more
	if err != nil {
		t.Fatal(err)
	}
	// Default dialErrorLimit (10) and perDialTimeout (15 s), as a program gets them.
	inputs := h.checked(remoteCommand, resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewProperty(resource.PropertyMap{
			"host": str("127.0.0.1"), "port": resource.NewProperty(float64(port)),
		})),
		"create": str("true"),
	})
	start := time.Now()
	_, _, err = h.create(remoteCommand, inputs, false)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("dialing a closed port succeeded")
	}
	hostPort := "127.0.0.1:" + strconv.Itoa(port)
	if !strings.Contains(err.Error(), hostPort) {
		t.Errorf("error %q does not name %s", err, hostPort)
	}
	if elapsed > 30*time.Second {
		t.Errorf("giving up took %s, want well under 30s", elapsed)
	}
	t.Logf("gave up after %s: %v", elapsed, err)
}

func TestRemoteFailureHidesScript(t *testing.T) {
	s := requireSSHD(t)
	h := newHarness(t)
	inputs := h.checked(remoteCommand, resource.PropertyMap{
		"connection":  conn(s, nil),
		"create":      str("echo TOKEN-IN-SCRIPT >/dev/null; echo first >&2; echo last-words >&2; exit 3"),
		"environment": resource.NewProperty(resource.PropertyMap{"PASS": str("TOKEN-IN-ENV")}),
	})
	_, _, err := h.create(remoteCommand, inputs, false)
	if err == nil {
		t.Fatal("a failing command succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"127.0.0.1", "exit status 3", "last-words"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	for _, secret := range []string{"TOKEN-IN-SCRIPT", "TOKEN-IN-ENV", "export"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q leaks %q", msg, secret)
		}
	}
}

func TestPreviewRunsNothing(t *testing.T) {
	h := newHarness(t)
	marker := filepath.Join(t.TempDir(), "ran")
	// Port 1 on loopback: a preview that dialed would fail or hang.
	inputs := h.checked(remoteCommand, resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewProperty(resource.PropertyMap{
			"host": str("127.0.0.1"), "port": resource.NewProperty(1.0)})),
		"create": str("touch " + marker),
	})
	start := time.Now()
	_, outs, err := h.create(remoteCommand, inputs, true)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("preview create took %s: did it dial?", time.Since(start))
	}
	if !outs["stdout"].IsComputed() || !outs["stderr"].IsComputed() {
		t.Errorf("preview stdout/stderr should be unknown: %v %v", outs["stdout"], outs["stderr"])
	}
	outs2, err := h.update(remoteCommand, "x", outs, inputs, inputs, true)
	if err != nil {
		t.Fatal(err)
	}
	if !outs2["stdout"].IsComputed() {
		t.Errorf("preview update stdout should be unknown: %v", outs2["stdout"])
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("preview ran the command")
	}
}

func TestSecretsPropagate(t *testing.T) {
	s := requireSSHD(t)
	h := newHarness(t)
	inputs := h.checked(remoteCommand, resource.PropertyMap{
		"connection": conn(s, nil),
		"create":     resource.MakeSecret(str("echo hi")),
		"triggers":   resource.NewProperty([]resource.PropertyValue{resource.MakeSecret(str("t"))}),
	})
	_, outs, err := h.create(remoteCommand, inputs, false)
	if err != nil {
		t.Fatal(err)
	}
	if !outs["create"].IsSecret() {
		t.Errorf("secret input create came back public: %v", outs["create"])
	}
	if !outs["triggers"].ContainsSecrets() {
		t.Errorf("secret trigger came back public: %v", outs["triggers"])
	}
	if !outs["connection"].IsSecret() {
		t.Errorf("connection is not secret")
	}
	if outs["stdout"].IsSecret() || outString(t, outs, "stdout") != "hi" {
		t.Errorf("stdout = %v, want public \"hi\" as upstream", outs["stdout"])
	}
}

func TestLogging(t *testing.T) {
	s := requireSSHD(t)
	for _, c := range []struct {
		logging   string
		want, not []string
	}{
		{"", []string{"to-out", "to-err"}, nil},
		{"stdoutAndStderr", []string{"to-out", "to-err"}, nil},
		{"stdout", []string{"to-out"}, []string{"to-err"}},
		{"stderr", []string{"to-err"}, []string{"to-out"}},
		{"none", nil, []string{"to-out", "to-err"}},
	} {
		t.Run("logging="+c.logging, func(t *testing.T) {
			h := newHarness(t)
			news := resource.PropertyMap{"connection": conn(s, nil), "create": str("echo to-out; echo to-err >&2")}
			if c.logging != "" {
				news["logging"] = str(c.logging)
			}
			_, outs, err := h.create(remoteCommand, h.checked(remoteCommand, news), false)
			if err != nil {
				t.Fatal(err)
			}
			logs := strings.Join(h.logged(), "\n")
			for _, w := range c.want {
				if !strings.Contains(logs, w) {
					t.Errorf("log %q lacks %q", logs, w)
				}
			}
			for _, n := range c.not {
				if strings.Contains(logs, n) {
					t.Errorf("log %q has %q", logs, n)
				}
			}
			// Logging never changes what is captured.
			if outString(t, outs, "stdout") != "to-out" || outString(t, outs, "stderr") != "to-err" {
				t.Errorf("outputs changed with logging: %v", outs)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	h := newHarness(t)
	base := h.checked(remoteCommand, resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewProperty(resource.PropertyMap{"host": str("10.0.0.5")})),
		"create":     str("a"),
		"triggers":   resource.NewProperty([]resource.PropertyValue{str("t1")}),
	})
	olds := outputsOf(base, str("out"), str(""))
	with := func(k resource.PropertyKey, v resource.PropertyValue) resource.PropertyMap {
		m := base.Copy()
		m[k] = v
		return m
	}
	newConn := h.checked(remoteCommand, resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewProperty(resource.PropertyMap{"host": str("10.0.0.6")}))})
	cases := []struct {
		name    string
		news    resource.PropertyMap
		changes pulumirpc.DiffResponse_DiffChanges
		replace bool
	}{
		{"same", base, pulumirpc.DiffResponse_DIFF_NONE, false},
		{"create", with("create", str("b")), pulumirpc.DiffResponse_DIFF_SOME, false},
		{"update", with("update", str("u")), pulumirpc.DiffResponse_DIFF_SOME, false},
		{"delete", with("delete", str("d")), pulumirpc.DiffResponse_DIFF_SOME, false},
		{"stdin", with("stdin", str("s")), pulumirpc.DiffResponse_DIFF_SOME, false},
		{"environment", with("environment", resource.NewProperty(resource.PropertyMap{"A": str("1")})),
			pulumirpc.DiffResponse_DIFF_SOME, false},
		{"connection", with("connection", newConn["connection"]), pulumirpc.DiffResponse_DIFF_SOME, false},
		{"triggers", with("triggers", resource.NewProperty([]resource.PropertyValue{str("t2")})),
			pulumirpc.DiffResponse_DIFF_SOME, true},
		{"unknown trigger", with("triggers", resource.MakeComputed(str(""))), pulumirpc.DiffResponse_DIFF_SOME, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, oldInputs := range []resource.PropertyMap{base, nil} { // nil: state without old inputs
				d := h.diff(remoteCommand, olds, oldInputs, c.news)
				if d.Changes != c.changes || (len(d.Replaces) > 0) != c.replace {
					t.Fatalf("diff = %v, want changes %v replace %v", d, c.changes, c.replace)
				}
			}
		})
	}
}

func TestLocalCommand(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	inputs := h.checked(localCommand, resource.PropertyMap{
		"create":      str(`cat > ` + state + `; printf '%s' "$GREETING"`),
		"update":      str(`echo "updated after $PULUMI_COMMAND_STDOUT" > ` + state),
		"delete":      str(`rm ` + state + `; echo gone >&2; exit 4`),
		"stdin":       str("input-data"),
		"environment": resource.NewProperty(resource.PropertyMap{"GREETING": str("hello")}),
	})
	id, outs, err := h.create(localCommand, inputs, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := outString(t, outs, "stdout"); got != "hello" {
		t.Errorf("stdout = %q", got)
	}
	if got := readFile(t, state); got != "input-data" {
		t.Errorf("stdin reached the file as %q", got)
	}
	if _, err := h.update(localCommand, id, outs, inputs, inputs, false); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, state); got != "updated after hello\n" {
		t.Errorf("after update the file holds %q", got)
	}
	err = h.delete(localCommand, id, outs, inputs)
	if err == nil || !strings.Contains(err.Error(), "exit status 4") || !strings.Contains(err.Error(), "gone") ||
		strings.Contains(err.Error(), "rm ") {
		t.Errorf("delete error = %v, want exit status 4 with stderr and without the script", err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("delete did not run: %v", err)
	}
}

func TestPluginInfoAndSchema(t *testing.T) {
	Version = "1.2.1"
	h := newHarness(t)
	info, err := h.srv.GetPluginInfo(context.Background(), nil)
	if err != nil || info.Version != "1.2.1" {
		t.Fatalf("GetPluginInfo = %v, %v", info, err)
	}
	s, err := h.srv.GetSchema(context.Background(), &pulumirpc.GetSchemaRequest{})
	if err != nil || !strings.Contains(s.Schema, `"command:remote:Command"`) || !strings.Contains(s.Schema, `"1.2.1"`) {
		t.Fatalf("GetSchema = %v, %v", s, err)
	}
	if !json.Valid([]byte(s.Schema)) {
		t.Fatal("the schema is not valid JSON")
	}
}

func TestParseHostKeyForms(t *testing.T) {
	s := requireSSHD(t)
	want, err := parseHostKey(s.hostKey)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(s.hostKey)
	for _, form := range []string{
		fields[0] + " " + fields[1] + " root@pi",                                  // authorized_keys with comment
		"[127.0.0.1]:" + strconv.Itoa(s.port) + " " + fields[0] + " " + fields[1], // known_hosts
		fields[1], // bare base64
	} {
		got, err := parseHostKey(form)
		if err != nil || string(got.Marshal()) != string(want.Marshal()) {
			t.Errorf("parseHostKey(%q) = %v, %v", form, got, err)
		}
	}
	if _, err := parseHostKey("not a key"); err == nil {
		t.Error("garbage parsed as a host key")
	}
}
