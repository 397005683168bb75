package repl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/tandem-stream/tandem/persist"
)

// ProtocolVersion is the version of the wire format spoken by this package.
// Both sides send it in the handshake and refuse a peer that speaks another.
const ProtocolVersion = 1

// Type identifies the message in a frame.
type Type uint8

// The message types. Their values are part of the wire format.
const (
	TypeChallenge Type = 1 + iota
	TypeHello
	TypeWelcome
	TypeReject
	TypeEntries
	TypeAck
	TypeSnapshot
	TypeCheckpoint
	TypeCheckpointAck
	TypePing
	TypePong
	TypeDigest
	typeEnd
)

var typeNames = [...]string{
	TypeChallenge:     "Challenge",
	TypeHello:         "Hello",
	TypeWelcome:       "Welcome",
	TypeReject:        "Reject",
	TypeEntries:       "Entries",
	TypeAck:           "Ack",
	TypeSnapshot:      "Snapshot",
	TypeCheckpoint:    "Checkpoint",
	TypeCheckpointAck: "CheckpointAck",
	TypePing:          "Ping",
	TypePong:          "Pong",
	TypeDigest:        "Digest",
}

func (t Type) String() string {
	if t > 0 && t < typeEnd {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Message is one of the message types of this package (*Challenge, *Hello,
// *Welcome, *Reject, *Entries, *Ack, *Snapshot, *Checkpoint, *CheckpointAck,
// *Ping, *Pong, *Digest). The interface is closed: only these types can be framed.
type Message interface {
	Type() Type
	// appendBody appends the frame body (the message's fields) to b.
	appendBody(b []byte) ([]byte, error)
}

// EntryKind says what a log entry is.
type EntryKind uint8

// The entry kinds. Their values are part of the wire format.
const (
	EventEntry EntryKind = 1 // an input event on Stream with Payload as its values
	TickEntry  EntryKind = 2 // a timer tick at Timestamp; Stream and Payload are usually empty
	// DigestEntry marks the point in the log where both nodes hash their
	// state; the active sends its hash in a Digest message.
	DigestEntry EntryKind = 3
)

// Valid reports whether k is a known entry kind.
func (k EntryKind) Valid() bool { return k >= EventEntry && k <= DigestEntry }

func (k EntryKind) String() string {
	switch k {
	case EventEntry:
		return "event"
	case TickEntry:
		return "tick"
	case DigestEntry:
		return "digest"
	}
	return fmt.Sprintf("EntryKind(%d)", uint8(k))
}

// Entry is one entry of an app's input log.
type Entry struct {
	LSN       uint64
	Kind      EntryKind
	Stream    string
	Timestamp int64
	Key       string // the sender's idempotency key, usually ""
	Payload   []byte // opaque to repl: the event's values as encoded by event.AppendValues
}

// AppPos is where a passive stands for one app, sent in its Hello so that the
// active can decide between resending retained entries and a full snapshot.
type AppPos struct {
	App           string
	AppHash       string // content hash of the app text the passive holds
	LastLSN       uint64 // highest contiguous LSN the passive holds
	CheckpointLSN uint64 // LSN of the newest checkpoint the passive holds
	// Epoch is the term of the active whose log the passive's state and
	// entries come from (0: none). The active resumes from LastLSN only
	// when it is its own term: a state from another term may hold entries
	// this active never had.
	Epoch uint64
}

// Challenge is the acceptor's (the active's) first frame on a new connection.
type Challenge struct {
	Version uint32 // ProtocolVersion of the acceptor
	Nonce   []byte // random; the dialer MACs it to prove it holds the secret
	NodeID  string
	Group   string
	Epoch   uint64
}

// Hello is the dialer's (the passive's) answer to a Challenge.
type Hello struct {
	Version uint32 // ProtocolVersion of the dialer
	NodeID  string
	Group   string
	Epoch   uint64 // the newest epoch the dialer knows
	Auth    []byte // HMAC over the Challenge nonce; empty when the dialer has no secret
	Nonce   []byte // random; the acceptor MACs it in Welcome.Auth
	Apps    []AppPos
}

// Welcome admits the dialer: replication starts after it.
type Welcome struct {
	NodeID string
	Epoch  uint64
	Auth   []byte // HMAC over Hello.Nonce; empty when the acceptor has no secret
}

// RejectCode classifies a Reject.
type RejectCode uint8

// The reject codes. Their values are part of the wire format.
const (
	RejectOther   RejectCode = iota // see the reason
	RejectVersion                   // the peers speak different protocol versions
	RejectGroup                     // the peer belongs to another group
	RejectAuth                      // the peer's authentication failed
	RejectEpoch                     // the receiver of the Reject has a stale epoch
	RejectPeer                      // the peer is not admitted, e.g. a third node in a pair
)

func (c RejectCode) String() string {
	switch c {
	case RejectOther:
		return "rejected"
	case RejectVersion:
		return "protocol version mismatch"
	case RejectGroup:
		return "wrong group"
	case RejectAuth:
		return "authentication failed"
	case RejectEpoch:
		return "stale epoch"
	case RejectPeer:
		return "peer not admitted"
	}
	return fmt.Sprintf("RejectCode(%d)", uint8(c))
}

// Reject refuses a peer, during the handshake or later, and says why. The
// sender closes the connection after it.
type Reject struct {
	Epoch  uint64 // the newest epoch the sender knows
	Code   RejectCode
	Reason string
}

// Entries carries consecutive log entries of one app, plus the active's
// per-sink published positions, which the passive keeps to suppress
// duplicate outputs after a failover. An Entries with no entries only
// reports positions. The codec does not check that LSNs are dense or
// increasing; the receiver does, as it must anyway to ack contiguously.
type Entries struct {
	Epoch     uint64
	App       string
	Entries   []Entry
	Published []SinkPos
}

// SinkPos is the highest output ordinal a sink of the app has published.
type SinkPos struct {
	Sink     string
	Position uint64
}

// Clone returns a deep copy of e that shares no memory with it; use it to
// keep an *Entries returned by Recv beyond the next Recv.
func (e *Entries) Clone() *Entries {
	c := &Entries{Epoch: e.Epoch, App: e.App}
	if e.Entries != nil {
		c.Entries = make([]Entry, len(e.Entries))
		n := 0
		for _, en := range e.Entries {
			n += len(en.Payload)
		}
		buf := make([]byte, 0, n) // one allocation for all payloads
		for i, en := range e.Entries {
			c.Entries[i] = en
			if en.Payload != nil {
				start := len(buf)
				buf = append(buf, en.Payload...)
				c.Entries[i].Payload = buf[start:len(buf):len(buf)]
			}
		}
	}
	if e.Published != nil {
		c.Published = append([]SinkPos(nil), e.Published...)
	}
	return c
}

// Ack tells the active the highest contiguous LSN of App the passive holds.
type Ack struct {
	Epoch uint64
	App   string
	LSN   uint64
}

// Snapshot is a full app state at LSN, sent to a passive that (re)joins and
// cannot be caught up from the retained log. The passive installs it and then
// applies the Entries after LSN.
type Snapshot struct {
	Epoch   uint64
	App     string
	AppHash string
	LSN     uint64
	State   []byte
}

// Checkpoint ships a durable checkpoint of the active to the passive, which
// stores it and then trims its queue up to Manifest.LSN.
type Checkpoint struct {
	Epoch    uint64 // the sender's current epoch (Manifest.Epoch is the checkpoint's)
	Manifest persist.Manifest
	State    []byte
}

// Verify checks State against Manifest.Size and Manifest.Checksum (hex
// SHA-256); fields that are unset (0, "") are not checked.
func (c *Checkpoint) Verify() error {
	if c.Manifest.Size != 0 && c.Manifest.Size != int64(len(c.State)) {
		return fmt.Errorf("repl: checkpoint %s revision %d: state is %d bytes, manifest says %d",
			c.Manifest.App, c.Manifest.Revision, len(c.State), c.Manifest.Size)
	}
	if c.Manifest.Checksum != "" {
		sum := sha256.Sum256(c.State)
		if got := hex.EncodeToString(sum[:]); got != c.Manifest.Checksum {
			return fmt.Errorf("repl: checkpoint %s revision %d: state checksum %s, manifest says %s: %w",
				c.Manifest.App, c.Manifest.Revision, got, c.Manifest.Checksum, persist.ErrCorrupt)
		}
	}
	return nil
}

// CheckpointAck tells the active that the passive has stored a checkpoint.
type CheckpointAck struct {
	Epoch    uint64
	App      string
	Revision uint64
	LSN      uint64
}

// Ping asks for a Pong; Nanos is the sender's clock reading, echoed back so
// the sender can measure the round trip on its own clock.
type Ping struct {
	Epoch uint64
	Nanos int64
}

// Pong answers a Ping with its Nanos.
type Pong struct {
	Epoch uint64
	Nanos int64
}

// Digest is a hash of an app's state at LSN, sent by the active to a hot
// standby, which compares it with the hash of its own state at the same LSN
// to detect divergence.
type Digest struct {
	Epoch uint64
	App   string
	LSN   uint64
	Hash  []byte
}

func (*Digest) Type() Type        { return TypeDigest }
func (*Challenge) Type() Type     { return TypeChallenge }
func (*Hello) Type() Type         { return TypeHello }
func (*Welcome) Type() Type       { return TypeWelcome }
func (*Reject) Type() Type        { return TypeReject }
func (*Entries) Type() Type       { return TypeEntries }
func (*Ack) Type() Type           { return TypeAck }
func (*Snapshot) Type() Type      { return TypeSnapshot }
func (*Checkpoint) Type() Type    { return TypeCheckpoint }
func (*CheckpointAck) Type() Type { return TypeCheckpointAck }
func (*Ping) Type() Type          { return TypePing }
func (*Pong) Type() Type          { return TypePong }
