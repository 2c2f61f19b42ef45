package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// agentMain: what a k3s agent does toward the cluster, through the URL it is given
// (--server / K3S_URL, the load balancer): validate the token against the CA the URL
// serves, register the node with the token and the node password, renew its lease every
// 10 s. Like k3s, it keeps retrying (and never becomes ready) while the server refuses it.
func agentMain(args []string) int {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.Printf("Starting k3s agent %s STAND-IN (test/lab/k3s-standin)", version)
	cfg, err := loadConfig("agent", args)
	if err != nil {
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

	var hc *http.Client
	for attempt := 1; ; attempt++ {
		hc, err = register(url, tok, cfg.NodeName, cfg.NodeIP, password)
		if err == nil {
			break
		}
		log.Printf("Failed to validate connection to cluster at %s: %v", url, err)
		select {
		case <-sig:
			return 0
		case <-time.After(2 * time.Second):
		}
	}
	log.Printf("Node %s registered with the cluster through %s", cfg.NodeName, url)
	notifyReady()
	for {
		select {
		case <-sig:
			log.Printf("shutting down")
			return 0
		case <-time.After(10 * time.Second):
		}
		if err := post(hc, http.MethodPut, url+"/v1-k3s/stand-in/lease", tok.password, cfg.NodeName, password, nil); err != nil {
			log.Printf("failed to renew node lease through %s: %v", url, err)
		}
	}
}

func register(url string, tok token, name, ip, password string) (*http.Client, error) {
	bundle, err := fetchCACerts(url)
	if err != nil {
		return nil, err
	}
	if tok.hash != "" && tok.hash != caHash(bundle) {
		return nil, fmt.Errorf("token CA hash does not match the Cluster CA certificate hash: %s != %s", tok.hash, caHash(bundle))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		return nil, fmt.Errorf("%s/cacerts: no certificate", url)
	}
	hc := httpsClient(pool, nil)
	body, _ := json.Marshal(registration{NodeIP: ip, ServerURL: url})
	if err := post(hc, http.MethodPost, url+"/v1-k3s/stand-in/register", tok.password, name, password, body); err != nil {
		return nil, err
	}
	_ = writeFileAtomic(filepath.Join(dataDir, "agent", "server-ca.crt"), bundle, 0o644)
	return hc, nil
}

func post(hc *http.Client, method, url, tokenPassword, name, nodePassword string, body []byte) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth("node", tokenPassword)
	req.Header.Set("K3s-Node-Name", name)
	req.Header.Set("K3s-Node-Password", nodePassword)
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	switch res.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
		return fmt.Errorf("token is not valid (%s)", res.Status)
	default:
		var st struct{ Message string }
		_ = json.Unmarshal(msg, &st)
		return fmt.Errorf("%s: %s", res.Status, st.Message)
	}
}
