package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// The real control plane on each server, started the way k3s starts its embedded one (k3s
// pkg/daemons/control/server.go: apiServer, controllerManager, scheduler): kube-apiserver on
// 127.0.0.1:6444 over this server's own etcd member, so the API follows quorum; the supervisor
// (supervisor.go) serves 6443 and hands everything that is not k3s's own to it. The
// controller-manager and scheduler run on every server with leader election, talking to the
// local apiserver. Their logs go to server/logs/<name>.log (k3s sends them to its journal).

const apiserverPort = 6444

func credDir() string { return filepath.Join(serverDir(), "cred") }
func logDir() string  { return filepath.Join(serverDir(), "logs") }

// controlPlaneIdentities: the client certificates k3s issues for its components (deps.go
// genClientCerts), each written as a kubeconfig for https://127.0.0.1:6444.
var controlPlaneIdentities = []struct{ file, cn, group string }{
	{"admin", "system:admin", "system:masters"},
	{"supervisor", "system:k3s-supervisor", "system:masters"},
	{"controller", "system:kube-controller-manager", ""},
	{"scheduler", "system:kube-scheduler", ""},
}

func (s *server) writeControlPlaneCredentials() error {
	for _, id := range controlPlaneIdentities {
		var groups []string
		if id.group != "" {
			groups = []string{id.group}
		}
		crt, key, err := s.clientCA.issue(id.cn, groups, nil, nil, false, true)
		if err != nil {
			return err
		}
		path := filepath.Join(credDir(), id.file+".kubeconfig")
		if err := writeKubeconfigFile(path, fmt.Sprintf("https://127.0.0.1:%d", apiserverPort), s.serverCA.certPEM, crt, key, 0o600); err != nil {
			return err
		}
	}
	// The auth proxy's certificate (k3s deps.go: client-auth-proxy, CN system:auth-proxy from
	// request-header-ca): the apiserver's --proxy-client-cert-file, and what the supervisor
	// presents when it forwards a request with the caller's identity in X-Remote-* headers.
	rh, err := loadCA(tlsDir(), "request-header-ca")
	if err != nil {
		return err
	}
	crt, key, err := rh.issue(authProxyCN, nil, nil, nil, false, true)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(tlsDir(), "client-auth-proxy.crt"), crt, 0o644); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(tlsDir(), "client-auth-proxy.key"), key, 0o600)
}

const authProxyCN = "system:auth-proxy"

func writeKubeconfigFile(path, server string, caPEM, crt, key []byte, mode os.FileMode) error {
	e := base64.StdEncoding.EncodeToString
	text := fmt.Sprintf(`apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: %s
    server: %s
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: %s
    client-key-data: %s
`, e(caPEM), server, e(crt), e(key))
	return writeFileAtomic(path, []byte(text), mode)
}

// apiserverArgs follows k3s's apiServer() argument map, with the lab's differences said inline.
func (s *server) apiserverArgs() []string {
	tls := tlsDir()
	etcdTLS := etcdTLSDir()
	return []string{
		"--storage-backend=etcd3",
		"--etcd-servers=https://127.0.0.1:2379",
		"--etcd-cafile=" + filepath.Join(tls, "etcd-ca.crt"),
		"--etcd-certfile=" + filepath.Join(etcdTLS, "client.crt"),
		"--etcd-keyfile=" + filepath.Join(etcdTLS, "client.key"),
		"--cert-dir=" + filepath.Join(tls, "temporary-certs"),
		"--allow-privileged=true",
		"--enable-bootstrap-token-auth=true",
		"--authorization-mode=Node,RBAC",
		"--anonymous-auth=false",
		"--service-account-signing-key-file=" + serviceKeyFile(),
		"--service-account-key-file=" + serviceKeyFile(),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--api-audiences=https://kubernetes.default.svc.cluster.local,k3s",
		"--service-cluster-ip-range=" + s.cfg.ServiceCIDR,
		"--service-node-port-range=30000-32767",
		"--advertise-address=" + s.cfg.NodeIP,
		fmt.Sprintf("--secure-port=%d", apiserverPort),
		"--bind-address=127.0.0.1",
		"--tls-cert-file=" + filepath.Join(tls, "serving-kube-apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(tls, "serving-kube-apiserver.key"),
		"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
		"--requestheader-client-ca-file=" + filepath.Join(tls, "request-header-ca.crt"),
		"--requestheader-allowed-names=" + authProxyCN,
		"--proxy-client-cert-file=" + filepath.Join(tls, "client-auth-proxy.crt"),
		"--proxy-client-key-file=" + filepath.Join(tls, "client-auth-proxy.key"),
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-username-headers=X-Remote-User",
		"--client-ca-file=" + filepath.Join(tls, "client-ca.crt"),
		"--enable-admission-plugins=NodeRestriction",
		"--profiling=false",
		// The lab's addition: an audit log of what changes Nodes (auditPolicy), so that the lab's
		// tests can see from the real apiserver what a drain did.
		"--audit-policy-file=" + filepath.Join(serverDir(), "audit-policy.yaml"),
		"--audit-log-path=" + filepath.Join(logDir(), "audit.log"),
		"--audit-log-maxsize=20", "--audit-log-maxbackup=1",
		// Debian's etcd 3.4 cannot serve the watch-list streams (RequestWatchProgress) newer
		// apiservers use by default; k3s ships etcd 3.5/3.6, which can.
		"--feature-gates=WatchList=false",
	}
}

// auditPolicy records, with their request bodies, the writes to Nodes and evictions (a drain's
// cordon, evictions and the Node's deletion) and nothing else (audit.k8s.io/v1 Policy).
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Request
  verbs: ["patch", "update", "delete"]
  resources:
  - group: ""
    resources: ["nodes"]
- level: Metadata
  verbs: ["create"]
  resources:
  - group: ""
    resources: ["pods/eviction"]
- level: None
`

// controllerManagerArgs follows k3s's controllerManager(); `*` rather than k3s's list with
// exclusions, because kube-controller-manager 1.37 refuses names it does not know.
func (s *server) controllerManagerArgs() []string {
	tls := tlsDir()
	kc := filepath.Join(credDir(), "controller.kubeconfig")
	return []string{
		"--kubeconfig=" + kc, "--authorization-kubeconfig=" + kc, "--authentication-kubeconfig=" + kc,
		"--service-account-private-key-file=" + serviceKeyFile(),
		"--allocate-node-cidrs=true",
		"--service-cluster-ip-range=" + s.cfg.ServiceCIDR,
		"--cluster-cidr=" + s.cfg.ClusterCIDR,
		"--root-ca-file=" + filepath.Join(tls, "server-ca.crt"),
		"--profiling=false",
		"--bind-address=127.0.0.1",
		"--secure-port=10257",
		"--use-service-account-credentials=true",
		"--cluster-signing-kube-apiserver-client-cert-file=" + filepath.Join(tls, "client-ca.crt"),
		"--cluster-signing-kube-apiserver-client-key-file=" + filepath.Join(tls, "client-ca.key"),
		"--cluster-signing-kubelet-client-cert-file=" + filepath.Join(tls, "client-ca.crt"),
		"--cluster-signing-kubelet-client-key-file=" + filepath.Join(tls, "client-ca.key"),
		"--cluster-signing-kubelet-serving-cert-file=" + filepath.Join(tls, "server-ca.crt"),
		"--cluster-signing-kubelet-serving-key-file=" + filepath.Join(tls, "server-ca.key"),
		"--cluster-signing-legacy-unknown-cert-file=" + filepath.Join(tls, "server-ca.crt"),
		"--cluster-signing-legacy-unknown-key-file=" + filepath.Join(tls, "server-ca.key"),
		"--controllers=*",
		"--leader-elect=true",
	}
}

func schedulerArgs() []string {
	kc := filepath.Join(credDir(), "scheduler.kubeconfig")
	return []string{
		"--kubeconfig=" + kc, "--authorization-kubeconfig=" + kc, "--authentication-kubeconfig=" + kc,
		"--bind-address=127.0.0.1", "--secure-port=10259", "--profiling=false", "--leader-elect=true",
	}
}

// startControlPlane starts the apiserver, waits until it is ready (bounded), then starts the
// controller-manager and the scheduler. Any of them exiting is sent on exited: k3s treats the
// end of an embedded component as fatal, and systemd restarts the whole service.
func (s *server) startControlPlane(exited chan<- error) error {
	if err := s.writeControlPlaneCredentials(); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(serverDir(), "audit-policy.yaml"), []byte(auditPolicy), 0o600); err != nil {
		return err
	}
	if err := runComponent("kube-apiserver", s.apiserverArgs(), logDir(), exited); err != nil {
		return err
	}
	admin, err := kubeClientFromFile(filepath.Join(credDir(), "supervisor.kubeconfig"))
	if err != nil {
		return err
	}
	s.local = admin
	deadline := time.Now().Add(180 * time.Second)
	for {
		err := admin.do(http.MethodGet, "/readyz", nil, nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver not ready after 180s: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	log.Printf("kube-apiserver is ready on 127.0.0.1:%d", apiserverPort)
	if err := runComponent("kube-controller-manager", s.controllerManagerArgs(), logDir(), exited); err != nil {
		return err
	}
	return runComponent("kube-scheduler", schedulerArgs(), logDir(), exited)
}

// runComponent starts one of the real binaries as a child that dies with the stand-in
// (Pdeathsig), its output in <logs>/<name>.log; its end is reported on exited.
func runComponent(name string, args []string, logs string, exited chan<- error) error {
	bin, err := controlPlaneBinary(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(logs, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = startChild(name, bin, args, f, func(e error) {
		f.Close()
		exited <- fmt.Errorf("%s exited: %v (see %s)", name, e, filepath.Join(logs, name+".log"))
	})
	return err
}

// startChild starts bin as a child that gets SIGKILL when this process ends. Pdeathsig belongs
// to the thread that forked, so that thread stays locked for the child's lifetime. onExit runs
// when the child ends.
func startChild(name, bin string, args []string, out io.Writer, onExit func(error)) (*exec.Cmd, error) {
	started := make(chan error, 1)
	var cmd *exec.Cmd
	go func() {
		runtime.LockOSThread()
		cmd = exec.Command(bin, args...)
		cmd.Args[0] = name // the multi-call binary picks the command by its name
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		onExit(cmd.Wait())
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	log.Printf("%s started (pid %d)", name, cmd.Process.Pid)
	return cmd, nil
}
