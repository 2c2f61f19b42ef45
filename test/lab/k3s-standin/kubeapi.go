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
	"net/http"
	"os"
	"strings"
	"time"
)

// kubeClient is the stand-in's own small client of the real Kubernetes API (the JSON REST API
// kubectl speaks): what k3s's supervisor does with client-go, without pulling client-go into
// this module.
type kubeClient struct {
	server string
	hc     *http.Client
}

type apiError struct {
	code   int
	reason string
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (%d %s)", e.msg, e.code, e.reason) }

func apiCode(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.code
	}
	return 0
}

func isNotFound(err error) bool { return apiCode(err) == http.StatusNotFound }
func isConflict(err error) bool { return apiCode(err) == http.StatusConflict }

func newKubeClientFor(server string, caPEM, certPEM, keyPEM []byte) (*kubeClient, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate")
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	hc := httpsClient(pool, []tls.Certificate{pair})
	hc.Timeout = 30 * time.Second
	return &kubeClient{server: strings.TrimSuffix(server, "/"), hc: hc}, nil
}

// kubeClientFromFile reads the kubeconfig layout writeKubeconfig writes (one cluster, one user,
// data fields inline).
func kubeClientFromFile(path string) (*kubeClient, error) {
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
	if vals["server"] == "" {
		return nil, fmt.Errorf("%s: no server", path)
	}
	return newKubeClientFor(vals["server"], dec("certificate-authority-data"), dec("client-certificate-data"), dec("client-key-data"))
}

// do sends one request; a JSON body is sent as is (PATCH bodies as a merge patch) and a 2xx
// response body is decoded into out when out is not nil.
func (c *kubeClient) do(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.server+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		if method == http.MethodPatch {
			req.Header.Set("Content-Type", "application/merge-patch+json")
		}
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 32<<20))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		if out != nil {
			return json.Unmarshal(data, out)
		}
		return nil
	}
	var st struct{ Message, Reason string }
	if json.Unmarshal(data, &st) != nil || st.Message == "" {
		st.Message = strings.TrimSpace(string(data))
		st.Reason = http.StatusText(res.StatusCode)
	}
	return &apiError{code: res.StatusCode, reason: st.Reason, msg: st.Message}
}

// objectMeta is the part of metadata the stand-in reads and writes.
type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	UID         string            `json:"uid,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}
