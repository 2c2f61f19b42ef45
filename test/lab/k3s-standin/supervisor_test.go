package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// The supervisor's proxy passes on the verified caller's identity and nothing a caller claims.
func TestAPIServerProxyForwardsOnlyVerifiedIdentities(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"client-ca", "server-ca"} {
		if err := newCA(dir, n); err != nil {
			t.Fatal(err)
		}
	}
	clientCA, _ := loadCA(dir, "client-ca")
	serverCA, _ := loadCA(dir, "server-ca")
	pair := func(c *ca, cn string, orgs []string, server bool) tls.Certificate {
		crt, key, err := c.issue(cn, orgs, []string{"localhost"}, nil, server, !server)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tls.X509KeyPair(crt, key)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The "apiserver": echoes the identity headers it got and the proxy certificate's name.
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			peer = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		groups := r.Header.Values("X-Remote-Group")
		sort.Strings(groups)
		_, _ = io.WriteString(w, "proxy="+peer+" user="+r.Header.Get("X-Remote-User")+" groups="+strings.Join(groups, ","))
	}))
	backend.TLS = &tls.Config{Certificates: []tls.Certificate{pair(serverCA, "kube-apiserver", nil, true)}, ClientAuth: tls.RequireAnyClientCert}
	backend.StartTLS()
	defer backend.Close()
	target, _ := url.Parse(backend.URL)
	target.Host = strings.Replace(target.Host, "127.0.0.1", "localhost", 1)

	front := httptest.NewUnstartedServer(newAPIServerProxy(target, serverCA.pool(), pair(clientCA, authProxyCN, nil, false)))
	front.TLS = &tls.Config{Certificates: []tls.Certificate{pair(serverCA, "supervisor", nil, true)},
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: clientCA.pool()}
	front.StartTLS()
	defer front.Close()

	get := func(certs []tls.Certificate) string {
		hc := httpsClient(serverCA.pool(), certs)
		req, _ := http.NewRequest(http.MethodGet, strings.Replace(front.URL, "127.0.0.1", "localhost", 1)+"/api/v1/nodes", nil)
		req.Header.Set("X-Remote-User", "system:admin")
		req.Header.Add("X-Remote-Group", "system:masters")
		res, err := hc.Do(req)
		if err != nil {
			return "refused: " + err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if got, want := get([]tls.Certificate{pair(clientCA, "alice", []string{"devs", "ops"}, false)}), "proxy="+authProxyCN+" user=alice groups=devs,ops"; got != want {
		t.Fatalf("with a client certificate: %q, want %q", got, want)
	}
	if got, want := get(nil), "proxy="+authProxyCN+" user= groups="; got != want {
		t.Fatalf("without one (claimed headers must be dropped): %q, want %q", got, want)
	}
	// A certificate from another CA is refused at the handshake, as the supervisor verifies
	// client certificates when given: its identity never reaches the apiserver.
	other := t.TempDir()
	_ = newCA(other, "client-ca")
	rogue, _ := loadCA(other, "client-ca")
	if got := get([]tls.Certificate{pair(rogue, "mallory", []string{"system:masters"}, false)}); !strings.HasPrefix(got, "refused: ") {
		t.Fatalf("an unverified certificate's identity was forwarded: %q", got)
	}
}
