package bench

import "strings"

// The stream every standard query reads, and the second stream of the join.
const (
	streamS  = "define stream S (symbol string, price double, volume long);"
	streamS2 = "define stream S2 (symbol string, qty long);"
)

// Query is one query of the workload: a whole Siddhi app, the input streams
// the sender cycles through (one event each in turn), and whether timestamps
// are the sender's own (playback) or read from the wall clock at each send, as
// Siddhi's InputHandler.send(Object[]) does.
type Query struct {
	Name     string
	App      string
	Inputs   []string
	Playback bool
}

// Queries returns the standard workload of BENCHMARKS.md, Q1 to Q5, in order.
// Each call returns fresh values, so callers may change them.
func Queries() []Query {
	return []Query{
		{
			Name:   "Q1",
			App:    streamS + "\nfrom S[price > 50.0] select symbol, price insert into O;\n",
			Inputs: []string{"S"},
		},
		{
			Name:     "Q1p",
			App:      "@app:playback\n" + streamS + "\nfrom S[price > 50.0] select symbol, price insert into O;\n",
			Inputs:   []string{"S"},
			Playback: true,
		},
		{
			Name:   "Q2",
			App:    streamS + "\nfrom S#window.time(1 sec) select symbol, avg(price) as ap group by symbol insert into O;\n",
			Inputs: []string{"S"},
		},
		{
			Name:   "Q3",
			App:    streamS + "\nfrom S#window.length(1000) select sum(volume) as total insert into O;\n",
			Inputs: []string{"S"},
		},
		{
			Name: "Q4",
			App: streamS + "\nfrom every a=S[price > 90.0] -> b=S[symbol == a.symbol and price < 10.0] within 1 sec\n" +
				"select a.symbol, a.price as p1, b.price as p2 insert into O;\n",
			Inputs: []string{"S"},
		},
		{
			Name: "Q5",
			App: streamS + "\n" + streamS2 + "\nfrom S#window.length(100) join S2#window.length(100) on S.symbol == S2.symbol\n" +
				"select S.symbol, S.price, S2.qty insert into O;\n",
			Inputs: []string{"S", "S2"},
		},
	}
}

// Lookup returns the standard query with the given name, ignoring case.
func Lookup(name string) (Query, bool) {
	for _, q := range Queries() {
		if strings.EqualFold(q.Name, name) {
			return q, true
		}
	}
	return Query{}, false
}
