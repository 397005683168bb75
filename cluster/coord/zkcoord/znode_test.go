package zkcoord

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/coord/internal/check"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a", "a"},
		{"node-1.example.com:8080", "node-1.example.com:8080"},
		{".", "%2E"},
		{"..", "%2E."},
		{".hidden", "%2Ehidden"},
		{"a/b", "a%2Fb"},
		{"50%", "50%25"},
		{"ä", "%C3%A4"},
		{"a b", "a%20b"},
		{"zookeeper", "zookeeper"},
	} {
		got := escape(tc.in)
		if got != tc.want {
			t.Errorf("escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
		back, err := unescape(got)
		if err != nil || back != tc.in {
			t.Errorf("unescape(%q) = %q, %v; want %q", got, back, err, tc.in)
		}
	}
	for _, bad := range []string{"%", "%2", "%zz", "%2e", "a%2Fb%", "%61", "a b", ".", "%2E%2E"} {
		if s, err := unescape(bad); err == nil {
			t.Errorf("unescape(%q) = %q, want an error", bad, s)
		}
	}
}

// FuzzEscape checks that escaped names are valid znode names, that the
// escaping is one to one, and that unescape accepts only its output.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"a", ".", "..", "a/b", "%", "%25", "ä", "\x00", "\xff", "%2E", "zookeeper"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := escape(s)
		if s != "" {
			if err := checkName(e); err != nil {
				t.Fatalf("escape(%q) = %q: %v", s, e, err)
			}
		}
		back, err := unescape(e)
		if err != nil || back != s {
			t.Fatalf("unescape(escape(%q)) = %q, %v", s, back, err)
		}
		if u, err := unescape(s); err == nil && escape(u) != s {
			t.Fatalf("unescape(%q) = %q, which escapes to %q", s, u, escape(u))
		}
	})
}

func TestCodecs(t *testing.T) {
	l := leaseData{Holder: "ä", Epoch: 7, TTLms: 1500}
	if got, err := decodeLease(encodeLease(l)); err != nil || got != l {
		t.Fatalf("lease round trip = %+v, %v", got, err)
	}
	m := memberData{ID: "a", APIAddr: "[::1]:1", ReplAddr: "x:2", DataAddr: "", StartedMs: 12, InSync: "d", LiveForMs: 3}
	if got, err := decodeMember(encodeMember(m)); err != nil || got != m {
		t.Fatalf("member round trip = %+v, %v", got, err)
	}
	text := []byte("line 1\nline 2\n\x00\xff")
	h, got, err := decodeApp(encodeApp(appHeader{Hash: coord.AppHash(text)}, text))
	if err != nil || !bytes.Equal(got, text) || h.Deleted {
		t.Fatalf("app round trip = %+v %q, %v", h, got, err)
	}
	if h, _, err := decodeApp(encodeApp(appHeader{Deleted: true}, nil)); err != nil || !h.Deleted {
		t.Fatalf("tombstone round trip = %+v, %v", h, err)
	}
	for _, bad := range []string{``, `{}x`, `{"holder":"\u0000"}`, `{"epoch":-1}`, `{"epoch":9223372036854775808}`,
		`{"ttl_ms":-1}`, `{"ttl_ms":99999999999999}`, `[]`} {
		if _, err := decodeLease([]byte(bad)); err == nil {
			t.Errorf("decodeLease(%q) accepted", bad)
		}
	}
	for _, bad := range []string{``, `{}`, `{"id":"a"}`, `{"id":"a","live_for_ms":1,"api_addr":"\u0000"}`, `{"id":"","live_for_ms":1}`} {
		if _, err := decodeMember([]byte(bad)); err == nil {
			t.Errorf("decodeMember(%q) accepted", bad)
		}
	}
	for _, bad := range []string{``, `{"hash":""}`, "{\"hash\":\"00\"}\ntext", "{\"deleted\":true}\ntext", "x\n"} {
		if _, _, err := decodeApp([]byte(bad)); err == nil {
			t.Errorf("decodeApp(%q) accepted", bad)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the znode decoders: they must never
// panic, and whatever they accept must encode back to an equal value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"holder":"a","epoch":1,"ttl_ms":10}`, `{"holder":""}`,
		`{"id":"a","api_addr":"x","live_for_ms":5}`,
		"{\"hash\":\"" + coord.AppHash([]byte("t")) + "\"}\nt", "{\"deleted\":true}\n",
		"", "{", "\xff", `{"holder":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if l, err := decodeLease(b); err == nil {
			if l.Holder != "" && (!utf8.ValidString(l.Holder) || len(l.Holder) > check.MaxIDLen) {
				t.Fatalf("decodeLease accepted holder %q", l.Holder)
			}
			if back, err := decodeLease(encodeLease(l)); err != nil || back != l {
				t.Fatalf("lease %+v does not round-trip: %+v, %v", l, back, err)
			}
		}
		if m, err := decodeMember(b); err == nil {
			if back, err := decodeMember(encodeMember(m)); err != nil || back != m {
				t.Fatalf("member %+v does not round-trip: %+v, %v", m, back, err)
			}
		}
		if h, text, err := decodeApp(b); err == nil {
			h2, text2, err := decodeApp(encodeApp(h, text))
			if err != nil || h2 != h || !bytes.Equal(text, text2) {
				t.Fatalf("app %+v %q does not round-trip: %+v %q, %v", h, text, h2, text2, err)
			}
		}
	})
}
