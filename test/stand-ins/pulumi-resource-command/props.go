package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// plain strips secret wrappers at every depth. Secrets only matter for what we
// hand back to the engine (outputs keep the input's wrapping); to read a value
// we want the bare thing.
func plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsObject():
		return resource.NewProperty(plainMap(v.ObjectValue()))
	case v.IsArray():
		in := v.ArrayValue()
		out := make([]resource.PropertyValue, len(in))
		for i, e := range in {
			out[i] = plain(e)
		}
		return resource.NewProperty(out)
	}
	return v
}

func plainMap(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		out[k] = plain(v)
	}
	return out
}

// present reports whether key holds a non-null value (a missing key and an
// explicit null mean the same thing to the SDKs).
func present(m resource.PropertyMap, key resource.PropertyKey) bool {
	v, ok := m[key]
	return ok && !v.IsNull()
}

// optString reads an optional string from a plain map.
func optString(m resource.PropertyMap, key resource.PropertyKey) (*string, error) {
	if !present(m, key) {
		return nil, nil
	}
	v := m[key]
	if !v.IsString() {
		return nil, fmt.Errorf("%s: expected a string, got %s", key, v.TypeString())
	}
	s := v.StringValue()
	return &s, nil
}

// optInt reads an optional whole number from a plain map.
func optInt(m resource.PropertyMap, key resource.PropertyKey, def int) (int, error) {
	if !present(m, key) {
		return def, nil
	}
	v := m[key]
	if !v.IsNumber() || v.NumberValue() != float64(int(v.NumberValue())) {
		return 0, fmt.Errorf("%s: expected a whole number, got %v", key, v)
	}
	return int(v.NumberValue()), nil
}

// stringMap reads an optional map of strings (the environment) from a plain map.
func stringMap(m resource.PropertyMap, key resource.PropertyKey) (map[string]string, error) {
	out := map[string]string{}
	if !present(m, key) {
		return out, nil
	}
	if !m[key].IsObject() {
		return nil, fmt.Errorf("%s: expected a map of strings", key)
	}
	for k, v := range m[key].ObjectValue() {
		if !v.IsString() {
			return nil, fmt.Errorf("%s.%s: expected a string, got %s", key, k, v.TypeString())
		}
		out[string(k)] = v.StringValue()
	}
	return out, nil
}

// diffInputs compares old and new inputs the way pulumi-go-provider's infer
// package does for the real providers (an object diff turned into a detailed
// diff), and turns every change under a top-level key for which replace
// returns true into a replace.
// Keys the engine adds for its own use ("version", "__*") are ignored.
func diffInputs(olds, news resource.PropertyMap, replace func(key string) bool) plugin.DiffResult {
	strip := func(m resource.PropertyMap) resource.PropertyMap {
		out := resource.PropertyMap{}
		for k, v := range m {
			if k != "version" && !strings.HasPrefix(string(k), "__") {
				out[k] = v
			}
		}
		return out
	}
	objDiff := strip(olds).Diff(strip(news))
	if objDiff == nil || !objDiff.AnyChanges() {
		return plugin.DiffResult{Changes: plugin.DiffNone}
	}
	// The sdk's server derives the engine's diff keys and replaces from this.
	detailed := plugin.NewDetailedDiffFromObjectDiff(objDiff, true)
	for path, d := range detailed {
		root := path
		if p, err := resource.ParsePropertyPath(path); err == nil && len(p) > 0 {
			if s, ok := p[0].(string); ok {
				root = s
			}
		}
		if replace(root) {
			detailed[path] = d.ToReplace()
		}
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, DetailedDiff: detailed}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
