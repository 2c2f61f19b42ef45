// Command pulumi-resource-random is a stand-in for the Pulumi random provider
// (github.com/pulumi/pulumi-random), which the Go module proxy does not serve
// here. It implements RandomPassword, RandomString and RandomId for the
// unmodified @pulumi/random SDK; see ../README.md for what is covered.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Version is set at build time: -ldflags "-X main.Version=4.21.2". It must
// equal the version the @pulumi/random SDK asks the engine for.
var Version string

func main() {
	err := provider.Main("random", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return plugin.NewProviderServer(&randomProvider{}), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
