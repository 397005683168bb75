package chaos

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tandem-stream/tandem/engine"
	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/parser"
)

// App is the SiddhiQL app every scenario runs. It keeps a window and a
// grouped aggregate, so a node that lost or repeated an input, or restored
// the wrong state, produces visibly different totals. The receiver and
// publisher ports are placeholders; AppText fills them in.
const App = `@app:name('Trades')
-- Big trades per symbol, with the running volume of the last 10 of them.
@source(type='http', receiver.url='http://127.0.0.1:{{SOURCE_PORT}}/trades', @map(type='json'))
define stream Trades (seq long, symbol string, price double, volume long);

@sink(type='http', publisher.url='http://127.0.0.1:{{SINK_PORT}}/outputs', @map(type='json'))
define stream BigTrades (seq long, symbol string, price double, total long);

from Trades[price > 20.0]#window.length(10)
select seq, symbol, price, sum(volume) as total
group by symbol
insert into BigTrades;
`

// SourcePath is the path of the app's HTTP source.
const SourcePath = "/trades"

// AppText returns App with its ports filled in.
func AppText(sourcePort, sinkPort int) string {
	return strings.NewReplacer("{{SOURCE_PORT}}", strconv.Itoa(sourcePort),
		"{{SINK_PORT}}", strconv.Itoa(sinkPort)).Replace(App)
}

var symbols = []string{"ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI"}

// Input returns the input event number seq. The input is a pure function of
// seq, so the reference run needs nothing but the number of events sent.
func Input(seq int64) (symbol string, price float64, volume int64) {
	return symbols[seq%int64(len(symbols))], float64((seq*37)%100) + 0.5, (seq * 13) % 1000
}

// appendInput appends event seq as the JSON the app's source maps.
func appendInput(b []byte, seq int64) []byte {
	sym, price, vol := Input(seq)
	b = append(b, `{"event":{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"symbol":`...)
	b = strconv.AppendQuote(b, sym)
	b = append(b, `,"price":`...)
	b = strconv.AppendFloat(b, price, 'f', -1, 64)
	b = append(b, `,"volume":`...)
	b = strconv.AppendInt(b, vol, 10)
	return append(b, "}}"...)
}

// Reference runs App on the engine alone over the first n inputs and returns
// the outputs in order, each as the key "seq|symbol|total" that Output.Key
// also gives. The n-th element is the sink's output with ordinal n+1.
func Reference(n int) ([]string, error) {
	if n < 0 {
		return nil, fmt.Errorf("reference: %d inputs", n)
	}
	tree, err := parser.Parse("trades.siddhi", []byte(AppText(1, 1)))
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	rt, err := engine.New(tree)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	var out []string
	rt.OnOutput("BigTrades", func(evs []event.Event) {
		for _, e := range evs {
			out = append(out, e.Data[0].String()+"|"+e.Data[1].String()+"|"+e.Data[3].String())
		}
	})
	id, ok := rt.InputID("Trades")
	if !ok {
		return nil, errors.New("reference: the app has no Trades stream")
	}
	vals := make([]event.Value, 4)
	for seq := int64(0); seq < int64(n); seq++ {
		sym, price, vol := Input(seq)
		vals[0], vals[1], vals[2], vals[3] = event.LongValue(seq), event.StringValue(sym), event.DoubleValue(price), event.LongValue(vol)
		rt.Send(id, seq, vals)
	}
	return out, nil
}
