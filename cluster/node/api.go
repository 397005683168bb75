package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tandem-stream/tandem/host"
	"github.com/tandem-stream/tandem/server/dashboard"
)

// Status is the answer of GET /api/v1/ha/status.
type Status struct {
	Node   string `json:"node"`
	Group  string `json:"group"`
	Role   string `json:"role"`
	Epoch  uint64 `json:"epoch"`
	Fenced bool   `json:"fenced"`
	Leader string `json:"leader,omitempty"`
	// DataAddr is where this node's HTTP sources listen when it is active
	// (sources.httpListen), for clients that send to whichever node is active.
	DataAddr string        `json:"data_addr,omitempty"`
	Peer     *PeerStatus   `json:"peer,omitempty"`
	Members  []MemberState `json:"members"`
	Apps     []AppStatus   `json:"apps"`
}

// AppStatus is one app on the node.
type AppStatus struct {
	host.Status
	// Inactive says why the app is not running on this node, if it is not.
	Inactive string `json:"inactive,omitempty"`
}

// PeerStatus describes the connected passive, as the active sees it.
type PeerStatus struct {
	Node      string  `json:"node"`
	Synced    bool    `json:"synced"` // holds every app's state; a failover now loses nothing
	LagEvents uint64  `json:"lag_events"`
	RTTMillis float64 `json:"rtt_ms"`
}

// MemberState is a group member as the coordination store last reported it.
type MemberState struct {
	ID       string    `json:"id"`
	API      string    `json:"api"`
	Alive    bool      `json:"alive"`
	LastSeen time.Time `json:"last_seen"`
}

// Status returns the node's current status.
func (n *Node) Status() Status {
	n.mu.Lock()
	st := Status{Node: n.cfg.Node.ID, Group: n.cfg.Node.Group, Role: n.m.Role().String(), Epoch: n.m.Epoch(),
		Fenced: n.m.Fenced(), Leader: n.m.Leader(), DataAddr: n.cfg.Sources.HTTPListen}
	if n.m.Role() == Active {
		st.Leader = n.cfg.Node.ID // the lease holder, as a passive reports it
	}
	for _, p := range n.peers {
		st.Members = append(st.Members, MemberState{ID: p.ID, API: p.APIAddr, Alive: p.Alive, LastSeen: p.LastSeen})
	}
	r := n.repl
	units := n.units
	n.mu.Unlock()
	for _, u := range units {
		n.mu.Lock()
		inactive := u.inactive
		n.mu.Unlock()
		st.Apps = append(st.Apps, AppStatus{Status: u.app.Status(), Inactive: inactive})
	}
	if r != nil {
		if peer, acked, rtt, synced := r.peerStatus(); peer != "" {
			// Synced only once the store records it: only then may the
			// passive take over.
			n.mu.Lock()
			synced = synced && n.inSyncWritten == inSyncMarker(peer, st.Epoch)
			n.mu.Unlock()
			ps := &PeerStatus{Node: peer, Synced: synced, RTTMillis: float64(rtt.Microseconds()) / 1000}
			for _, a := range st.Apps {
				if a.LastLSN > acked[a.Name] {
					ps.LagEvents += a.LastLSN - acked[a.Name]
				}
			}
			st.Peer = ps
		}
	}
	return st
}

func (n *Node) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/ha/status", func(w http.ResponseWriter, r *http.Request) {
		// Read-only and public on the admin port: the dashboard of either
		// node shows both, so the peer's page may read this one.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		writeJSON(w, http.StatusOK, n.Status())
	})
	mux.HandleFunc("GET /api/v1/ha/active", func(w http.ResponseWriter, r *http.Request) {
		st := n.Status()
		code := http.StatusOK
		if st.Role != "active" || st.Fenced {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"node": st.Node, "role": st.Role, "epoch": st.Epoch})
	})
	mux.HandleFunc("POST /api/v1/ha/handover", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		if err := n.Handover(ctx); err != nil {
			code := http.StatusConflict
			if errors.Is(err, ErrNotActive) {
				code = http.StatusServiceUnavailable
			}
			writeJSON(w, code, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"result": "handed over; this node is now passive"})
	})
	mux.HandleFunc("POST /api/v1/apps/{app}/clear-state", func(w http.ResponseWriter, r *http.Request) {
		if err := n.ClearState(r.Context(), r.PathValue("app")); err != nil {
			code := http.StatusConflict
			if errors.Is(err, ErrUnknownApp) {
				code = http.StatusNotFound
			}
			writeJSON(w, code, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"result": "state cleared"})
	})
	mux.HandleFunc("GET /api/v1/ha/state/{app}", n.serveState)
	n.appsAPI(mux)
	mux.Handle("/", dashboard.Handler())
	reg := prometheus.NewRegistry()
	reg.MustRegister(statusCollector{n})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// serveState answers the live-sync snapshot of one app: its full state at the
// LSN in the X-Tandem-LSN header, zstd-compressed.
func (n *Node) serveState(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("app")
	if n.machine().Role() != Active {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": ErrNotActive.Error()})
		return
	}
	app := n.app(name)
	if app == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("%v: %s", ErrUnknownApp, name)})
		return
	}
	lsn, state, err := app.Snapshot(r.Context())
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	body := enc.EncodeAll(state, nil)
	enc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Encoding", "zstd")
	w.Header().Set("X-Tandem-App-Hash", app.Hash())
	w.Header().Set("X-Tandem-LSN", strconv.FormatUint(lsn, 10))
	w.Header().Set("X-Tandem-Epoch", strconv.FormatUint(n.machine().Epoch(), 10))
	w.Write(body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// statusCollector turns a status snapshot into metrics at scrape time, so the
// hot paths keep no metric state of their own.
type statusCollector struct{ n *Node }

var (
	descRole      = prometheus.NewDesc("tandem_node_active", "1 if this node is the active of its group.", nil, nil)
	descEpoch     = prometheus.NewDesc("tandem_node_epoch", "Lease epoch this node knows.", nil, nil)
	descFenced    = prometheus.NewDesc("tandem_node_fenced", "1 if the active stopped publishing because its lease may have run out.", nil, nil)
	descPeer      = prometheus.NewDesc("tandem_replication_peer_connected", "1 if a passive is connected to this active.", nil, nil)
	descPeerLag   = prometheus.NewDesc("tandem_replication_lag_events", "Entries logged by the active and not yet acknowledged by the passive.", nil, nil)
	descLastLSN   = prometheus.NewDesc("tandem_app_last_lsn", "Highest LSN logged or held.", []string{"app"}, nil)
	descApplied   = prometheus.NewDesc("tandem_app_applied_lsn", "Highest LSN applied by the engine.", []string{"app"}, nil)
	descCkptLSN   = prometheus.NewDesc("tandem_app_checkpoint_lsn", "LSN of the newest checkpoint.", []string{"app"}, nil)
	descPublished = prometheus.NewDesc("tandem_sink_published", "Highest output ordinal published by the sink.", []string{"app", "sink"}, nil)
	descSnapsIn   = prometheus.NewDesc("tandem_replication_snapshots_received_total", "Full app states this node installed as passive.", nil, nil)
	descResumes   = prometheus.NewDesc("tandem_replication_resumes_total", "Apps of a passive this node resumed from the passive's own position, with no snapshot.", nil, nil)
	descQueued    = prometheus.NewDesc("tandem_app_log_entries", "Entries held in the app's log (bounded; sources are pushed back when full).", []string{"app"}, nil)
	descUnapplied = prometheus.NewDesc("tandem_app_unapplied_entries", "Entries logged but not yet applied by the engine.", []string{"app"}, nil)
	descSinkQueue = prometheus.NewDesc("tandem_sink_queued_outputs", "Outputs waiting to be published by the sink (bounded).", []string{"app", "sink"}, nil)
)

func (c statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRole, descEpoch, descFenced, descPeer, descPeerLag, descLastLSN, descApplied,
		descCkptLSN, descPublished, descQueued, descUnapplied, descSinkQueue, descSnapsIn, descResumes} {
		ch <- d
	}
}

func (c statusCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.n.Status()
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	ch <- prometheus.MustNewConstMetric(descRole, prometheus.GaugeValue, b(st.Role == "active"))
	ch <- prometheus.MustNewConstMetric(descEpoch, prometheus.GaugeValue, float64(st.Epoch))
	ch <- prometheus.MustNewConstMetric(descFenced, prometheus.GaugeValue, b(st.Fenced))
	ch <- prometheus.MustNewConstMetric(descPeer, prometheus.GaugeValue, b(st.Peer != nil))
	var lag uint64
	if st.Peer != nil {
		lag = st.Peer.LagEvents
	}
	ch <- prometheus.MustNewConstMetric(descPeerLag, prometheus.GaugeValue, float64(lag))
	ch <- prometheus.MustNewConstMetric(descSnapsIn, prometheus.CounterValue, float64(c.n.snapshotsIn.Load()))
	ch <- prometheus.MustNewConstMetric(descResumes, prometheus.CounterValue, float64(c.n.resumes.Load()))
	for _, a := range st.Apps {
		ch <- prometheus.MustNewConstMetric(descLastLSN, prometheus.GaugeValue, float64(a.LastLSN), a.Name)
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.GaugeValue, float64(a.Applied), a.Name)
		var ck uint64
		if a.LastCheckpoint != nil {
			ck = a.LastCheckpoint.LSN
		}
		ch <- prometheus.MustNewConstMetric(descCkptLSN, prometheus.GaugeValue, float64(ck), a.Name)
		for s, p := range a.Published {
			ch <- prometheus.MustNewConstMetric(descPublished, prometheus.GaugeValue, float64(p), a.Name, s)
		}
		ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(a.Queued), a.Name)
		ch <- prometheus.MustNewConstMetric(descUnapplied, prometheus.GaugeValue, float64(a.LastLSN-min(a.LastLSN, a.Applied)), a.Name)
		for s, q := range a.SinkQueued {
			ch <- prometheus.MustNewConstMetric(descSinkQueue, prometheus.GaugeValue, float64(q), a.Name, s)
		}
	}
}
