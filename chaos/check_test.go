package chaos

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseOutput(t *testing.T) {
	good := `{"event":{"seq":12,"symbol":"INITECH","price":44.5,"total":734}}`
	tests := []struct {
		name, id, epoch, body string
		want                  Output
		err                   string
	}{
		{name: "ok", id: "Trades/BigTrades/0/7", epoch: "3", body: good,
			want: Output{ID: "Trades/BigTrades/0/7", Ordinal: 7, Epoch: 3, Seq: 12, Key: "12|INITECH|734"}},
		{name: "no key", id: "", epoch: "1", body: good, err: "Idempotency-Key"},
		{name: "no prefix", id: "7", epoch: "1", body: good, err: "not app/sink/ordinal"},
		{name: "ordinal zero", id: "a/b/0", epoch: "1", body: good, err: "positive"},
		{name: "ordinal text", id: "a/b/x", epoch: "1", body: good, err: "positive"},
		{name: "no epoch", id: "a/b/1", epoch: "", body: good, err: "X-Tandem-Epoch"},
		{name: "epoch zero", id: "a/b/1", epoch: "0", body: good, err: "X-Tandem-Epoch"},
		{name: "not json", id: "a/b/1", epoch: "1", body: "{", err: "body"},
		{name: "no event", id: "a/b/1", epoch: "1", body: `{"seq":1}`, err: "want"},
		{name: "no total", id: "a/b/1", epoch: "1", body: `{"event":{"seq":1,"symbol":"A"}}`, err: "want"},
		{name: "negative seq", id: "a/b/1", epoch: "1", body: `{"event":{"seq":-1,"symbol":"A","total":1}}`, err: "seq"},
		{name: "fractional total", id: "a/b/1", epoch: "1", body: `{"event":{"seq":1,"symbol":"A","total":1.5}}`, err: "total"},
		{name: "two values", id: "a/b/1", epoch: "1", body: good + good, err: "more than one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOutput(tt.id, tt.epoch, []byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseOutput(f *testing.F) {
	f.Add("Trades/BigTrades/0/7", "3", []byte(`{"event":{"seq":12,"symbol":"INITECH","price":44.5,"total":734}}`))
	f.Add("/1", "1", []byte(`{"event":{"seq":1e3,"symbol":"","total":-0}}`))
	f.Add("a/b/18446744073709551615", "18446744073709551616", []byte(`{"event":null}`))
	f.Add("a//2", "1", []byte(`[{"event":{}}]`))
	f.Fuzz(func(t *testing.T, id, epoch string, body []byte) {
		o, err := ParseOutput(id, epoch, body)
		if err != nil {
			return
		}
		if o.Ordinal == 0 || o.Epoch == 0 || o.Seq < 0 || o.ID != id {
			t.Fatalf("accepted %+v", o)
		}
		if !strings.HasPrefix(o.Key, strconv.FormatInt(o.Seq, 10)+"|") {
			t.Fatalf("key %q does not start with seq %d", o.Key, o.Seq)
		}
	})
}

func out(ord, epoch uint64, key string, at time.Duration) Output {
	seq, _, _ := strings.Cut(key, "|")
	var s int64
	fmt.Sscan(seq, &s)
	return Output{ID: fmt.Sprintf("Trades/BigTrades/0/%d", ord), Ordinal: ord, Epoch: epoch, Seq: s, Key: key,
		At: time.Unix(0, 0).Add(at)}
}

func TestCheck(t *testing.T) {
	ref := []string{"1|A|1", "2|B|2", "3|C|3", "4|D|4"}
	tests := []struct {
		name string
		outs []Output
		want Result
		ok   bool
		msg  string // a problem must contain this
	}{
		{name: "identical", ok: true,
			outs: []Output{out(1, 1, "1|A|1", 0), out(2, 1, "2|B|2", 1), out(3, 1, "3|C|3", 2), out(4, 1, "4|D|4", 3)},
			want: Result{Expected: 4, Received: 4}},
		{name: "repeats after a failover are duplicates", ok: true,
			outs: []Output{out(1, 1, "1|A|1", 0), out(2, 1, "2|B|2", 1), out(2, 2, "2|B|2", 2), out(3, 2, "3|C|3", 3), out(4, 2, "4|D|4", 4)},
			want: Result{Expected: 4, Received: 4, Duplicates: 1}},
		{name: "arrival order within an epoch does not matter", ok: true,
			outs: []Output{out(2, 1, "2|B|2", 0), out(1, 1, "1|A|1", 1), out(4, 1, "4|D|4", 2), out(3, 1, "3|C|3", 3)},
			want: Result{Expected: 4, Received: 4}},
		{name: "lost", msg: "ordinals 2-3 (inputs seq 2 to 3)",
			outs: []Output{out(1, 1, "1|A|1", 0), out(4, 1, "4|D|4", 1)},
			want: Result{Expected: 4, Received: 2, Lost: 2}},
		{name: "wrong content", msg: "the reference has 3|C|3",
			outs: []Output{out(1, 1, "1|A|1", 0), out(2, 1, "2|B|2", 1), out(3, 1, "3|C|9", 2), out(4, 1, "4|D|4", 3)},
			want: Result{Expected: 4, Received: 4, Wrong: 1}},
		{name: "repeat with other content", msg: "different content",
			outs: []Output{out(1, 1, "1|A|1", 0), out(2, 1, "2|B|2", 1), out(3, 1, "3|C|3", 2), out(3, 2, "3|X|3", 3), out(4, 2, "4|D|4", 4)},
			want: Result{Expected: 4, Received: 4, Duplicates: 1, Wrong: 1}},
		{name: "beyond the reference", msg: "beyond the reference",
			outs: []Output{out(1, 1, "1|A|1", 0), out(2, 1, "2|B|2", 1), out(3, 1, "3|C|3", 2), out(4, 1, "4|D|4", 3), out(5, 1, "5|E|5", 4)},
			want: Result{Expected: 4, Received: 5, Wrong: 1}},
		{name: "stale epoch", msg: "of epoch 1 arrived 2s after the first output of epoch 2",
			outs: []Output{out(1, 1, "1|A|1", 0), out(2, 2, "2|B|2", time.Second), out(3, 1, "3|C|3", 3*time.Second), out(3, 2, "3|C|3", 4*time.Second), out(4, 2, "4|D|4", 5*time.Second)},
			want: Result{Expected: 4, Received: 4, Duplicates: 1, Stale: 1}},
		{name: "nothing", msg: "ordinals 1-4",
			want: Result{Expected: 4, Lost: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(tt.outs, ref)
			problems := got.Problems
			got.Problems = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.OK() != tt.ok {
				t.Errorf("OK() = %t, want %t", got.OK(), tt.ok)
			}
			if tt.ok != (len(problems) == 0) {
				t.Errorf("problems %q", problems)
			}
			if tt.msg != "" && !strings.Contains(strings.Join(problems, "\n"), tt.msg) {
				t.Errorf("problems %q do not mention %q", problems, tt.msg)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x)*time.Millisecond)
		}
		return ds
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	tests := []struct {
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(3, 1, 2), 50, 2 * time.Millisecond},
		{ms(3, 1, 2), 100, 3 * time.Millisecond},
		{ms(hundred...), 50, 50 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 100, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Percentile(tt.ds, tt.p); got != tt.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tt.ds, tt.p, got, tt.want)
		}
	}
}

func TestReference(t *testing.T) {
	out, err := Reference(100)
	if err != nil {
		t.Fatal(err)
	}
	// seq*37 mod 100 runs through 0..99 once, so 80 of 100 prices exceed 20.
	if len(out) != 80 {
		t.Fatalf("%d outputs for 100 inputs, want 80", len(out))
	}
	if want := []string{"1|GLOBEX|13", "2|INITECH|26"}; !reflect.DeepEqual(out[:2], want) {
		t.Fatalf("first outputs %v, want %v", out[:2], want)
	}
	again, err := Reference(100)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, again) {
		t.Fatal("two reference runs differ")
	}
	if _, err := Reference(-1); err == nil {
		t.Fatal("Reference(-1) gave no error")
	}
}

func TestAppendInput(t *testing.T) {
	for _, seq := range []int64{0, 1, 17, 123456789} {
		var got struct {
			Event struct {
				Seq    int64   `json:"seq"`
				Symbol string  `json:"symbol"`
				Price  float64 `json:"price"`
				Volume int64   `json:"volume"`
			} `json:"event"`
		}
		b := appendInput(nil, seq)
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("seq %d: %s: %v", seq, b, err)
		}
		sym, price, vol := Input(seq)
		if e := got.Event; e.Seq != seq || e.Symbol != sym || e.Price != price || e.Volume != vol {
			t.Fatalf("seq %d: %s, want %s %v %d", seq, b, sym, price, vol)
		}
	}
}
