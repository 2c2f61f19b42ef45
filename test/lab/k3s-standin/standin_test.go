package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseFlatYAMLReadsWhatPiclusterRenders(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.yaml")
	text := "# Managed by picluster\nnode-name: \"rasp04\"\nnode-ip: \"10.10.50.198\"\ncluster-init: true\n" +
		"write-kubeconfig-mode: \"0600\"\ntls-san:\n  - \"10.10.50.204\"\n  - \"10.10.50.220\"\ndisable: [traefik, servicelb]\n"
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	m, order, err := parseFlatYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(order, []string{"node-name", "node-ip", "cluster-init", "write-kubeconfig-mode", "tls-san", "disable"}) {
		t.Fatalf("order %v", order)
	}
	if got := m["tls-san"]; !reflect.DeepEqual(got, []string{"10.10.50.204", "10.10.50.220"}) {
		t.Fatalf("tls-san %v", got)
	}
	if got := m["disable"]; !reflect.DeepEqual(got, []string{"traefik", "servicelb"}) {
		t.Fatalf("disable %v", got)
	}
	if m["node-name"][0] != "rasp04" || m["cluster-init"][0] != "true" {
		t.Fatalf("scalars %v", m)
	}
}

func TestTokens(t *testing.T) {
	hash := caHash([]byte("ca bundle"))
	tok, err := parseToken("K10" + hash + "::server:s3cret")
	if err != nil || tok.hash != hash || tok.user != "server" || tok.password != "s3cret" {
		t.Fatalf("%+v %v", tok, err)
	}
	if tok.secure(hash) != "K10"+hash+"::server:s3cret" {
		t.Fatal("secure form")
	}
	plain, err := parseToken("just-a-password\n")
	if err != nil || plain.hash != "" || plain.password != "just-a-password" {
		t.Fatalf("%+v %v", plain, err)
	}
	for _, bad := range []string{"", "K10abc::server:x", "K10" + hash + "server"} {
		if _, err := parseToken(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}
