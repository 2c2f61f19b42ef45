package main

import (
	"fmt"
	"log"
	"net/http"
	"net/url"
	"sort"
	"time"
)

// k3s's bundled pieces that workloads see, as a user sees them, since their own containers
// cannot run here. k3s deploys them from server/manifests (pkg/deploy) unless --disable names them:
//   - local-storage: the StorageClass local-path (the default class; rancher/local-path-provisioner
//     provisions a hostPath volume on the node the pod was scheduled to, WaitForFirstConsumer);
//   - servicelb: k3s's ServiceLB (pkg/cloudprovider/servicelb.go), which opens a LoadBalancer
//     Service's ports on the nodes and writes their addresses into the Service's status;
//   - traefik: the Traefik chart's IngressClass "traefik" (the default class) and Traefik itself,
//     which writes its own Service's LoadBalancer addresses into each Ingress's status.
// The stand-in creates the objects and does what each controller writes to the API: PVs for
// claims, LoadBalancer status for Services and Ingresses. No traffic is carried.

func (s *server) disabled(name string) bool {
	for _, d := range s.cfg.Disable {
		if d == name {
			return true
		}
	}
	return false
}

// deployBundled creates the bundled objects (idempotent: an existing one is left as it is).
func (s *server) deployBundled() error {
	create := func(path string, obj map[string]any) error {
		err := s.local.do(http.MethodPost, path, obj, nil)
		if isConflict(err) {
			return nil
		}
		return err
	}
	// Not k3s's: kwok, playing the kubelet, watches more than the Node authorizer lets a kubelet
	// see (it lists every Node and the node leases). Its certificate (the kubelet's,
	// system:node:<name>) carries the extra group kwokGroup, which this role grants that; writes
	// stay limited by NodeRestriction to the node's own Node, Lease and pods.
	if err := create("/apis/rbac.authorization.k8s.io/v1/clusterroles", map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": map[string]any{"name": kwokGroup},
		"rules": []any{
			map[string]any{"apiGroups": []string{""}, "resources": []string{"nodes", "pods"}, "verbs": []string{"get", "list", "watch"}},
			map[string]any{"apiGroups": []string{"coordination.k8s.io"}, "resources": []string{"leases"}, "verbs": []string{"get", "list", "watch"}},
		},
	}); err != nil {
		return fmt.Errorf("ClusterRole %s: %w", kwokGroup, err)
	}
	if err := create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": map[string]any{"name": kwokGroup},
		"roleRef":  map[string]string{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": kwokGroup},
		"subjects": []any{map[string]string{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": kwokGroup}},
	}); err != nil {
		return fmt.Errorf("ClusterRoleBinding %s: %w", kwokGroup, err)
	}
	if !s.disabled("local-storage") {
		// k3s manifests/local-storage.yaml
		if err := create("/apis/storage.k8s.io/v1/storageclasses", map[string]any{
			"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
			"metadata": map[string]any{"name": "local-path",
				"annotations": map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
			"provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Delete",
		}); err != nil {
			return fmt.Errorf("StorageClass local-path: %w", err)
		}
	}
	if !s.disabled("traefik") {
		// The Traefik chart k3s deploys (manifests/traefik.yaml): ingressClass.isDefaultClass.
		if err := create("/apis/networking.k8s.io/v1/ingressclasses", map[string]any{
			"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
			"metadata": map[string]any{"name": "traefik",
				"annotations": map[string]string{"ingressclass.kubernetes.io/is-default-class": "true"}},
			"spec": map[string]any{"controller": "traefik.io/ingress-controller"},
		}); err != nil {
			return fmt.Errorf("IngressClass traefik: %w", err)
		}
	}
	return nil
}

// kwokGroup is the lab's extra group on kubelet certificates (see deployBundled).
const kwokGroup = "standin:kwok-kubelet"

type lbIngress struct {
	IP     string `json:"ip"`
	IPMode string `json:"ipMode,omitempty"`
}

// runBundledControllers does, every 2 s, what the bundled controllers write. Every server
// runs it; the writes are idempotent, so two servers doing the same is harmless.
func (s *server) runBundledControllers() {
	for {
		time.Sleep(2 * time.Second)
		ips := s.nodeAddresses()
		if len(ips) == 0 {
			continue
		}
		if !s.disabled("servicelb") {
			s.serviceLB(ips)
		}
		if !s.disabled("traefik") {
			s.traefikIngressStatus(ips)
		}
		if !s.disabled("local-storage") {
			s.localPathProvisioner()
		}
	}
}

// nodeAddresses: the InternalIPs of the Ready nodes that may run pods, sorted.
func (s *server) nodeAddresses() []string {
	var list struct {
		Items []struct {
			Spec struct {
				Unschedulable bool `json:"unschedulable"`
			} `json:"spec"`
			Status struct {
				Addresses  []nodeAddress                   `json:"addresses"`
				Conditions []struct{ Type, Status string } `json:"conditions"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := s.local.do(http.MethodGet, "/api/v1/nodes", nil, &list); err != nil {
		return nil
	}
	var ips []string
	for _, n := range list.Items {
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || c.Type == "Ready" && c.Status == "True"
		}
		if !ready || n.Spec.Unschedulable {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type == "InternalIP" {
				ips = append(ips, a.Address)
			}
		}
	}
	sort.Strings(ips)
	return ips
}

func ingressFor(ips []string) []lbIngress {
	out := make([]lbIngress, 0, len(ips))
	for _, ip := range ips {
		out = append(out, lbIngress{IP: ip, IPMode: "VIP"})
	}
	return out
}

func sameIPs(have []lbIngress, ips []string) bool {
	if len(have) != len(ips) {
		return false
	}
	for i := range have {
		if have[i].IP != ips[i] {
			return false
		}
	}
	return true
}

// lbStatusObject is what the two address publishers below read of a Service or an Ingress.
type lbStatusObject struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		Type              string  `json:"type"`              // Service
		LoadBalancerClass *string `json:"loadBalancerClass"` // Service
		IngressClassName  *string `json:"ingressClassName"`  // Ingress
	} `json:"spec"`
	Status struct {
		LoadBalancer struct {
			Ingress []lbIngress `json:"ingress"`
		} `json:"loadBalancer"`
	} `json:"status"`
}

// publishAddresses sets status.loadBalancer.ingress to the nodes' addresses on every object of
// listPath that `serves` and that does not show them yet (as `ingress`, the status's form of
// them for that kind); statusPath formats namespace and name.
func (s *server) publishAddresses(who, listPath, statusPath string, ips []string, ingress any, serves func(lbStatusObject) bool) {
	var list struct {
		Items []lbStatusObject `json:"items"`
	}
	if err := s.local.do(http.MethodGet, listPath, nil, &list); err != nil {
		return
	}
	for _, o := range list.Items {
		if !serves(o) || sameIPs(o.Status.LoadBalancer.Ingress, ips) {
			continue
		}
		path := fmt.Sprintf(statusPath, o.Metadata.Namespace, o.Metadata.Name)
		patch := map[string]any{"status": map[string]any{"loadBalancer": map[string]any{"ingress": ingress}}}
		if err := s.local.do(http.MethodPatch, path, patch, nil); err != nil {
			log.Printf("%s: %s/%s: %v", who, o.Metadata.Namespace, o.Metadata.Name, err)
		} else {
			log.Printf("%s: %s/%s exposed on %v", who, o.Metadata.Namespace, o.Metadata.Name, ips)
		}
	}
}

// serviceLB: a LoadBalancer Service without a loadBalancerClass gets the nodes' addresses in
// status.loadBalancer.ingress (servicelb.go: the addresses of the nodes its svclb pods run on,
// every node unless nodes are labelled for it).
func (s *server) serviceLB(ips []string) {
	s.publishAddresses("servicelb", "/api/v1/services", "/api/v1/namespaces/%s/services/%s/status", ips, ingressFor(ips), func(o lbStatusObject) bool {
		return o.Spec.Type == "LoadBalancer" && o.Spec.LoadBalancerClass == nil
	})
}

// traefikIngressStatus: Traefik publishes its Service's LoadBalancer addresses (ServiceLB's, the
// nodes') in the status of every Ingress of its class (or of none, being the default class).
func (s *server) traefikIngressStatus(ips []string) {
	// An Ingress's status has no ipMode (IngressLoadBalancerIngress): the addresses alone.
	ingress := make([]map[string]string, 0, len(ips))
	for _, ip := range ips {
		ingress = append(ingress, map[string]string{"ip": ip})
	}
	s.publishAddresses("traefik", "/apis/networking.k8s.io/v1/ingresses", "/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s/status", ips, ingress, func(o lbStatusObject) bool {
		c := o.Spec.IngressClassName
		return c == nil || *c == "traefik"
	})
}

// localPathProvisioner follows rancher/local-path-provisioner (provisioner.go): a claim of class
// local-path that the scheduler has given a node (the volume.kubernetes.io/selected-node
// annotation, WaitForFirstConsumer) gets a hostPath PV on that node, pvc-<claim uid>, bound to the
// claim; a Released PV of the class is deleted (reclaim policy Delete). The directory on the node
// is not made: no pod runs here to write into it.
func (s *server) localPathProvisioner() {
	var claims struct {
		Items []struct {
			Metadata objectMeta `json:"metadata"`
			Spec     struct {
				StorageClassName *string  `json:"storageClassName"`
				AccessModes      []string `json:"accessModes"`
				VolumeName       string   `json:"volumeName"`
				Resources        struct {
					Requests map[string]string `json:"requests"`
				} `json:"resources"`
			} `json:"spec"`
			Status struct {
				Phase string `json:"phase"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := s.local.do(http.MethodGet, "/api/v1/persistentvolumeclaims", nil, &claims); err == nil {
		for _, c := range claims.Items {
			node := c.Metadata.Annotations["volume.kubernetes.io/selected-node"]
			if c.Spec.StorageClassName == nil || *c.Spec.StorageClassName != "local-path" || c.Status.Phase != "Pending" || c.Spec.VolumeName != "" || node == "" {
				continue
			}
			name := "pvc-" + c.Metadata.UID
			pv := map[string]any{"apiVersion": "v1", "kind": "PersistentVolume",
				"metadata": map[string]any{"name": name,
					"annotations": map[string]string{"pv.kubernetes.io/provisioned-by": "rancher.io/local-path", "local.path.provisioner/selected-node": node}},
				"spec": map[string]any{
					"capacity":                      map[string]string{"storage": c.Spec.Resources.Requests["storage"]},
					"accessModes":                   c.Spec.AccessModes,
					"persistentVolumeReclaimPolicy": "Delete",
					"storageClassName":              "local-path",
					"volumeMode":                    "Filesystem",
					"claimRef": map[string]string{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
						"namespace": c.Metadata.Namespace, "name": c.Metadata.Name, "uid": c.Metadata.UID},
					"hostPath": map[string]string{"type": "DirectoryOrCreate",
						"path": fmt.Sprintf("/var/lib/rancher/k3s/storage/%s_%s_%s", name, c.Metadata.Namespace, c.Metadata.Name)},
					"nodeAffinity": map[string]any{"required": map[string]any{"nodeSelectorTerms": []any{map[string]any{
						"matchExpressions": []any{map[string]any{"key": "kubernetes.io/hostname", "operator": "In", "values": []string{node}}}}}}},
				}}
			if err := s.local.do(http.MethodPost, "/api/v1/persistentvolumes", pv, nil); err == nil {
				log.Printf("local-path: %s provisioned on %s for %s/%s", name, node, c.Metadata.Namespace, c.Metadata.Name)
			} else if !isConflict(err) {
				log.Printf("local-path: %s/%s: %v", c.Metadata.Namespace, c.Metadata.Name, err)
			}
		}
	}
	var volumes struct {
		Items []struct {
			Metadata objectMeta `json:"metadata"`
			Spec     struct {
				StorageClassName string `json:"storageClassName"`
				ReclaimPolicy    string `json:"persistentVolumeReclaimPolicy"`
			} `json:"spec"`
			Status struct {
				Phase string `json:"phase"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := s.local.do(http.MethodGet, "/api/v1/persistentvolumes", nil, &volumes); err != nil {
		return
	}
	for _, v := range volumes.Items {
		if v.Spec.StorageClassName == "local-path" && v.Spec.ReclaimPolicy == "Delete" && v.Status.Phase == "Released" {
			if err := s.local.do(http.MethodDelete, "/api/v1/persistentvolumes/"+url.PathEscape(v.Metadata.Name), nil, nil); err == nil {
				log.Printf("local-path: %s released and deleted", v.Metadata.Name)
			}
		}
	}
}
