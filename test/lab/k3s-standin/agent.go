package main

import (
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// agentMain: what a k3s agent does toward the cluster, through the URL it is given (--server /
// K3S_URL, the load balancer): validate the token against the CA the URL serves, fetch the
// kubelet's client certificate with the token and the node password, register the Node and keep
// it Ready (kubelet.go). Like k3s, it keeps retrying (and never becomes ready) while the server
// refuses it. k3s's agent also runs a client-side load balancer over the servers it learns of;
// the stand-in's kubelet talks to the URL it was given.
func agentMain(args []string) int {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.Printf("Starting k3s agent %s STAND-IN (test/lab/k3s-standin)", version)
	cfg, err := loadConfig("agent", args)
	if err != nil {
		log.Printf("level=fatal msg=%q", err.Error())
		return 1
	}
	if err := refusedByLab(cfg.NodeName); err != nil {
		log.Printf("level=fatal msg=%q", err.Error())
		return 1
	}
	tok, err := parseToken(cfg.Token)
	if err != nil {
		log.Printf("level=fatal msg=%q", err.Error())
		return 1
	}
	password, err := nodePassword()
	if err != nil {
		log.Printf("level=fatal msg=%q", err.Error())
		return 1
	}
	url := strings.TrimSuffix(cfg.Server, "/")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	stop := make(chan struct{})
	go func() { <-sig; close(stop) }()

	var bundle []byte
	for {
		bundle, err = validatedCACerts(url, tok)
		if err == nil {
			break
		}
		log.Printf("Failed to validate connection to cluster at %s: %v", url, err)
		select {
		case <-stop:
			return 0
		case <-time.After(2 * time.Second):
		}
	}
	_ = writeFileAtomic(filepath.Join(agentDir(), "server-ca.crt"), bundle, 0o644)
	exited := make(chan error, 2)
	k := kubeletSetup{serverURL: url, caPEM: bundle, tokenUser: "node", tokenPassword: tok.password, cfg: cfg, nodePassword: password}
	if err := k.startKubelet(exited, stop); err != nil {
		if err == errStopped {
			return 0
		}
		log.Printf("level=fatal msg=%q", err.Error())
		return 1
	}
	notifyReady()
	select {
	case <-stop:
		log.Printf("shutting down")
		return 0 // kwok dies with us (Pdeathsig)
	case err := <-exited:
		log.Printf("level=fatal msg=%q", err.Error())
		return 1
	}
}

// validatedCACerts fetches /cacerts and checks it against the token's CA hash, as k3s does
// before it sends the token anywhere.
func validatedCACerts(url string, tok token) ([]byte, error) {
	bundle, err := fetchCACerts(url)
	if err != nil {
		return nil, err
	}
	if tok.hash != "" && tok.hash != caHash(bundle) {
		return nil, fmt.Errorf("token CA hash does not match the Cluster CA certificate hash: %s != %s", tok.hash, caHash(bundle))
	}
	return bundle, nil
}
