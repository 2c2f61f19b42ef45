package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The supervisor on 6443, as k3s's (pkg/server/router.go router): k3s's own paths first
// (/cacerts and /ping for anyone; /v1-k3s/server-bootstrap and /db/info with the server token;
// /v1-k3s/client-kubelet.crt with the agent or server token and the node password), and every
// other request handed to the real kube-apiserver. k3s hands them to the apiserver's handler in
// the same process, so the apiserver authenticates the caller's own TLS client certificate or
// bearer token. The stand-in's apiserver is another process, so the supervisor forwards the
// verified client certificate's identity the way an authenticating proxy does (the apiserver's
// --requestheader-* flags, which k3s sets too): X-Remote-User/X-Remote-Group over a connection
// made with the auth proxy's certificate. A bearer token is passed on untouched for the
// apiserver to check. Anything without credentials gets the apiserver's own 401.

func (s *server) routes() (http.Handler, error) {
	proxy, err := s.apiserverProxy()
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/cacerts", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(s.serverCA.certPEM)
	})
	mux.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "pong") })
	mux.HandleFunc("/v1-k3s/server-bootstrap", s.tokenAuth(false, s.bootstrap))
	mux.HandleFunc("/db/info", s.tokenAuth(false, s.dbInfo))
	mux.HandleFunc("/v1-k3s/client-kubelet.crt", s.tokenAuth(true, s.clientKubeletCert))
	mux.Handle("/", proxy)
	return mux, nil
}

func (s *server) apiserverProxy() (http.Handler, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(tlsDir(), "client-auth-proxy.crt"), filepath.Join(tlsDir(), "client-auth-proxy.key"))
	if err != nil {
		return nil, err
	}
	target, _ := url.Parse(fmt.Sprintf("https://127.0.0.1:%d", apiserverPort))
	return newAPIServerProxy(target, s.serverCA.pool(), pair), nil
}

// newAPIServerProxy forwards to target, presenting proxyCert, with the identity of the caller's
// verified client certificate in X-Remote-User/X-Remote-Group; X-Remote-* headers the caller sent
// are dropped, so no one can claim an identity through the supervisor.
func newAPIServerProxy(target *url.URL, rootCAs *x509.CertPool, proxyCert tls.Certificate) http.Handler {
	// HTTP/1.1 to the apiserver, a connection per request in flight: over one shared HTTP/2
	// connection, the apiserver's graceful GOAWAYs failed requests whose body was already sent
	// ("cannot retry ... after Request.Body was written"), seen as 502s by kwok's pod and lease
	// writes in the lab. A non-nil empty TLSNextProto turns HTTP/2 off (net/http docs).
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: rootCAs, Certificates: []tls.Certificate{proxyCert}, MinVersion: tls.VersionTLS12},
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConnsPerHost: 64,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			for k := range pr.Out.Header {
				if strings.HasPrefix(strings.ToLower(k), "x-remote-") {
					pr.Out.Header.Del(k)
				}
			}
			if c := verifiedClient(pr.In); c != nil {
				pr.Out.Header.Set("X-Remote-User", c.Subject.CommonName)
				for _, g := range c.Subject.Organization {
					pr.Out.Header.Add("X-Remote-Group", g)
				}
			}
		},
		Transport:     tr,
		FlushInterval: -1, // watches and logs stream through as they come
		ErrorLog:      log.New(os.Stderr, "supervisor proxy: ", log.LstdFlags),
	}
}

// verifiedClient is the caller's client certificate when it chains to the client CA.
func verifiedClient(r *http.Request) *x509.Certificate {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return nil
	}
	return r.TLS.VerifiedChains[0][0]
}

// clientKubeletCert follows k3s's clientKubeletCert (router.go): the node name and password come
// in the K3s-Node-Name and K3s-Node-Password headers; the password must match the node's
// password Secret (created on first use); the answer is a system:node:<name> client certificate
// in system:nodes (and, for kwok, kwokGroup: bundled.go), then its key.
func (s *server) clientKubeletCert(w http.ResponseWriter, r *http.Request, _ string) {
	name := strings.ToLower(r.Header.Get("K3s-Node-Name"))
	password := r.Header.Get("K3s-Node-Password")
	if name == "" || password == "" {
		http.Error(w, "node name and node password are required", http.StatusBadRequest)
		return
	}
	if err := s.ensureNodePassword(r.Context(), name, password); err != nil {
		code := http.StatusInternalServerError
		if err == errPasswordRejected {
			code = http.StatusForbidden
		}
		log.Printf("kubelet certificate for %s refused: %v", name, err)
		http.Error(w, err.Error(), code)
		return
	}
	crt, key, err := s.clientCA.issue("system:node:"+name, []string{"system:nodes", kwokGroup}, nil, nil, false, true)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	from, _, _ := net.SplitHostPort(r.RemoteAddr)
	log.Printf("kubelet client certificate for %s issued to %s", name, from)
	// The stand-in tells the agent where the request came from, so that the lab can check that
	// agents reach the servers through the load balancer (test/lab/e2e.test.ts).
	w.Header().Set("X-Standin-Seen-From", from)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(append(append(crt, s.clientCA.certPEM...), key...))
}
