package zktest

import (
	"errors"
	"testing"
)

func TestNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := Start(t.Context(), t.TempDir(), Options{}); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start without java = %v, want ErrNotInstalled", err)
	}
}

func TestClassPathOverride(t *testing.T) {
	t.Setenv("TANDEM_ZOOKEEPER_CLASSPATH", "/x/*")
	if cp, err := ClassPath(); err != nil || cp != "/x/*" {
		t.Fatalf("ClassPath() = %q, %v", cp, err)
	}
}

// TestStartStop starts a server, restarts it and stops it; the server is
// serving after each start.
func TestStartStop(t *testing.T) {
	var sh Shared
	defer sh.Stop()
	srv := sh.Server(t)
	if !serving(srv.Addr()) {
		t.Fatal("not serving after Start")
	}
	if err := srv.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !serving(srv.Addr()) {
		t.Fatal("not serving after Restart")
	}
	srv.Stop()
	if serving(srv.Addr()) {
		t.Fatal("still serving after Stop")
	}
}
