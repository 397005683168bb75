package zkcoord

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/coord/internal/check"
)

// The data of the znodes, and the escaping of names into znode names.
// Decoders check everything they read: znodes can be edited by hand.

// maxTTLms bounds stored ttls and liveness windows, as check.Duration does.
const maxTTLms = 365 * 24 * 3600 * 1000

// leaseData is the lease znode's data. Its expiry is the znode's mtime (the
// store clock when it was last written) plus TTLms; Release writes a ttl of
// zero, which ends the lease at the time of the release.
type leaseData struct {
	Holder string `json:"holder"` // "" until first acquired
	Epoch  uint64 `json:"epoch"`
	TTLms  int64  `json:"ttl_ms"`
}

func encodeLease(l leaseData) []byte {
	b, _ := json.Marshal(l) // strings are valid UTF-8: checked by the callers
	return b
}

func decodeLease(b []byte) (leaseData, error) {
	var l leaseData
	if err := json.Unmarshal(b, &l); err != nil {
		return leaseData{}, fmt.Errorf("lease znode: %w", err)
	}
	if l.Holder != "" {
		if err := check.ID("holder", l.Holder); err != nil {
			return leaseData{}, fmt.Errorf("lease znode: %w", err)
		}
	}
	if err := check.Epoch(l.Epoch); err != nil {
		return leaseData{}, fmt.Errorf("lease znode: %w", err)
	}
	if l.TTLms < 0 || l.TTLms > maxTTLms {
		return leaseData{}, fmt.Errorf("lease znode: ttl %dms out of range", l.TTLms)
	}
	return l, nil
}

// memberData is a member znode's data: the node's info and the liveness
// window of its last heartbeat, which was at the znode's mtime.
type memberData struct {
	ID        string `json:"id"`
	APIAddr   string `json:"api_addr"`
	ReplAddr  string `json:"repl_addr"`
	DataAddr  string `json:"data_addr"`
	StartedMs int64  `json:"started_ms"` // 0 for a zero StartedAt
	InSync    string `json:"in_sync"`
	LiveForMs int64  `json:"live_for_ms"`
}

func encodeMember(m memberData) []byte {
	b, _ := json.Marshal(m)
	return b
}

func decodeMember(b []byte) (memberData, error) {
	var m memberData
	if err := json.Unmarshal(b, &m); err != nil {
		return memberData{}, fmt.Errorf("member znode: %w", err)
	}
	n := coord.NodeInfo{ID: m.ID, APIAddr: m.APIAddr, ReplAddr: m.ReplAddr, DataAddr: m.DataAddr, InSync: m.InSync}
	if err := check.Node(n); err != nil {
		return memberData{}, fmt.Errorf("member znode: %w", err)
	}
	if m.LiveForMs <= 0 || m.LiveForMs > maxTTLms {
		return memberData{}, fmt.Errorf("member znode: liveness window %dms out of range", m.LiveForMs)
	}
	return m, nil
}

// appHeader starts an app znode's data, on one line; the app text follows
// byte for byte. A tombstone (a deleted app) has no text.
type appHeader struct {
	Hash    string `json:"hash"`
	Deleted bool   `json:"deleted,omitempty"`
}

func encodeApp(h appHeader, text []byte) []byte {
	b, _ := json.Marshal(h)
	b = append(b, '\n')
	return append(b, text...)
}

func decodeApp(b []byte) (appHeader, []byte, error) {
	line, text, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return appHeader{}, nil, fmt.Errorf("app znode: no header line")
	}
	var h appHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return appHeader{}, nil, fmt.Errorf("app znode header: %w", err)
	}
	if h.Deleted {
		if len(text) != 0 || h.Hash != "" {
			return appHeader{}, nil, fmt.Errorf("app znode: a tombstone with a text or hash")
		}
		return h, nil, nil
	}
	if got := coord.AppHash(text); got != h.Hash {
		return appHeader{}, nil, fmt.Errorf("app znode: stored hash %.12q does not match the text's %.12s", h.Hash, got)
	}
	return h, text, nil
}

// escape turns an id or name (valid UTF-8 without NUL, see check.ID) into
// a znode name: bytes other than ASCII letters, digits and -_.:@+,= become
// %XX, as do '%' itself and a leading '.', so that no name is "." or "..".
// The escaping is one to one.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safe(c) && (c != '.' || i > 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func safe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.:@+,=", c) >= 0
}

// unescape reverses escape. It accepts only what escape produces, so a
// znode created by hand under the group cannot alias another name.
func unescape(name string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(name) {
			return "", fmt.Errorf("znode name %q: truncated escape", name)
		}
		v, ok := unhex(name[i+1], name[i+2])
		if !ok {
			return "", fmt.Errorf("znode name %q: bad escape %q", name, name[i:i+3])
		}
		b.WriteByte(v)
		i += 2
	}
	s := b.String()
	if escape(s) != name {
		return "", fmt.Errorf("znode name %q is not an escaped name", name)
	}
	return s, nil
}

func unhex(hi, lo byte) (byte, bool) {
	h, ok1 := hexDigit(hi)
	l, ok2 := hexDigit(lo)
	return h<<4 | l, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// checkRoot checks the root znode path given in Options: absolute, no
// trailing slash, no empty, "." or ".." component, nothing ZooKeeper
// refuses, and not inside ZooKeeper's own /zookeeper.
func checkRoot(root string) error {
	if !strings.HasPrefix(root, "/") || root == "/" || strings.HasSuffix(root, "/") {
		return fmt.Errorf("root %q: want an absolute znode path like /tandem", root)
	}
	if root == "/zookeeper" || strings.HasPrefix(root, "/zookeeper/") {
		return fmt.Errorf("root %q: /zookeeper is ZooKeeper's own", root)
	}
	if err := check.Text("root", root, 1000); err != nil {
		return err
	}
	for _, c := range strings.Split(root[1:], "/") {
		if err := checkName(c); err != nil {
			return fmt.Errorf("root %q: %w", root, err)
		}
	}
	return nil
}

// checkName checks one component of a znode path as ZooKeeper's PathUtils
// does.
func checkName(c string) error {
	if c == "" || c == "." || c == ".." {
		return fmt.Errorf("empty, . or .. component")
	}
	for _, r := range c {
		if r == '/' || r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0xd800 && r <= 0xf8ff) || (r >= 0xfff0 && r <= 0xffff) {
			return fmt.Errorf("character %U is not allowed in a znode name", r)
		}
	}
	return nil
}
