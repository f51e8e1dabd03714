package scrape

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// When the caller's deadline ends a request that the SDK was retrying, the
// SDK reports only "request canceled, context deadline exceeded": why the
// attempts failed (a 502 from a load balancer, a throttle, a reset) is
// lost. attemptRecorder, the outermost deserialize middleware, sees the
// outcome of every attempt and notes it in the attemptLog that List and Get
// put in the request's context; they add the last failure to an error
// caused by the context.

// attemptLog is the outcome of the last completed attempt of one call.
type attemptLog struct {
	mu   sync.Mutex
	last string // "" after a success or before any answer
}

type attemptLogKey struct{}

// withAttemptLog returns ctx carrying a new attemptLog.
func withAttemptLog(ctx context.Context) (context.Context, *attemptLog) {
	l := &attemptLog{}
	return context.WithValue(ctx, attemptLogKey{}, l), l
}

func (l *attemptLog) set(s string) {
	l.mu.Lock()
	l.last = s
	l.mu.Unlock()
}

// annotate adds the last attempt's failure to err when err comes from the
// caller's context (deadline or cancellation). The result still wraps err.
func (l *attemptLog) annotate(err error) error {
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	l.mu.Lock()
	last := l.last
	l.mu.Unlock()
	if last == "" {
		return err
	}
	return fmt.Errorf("%w (last attempt: %s)", err, last)
}

// attemptRecorder notes each attempt's outcome in the context's attemptLog.
// An attempt cut short by the caller's context leaves the previous note:
// it is the cause worth reporting.
type attemptRecorder struct{}

func (attemptRecorder) ID() string { return "LambdaDurableExporterAttemptRecorder" }

func (attemptRecorder) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if l, ok := ctx.Value(attemptLogKey{}).(*attemptLog); ok {
		switch {
		case err == nil:
			l.set("")
		case ctx.Err() == nil:
			l.set(describeAttempt(err, out.RawResponse))
		}
	}
	return out, md, err
}

// Bounds of an attempt's description.
const (
	maxExcerpt = 120 // bytes of a body
	maxDetail  = 300 // bytes of an error message
)

// describeAttempt says briefly why an attempt failed: "HTTP 502: " and the
// API error's code and message, else the error the answer caused (say
// malformed), else an excerpt of the body (an HTML error page); or the
// error alone when there was no answer.
func describeAttempt(err error, raw any) string {
	resp, _ := raw.(*smithyhttp.Response)
	if resp == nil || resp.Response == nil {
		return clip(err.Error(), maxDetail)
	}
	var detail string
	var api smithy.APIError
	var de *smithy.DeserializationError
	switch {
	case errors.As(err, &api) && api.ErrorCode() != "UnknownError":
		detail = api.ErrorCode()
		if m := api.ErrorMessage(); m != "" {
			detail += ": " + m
		}
	case errors.As(err, &de) && (resp.StatusCode < 300 || errors.Is(err, ErrResponseTooLarge)):
		detail = de.Err.Error()
	default:
		if b, ok := resp.Body.(*cappedBody); ok {
			if x := clip(string(b.excerpt()), maxExcerpt); x != "" {
				detail = fmt.Sprintf("%q", x)
				break
			}
		}
		detail = err.Error()
	}
	return fmt.Sprintf("HTTP %d: %s", resp.StatusCode, clip(detail, maxDetail))
}

// clip collapses runs of spaces and control characters into one space and
// cuts s to at most n bytes (on a rune boundary), marking a cut with "...".
func clip(s string, n int) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) <= n {
		return out
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + "..."
}
