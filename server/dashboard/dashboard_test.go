package dashboard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

func TestHandlerServes(t *testing.T) {
	h := Handler()
	tests := []struct {
		method, path string
		code         int
		ctype        string
		contains     string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "<!DOCTYPE html>"},
		{"GET", "/assets/dashboard.css", 200, "text/css; charset=utf-8", ".nodes"},
		{"GET", "/assets/dashboard.js", 200, "text/javascript; charset=utf-8", "/api/v1/ha/status"},
		{"GET", "/assets/icon.svg", 200, "image/svg+xml", "<svg"},
		{"HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/index.html", 404, "", ""},
		{"GET", "/assets/", 404, "", ""},
		{"GET", "/assets/nope.js", 404, "", ""},
		{"GET", "/assets/../assets/dashboard.js", 404, "", ""},
		{"GET", "/api/v1/unknown", 404, "", ""},
		{"POST", "/", 405, "", ""},
		{"DELETE", "/assets/dashboard.js", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := get(t, h, tt.method, tt.path, nil)
			b := body(t, res)
			if res.StatusCode != tt.code {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.code)
			}
			if tt.code != 200 {
				if tt.code == 405 && res.Header.Get("Allow") != "GET, HEAD" {
					t.Errorf("Allow = %q, want %q", res.Header.Get("Allow"), "GET, HEAD")
				}
				return
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if res.Header.Get("ETag") == "" {
				t.Error("no ETag")
			}
			if tt.method == "HEAD" {
				if b != "" {
					t.Errorf("HEAD answered a body of %d bytes", len(b))
				}
				if res.Header.Get("Content-Length") == "" || res.Header.Get("Content-Length") == "0" {
					t.Errorf("HEAD Content-Length = %q", res.Header.Get("Content-Length"))
				}
				return
			}
			if !strings.Contains(b, tt.contains) {
				t.Errorf("body does not contain %q", tt.contains)
			}
		})
	}
}

func TestHandlerRevalidates(t *testing.T) {
	h := Handler()
	first := get(t, h, "GET", "/assets/dashboard.js", nil)
	etag := first.Header.Get("ETag")
	if cc := first.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control = %q, want no-cache", cc)
	}
	again := get(t, h, "GET", "/assets/dashboard.js", map[string]string{"If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("with If-None-Match %s: status %d, want 304", etag, again.StatusCode)
	}
	if other := get(t, h, "GET", "/assets/dashboard.css", nil).Header.Get("ETag"); other == etag {
		t.Errorf("two files share the ETag %s", etag)
	}
}

func TestPageHasSecurityPolicy(t *testing.T) {
	csp := get(t, Handler(), "GET", "/", nil).Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
}

// refs returns every URL the page names in an attribute, with the tag.
func refs(t *testing.T, page string) [][2]string {
	t.Helper()
	var out [][2]string
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("tokenize: %v", z.Err())
			}
			return out
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			for _, a := range tok.Attr {
				if a.Key == "src" || a.Key == "href" || a.Key == "action" || a.Key == "srcset" || a.Key == "poster" {
					out = append(out, [2]string{tok.Data, a.Val})
				}
			}
		}
	}
}

func TestPageReferencesOnlyLocalAssets(t *testing.T) {
	h := Handler()
	page := body(t, get(t, h, "GET", "/", nil))
	want := map[string]string{ // every asset the page loads, and its type
		"assets/dashboard.css": "text/css; charset=utf-8",
		"assets/dashboard.js":  "text/javascript; charset=utf-8",
		"assets/icon.svg":      "image/svg+xml",
	}
	seen := map[string]bool{}
	for _, r := range refs(t, page) {
		tag, u := r[0], r[1]
		if strings.Contains(u, ":") || strings.HasPrefix(u, "//") {
			t.Errorf("<%s> names %q, which is not on this node", tag, u)
			continue
		}
		if tag == "a" {
			continue // links to the node's own API, followed only on a click
		}
		ctype, ok := want[u]
		if !ok {
			t.Errorf("<%s> loads %q, which is not one of the page's assets", tag, u)
			continue
		}
		seen[u] = true
		res := get(t, h, "GET", "/"+u, nil)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != ctype {
			t.Errorf("%s: status %d, type %q; want 200, %q", u, res.StatusCode, res.Header.Get("Content-Type"), ctype)
		}
	}
	for u := range want {
		if !seen[u] {
			t.Errorf("the page does not load %s", u)
		}
	}

	// The style sheet and the script may not load anything from elsewhere
	// either: no absolute URLs, no imports, no url() at all.
	external := regexp.MustCompile(`(?i:\b(?:https?|wss?|ftp):\\?/\\?/|@import)|\burl\(|\bimport\s*\(|importScripts`)
	for _, name := range []string{"/assets/dashboard.css", "/assets/dashboard.js"} {
		if m := external.FindString(body(t, get(t, h, "GET", name, nil))); m != "" {
			t.Errorf("%s contains %q: it must load nothing from elsewhere", name, m)
		}
	}
}

func TestPageParses(t *testing.T) {
	page := body(t, get(t, Handler(), "GET", "/", nil))
	if !strings.HasPrefix(page, "<!DOCTYPE html>\n") {
		t.Error("the page does not start with <!DOCTYPE html>")
	}

	// The tokenizer accepts anything, so check the structure by hand: every
	// element that is not void is closed, in order, and ids are unique.
	void := map[atom.Atom]bool{atom.Meta: true, atom.Link: true, atom.Br: true, atom.Img: true, atom.Input: true, atom.Hr: true}
	var stack []string
	ids := map[string]bool{}
	z := html.NewTokenizer(strings.NewReader(page))
	for done := false; !done; {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("tokenize: %v", z.Err())
			}
			done = true
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			for _, a := range tok.Attr {
				if a.Key == "id" {
					if ids[a.Val] {
						t.Errorf("id %q is used twice", a.Val)
					}
					ids[a.Val] = true
				}
			}
			if tt == html.StartTagToken && !void[tok.DataAtom] {
				stack = append(stack, tok.Data)
			}
		case html.EndTagToken:
			tok := z.Token()
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				t.Fatalf("</%s> closes nothing open; open: %v", tok.Data, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Errorf("elements left open: %v", stack)
	}

	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var (
		lang, title string
		h1          int
		landmarks   []string
	)
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Html:
				for _, a := range n.Attr {
					if a.Key == "lang" {
						lang = a.Val
					}
				}
			case atom.Title:
				if n.FirstChild != nil {
					title = n.FirstChild.Data
				}
			case atom.H1:
				h1++
			case atom.Header, atom.Main, atom.Footer:
				landmarks = append(landmarks, n.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if lang == "" {
		t.Error("<html> has no lang")
	}
	if strings.TrimSpace(title) == "" {
		t.Error("no <title>")
	}
	if h1 != 1 {
		t.Errorf("%d <h1> elements, want 1", h1)
	}
	if !slices.Equal(landmarks, []string{"header", "main", "footer"}) {
		t.Errorf("landmarks %v, want header, main, footer", landmarks)
	}

	// Every element the script looks up by id must be on the page.
	js := body(t, get(t, Handler(), "GET", "/assets/dashboard.js", nil))
	lookups := regexp.MustCompile(`getElementById\('([^']+)'\)|querySelector\('#([A-Za-z0-9_-]+)`).FindAllStringSubmatch(js, -1)
	if len(lookups) == 0 {
		t.Fatal("found no element lookups in the script")
	}
	for _, m := range lookups {
		id := m[1] + m[2]
		if !ids[id] {
			t.Errorf("the script looks up #%s, which the page does not have", id)
		}
	}
}

// The node mounts the page at "/" beside its API: the page must not hide the
// API's routes, and the API's paths must not reach the page.
func TestMountedBesideAPI(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/ha/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"node":"a"}`)
	})
	mux.Handle("/", Handler())
	tests := []struct {
		path  string
		code  int
		ctype string
	}{
		{"/", 200, "text/html; charset=utf-8"},
		{"/assets/dashboard.js", 200, "text/javascript; charset=utf-8"},
		{"/api/v1/ha/status", 200, "application/json"},
		{"/api/v1/nope", 404, "text/plain; charset=utf-8"},
		{"/favicon.ico", 404, "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		res := get(t, mux, "GET", tt.path, nil)
		if res.StatusCode != tt.code || res.Header.Get("Content-Type") != tt.ctype {
			t.Errorf("GET %s: %d %q, want %d %q", tt.path, res.StatusCode, res.Header.Get("Content-Type"), tt.code, tt.ctype)
		}
	}
}
