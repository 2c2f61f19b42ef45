package main

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// What k3s's own controllers do with Nodes, on the real API.

var errPasswordRejected = errors.New("Node password rejected, duplicate hostname or contents of '/etc/rancher/node/password' may not match server node-passwd entry, try enabling a unique node name with the --with-node-id flag")

type secret struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   objectMeta        `json:"metadata"`
	Type       string            `json:"type,omitempty"`
	Immutable  bool              `json:"immutable,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
}

func passwordSecretPath(node string) string {
	return "/api/v1/namespaces/kube-system/secrets/" + node + ".node-password.k3s"
}

// ensureNodePassword follows k3s pkg/nodepassword/nodepassword.go (Ensure): the node's password
// lives in the Secret <node>.node-password.k3s in kube-system as a hash; the first request of a
// node name creates it, later ones must match it. (k3s hashes with a salted scrypt; the stand-in
// with sha256, which proves the same contract.)
func (s *server) ensureNodePassword(ctx context.Context, node, password string) error {
	want := caHash([]byte(password))
	var have secret
	err := s.local.do(http.MethodGet, passwordSecretPath(node), nil, &have)
	if err == nil {
		got, _ := base64.StdEncoding.DecodeString(have.Data["hash"])
		if subtle.ConstantTimeCompare(got, []byte(want)) != 1 {
			return errPasswordRejected
		}
		return nil
	}
	if !isNotFound(err) {
		return err
	}
	sec := secret{APIVersion: "v1", Kind: "Secret", Type: "k3s.cattle.io/node-password", Immutable: true,
		Metadata: objectMeta{Name: node + ".node-password.k3s", Namespace: "kube-system"},
		Data:     map[string]string{"hash": base64.StdEncoding.EncodeToString([]byte(want))}}
	err = s.local.do(http.MethodPost, "/api/v1/namespaces/kube-system/secrets", sec, nil)
	if isConflict(err) { // another server created it meanwhile: check against that one
		return s.ensureNodePassword(ctx, node, password)
	}
	return err
}

// labelServerNode marks this server's Node the way k3s's server does once the Node exists (k3s
// pkg/server/server.go setNodeLabelsAndAnnotations: the control-plane and master roles; pkg/etcd:
// the etcd role and the etcd member's name and address), with the supervisor's identity, since a
// kubelet may not set node-role labels on itself (NodeRestriction). Bounded by the caller.
func (s *server) labelServerNode(ctx context.Context) error {
	patch := map[string]any{"metadata": map[string]any{
		"labels": map[string]string{"node-role.kubernetes.io/control-plane": "true",
			"node-role.kubernetes.io/master": "true", "node-role.kubernetes.io/etcd": "true"},
		"annotations": map[string]string{"etcd.k3s.cattle.io/node-name": s.memberName,
			"etcd.k3s.cattle.io/node-address": s.cfg.NodeIP},
	}}
	for {
		err := s.local.do(http.MethodPatch, "/api/v1/nodes/"+s.cfg.NodeName, patch, nil)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("labelling node %s: %w", s.cfg.NodeName, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
