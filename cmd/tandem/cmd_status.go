package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tandem-stream/tandem/client"
)

const statusUsage = `Usage: tandem status --nodes A,B [flags]

Asks each node of a pair (A and B are their admin API addresses, node.api)
for its status and shows both: role, epoch, whether the active is fenced, its
passive and how far behind that is, and per app the last logged and applied
LSN and the newest checkpoint. A node that does not answer is shown as
unreachable. Exits 1 when no node is active.
`

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return statusMain(ctx, args, stdout, stderr, time.Now())
}

// statusJSON is the --json output.
type statusJSON struct {
	Active string           `json:"active"` // node id of the serving active; "" if none
	Nodes  []statusJSONNode `json:"nodes"`
}

type statusJSONNode struct {
	Addr   string         `json:"addr"`
	Status *client.Status `json:"status,omitempty"`
	Error  string         `json:"error,omitempty"`
}

func statusMain(ctx context.Context, args []string, stdout, stderr io.Writer, now time.Time) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := fs.String("nodes", "", "admin API addresses of the pair's nodes, comma-separated (required)")
	asJSON := fs.Bool("json", false, "print the statuses as one JSON object")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for each node")
	fs.Usage = func() {
		fmt.Fprint(stderr, statusUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "tandem status: unexpected arguments %q\n", fs.Args())
		return 2
	case *nodes == "":
		fmt.Fprintln(stderr, "tandem status: --nodes is required")
		return 2
	case *timeout <= 0:
		fmt.Fprintln(stderr, "tandem status: --timeout must be positive")
		return 2
	}
	c, err := client.New(client.Config{Nodes: splitNodeList(*nodes), StatusTimeout: *timeout})
	if err != nil {
		fmt.Fprintln(stderr, "tandem status:", err)
		return 2
	}
	defer c.Close()
	sts, _ := c.Status(ctx) // a node's error is shown with the node

	var serving []string
	for _, ns := range sts {
		if ns.Err == nil && ns.Status.Serving() {
			serving = append(serving, ns.Status.Node)
		}
	}
	if *asJSON {
		out := statusJSON{Nodes: make([]statusJSONNode, len(sts))}
		if len(serving) > 0 {
			out.Active = serving[0]
		}
		for i, ns := range sts {
			out.Nodes[i] = statusJSONNode{Addr: ns.Addr, Status: ns.Status}
			if ns.Err != nil {
				out.Nodes[i].Error = ns.Err.Error()
			}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintln(stderr, "tandem status:", err)
			return 1
		}
	} else {
		printPairStatus(stdout, sts, now)
	}
	switch len(serving) {
	case 0:
		fmt.Fprintln(stderr, "tandem status: no node is active")
		return 1
	case 1:
		return 0
	}
	// Two actives unfenced is the split the lease exists to prevent; the
	// one with the older epoch should fence itself within its lease.
	fmt.Fprintf(stderr, "tandem status: warning: %d nodes report active: %v\n", len(serving), serving)
	return 0
}

// printPairStatus writes the nodes table, then the apps table.
func printPairStatus(w io.Writer, sts []client.NodeStatus, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tROLE\tEPOCH\tFENCED\tPEER\tLAG (EVENTS)\tRTT")
	var unreachable []client.NodeStatus
	for _, ns := range sts {
		if ns.Err != nil {
			// The error goes below the table: a long cell would widen its
			// column, and a short line would break tabwriter's columns.
			fmt.Fprintf(tw, "-\t%s\tunreachable\t-\t-\t-\t-\t-\n", ns.Addr)
			unreachable = append(unreachable, ns)
			continue
		}
		st := ns.Status
		peer, lag, rtt := "-", "-", "-"
		if p := st.Peer; p != nil {
			peer = p.Node
			if p.Synced {
				peer += " (synced)"
			} else {
				peer += " (syncing)"
			}
			lag = strconv.FormatUint(p.LagEvents, 10)
			rtt = strconv.FormatFloat(p.RTTMillis, 'f', 2, 64) + "ms"
		} else if st.Role == "active" {
			peer = "none: running alone"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", st.Node, ns.Addr, st.Role, st.Epoch, statusYesNo(st.Fenced), peer, lag, rtt)
	}
	tw.Flush()
	for _, ns := range unreachable {
		fmt.Fprintln(w, ns.Err) // it names the node's address
	}

	apps := false
	for _, ns := range sts {
		if ns.Err == nil && len(ns.Status.Apps) > 0 {
			apps = true
		}
	}
	if !apps {
		return
	}
	fmt.Fprintln(w)
	var inactive []string // reasons, shown below the table
	fmt.Fprintln(tw, "APP\tNODE\tROLE\tLAST LSN\tAPPLIED LSN\tCHECKPOINT")
	for _, ns := range sts {
		if ns.Err != nil {
			continue
		}
		for _, a := range ns.Status.Apps {
			role := a.Role
			if a.Inactive != "" {
				role = "inactive"
				inactive = append(inactive, fmt.Sprintf("%s on %s is inactive: %s", a.Name, ns.Status.Node, a.Inactive))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", a.Name, ns.Status.Node, role, a.LastLSN, a.Applied, statusCheckpoint(a.LastCheckpoint, now))
		}
	}
	tw.Flush()
	for _, s := range inactive {
		fmt.Fprintln(w, s)
	}
}

func statusCheckpoint(ck *client.Checkpoint, now time.Time) string {
	if ck == nil {
		return "none"
	}
	s := fmt.Sprintf("rev %d at LSN %d", ck.Revision, ck.LSN)
	if !ck.Created.IsZero() {
		// The node's clock made Created; a little skew can make it look
		// like the future.
		age := max(now.Sub(ck.Created), 0).Round(time.Second)
		s += fmt.Sprintf(", %v ago", age)
	}
	return s
}

func statusYesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
