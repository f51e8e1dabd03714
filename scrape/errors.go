package scrape

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
)

// MaxErrorTypeBytes is how much of an Error.ErrorType ErrorOf keeps: a
// longer type is cut there (on a UTF-8 boundary), the rest is skipped
// unread into memory.
const MaxErrorTypeBytes = 1 << 10

// ExecutionError is what ErrorOf reads of an execution.
type ExecutionError struct {
	Status durable.Status
	// Type is Error.ErrorType as the API sent it, cut to MaxErrorTypeBytes;
	// "" when the Error has no (or an empty or null) ErrorType.
	Type string
	// HasError is false when the answer has no Error (or a null one).
	HasError bool
}

// Reading an execution's error
//
// Error is in a GetDurableExecution answer only with
// IncludeExecutionData=true, and then so are the execution's InputPayload
// and Result, up to about 1 MB each. ErrorOf marks its calls in their
// context (errorReadKey); for those, getAnswerCheck does not read the body
// into memory and does not let the SDK see it: scanErrorAnswer streams it
// through a small buffer, keeping DurableExecutionArn, Status and
// Error.ErrorType (each cut to MaxErrorTypeBytes) and skipping every other
// value byte by byte, payloads, ErrorMessage, ErrorData and StackTrace
// included, whatever their order. It checks what checkExecution checks
// (a JSON object with non-empty string DurableExecutionArn and Status), and
// the whole body's syntax. The fields go into the answer's metadata
// (errorFieldsKey), and the SDK is handed a compact body holding only them.

// errorReadKey marks the context of an ErrorOf call.
type errorReadKey struct{}

// errorFieldsKey is the middleware.Metadata key of an answer's errorFields.
type errorFieldsKey struct{}

// errorFields is what scanErrorAnswer keeps of an answer.
type errorFields struct {
	ARN, Status string
	HasError    bool
	Type        string
}

// ErrorOf reads the Status and Error.ErrorType of one execution with
// GetDurableExecution and IncludeExecutionData=true, streaming the answer
// (see above): its payloads are never held in memory. Each call first waits
// for the account and region's error-read budget (Limits.ErrorReadsPerSecond),
// then, like every GetDurableExecution, for its Get budget in the transport.
// An execution the API does not know is ErrNotFound; an answer that is not
// JSON, not an object, or lacks the execution's ARN or status is
// ErrMalformedResponse (clients of a Pool). When the context ends the
// call, the error also says why the last attempt before that failed.
func (c *Client) ErrorOf(ctx context.Context, arn string) (ExecutionError, error) {
	if c.errorGate != nil {
		if err := c.errorGate.wait(ctx); err != nil {
			return ExecutionError{}, fmt.Errorf("read error of %s: %w", arn, err)
		}
	}
	ctx = context.WithValue(ctx, errorReadKey{}, true)
	ctx, attempts := withAttemptLog(ctx)
	out, err := c.api.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{
		DurableExecutionArn:  aws.String(arn),
		IncludeExecutionData: aws.Bool(true),
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return ExecutionError{}, fmt.Errorf("read error of %s: %w", arn, ErrNotFound)
		}
		return ExecutionError{}, fmt.Errorf("read error of %s: %w", arn, attempts.annotate(err))
	}
	if f, ok := out.ResultMetadata.Get(errorFieldsKey{}).(errorFields); ok {
		return ExecutionError{Status: durable.ParseStatus(f.Status), Type: f.Type, HasError: f.HasError}, nil
	}
	// A client without the answer readers: the SDK decoded it all.
	e := ExecutionError{Status: durable.ParseStatus(string(out.Status))}
	if out.Error != nil {
		e.HasError = true
		e.Type = cutString(aws.ToString(out.Error.ErrorType), MaxErrorTypeBytes)
	}
	return e, nil
}

// compactErrorAnswer is the body the SDK is handed instead of the answer.
func compactErrorAnswer(f errorFields) ([]byte, error) {
	type errorObject struct {
		ErrorType string
	}
	v := struct {
		DurableExecutionArn string
		Status              string
		Error               *errorObject `json:",omitempty"`
	}{DurableExecutionArn: f.ARN, Status: f.Status}
	if f.HasError {
		v.Error = &errorObject{ErrorType: f.Type}
	}
	return json.Marshal(v)
}

// cutString cuts s to at most n bytes, dropping a rune cut in two.
func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for i := len(s) - 1; i >= 0 && i >= len(s)-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if !utf8.FullRuneInString(s[i:]) {
				s = s[:i]
			}
			break
		}
	}
	return s
}

// Bounds of the scanner.
const (
	// maxKeptBytes is how much of a kept string (ARN, Status, ErrorType)
	// is kept, decoded.
	maxKeptBytes = MaxErrorTypeBytes
	// maxKeptRaw is how much of a kept string's JSON text is buffered: an
	// escape is at most 6 bytes for 1 decoded byte, so this prefix always
	// decodes to more than maxKeptBytes when the string is that long.
	maxKeptRaw = 8 * maxKeptBytes
	// maxKeyRaw is how much of a member name's JSON text is read; a longer
	// name decodes to more than 40 bytes, so it is none of those kept.
	maxKeyRaw = 256
	// maxDepth bounds the nesting of skipped values, as encoding/json does.
	maxDepth = 10000
)

// kind is what a member held, for the checks made once the body is read.
type kind uint8

const (
	absent   kind = iota // absent or null
	isString             // a string (or, for Error, an object)
	other                // any other type
)

// errorScanner reads one GetDurableExecution answer; see scanErrorAnswer.
type errorScanner struct {
	r     *bufio.Reader
	raw   []byte // the JSON text of the string being kept
	depth int
}

// scanErrorAnswer reads a GetDurableExecution answer to its end and returns
// its DurableExecutionArn, Status and Error.ErrorType; a member given more
// than once counts as its last occurrence, as encoding/json has it. The
// answer must be one JSON object (and nothing after it) with non-empty
// string DurableExecutionArn and Status; Error, when present and not null,
// must be an object, and its ErrorType a string or null. Otherwise the error
// is ErrMalformedResponse; a failure to read the body stays what it is.
func scanErrorAnswer(r io.Reader) (errorFields, error) {
	s := &errorScanner{r: bufio.NewReaderSize(r, 4096), depth: 1} // the object itself
	var f errorFields
	c, err := s.nonSpace()
	switch {
	case errors.Is(err, errTruncated):
		return f, malformed("the body is empty")
	case err != nil:
		return f, err
	case c != '{':
		return f, malformed("the body is not a JSON object")
	}
	var arnKind, statusKind, errKind, typeKind kind
	first := true
	for {
		c, err := s.nonSpace()
		if err != nil {
			return f, err
		}
		if first && c == '}' {
			break
		}
		first = false
		if c != '"' {
			return f, malformed("the body is not JSON (a member name expected)")
		}
		key, err := s.key()
		if err != nil {
			return f, err
		}
		if err := s.expect(':'); err != nil {
			return f, err
		}
		if c, err = s.nonSpace(); err != nil {
			return f, err
		}
		switch key {
		case "DurableExecutionArn":
			arnKind, f.ARN, err = s.keptString(c)
		case "Status":
			statusKind, f.Status, err = s.keptString(c)
		case "Error":
			errKind, typeKind, f.Type, err = s.errorObject(c)
		default:
			err = s.skip(c)
		}
		if err != nil {
			return f, err
		}
		if c, err = s.nonSpace(); err != nil {
			return f, err
		}
		if c == '}' {
			break
		}
		if c != ',' {
			return f, malformed("the body is not JSON (',' or '}' expected)")
		}
	}
	for {
		c, err := s.r.ReadByte()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return f, readFailure(err)
		}
		if !isSpace(c) {
			return f, malformed("data after the JSON object")
		}
	}
	for _, m := range []struct {
		name string
		kind kind
		val  string
	}{{"DurableExecutionArn", arnKind, f.ARN}, {"Status", statusKind, f.Status}} {
		switch {
		case m.kind == absent:
			return f, malformed("no %s in the answer", m.name)
		case m.kind == other:
			return f, malformed("%s is not a string", m.name)
		case m.val == "":
			return f, malformed("%s is empty", m.name)
		}
	}
	switch {
	case errKind == other:
		return f, malformed("Error is not an object")
	case errKind == absent:
		f.Type = ""
	case typeKind == other:
		return f, malformed("Error.ErrorType is not a string")
	}
	f.HasError = errKind == isString
	return f, nil
}

// errTruncated is the end of the body inside the JSON value.
var errTruncated = malformed("the body is truncated JSON")

func readFailure(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated
	}
	return fmt.Errorf("read response body: %w", err)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *errorScanner) readByte() (byte, error) {
	c, err := s.r.ReadByte()
	if err != nil {
		return 0, readFailure(err)
	}
	return c, nil
}

func (s *errorScanner) nonSpace() (byte, error) {
	for {
		c, err := s.readByte()
		if err != nil || !isSpace(c) {
			return c, err
		}
	}
}

func (s *errorScanner) expect(want byte) error {
	c, err := s.nonSpace()
	if err != nil {
		return err
	}
	if c != want {
		return malformed("the body is not JSON (%q expected)", want)
	}
	return nil
}

// key reads a member name (its opening quote read); a name too long to be
// one of those kept is returned as "".
func (s *errorScanner) key() (string, error) {
	full, err := s.str(maxKeyRaw)
	if err != nil || !full {
		return "", err
	}
	return s.decoded(), nil
}

// keptString reads a member value that should be a string, starting with
// its first byte c.
func (s *errorScanner) keptString(c byte) (kind, string, error) {
	switch c {
	case '"':
		if _, err := s.str(maxKeptRaw); err != nil {
			return absent, "", err
		}
		return isString, cutString(s.decoded(), maxKeptBytes), nil
	case 'n':
		return absent, "", s.literal("null")
	}
	return other, "", s.skip(c)
}

// errorObject reads the value of Error, starting with its first byte c:
// what it is, what its ErrorType is, and that type.
func (s *errorScanner) errorObject(c byte) (errKind, typeKind kind, typ string, err error) {
	switch c {
	case 'n':
		return absent, absent, "", s.literal("null")
	case '{':
	default:
		return other, absent, "", s.skip(c)
	}
	s.depth++
	defer func() { s.depth-- }()
	first := true
	for {
		c, err := s.nonSpace()
		if err != nil {
			return 0, 0, "", err
		}
		if first && c == '}' {
			return isString, typeKind, typ, nil
		}
		first = false
		if c != '"' {
			return 0, 0, "", malformed("the body is not JSON (a member name expected)")
		}
		key, err := s.key()
		if err != nil {
			return 0, 0, "", err
		}
		if err := s.expect(':'); err != nil {
			return 0, 0, "", err
		}
		if c, err = s.nonSpace(); err != nil {
			return 0, 0, "", err
		}
		if key == "ErrorType" {
			typeKind, typ, err = s.keptString(c)
		} else {
			err = s.skip(c)
		}
		if err != nil {
			return 0, 0, "", err
		}
		if c, err = s.nonSpace(); err != nil {
			return 0, 0, "", err
		}
		if c == '}' {
			return isString, typeKind, typ, nil
		}
		if c != ',' {
			return 0, 0, "", malformed("the body is not JSON (',' or '}' expected)")
		}
	}
}

// str reads the rest of a string whose opening quote was read, keeping the
// first keep bytes of its JSON text in s.raw (whole escapes only; keep 0:
// none). full reports whether all of it was kept.
func (s *errorScanner) str(keep int) (full bool, err error) {
	s.raw = s.raw[:0]
	full = true
	add := func(b ...byte) {
		if !full {
			return
		}
		if len(s.raw)+len(b) > keep {
			full = false
			return
		}
		s.raw = append(s.raw, b...)
	}
	for {
		c, err := s.readByte()
		if err != nil {
			return false, err
		}
		switch {
		case c == '"':
			return full, nil
		case c < 0x20:
			return false, malformed("the body is not JSON (a control character in a string)")
		case c != '\\':
			add(c)
			continue
		}
		e, err := s.readByte()
		if err != nil {
			return false, err
		}
		switch e {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			add('\\', e)
		case 'u':
			var u [6]byte
			u[0], u[1] = '\\', 'u'
			for i := 2; i < 6; i++ {
				h, err := s.readByte()
				if err != nil {
					return false, err
				}
				if !isHex(h) {
					return false, malformed("the body is not JSON (a bad \\u escape)")
				}
				u[i] = h
			}
			add(u[:]...)
		default:
			return false, malformed("the body is not JSON (a bad escape)")
		}
	}
}

// decoded returns the string whose JSON text str kept, decoded as
// encoding/json decodes it (invalid UTF-8 and lone surrogates become
// U+FFFD).
func (s *errorScanner) decoded() string {
	q := make([]byte, 0, len(s.raw)+2)
	q = append(append(append(q, '"'), s.raw...), '"')
	var v string
	if err := json.Unmarshal(q, &v); err != nil {
		return "" // cannot happen: str checked the text
	}
	return v
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// literal reads the rest of word (true, false or null), whose first byte
// was read.
func (s *errorScanner) literal(word string) error {
	for i := 1; i < len(word); i++ {
		c, err := s.readByte()
		if err != nil {
			return err
		}
		if c != word[i] {
			return malformed("the body is not JSON (a bad literal)")
		}
	}
	return nil
}

// skip reads a whole JSON value starting with its first byte c, keeping
// nothing of it: strings are read byte by byte, never buffered.
func (s *errorScanner) skip(c byte) error {
	switch {
	case c == '"':
		_, err := s.str(0)
		return err
	case c == '{' || c == '[':
		return s.skipContainer(c)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || isDigit(c):
		return s.number(c)
	}
	return malformed("the body is not JSON (a value expected)")
}

func (s *errorScanner) skipContainer(open byte) error {
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > maxDepth {
		return malformed("the body is not JSON (nested too deep)")
	}
	end := byte('}')
	if open == '[' {
		end = ']'
	}
	first := true
	for {
		c, err := s.nonSpace()
		if err != nil {
			return err
		}
		if first && c == end {
			return nil
		}
		first = false
		if open == '{' {
			if c != '"' {
				return malformed("the body is not JSON (a member name expected)")
			}
			if _, err := s.str(0); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if c, err = s.nonSpace(); err != nil {
				return err
			}
		}
		if err := s.skip(c); err != nil {
			return err
		}
		if c, err = s.nonSpace(); err != nil {
			return err
		}
		if c == end {
			return nil
		}
		if c != ',' {
			return malformed("the body is not JSON (',' or %q expected)", end)
		}
	}
}

// number reads the rest of a number starting with c:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *errorScanner) number(c byte) error {
	bad := malformed("the body is not JSON (a bad number)")
	var err error
	if c == '-' {
		if c, err = s.readByte(); err != nil {
			return err
		}
		if !isDigit(c) {
			return bad
		}
	}
	// peek returns the next byte without reading it; ok false at the end.
	peek := func() (byte, bool, error) {
		b, err := s.r.Peek(1)
		if errors.Is(err, io.EOF) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, readFailure(err)
		}
		return b[0], true, nil
	}
	digits := func(atLeastOne bool) error {
		n := 0
		for {
			d, ok, err := peek()
			if err != nil {
				return err
			}
			if !ok || !isDigit(d) {
				if atLeastOne && n == 0 {
					if !ok {
						return errTruncated
					}
					return bad
				}
				return nil
			}
			_, _ = s.r.ReadByte()
			n++
		}
	}
	if c != '0' {
		if err := digits(false); err != nil {
			return err
		}
	}
	d, ok, err := peek()
	if err != nil || !ok {
		return err
	}
	if d == '.' {
		_, _ = s.r.ReadByte()
		if err := digits(true); err != nil {
			return err
		}
		if d, ok, err = peek(); err != nil || !ok {
			return err
		}
	}
	if d == 'e' || d == 'E' {
		_, _ = s.r.ReadByte()
		if d, ok, err = peek(); err != nil {
			return err
		}
		if ok && (d == '+' || d == '-') {
			_, _ = s.r.ReadByte()
		}
		if err := digits(true); err != nil {
			return err
		}
	}
	return nil
}
