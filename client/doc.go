// Package client sends events to a Tandem active/passive pair without
// knowing which node is active.
//
// A Client is given the admin API address of each node. It asks them
// (GET /api/v1/ha/status) which one is active and where that node's HTTP
// sources listen (data_addr), and posts batches there. Each batch carries an
// Idempotency-Key that is unique to the client and the batch. The pair logs
// the key with the batch, so when an answer is lost (the active died after
// logging the batch, or a timeout) the client can send the same batch with
// the same key to whichever node is active next: the pair drops it if it
// already has it. Nothing is lost and nothing is processed twice.
//
// Send returns only once the active has acknowledged the batch, which with
// replication.ack: sync means the passive holds it too. Until then it retries
// with bounded backoff, finding the active again after connection errors,
// timeouts and 5xx answers, until its context ends. An attempt that goes
// unanswered (an active that hangs) is abandoned as soon as the other node
// reports itself active. An answer that no retry
// can fix (400 Bad Request, 413 Request Entity Too Large, ...) is returned at
// once as a *StatusError.
//
//	c, err := client.New(client.Config{Nodes: []string{"10.0.0.1:9091", "10.0.0.2:9091"}})
//	...
//	err = c.SendEvents(ctx, "/trades", []map[string]any{{"symbol": "IBM", "price": 101.5}})
package client
