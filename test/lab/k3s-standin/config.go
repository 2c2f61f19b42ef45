package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const (
	configFile  = "/etc/rancher/k3s/config.yaml"
	configDir   = "/etc/rancher/k3s/config.yaml.d"
	nodePassDir = "/etc/rancher/node"
)

// dataDir is k3s's data directory (a variable only so that tests can point it elsewhere).
var dataDir = "/var/lib/rancher/k3s"

// Config holds the flags the stand-in understands. Like k3s, the values come from the
// config file(s) (given as if they were command-line flags), the command line, and K3S_*
// variables for flags not set otherwise.
type Config struct {
	ClusterInit    bool
	Server         string
	Token          string
	TokenFile      string
	AgentToken     string
	NodeName       string
	NodeIP         string
	TLSSANs        []string
	KubeconfigMode string
	KubeconfigPath string
	ClusterCIDR    string
	ServiceCIDR    string
	Disable        []string
	NodeLabels     []string
	// etcd snapshots (snapshot.go), with k3s's defaults.
	SnapshotCron      string
	SnapshotRetention int
	DisableSnapshots  bool
	// server --cluster-reset [--cluster-reset-restore-path] (reset.go).
	ClusterReset            bool
	ClusterResetRestorePath string
}

var knownFlags = map[string]bool{
	"cluster-init": true, "server": true, "token": true, "token-file": true, "agent-token": true,
	"node-name": true, "node-ip": true, "tls-san": true, "write-kubeconfig-mode": true,
	"write-kubeconfig": true, "cluster-cidr": true, "service-cidr": true, "disable": true,
	"node-label": true, "etcd-snapshot-schedule-cron": true, "etcd-snapshot-retention": true, "etcd-disable-snapshots": true,
	"cluster-reset": true, "cluster-reset-restore-path": true,
}

// Flags that k3s accepts and the stand-in can ignore without changing what it proves.
var ignoredFlags = map[string]bool{
	"cluster-dns": true, "flannel-backend": true, "disable-network-policy": true, "kubelet-arg": true,
	"kube-apiserver-arg": true, "node-taint": true, "data-dir": true, "selinux": true, "debug": true,
	"etcd-expose-metrics": true, "secrets-encryption": true, "protect-kernel-defaults": true,
}

func loadConfig(role string, args []string) (*Config, error) {
	type kv struct {
		key  string
		vals []string
	}
	var settings []kv
	files := []string{}
	if _, err := os.Stat(configFile); err == nil {
		files = append(files, configFile)
	}
	extra, _ := filepath.Glob(filepath.Join(configDir, "*.yaml"))
	sort.Strings(extra)
	files = append(files, extra...)
	for _, f := range files {
		m, order, err := parseFlatYAML(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, k := range order {
			settings = append(settings, kv{k, m[k]})
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			return nil, fmt.Errorf("unexpected argument %q", a)
		}
		name, val, has := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !has {
			if name == "cluster-init" || name == "cluster-reset" || name == "debug" || name == "selinux" {
				val = "true"
			} else if i+1 < len(args) {
				i++
				val = args[i]
			} else {
				return nil, fmt.Errorf("flag --%s needs a value", name)
			}
		}
		settings = append(settings, kv{name, []string{val}})
	}
	c := &Config{KubeconfigMode: "0600", KubeconfigPath: "/etc/rancher/k3s/k3s.yaml",
		ClusterCIDR: "10.42.0.0/16", ServiceCIDR: "10.43.0.0/16",
		SnapshotCron: defaultSnapshotCron, SnapshotRetention: defaultSnapshotRetention}
	set := map[string]bool{}
	for _, s := range settings {
		set[s.key] = true
		v := ""
		if len(s.vals) > 0 {
			v = s.vals[len(s.vals)-1]
		}
		switch s.key {
		case "cluster-init":
			c.ClusterInit = v == "true"
		case "server":
			c.Server = v
		case "token":
			c.Token = v
		case "token-file":
			c.TokenFile = v
		case "agent-token":
			c.AgentToken = v
		case "node-name":
			c.NodeName = v
		case "node-ip":
			c.NodeIP = v
		case "tls-san":
			c.TLSSANs = append(c.TLSSANs, splitList(s.vals)...)
		case "write-kubeconfig-mode":
			c.KubeconfigMode = v
		case "write-kubeconfig":
			c.KubeconfigPath = v
		case "cluster-cidr":
			c.ClusterCIDR = v
		case "service-cidr":
			c.ServiceCIDR = v
		case "disable":
			c.Disable = append(c.Disable, splitList(s.vals)...)
		case "node-label":
			c.NodeLabels = append(c.NodeLabels, splitList(s.vals)...)
		case "etcd-snapshot-schedule-cron":
			c.SnapshotCron = v
		case "etcd-snapshot-retention":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("etcd-snapshot-retention %q: %w", v, err)
			}
			c.SnapshotRetention = n
		case "etcd-disable-snapshots":
			c.DisableSnapshots = v == "true"
		case "cluster-reset":
			c.ClusterReset = v == "true"
		case "cluster-reset-restore-path":
			c.ClusterResetRestorePath = v
		default:
			if ignoredFlags[s.key] {
				log.Printf("stand-in: flag --%s accepted and ignored", s.key)
			} else {
				log.Printf("Unknown flag --%s found in config, skipping", s.key)
			}
		}
	}
	env := func(flag, name string, dst *string) {
		if !set[flag] {
			if v := os.Getenv(name); v != "" {
				*dst = v
			}
		}
	}
	env("server", "K3S_URL", &c.Server)
	env("token", "K3S_TOKEN", &c.Token)
	env("token-file", "K3S_TOKEN_FILE", &c.TokenFile)
	env("agent-token", "K3S_AGENT_TOKEN", &c.AgentToken)
	env("node-name", "K3S_NODE_NAME", &c.NodeName)
	env("write-kubeconfig-mode", "K3S_KUBECONFIG_MODE", &c.KubeconfigMode)
	if !set["cluster-init"] && os.Getenv("K3S_CLUSTER_INIT") == "true" {
		c.ClusterInit = true
	}
	if c.Token == "" && c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading token file: %w", err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	if c.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, err
		}
		c.NodeName = h
	}
	if c.NodeIP == "" {
		c.NodeIP = firstIPv4()
	}
	if net.ParseIP(c.NodeIP) == nil {
		return nil, fmt.Errorf("node-ip %q is not an IP address", c.NodeIP)
	}
	if c.Server != "" && !strings.HasPrefix(c.Server, "https://") {
		return nil, fmt.Errorf("server %q: only https:// URLs are supported", c.Server)
	}
	if role == "agent" && c.Server == "" {
		return nil, fmt.Errorf("--server is required")
	}
	if role == "agent" && c.Token == "" {
		return nil, fmt.Errorf("--token is required")
	}
	return c, nil
}

func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func firstIPv4() string {
	ifaces, _ := net.Interfaces()
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback != 0 || i.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// parseFlatYAML reads the subset of YAML k3s config files use: top-level `key: scalar`,
// `key: [a, b]` and `key:` followed by `  - item` lines. Scalars may be JSON-quoted.
func parseFlatYAML(path string) (map[string][]string, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	m := map[string][]string{}
	var order []string
	current := ""
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Text()
		t := strings.TrimSpace(raw)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if strings.HasPrefix(t, "- ") || t == "-" {
			if current == "" {
				return nil, nil, fmt.Errorf("line %d: list item without a key", line)
			}
			v, err := scalar(strings.TrimSpace(strings.TrimPrefix(t, "-")))
			if err != nil {
				return nil, nil, fmt.Errorf("line %d: %w", line, err)
			}
			m[current] = append(m[current], v)
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			return nil, nil, fmt.Errorf("line %d: nested values are not supported", line)
		}
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			return nil, nil, fmt.Errorf("line %d: expected key: value", line)
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if _, seen := m[k]; !seen {
			order = append(order, k)
		}
		current = k
		m[k] = nil
		if v == "" {
			continue
		}
		if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
			for _, p := range strings.Split(strings.Trim(v, "[]"), ",") {
				if p = strings.TrimSpace(p); p != "" {
					s, err := scalar(p)
					if err != nil {
						return nil, nil, fmt.Errorf("line %d: %w", line, err)
					}
					m[k] = append(m[k], s)
				}
			}
			continue
		}
		s, err := scalar(v)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", line, err)
		}
		m[k] = []string{s}
	}
	return m, order, sc.Err()
}

func scalar(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, `"`):
		var s string
		if err := json.Unmarshal([]byte(v), &s); err != nil {
			return "", fmt.Errorf("bad quoted string %s", v)
		}
		return s, nil
	case strings.HasPrefix(v, `'`) && strings.HasSuffix(v, `'`) && len(v) >= 2:
		return strings.ReplaceAll(v[1:len(v)-1], "''", "'"), nil
	default:
		if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		return v, nil
	}
}
