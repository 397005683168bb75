package opts

import (
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		options map[string]string
		allowed []string
		want    string // "" for no error
	}{
		{nil, nil, ""},
		{map[string]string{"a": "1"}, []string{"b", "a"}, ""},
		{map[string]string{"x": "1"}, []string{"b", "a"}, `@x: unknown option "x" (known: a, b)`},
		{map[string]string{"y": "1", "x": "2", "a": ""}, []string{"a"}, `@x: unknown options ["x" "y"] (known: a)`},
		{map[string]string{"x": "1"}, nil, `@x: unknown option "x" (known: none)`},
	}
	for _, tc := range tests {
		err := Check("@x", tc.options, tc.allowed...)
		if got := errString(err); got != tc.want {
			t.Errorf("Check(%v, %v) = %q, want %q", tc.options, tc.allowed, got, tc.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestBool(t *testing.T) {
	tests := []struct {
		val     string
		present bool
		def     bool
		want    bool
		err     string
	}{
		{"", false, true, true, ""},
		{"", false, false, false, ""},
		{"TRUE", true, false, true, ""},
		{" false ", true, true, false, ""},
		{"yes", true, true, false, `@x: option "k": "yes" is not true or false`},
	}
	for _, tc := range tests {
		m := map[string]string{}
		if tc.present {
			m["k"] = tc.val
		}
		got, err := Bool("@x", m, "k", tc.def)
		if errString(err) != tc.err || (err == nil && got != tc.want) {
			t.Errorf("Bool(%q) = %v, %v; want %v, %q", tc.val, got, err, tc.want, tc.err)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		val  string
		want time.Duration
		err  string
	}{
		{"1500", 1500 * time.Millisecond, ""},
		{"5s", 5 * time.Second, ""},
		{" 250ms ", 250 * time.Millisecond, ""},
		{"0", 0, "must be positive"},
		{"-1s", 0, "must be positive"},
		{"soon", 0, "neither milliseconds nor a duration"},
		{"9223372036854775807", 0, "too long"},
	}
	for _, tc := range tests {
		got, err := Duration("@x", map[string]string{"k": tc.val}, "k", time.Hour)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Duration(%q) error = %v, want %q", tc.val, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Duration(%q) = %v, %v; want %v", tc.val, got, err, tc.want)
		}
	}
	if got, err := Duration("@x", nil, "k", time.Hour); err != nil || got != time.Hour {
		t.Errorf("Duration(absent) = %v, %v; want default", got, err)
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		val  string
		want int64
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"512KB", 512 << 10, true},
		{"4mb", 4 << 20, true},
		{"4M", 4 << 20, true},
		{"1G", 1 << 30, true},
		{"10B", 10, true},
		{"0", 0, false},
		{"-5", 0, false},
		{"lots", 0, false},
		{"MB", 0, false},
		{"99999999999G", 0, false},
	}
	for _, tc := range tests {
		got, err := Size("@x", map[string]string{"k": tc.val}, "k", 7)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Size(%q) = %d, %v; want %d, ok=%v", tc.val, got, err, tc.want, tc.ok)
		}
	}
	if got, err := Size("@x", nil, "k", 7); err != nil || got != 7 {
		t.Errorf("Size(absent) = %d, %v; want 7", got, err)
	}
}
