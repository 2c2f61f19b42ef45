// Written for this project (not upstream code). tools/toolchain.sh copies this file beside
// the language host's main.go (../shared/upstream/pulumi-language-nodejs/src, v3.259.0) when it
// builds that source against pulumi sdk v3.274.1, the version the CLI is built from.
//
// v3.274.1's ResourceMonitorServer interface has a method that v3.259.0 predates, so without
// this file the build fails with "*monitorProxy does not implement
// pulumirpc.ResourceMonitorServer (missing method ExistsResource)". monitorProxy forwards every
// call of the Node.js program to the engine's resource monitor; this forwards the new one the
// same way.

package main

import (
	"context"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func (p *monitorProxy) ExistsResource(
	ctx context.Context, req *pulumirpc.ExistsResourceRequest,
) (*pulumirpc.ExistsResourceResponse, error) {
	return p.target.ExistsResource(ctx, req)
}
