package lambdasim

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
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
	RequestId string
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
	body.Error.Code, body.Error.Message, body.RequestId = e.code, e.message, reqID
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
// if f replaces the normal answer (Reset, Status or Body), reporting whether
// it did. It also reports true when the client went away during the delay.
func applyFault(w http.ResponseWriter, r *http.Request, f *Fault, p protocol, reqID string) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	switch {
	case f.Reset:
		resetConnection(w)
	case f.Status != 0:
		writeResponse(w, p.errorResponse(p.faultError(f), reqID))
	case f.Body != nil:
		writeResponse(w, &response{status: http.StatusOK, header: p.header(reqID), body: f.Body})
	default:
		return false
	}
	return true
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
	if f != nil && applyFault(w, r, f, p, reqID) {
		return
	}
	resp := serve(reqID)
	if f != nil && f.Truncate {
		resp.body = resp.body[:len(resp.body)/2]
	}
	writeResponse(w, resp)
}
