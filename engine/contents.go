package engine

import "github.com/tandem-stream/tandem/event"

// The contents methods are what a join finds in a window: the events the
// window holds now, as Siddhi's FindableProcessors search them. Sliding
// windows hold their events; batch windows hold the last batch they emitted
// (Siddhi searches their expired-event queue). yield returns false to stop.

func (r *ring) each(yield func(int64, []event.Value) bool) {
	for i := 0; i < r.n; i++ {
		k := r.idx(i)
		if !yield(r.ts[k], r.row(k)) {
			return
		}
	}
}

func eachStored(rows []stored, yield func(int64, []event.Value) bool) {
	for _, r := range rows {
		if !yield(r.ts, r.vals) {
			return
		}
	}
}

func (w *lengthWindow) contents(yield func(int64, []event.Value) bool)       { w.buf.each(yield) }
func (w *timeWindow) contents(yield func(int64, []event.Value) bool)         { w.buf.each(yield) }
func (w *externalTimeWindow) contents(yield func(int64, []event.Value) bool) { w.buf.each(yield) }
func (w *lengthBatchWindow) contents(yield func(int64, []event.Value) bool) {
	if w.streamCurrent {
		// The events streamed out since the last flush.
		w.cur.each(yield)
		return
	}
	w.exp.each(yield)
}
func (w *timeBatchWindow) contents(yield func(int64, []event.Value) bool) { w.exp.each(yield) }
func (w *batchWindow) contents(yield func(int64, []event.Value) bool)     { eachStored(w.exp, yield) }
func (w *externalTimeBatchWindow) contents(yield func(int64, []event.Value) bool) {
	eachStored(w.exp, yield)
}
func (w *cronWindow) contents(yield func(int64, []event.Value) bool)  { eachStored(w.exp, yield) }
func (w *sortWindow) contents(yield func(int64, []event.Value) bool)  { eachStored(w.rows, yield) }
func (w *delayWindow) contents(yield func(int64, []event.Value) bool) { eachStored(w.rows, yield) }
func (w *expressionWindow) contents(yield func(int64, []event.Value) bool) {
	eachStored(w.queue, yield)
}
func (w *expressionBatchWindow) contents(yield func(int64, []event.Value) bool) {
	eachStored(w.cur, yield)
}

func (w *frequentWindow) contents(yield func(int64, []event.Value) bool) {
	for _, k := range w.order {
		r := w.latest[k]
		if !yield(r.ts, r.vals) {
			return
		}
	}
}

func (w *lossyFrequentWindow) contents(yield func(int64, []event.Value) bool) {
	for _, k := range w.order {
		r := w.latest[k]
		if !yield(r.ts, r.vals) {
			return
		}
	}
}

func (w *sessionWindow) contents(yield func(int64, []event.Value) bool) {
	for _, k := range w.keys {
		sp := w.sessions[k]
		for _, s := range []*session{&sp.current, &sp.previous} {
			for _, r := range s.rows {
				if !yield(r.ts, r.vals) {
					return
				}
			}
		}
	}
}
