package main

import (
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

// diffInputs (a copy of the command stand-in's) compares old and new inputs
// the way pulumi-go-provider's infer package does for the real providers (an
// object diff turned into a detailed diff), and turns every change under a
// top-level key for which replace returns true into a replace.
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
