// Package chaos injects faults into a real Tandem pair and checks what its
// sink received against a single-node reference run of the same input.
//
// A Cluster is two `tandem node` processes started from a built binary, in a
// directory of their own, with an HTTP Collector standing in for the
// downstream system that the app's HTTP sink publishes to. A Load sends a
// deterministic input, one batch at a time and each with an idempotency key,
// to whichever node accepts it. Scenarios (kill9-active, sigstop-active,
// coord-down, ...) break the pair while the load runs; Check then compares
// the outputs, after removing repeats by output id, with Reference.
//
// What a scenario must show is in the HA behaviour contract ("What the tests
// must show"): nothing lost, nothing wrong, no output of an old epoch after a
// newer one, and how long the pair took to make progress after the fault.
// `tandem chaos` runs the scenarios from the command line and the e2e tests
// run a short version of each; `tandem demo` is built on the same Cluster.
package chaos
