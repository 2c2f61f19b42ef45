// k3s STAND-IN for the picluster lab (test/lab). Not k3s: k3s cannot be downloaded or run
// here (no internet, no container runtime). It honours the parts of the k3s contract that
// the picluster program relies on, for real, so that `pulumi up` against the lab's simulated
// Pis exercises the program's steps end to end:
//
//   - `k3s --version`, `k3s server`, `k3s agent`, `k3s kubectl` (a small subset), with the
//     flags read from /etc/rancher/k3s/config.yaml, the command line and K3S_* variables;
//   - a TLS listener on 6443 with the cluster CA, /cacerts, /readyz, /version, the node API,
//     anonymous requests refused with 401 as k3s does (anonymous auth is off);
//   - the secure token K10<sha256 of the CA bundle>::server:<secret> in
//     /var/lib/rancher/k3s/server/token; joining servers and agents verify the CA hash and
//     are refused with a wrong secret; node passwords (/etc/rancher/node/password) as k3s;
//   - servers keep the cluster state in Debian's etcd (3.4), one member per server, started
//     and joined the way k3s's embedded etcd is (member add through the existing cluster,
//     TLS for clients and peers, k3s's heartbeat/election settings), so quorum is real:
//     without it, writes and /readyz fail;
//   - deleting a server's Node removes its etcd member, as k3s's etcd controller does;
//   - scheduled and on-demand etcd snapshots (`k3s etcd-snapshot save|ls|delete|prune`);
//   - agents register and renew their lease through the URL they are given (the LB).
//
// What it does not do: run pods, containerd, flannel, kubelet, kube-proxy, CoreDNS, the rest
// of the Kubernetes API. See test/lab/README.md.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Set with -ldflags "-X main.version=..." by test/lab/lab setup.
var version = "v1.33.5+k3s1"

func main() {
	args := os.Args[1:]
	if filepath.Base(os.Args[0]) == "kubectl" {
		os.Exit(kubectlMain(args))
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: k3s (stand-in) server|agent|kubectl|--version ...")
		os.Exit(1)
	}
	switch args[0] {
	case "--version", "-v", "version":
		fmt.Printf("k3s version %s (stand-in)\ngo version %s\n", version, runtime.Version())
	case "server":
		os.Exit(serverMain(args[1:]))
	case "agent":
		os.Exit(agentMain(args[1:]))
	case "kubectl":
		os.Exit(kubectlMain(args[1:]))
	case "etcd-snapshot":
		os.Exit(etcdSnapshotMain(args[1:]))
	default:
		fmt.Fprintf(os.Stderr, "k3s (stand-in): the command %q is not part of the stand-in\n", args[0])
		os.Exit(1)
	}
}
