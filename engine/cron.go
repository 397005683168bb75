package engine

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// cronSchedule is a Quartz cron expression, as Siddhi's cron window takes:
// seconds, minutes, hours, day of month, month, day of week and an optional
// year, each `*`, `?`, a value, a range `a-b`, a step `a/n` or `a-b/n` or
// `*/n`, or a list of those. Months and days of the week may be named (JAN,
// MON); days of the week count from 1 = Sunday. Quartz's L, W and # are not
// supported. Times are UTC.
type cronSchedule struct {
	sec, min, hour uint64 // bit i set: value i matches
	dom            uint64 // 1..31
	month          uint64 // 1..12
	dow            uint64 // 1..7, Sunday = 1
	domAny, dowAny bool   // `*` or `?`
	years          map[int]bool
}

var cronMonths = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
var cronDays = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

func parseCron(s string) (*cronSchedule, error) {
	f := strings.Fields(s)
	if len(f) != 6 && len(f) != 7 {
		return nil, fmt.Errorf("cron expression '%s' needs 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), found %d", s, len(f))
	}
	c := &cronSchedule{}
	var err error
	fields := []struct {
		dst    *uint64
		lo, hi int
		names  []string
		what   string
	}{
		{&c.sec, 0, 59, nil, "seconds"},
		{&c.min, 0, 59, nil, "minutes"},
		{&c.hour, 0, 23, nil, "hours"},
		{&c.dom, 1, 31, nil, "day of month"},
		{&c.month, 1, 12, cronMonths, "month"},
		{&c.dow, 1, 7, cronDays, "day of week"},
	}
	for i, fd := range fields {
		if *fd.dst, err = cronField(f[i], fd.lo, fd.hi, fd.names); err != nil {
			return nil, fmt.Errorf("cron expression '%s': %s: %w", s, fd.what, err)
		}
	}
	c.domAny = f[3] == "*" || f[3] == "?"
	c.dowAny = f[5] == "*" || f[5] == "?"
	if len(f) == 7 && f[6] != "*" && f[6] != "?" {
		c.years = map[int]bool{}
		for _, part := range strings.Split(f[6], ",") {
			lo, hi, step, err := cronRange(part, 1970, 2199, nil)
			if err != nil {
				return nil, fmt.Errorf("cron expression '%s': year: %w", s, err)
			}
			for y := lo; y <= hi; y += step {
				c.years[y] = true
			}
		}
	}
	return c, nil
}

func cronField(s string, lo, hi int, names []string) (uint64, error) {
	if s == "*" || s == "?" {
		var m uint64
		for i := lo; i <= hi; i++ {
			m |= 1 << i
		}
		return m, nil
	}
	var m uint64
	for _, part := range strings.Split(s, ",") {
		a, b, step, err := cronRange(part, lo, hi, names)
		if err != nil {
			return 0, err
		}
		for i := a; i <= b; i += step {
			m |= 1 << i
		}
	}
	return m, nil
}

// cronRange parses one `v`, `a-b`, `*/n`, `a/n` or `a-b/n`.
func cronRange(s string, lo, hi int, names []string) (a, b, step int, err error) {
	step = 1
	base, hasStep := s, false
	if i := strings.IndexByte(s, '/'); i >= 0 {
		step, err = strconv.Atoi(s[i+1:])
		if err != nil || step <= 0 {
			return 0, 0, 0, fmt.Errorf("bad step in '%s'", s)
		}
		base, hasStep = s[:i], true
	}
	if base == "*" || base == "?" {
		return lo, hi, step, nil
	}
	if j := strings.IndexByte(base, '-'); j > 0 {
		if a, err = cronValue(base[:j], lo, hi, names); err != nil {
			return 0, 0, 0, err
		}
		if b, err = cronValue(base[j+1:], lo, hi, names); err != nil {
			return 0, 0, 0, err
		}
		if b < a {
			return 0, 0, 0, fmt.Errorf("range '%s' ends before it starts", base)
		}
		return a, b, step, nil
	}
	if a, err = cronValue(base, lo, hi, names); err != nil {
		return 0, 0, 0, err
	}
	if hasStep {
		return a, hi, step, nil
	}
	return a, a, step, nil
}

func cronValue(s string, lo, hi int, names []string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return lo + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("'%s' is not a number%s", s, map[bool]string{true: " or a name", false: ""}[names != nil])
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d is out of range %d-%d", v, lo, hi)
	}
	return v, nil
}

// cronHorizon bounds the search for the next firing: a schedule that does
// not fire within it (say, February 30th) never fires.
const cronHorizon = 8 * 366

// cronLastSecond is the end of year 9999: a schedule has no firings later
// than that, which keeps the millisecond arithmetic far from overflowing.
const cronLastSecond = 253402300799

// next returns the first firing strictly after t (milliseconds since the
// epoch), or the largest time when there is none.
func (c *cronSchedule) next(t int64) int64 {
	sec := t / 1000
	if t%1000 < 0 {
		sec--
	}
	sec++ // firings are on whole seconds, strictly after t
	if sec > cronLastSecond {
		return math.MaxInt64
	}
	start := time.Unix(sec, 0).UTC()
	day := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	from := start.Hour()*3600 + start.Minute()*60 + start.Second()
	for n := 0; n < cronHorizon; n++ {
		if c.dayMatches(day) {
			if tod, ok := c.timeOfDay(from); ok {
				if s := day.Unix() + int64(tod); s <= cronLastSecond {
					return s * 1000
				}
				return math.MaxInt64
			}
		}
		day = day.AddDate(0, 0, 1)
		from = 0
	}
	return math.MaxInt64
}

func (c *cronSchedule) dayMatches(d time.Time) bool {
	if c.years != nil && !c.years[d.Year()] {
		return false
	}
	if c.month&(1<<int(d.Month())) == 0 {
		return false
	}
	domOK := c.dom&(1<<d.Day()) != 0
	dowOK := c.dow&(1<<(int(d.Weekday())+1)) != 0
	switch {
	case c.domAny && c.dowAny:
		return true
	case c.domAny:
		return dowOK
	case c.dowAny:
		return domOK
	}
	return domOK && dowOK
}

// timeOfDay returns the first matching second of the day at or after from.
func (c *cronSchedule) timeOfDay(from int) (int, bool) {
	for h := from / 3600; h < 24; h++ {
		if c.hour&(1<<h) == 0 {
			continue
		}
		m0 := 0
		if h == from/3600 {
			m0 = from % 3600 / 60
		}
		for m := m0; m < 60; m++ {
			if c.min&(1<<m) == 0 {
				continue
			}
			s0 := 0
			if h == from/3600 && m == from%3600/60 {
				s0 = from % 60
			}
			for s := s0; s < 60; s++ {
				if c.sec&(1<<s) != 0 {
					return h*3600 + m*60 + s, true
				}
			}
		}
	}
	return 0, false
}
