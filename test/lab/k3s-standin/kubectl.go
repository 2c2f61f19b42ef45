package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// kubectlMain: the subset of `k3s kubectl` the picluster program and the lab tests use:
//
//	get nodes [NAME] [-o jsonpath=...|json|name|wide], get node NAME, get --raw=PATH,
//	drain NODE [...], cordon/uncordon NODE, delete node NODE [--ignore-not-found], version.
//
// It talks to the API with the kubeconfig (KUBECONFIG, --kubeconfig, /etc/rancher/k3s/k3s.yaml).
func kubectlMain(args []string) int {
	var (
		positional     []string
		output, raw    string
		kubeconfig     = os.Getenv("KUBECONFIG")
		ignoreNotFound bool
		serverOverride string
	)
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() string {
			if _, v, ok := strings.Cut(a, "="); ok {
				return v
			}
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch {
		case a == "-o" || a == "--output" || strings.HasPrefix(a, "--output=") || strings.HasPrefix(a, "-o="):
			output = val()
		case strings.HasPrefix(a, "-o") && len(a) > 2:
			output = a[2:]
		case a == "--raw" || strings.HasPrefix(a, "--raw="):
			raw = val()
		case a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig="):
			kubeconfig = val()
		case a == "--server" || a == "-s" || strings.HasPrefix(a, "--server="):
			serverOverride = val()
		case a == "--ignore-not-found" || a == "--ignore-not-found=true":
			ignoreNotFound = true
		case a == "--timeout" || a == "--request-timeout" || a == "--grace-period" || a == "--selector" || a == "-l":
			i++ // accepted, not needed by the stand-in
		case strings.HasPrefix(a, "-"):
			// --ignore-daemonsets, --delete-emptydir-data, --force, --timeout=..., ...: accepted.
		default:
			positional = append(positional, a)
		}
	}
	if kubeconfig == "" {
		kubeconfig = "/etc/rancher/k3s/k3s.yaml"
	}
	if len(positional) == 0 {
		fmt.Fprintln(os.Stderr, "kubectl (k3s stand-in): get, drain, cordon, uncordon, delete node, version")
		return 1
	}
	c, err := newKubeClient(kubeconfig, serverOverride)
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	verb, rest := positional[0], positional[1:]
	switch {
	case verb == "get" && raw != "":
		body, err := c.do(http.MethodGet, raw, nil)
		if err != nil {
			return c.fail(err)
		}
		os.Stdout.Write(body)
		if len(body) > 0 && body[len(body)-1] != '\n' {
			fmt.Println()
		}
		return 0
	case verb == "get" && len(rest) >= 1 && isNodes(rest[0]):
		path := "/api/v1/nodes"
		if len(rest) >= 2 {
			path += "/" + rest[1]
		}
		body, err := c.do(http.MethodGet, path, nil)
		if err != nil {
			if len(rest) >= 2 && ignoreNotFound && isNotFound(err) {
				return 0
			}
			return c.fail(err)
		}
		return printNodes(body, output, len(rest) >= 2)
	case (verb == "drain" || verb == "cordon" || verb == "uncordon") && len(rest) == 1:
		name := rest[0]
		if _, err := c.do(http.MethodGet, "/api/v1/nodes/"+name, nil); err != nil {
			return c.fail(err)
		}
		patch := `{"spec":{"unschedulable":true}}`
		if verb == "uncordon" {
			patch = `{"spec":{"unschedulable":false}}`
		}
		if _, err := c.do(http.MethodPatch, "/api/v1/nodes/"+name, []byte(patch)); err != nil {
			return c.fail(err)
		}
		switch verb {
		case "drain":
			fmt.Printf("node/%s cordoned\nnode/%s drained\n", name, name) // the stand-in runs no pods to evict
		case "cordon":
			fmt.Printf("node/%s cordoned\n", name)
		default:
			fmt.Printf("node/%s uncordoned\n", name)
		}
		return 0
	case verb == "delete" && len(rest) == 2 && isNodes(rest[0]):
		name := rest[1]
		if _, err := c.do(http.MethodDelete, "/api/v1/nodes/"+name, nil); err != nil {
			if ignoreNotFound && isNotFound(err) {
				return 0
			}
			return c.fail(err)
		}
		fmt.Printf("node %q deleted\n", name)
		return 0
	case verb == "version":
		fmt.Printf("Client Version: %s\n", version)
		body, err := c.do(http.MethodGet, "/version", nil)
		if err != nil {
			return c.fail(err)
		}
		var v map[string]string
		_ = json.Unmarshal(body, &v)
		fmt.Printf("Server Version: %s\n", v["gitVersion"])
		return 0
	}
	fmt.Fprintf(os.Stderr, "error: kubectl %s is not part of the k3s stand-in\n", strings.Join(positional, " "))
	return 1
}

func isNodes(s string) bool { return s == "nodes" || s == "node" || s == "no" }

type kubeClient struct {
	server string
	hc     *http.Client
}

type apiError struct {
	code   int
	reason string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.code == http.StatusNotFound
}

func newKubeClient(path, serverOverride string) (*kubeClient, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		k = strings.TrimPrefix(strings.TrimSpace(k), "- ")
		if _, seen := vals[k]; !seen {
			vals[k] = strings.TrimSpace(v)
		}
	}
	dec := func(k string) []byte {
		b, _ := base64.StdEncoding.DecodeString(vals[k])
		return b
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(dec("certificate-authority-data")) {
		return nil, fmt.Errorf("%s: no certificate-authority-data", path)
	}
	var certs []tls.Certificate
	if vals["client-certificate-data"] != "" {
		pair, err := tls.X509KeyPair(dec("client-certificate-data"), dec("client-key-data"))
		if err != nil {
			return nil, fmt.Errorf("%s: client certificate: %w", path, err)
		}
		certs = append(certs, pair)
	}
	server := vals["server"]
	if serverOverride != "" {
		server = serverOverride
	}
	if server == "" {
		return nil, fmt.Errorf("%s: no server", path)
	}
	return &kubeClient{server: strings.TrimSuffix(server, "/"), hc: httpsClient(pool, certs)}, nil
}

func (c *kubeClient) do(method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, c.server+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/merge-patch+json")
	}
	c.hc.Timeout = 30 * time.Second
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return data, nil
	}
	var st struct{ Message, Reason string }
	if json.Unmarshal(data, &st) != nil || st.Message == "" {
		st.Message = strings.TrimSpace(string(data))
		st.Reason = http.StatusText(res.StatusCode)
		if res.StatusCode == 500 {
			st.Reason = "InternalError"
			st.Message = fmt.Sprintf("an error on the server (%q) has prevented the request from succeeding", st.Message)
		}
	}
	return nil, &apiError{code: res.StatusCode, reason: st.Reason, msg: st.Message}
}

func (c *kubeClient) fail(err error) int {
	var ae *apiError
	var op *net.OpError
	switch {
	case errors.As(err, &ae):
		fmt.Fprintf(os.Stderr, "Error from server (%s): %s\n", ae.reason, ae.msg)
	case errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &op) && op.Op == "dial":
		host := strings.TrimPrefix(c.server, "https://")
		fmt.Fprintf(os.Stderr, "The connection to the server %s was refused - did you specify the right host or port?\n", host)
	default:
		fmt.Fprintf(os.Stderr, "Unable to connect to the server: %v\n", err)
	}
	return 1
}

func printNodes(body []byte, output string, single bool) int {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	var items []any
	if single {
		items = []any{doc}
	} else if m, ok := doc.(map[string]any); ok {
		items, _ = m["items"].([]any)
	}
	switch {
	case output == "json":
		b, _ := json.MarshalIndent(doc, "", "    ")
		fmt.Println(string(b))
	case output == "name":
		for _, it := range items {
			fmt.Printf("node/%s\n", str(it, "metadata", "name"))
		}
	case strings.HasPrefix(output, "jsonpath="):
		out, err := jsonpath(strings.TrimPrefix(output, "jsonpath="), doc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: error parsing jsonpath: %v\n", err)
			return 1
		}
		fmt.Print(out)
	case output == "" || output == "wide":
		if len(items) == 0 {
			fmt.Fprintln(os.Stderr, "No resources found")
			return 0
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
		head := "NAME\tSTATUS\tROLES\tAGE\tVERSION"
		if output == "wide" {
			head += "\tINTERNAL-IP"
		}
		fmt.Fprintln(tw, head)
		for _, it := range items {
			st := "NotReady"
			if conds, ok := get(it, "status", "conditions").([]any); ok {
				for _, c := range conds {
					if str(c, "type") == "Ready" && str(c, "status") == "True" {
						st = "Ready"
					}
				}
			}
			if b, _ := get(it, "spec", "unschedulable").(bool); b {
				st += ",SchedulingDisabled"
			}
			var roles []string
			if labels, ok := get(it, "metadata", "labels").(map[string]any); ok {
				for k := range labels {
					if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok {
						roles = append(roles, r)
					}
				}
			}
			sort.Strings(roles)
			role := strings.Join(roles, ",")
			if role == "" {
				role = "<none>"
			}
			age := "?"
			if t, err := time.Parse(time.RFC3339, str(it, "metadata", "creationTimestamp")); err == nil {
				age = time.Since(t).Round(time.Second).String()
			}
			line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", str(it, "metadata", "name"), st, role, age, str(it, "status", "nodeInfo", "kubeletVersion"))
			if output == "wide" {
				line += "\t" + get(it, "metadata", "annotations").(map[string]any)["k3s.io/internal-ip"].(string)
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
	default:
		fmt.Fprintf(os.Stderr, "error: output format %q is not supported by the stand-in\n", output)
		return 1
	}
	return 0
}

func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := get(v, path...).(string)
	return s
}

// ---- a small JSONPath (kubectl's template flavour) -------------------------------------
// Supports text, {"literal"}, {.a.b}, {.items[*].x}, {.list[0]}, {range X}...{end}.

type jpNode struct {
	text    string
	expr    string
	isRange bool
	body    []jpNode
}

func jsonpath(tmpl string, data any) (string, error) {
	nodes, rest, err := jpParse(tmpl, false)
	if err != nil {
		return "", err
	}
	if rest != "" {
		return "", errors.New("unexpected {end}")
	}
	var b strings.Builder
	if err := jpRun(&b, nodes, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

func jpParse(s string, inRange bool) ([]jpNode, string, error) {
	var out []jpNode
	for len(s) > 0 {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			out = append(out, jpNode{text: s})
			return out, "", nil
		}
		if i > 0 {
			out = append(out, jpNode{text: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, "", errors.New("unclosed {")
		}
		inner := strings.TrimSpace(s[i+1 : i+j])
		s = s[i+j+1:]
		switch {
		case inner == "end":
			if !inRange {
				return nil, "", errors.New("{end} without {range}")
			}
			return out, "end", nil
		case strings.HasPrefix(inner, "range "):
			body, rest, err := jpParse(s, true)
			if err != nil {
				return nil, "", err
			}
			if rest != "end" {
				return nil, "", errors.New("{range} without {end}")
			}
			out = append(out, jpNode{expr: strings.TrimSpace(strings.TrimPrefix(inner, "range ")), isRange: true, body: body})
			// jpParse returned after consuming {end}: find where it stopped.
			s = afterEnd(s)
		case strings.HasPrefix(inner, `"`):
			lit, err := strconv.Unquote(inner)
			if err != nil {
				return nil, "", fmt.Errorf("bad literal %s", inner)
			}
			out = append(out, jpNode{text: lit})
		default:
			out = append(out, jpNode{expr: inner})
		}
	}
	if inRange {
		return out, "", errors.New("{range} without {end}")
	}
	return out, "", nil
}

// afterEnd returns s after the {end} matching a {range} whose body starts at s.
func afterEnd(s string) string {
	depth := 0
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return ""
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return ""
		}
		inner := strings.TrimSpace(s[i+1 : i+j])
		s = s[i+j+1:]
		if strings.HasPrefix(inner, "range ") {
			depth++
		} else if inner == "end" {
			if depth == 0 {
				return s
			}
			depth--
		}
	}
}

func jpRun(b *strings.Builder, nodes []jpNode, data any) error {
	for _, n := range nodes {
		switch {
		case n.isRange:
			vals, err := jpEval(n.expr, data)
			if err != nil {
				return err
			}
			for _, v := range vals {
				if err := jpRun(b, n.body, v); err != nil {
					return err
				}
			}
		case n.expr != "":
			vals, err := jpEval(n.expr, data)
			if err != nil {
				return err
			}
			for i, v := range vals {
				if i > 0 {
					b.WriteString(" ")
				}
				switch t := v.(type) {
				case string:
					b.WriteString(t)
				case nil:
				default:
					j, _ := json.Marshal(t)
					b.Write(j)
				}
			}
		default:
			b.WriteString(n.text)
		}
	}
	return nil
}

func jpEval(expr string, data any) ([]any, error) {
	expr = strings.TrimPrefix(expr, "$")
	cur := []any{data}
	for len(expr) > 0 {
		var seg string
		switch expr[0] {
		case '.':
			expr = expr[1:]
			k := 0
			for k < len(expr) && expr[k] != '.' && expr[k] != '[' {
				if expr[k] == '\\' && k+1 < len(expr) {
					k++
				}
				k++
			}
			seg, expr = strings.ReplaceAll(expr[:k], `\.`, "."), expr[k:]
			var next []any
			for _, c := range cur {
				if m, ok := c.(map[string]any); ok {
					if v, ok := m[seg]; ok {
						next = append(next, v)
					}
				}
			}
			cur = next
		case '[':
			k := strings.IndexByte(expr, ']')
			if k < 0 {
				return nil, errors.New("unclosed [")
			}
			idx := expr[1:k]
			expr = expr[k+1:]
			var next []any
			for _, c := range cur {
				arr, ok := c.([]any)
				if !ok {
					continue
				}
				if idx == "*" {
					next = append(next, arr...)
				} else if n, err := strconv.Atoi(idx); err == nil {
					if n < 0 {
						n += len(arr)
					}
					if n >= 0 && n < len(arr) {
						next = append(next, arr[n])
					}
				} else {
					return nil, fmt.Errorf("unsupported index [%s]", idx)
				}
			}
			cur = next
		default:
			return nil, fmt.Errorf("unsupported expression %q", expr)
		}
	}
	return cur, nil
}
