package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeTLSFiles makes a CA and a node certificate for 127.0.0.1 signed by it.
func writeTLSFiles(t *testing.T, dir string) *TLSConfig {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tandem test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return &TLSConfig{CertFile: write("node.pem", "CERTIFICATE", der), KeyFile: write("node.key", "EC PRIVATE KEY", keyDER),
		CAFile: write("ca.pem", "CERTIFICATE", caDER)}
}

// TestPairOverTLS runs the handover test with replication over mutual TLS.
func TestPairOverTLS(t *testing.T) {
	tlsCfg := writeTLSFiles(t, t.TempDir())
	testPairHandover(t, func(c *Config) { c.Replication.TLS = tlsCfg })
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeTLSFiles(t, dir)
	bad := *good
	bad.CAFile = good.KeyFile // no certificate in it
	if _, _, err := replTLS(&bad); err == nil {
		t.Fatal("a CA file without certificates was accepted")
	}
	missing := *good
	missing.CertFile = filepath.Join(dir, "nope.pem")
	if _, _, err := replTLS(&missing); err == nil {
		t.Fatal("a missing certificate file was accepted")
	}
}
