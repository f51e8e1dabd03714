package scrape

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithytime "github.com/aws/smithy-go/time"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
)

// ErrMalformedResponse reports a successful (2xx) answer that is not what
// the operation returns: an empty body, a body that is not JSON or not a
// JSON object, a listing page without its DurableExecutions array or with a
// NextMarker that is not a string, a GetDurableExecution answer without
// DurableExecutionArn or Status. The SDK alone would read most of these as
// an empty page or a zero execution. Such an answer is not retried.
var ErrMalformedResponse = errors.New("malformed response")

// Why the exporter reads the answers itself
//
// The SDK's generated deserializer is both too lenient and too strict for a
// monitoring tool. Too lenient: it reads an empty body, "{}" or a page
// without DurableExecutions as a valid, empty answer, so a listing would end
// early without any error. Too strict: one wrongly typed field in one item
// ("StartTimestamp":"abc") fails the whole page, and so every poll of that
// function, for as long as the item is listed.
//
// Two deserialize middlewares, added to each operation's stack through
// lambda.Options.APIOptions (see addAnswerChecks), sit between the SDK's
// OperationDeserializer and the transport. Everything before them is the
// SDK's own: SigV4 signing, the retry loop (each attempt passes through
// them), error decoding of non-2xx answers, the paginator.
//
//   - listPageReader decodes a 2xx ListDurableExecutionsByFunction page
//     itself, streaming it with encoding/json: the page must be a JSON
//     object with a DurableExecutions array, and NextMarker must be a string
//     when present. Each item is converted to an Execution on its own; an
//     item that cannot be (a wrongly typed field, or not an object at all)
//     becomes an Execution with Malformed set instead of failing the page.
//     The items go into the answer's middleware.Metadata (under pageKey),
//     and the SDK is handed a rewritten body holding only the NextMarker, so
//     the paginator follows markers exactly as before while the SDK's item
//     conversion is bypassed. This decodes every page once, keeps the page
//     order, and means one parser (this file) decides what an item holds.
//   - getAnswerCheck reads a 2xx GetDurableExecution answer, checks that it
//     is a JSON object with string DurableExecutionArn and Status, and hands
//     the same bytes on to the SDK, whose decoding of the fields is kept.
//     An answer to ErrorOf (IncludeExecutionData=true, marked in the
//     context) may carry megabytes of payloads: it is not read into memory
//     but streamed through scanErrorAnswer, and the SDK is handed a compact
//     rewrite (see errors.go).
//
// A client whose stack lacks the middlewares (NewClient with another API)
// falls back to the SDK's items.

// addAnswerChecks is the lambda.Options.APIOptions entry that installs the
// answer readers on the operations that need them, and the attempt recorder
// (see attempts.go) on every operation.
func addAnswerChecks(stack *middleware.Stack) error {
	if err := stack.Deserialize.Add(attemptRecorder{}, middleware.Before); err != nil {
		return err
	}
	switch stack.ID() {
	case OpList:
		return stack.Deserialize.Insert(listPageReader{}, "OperationDeserializer", middleware.After)
	case OpGet:
		return stack.Deserialize.Insert(getAnswerCheck{}, "OperationDeserializer", middleware.After)
	}
	return nil
}

// pageKey is the middleware.Metadata key of a page's []Execution.
type pageKey struct{}

// pageItems returns the items listPageReader decoded, if it did.
func pageItems(md middleware.Metadata) ([]Execution, bool) {
	items, ok := md.Get(pageKey{}).([]Execution)
	return items, ok
}

// listPageReader decodes ListDurableExecutionsByFunction pages; see above.
type listPageReader struct{}

func (listPageReader) ID() string { return "LambdaDurableExporterListPageReader" }

func (listPageReader) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleDeserialize(ctx, in)
	resp, ok := successful(out, err)
	if !ok {
		return out, md, err
	}
	items, marker, err := decodePage(resp.Body)
	if err != nil {
		return out, md, &smithy.DeserializationError{Err: err}
	}
	md.Set(pageKey{}, items)
	rest, err := json.Marshal(struct {
		NextMarker *string `json:",omitempty"`
	}{marker})
	if err != nil {
		return out, md, &smithy.DeserializationError{Err: err}
	}
	resp.Body = replacedBody{Reader: bytes.NewReader(rest), Closer: resp.Body}
	return out, md, nil
}

// getAnswerCheck checks GetDurableExecution answers; see above.
type getAnswerCheck struct{}

func (getAnswerCheck) ID() string { return "LambdaDurableExporterGetAnswerCheck" }

func (getAnswerCheck) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleDeserialize(ctx, in)
	resp, ok := successful(out, err)
	if !ok {
		return out, md, err
	}
	if ctx.Value(errorReadKey{}) != nil {
		// An ErrorOf answer, with payloads: stream it (see errors.go).
		f, err := scanErrorAnswer(resp.Body)
		if err != nil {
			return out, md, &smithy.DeserializationError{Err: err}
		}
		md.Set(errorFieldsKey{}, f)
		b, err := compactErrorAnswer(f)
		if err != nil {
			return out, md, &smithy.DeserializationError{Err: err}
		}
		resp.Body = replacedBody{Reader: bytes.NewReader(b), Closer: resp.Body}
		return out, md, nil
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return out, md, &smithy.DeserializationError{Err: fmt.Errorf("read response body: %w", err)}
	}
	if err := checkExecution(b); err != nil {
		return out, md, &smithy.DeserializationError{Err: err}
	}
	resp.Body = replacedBody{Reader: bytes.NewReader(b), Closer: resp.Body}
	return out, md, nil
}

// successful returns the HTTP answer of an attempt when it is one with a
// 2xx status, the only kind the answer readers look at.
func successful(out middleware.DeserializeOutput, err error) (*smithyhttp.Response, bool) {
	if err != nil {
		return nil, false
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.Response == nil || resp.Body == nil || resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return nil, false
	}
	return resp, true
}

// replacedBody is what the SDK reads instead of a body already read; closing
// it closes the original.
type replacedBody struct {
	io.Reader
	io.Closer
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedResponse, fmt.Sprintf(format, a...))
}

// syntaxError turns an encoding/json error while reading a body into the
// error of the answer: malformed JSON is ErrMalformedResponse, a failure to
// read the body (a reset connection, a too large answer) stays what it is.
func syntaxError(what string, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return malformed("%s is not JSON (%v)", what, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("%s is truncated JSON", what)
	}
	return fmt.Errorf("read response body: %w", err)
}

// decodePage reads one listing page: its items in order and its NextMarker
// (nil when absent or null).
func decodePage(r io.Reader) ([]Execution, *string, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	switch {
	case err == io.EOF:
		return nil, nil, malformed("the body is empty")
	case err != nil:
		return nil, nil, syntaxError("the body", err)
	case tok != json.Delim('{'):
		return nil, nil, malformed("the body is not a JSON object")
	}
	var items []Execution
	var marker *string
	seen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, syntaxError("the body", err)
		}
		switch key, _ := tok.(string); key {
		case "DurableExecutions":
			if items, err = decodeItems(dec); err != nil {
				return nil, nil, err
			}
			seen = true
		case "NextMarker":
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, nil, syntaxError("the body", err)
			}
			marker = nil
			if !isNull(raw) {
				var m string
				if err := json.Unmarshal(raw, &m); err != nil {
					return nil, nil, malformed("NextMarker is not a string")
				}
				marker = &m
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, nil, syntaxError("the body", err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, syntaxError("the body", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, nil, malformed("data after the JSON object")
		}
		return nil, nil, syntaxError("data after the JSON object", err)
	}
	if !seen {
		return nil, nil, malformed("no DurableExecutions array in the page")
	}
	return items, marker, nil
}

// decodeItems reads the DurableExecutions array, item by item.
func decodeItems(dec *json.Decoder) ([]Execution, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError("DurableExecutions", err)
	}
	if tok != json.Delim('[') {
		return nil, malformed("DurableExecutions is not an array")
	}
	items := []Execution{}
	for dec.More() {
		var fields map[string]json.RawMessage
		err := dec.Decode(&fields)
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			// The value was read in full; only its type is wrong.
			items = append(items, Execution{Malformed: "not a JSON object"})
			continue
		case err != nil:
			return nil, syntaxError("DurableExecutions", err)
		case fields == nil: // null
			items = append(items, Execution{Malformed: "not a JSON object"})
			continue
		}
		items = append(items, decodeItem(fields))
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return nil, syntaxError("DurableExecutions", err)
	}
	return items, nil
}

// decodeItem converts one listed item. Absent and null fields are left
// zero, as the SDK leaves them; the poller judges what is missing. A field
// of the wrong type, or a timestamp beyond what time.Time holds in
// nanoseconds, makes the item Malformed: then only ARN, Name and
// FunctionARN are kept, those of them that could be read.
func decodeItem(f map[string]json.RawMessage) Execution {
	var e Execution
	var bad []string
	str := func(key string, dst *string) {
		if raw, ok := f[key]; ok && !isNull(raw) {
			if err := json.Unmarshal(raw, dst); err != nil {
				bad = append(bad, key+": not a string")
			}
		}
	}
	ts := func(key string, dst *int64) {
		if raw, ok := f[key]; ok && !isNull(raw) {
			if reason := epochMillis(raw, dst); reason != "" {
				bad = append(bad, key+": "+reason)
			}
		}
	}
	str("DurableExecutionArn", &e.ARN)
	str("DurableExecutionName", &e.Name)
	str("FunctionArn", &e.FunctionARN)
	str("Status", &e.RawStatus)
	ts("StartTimestamp", &e.Start)
	ts("EndTimestamp", &e.End)
	if len(bad) > 0 {
		return Execution{ARN: e.ARN, Name: e.Name, FunctionARN: e.FunctionARN, Malformed: strings.Join(bad, "; ")}
	}
	e.Status = durable.ParseStatus(e.RawStatus)
	return e
}

// maxEpochSeconds bounds timestamps to what time.Time holds as Unix
// nanoseconds (years 1678 to 2262).
const maxEpochSeconds = math.MaxInt64/1e9 - 1

// epochMillis converts a JSON number of epoch seconds to Unix milliseconds
// exactly as the SDK does (smithy-go's ParseEpochSeconds), or says why not.
func epochMillis(raw json.RawMessage, dst *int64) string {
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return "not a number"
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.Abs(v) > maxEpochSeconds {
		return "out of range"
	}
	*dst = smithytime.ParseEpochSeconds(v).UnixMilli()
	return ""
}

// checkExecution checks a GetDurableExecution answer: a JSON object with a
// non-empty string DurableExecutionArn and Status.
func checkExecution(b []byte) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return malformed("the body is empty")
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(b, &f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return malformed("the body is not a JSON object")
		}
		return syntaxError("the body", err)
	}
	if f == nil {
		return malformed("the body is not a JSON object")
	}
	for _, key := range []string{"DurableExecutionArn", "Status"} {
		raw, ok := f[key]
		if !ok || isNull(raw) {
			return malformed("no %s in the answer", key)
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return malformed("%s is not a string", key)
		}
		if s == "" {
			return malformed("%s is empty", key)
		}
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }
