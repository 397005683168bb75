package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAPI plays a node's app API.
func fakeAPI(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/apps":
			body, _ := io.ReadAll(r.Body)
			if strings.Contains(string(body), "broken") {
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"error":"invalid app","errors":["api:X:2:5: no attribute y"]}`)
				return
			}
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"name":"Dyn","version":3,"hash":"abcdef0123456789"}`)
		case r.Method == http.MethodDelete && r.URL.Path == "/api/v1/apps/Dyn":
			io.WriteString(w, `{"result":"undeployed"}`)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"no such app on this node: Nope"}`)
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/apps":
			io.WriteString(w, `[{"name":"Base","origin":"config","hash":"1234567890abcdef","role":"active"},{"name":"Bad","origin":"api","role":"inactive","inactive":"api:Bad:3:1: oops"}]`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAppCommands(t *testing.T) {
	srv := fakeAPI(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	dead := "127.0.0.1:1" // nothing listens: the next node is tried
	dir := t.TempDir()
	good := filepath.Join(dir, "good.siddhi")
	bad := filepath.Join(dir, "bad.siddhi")
	os.WriteFile(good, []byte("@app:name('Dyn') define stream In (x int);"), 0o644)
	os.WriteFile(bad, []byte("broken"), 0o644)

	tests := []struct {
		name        string
		run         func(args []string, stdout, stderr io.Writer) int
		args        []string
		code        int
		out, errOut string
	}{
		{"deploy", cmdDeploy, []string{"--nodes", dead + "," + addr, good}, 0, "deployed Dyn version 3 (abcdef012345)", ""},
		{"deploy invalid", cmdDeploy, []string{"--nodes", addr, bad}, 1, "", "api:X:2:5: no attribute y"},
		{"deploy no node", cmdDeploy, []string{"--nodes", dead, good}, 1, "", "no node answered"},
		{"deploy usage", cmdDeploy, []string{good}, 2, "", "Usage"},
		{"undeploy", cmdUndeploy, []string{"--nodes", addr, "Dyn"}, 0, "Dyn: undeployed", ""},
		{"undeploy unknown", cmdUndeploy, []string{"--nodes", addr, "Nope"}, 1, "", "no such app"},
		{"apps", cmdApps, []string{"--nodes", addr}, 0, "inactive  api:Bad:3:1: oops", ""},
		{"apps json", cmdApps, []string{"--nodes", addr, "--json"}, 0, `"origin": "config"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := tc.run(tc.args, &out, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("stdout %q lacks %q", out.String(), tc.out)
			}
			if !strings.Contains(errOut.String(), tc.errOut) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tc.errOut)
			}
		})
	}
}
