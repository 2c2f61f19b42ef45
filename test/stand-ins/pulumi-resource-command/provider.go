package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

const (
	remoteCommand tokens.Type = "command:remote:Command"
	localCommand  tokens.Type = "command:local:Command"
)

// commandProvider implements the engine-facing plugin.Provider; the sdk's
// plugin.NewProviderServer turns it into the gRPC server and does all the
// (un)marshalling, secrets and unknowns included.
type commandProvider struct {
	plugin.UnimplementedProvider
	// log sends one line to the engine as a status message for urn.
	log func(ctx context.Context, urn resource.URN, msg string)
	// ctx is cancelled when the engine asks us to cancel (Ctrl-C).
	ctx    context.Context
	cancel context.CancelFunc
}

func newCommandProvider(log func(context.Context, resource.URN, string)) *commandProvider {
	if log == nil {
		log = func(context.Context, resource.URN, string) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &commandProvider{log: log, ctx: ctx, cancel: cancel}
}

func (p *commandProvider) Handshake(context.Context, plugin.ProviderHandshakeRequest) (*plugin.ProviderHandshakeResponse, error) {
	// Secrets: so that secret inputs can stay secret in the outputs.
	return &plugin.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *commandProvider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	return plugin.PluginInfo{Version: pluginVersion()}, nil
}

func pluginVersion() *semver.Version {
	v, err := semver.ParseTolerant(Version)
	if err != nil {
		v = semver.MustParse("0.0.0-dev")
	}
	return &v
}

func (p *commandProvider) GetSchema(context.Context, plugin.GetSchemaRequest) (plugin.GetSchemaResponse, error) {
	return plugin.GetSchemaResponse{Schema: schema()}, nil
}

// The command provider has no configuration.
func (p *commandProvider) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

func (p *commandProvider) DiffConfig(context.Context, plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	return plugin.DiffResult{Changes: plugin.DiffNone}, nil
}

func (p *commandProvider) Configure(context.Context, plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	return plugin.ConfigureResponse{}, nil
}

func (p *commandProvider) SignalCancellation(context.Context) error {
	p.cancel()
	return nil
}

func checkType(t tokens.Type) error {
	if t != remoteCommand && t != localCommand {
		return fmt.Errorf("resource type %s is not implemented by this stand-in of the command provider", t)
	}
	return nil
}

// Check validates the inputs and fills in the defaults the upstream schema
// declares, so that state and diffs look like upstream's.
func (p *commandProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.CheckResponse{}, err
	}
	news := req.News.Copy()
	var failures []plugin.CheckFailure
	fail := func(prop resource.PropertyKey, reason string) {
		failures = append(failures, plugin.CheckFailure{Property: prop, Reason: reason})
	}
	if !present(news, "addPreviousOutputInEnv") {
		news["addPreviousOutputInEnv"] = resource.NewProperty(true)
	}
	for _, k := range []resource.PropertyKey{"create", "update", "delete", "stdin", "dir", "logging"} {
		if v := plain(news[k]); present(news, k) && !v.ContainsUnknowns() && !v.IsString() {
			fail(k, fmt.Sprintf("%s must be a string", k))
		}
	}
	if v := plain(news["logging"]); v.IsString() && !slices.Contains(
		[]string{"stdout", "stderr", "stdoutAndStderr", "none"}, v.StringValue()) {
		fail("logging", "logging must be one of stdout, stderr, stdoutAndStderr, none")
	}
	switch req.Type {
	case localCommand:
		for _, k := range []resource.PropertyKey{"assetPaths", "archivePaths"} {
			if present(news, k) {
				fail(k, fmt.Sprintf("%s is not supported by this stand-in of the command provider", k))
			}
		}
	case remoteCommand:
		if !present(news, "connection") {
			fail("connection", "missing required property 'connection'")
			break
		}
		conn, reason := connectionWithDefaults(news["connection"])
		if reason != "" {
			fail("connection", reason)
		}
		news["connection"] = conn
	}
	return plugin.CheckResponse{Properties: news, Failures: failures}, nil
}

// connectionWithDefaults applies the schema defaults inside the (usually
// secret) connection object and validates what is already known.
func connectionWithDefaults(v resource.PropertyValue) (resource.PropertyValue, string) {
	if v.IsSecret() {
		inner, reason := connectionWithDefaults(v.SecretValue().Element)
		return resource.MakeSecret(inner), reason
	}
	if v.IsComputed() || v.IsOutput() {
		return v, "" // unknown during preview: nothing to check yet
	}
	if !v.IsObject() {
		return v, "connection must be an object"
	}
	m := v.ObjectValue().Copy()
	for k, d := range connectionDefaults {
		if !present(m, k) {
			m[k] = d
		}
	}
	switch {
	case !present(m, "host"):
		return resource.NewProperty(m), "connection.host is required"
	case present(m, "proxy"):
		return resource.NewProperty(m), "connection.proxy is not supported by this stand-in of the command provider"
	}
	return resource.NewProperty(m), ""
}

// inputsOf recovers the inputs from a state that predates old_inputs.
func inputsOf(outputs resource.PropertyMap) resource.PropertyMap {
	in := outputs.Copy()
	delete(in, "stdout")
	delete(in, "stderr")
	return in
}

func (p *commandProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	olds := req.OldInputs
	if len(olds) == 0 {
		olds = inputsOf(req.OldOutputs)
	}
	// Changing any command, the environment, stdin or the connection updates
	// in place (the next Update runs `update`, or `create` again); triggers
	// replace. The SDK also sets replaceOnChanges: ["triggers[*]"].
	return diffInputs(olds, req.NewInputs, func(k string) bool { return k == "triggers" }), nil
}

// commandArgs is what a run needs, read from plain (unsecreted) inputs.
type commandArgs struct {
	create, update, delete, stdin *string
	env                           map[string]string
	logging                       string
	addPreviousOutputInEnv        bool
	conn                          *connection // remote only
	interpreter                   []string    // local only
	dir                           *string     // local only
}

func parseArgs(t tokens.Type, props resource.PropertyMap) (*commandArgs, error) {
	m := plainMap(props)
	a := &commandArgs{addPreviousOutputInEnv: true}
	var err error
	for _, f := range []struct {
		key resource.PropertyKey
		dst **string
	}{{"create", &a.create}, {"update", &a.update}, {"delete", &a.delete}, {"stdin", &a.stdin}, {"dir", &a.dir}} {
		if *f.dst, err = optString(m, f.key); err != nil {
			return nil, err
		}
	}
	if a.env, err = stringMap(m, "environment"); err != nil {
		return nil, err
	}
	if l, err := optString(m, "logging"); err != nil {
		return nil, err
	} else if l != nil {
		a.logging = *l
	}
	if v := m["addPreviousOutputInEnv"]; v.IsBool() {
		a.addPreviousOutputInEnv = v.BoolValue()
	}
	if t == remoteCommand {
		if !present(m, "connection") {
			return nil, errors.New("missing required property 'connection'")
		}
		if a.conn, err = parseConnection(m["connection"]); err != nil {
			return nil, err
		}
	}
	if v := m["interpreter"]; v.IsArray() {
		for _, e := range v.ArrayValue() {
			if !e.IsString() {
				return nil, errors.New("interpreter: expected a list of strings")
			}
			a.interpreter = append(a.interpreter, e.StringValue())
		}
	}
	return a, nil
}

// run executes one script and returns its trimmed stdout and stderr.
// prevStdout/prevStderr are the outputs of the previous create or update,
// exported as PULUMI_COMMAND_STDOUT/STDERR when addPreviousOutputInEnv is on.
func (p *commandProvider) run(ctx context.Context, urn resource.URN, t tokens.Type, a *commandArgs,
	script, prevStdout, prevStderr string, timeoutSeconds float64,
) (string, string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.ctx, cancel)()
	if timeoutSeconds > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, time.Duration(timeoutSeconds*float64(time.Second)))
		defer c()
	}
	env := maps.Clone(a.env)
	if a.addPreviousOutputInEnv {
		if prevStdout != "" {
			env["PULUMI_COMMAND_STDOUT"] = prevStdout
		}
		if prevStderr != "" {
			env["PULUMI_COMMAND_STDERR"] = prevStderr
		}
	}
	sink := newOutputSink(a.logging, func(line string) { p.log(ctx, urn, line) })
	var err error
	if t == remoteCommand {
		err = runRemote(ctx, a.conn, script, env, a.stdin, sink)
	} else {
		err = runLocal(ctx, a.interpreter, a.dir, script, env, a.stdin, sink)
	}
	stdout, stderr := sink.results()
	return stdout, stderr, err
}

// outputsOf is the state: every input as given (a secret input stays secret,
// as upstream's infer does for same-named fields), the connection always
// secret, plus stdout and stderr.
func outputsOf(inputs resource.PropertyMap, stdout, stderr resource.PropertyValue) resource.PropertyMap {
	out := inputs.Copy()
	if c, ok := out["connection"]; ok && !c.IsNull() && !c.IsSecret() {
		out["connection"] = resource.MakeSecret(c)
	}
	out["stdout"], out["stderr"] = stdout, stderr
	return out
}

var unknown = resource.MakeComputed(resource.NewProperty(""))

func outputString(m resource.PropertyMap, k resource.PropertyKey) string {
	if v := plain(m[k]); v.IsString() {
		return v.StringValue()
	}
	return ""
}

func (p *commandProvider) Create(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.CreateResponse{}, err
	}
	id, err := resource.NewUniqueHex(req.URN.Name(), 8, 0)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	// Preview: nothing runs and no connection is opened; stdout/stderr are unknown.
	if req.Preview {
		return plugin.CreateResponse{ID: resource.ID(id), Properties: outputsOf(req.Properties, unknown, unknown)}, nil
	}
	a, err := parseArgs(req.Type, req.Properties)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	stdout, stderr := "", ""
	if a.create != nil {
		if stdout, stderr, err = p.run(ctx, req.URN, req.Type, a, *a.create, "", "", req.Timeout); err != nil {
			return plugin.CreateResponse{}, err
		}
	}
	return plugin.CreateResponse{
		ID:         resource.ID(id),
		Properties: outputsOf(req.Properties, resource.NewProperty(stdout), resource.NewProperty(stderr)),
		Status:     resource.StatusOK,
	}, nil
}

func (p *commandProvider) Update(ctx context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.UpdateResponse{}, err
	}
	if req.Preview {
		return plugin.UpdateResponse{Properties: outputsOf(req.NewInputs, unknown, unknown)}, nil
	}
	a, err := parseArgs(req.Type, req.NewInputs)
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	script := a.update
	if script == nil {
		script = a.create
	}
	if script == nil {
		// Nothing to run: keep the previous stdout/stderr, as upstream does.
		return plugin.UpdateResponse{
			Properties: outputsOf(req.NewInputs, req.OldOutputs["stdout"], req.OldOutputs["stderr"]),
			Status:     resource.StatusOK,
		}, nil
	}
	stdout, stderr, err := p.run(ctx, req.URN, req.Type, a, *script,
		outputString(req.OldOutputs, "stdout"), outputString(req.OldOutputs, "stderr"), req.Timeout)
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	return plugin.UpdateResponse{
		Properties: outputsOf(req.NewInputs, resource.NewProperty(stdout), resource.NewProperty(stderr)),
		Status:     resource.StatusOK,
	}, nil
}

// Delete runs `delete` with the inputs the resource was last created or
// updated with (they are part of its state).
func (p *commandProvider) Delete(ctx context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.DeleteResponse{}, err
	}
	state := req.Outputs
	if v := plain(state["delete"]); !v.IsString() {
		return plugin.DeleteResponse{Status: resource.StatusOK}, nil
	}
	a, err := parseArgs(req.Type, state)
	if err != nil {
		return plugin.DeleteResponse{}, err
	}
	_, _, err = p.run(ctx, req.URN, req.Type, a, *a.delete,
		outputString(state, "stdout"), outputString(state, "stderr"), req.Timeout)
	if err != nil {
		return plugin.DeleteResponse{}, err
	}
	return plugin.DeleteResponse{Status: resource.StatusOK}, nil
}

// Read (refresh) has nothing to look at: a command leaves no queryable
// object behind, so the state is returned unchanged, as upstream does.
func (p *commandProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.ReadResponse{}, err
	}
	if req.State == nil {
		return plugin.ReadResponse{}, errors.New("importing a command is not supported by this stand-in")
	}
	return plugin.ReadResponse{
		ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State},
		Status:     resource.StatusOK,
	}, nil
}
