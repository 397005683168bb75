// Package check validates what callers hand to a coordination backend, with
// the same rules and messages in every backend: ids and strings end up in
// database columns and znode names, and bad ones must get a clear error
// rather than a truncation or a mangled path.
package check

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tandem-stream/tandem/cluster/coord"
)

// Limits on stored strings, in bytes.
const (
	MaxIDLen   = 200 // node ids, group and app names
	MaxTextLen = 255 // addresses, digests
)

// ID checks a node id or group name: not empty, at most MaxIDLen bytes of
// UTF-8 without NUL.
func ID(what, id string) error {
	if id == "" {
		return fmt.Errorf("empty %s", what)
	}
	return Text(what, id, MaxIDLen)
}

// Text checks a string of at most max bytes of UTF-8 without NUL.
func Text(what, v string, max int) error {
	if len(v) > max {
		return fmt.Errorf("%s %.20q...: longer than %d bytes", what, v, max)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s %q: not valid UTF-8", what, v)
	}
	if strings.ContainsRune(v, 0) {
		return fmt.Errorf("%s %q: contains a NUL byte", what, v)
	}
	return nil
}

// Node checks what a node publishes with its heartbeat.
func Node(n coord.NodeInfo) error {
	if err := ID("node id", n.ID); err != nil {
		return err
	}
	for _, f := range []struct{ what, v string }{
		{"API address", n.APIAddr}, {"replication address", n.ReplAddr},
		{"data address", n.DataAddr}, {"in-sync marker", n.InSync},
	} {
		if err := Text(f.what, f.v, MaxTextLen); err != nil {
			return fmt.Errorf("node %q: %w", n.ID, err)
		}
	}
	return nil
}

// Duration checks a lease ttl or liveness window: at least a millisecond
// (the stores count in milliseconds) and at most a year.
func Duration(what string, d time.Duration) error {
	if d < time.Millisecond {
		return fmt.Errorf("%s %v: must be at least 1ms", what, d)
	}
	if d > 365*24*time.Hour {
		return fmt.Errorf("%s %v: must be at most a year", what, d)
	}
	return nil
}

// Epoch checks that an epoch fits the stores' signed 64-bit columns.
func Epoch(epoch uint64) error {
	if epoch > 1<<63-1 {
		return fmt.Errorf("epoch %d out of range", epoch)
	}
	return nil
}

// App checks an app name and text for coord.AppStore.PutApp.
func App(name string, text []byte) error {
	if err := ID("app name", name); err != nil {
		return err
	}
	if len(text) > coord.MaxAppSize {
		return fmt.Errorf("app %q: text of %d bytes is larger than %d", name, len(text), coord.MaxAppSize)
	}
	return nil
}
