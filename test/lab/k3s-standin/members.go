package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// k3s's etcd member controller, on the real API. Followed from upstream:
//   - pkg/etcd/member_controller.go registerMemberHandlers: one handler, "managed-etcd-controller",
//     for OnChange (sync) and OnRemove (onRemove) of Nodes; wrangler's remove handler
//     (pkg/generic NewRemoveHandler) keeps the finalizer "wrangler.cattle.io/" + that name on every
//     Node it sees, so a Node is only gone once onRemove has run.
//   - pkg/etcd/etcd.go Register: the handlers run only on the elected leader
//     (LeaderElectedClusterControllerStarts[version.Program+"-etcd"], started by pkg/server
//     runControllers with wrangler's leader.RunOrDie: the lease "k3s-etcd" in kube-system).
//   - The annotation protocol (sync): a Node labelled node-role.kubernetes.io/etcd with
//     etcd.k3s.cattle.io/remove=true has its member removed (RemovePeer, by member name and peer
//     address, self-removal allowed); then removed-node-name is set to the member's name and the
//     node-name/node-address annotations are dropped. A removed-node-name that no longer matches
//     node-name (the node rejoined as a new member) is cleared with the remove annotation. The only
//     voting member is never removed (ErrMemberNotEnoughStarted: the remove annotation is dropped).
//   - onRemove (the Node deleted): nothing when removed-node-name says it is already done, else
//     RemovePeer from the annotations; an error keeps the finalizer, so it is retried.
// The newer k3s node-password controller (pkg/nodepassword/controller.go, k3s-io/k3s#13095) gives
// each <node>.node-password.k3s Secret an owner reference to its Node: the real garbage collector
// of kube-controller-manager then deletes it with the Node.

const (
	etcdRoleLabel              = "node-role.kubernetes.io/etcd"
	memberFinalizer            = "wrangler.cattle.io/managed-etcd-controller"
	removalAnnotation          = "etcd.k3s.cattle.io/remove"
	removedNodeNameAnnotation  = "etcd.k3s.cattle.io/removed-node-name"
	nodeNameAnnotation         = "etcd.k3s.cattle.io/node-name"
	nodeAddressAnnotation      = "etcd.k3s.cattle.io/node-address"
	etcdControllersLease       = "k3s-etcd"
	leaseSeconds               = 15
	errNotEnoughStartedMessage = "not enough started members"
)

type ownerReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
}

type fullMeta struct {
	Name              string            `json:"name"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	DeletionTimestamp *string           `json:"deletionTimestamp,omitempty"`
	Finalizers        []string          `json:"finalizers,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	OwnerReferences   []ownerReference  `json:"ownerReferences,omitempty"`
}

type nodeMeta struct {
	Metadata fullMeta `json:"metadata"`
}

// ---- leader election: a Lease held by one server, renewed every 2 s, taken over when stale ----

type leaseSpec struct {
	HolderIdentity       string `json:"holderIdentity,omitempty"`
	LeaseDurationSeconds int    `json:"leaseDurationSeconds,omitempty"`
	AcquireTime          string `json:"acquireTime,omitempty"`
	RenewTime            string `json:"renewTime,omitempty"`
	LeaseTransitions     int    `json:"leaseTransitions"`
}

type leaseObject struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Metadata   fullMeta  `json:"metadata"`
	Spec       leaseSpec `json:"spec"`
}

const microTime = "2006-01-02T15:04:05.000000Z07:00"
const leasesPath = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"

// leader keeps trying to hold the lease; isLeader reports whether this server holds it now.
type leader struct {
	s       *server
	id      string
	holding atomic.Bool
}

func (l *leader) isLeader() bool { return l.holding.Load() }

func (l *leader) run() {
	for {
		held, err := l.tryHold(time.Now())
		if err != nil {
			held = false
		}
		if held != l.holding.Load() {
			if held {
				log.Printf("this server (%s) now leads the %s controllers", l.id, etcdControllersLease)
			} else {
				log.Printf("this server (%s) no longer leads the %s controllers", l.id, etcdControllersLease)
			}
		}
		l.holding.Store(held)
		time.Sleep(2 * time.Second)
	}
}

func (l *leader) tryHold(now time.Time) (bool, error) {
	var cur leaseObject
	err := l.s.local.do(http.MethodGet, leasesPath+"/"+etcdControllersLease, nil, &cur)
	stamp := now.UTC().Format(microTime)
	if isNotFound(err) {
		obj := leaseObject{APIVersion: "coordination.k8s.io/v1", Kind: "Lease", Metadata: fullMeta{Name: etcdControllersLease},
			Spec: leaseSpec{HolderIdentity: l.id, LeaseDurationSeconds: leaseSeconds, AcquireTime: stamp, RenewTime: stamp}}
		if err := l.s.local.do(http.MethodPost, leasesPath, obj, nil); err != nil {
			return false, err
		}
		return true, nil
	}
	if err != nil {
		return false, err
	}
	renewed, _ := time.Parse(microTime, cur.Spec.RenewTime)
	stale := now.Sub(renewed) > time.Duration(cur.Spec.LeaseDurationSeconds)*time.Second
	if cur.Spec.HolderIdentity != l.id && !stale {
		return false, nil
	}
	if cur.Spec.HolderIdentity != l.id {
		cur.Spec.HolderIdentity, cur.Spec.AcquireTime = l.id, stamp
		cur.Spec.LeaseTransitions++
	}
	cur.Spec.RenewTime, cur.Spec.LeaseDurationSeconds = stamp, leaseSeconds
	// The resourceVersion makes the update conditional: two servers never both win.
	if err := l.s.local.do(http.MethodPut, leasesPath+"/"+etcdControllersLease, cur, nil); err != nil {
		return false, err
	}
	return true, nil
}

// ---- the controllers the leader runs ----

// runLeaderControllers syncs every Node once a second while this server leads.
func (s *server) runLeaderControllers(l *leader) {
	for {
		time.Sleep(time.Second)
		if !l.isLeader() {
			continue
		}
		var list struct {
			Items []nodeMeta `json:"items"`
		}
		if err := s.local.do(http.MethodGet, "/api/v1/nodes", nil, &list); err != nil {
			continue
		}
		for _, n := range list.Items {
			if err := s.syncNode(n.Metadata); err != nil {
				log.Printf("managed-etcd-controller: node %s: %v", n.Metadata.Name, err)
			}
			if n.Metadata.DeletionTimestamp == nil {
				if err := s.ownNodePassword(n.Metadata); err != nil {
					log.Printf("node-password controller: node %s: %v", n.Metadata.Name, err)
				}
			}
		}
	}
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// patchNode sends a merge patch of metadata, conditional on the resourceVersion that was read.
func (s *server) patchNode(n fullMeta, meta map[string]any) error {
	meta["resourceVersion"] = n.ResourceVersion
	return s.local.do(http.MethodPatch, "/api/v1/nodes/"+url.PathEscape(n.Name), map[string]any{"metadata": meta}, nil)
}

func (s *server) syncNode(n fullMeta) error {
	if n.DeletionTimestamp != nil {
		if !has(n.Finalizers, memberFinalizer) {
			return nil
		}
		if err := s.onRemoveNode(n); err != nil {
			return err // the finalizer stays: retried on the next pass
		}
		var rest []string
		for _, f := range n.Finalizers {
			if f != memberFinalizer {
				rest = append(rest, f)
			}
		}
		if rest == nil {
			rest = []string{}
		}
		return s.patchNode(n, map[string]any{"finalizers": rest})
	}
	if !has(n.Finalizers, memberFinalizer) {
		return s.patchNode(n, map[string]any{"finalizers": append(append([]string{}, n.Finalizers...), memberFinalizer)})
	}
	if _, ok := n.Labels[etcdRoleLabel]; !ok {
		return nil
	}
	requested, ok := n.Annotations[removalAnnotation]
	if !ok {
		return nil
	}
	name, address := n.Annotations[nodeNameAnnotation], n.Annotations[nodeAddressAnnotation]
	if removed, ok := n.Annotations[removedNodeNameAnnotation]; ok {
		if name != "" && name != removed {
			log.Printf("managed-etcd-controller: node %s rejoined as member %s: clearing the removal of %s", n.Name, name, removed)
			return s.patchNode(n, map[string]any{"annotations": map[string]any{removedNodeNameAnnotation: nil, removalAnnotation: nil}})
		}
		return nil // already removed
	}
	if name == "" || address == "" {
		return fmt.Errorf("node name or address annotation for node %s not found", n.Name)
	}
	if strings.ToLower(requested) != "true" {
		return nil
	}
	holdRemovalIfAsked(n.Name)
	log.Printf("managed-etcd-controller: removing etcd member %s (%s) of node %s, as requested by %s", name, address, n.Name, removalAnnotation)
	if err := s.removePeer(name, address, true); err != nil {
		if strings.Contains(err.Error(), errNotEnoughStartedMessage) {
			log.Printf("managed-etcd-controller: %s is the only voting member: not removed", name)
			return s.patchNode(n, map[string]any{"annotations": map[string]any{removalAnnotation: nil}})
		}
		return err
	}
	return s.patchNode(n, map[string]any{"annotations": map[string]any{
		removedNodeNameAnnotation: name, nodeNameAnnotation: nil, nodeAddressAnnotation: nil}})
}

// holdDir is the lab's fault-injection folder, seen by every Pi (set at build time by
// test/lab/lab, as for the systemctl stand-in). Not part of k3s: while
// <holdDir>/hold.etcd-removal.<node> exists, the leader's controller waits (bounded: 120 s)
// before it removes that node's member, and says so in held.etcd-removal.<node>, so that a
// test can act on the leaving server at a known point of its removal.
var holdDir = ""

func holdRemovalIfAsked(node string) {
	if holdDir == "" {
		return
	}
	hold := filepath.Join(holdDir, "hold.etcd-removal."+node)
	if _, err := os.Stat(hold); err != nil {
		return
	}
	log.Printf("stand-in: the removal of %s's etcd member is held by %s", node, hold)
	_ = os.WriteFile(filepath.Join(holdDir, "held.etcd-removal."+node), nil, 0o644)
	for i := 0; i < 600; i++ {
		if _, err := os.Stat(hold); err != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *server) onRemoveNode(n fullMeta) error {
	if _, ok := n.Labels[etcdRoleLabel]; !ok {
		return nil
	}
	if strings.ToLower(n.Annotations[removalAnnotation]) == "true" && n.Annotations[removedNodeNameAnnotation] != "" {
		log.Printf("managed-etcd-controller: etcd member of node %s was already removed as %s", n.Name, n.Annotations[removedNodeNameAnnotation])
		return nil
	}
	name, address := n.Annotations[nodeNameAnnotation], n.Annotations[nodeAddressAnnotation]
	if name == "" || address == "" {
		return fmt.Errorf("node name or address annotation for node %s not found", n.Name)
	}
	log.Printf("managed-etcd-controller: node %s deleted: removing its etcd member %s", n.Name, name)
	return s.removePeer(name, address, true)
}

// removePeer follows k3s pkg/etcd/etcd.go RemovePeer: the member whose name matches and one of
// whose peer URLs has the address as host is removed; none matching (or already gone) is not an
// error.
func (s *server) removePeer(name, address string, allowSelfRemoval bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	members, err := s.etcd.members(ctx)
	if err != nil {
		return err
	}
	for _, m := range members {
		if m.Name != name {
			continue
		}
		for _, p := range m.PeerURLs {
			u, err := url.Parse(p)
			if err != nil || u.Hostname() != address {
				continue
			}
			if address == s.cfg.NodeIP && !allowSelfRemoval {
				return errors.New("not removing self from etcd cluster")
			}
			log.Printf("Removing name=%s id=%s address=%s from etcd", m.Name, m.ID, address)
			rerr := s.etcd.removeMember(ctx, m.ID)
			if rerr != nil && strings.Contains(rerr.Error(), "member not found") {
				return nil
			}
			return rerr
		}
	}
	return nil
}

// ownNodePassword gives the node's password Secret an owner reference to the Node (k3s
// pkg/nodepassword/controller.go onChangeNode), so the garbage collector removes it with the Node.
func (s *server) ownNodePassword(n fullMeta) error {
	var sec struct {
		Metadata fullMeta `json:"metadata"`
	}
	if err := s.local.do(http.MethodGet, passwordSecretPath(n.Name), nil, &sec); err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	for _, o := range sec.Metadata.OwnerReferences {
		if o.Kind == "Node" && o.UID == n.UID {
			return nil
		}
	}
	refs := []ownerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}
	return s.local.do(http.MethodPatch, passwordSecretPath(n.Name),
		map[string]any{"metadata": map[string]any{"ownerReferences": refs, "resourceVersion": sec.Metadata.ResourceVersion}}, nil)
}

// ---- the removed member's own side: tombstone, then wipe and rejoin on the next start ----

// Follows k3s pkg/executor/embed/etcd/etcd.go StartETCD (older: pkg/daemons/executor/embed.go,
// which matched the error text as here): when etcd reports that this member was removed, k3s
// writes <data-dir>/server/db/etcd/tombstone and stops; pkg/etcd/etcd.go Register, on the next
// start, finds the tombstone, moves the etcd data aside (backupDirWithRetention, 5 kept) and the
// server starts as a new member: it joins when --server is set, else it starts a new cluster.
const memberRemovedText = "the member has been permanently removed from the cluster"

func tombstonePath() string { return filepath.Join(etcdDir(), "tombstone") }

func writeTombstone() error {
	return os.WriteFile(tombstonePath(), nil, 0o600)
}

// takeTombstone moves the etcd data aside when a tombstone is there; it reports whether it did.
func takeTombstone() (bool, error) {
	if _, err := os.Stat(tombstonePath()); err != nil {
		return false, nil
	}
	log.Printf("tombstone file has been detected, removing data dir to rejoin the cluster")
	backup := fmt.Sprintf("%s-backup-%d", etcdDir(), time.Now().Unix())
	if err := os.Rename(etcdDir(), backup); err != nil {
		return false, err
	}
	_ = os.Remove(etcdNameFile())
	old, _ := filepath.Glob(etcdDir() + "-backup-*")
	sort.Strings(old)
	for len(old) > 5 {
		_ = os.RemoveAll(old[0])
		old = old[1:]
	}
	return true, nil
}

// removalWatch passes etcd's log through and closes removed when etcd says this member was removed.
type removalWatch struct {
	w       interface{ Write([]byte) (int, error) }
	removed chan struct{}
	seen    atomic.Bool
}

func newRemovalWatch(w interface{ Write([]byte) (int, error) }) *removalWatch {
	return &removalWatch{w: w, removed: make(chan struct{})}
}

func (r *removalWatch) Write(b []byte) (int, error) {
	if strings.Contains(string(b), memberRemovedText) && r.seen.CompareAndSwap(false, true) {
		close(r.removed)
	}
	return r.w.Write(b)
}

// memberBaseName is a member name without its random suffix (<node-name>-<hex>).
func memberBaseName(name string) string {
	if i := strings.LastIndex(name, "-"); i > 0 {
		return name[:i]
	}
	return name
}
