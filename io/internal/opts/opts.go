// Package opts checks and parses the string options of @source, @sink and
// @map annotations, so every connector rejects misspelt or unsupported keys
// the same way instead of silently ignoring them.
package opts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Check returns an error naming every key of options that is not in allowed.
// what says where the options came from, e.g. "@sink(type='http')".
func Check(what string, options map[string]string, allowed ...string) error {
	var unknown []string
	for k := range options {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	known := "none"
	if len(allowed) > 0 {
		s := slices.Clone(allowed)
		slices.Sort(s)
		known = strings.Join(s, ", ")
	}
	if len(unknown) == 1 {
		return fmt.Errorf("%s: unknown option %q (known: %s)", what, unknown[0], known)
	}
	return fmt.Errorf("%s: unknown options %q (known: %s)", what, unknown, known)
}

// Bool parses a boolean option, returning def when it is absent.
func Bool(what string, options map[string]string, key string, def bool) (bool, error) {
	s, ok := options[key]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%s: option %q: %q is not true or false", what, key, s)
}

// Duration parses a duration option, returning def when it is absent. A bare
// integer is milliseconds, as in Siddhi's own connectors; otherwise the value
// is a Go duration such as "5s" or "250ms". The duration must be positive.
func Duration(what string, options map[string]string, key string, def time.Duration) (time.Duration, error) {
	s, ok := options[key]
	if !ok {
		return def, nil
	}
	s = strings.TrimSpace(s)
	var d time.Duration
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms > int64(time.Duration(1<<63-1)/time.Millisecond) {
			return 0, fmt.Errorf("%s: option %q: %q is too long", what, key, s)
		}
		d = time.Duration(ms) * time.Millisecond
	} else {
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%s: option %q: %q is neither milliseconds nor a duration like 5s", what, key, s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s: option %q: %q must be positive", what, key, s)
	}
	return d, nil
}

// Size parses a byte-size option, returning def when it is absent. It accepts
// a plain number of bytes or a number with a KB, MB or GB suffix (powers of
// 1024, case-insensitive, "B" optional: 4MB, 4M, 512kb). The size must be
// positive.
func Size(what string, options map[string]string, key string, def int64) (int64, error) {
	s, ok := options[key]
	if !ok {
		return def, nil
	}
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "B")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%s: option %q: %q is not a positive size such as 1048576, 512KB or 4MB", what, key, s)
	}
	return n * mult, nil
}
