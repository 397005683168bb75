package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// apiCall sends one request to the first node that answers and decodes the
// JSON reply into out. A node that cannot be reached is skipped; a node's
// answer, error or not, is final.
func apiCall(nodes []string, method, path string, body []byte, out any) (int, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	var lastErr error
	for _, n := range nodes {
		base := n
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		req, err := http.NewRequest(method, strings.TrimRight(base, "/")+path, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return resp.StatusCode, err
		}
		if resp.StatusCode >= 300 {
			var e struct {
				Error  string   `json:"error"`
				Errors []string `json:"errors"`
			}
			if json.Unmarshal(data, &e) == nil && e.Error != "" {
				msg := e.Error
				if len(e.Errors) > 0 {
					msg += ":\n  " + strings.Join(e.Errors, "\n  ")
				}
				return resp.StatusCode, fmt.Errorf("%s", msg)
			}
			return resp.StatusCode, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(data)))
		}
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return 0, fmt.Errorf("no node answered: %w", lastErr)
}

func nodesFlag(fs *flag.FlagSet) *string {
	return fs.String("nodes", "", "admin API addresses of the pair's nodes, comma-separated (host:port)")
}

func splitNodes(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// cmdDeploy deploys app files through the API; the pair keeps them in its
// coordination store and both nodes run them.
func cmdDeploy(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := nodesFlag(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *nodes == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "Usage: tandem deploy --nodes A,B APP.siddhi...")
		return 2
	}
	status := 0
	for _, f := range fs.Args() {
		text, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(stderr, "tandem deploy:", err)
			status = 1
			continue
		}
		var res struct {
			Name    string `json:"name"`
			Version uint64 `json:"version"`
			Hash    string `json:"hash"`
		}
		if _, err := apiCall(splitNodes(*nodes), http.MethodPost, "/api/v1/apps", text, &res); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			status = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: deployed %s version %d (%.12s)\n", f, res.Name, res.Version, res.Hash)
	}
	return status
}

// cmdUndeploy removes apps deployed through the API.
func cmdUndeploy(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("undeploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := nodesFlag(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *nodes == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "Usage: tandem undeploy --nodes A,B APP-NAME...")
		return 2
	}
	status := 0
	for _, name := range fs.Args() {
		var res map[string]string
		if _, err := apiCall(splitNodes(*nodes), http.MethodDelete, "/api/v1/apps/"+name, nil, &res); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			status = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: undeployed\n", name)
	}
	return status
}

// cmdApps lists a node's apps.
func cmdApps(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apps", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := nodesFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *nodes == "" {
		fmt.Fprintln(stderr, "Usage: tandem apps --nodes A,B [--json]")
		return 2
	}
	var apps []struct {
		Name     string `json:"name"`
		Origin   string `json:"origin"`
		Version  uint64 `json:"version"`
		Hash     string `json:"hash"`
		Role     string `json:"role"`
		Inactive string `json:"inactive"`
	}
	if _, err := apiCall(splitNodes(*nodes), http.MethodGet, "/api/v1/apps", nil, &apps); err != nil {
		fmt.Fprintln(stderr, "tandem apps:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(apps)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tORIGIN\tVERSION\tHASH\tROLE\tNOTE")
	for _, a := range apps {
		ver := "-"
		if a.Version > 0 {
			ver = fmt.Sprint(a.Version)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.12s\t%s\t%s\n", a.Name, a.Origin, ver, a.Hash, a.Role, a.Inactive)
	}
	tw.Flush()
	return 0
}
