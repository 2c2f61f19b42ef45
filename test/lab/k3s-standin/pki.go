package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The CAs a k3s server keeps in server/tls (the subset the stand-in uses; k3s
// pkg/daemons/control/deps/deps.go genCerts): server-ca signs serving certificates, client-ca the
// client certificates of users, kubelets and the control plane, request-header-ca the auth proxy's
// (front-proxy) certificate, etcd-ca etcd's.
var caNames = []string{"server-ca", "client-ca", "request-header-ca", "etcd-ca"}

// serviceKeyFile is the service-account signing key every server shares (k3s: server/tls/service.key,
// part of the bootstrap data).
func serviceKeyFile() string { return filepath.Join(tlsDir(), "service.key") }

func newServiceKey() error {
	_, keyPEM, err := newKey()
	if err != nil {
		return err
	}
	return writeFileAtomic(serviceKeyFile(), keyPEM, 0o600)
}

func tlsDir() string { return filepath.Join(dataDir, "server", "tls") }

func newKey() (*ecdsa.PrivateKey, []byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

// newCA writes <dir>/<name>.crt and .key (k3s names them like "k3s-server-ca@<unix time>").
func newCA(dir, name string) error {
	k, keyPEM, err := newKey()
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: fmt.Sprintf("k3s-%s@%d", name, now.Unix())},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, name+".key"), keyPEM, 0o600)
}

type ca struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
}

func loadCA(dir, name string) (*ca, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return nil, errors.New(name + ".crt: no PEM block")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New(name + ".key: no PEM block")
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	return &ca{cert: cert, key: key, certPEM: certPEM}, nil
}

// issue signs a leaf certificate. server/client select the extended key usages.
func (c *ca) issue(cn string, orgs []string, dnsNames []string, ips []net.IP, server, client bool) (certPEM, keyPEM []byte, err error) {
	k, keyPEM, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames: dnsNames, IPAddresses: ips,
	}
	if server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &k.PublicKey, c.key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

func (c *ca) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// caHash is the hash in a secure token: sha256 of the CA bundle as served at /cacerts.
func caHash(bundle []byte) string {
	sum := sha256.Sum256(bundle)
	return hex.EncodeToString(sum[:])
}

// token is a parsed join token: K10<hash>::<user>:<password>, or a bare password.
type token struct {
	hash     string
	user     string
	password string
}

func parseToken(s string) (token, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return token{}, errors.New("the token is empty")
	}
	if strings.HasPrefix(s, "K10") {
		hash, creds, ok := strings.Cut(strings.TrimPrefix(s, "K10"), "::")
		if !ok {
			return token{}, errors.New("invalid token format: K10 tokens are K10<hash>::<user>:<password>")
		}
		user, pass, ok := strings.Cut(creds, ":")
		if !ok || len(hash) != 64 {
			return token{}, errors.New("invalid token format")
		}
		return token{hash: hash, user: user, password: pass}, nil
	}
	return token{user: "server", password: s}, nil
}

func (t token) secure(hash string) string { return "K10" + hash + "::server:" + t.password }

func keyPairFromPEM(certPEM, keyPEM []byte) (tls.Certificate, error) {
	return tls.X509KeyPair(certPEM, keyPEM)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
