// Package repl is the replication wire format of a Tandem pair and the framed
// connection that carries it from the active to the passive.
//
// # Roles on the wire
//
// The passive dials the active. The active (the acceptor) speaks first with a
// Challenge carrying a random nonce; the passive answers with a Hello that
// proves it knows the group's shared secret; the active answers Welcome (or
// Reject, with a reason) and from then on streams Entries, Snapshot and
// Checkpoint frames, while the passive sends Ack and CheckpointAck. Either
// side may send Ping and the other answers Pong. Accept and Dial implement the
// handshake; after it, Conn.Send, Conn.Flush and Conn.Recv carry any message
// and the node logic decides what to send when.
//
// # Frames
//
// Every message travels in one frame:
//
//	length   uint32 little-endian: the number of body bytes
//	type     1 byte (Type)
//	flags    1 byte (bit 0: the body is zstd-compressed)
//	crc      uint32 little-endian: CRC-32C (Castagnoli) of type, flags and body
//	body     length bytes
//
// A reader checks length against its maximum frame size (DefaultMaxFrame
// unless configured) before it allocates anything, so a hostile or corrupt
// length cannot make it allocate a large buffer. A compressed body is the
// uvarint length of the plain body followed by one zstd frame; the plain
// length is checked against the same maximum. Only Snapshot and Checkpoint
// bodies are compressed, and only when that makes them smaller.
//
// Bodies are sequences of uvarints (unsigned integers), zig-zag varints
// (signed integers), length-prefixed byte strings and single bytes, in the
// order of the fields of the message's struct. Entries are delta-encoded:
// each LSN and timestamp is written as the difference from the previous
// entry's, and an entry whose stream (or key) equals the previous one's is
// marked by a flag instead of repeating it, so a typical event costs its
// payload plus about four bytes.
//
// # Authentication
//
// With a non-empty Config.Secret the dialer's Hello carries
// Auth = HMAC-SHA256(secret, 'H' || nonce || nodeID || group) over the
// acceptor's Challenge nonce, and the acceptor's Welcome carries the same MAC
// with 'W' over the nonce of the Hello and the acceptor's node id, so each
// side proves to the other that it holds the secret and a recorded handshake
// cannot be replayed. The node id and group are length-prefixed inside the MAC
// so that no two different (id, group) pairs share an input. An empty Secret
// turns authentication off on that side: an acceptor with no secret admits
// any dialer of the right group, and a dialer with no secret does not check
// the Welcome. Authentication does not encrypt or protect the stream after
// the handshake; use TLS (Config.TLS) where the network is not trusted.
//
// # Memory ownership
//
// Encoding appends into a buffer the caller (or the Conn) reuses, so sending a
// batch of entries does not allocate per entry. Decoding an Entries frame
// reuses the decoder's Entries value, its slices and the frame buffer: the
// *Entries returned by Recv or Decoder.Decode, its Entries and Published
// slices and every Entry.Payload are valid only until the next call on the
// same Conn or Decoder. Copy payloads out (or call Entries.Clone) to keep
// them. Every other message is freshly allocated and belongs to the caller.
package repl
