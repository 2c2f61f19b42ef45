package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Debian's etcd-server (3.4) is the servers' datastore, one member per server, the way
// k3s runs its embedded etcd: TLS for clients and peers from the cluster's etcd CA,
// heartbeat 500 ms / election 5 s (k3s's defaults), client port 2379 and peer port 2380
// on the node address, members named <node-name>-<random>.

const etcdBinary = "/usr/bin/etcd"

func etcdDir() string      { return filepath.Join(dataDir, "server", "db", "etcd") }
func etcdTLSDir() string   { return filepath.Join(tlsDir(), "etcd") }
func etcdNameFile() string { return filepath.Join(dataDir, "server", "db", "etcd-name") }

type etcdClient struct {
	endpoints []string
	hc        *http.Client
}

// newEtcdClient talks to etcd's JSON gateway (/v3/...) with the node's etcd client cert.
func newEtcdClient(endpoints []string) (*etcdClient, error) {
	d := etcdTLSDir()
	pair, err := tls.LoadX509KeyPair(filepath.Join(d, "client.crt"), filepath.Join(d, "client.key"))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(tlsDir(), "etcd-ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
	}
	return &etcdClient{endpoints: endpoints, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}, nil
}

type etcdError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

func (c *etcdClient) call(ctx context.Context, path string, req, resp any) error {
	body, _ := json.Marshal(req)
	var last error
	for _, ep := range c.endpoints {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, ep+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		r.Header.Set("Content-Type", "application/json")
		res, err := c.hc.Do(r)
		if err != nil {
			last = err
			continue
		}
		data, _ := io.ReadAll(io.LimitReader(res.Body, 8<<20))
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			var e etcdError
			_ = json.Unmarshal(data, &e)
			msg := e.Message
			if msg == "" {
				msg = e.Error
			}
			if msg == "" {
				msg = strings.TrimSpace(string(data))
			}
			return fmt.Errorf("etcd %s: %s", path, msg)
		}
		if resp != nil {
			return json.Unmarshal(data, resp)
		}
		return nil
	}
	return fmt.Errorf("etcd %s: %w", path, last)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func unb64(s string) string {
	b, _ := base64.StdEncoding.DecodeString(s)
	return string(b)
}

func prefixEnd(p string) string {
	b := []byte(p)
	b[len(b)-1]++
	return string(b)
}

type kv struct{ Key, Value string }

// get is a linearizable read: it needs a quorum.
func (c *etcdClient) get(ctx context.Context, key string) (string, bool, error) {
	var resp struct {
		Kvs []struct{ Key, Value string } `json:"kvs"`
	}
	if err := c.call(ctx, "/v3/kv/range", map[string]any{"key": b64(key)}, &resp); err != nil {
		return "", false, err
	}
	if len(resp.Kvs) == 0 {
		return "", false, nil
	}
	return unb64(resp.Kvs[0].Value), true, nil
}

func (c *etcdClient) list(ctx context.Context, prefix string) ([]kv, error) {
	var resp struct {
		Kvs []struct{ Key, Value string } `json:"kvs"`
	}
	if err := c.call(ctx, "/v3/kv/range", map[string]any{"key": b64(prefix), "range_end": b64(prefixEnd(prefix))}, &resp); err != nil {
		return nil, err
	}
	out := make([]kv, 0, len(resp.Kvs))
	for _, k := range resp.Kvs {
		out = append(out, kv{unb64(k.Key), unb64(k.Value)})
	}
	return out, nil
}

func (c *etcdClient) put(ctx context.Context, key, value string) error {
	return c.call(ctx, "/v3/kv/put", map[string]any{"key": b64(key), "value": b64(value)}, nil)
}

func (c *etcdClient) del(ctx context.Context, key string) (bool, error) {
	var resp struct {
		Deleted string `json:"deleted"`
	}
	err := c.call(ctx, "/v3/kv/deleterange", map[string]any{"key": b64(key)}, &resp)
	return resp.Deleted != "" && resp.Deleted != "0", err
}

type member struct {
	ID         string   `json:"ID"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
}

func (c *etcdClient) members(ctx context.Context) ([]member, error) {
	var resp struct {
		Members []member `json:"members"`
	}
	err := c.call(ctx, "/v3/cluster/member/list", map[string]any{}, &resp)
	return resp.Members, err
}

// addLearner adds a non-voting member, as k3s does for a joining server; it is promoted
// once it has caught up with the leader.
func (c *etcdClient) addLearner(ctx context.Context, peerURL string) (member, []member, error) {
	var resp struct {
		Member  member   `json:"member"`
		Members []member `json:"members"`
	}
	err := c.call(ctx, "/v3/cluster/member/add", map[string]any{"peerURLs": []string{peerURL}, "isLearner": true}, &resp)
	return resp.Member, resp.Members, err
}

func (c *etcdClient) promote(ctx context.Context, id string) error {
	return c.call(ctx, "/v3/cluster/member/promote", map[string]any{"ID": id}, nil)
}

func (c *etcdClient) removeMember(ctx context.Context, id string) error {
	return c.call(ctx, "/v3/cluster/member/remove", map[string]any{"ID": id}, nil)
}

// etcdCerts issues this node's etcd server/peer/client certificates from the etcd CA.
func etcdCerts(nodeIP string) error {
	etcdCA, err := loadCA(tlsDir(), "etcd-ca")
	if err != nil {
		return err
	}
	d := etcdTLSDir()
	ips := []net.IP{net.ParseIP(nodeIP), net.ParseIP("127.0.0.1")}
	for _, n := range []struct {
		name           string
		server, client bool
	}{{"server", true, true}, {"peer", true, true}, {"client", false, true}} {
		crt, key, err := etcdCA.issue("etcd-"+n.name, nil, []string{"localhost"}, ips, n.server, n.client)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(d, n.name+".crt"), crt, 0o644); err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(d, n.name+".key"), key, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// runEtcd starts etcd as a child that dies with this process. exited is closed when it ends.
// extra are further etcd flags (the cluster reset's --force-new-cluster).
func runEtcd(name, nodeIP, initialCluster, state string, logw io.Writer, extra ...string) (*exec.Cmd, <-chan error, error) {
	d := etcdTLSDir()
	ca := filepath.Join(tlsDir(), "etcd-ca.crt")
	args := []string{
		"--name=" + name,
		"--data-dir=" + etcdDir(),
		"--listen-client-urls=https://127.0.0.1:2379,https://" + nodeIP + ":2379",
		"--advertise-client-urls=https://" + nodeIP + ":2379",
		"--listen-peer-urls=https://" + nodeIP + ":2380",
		"--initial-advertise-peer-urls=https://" + nodeIP + ":2380",
		"--listen-metrics-urls=http://127.0.0.1:2381",
		"--heartbeat-interval=500", "--election-timeout=5000",
		"--cert-file=" + filepath.Join(d, "server.crt"), "--key-file=" + filepath.Join(d, "server.key"),
		"--trusted-ca-file=" + ca, "--client-cert-auth",
		"--peer-cert-file=" + filepath.Join(d, "peer.crt"), "--peer-key-file=" + filepath.Join(d, "peer.key"),
		"--peer-trusted-ca-file=" + ca, "--peer-client-cert-auth",
		"--snapshot-count=10000", "--logger=zap", "--log-outputs=stderr", "--log-level=warn",
		"--enable-v2=false",
	}
	if initialCluster != "" {
		args = append(args, "--initial-cluster="+initialCluster, "--initial-cluster-state="+state)
	}
	args = append(args, extra...)
	exited := make(chan error, 1)
	cmd, err := startChild("etcd", etcdBinary, args, logw, func(e error) {
		exited <- e
		close(exited)
	})
	if err != nil {
		return nil, nil, err
	}
	log.Printf("etcd member %s started (state %s)", name, state)
	return cmd, exited, nil
}

// waitEtcd waits until a linearizable read succeeds through the local member.
func waitEtcd(c *etcdClient, exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, _, err := c.get(ctx, "/registry/health")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case e := <-exited:
			return fmt.Errorf("etcd exited: %v", e)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd not ready after %s: %w", limit, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

var errNotFound = errors.New("not found")
