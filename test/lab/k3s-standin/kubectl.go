package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// controlPlaneDir holds the lab's real Kubernetes binaries (tools/control-plane: kube-apiserver,
// kube-controller-manager, kube-scheduler, kubectl and kwok as symlinks to one binary), where
// every Pi sees them. Set with -ldflags "-X main.controlPlaneDir=..." by test/lab/lab setup. k3s
// carries the same programs inside its own binary; the stand-in runs them from there instead.
var controlPlaneDir = "/usr/local/lib/picluster-lab/control-plane"

func controlPlaneBinary(name string) (string, error) {
	p := filepath.Join(controlPlaneDir, name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the real %s is missing (%v): run test/lab/lab setup, which builds tools/control-plane", name, err)
	}
	return p, nil
}

// kubectlMain is `k3s kubectl`: the real kubectl, with KUBECONFIG defaulting to the admin
// kubeconfig the server writes, as k3s does (k3s pkg/kubectl/main.go: when neither KUBECONFIG nor
// --kubeconfig is given, /etc/rancher/k3s/k3s.yaml is used if it exists).
func kubectlMain(args []string) int {
	bin, err := controlPlaneBinary("kubectl")
	if err != nil {
		fmt.Fprintln(os.Stderr, "k3s (stand-in):", err)
		return 1
	}
	given := os.Getenv("KUBECONFIG") != ""
	for _, a := range args {
		if a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig=") {
			given = true
		}
	}
	env := os.Environ()
	if !given {
		if _, err := os.Stat(defaultKubeconfig); err == nil {
			env = append(env, "KUBECONFIG="+defaultKubeconfig)
		}
	}
	err = syscall.Exec(bin, append([]string{"kubectl"}, args...), env)
	fmt.Fprintln(os.Stderr, "k3s (stand-in): exec kubectl:", err)
	return 1
}

const defaultKubeconfig = "/etc/rancher/k3s/k3s.yaml"
