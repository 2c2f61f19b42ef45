// Command pulumi-resource-kubernetes serves the Pulumi Kubernetes provider built from
// github.com/pulumi/pulumi-kubernetes/provider/v4 (see go.mod for the exact commit).
//
// The upstream cmd/pulumi-resource-kubernetes embeds schema-embed.json and
// terraform-mapping-embed.json, which its `go generate` step writes and which are not part
// of the published module. build.sh writes the same two files here with internal/gen
// (from the schema.json and terraform-mapping.json the module ships, with the schema's
// version set) before `go build`; they are git-ignored.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	// version.Version is set with -ldflags "-X .../pkg/version.Version=<version>" by build.sh.
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
