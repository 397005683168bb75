package repl

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

type acceptResult struct {
	conn  *Conn
	hello *Hello
	err   error
}

// handshake runs Accept and Dial against each other over loopback TCP.
func handshake(t *testing.T, acfg, dcfg Config, admit func(*Hello) error, apps []AppPos) (acceptResult, *Conn, *Welcome, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := make(chan acceptResult, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			res <- acceptResult{err: err}
			return
		}
		c, h, err := Accept(ctx, nc, acfg, admit)
		res <- acceptResult{c, h, err}
	}()
	dc, w, derr := Dial(ctx, ln.Addr().String(), dcfg, apps)
	ar := <-res
	t.Cleanup(func() {
		if dc != nil {
			dc.Close()
		}
		if ar.conn != nil {
			ar.conn.Close()
		}
	})
	return ar, dc, w, derr
}

func TestHandshake(t *testing.T) {
	secret := []byte("s3cret")
	active := Config{NodeID: "a", Group: "g", Epoch: 5, Secret: secret}
	passive := Config{NodeID: "b", Group: "g", Epoch: 5, Secret: secret}
	with := func(c Config, f func(*Config)) Config { f(&c); return c }
	thirdNode := func(h *Hello) error {
		if h.NodeID != "b" {
			return &RejectError{Code: RejectPeer, Reason: fmt.Sprintf("pair is a and b, not %s", h.NodeID)}
		}
		return nil
	}
	tests := []struct {
		name       string
		active     Config
		passive    Config
		admit      func(*Hello) error
		acceptErr  error      // nil: Accept must succeed
		acceptCode RejectCode // when acceptErr is ErrRejected
		dialErr    error
		dialCode   RejectCode
		reason     string // in both errors when set
	}{
		{name: "good secret", active: active, passive: passive},
		{name: "authentication off", active: with(active, func(c *Config) { c.Secret = nil }), passive: with(passive, func(c *Config) { c.Secret = nil })},
		{name: "passive behind in epoch", active: active, passive: with(passive, func(c *Config) { c.Epoch = 2 })},
		{name: "admitted", active: active, passive: passive, admit: thirdNode},
		{name: "bad secret", active: active, passive: with(passive, func(c *Config) { c.Secret = []byte("guess") }),
			acceptErr: ErrAuth, acceptCode: RejectAuth, dialErr: ErrAuth, dialCode: RejectAuth, reason: `node "b" did not prove`},
		{name: "passive without secret", active: active, passive: with(passive, func(c *Config) { c.Secret = nil }),
			acceptErr: ErrAuth, acceptCode: RejectAuth, dialErr: ErrAuth, dialCode: RejectAuth},
		{name: "active without secret", active: with(active, func(c *Config) { c.Secret = nil }), passive: passive,
			// The active cannot tell; the passive refuses the unauthenticated Welcome.
			dialErr: ErrAuth, dialCode: RejectAuth, reason: `node "a" did not prove`},
		{name: "wrong group", active: active, passive: with(passive, func(c *Config) { c.Group = "other" }),
			acceptErr: ErrRejected, acceptCode: RejectGroup, dialErr: ErrRejected, dialCode: RejectGroup, reason: `peer is in group "g", this node in "other"`},
		{name: "stale active", active: active, passive: with(passive, func(c *Config) { c.Epoch = 6 }),
			acceptErr: ErrStaleEpoch, acceptCode: RejectEpoch, dialErr: ErrStaleEpoch, dialCode: RejectEpoch, reason: "peer is at epoch 5, this node knows 6"},
		{name: "third node", active: active, passive: with(passive, func(c *Config) { c.NodeID = "c" }), admit: thirdNode,
			acceptErr: ErrRejected, acceptCode: RejectPeer, dialErr: ErrRejected, dialCode: RejectPeer, reason: "pair is a and b, not c"},
		{name: "plain admit error", active: active, passive: passive, admit: func(*Hello) error { return errors.New("passive already connected") },
			acceptErr: ErrRejected, acceptCode: RejectPeer, dialErr: ErrRejected, dialCode: RejectPeer, reason: "passive already connected"},
		{name: "same node id", active: active, passive: with(passive, func(c *Config) { c.NodeID = "a" }),
			acceptErr: ErrRejected, acceptCode: RejectPeer, dialErr: ErrRejected, dialCode: RejectPeer, reason: `own id "a"`},
	}
	apps := []AppPos{{App: "fraud", AppHash: "h", LastLSN: 10, CheckpointLSN: 8}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ar, dc, w, derr := handshake(t, tc.active, tc.passive, tc.admit, apps)
			checkRejected(t, "Accept", ar.err, tc.acceptErr, tc.acceptCode, tc.reason)
			checkRejected(t, "Dial", derr, tc.dialErr, tc.dialCode, tc.reason)
			if ar.err == nil {
				if ar.hello.NodeID != tc.passive.NodeID || !reflect.DeepEqual(ar.hello.Apps, apps) {
					t.Errorf("Accept returned hello %+v", ar.hello)
				}
			}
			if derr == nil {
				if w.NodeID != tc.active.NodeID || w.Epoch != tc.active.Epoch {
					t.Errorf("Dial returned welcome %+v", w)
				}
			}
			if ar.err == nil && derr == nil {
				exchange(t, ar.conn, dc)
			}
		})
	}
}

func checkRejected(t *testing.T, who string, err, want error, code RejectCode, reason string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: %v", who, err)
		}
		return
	}
	var rej *RejectError
	if !errors.Is(err, want) || !errors.As(err, &rej) {
		t.Fatalf("%s: err = %v, want %v", who, err, want)
	}
	if rej.Code != code {
		t.Errorf("%s: code %s, want %s", who, rej.Code, code)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("%s: %q does not give the reason %q", who, err, reason)
	}
}

// exchange checks that a handshaken pair carries frames both ways, at the
// configured (not the handshake's) frame size.
func exchange(t *testing.T, active, passive *Conn) {
	t.Helper()
	big := &Snapshot{App: "fraud", State: randomBytes(4, 2*handshakeMaxFrame)}
	errc := make(chan error, 1)
	go func() {
		if err := active.Send(big); err != nil {
			errc <- err
			return
		}
		errc <- active.Flush()
	}()
	m, err := passive.Recv()
	if err != nil {
		t.Fatalf("passive Recv: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("active Send: %v", err)
	}
	if !reflect.DeepEqual(m, big) {
		t.Errorf("snapshot changed in transit")
	}
	if err := passive.Send(&Ack{App: "fraud", LSN: 3}); err != nil {
		t.Fatal(err)
	}
	if err := passive.Flush(); err != nil {
		t.Fatal(err)
	}
	if m, err := active.Recv(); err != nil || m.(*Ack).LSN != 3 {
		t.Fatalf("active Recv = %v, %v", m, err)
	}
}

func TestHandshakeActiveWithoutSecretSeesReject(t *testing.T) {
	ar, _, _, derr := handshake(t, Config{NodeID: "a", Group: "g"}, Config{NodeID: "b", Group: "g", Secret: []byte("x")}, nil, nil)
	if ar.err != nil || !errors.Is(derr, ErrAuth) {
		t.Fatalf("Accept = %v, Dial = %v", ar.err, derr)
	}
	// The passive told the active why it left.
	m, err := ar.conn.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := m.(*Reject); !ok || r.Code != RejectAuth {
		t.Errorf("active got %#v, want a Reject for authentication", m)
	}
}

// TestAcceptChecksHello plays the dialer by hand, to reach checks that a
// well-behaved Dial never triggers.
func TestAcceptChecksHello(t *testing.T) {
	cfg := Config{NodeID: "a", Group: "g", Epoch: 5, Secret: []byte("k")}
	tests := []struct {
		name  string
		hello func(ch *Challenge) Message
		want  error
		code  RejectCode
	}{
		{"version", func(ch *Challenge) Message {
			return &Hello{Version: 2, NodeID: "b", Group: "g", Epoch: 5, Auth: handshakeMAC([]byte("k"), 'H', ch.Nonce, "b", "g")}
		}, ErrRejected, RejectVersion},
		{"newer epoch", func(ch *Challenge) Message {
			return &Hello{Version: ProtocolVersion, NodeID: "b", Group: "g", Epoch: 6, Auth: handshakeMAC([]byte("k"), 'H', ch.Nonce, "b", "g")}
		}, ErrStaleEpoch, RejectEpoch},
		{"replayed welcome mac", func(ch *Challenge) Message {
			return &Hello{Version: ProtocolVersion, NodeID: "b", Group: "g", Epoch: 5, Auth: handshakeMAC([]byte("k"), 'W', ch.Nonce, "b", "g")}
		}, ErrAuth, RejectAuth},
		{"mac for another node", func(ch *Challenge) Message {
			return &Hello{Version: ProtocolVersion, NodeID: "b", Group: "g", Epoch: 5, Auth: handshakeMAC([]byte("k"), 'H', ch.Nonce, "c", "g")}
		}, ErrAuth, RejectAuth},
		{"not a hello", func(*Challenge) Message { return &Ping{} }, ErrRejected, RejectOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tcpPair(t)
			errc := make(chan error, 1)
			go func() {
				_, _, err := Accept(context.Background(), b, cfg, nil)
				errc <- err
			}()
			peer := NewConn(a, 0)
			m, err := peer.Recv()
			if err != nil {
				t.Fatal(err)
			}
			ch := m.(*Challenge)
			if len(ch.Nonce) != nonceSize || ch.Epoch != 5 || ch.Version != ProtocolVersion {
				t.Fatalf("challenge %+v", ch)
			}
			if err := sendFlush(peer, tc.hello(ch)); err != nil {
				t.Fatal(err)
			}
			err = <-errc
			var rej *RejectError
			if !errors.Is(err, tc.want) || !errors.As(err, &rej) || rej.Code != tc.code || rej.ByPeer {
				t.Fatalf("Accept = %v, want %v with code %s", err, tc.want, tc.code)
			}
			m, err = peer.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if r, ok := m.(*Reject); !ok || r.Code != tc.code || r.Epoch != 5 {
				t.Errorf("peer got %#v, want a Reject with code %s", m, tc.code)
			}
			if _, err := peer.Recv(); err == nil {
				t.Error("Accept left the connection open after rejecting")
			}
		})
	}
}

func TestDialChecksChallenge(t *testing.T) {
	cfg := Config{NodeID: "b", Group: "g", Epoch: 5}
	tests := []struct {
		name string
		ch   Message
		want error
		code RejectCode
	}{
		{"version", &Challenge{Version: 9, Nonce: make([]byte, nonceSize), NodeID: "a", Group: "g", Epoch: 5}, ErrRejected, RejectVersion},
		{"short nonce", &Challenge{Version: ProtocolVersion, Nonce: []byte{1}, NodeID: "a", Group: "g", Epoch: 5}, ErrRejected, RejectOther},
		{"reject first", &Reject{Code: RejectPeer, Reason: "not now"}, ErrRejected, RejectPeer},
		{"not a challenge", &Ack{}, ErrRejected, RejectOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tcpPair(t)
			peer := NewConn(b, 0)
			if err := sendFlush(peer, tc.ch); err != nil {
				t.Fatal(err)
			}
			_, _, err := DialConn(context.Background(), a, cfg, nil)
			var rej *RejectError
			if !errors.Is(err, tc.want) || !errors.As(err, &rej) || rej.Code != tc.code {
				t.Fatalf("DialConn = %v, want code %s", err, tc.code)
			}
		})
	}
}

func TestHandshakeCancelAndTimeout(t *testing.T) {
	t.Run("cancel", func(t *testing.T) {
		a, _ := tcpPair(t) // the other end never speaks
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		start := time.Now()
		_, _, err := DialConn(ctx, a, Config{NodeID: "b", Group: "g"}, nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("DialConn = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("cancel took %v", d)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		_, b := tcpPair(t) // the dialer never answers the challenge
		_, _, err := Accept(context.Background(), b, Config{NodeID: "a", Group: "g", HandshakeTimeout: 30 * time.Millisecond}, nil)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Accept = %v, want a deadline error", err)
		}
	})
	t.Run("deadline cleared", func(t *testing.T) {
		acfg := Config{NodeID: "a", Group: "g", HandshakeTimeout: 50 * time.Millisecond}
		dcfg := Config{NodeID: "b", Group: "g", HandshakeTimeout: 50 * time.Millisecond}
		ar, dc, _, err := handshake(t, acfg, dcfg, nil, nil)
		if ar.err != nil || err != nil {
			t.Fatalf("Accept = %v, Dial = %v", ar.err, err)
		}
		time.Sleep(100 * time.Millisecond)
		// A connection that outlives the handshake timeout still works.
		exchange(t, ar.conn, dc)
	})
}

func TestHandshakeTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	server := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	acfg := Config{NodeID: "a", Group: "g", Secret: []byte("k"), TLS: server}
	t.Run("trusted", func(t *testing.T) {
		dcfg := Config{NodeID: "b", Group: "g", Secret: []byte("k"), TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}}
		ar, dc, _, err := handshake(t, acfg, dcfg, nil, nil)
		if ar.err != nil || err != nil {
			t.Fatalf("Accept = %v, Dial = %v", ar.err, err)
		}
		exchange(t, ar.conn, dc)
	})
	t.Run("untrusted", func(t *testing.T) {
		dcfg := Config{NodeID: "b", Group: "g", Secret: []byte("k"), TLS: &tls.Config{MinVersion: tls.VersionTLS13}}
		ar, _, _, err := handshake(t, acfg, dcfg, nil, nil)
		var uerr x509.UnknownAuthorityError
		if !errors.As(err, &uerr) {
			t.Errorf("Dial = %v, want an unknown authority error", err)
		}
		if ar.err == nil {
			t.Errorf("Accept succeeded with an untrusting client")
		}
	})
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tandem test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
