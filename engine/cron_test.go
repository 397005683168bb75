package engine

import (
	"testing"
	"time"
)

func TestCronNext(t *testing.T) {
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	tests := []struct {
		expr, from, want string
	}{
		{"*/5 * * * * ?", "2023-11-14T22:13:20Z", "2023-11-14T22:13:25Z"},
		{"*/5 * * * * ?", "2023-11-14T22:13:21.5Z", "2023-11-14T22:13:25Z"},
		{"0 0 12 * * ?", "2023-11-14T12:00:00Z", "2023-11-15T12:00:00Z"},
		{"0 15 10 ? * MON-FRI", "2023-11-17T11:00:00Z", "2023-11-20T10:15:00Z"}, // Friday to Monday
		{"0 0 0 1 JAN ? 2030", "2023-01-01T00:00:00Z", "2030-01-01T00:00:00Z"},
		{"10,20 * * * * ?", "2023-11-14T22:13:15Z", "2023-11-14T22:13:20Z"},
		{"0 0-10/5 * * * ?", "2023-11-14T22:06:00Z", "2023-11-14T22:10:00Z"},
		{"0 0 0 29 2 ?", "2023-03-01T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"0 0 0 1 * 1", "2023-01-02T00:00:00Z", "2023-10-01T00:00:00Z"}, // the 1st and a Sunday
	}
	for _, tc := range tests {
		c, err := parseCron(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got := c.next(at(tc.from)); got != at(tc.want) {
			t.Errorf("%s after %s: %s, want %s", tc.expr, tc.from, time.UnixMilli(got).UTC().Format(time.RFC3339), tc.want)
		}
	}
	if c, _ := parseCron("0 0 0 30 2 ?"); c.next(0) != maxInt64 {
		t.Error("February 30th fires")
	}
}

const maxInt64 = int64(^uint64(0) >> 1)

func TestCronErrors(t *testing.T) {
	for _, s := range []string{"", "* * * * *", "60 * * * * ?", "* * * * 13 ?", "*/0 * * * * ?",
		"a * * * * ?", "5-1 * * * * ?", "* * * * * FOO", "0 0 0 L * ?", "* * * * * ? 1800"} {
		if _, err := parseCron(s); err == nil {
			t.Errorf("parseCron(%q): no error", s)
		}
	}
}

func FuzzCron(f *testing.F) {
	for _, s := range []string{"*/5 * * * * ?", "0 15 10 ? * MON-FRI", "0 0 0 1 JAN ? 2030", "1,2-9/3 * * * * ?"} {
		f.Add(s, int64(1_700_000_000_000))
	}
	f.Fuzz(func(t *testing.T, s string, from int64) {
		c, err := parseCron(s)
		if err != nil {
			return
		}
		if n := c.next(from); n <= from {
			t.Fatalf("%q: next(%d) = %d", s, from, n)
		}
	})
}
