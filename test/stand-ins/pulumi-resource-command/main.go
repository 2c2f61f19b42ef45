// Command pulumi-resource-command is a stand-in for the Pulumi command
// provider (github.com/pulumi/pulumi-command), which the Go module proxy does
// not serve here. It implements command:remote:Command and a minimal
// command:local:Command for the unmodified @pulumi/command SDK; see
// ../README.md for what is and is not covered.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Version is set at build time: -ldflags "-X main.Version=1.2.1". It must
// equal the version the @pulumi/command SDK asks the engine for.
var Version string

func main() {
	err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		var log func(context.Context, resource.URN, string)
		if host != nil { // nil when started for debugging in attach mode
			log = func(ctx context.Context, urn resource.URN, msg string) {
				_ = host.LogStatus(ctx, diag.Info, urn, msg)
			}
		}
		return plugin.NewProviderServer(newCommandProvider(log)), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
