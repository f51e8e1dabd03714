package scrape

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// DefaultMaxResponseBytes is the default PoolOptions.MaxResponseBytes:
// 16 MiB, some thirty times a full page of 1000 executions (about 0.5 MB).
const DefaultMaxResponseBytes = 16 << 20

// ErrResponseTooLarge reports an answer whose body is larger than
// PoolOptions.MaxResponseBytes. The request fails at once, without reading
// the rest of the body, and is not retried.
var ErrResponseTooLarge = errors.New("response too large")

// tooLargeError is ErrResponseTooLarge with the cap.
type tooLargeError struct {
	limit  int64
	length int64 // the announced Content-Length, -1 when unknown
}

func (e *tooLargeError) Error() string {
	s := fmt.Sprintf("response body larger than the %s cap (PoolOptions.MaxResponseBytes)", formatBytes(e.limit))
	if e.length >= 0 {
		s += fmt.Sprintf(": Content-Length %d", e.length)
	}
	return s
}

func (e *tooLargeError) Is(target error) bool { return target == ErrResponseTooLarge }

// RetryableError tells the SDK's retryer not to ask again: an answer that
// large is no transient fault.
func (e *tooLargeError) RetryableError() bool { return false }

// formatBytes writes n as the largest binary unit that divides it.
func formatBytes(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// excerptBytes is how much of each body is kept for error messages.
const excerptBytes = 256

// cappedBody is a response body that fails once more than limit bytes
// are read (limit < 0: never), and keeps the first bytes read for error
// messages (see describeAttempt).
type cappedBody struct {
	rc     io.ReadCloser
	limit  int64
	read   int64
	err    *tooLargeError // sticky once set
	closed bool           // rc was closed unread by capBody

	mu   sync.Mutex
	head []byte
}

// capBody wraps the body of resp. A Content-Length already over the cap
// fails the first read without reading anything; the connection is then
// closed rather than drained.
func capBody(resp *http.Response, limit int64) {
	b := &cappedBody{rc: resp.Body, limit: limit}
	if limit >= 0 && resp.ContentLength > limit {
		b.err = &tooLargeError{limit: limit, length: resp.ContentLength}
		b.closed = true
		_ = resp.Body.Close()
	}
	resp.Body = b
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.limit >= 0 {
		// One byte more than allowed tells a body at the cap from one over.
		if room := b.limit - b.read + 1; int64(len(p)) > room {
			p = p[:room]
		}
	}
	n, err := b.rc.Read(p)
	if b.limit >= 0 && b.read+int64(n) > b.limit {
		n = int(b.limit - b.read)
		b.err = &tooLargeError{limit: b.limit, length: -1}
		err = b.err
	}
	b.read += int64(n)
	b.keep(p[:n])
	return n, err
}

func (b *cappedBody) keep(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := excerptBytes - len(b.head); room > 0 {
		b.head = append(b.head, p[:min(room, len(p))]...)
	}
}

// excerpt returns (a copy of) the first bytes read of the body.
func (b *cappedBody) excerpt() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.head...)
}

// Close closes the body. Reads past the cap keep failing, so the SDK's
// drain-before-close stops at once and net/http, handed an unread body,
// drops the connection instead of reading the rest.
func (b *cappedBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	return b.rc.Close()
}
