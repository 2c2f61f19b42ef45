package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

const (
	passwordType tokens.Type = "random:index/randomPassword:RandomPassword"
	stringType   tokens.Type = "random:index/randomString:RandomString"
	idType       tokens.Type = "random:index/randomId:RandomId"
)

// generated lists, per type, the outputs this provider makes up on create.
// Everything else in the state is an input.
var generated = map[tokens.Type][]resource.PropertyKey{
	passwordType: {"result", "bcryptHash"},
	stringType:   {"result"},
	idType:       {"b64Std", "b64Url", "dec", "hex"},
}

// randomProvider implements plugin.Provider; plugin.NewProviderServer turns it
// into the gRPC server the engine talks to.
type randomProvider struct {
	plugin.UnimplementedProvider
}

func checkType(t tokens.Type) error {
	if _, ok := generated[t]; !ok {
		return fmt.Errorf("resource type %s is not implemented by this stand-in of the random provider", t)
	}
	return nil
}

func (p *randomProvider) Handshake(context.Context, plugin.ProviderHandshakeRequest) (*plugin.ProviderHandshakeResponse, error) {
	return &plugin.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func pluginVersion() *semver.Version {
	v, err := semver.ParseTolerant(Version)
	if err != nil {
		v = semver.MustParse("0.0.0-dev")
	}
	return &v
}

func (p *randomProvider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	return plugin.PluginInfo{Version: pluginVersion()}, nil
}

func (p *randomProvider) GetSchema(context.Context, plugin.GetSchemaRequest) (plugin.GetSchemaResponse, error) {
	return plugin.GetSchemaResponse{Schema: schema()}, nil
}

func (p *randomProvider) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

func (p *randomProvider) DiffConfig(context.Context, plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	return plugin.DiffResult{Changes: plugin.DiffNone}, nil
}

func (p *randomProvider) Configure(context.Context, plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	return plugin.ConfigureResponse{}, nil
}

// known reports whether key holds a value that is not unknown (preview).
func known(m resource.PropertyMap, key resource.PropertyKey) bool {
	return present(m, key) && !m[key].ContainsUnknowns()
}

// wholeNumber reads a known whole number.
func wholeNumber(m resource.PropertyMap, key resource.PropertyKey) (int, bool) {
	v := plain(m[key])
	if !v.IsNumber() || v.NumberValue() != float64(int(v.NumberValue())) {
		return 0, false
	}
	return int(v.NumberValue()), true
}

// Check applies upstream's defaults (special/upper/lower/numeric true, the
// minimums 0) so that the state matches upstream's and repeated runs see no
// diff, and rejects what upstream's validators reject.
func (p *randomProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.CheckResponse{}, err
	}
	news := req.News.Copy()
	var failures []plugin.CheckFailure
	fail := func(k resource.PropertyKey, format string, args ...any) {
		failures = append(failures, plugin.CheckFailure{Property: k, Reason: fmt.Sprintf(format, args...)})
	}
	if req.Type == idType {
		if !present(news, "byteLength") {
			fail("byteLength", "missing required property 'byteLength'")
		} else if n, ok := wholeNumber(news, "byteLength"); known(news, "byteLength") && (!ok || n < 1) {
			fail("byteLength", "byteLength must be a whole number of at least 1")
		}
		return plugin.CheckResponse{Properties: news, Failures: failures}, nil
	}

	// `number` is upstream's deprecated spelling of `numeric`; either one set
	// decides, and both are reported.
	if !present(news, "numeric") {
		if present(news, "number") {
			news["numeric"] = news["number"]
		} else {
			news["numeric"] = resource.NewProperty(true)
		}
	}
	news["number"] = news["numeric"]
	for _, k := range []resource.PropertyKey{"special", "upper", "lower"} {
		if !present(news, k) {
			news[k] = resource.NewProperty(true)
		}
	}
	sum, allKnown := 0, known(news, "length")
	for _, k := range []resource.PropertyKey{"minUpper", "minLower", "minNumeric", "minSpecial"} {
		if !present(news, k) {
			news[k] = resource.NewProperty(0.0)
		}
		if !known(news, k) {
			allKnown = false
			continue
		}
		if n, ok := wholeNumber(news, k); !ok || n < 0 {
			fail(k, "%s must be a whole number of at least 0", k)
		} else {
			sum += n
		}
	}
	if !present(news, "length") {
		fail("length", "missing required property 'length'")
	} else if n, ok := wholeNumber(news, "length"); known(news, "length") && (!ok || n < 1) {
		fail("length", "length must be a whole number of at least 1")
	} else if allKnown && n < sum {
		fail("length", "length (%d) must be at least minUpper + minLower + minNumeric + minSpecial (%d)", n, sum)
	}
	anyOn, classesKnown := false, true
	for _, k := range []resource.PropertyKey{"upper", "lower", "numeric", "special"} {
		v := plain(news[k])
		classesKnown = classesKnown && known(news, k)
		anyOn = anyOn || v.IsBool() && v.BoolValue()
	}
	if classesKnown && !anyOn {
		fail("upper", "at least one of upper, lower, numeric, special must be true")
	}
	return plugin.CheckResponse{Properties: news, Failures: failures}, nil
}

// inputsOf recovers the inputs from a state that predates old_inputs.
func inputsOf(t tokens.Type, outputs resource.PropertyMap) resource.PropertyMap {
	in := outputs.Copy()
	for _, k := range generated[t] {
		delete(in, k)
	}
	return in
}

// Diff: every input of these resources forces a replacement upstream
// (RequiresReplace on each attribute), keepers included. Equal inputs mean no
// change, which is what keeps a generated value stable across runs.
func (p *randomProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	olds := req.OldInputs
	if len(olds) == 0 {
		olds = inputsOf(req.Type, req.OldOutputs)
	}
	return diffInputs(olds, req.NewInputs, func(string) bool { return true }), nil
}

func stringParamsOf(m resource.PropertyMap) (stringParams, error) {
	m = plainMap(m)
	num := func(k resource.PropertyKey) int {
		n, _ := wholeNumber(m, k)
		return n
	}
	flag := func(k resource.PropertyKey) bool { return m[k].IsBool() && m[k].BoolValue() }
	p := stringParams{
		length: num("length"), upper: flag("upper"), lower: flag("lower"), numeric: flag("numeric"),
		special: flag("special"), minUpper: num("minUpper"), minLower: num("minLower"),
		minNumeric: num("minNumeric"), minSpecial: num("minSpecial"),
	}
	if v := m["overrideSpecial"]; v.IsString() {
		p.overrideSpecial = v.StringValue()
	}
	if p.length < 1 {
		return p, errors.New("length must be at least 1")
	}
	return p, nil
}

// generate makes the values of a new resource and its ID.
func generate(t tokens.Type, inputs resource.PropertyMap) (resource.ID, resource.PropertyMap, error) {
	out := resource.PropertyMap{}
	if t == idType {
		n, ok := wholeNumber(plainMap(inputs), "byteLength")
		if !ok || n < 1 {
			return "", nil, errors.New("byteLength must be a whole number of at least 1")
		}
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			return "", nil, err
		}
		prefix := ""
		if v := plain(inputs["prefix"]); v.IsString() {
			prefix = v.StringValue()
		}
		id := base64.RawURLEncoding.EncodeToString(b)
		out["b64Url"] = resource.NewProperty(prefix + id)
		out["b64Std"] = resource.NewProperty(prefix + base64.StdEncoding.EncodeToString(b))
		out["hex"] = resource.NewProperty(prefix + hex.EncodeToString(b))
		out["dec"] = resource.NewProperty(prefix + new(big.Int).SetBytes(b).String())
		return resource.ID(id), out, nil
	}
	params, err := stringParamsOf(inputs)
	if err != nil {
		return "", nil, err
	}
	result, err := generateString(params)
	if err != nil {
		return "", nil, err
	}
	if t == stringType {
		out["result"] = resource.NewProperty(result)
		return resource.ID(result), out, nil // upstream's RandomString ID is the result
	}
	hash, err := bcryptHash(result)
	if err != nil {
		return "", nil, err
	}
	out["result"] = resource.MakeSecret(resource.NewProperty(result))
	out["bcryptHash"] = resource.MakeSecret(resource.NewProperty(hash))
	return "none", out, nil // upstream's RandomPassword ID is the constant "none"
}

// merge is the state: the inputs as given (secret inputs stay secret) plus
// the generated values.
func merge(inputs, values resource.PropertyMap) resource.PropertyMap {
	out := inputs.Copy()
	for k, v := range values {
		out[k] = v
	}
	return out
}

func (p *randomProvider) Create(_ context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.CreateResponse{}, err
	}
	if req.Preview {
		values := resource.PropertyMap{}
		for _, k := range generated[req.Type] {
			values[k] = resource.MakeComputed(resource.NewProperty(""))
		}
		return plugin.CreateResponse{Properties: merge(req.Properties, values)}, nil
	}
	id, values, err := generate(req.Type, req.Properties)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	return plugin.CreateResponse{ID: id, Properties: merge(req.Properties, values), Status: resource.StatusOK}, nil
}

// Update only happens if the engine asks for one without a replace (Diff
// never proposes that); like upstream it keeps the generated values.
func (p *randomProvider) Update(_ context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.UpdateResponse{}, err
	}
	values := resource.PropertyMap{}
	for _, k := range generated[req.Type] {
		values[k] = req.OldOutputs[k]
	}
	return plugin.UpdateResponse{Properties: merge(req.NewInputs, values), Status: resource.StatusOK}, nil
}

// Delete has nothing to clean up: the values live only in the state.
func (p *randomProvider) Delete(_ context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	return plugin.DeleteResponse{Status: resource.StatusOK}, checkType(req.Type)
}

// Read (refresh) returns the state unchanged, as upstream does.
func (p *randomProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.ReadResponse{}, err
	}
	if req.State == nil {
		return plugin.ReadResponse{}, errors.New("importing is not supported by this stand-in of the random provider")
	}
	return plugin.ReadResponse{
		ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State},
		Status:     resource.StatusOK,
	}, nil
}
