package fsstore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/persist"
	"github.com/tandem-stream/tandem/persist/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, keep int) func() persist.Store {
			dir := t.TempDir()
			return func() persist.Store {
				s, err := Open(dir, keep)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		},
		Corrupt: func(t *testing.T, s persist.Store, app string, rev uint64) {
			path := filepath.Join(s.(*Store).appDir(app), revName(rev, stateExt))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) == 0 {
				t.Fatal("cannot corrupt an empty state")
			}
			data[len(data)/2] ^= 0xff
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	})
}

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func save(t *testing.T, s *Store, app string, rev uint64, state string) persist.Manifest {
	t.Helper()
	m, err := s.Save(t.Context(), persist.Manifest{App: app, Epoch: 1, LSN: rev, Revision: rev}, []byte(state))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestLayout(t *testing.T) {
	s := open(t)
	save(t, s, "my app", 1, "one")
	save(t, s, "my app", 2, "two")
	dir := filepath.Join(s.dir, "my%20app")
	want := []string{
		"00000000000000000001.json", "00000000000000000001.state",
		"00000000000000000002.json", "00000000000000000002.state",
	}
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	data, err := os.ReadFile(filepath.Join(dir, want[2]))
	if err != nil {
		t.Fatal(err)
	}
	var m persist.Manifest
	if err := json.Unmarshal(data, &m); err != nil || m.App != "my app" || m.Revision != 2 {
		t.Fatalf("manifest file = %s (%v)", data, err)
	}
}

// TestCrashLeftovers mimics a crash between writing a state and its
// manifest, and one while writing a temporary file.
func TestCrashLeftovers(t *testing.T) {
	s := open(t)
	save(t, s, "a", 1, "one")
	dir := s.appDir("a")
	must(t, os.WriteFile(filepath.Join(dir, revName(2, stateExt)), []byte("half done"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, tmpPrefix+"123"), []byte("partial"), 0o644))
	m, state, err := s.Latest(t.Context(), "a")
	if err != nil || m.Revision != 1 || string(state) != "one" {
		t.Fatalf("Latest with leftovers = rev %d %q %v, want revision 1", m.Revision, state, err)
	}
	if _, _, err := s.Load(t.Context(), "a", 2); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("Load of an unfinished revision = %v, want ErrNotFound", err)
	}
	save(t, s, "a", 3, "three")
	want := []string{revName(1, manifestExt), revName(1, stateExt), revName(3, manifestExt), revName(3, stateExt)}
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files after the next save = %v, want %v (leftovers removed)", got, want)
	}
}

func TestDamagedManifests(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"garbage", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte("{not json"), 0o644)) }},
		{"empty", func(t *testing.T, p string) { must(t, os.WriteFile(p, nil, 0o644)) }},
		{"other app", func(t *testing.T, p string) { rewrite(t, p, func(m *persist.Manifest) { m.App = "b" }) }},
		{"other revision", func(t *testing.T, p string) { rewrite(t, p, func(m *persist.Manifest) { m.Revision = 9 }) }},
		{"bad checksum", func(t *testing.T, p string) { rewrite(t, p, func(m *persist.Manifest) { m.Checksum = "xyz" }) }},
		{"huge size", func(t *testing.T, p string) { rewrite(t, p, func(m *persist.Manifest) { m.Size = 1 << 50 }) }},
		{"negative size", func(t *testing.T, p string) { rewrite(t, p, func(m *persist.Manifest) { m.Size = -1 }) }},
		{"state missing", func(t *testing.T, p string) {
			must(t, os.Remove(strings.TrimSuffix(p, manifestExt)+stateExt))
		}},
		{"state truncated", func(t *testing.T, p string) {
			must(t, os.Truncate(strings.TrimSuffix(p, manifestExt)+stateExt, 1))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			save(t, s, "a", 1, "one")
			save(t, s, "a", 2, "two")
			tc.damage(t, filepath.Join(s.appDir("a"), revName(2, manifestExt)))
			m, state, err := s.Latest(t.Context(), "a")
			if err != nil || m.Revision != 1 || string(state) != "one" {
				t.Fatalf("Latest = rev %d %q %v, want the intact revision 1", m.Revision, state, err)
			}
			if _, _, err := s.Load(t.Context(), "a", 2); !errors.Is(err, persist.ErrCorrupt) {
				t.Fatalf("Load of the damaged revision = %v, want ErrCorrupt", err)
			}
			// The store carries on: the next save works and is the latest.
			save(t, s, "a", 3, "three")
			if m, _, err := s.Latest(t.Context(), "a"); err != nil || m.Revision != 3 {
				t.Fatalf("Latest after a new save = %d, %v", m.Revision, err)
			}
		})
	}
}

func rewrite(t *testing.T, path string, f func(*persist.Manifest)) {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	var m persist.Manifest
	must(t, json.Unmarshal(data, &m))
	f(&m)
	data, err = json.Marshal(m)
	must(t, err)
	must(t, os.WriteFile(path, data, 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("", 0); err == nil {
		t.Error("Open of an empty path succeeded")
	}
	if _, err := Open(t.TempDir(), -1); err == nil {
		t.Error("Open with negative keep succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(file, nil, 0o644))
	if _, err := Open(filepath.Join(file, "sub"), 0); err == nil {
		t.Error("Open below a regular file succeeded")
	}
}

func TestAppsSkipsForeignDirs(t *testing.T) {
	s := open(t)
	save(t, s, "a", 1, "x")
	must(t, os.Mkdir(filepath.Join(s.dir, "empty"), 0o755))
	must(t, os.Mkdir(filepath.Join(s.dir, ".hidden"), 0o755))
	must(t, os.WriteFile(filepath.Join(s.dir, "file"), nil, 0o644))
	apps, err := s.Apps(context.Background())
	if err != nil || !slices.Equal(apps, []string{"a"}) {
		t.Fatalf("Apps = %v, %v; want [a]", apps, err)
	}
}

func TestEncodeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"app", "app"},
		{"My-App_2", "My-App_2"},
		{"a b", "a%20b"},
		{"../x", "%2E%2E%2Fx"},
		{".", "%2E"},
		{"x%41", "x%2541"},
		{"é", "%C3%A9"},
	} {
		if got := encodeName(tc.in); got != tc.want {
			t.Errorf("encodeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := encodeName(strings.Repeat("é", 100))
	if len(long) > maxPlainName+65 || !strings.Contains(long, "~") {
		t.Errorf("long name encoded as %q", long)
	}
}

// FuzzEncodeName checks that every app name maps to one safe file name and
// different names to different file names.
func FuzzEncodeName(f *testing.F) {
	for _, s := range []string{"", "a", ".", "..", "a/b", "%", "~", "é", strings.Repeat("x", 121), strings.Repeat("é", 60)} {
		f.Add(s, s+"x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ea, eb := encodeName(a), encodeName(b)
		for _, tc := range []struct{ name, enc string }{{a, ea}, {b, eb}} {
			if len(tc.enc) > 255 || strings.ContainsAny(tc.enc, "/\\\x00") || strings.HasPrefix(tc.enc, ".") {
				t.Fatalf("unsafe file name %q for %q", tc.enc, tc.name)
			}
			if tc.name != "" && tc.enc == "" {
				t.Fatalf("empty file name for %q", tc.name)
			}
		}
		if a != b && ea == eb {
			t.Fatalf("%q and %q both encode to %q", a, b, ea)
		}
		if len(ea) <= maxPlainName && decodeName(ea) != a {
			t.Fatalf("%q encodes to %q, which decodes to %q", a, ea, decodeName(ea))
		}
	})
}

// decodeName inverts the plain (unhashed) form of encodeName.
func decodeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			var c byte
			for _, h := range s[i+1 : i+3] {
				c <<= 4
				switch {
				case '0' <= h && h <= '9':
					c |= byte(h - '0')
				case 'A' <= h && h <= 'F':
					c |= byte(h - 'A' + 10)
				}
			}
			b.WriteByte(c)
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// FuzzDecodeManifest feeds arbitrary manifest files to the decoder: it must
// not panic, must refuse with ErrCorrupt, and what it accepts must survive
// a round trip.
func FuzzDecodeManifest(f *testing.F) {
	good, _ := json.Marshal(persist.Manifest{App: "a", Revision: 1, Size: 3,
		Checksum: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"})
	for _, s := range []string{string(good), "", "{}", "null", "[]", `{"app":"a","revision":1}`,
		`{"app":"a","revision":1,"size":-1}`, `{"app":"a","revision":18446744073709551615}`,
		`{"app":"a","revision":1,"created":"not a time"}`, string(good) + "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeManifest(data, "a", 1)
		if err != nil {
			if !errors.Is(err, persist.ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", m, err)
		}
		m2, err := decodeManifest(again, "a", 1)
		if err != nil || !m2.Created.Equal(m.Created) {
			t.Fatalf("round trip of %+v: %+v, %v", m, m2, err)
		}
	})
}

func FuzzParseRevName(f *testing.F) {
	for _, s := range []string{revName(1, stateExt), revName(1<<63, manifestExt), "1.state", "x.json",
		"99999999999999999999.json", "00000000000000000000.json", "0000000000000000000a.state"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, ext := range []string{stateExt, manifestExt} {
			rev, ok := parseRevName(name, ext)
			if ok && revName(rev, ext) != name {
				t.Fatalf("parseRevName(%q) = %d, which names %q", name, rev, revName(rev, ext))
			}
		}
	})
}
