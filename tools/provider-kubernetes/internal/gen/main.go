// Command gen writes schema-embed.json and terraform-mapping-embed.json into the current
// directory from the schema.json and terraform-mapping.json that the provider module ships
// (its cmd/pulumi-resource-kubernetes folder), as upstream's generate.go does: the schema's
// "version" is set to the version being built and both files are compacted.
//
// Usage: go run ./internal/gen <version>
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const providerModule = "github.com/pulumi/pulumi-kubernetes/provider/v4"

func main() {
	if len(os.Args) != 2 || os.Args[1] == "" {
		fail("usage: go run ./internal/gen <version>")
	}
	version := strings.TrimPrefix(os.Args[1], "v")

	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", providerModule).Output()
	if err != nil {
		fail("go list -m %s: %v (run `go mod download` first)", providerModule, err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "cmd", "pulumi-resource-kubernetes")

	raw, err := os.ReadFile(filepath.Join(src, "schema.json"))
	if err != nil {
		fail("%v", err)
	}
	var spec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &spec); err != nil {
		fail("schema.json: %v", err)
	}
	if _, ok := spec["resources"]; !ok {
		fail("schema.json in %s has no resources: not the provider schema", src)
	}
	v, _ := json.Marshal(version)
	spec["version"] = v
	schema, err := json.Marshal(spec)
	if err != nil {
		fail("schema: %v", err)
	}
	write("schema-embed.json", schema)

	mapping, err := os.ReadFile(filepath.Join(src, "terraform-mapping.json"))
	if err != nil {
		fail("%v", err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, mapping); err != nil {
		fail("terraform-mapping.json: %v", err)
	}
	write("terraform-mapping-embed.json", compact.Bytes())
}

func write(name string, data []byte) {
	if err := os.WriteFile(name, data, 0o644); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gen: "+format+"\n", args...)
	os.Exit(1)
}
