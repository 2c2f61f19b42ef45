package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The node part of k3s, which every server and agent runs: k3s's agent fetches a kubelet client
// certificate from the supervisor with the token and the node password (k3s pkg/agent/config:
// getKubeletClientCert, GET /v1-k3s/client-kubelet.crt), writes kubelet.kubeconfig and starts the
// kubelet, which registers the Node and keeps its lease. There are no containers here, so kwok
// plays the kubelet for this one Node (--manage-single-node): Node status and heartbeat lease,
// pods on it Running and Ready, deleted pods gone. kwok is this process's child: when k3s stops,
// the heartbeats stop and the controller-manager marks the Node NotReady, as for a real Pi.

func agentDir() string { return filepath.Join(dataDir, "agent") }

type kubeletSetup struct {
	serverURL     string
	caPEM         []byte
	tokenUser     string
	tokenPassword string
	cfg           *Config
	nodePassword  string
}

// fetchKubeletCert asks the supervisor at serverURL for this node's client certificate.
func (k kubeletSetup) fetchKubeletCert() (certPEM, keyPEM []byte, seenFrom string, err error) {
	pool, err := poolFromPEM(k.caPEM)
	if err != nil {
		return nil, nil, "", err
	}
	req, err := http.NewRequest(http.MethodGet, k.serverURL+"/v1-k3s/client-kubelet.crt", nil)
	if err != nil {
		return nil, nil, "", err
	}
	req.SetBasicAuth(k.tokenUser, k.tokenPassword)
	req.Header.Set("K3s-Node-Name", k.cfg.NodeName)
	req.Header.Set("K3s-Node-Password", k.nodePassword)
	res, err := httpsClient(pool, nil).Do(req)
	if err != nil {
		return nil, nil, "", err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return nil, nil, "", fmt.Errorf("token is not valid (%s)", res.Status)
	default:
		return nil, nil, "", fmt.Errorf("%s: %s", res.Status, strings.TrimSpace(string(body)))
	}
	for rest := body; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if strings.Contains(b.Type, "PRIVATE KEY") {
			keyPEM = pem.EncodeToMemory(b)
		} else if certPEM == nil {
			certPEM = pem.EncodeToMemory(b) // the leaf; the CA follows it
		}
	}
	if certPEM == nil || keyPEM == nil {
		return nil, nil, "", fmt.Errorf("%s/v1-k3s/client-kubelet.crt: no certificate and key in the answer", k.serverURL)
	}
	return certPEM, keyPEM, res.Header.Get("X-Standin-Seen-From"), nil
}

type nodeAddress struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

// registerNode creates the Node as the kubelet does on its first start (POST as system:node:<name>,
// labels a kubelet may set on itself), or refreshes its annotations and nodeInfo on a later one.
func (k kubeletSetup) registerNode(c *kubeClient, seenFrom string) error {
	name := k.cfg.NodeName
	labels := map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
		"kubernetes.io/arch": runtime.GOARCH, "node.kubernetes.io/instance-type": "k3s"}
	for _, kv := range k.cfg.NodeLabels {
		key, v, _ := strings.Cut(kv, "=")
		labels[key] = v
	}
	annotations := map[string]string{"k3s.io/internal-ip": k.cfg.NodeIP, "k3s.io/hostname": name,
		"standin.k3s.io/server-url": k.serverURL, "standin.k3s.io/registered-from": seenFrom}
	nodeInfo := map[string]string{"kubeletVersion": version, "kubeProxyVersion": version,
		"containerRuntimeVersion": "none://k3s-stand-in", "operatingSystem": "linux", "architecture": runtime.GOARCH,
		"osImage": "picluster lab Pi (k3s stand-in, kwok as the kubelet)", "kernelVersion": "lab"}
	status := map[string]any{"addresses": []nodeAddress{{"InternalIP", k.cfg.NodeIP}, {"Hostname", name}},
		"nodeInfo": nodeInfo}
	body := map[string]any{"apiVersion": "v1", "kind": "Node",
		"metadata": objectMeta{Name: name, Labels: labels, Annotations: annotations}, "status": status}
	err := c.do(http.MethodPost, "/api/v1/nodes", body, nil)
	if isConflict(err) {
		if err = c.do(http.MethodPatch, "/api/v1/nodes/"+name, map[string]any{"metadata": map[string]any{"annotations": annotations}}, nil); err == nil {
			err = c.do(http.MethodPatch, "/api/v1/nodes/"+name+"/status", map[string]any{"status": map[string]any{"nodeInfo": nodeInfo}}, nil)
		}
	}
	return err
}

// startKubelet gets the certificate, registers the Node and starts kwok for it. It retries
// while the supervisor cannot be reached or refuses (as k3s's agent keeps retrying), until stop.
func (k kubeletSetup) startKubelet(exited chan<- error, stop <-chan struct{}) error {
	var certPEM, keyPEM []byte
	var seenFrom string
	for {
		var err error
		certPEM, keyPEM, seenFrom, err = k.fetchKubeletCert()
		if err == nil {
			break
		}
		log.Printf("Failed to get the kubelet client certificate from %s: %v", k.serverURL, err)
		select {
		case <-stop:
			return errStopped
		case <-time.After(2 * time.Second):
		}
	}
	kubeconfig := filepath.Join(agentDir(), "kubelet.kubeconfig")
	if err := writeKubeconfigFile(kubeconfig, k.serverURL, k.caPEM, certPEM, keyPEM, 0o600); err != nil {
		return err
	}
	c, err := newKubeClientFor(k.serverURL, k.caPEM, certPEM, keyPEM)
	if err != nil {
		return err
	}
	for {
		err := k.registerNode(c, seenFrom)
		if err == nil {
			break
		}
		log.Printf("Unable to register node %s with API server: %v", k.cfg.NodeName, err)
		select {
		case <-stop:
			return errStopped
		case <-time.After(2 * time.Second):
		}
	}
	log.Printf("Node %s registered with the cluster through %s", k.cfg.NodeName, k.serverURL)
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--manage-single-node=" + k.cfg.NodeName,
		"--config=" + filepath.Join(controlPlaneDir, "kwok-stages.yaml"),
		"--node-ip=" + k.cfg.NodeIP,
		"--node-name=" + k.cfg.NodeName,
		// A kubelet holds its Node's lease under the node's name and renews it at once after a
		// restart; kwok holds it under a new random identity per process (kwok
		// pkg/kwok/controllers/controller.go Identity) and waits for the old holder's lease to
		// expire. A 15 s lease (the kubelet's is 40 s) keeps that wait short after k3s restarts;
		// the controller-manager's NotReady grace period (50 s) is unchanged.
		"--node-lease-duration-seconds=15",
		// Pod IPs come from the podCIDR the controller-manager gives the Node (kwok
		// pkg/kwok/controllers/pod_controller.go prefers it over --cidr).
	}
	return runComponent("kwok", args, filepath.Join(agentDir(), "logs"), exited)
}

var errStopped = fmt.Errorf("stopped")

func poolFromPEM(caPEM []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bytes.TrimSpace(caPEM)) {
		return nil, fmt.Errorf("no CA certificate")
	}
	return pool, nil
}
