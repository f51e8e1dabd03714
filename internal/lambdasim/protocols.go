package lambdasim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// protocol renders answers in the shape one AWS protocol's SDK decodes.
type protocol interface {
	// header returns the headers of a successful answer.
	header(reqID string) http.Header
	errorResponse(e *apiError, reqID string) *response
	// faultError turns an injected Fault with a Status into an error.
	faultError(f *Fault) *apiError
}

// lambdaProtocol is restJson1 as Lambda speaks it (see errorResponse).
type lambdaProtocol struct{}

func (lambdaProtocol) header(reqID string) http.Header                { return jsonHeader(reqID) }
func (lambdaProtocol) errorResponse(e *apiError, id string) *response { return errorResponse(e, id) }
func (lambdaProtocol) faultError(f *Fault) *apiError                  { return faultError(f) }

// taggingProtocol is awsJson1.1 as the Resource Groups Tagging API speaks
// it: errors are {"__type": CODE, "Message": ...} (the SDK resolves the code
// from X-Amzn-ErrorType, else __type, and strips any "prefix#" or
// ":suffix").
type taggingProtocol struct{}

func (taggingProtocol) header(reqID string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	if reqID != "" {
		h.Set("X-Amzn-RequestId", reqID)
	}
	return h
}

func (p taggingProtocol) errorResponse(e *apiError, reqID string) *response {
	h := p.header(reqID)
	if e.retryAfter != "" {
		h.Set("Retry-After", e.retryAfter)
	}
	msgKey := "Message"
	switch e.code {
	case "UnrecognizedClientException", "ExpiredTokenException", "MissingAuthenticationTokenException",
		"IncompleteSignatureException", "InvalidSignatureException", "UnknownOperationException", "SerializationException":
		// Errors raised by the service framework rather than modelled ones
		// use the lower-case member, as AWS sends them.
		msgKey = "message"
	}
	b, _ := json.Marshal(map[string]string{"__type": e.code, msgKey: e.message})
	return &response{status: e.status, header: h, body: b}
}

func (taggingProtocol) faultError(f *Fault) *apiError {
	e := &apiError{status: f.Status, code: f.ErrorType, retryAfter: f.RetryAfter}
	if e.code == "" {
		switch {
		case f.Status == http.StatusForbidden:
			e.code = "AccessDeniedException"
		case f.Status == http.StatusTooManyRequests:
			e.code = "ThrottledException"
		case f.Status >= 500:
			e.code = "InternalServiceException"
		default:
			e.code = "InvalidParameterException"
		}
	}
	e.message = "Injected fault: " + http.StatusText(f.Status)
	if e.code == "ThrottledException" {
		e.message = "Rate exceeded"
	}
	return e
}

// stsProtocol is awsQuery as STS speaks it: XML answers
// <OpResponse><OpResult>..</OpResult><ResponseMetadata/></OpResponse> and
// errors <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>.
type stsProtocol struct{}

func (stsProtocol) header(reqID string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "text/xml")
	if reqID != "" {
		h.Set("X-Amzn-RequestId", reqID)
	}
	return h
}

type stsErrorResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Error   struct {
		Type    string
		Code    string
		Message string
	}
	RequestID string `xml:"RequestId"`
}

func (p stsProtocol) errorResponse(e *apiError, reqID string) *response {
	h := p.header(reqID)
	if e.retryAfter != "" {
		h.Set("Retry-After", e.retryAfter)
	}
	var body stsErrorResponse
	body.Error.Type = "Sender"
	if e.status >= 500 {
		body.Error.Type = "Receiver"
	}
	body.Error.Code, body.Error.Message, body.RequestID = e.code, e.message, reqID
	b, _ := xml.Marshal(body)
	return &response{status: e.status, header: h, body: b}
}

func (stsProtocol) faultError(f *Fault) *apiError {
	e := &apiError{status: f.Status, code: f.ErrorType, retryAfter: f.RetryAfter}
	if e.code == "" {
		switch {
		case f.Status == http.StatusForbidden:
			e.code = "AccessDenied"
		case f.Status == http.StatusTooManyRequests:
			e.code = "Throttling"
		case f.Status == http.StatusServiceUnavailable:
			e.code = "ServiceUnavailable"
		case f.Status >= 500:
			e.code = "InternalFailure"
		default:
			e.code = "ValidationError"
		}
	}
	e.message = "Injected fault: " + http.StatusText(f.Status)
	if e.code == "Throttling" {
		e.message = "Rate exceeded"
	}
	return e
}

// applyFault applies the Delay of f and answers the request in protocol p
// if f replaces the normal answer (Reset, Status, Body or BodySize),
// reporting whether it did. It also reports true when the client went away
// during the delay. An answer after a delay is dated anew with now.
func applyFault(w http.ResponseWriter, r *http.Request, f *Fault, p protocol, reqID string, now func() time.Time) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
		setDate(w, now())
	}
	switch {
	case f.Reset:
		resetConnection(w)
	case f.Status != 0 && f.Body != nil:
		h := p.header(reqID)
		h.Set("Content-Type", cmp.Or(f.ContentType, "application/json"))
		if f.RetryAfter != "" {
			h.Set("Retry-After", f.RetryAfter)
		}
		writeResponse(w, &response{status: f.Status, header: h, body: f.Body})
	case f.Status != 0:
		writeResponse(w, p.errorResponse(p.faultError(f), reqID))
	case f.Body != nil:
		h := p.header(reqID)
		if f.ContentType != "" {
			h.Set("Content-Type", f.ContentType)
		}
		writeResponse(w, &response{status: http.StatusOK, header: h, body: f.Body})
	case f.BodySize > 0:
		writeBigPage(w, p.header(reqID), f.BodySize, f.Chunked)
	default:
		return false
	}
	return true
}

// writeBigPage answers 200 with {"DurableExecutions":[],"Padding":"xxx…"}
// of exactly size bytes (at least the 37 of an empty padding), generated
// while it is written.
func writeBigPage(w http.ResponseWriter, h http.Header, size int64, chunked bool) {
	const head, tail = `{"DurableExecutions":[],"Padding":"`, `"}`
	size = max(size, int64(len(head)+len(tail)))
	for k, v := range h {
		w.Header()[k] = v
	}
	if !chunked {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	}
	w.WriteHeader(http.StatusOK)
	if chunked {
		// Send the header now, so net/http cannot compute a length itself.
		_ = http.NewResponseController(w).Flush()
	}
	if _, err := io.WriteString(w, head); err != nil {
		return
	}
	pad := bytes.Repeat([]byte{'x'}, 32<<10)
	for left := size - int64(len(head)+len(tail)); left > 0; {
		n := min(left, int64(len(pad)))
		if _, err := w.Write(pad[:n]); err != nil {
			return // the client went away
		}
		left -= n
	}
	_, _ = io.WriteString(w, tail)
}

// handle serves one already authenticated request of a World-only
// operation: it counts it, asks Options.Intercept, applies the fault and
// otherwise answers with serve.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, p protocol, op string, query url.Values, serve func(reqID string) *response) {
	n, reqID := s.countRequest(op)
	var f *Fault
	if s.opts.Intercept != nil {
		var q url.Values
		if query != nil {
			q = cloneValues(query)
		}
		f = s.opts.Intercept(Request{Op: op, Account: s.opts.AccountID, Region: s.opts.Region, Query: q, N: n})
	}
	if f != nil && applyFault(w, r, f, p, reqID, s.now) {
		return
	}
	resp := serve(reqID)
	if f != nil && f.Truncate {
		resp.body = resp.body[:len(resp.body)/2]
	}
	writeResponse(w, resp)
}
