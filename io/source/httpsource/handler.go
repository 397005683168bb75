package httpsource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// bodyReadTimeout bounds reading a request body. It is set per request, not
// as the server's ReadTimeout, because that would also cut off a request that
// is waiting, body read, for the app to take its batch.
const bodyReadTimeout = time.Minute

// ServeHTTP handles one request for the source's path.
func (s *Source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: use POST", r.Method))
		return
	}
	srcCtx, ok := s.begin()
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "source is stopping")
		return
	}
	defer func() {
		// Send the response before Stop may close the connection.
		_ = http.NewResponseController(w).Flush()
		s.inflight.Done()
	}()

	key := r.Header.Get("Idempotency-Key")
	if len(key) > MaxKeyLength {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Idempotency-Key is longer than %d bytes", MaxKeyLength))
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.putBody(body)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", tooBig.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, fmt.Sprintf("reading body: %v", err))
		return
	}
	// The rows own their strings (Decode copies them out of the body), so
	// the body can go back to the pool before the possibly long Ingest.
	rows, err := s.dec.Decode(body.Bytes())
	s.putBody(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(rows) > 0 {
		// The Ingest call ends when the sender goes away or when Stop gives
		// up waiting.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(srcCtx, cancel)()
		if err := s.ing.Ingest(ctx, s.stream, rows, key); err != nil {
			s.logger.Warn("batch not accepted", "events", len(rows), "err", err)
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("not accepted: %v", err))
			return
		}
	}
	writeAccepted(w, len(rows))
}

// readBody reads the request body into a buffer from the pool; the caller
// hands it back with putBody, whatever the error.
func (s *Source) readBody(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, error) {
	buf, _ := s.bodies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if r.ContentLength > s.maxBody {
		return buf, &http.MaxBytesError{Limit: s.maxBody}
	}
	rc := http.NewResponseController(w)
	// Not every ResponseWriter supports deadlines (httptest's does not);
	// then the body is read without one.
	if err := rc.SetReadDeadline(time.Now().Add(bodyReadTimeout)); err == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	if r.ContentLength > 0 {
		// ReadFrom wants MinRead bytes of room before every read, including
		// the last one that finds EOF: without the margin a body of exactly
		// the announced length would be copied into a buffer twice its size.
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.maxBody))
	return buf, err
}

// maxPooledBody bounds the buffers kept for reuse, so that one huge batch
// does not pin its memory for the life of the source.
const maxPooledBody = 1 << 20

func (s *Source) putBody(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBody {
		s.bodies.Put(buf)
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, struct {
		Error string `json:"error"`
	}{msg})
}

// writeAccepted answers {"accepted":n}, the answer to every good batch,
// without the reflection of encoding/json.
func writeAccepted(w http.ResponseWriter, n int) {
	var arr [40]byte
	b := append(arr[:0], `{"accepted":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "}\n"...)
	writeBody(w, http.StatusOK, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen for the structs above
		b = []byte(`{"error":"internal error"}`)
	}
	writeBody(w, status, append(b, '\n'))
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
