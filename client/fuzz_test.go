package client

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseNode(f *testing.F) {
	for _, s := range []string{"127.0.0.1:9091", "https://a.example:1/", "[::1]:80", ":9091", "a", "http://", "ftp://a:1",
		"http://u@a:1", "a:65536", "http://a:1?x", " a:1 ", "[fe80::1%eth0]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		n, err := parseNode(addr)
		if err != nil {
			return
		}
		u, err := url.Parse(n.base)
		if err != nil {
			t.Fatalf("parseNode(%q) gave base %q that does not parse: %v", addr, n.base, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" || u.Path != "" {
			t.Fatalf("parseNode(%q) gave base %q", addr, n.base)
		}
		// The base must be a prefix a path can be appended to.
		if _, err := url.Parse(n.base + "/api/v1/ha/status"); err != nil {
			t.Fatalf("status URL of %q: %v", addr, err)
		}
	})
}

func FuzzDataURL(f *testing.F) {
	for _, s := range []string{"10.0.0.1:8281", ":8281", "0.0.0.0:1", "[::]:2", "h", "h:", "h:0", "[::1]:99999", "a b:1"} {
		f.Add("10.1.2.3:9091", s)
	}
	f.Fuzz(func(t *testing.T, admin, dataAddr string) {
		n, err := parseNode(admin)
		if err != nil {
			return
		}
		u, err := dataURL(n, dataAddr)
		if err != nil {
			return
		}
		p, err := url.Parse(u + "/trades")
		if err != nil {
			t.Fatalf("dataURL(%q, %q) = %q does not parse: %v", admin, dataAddr, u, err)
		}
		if p.Scheme != "http" || p.Hostname() == "" || p.Port() == "" || p.Path != "/trades" {
			t.Fatalf("dataURL(%q, %q) = %q", admin, dataAddr, u)
		}
	})
}

func FuzzErrorMessage(f *testing.F) {
	for _, s := range []string{`{"error":"x"}`, "text\nmore", "", "\xff", `{"error":1}`, strings.Repeat("a", 500)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := errorMessage(b)
		if !utf8.ValidString(m) {
			t.Fatalf("errorMessage(%q) = %q is not UTF-8", b, m)
		}
	})
}
