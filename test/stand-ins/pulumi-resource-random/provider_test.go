package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/types/known/structpb"
)

// harness drives the provider through the gRPC server object the engine talks
// to, so secrets and unknowns go through the real marshalling.
type harness struct {
	t   *testing.T
	srv pulumirpc.ResourceProviderServer
}

func newHarness(t *testing.T) *harness {
	h := &harness{t, plugin.NewProviderServer(&randomProvider{})}
	if _, err := h.srv.Handshake(context.Background(), &pulumirpc.ProviderHandshakeRequest{}); err != nil {
		t.Fatal(err)
	}
	return h
}

var opts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true}

func (h *harness) marshal(m resource.PropertyMap) *structpb.Struct {
	s, err := plugin.MarshalProperties(m, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) unmarshal(s *structpb.Struct) resource.PropertyMap {
	m, err := plugin.UnmarshalProperties(s, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func urnOf(t tokens.Type) string { return string(resource.NewURN("dev", "standin", "", t, "r")) }

func (h *harness) check(t tokens.Type, news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	h.t.Helper()
	resp, err := h.srv.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urnOf(t), News: h.marshal(news)})
	if err != nil {
		h.t.Fatal(err)
	}
	return h.unmarshal(resp.Inputs), resp.Failures
}

func (h *harness) checked(t tokens.Type, news resource.PropertyMap) resource.PropertyMap {
	h.t.Helper()
	in, failures := h.check(t, news)
	if len(failures) > 0 {
		h.t.Fatalf("check failures: %v", failures)
	}
	return in
}

func (h *harness) create(t tokens.Type, inputs resource.PropertyMap, preview bool) (string, resource.PropertyMap) {
	h.t.Helper()
	resp, err := h.srv.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: urnOf(t), Properties: h.marshal(inputs), Preview: preview,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.Id, h.unmarshal(resp.Properties)
}

func (h *harness) diff(t tokens.Type, olds, oldInputs, news resource.PropertyMap) *pulumirpc.DiffResponse {
	h.t.Helper()
	resp, err := h.srv.Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: urnOf(t), Id: "x", Olds: h.marshal(olds), OldInputs: h.marshal(oldInputs), News: h.marshal(news),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func num(n float64) resource.PropertyValue { return resource.NewProperty(n) }

func result(t *testing.T, outs resource.PropertyMap, k resource.PropertyKey) string {
	t.Helper()
	v := plain(outs[k])
	if !v.IsString() {
		t.Fatalf("%s = %v, want a string", k, outs[k])
	}
	return v.StringValue()
}

func TestCheckDefaults(t *testing.T) {
	h := newHarness(t)
	in := h.checked(passwordType, resource.PropertyMap{"length": num(16)})
	for k, want := range map[resource.PropertyKey]any{
		"special": true, "upper": true, "lower": true, "numeric": true, "number": true,
		"minUpper": 0.0, "minLower": 0.0, "minNumeric": 0.0, "minSpecial": 0.0, "length": 16.0,
	} {
		if in[k].V != want {
			t.Errorf("%s = %v, want %v", k, in[k], want)
		}
	}
	// The deprecated `number` decides when `numeric` is not given.
	in = h.checked(stringType, resource.PropertyMap{"length": num(8), "number": resource.NewProperty(false)})
	if in["numeric"].V != false || in["number"].V != false {
		t.Errorf("number=false gave numeric=%v number=%v", in["numeric"], in["number"])
	}
}

func TestCheckFailures(t *testing.T) {
	h := newHarness(t)
	off := resource.NewProperty(false)
	for name, c := range map[string]struct {
		typ  tokens.Type
		news resource.PropertyMap
		prop string
	}{
		"no length":    {passwordType, resource.PropertyMap{}, "length"},
		"zero length":  {stringType, resource.PropertyMap{"length": num(0)}, "length"},
		"mins too big": {passwordType, resource.PropertyMap{"length": num(3), "minUpper": num(2), "minSpecial": num(2)}, "length"},
		"all off": {stringType, resource.PropertyMap{"length": num(3), "upper": off, "lower": off,
			"numeric": off, "special": off}, "upper"},
		"no byteLength": {idType, resource.PropertyMap{}, "byteLength"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, failures := h.check(c.typ, c.news); len(failures) != 1 || failures[0].Property != c.prop {
				t.Fatalf("failures = %v, want one on %s", failures, c.prop)
			}
		})
	}
	if _, failures := h.check(passwordType, resource.PropertyMap{"length": resource.MakeComputed(num(0))}); len(failures) != 0 {
		t.Fatalf("an unknown length gave failures %v", failures)
	}
}

func TestPassword(t *testing.T) {
	h := newHarness(t)
	in := h.checked(passwordType, resource.PropertyMap{
		"length": num(24), "minUpper": num(3), "minNumeric": num(4), "minSpecial": num(5),
		"overrideSpecial": resource.NewProperty("_%"),
		"keepers":         resource.NewProperty(resource.PropertyMap{"k": resource.MakeSecret(resource.NewProperty("v"))}),
	})
	id, outs := h.create(passwordType, in, false)
	if id != "none" {
		t.Errorf("id = %q, want none as upstream", id)
	}
	if !outs["result"].IsSecret() || !outs["bcryptHash"].IsSecret() {
		t.Errorf("result/bcryptHash must be secret: %v %v", outs["result"], outs["bcryptHash"])
	}
	if !outs["keepers"].ContainsSecrets() {
		t.Errorf("a secret keeper came back public: %v", outs["keepers"])
	}
	pw := result(t, outs, "result")
	if len(pw) != 24 {
		t.Fatalf("len(result) = %d", len(pw))
	}
	count := func(set string) int {
		n := 0
		for _, r := range pw {
			if strings.ContainsRune(set, r) {
				n++
			}
		}
		return n
	}
	if count(upperChars) < 3 || count(numericChars) < 4 || count("_%") < 5 {
		t.Errorf("%q misses a minimum", pw)
	}
	if n := count(upperChars + lowerChars + numericChars + "_%"); n != len(pw) {
		t.Errorf("%q has characters outside the allowed sets", pw)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(result(t, outs, "bcryptHash")), []byte(pw)); err != nil {
		t.Errorf("bcryptHash does not verify: %v", err)
	}
	if _, again := h.create(passwordType, in, false); result(t, again, "result") == pw {
		t.Error("two creates gave the same password")
	}
}

func TestLongPasswordHash(t *testing.T) {
	h := newHarness(t)
	_, outs := h.create(passwordType, h.checked(passwordType, resource.PropertyMap{"length": num(100)}), false)
	pw := result(t, outs, "result")
	if err := bcrypt.CompareHashAndPassword([]byte(result(t, outs, "bcryptHash")), []byte(pw[:72])); err != nil {
		t.Errorf("bcryptHash is not the hash of the first 72 bytes: %v", err)
	}
}

func TestStringClassesAndSpread(t *testing.T) {
	h := newHarness(t)
	off := resource.NewProperty(false)
	in := h.checked(stringType, resource.PropertyMap{
		"length": num(2000), "upper": off, "lower": off, "special": off,
	})
	id, outs := h.create(stringType, in, false)
	s := result(t, outs, "result")
	if outs["result"].IsSecret() {
		t.Error("RandomString result is secret; upstream's is not")
	}
	if id != s {
		t.Errorf("id %q != result; upstream's RandomString ID is the result", id)
	}
	for _, d := range numericChars {
		if c := strings.Count(s, string(d)); c < 120 || c > 290 { // expected 200
			t.Errorf("digit %c appears %d times in 2000: not uniform", d, c)
		}
	}
	if strings.Trim(s, numericChars) != "" {
		t.Errorf("numeric-only string has other characters: %q", s)
	}
}

func TestStableAcrossRuns(t *testing.T) {
	h := newHarness(t)
	args := resource.PropertyMap{"length": num(20), "keepers": resource.NewProperty(resource.PropertyMap{
		"node": resource.NewProperty("pi-1")})}
	first := h.checked(passwordType, args)
	_, state := h.create(passwordType, first, false)
	second := h.checked(passwordType, args)                        // the next `pulumi up`
	for _, oldInputs := range []resource.PropertyMap{first, nil} { // nil: engine without old inputs
		if d := h.diff(passwordType, state, oldInputs, second); d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
			t.Fatalf("same inputs give a diff %v: the password would be regenerated", d)
		}
	}
	for name, change := range map[string]resource.PropertyMap{
		"keepers": {"keepers": resource.NewProperty(resource.PropertyMap{"node": resource.NewProperty("pi-2")})},
		"length":  {"length": num(21)},
		"special": {"special": resource.NewProperty(false)},
	} {
		news := args.Copy()
		for k, v := range change {
			news[k] = v
		}
		d := h.diff(passwordType, state, first, h.checked(passwordType, news))
		if d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) == 0 {
			t.Errorf("changing %s: diff %v, want a replace", name, d)
		}
	}
}

func TestPreview(t *testing.T) {
	h := newHarness(t)
	_, outs := h.create(passwordType, h.checked(passwordType, resource.PropertyMap{"length": num(8)}), true)
	if !outs["result"].ContainsUnknowns() || !outs["bcryptHash"].ContainsUnknowns() {
		t.Errorf("preview must leave result unknown: %v", outs)
	}
}

func TestRandomID(t *testing.T) {
	h := newHarness(t)
	in := h.checked(idType, resource.PropertyMap{"byteLength": num(8), "prefix": resource.NewProperty("k3s-")})
	id, outs := h.create(idType, in, false)
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != 8 {
		t.Fatalf("id %q is not 8 bytes of unpadded base64url: %v", id, err)
	}
	want := map[resource.PropertyKey]string{
		"b64Url": "k3s-" + id,
		"b64Std": "k3s-" + base64.StdEncoding.EncodeToString(raw),
		"hex":    "k3s-" + hex.EncodeToString(raw),
		"dec":    "k3s-" + new(big.Int).SetBytes(raw).String(),
	}
	for k, w := range want {
		if got := result(t, outs, k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
}

func TestPluginInfoAndSchema(t *testing.T) {
	Version = "4.21.2"
	h := newHarness(t)
	info, err := h.srv.GetPluginInfo(context.Background(), nil)
	if err != nil || info.Version != "4.21.2" {
		t.Fatalf("GetPluginInfo = %v, %v", info, err)
	}
	s, err := h.srv.GetSchema(context.Background(), &pulumirpc.GetSchemaRequest{})
	if err != nil || !json.Valid([]byte(s.Schema)) || !strings.Contains(s.Schema, string(passwordType)) {
		t.Fatalf("GetSchema = %v, %v", s, err)
	}
	if _, err := h.srv.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: urnOf("random:index/randomPet:RandomPet"), Properties: h.marshal(resource.PropertyMap{}),
	}); err == nil || !strings.Contains(err.Error(), "not implemented by this stand-in") {
		t.Errorf("an unimplemented type gave %v", err)
	}
}
