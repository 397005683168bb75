// Command tandem runs Siddhi apps on one node or on a two-node
// active/passive pair that survives the loss of either machine.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `tandem: a stream processor for Siddhi apps, with two-node high availability.

Usage:
  tandem run [flags] APP.siddhi...     run apps on this machine alone
  tandem node --config FILE            run a cluster node (one of an active/passive pair)
  tandem demo [--json]                 start a local pair, kill the active mid-stream, print a verdict
  tandem status --nodes A,B            show both nodes of a pair: roles, epoch, lag, checkpoints
  tandem send --nodes A,B --path P     send JSON-lines events to whichever node is active
  tandem deploy --nodes A,B FILE...    deploy apps to a pair (kept in its coordination store)
  tandem undeploy --nodes A,B NAME...  remove apps deployed with tandem deploy
  tandem apps --nodes A,B              list a node's apps
  tandem validate FILE...              check apps and report errors as file:line:col: message
  tandem fmt FILE...                   print apps in canonical form
  tandem bench engine [flags]          run the standard engine benchmark (docs/benchmarks.md)
  tandem conformance FILE|DIR...       run Siddhi's recorded test cases; ends with "N passed, M failed"
  tandem chaos [flags]                 run the HA fault-injection scenarios against real processes
  tandem version                       print the version

Run 'tandem COMMAND -h' for a command's flags.
`

const version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(rest, stdout, stderr)
	case "node":
		return cmdNode(rest, stdout, stderr)
	case "demo":
		return cmdDemo(rest, stdout, stderr)
	case "bench":
		return cmdBench(rest, stdout, stderr)
	case "conformance":
		return cmdConformance(rest, stdout, stderr)
	case "chaos":
		return cmdChaos(rest, stdout, stderr)
	case "deploy":
		return cmdDeploy(rest, stdout, stderr)
	case "undeploy":
		return cmdUndeploy(rest, stdout, stderr)
	case "apps":
		return cmdApps(rest, stdout, stderr)
	case "send":
		return cmdSend(rest, stdout, stderr)
	case "status":
		return cmdStatus(rest, stdout, stderr)
	case "validate":
		return cmdValidate(rest, stdout, stderr)
	case "fmt":
		return cmdFmt(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "tandem", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "tandem: unknown command %q\n\n%s", cmd, usage)
	return 2
}
