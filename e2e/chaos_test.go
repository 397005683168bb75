package e2e

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/chaos"
)

// TestChaos is the short version of `tandem chaos`: every scenario once, on
// real processes, with short phases, against a fresh pair each. Each must
// lose nothing, publish nothing wrong or stale, and recover; the long
// version (`tandem chaos --repeat 100`) gives the figures in docs/ha.md.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes for about two minutes")
	}
	dsn := os.Getenv("TANDEM_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	for _, s := range chaos.Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			if s.Postgres {
				if err := chaos.PingPostgres(ctx, dsn); err != nil {
					if os.Getenv("TANDEM_REQUIRE_SERVICES") == "1" {
						t.Fatalf("PostgreSQL unreachable at %s: %v", dsn, err)
					}
					t.Skipf("PostgreSQL unreachable at %s: %v", dsn, err)
				}
			}
			rep := chaos.RunScenario(ctx, chaos.Options{Binary: tandemBin, Repeat: 1, Rate: 1000,
				Before: time.Second, Gap: 600 * time.Millisecond, After: time.Second, Outage: 2500 * time.Millisecond,
				Postgres: dsn, Progress: testWriter{t}}, s)
			var text bytes.Buffer
			chaos.WriteText(&text, rep)
			t.Log("\n" + text.String())
			if rep.Skipped != "" {
				if s.Postgres && os.Getenv("TANDEM_REQUIRE_SERVICES") == "1" {
					t.Fatalf("skipped: %s", rep.Skipped)
				}
				t.Skip(rep.Skipped)
			}
			for _, f := range rep.Failures {
				t.Error(f)
			}
			if rep.Sent == 0 || rep.Expected == 0 {
				t.Errorf("sent %d events, %d outputs expected: the load did not run", rep.Sent, rep.Expected)
			}
			if len(rep.RecoveryMs) == 0 {
				t.Error("no fault was followed by an output")
			}
			// The contract's bound at defaults is 3 s; the machines that run
			// this run other tests alongside, so this only catches a pair
			// that recovers but far too slowly.
			if rep.MaxMs > 10000 {
				t.Errorf("first output %v ms after the fault", rep.MaxMs)
			}
		})
	}
}
