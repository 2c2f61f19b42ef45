package main

import (
	"context"
	"crypto/subtle"
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
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const apiPort = 6443

type server struct {
	cfg        *Config
	secret     string
	agentPass  string
	serverCA   *ca
	clientCA   *ca
	etcd       *etcdClient
	etcdProc   *exec.Cmd // the etcd child, stopped gracefully on SIGTERM (stopEtcd)
	memberName string
	local      *kubeClient // the local apiserver, as the supervisor (system:masters)
}

func serverMain(args []string) int {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.Printf("Starting k3s %s STAND-IN server (test/lab/k3s-standin)", version)
	cfg, err := loadConfig("server", args)
	if err != nil {
		log.Printf("level=fatal msg=%q", err.Error())
		return 1
	}
	if err := refusedByLab(cfg.NodeName); err != nil {
		log.Printf("level=fatal msg=%q", err.Error())
		return 1
	}
	run := runServer
	if cfg.ClusterReset {
		run = clusterReset
	}
	if err := run(cfg); err != nil {
		log.Printf("level=fatal msg=%q", err.Error())
		return 1
	}
	return 0
}

func serverDir() string { return filepath.Join(dataDir, "server") }

func runServer(cfg *Config) error {
	s := &server{cfg: cfg}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(tlsDir(), 0o700); err != nil {
		return err
	}
	etcdWatch := newRemovalWatch(&prefixWriter{prefix: "etcd: ", w: os.Stderr})
	etcdLog := io.Writer(etcdWatch)
	var (
		exited <-chan error
		err    error
	)
	if _, err := takeTombstone(); err != nil {
		return err
	}
	hasData := dirHas(filepath.Join(etcdDir(), "member"))
	switch {
	case hasData:
		log.Printf("Found existing datastore; starting etcd member from %s", etcdDir())
		tok, err := readTokenFile()
		if err != nil {
			return err
		}
		s.secret = tok.password
		name, err := os.ReadFile(etcdNameFile())
		if err != nil {
			return fmt.Errorf("reading etcd member name: %w", err)
		}
		s.memberName = strings.TrimSpace(string(name))
		if err := etcdCerts(cfg.NodeIP); err != nil {
			return err
		}
		s.etcdProc, exited, err = runEtcd(s.memberName, cfg.NodeIP, "", "", etcdLog)
		if err != nil {
			return err
		}
	case cfg.Server != "":
		if exited, err = s.join(etcdLog); err != nil {
			return err
		}
	default:
		if !cfg.ClusterInit {
			// k3s would use SQLite here: a cluster of one that no other server can join.
			log.Printf("stand-in: no --cluster-init and no --server: a single-member datastore (k3s would use SQLite)")
		}
		if exited, err = s.initCluster(etcdLog); err != nil {
			return err
		}
	}
	if s.serverCA, err = loadCA(tlsDir(), "server-ca"); err != nil {
		return err
	}
	if s.clientCA, err = loadCA(tlsDir(), "client-ca"); err != nil {
		return err
	}
	if s.etcd, err = newEtcdClient([]string{"https://127.0.0.1:2379"}); err != nil {
		return err
	}
	if err := waitEtcd(s.etcd, exited, 180*time.Second); err != nil {
		return err
	}
	log.Printf("etcd member %s is ready (quorum read ok)", s.memberName)
	stopSnapshots, err := startSnapshotSchedule(cfg)
	if err != nil {
		return err
	}
	defer stopSnapshots()
	if cfg.AgentToken != "" {
		t, err := parseToken(cfg.AgentToken)
		if err != nil {
			return fmt.Errorf("agent-token: %w", err)
		}
		s.agentPass = t.password
	}
	tlsCfg, err := s.servingTLS()
	if err != nil {
		return err
	}
	if err := s.writeKubeconfig(); err != nil {
		return err
	}
	password, err := nodePassword()
	if err != nil {
		return err
	}
	components := make(chan error, 8)
	if err := s.startControlPlane(components); err != nil {
		return err
	}
	if err := s.deployBundled(); err != nil {
		return err
	}
	go s.runBundledControllers()
	handler, err := s.routes()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", apiPort))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, TLSConfig: tlsCfg, ErrorLog: log.New(io.Discard, "", 0),
		ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			components <- fmt.Errorf("supervisor listener: %v", err)
		}
	}()
	log.Printf("Supervisor listening on :%d (k3s endpoints; the rest to kube-apiserver on 127.0.0.1:%d)", apiPort, apiserverPort)
	l := &leader{s: s, id: cfg.NodeName}
	go l.run()
	go s.runLeaderControllers(l)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	stop := make(chan struct{})
	kubelet := make(chan error, 1)
	go func() {
		// The server's own node, through its own supervisor, with the server token (k3s runs an
		// agent inside every server).
		k := kubeletSetup{serverURL: fmt.Sprintf("https://127.0.0.1:%d", apiPort), caPEM: s.serverCA.certPEM,
			tokenUser: "server", tokenPassword: s.secret, cfg: cfg, nodePassword: password}
		if err := k.startKubelet(components, stop); err != nil {
			kubelet <- err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		kubelet <- s.labelServerNode(ctx)
	}()
	for {
		select {
		case err := <-kubelet:
			if err != nil {
				return err
			}
			log.Printf("k3s server (stand-in) is up: node %s registered", cfg.NodeName)
			notifyReady()
		case <-etcdWatch.removed:
			if err := writeTombstone(); err != nil {
				return err
			}
			close(stop)
			return errors.New("This node has been removed from the cluster - please restart k3s to rejoin the cluster")
		case e := <-exited:
			select {
			case <-etcdWatch.removed: // etcd said why it stopped: handled above on the next pass
				if err := writeTombstone(); err != nil {
					return err
				}
				return errors.New("This node has been removed from the cluster - please restart k3s to rejoin the cluster")
			default:
			}
			return fmt.Errorf("etcd exited: %v", e)
		case e := <-components:
			return e
		case got := <-sig:
			log.Printf("received %s, shutting down", got)
			close(stop)
			s.stopEtcd(exited, etcdStopLimit)
			return nil // the rest of the control plane dies with us (Pdeathsig)
		}
	}
}

// etcdStopLimit bounds a graceful etcd stop; systemd's stop timeout (90 s) is the outer bound.
const etcdStopLimit = 30 * time.Second

// stopEtcd stops etcd the way k3s stops its embedded etcd on SIGTERM (k3s
// pkg/daemons/executor/etcd.go, Embedded.ETCD: on ctx.Done it calls etcd.Server.Stop(), and the
// server's WaitGroup keeps k3s running until etcd has stopped). EtcdServer.Stop hands the
// leadership to a peer before it stops (go.etcd.io/etcd server/etcdserver/server.go, Stop ->
// TransferLeadership), so a restarted leader costs no election. Debian's etcd binary does the
// same on SIGTERM: etcdmain registers embed.Etcd.Close, which calls Server.Stop, as its interrupt
// handler. Killing it instead (the Pdeathsig SIGKILL when we exit) made every restart of the
// leader wait out the election timeout (5 s), stalling the API behind the VIP meanwhile.
func (s *server) stopEtcd(exited <-chan error, limit time.Duration) {
	if s.etcdProc == nil || s.etcdProc.Process == nil {
		return
	}
	t := time.Now()
	if err := s.etcdProc.Process.Signal(syscall.SIGTERM); err != nil {
		return // already gone
	}
	select {
	case <-exited:
		log.Printf("etcd stopped in %s", time.Since(t).Round(time.Millisecond))
	case <-time.After(limit):
		log.Printf("etcd did not stop within %s; it is killed with us", limit)
	}
}

func dirHas(p string) bool {
	entries, err := os.ReadDir(p)
	return err == nil && len(entries) > 0
}

func readTokenFile() (token, error) {
	b, err := os.ReadFile(filepath.Join(serverDir(), "token"))
	if err != nil {
		return token{}, err
	}
	return parseToken(string(b))
}

// writeToken stores the secure token (and node-token, a link to it, as k3s does).
func writeToken(hash, password string) error {
	t := token{password: password}
	if err := writeFileAtomic(filepath.Join(serverDir(), "token"), []byte(t.secure(hash)+"\n"), 0o600); err != nil {
		return err
	}
	link := filepath.Join(serverDir(), "node-token")
	_ = os.Remove(link)
	return os.Symlink(filepath.Join(serverDir(), "token"), link)
}

func (s *server) initCluster(etcdLog io.Writer) (<-chan error, error) {
	s.secret = randomHex(16)
	if s.cfg.Token != "" {
		t, err := parseToken(s.cfg.Token)
		if err != nil {
			return nil, err
		}
		s.secret = t.password
	}
	for _, n := range caNames {
		if err := newCA(tlsDir(), n); err != nil {
			return nil, err
		}
	}
	if err := newServiceKey(); err != nil {
		return nil, err
	}
	bundle, err := os.ReadFile(filepath.Join(tlsDir(), "server-ca.crt"))
	if err != nil {
		return nil, err
	}
	if err := writeToken(caHash(bundle), s.secret); err != nil {
		return nil, err
	}
	if err := etcdCerts(s.cfg.NodeIP); err != nil {
		return nil, err
	}
	s.memberName = s.cfg.NodeName + "-" + randomHex(4)
	if err := writeFileAtomic(etcdNameFile(), []byte(s.memberName+"\n"), 0o600); err != nil {
		return nil, err
	}
	log.Printf("Managed etcd cluster initializing (member %s)", s.memberName)
	var exited <-chan error
	s.etcdProc, exited, err = runEtcd(s.memberName, s.cfg.NodeIP,
		s.memberName+"=https://"+s.cfg.NodeIP+":2380", "new", etcdLog)
	return exited, err
}

// join does what a k3s server started with --server does: validate the token against the
// cluster CA, fetch the bootstrap data (CAs) with the token, add itself as an etcd member
// through the existing members, and start etcd with state "existing".
func (s *server) join(etcdLog io.Writer) (<-chan error, error) {
	if s.cfg.Token == "" {
		return nil, errors.New("--token is required when joining a cluster with --server")
	}
	tok, err := parseToken(s.cfg.Token)
	if err != nil {
		return nil, err
	}
	bundle, err := fetchCACerts(s.cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("failed to validate token: %w", err)
	}
	hash := caHash(bundle)
	if tok.hash != "" && tok.hash != hash {
		return nil, fmt.Errorf("failed to validate token: token CA hash does not match the Cluster CA certificate hash: %s != %s", tok.hash, hash)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(bundle)
	hc := httpsClient(pool, nil)
	var files map[string]string
	if err := getJSON(hc, s.cfg.Server+"/v1-k3s/server-bootstrap", "server", tok.password, &files); err != nil {
		return nil, fmt.Errorf("failed to get CA certs and bootstrap data: %w", err)
	}
	for name, content := range files {
		if strings.ContainsAny(name, "/\\") {
			return nil, fmt.Errorf("bootstrap: bad file name %q", name)
		}
		data, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			return nil, err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".key") {
			mode = 0o600
		}
		if err := writeFileAtomic(filepath.Join(tlsDir(), name), data, mode); err != nil {
			return nil, err
		}
	}
	s.secret = tok.password
	if err := writeToken(hash, tok.password); err != nil {
		return nil, err
	}
	if err := etcdCerts(s.cfg.NodeIP); err != nil {
		return nil, err
	}
	var info struct {
		Members []member `json:"members"`
	}
	if err := getJSON(hc, s.cfg.Server+"/db/info", "server", tok.password, &info); err != nil {
		return nil, fmt.Errorf("failed to get etcd member list: %w", err)
	}
	var endpoints []string
	for _, m := range info.Members {
		endpoints = append(endpoints, m.ClientURLs...)
	}
	ec, err := newEtcdClient(endpoints)
	if err != nil {
		return nil, err
	}
	peerURL := "https://" + s.cfg.NodeIP + ":2380"
	s.memberName = s.cfg.NodeName + "-" + randomHex(4)
	// k3s pkg/etcd/etcd.go join: a member named after this node under another suffix is an earlier
	// life of it that was never removed; k3s refuses to join then (it does not remove it). An
	// unnamed member with this node's peer URL is this node's own learner from a start that was cut
	// off before etcd ran: k3s takes it as itself instead of adding another.
	var (
		self    member
		members []member
		reuse   bool
	)
	for _, m := range info.Members {
		if m.Name != "" && memberBaseName(m.Name) == s.cfg.NodeName {
			return nil, fmt.Errorf("duplicate node name found, please use a unique name for this node (etcd member %s is still in the cluster)", m.Name)
		}
		if m.Name == "" && len(m.PeerURLs) == 1 && m.PeerURLs[0] == peerURL {
			self, members, reuse = m, info.Members, true
			log.Printf("etcd already lists this node's learner %s (%s): starting as it", m.ID, peerURL)
		}
	}
	// etcd refuses new members until every voting member has been connected for 5 s
	// ("unhealthy cluster"), e.g. right after the previous server joined: retry (bounded).
	for addDeadline := time.Now().Add(90 * time.Second); !reuse; {
		actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
		self, members, err = ec.addLearner(actx, peerURL)
		acancel()
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "unhealthy cluster") || time.Now().After(addDeadline) {
			return nil, fmt.Errorf("adding this server as an etcd learner: %w", err)
		}
		log.Printf("etcd cluster not ready for a new member (%v); retrying", err)
		time.Sleep(time.Second)
	}
	var parts []string
	for _, m := range members {
		name := m.Name
		if name == "" {
			if len(m.PeerURLs) == 1 && m.PeerURLs[0] == peerURL {
				name = s.memberName
			} else {
				return nil, fmt.Errorf("etcd has another member that has not started yet (%v): join one server at a time", m.PeerURLs)
			}
		}
		for _, u := range m.PeerURLs {
			parts = append(parts, name+"="+u)
		}
	}
	if err := writeFileAtomic(etcdNameFile(), []byte(s.memberName+"\n"), 0o600); err != nil {
		return nil, err
	}
	log.Printf("Adding learner %s=%s to etcd cluster [%s]", s.memberName, peerURL, strings.Join(parts, ","))
	var exited <-chan error
	s.etcdProc, exited, err = runEtcd(s.memberName, s.cfg.NodeIP, strings.Join(parts, ","), "existing", etcdLog)
	if err != nil {
		return nil, err
	}
	// Promote this learner to a voting member once it has caught up (bounded).
	deadline := time.Now().Add(180 * time.Second)
	for {
		pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := ec.promote(pctx, self.ID)
		pcancel()
		if err == nil {
			log.Printf("etcd learner %s promoted to a voting member", s.memberName)
			return exited, nil
		}
		select {
		case e := <-exited:
			return nil, fmt.Errorf("etcd exited while waiting to be promoted: %v", e)
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("etcd learner %s was not promoted: %w", s.memberName, err)
		}
		time.Sleep(time.Second)
	}
}

func (s *server) servingTLS() (*tls.Config, error) {
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP(s.cfg.NodeIP)}
	if ip := firstServiceIP(s.cfg.ServiceCIDR); ip != nil {
		ips = append(ips, ip)
	}
	dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local", s.cfg.NodeName}
	for _, san := range s.cfg.TLSSANs {
		if ip := net.ParseIP(san); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, san)
		}
	}
	crt, key, err := s.serverCA.issue("kube-apiserver", nil, dns, ips, true, false)
	if err != nil {
		return nil, err
	}
	_ = writeFileAtomic(filepath.Join(tlsDir(), "serving-kube-apiserver.crt"), crt, 0o644)
	_ = writeFileAtomic(filepath.Join(tlsDir(), "serving-kube-apiserver.key"), key, 0o600)
	pair, err := keyPairFromPEM(crt, key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs: s.clientCA.pool(), MinVersion: tls.VersionTLS12}, nil
}

func firstServiceIP(cidr string) net.IP {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil || n.IP.To4() == nil {
		return nil
	}
	ip := n.IP.To4()
	return net.IPv4(ip[0], ip[1], ip[2], ip[3]+1)
}

// writeKubeconfig writes the admin kubeconfig users read (/etc/rancher/k3s/k3s.yaml, its mode
// from write-kubeconfig-mode), for the supervisor on 6443.
func (s *server) writeKubeconfig() error {
	crt, key, err := s.clientCA.issue("system:admin", []string{"system:masters"}, nil, nil, false, true)
	if err != nil {
		return err
	}
	mode := os.FileMode(0o600)
	var m uint32
	if _, err := fmt.Sscanf(s.cfg.KubeconfigMode, "%o", &m); err == nil && m <= 0o777 {
		mode = os.FileMode(m)
	}
	return writeKubeconfigFile(s.cfg.KubeconfigPath, fmt.Sprintf("https://127.0.0.1:%d", apiPort), s.serverCA.certPEM, crt, key, mode)
}

// nodePassword is /etc/rancher/node/password, created on first start as k3s does.
func nodePassword() (string, error) {
	p := filepath.Join(nodePassDir, "password")
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	pw := randomHex(16)
	if err := os.MkdirAll(nodePassDir, 0o700); err != nil {
		return "", err
	}
	return pw, writeFileAtomic(p, []byte(pw+"\n"), 0o600)
}

// notifyReady tells systemd the service is up, as k3s does (go-systemd's daemon.SdNotify with
// "READY=1" to the unix datagram socket in $NOTIFY_SOCKET; sd_notify(3)): `systemctl start` of
// its Type=notify unit returns only then.
func notifyReady() {
	p := os.Getenv("NOTIFY_SOCKET")
	if p == "" {
		return
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		log.Printf("sd_notify: %v", err)
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("READY=1")); err != nil {
		log.Printf("sd_notify: %v", err)
	}
}

// ---- HTTP helpers ---------------------------------------------------------------------

func (s *server) tokenAuth(allowNode bool, h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		good := ok && (user == "server" || allowNode && user == "node") &&
			(subtle.ConstantTimeCompare([]byte(pass), []byte(s.secret)) == 1 ||
				allowNode && user == "node" && s.agentPass != "" && subtle.ConstantTimeCompare([]byte(pass), []byte(s.agentPass)) == 1)
		if !good {
			log.Printf("refused %s %s from %s: token is not valid", r.Method, r.URL.Path, r.RemoteAddr)
			unauthorized(w)
			return
		}
		h(w, r, user)
	}
}

func unauthorized(w http.ResponseWriter) {
	status(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
}

func status(w http.ResponseWriter, code int, reason, msg string) {
	writeJSON(w, code, map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.MarshalIndent(v, "", "  ")
	_, _ = w.Write(append(b, '\n'))
}

func (s *server) bootstrap(w http.ResponseWriter, r *http.Request, _ string) {
	files := map[string]string{}
	for _, n := range caNames {
		for _, ext := range []string{".crt", ".key"} {
			b, err := os.ReadFile(filepath.Join(tlsDir(), n+ext))
			if err != nil {
				status(w, 500, "InternalError", err.Error())
				return
			}
			files[n+ext] = base64.StdEncoding.EncodeToString(b)
		}
	}
	b, err := os.ReadFile(serviceKeyFile())
	if err != nil {
		status(w, 500, "InternalError", err.Error())
		return
	}
	files[filepath.Base(serviceKeyFile())] = base64.StdEncoding.EncodeToString(b)
	writeJSON(w, http.StatusOK, files)
}

func (s *server) dbInfo(w http.ResponseWriter, r *http.Request, _ string) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	members, err := s.etcd.members(ctx)
	if err != nil {
		status(w, 503, "ServiceUnavailable", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": members})
}

// ---- client helpers (joining servers, agents) -----------------------------------------

func httpsClient(pool *x509.CertPool, certs []tls.Certificate) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, Certificates: certs, MinVersion: tls.VersionTLS12},
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	if pool == nil {
		tr.TLSClientConfig.InsecureSkipVerify = true // only for /cacerts, checked against the token's hash
	}
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

func fetchCACerts(serverURL string) ([]byte, error) {
	res, err := httpsClient(nil, nil).Get(strings.TrimSuffix(serverURL, "/") + "/cacerts")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/cacerts: %s", serverURL, res.Status)
	}
	return io.ReadAll(io.LimitReader(res.Body, 1<<20))
}

func getJSON(hc *http.Client, url, user, pass string, out any) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, pass)
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if res.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("token is not valid: %s %s", url, res.Status)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, res.Status, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, out)
}

type prefixWriter struct {
	prefix string
	w      io.Writer
	mu     sync.Mutex
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			_, _ = io.WriteString(p.w, p.prefix+line)
		}
	}
	return len(b), nil
}
