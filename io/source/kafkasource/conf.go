package kafkasource

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ParseServers checks bootstrap.servers: a comma-separated list of host:port
// (an IPv6 host in brackets). what names the annotation in errors.
func ParseServers(what, raw string) ([]string, error) {
	var out []string
	for s := range strings.SplitSeq(raw, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "://") {
			return nil, fmt.Errorf("%s: option \"bootstrap.servers\": %q: give host:port without a scheme", what, s)
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			return nil, fmt.Errorf("%s: option \"bootstrap.servers\": %q is not host:port", what, s)
		}
		if host == "" || strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' || r == '@' }) {
			return nil, fmt.Errorf("%s: option \"bootstrap.servers\": %q has no valid host", what, s)
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return nil, fmt.Errorf("%s: option \"bootstrap.servers\": %q: bad port %q", what, s, port)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: option \"bootstrap.servers\" is required, e.g. bootstrap.servers='localhost:9092'", what)
	}
	return out, nil
}

// ValidTopic reports why name cannot be a Kafka topic, or nil: a topic has
// 1 to 249 letters, digits, '.', '_' and '-', and is not "." or "..".
func ValidTopic(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty topic name")
	case len(name) > 249:
		return fmt.Errorf("topic name %.20q... is longer than 249 characters", name)
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q may only have letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

// ParseOptional reads Siddhi's optional.configuration, a list of Kafka client
// properties "key:value,key:value". Keys are lower-cased; a key that is not
// in allowed, or given twice, is an error. what names the annotation.
func ParseOptional(what, raw string, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for item := range strings.SplitSeq(raw, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		k, v, ok := strings.Cut(item, ":")
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s: option \"optional.configuration\": %q is not key:value", what, strings.TrimSpace(item))
		}
		if !slices.Contains(allowed, k) {
			known := slices.Clone(allowed)
			slices.Sort(known)
			return nil, fmt.Errorf("%s: option \"optional.configuration\": unsupported property %q (supported: %s)", what, k, strings.Join(known, ", "))
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s: option \"optional.configuration\": property %q given twice", what, k)
		}
		out[k] = v
	}
	return out, nil
}

// Millis reads a property of optional.configuration that counts
// milliseconds, as Kafka's do, returning def when it is absent. It must be
// from 1 to max milliseconds.
func Millis(what string, props map[string]string, key string, def, max int64) (int64, error) {
	v, ok := props[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%s: optional.configuration %q: %q is not a number of milliseconds from 1 to %d", what, key, v, max)
	}
	return n, nil
}

// Logger adapts a slog.Logger for the Kafka client, which logs at warning
// level and above: its info lines (every metadata refresh, every join) are
// too many for a node's log.
func Logger(l *slog.Logger) kgo.Logger { return kgoLogger{l} }

type kgoLogger struct{ l *slog.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	case kgo.LogLevelInfo:
		lv = slog.LevelInfo
	}
	k.l.Log(context.Background(), lv, "kafka client: "+msg, keyvals...)
}
