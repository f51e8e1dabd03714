package lambdasim

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	apiPrefix  = "/2025-12-01/"
	listPrefix = apiPrefix + "functions/"
	listSuffix = "/durable-executions"
	getPrefix  = apiPrefix + "durable-executions/"
)

// response is an answer built in memory, so that faults can alter it.
type response struct {
	status int
	header http.Header
	body   []byte
}

// apiError is an error answer in the Lambda restJson1 shape.
type apiError struct {
	status     int
	code       string
	message    string
	reason     string
	retryAfter string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func invalidParam(format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "InvalidParameterValueException", message: fmt.Sprintf(format, a...)}
}

func resourceNotFound(format string, a ...any) *apiError {
	return &apiError{status: http.StatusNotFound, code: "ResourceNotFoundException", message: fmt.Sprintf(format, a...)}
}

// ServeHTTP serves the two durable-execution read operations and
// ListFunctions. Every request must carry a SigV4 Authorization header
// whose credential scope names the simulator's region and the service
// "lambda" (the signature itself is not verified); otherwise the answer is
// 403. Every answer is dated (the Date header) by Options.Now.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setDate(w, s.now())
	op, label, ok := route(r)
	if !ok {
		writeResponse(w, errorResponse(&apiError{
			status: http.StatusNotFound, code: "UnknownOperationException",
			message: "Unknown operation " + r.Method + " " + r.URL.EscapedPath(),
		}, ""))
		return
	}
	n, reqID := s.countRequest(op)
	if err := s.checkAuth(r); err != nil {
		writeResponse(w, errorResponse(err, reqID))
		return
	}

	query := r.URL.Query()
	fault := s.intercept(op, label, query, n)
	if fault != nil && s.preempt(w, r, fault, reqID) {
		return
	}
	resp := s.serve(op, label, query, reqID)
	if fault != nil && fault.Truncate {
		resp.body = resp.body[:len(resp.body)/2]
	}
	writeResponse(w, resp)
}

// intercept asks Options.Intercept for a fault for this request.
func (s *Server) intercept(op, label string, query url.Values, n int) *Fault {
	if s.opts.Intercept == nil {
		return nil
	}
	fn := label
	if op == OpList || op == OpGetFunctionConfiguration {
		if ref, err := parseFunctionName(label); err == nil {
			fn = ref.name
		}
	} else if name := functionOfARN(label); name != "" {
		fn = name
	}
	return s.opts.Intercept(Request{Op: op, Account: s.opts.AccountID, Region: s.opts.Region, Function: fn, Query: cloneValues(query), N: n})
}

// preempt applies the Delay of f and answers the request if f replaces the
// normal answer (Reset, Status, Body or BodySize), reporting whether it did.
// It also reports true when the client went away during the delay.
func (s *Server) preempt(w http.ResponseWriter, r *http.Request, f *Fault, reqID string) bool {
	return applyFault(w, r, f, lambdaProtocol{}, reqID, s.now)
}

// serve builds the normal answer, rate limits included.
func (s *Server) serve(op, label string, query url.Values, reqID string) *response {
	if err := s.throttle(op); err != nil {
		return errorResponse(err, reqID)
	}
	var body any
	var aerr *apiError
	switch op {
	case OpList:
		body, aerr = s.list(label, query)
	case OpListFunctions:
		body, aerr = s.listFunctions(query)
	case OpGetFunctionConfiguration:
		body, aerr = s.getFunctionConfiguration(label, query)
	default:
		body, aerr = s.get(label, query)
	}
	if aerr != nil {
		return errorResponse(aerr, reqID)
	}
	return jsonResponse(body, reqID)
}

// route maps a request to an operation and its (unescaped) path label.
func route(r *http.Request) (op, label string, ok bool) {
	if r.Method != http.MethodGet {
		return "", "", false
	}
	p := r.URL.EscapedPath()
	switch {
	case p == listFunctionsPath || p == listFunctionsPath+"/":
		return OpListFunctions, "", true
	case strings.HasPrefix(p, listFunctionsPath+"/"):
		name, ok := routeConfiguration(p)
		return OpGetFunctionConfiguration, name, ok
	case strings.HasPrefix(p, listPrefix) && strings.HasSuffix(p, listSuffix):
		raw := strings.TrimSuffix(strings.TrimPrefix(p, listPrefix), listSuffix)
		if raw == "" || strings.Contains(raw, "/") {
			return "", "", false
		}
		name, err := url.PathUnescape(raw)
		return OpList, name, err == nil
	case strings.HasPrefix(p, getPrefix):
		// The SDK escapes '/' in the ARN as %2F; an unescaped one is taken as
		// part of the ARN too.
		arn, err := url.PathUnescape(strings.TrimPrefix(p, getPrefix))
		return OpGet, arn, err == nil && arn != ""
	}
	return "", "", false
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// checkAuth requires "Authorization: AWS4-HMAC-SHA256
// Credential=AKID/DATE/REGION/lambda/aws4_request, SignedHeaders=...,
// Signature=..." with the simulator's region. Error codes and messages follow
// what AWS answers.
func (s *Server) checkAuth(r *http.Request) *apiError {
	forbidden := func(code, msg string) *apiError {
		return &apiError{status: http.StatusForbidden, code: code, message: msg}
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return forbidden("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	algo, params, _ := strings.Cut(h, " ")
	if algo != "AWS4-HMAC-SHA256" {
		return forbidden("IncompleteSignatureException", "Unsupported authorization scheme "+strconv.Quote(algo))
	}
	fields := map[string]string{}
	for _, part := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return forbidden("IncompleteSignatureException", "Authorization header requires '"+k+"' parameter.")
		}
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[0] == "" || scope[4] != "aws4_request" {
		return forbidden("IncompleteSignatureException", "Authorization header has a malformed Credential: "+fields["Credential"])
	}
	if scope[3] != "lambda" {
		return forbidden("InvalidSignatureException", "Credential should be scoped to correct service: 'lambda'. ")
	}
	if scope[2] != s.opts.Region {
		return forbidden("InvalidSignatureException", "Credential should be scoped to a valid region, not '"+scope[2]+"'. ")
	}
	return nil
}

func (s *Server) throttle(op string) *apiError {
	lim := s.listLim
	switch op {
	case OpGet:
		lim = s.getLim
	case OpListFunctions:
		lim = s.listFnLim
	case OpGetFunctionConfiguration:
		lim = nil // a quota of its own, not simulated
	}
	if lim == nil {
		return nil
	}
	now := s.now()
	res := lim.ReserveN(now, 1)
	d := res.DelayFrom(now)
	if res.OK() && d == 0 {
		return nil
	}
	if res.OK() {
		res.CancelAt(now)
	} else {
		d = time.Second
	}
	return &apiError{
		status:     http.StatusTooManyRequests,
		code:       "TooManyRequestsException",
		message:    "Rate exceeded",
		reason:     "CallerRateLimitExceeded",
		retryAfter: strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))),
	}
}

func faultError(f *Fault) *apiError {
	e := &apiError{status: f.Status, code: f.ErrorType, reason: f.Reason, retryAfter: f.RetryAfter}
	if e.code == "" {
		switch f.Status {
		case http.StatusBadRequest:
			e.code = "InvalidParameterValueException"
		case http.StatusForbidden:
			e.code = "AccessDeniedException"
		case http.StatusNotFound:
			e.code = "ResourceNotFoundException"
		case http.StatusTooManyRequests:
			e.code = "TooManyRequestsException"
		default:
			e.code = "ServiceException"
		}
	}
	if e.code == "TooManyRequestsException" {
		if e.reason == "" {
			e.reason = "CallerRateLimitExceeded"
		}
		if e.retryAfter == "" {
			e.retryAfter = "1"
		}
	}
	e.message = "Injected fault: " + http.StatusText(f.Status)
	if e.code == "TooManyRequestsException" {
		e.message = "Rate exceeded"
	}
	return e
}

func jsonHeader(reqID string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if reqID != "" {
		h.Set("X-Amzn-RequestId", reqID)
	}
	return h
}

func jsonResponse(v any, reqID string) *response {
	b, err := json.Marshal(v)
	if err != nil {
		return errorResponse(&apiError{status: http.StatusInternalServerError, code: "ServiceException", message: err.Error()}, reqID)
	}
	return &response{status: http.StatusOK, header: jsonHeader(reqID), body: b}
}

// errorResponse renders e as Lambda does: the code in X-Amzn-ErrorType, a
// JSON body with Type, the message member under its modelled name, and
// Reason for throttles; Retry-After as a header.
func errorResponse(e *apiError, reqID string) *response {
	h := jsonHeader(reqID)
	h.Set("X-Amzn-ErrorType", e.code)
	if e.retryAfter != "" {
		h.Set("Retry-After", e.retryAfter)
	}
	typ := "User"
	if e.status >= 500 {
		typ = "Service"
	}
	msgKey := "message"
	switch e.code {
	case "ResourceNotFoundException", "ServiceException":
		msgKey = "Message"
	}
	body := map[string]string{"Type": typ, msgKey: e.message}
	if e.reason != "" {
		body["Reason"] = e.reason
	}
	b, _ := json.Marshal(body)
	return &response{status: e.status, header: h, body: b}
}

func writeResponse(w http.ResponseWriter, r *response) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(r.body)))
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}

// setDate dates an answer with the simulator's clock. net/http adds a Date
// from the real clock only when the handler did not set one.
func setDate(w http.ResponseWriter, now time.Time) {
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
}

// resetConnection closes the client connection without an answer.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
