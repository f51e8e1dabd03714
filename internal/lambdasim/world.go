package lambdasim

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WorldOptions configures a [World]. The zero value is usable.
type WorldOptions struct {
	// Now is the clock shared by every partition and by credential expiry;
	// it dates every answer (the Date header). Default time.Now.
	Now func() time.Time

	// ListRate, GetRate and ListFunctionsRate limit requests per second for
	// each (account, region) partition, as AWS applies these quotas; see
	// [Options.ListRate]. 0 = unlimited.
	ListRate, GetRate float64
	ListFunctionsRate float64

	// Intercept is given to every partition (see [Options.Intercept]); its
	// Request carries the partition's Account and Region. It is called for
	// ListDurableExecutionsByFunction, GetDurableExecution, ListFunctions,
	// GetResources, AssumeRole and GetCallerIdentity, after the World has
	// accepted the credentials; a Fault with a Status is answered in the
	// protocol of the operation (see [World]).
	Intercept func(Request) *Fault

	// OffsetMarkers and ReverseMeansNewestFirst are passed to every
	// partition.
	OffsetMarkers, ReverseMeansNewestFirst bool
}

// World simulates several AWS accounts and regions behind one HTTP
// endpoint: Lambda (ListFunctions and the durable-execution reads), STS
// (AssumeRole, GetCallerIdentity) and the Resource Groups Tagging API
// (GetResources). Real SDK clients of the three services can share one
// BaseEndpoint; each request is routed by its SigV4 Authorization header:
//
//   - the credential scope's service ("lambda", "sts" or "tagging")
//     selects the API, and its region the region;
//   - the access key ID selects the account: keys come from
//     [World.AddAccount] (long-term, "AKIA...") or from AssumeRole
//     ("ASIA...", valid with their session token in X-Amz-Security-Token
//     until their expiration on the World's clock).
//
// Lambda and Tagging requests are served by the [Server] of the (account,
// region) partition, see [World.Partition]. Signatures are not verified.
//
// Credential errors, as AWS answers them: an unknown access key, or a
// session token that does not match, is 403 UnrecognizedClientException
// "The security token included in the request is invalid." for Lambda, 400
// UnrecognizedClientException for the Tagging API (awsJson services answer
// 400), and 403 InvalidClientTokenId for STS; an expired session is
// ExpiredTokenException (403 Lambda, 400 Tagging) and ExpiredToken (403
// STS), "The security token included in the request is expired". Requests
// rejected so are counted in [World.Requests] but in no partition.
//
// The SDK's aws.CredentialsCache decides expiry with the real clock, not
// the World's: credentials issued at a fake time far in the past look
// expired to it at once (it calls AssumeRole before every request), and
// advancing a fake clock past their expiration makes the World reject them
// while the cache still holds them (call Invalidate on the cache).
type World struct {
	opts WorldOptions

	mu    sync.RWMutex
	parts map[partKey]*Server
	keys  map[string]*principal
	roles map[string]*role
	seq   uint64

	rejMu    sync.Mutex
	rejected map[string]int
}

type partKey struct{ account, region string }

// principal is the identity behind one access key.
type principal struct {
	accessKey, secret, token string
	account                  string
	// expires is zero for long-term keys.
	expires time.Time
	// role is nil for the account's user; session is the RoleSessionName.
	role    *role
	session string
}

type role struct {
	arn, account, name, externalID, id string
	// issued counts AssumeRole successes; guarded by World.mu.
	issued int
}

// arn returns the principal's ARN as GetCallerIdentity reports it.
func (p *principal) arn() string {
	if p.role != nil {
		return "arn:aws:sts::" + p.account + ":assumed-role/" + p.role.name + "/" + p.session
	}
	return "arn:aws:iam::" + p.account + ":user/sim"
}

func (p *principal) userID() string {
	if p.role != nil {
		return p.role.id + ":" + p.session
	}
	return "AIDA" + idChars("user/"+p.account, 17)
}

// NewWorld returns a World without accounts.
func NewWorld(o WorldOptions) *World {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &World{
		opts:     o,
		parts:    make(map[partKey]*Server),
		keys:     make(map[string]*principal),
		roles:    make(map[string]*role),
		rejected: make(map[string]int),
	}
}

// validAccount reports whether s can stand in ARNs as an account ID.
func validAccount(s string) bool {
	return s != "" && !strings.ContainsAny(s, ":/ ")
}

// AddAccount registers a new pair of long-term credentials for the account
// (AWS account IDs are 12 digits; any string without ':', '/' or spaces is
// accepted) and returns them. Their identity is the IAM user
// arn:aws:iam::ACCOUNT:user/sim. It may be called again for more keys.
func (w *World) AddAccount(account string) (accessKey, secretKey string) {
	if !validAccount(account) {
		panic(fmt.Sprintf("lambdasim: AddAccount: invalid account %q", account))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.newPrincipalLocked("AKIA", account)
	return p.accessKey, p.secret
}

// newPrincipalLocked registers fresh keys for account; the caller holds
// w.mu.
func (w *World) newPrincipalLocked(prefix, account string) *principal {
	w.seq++
	seed := fmt.Sprintf("%s/%s/%d", prefix, account, w.seq)
	p := &principal{
		accessKey: prefix + idChars(seed+"/id", 16),
		secret:    b64Chars(seed+"/secret", 40),
		account:   account,
	}
	w.keys[p.accessKey] = p
	return p
}

// idChars derives n characters of [A-Z2-7] from seed.
func idChars(seed string, n int) string {
	sum := sha256.Sum256([]byte(seed))
	return base32.StdEncoding.EncodeToString(sum[:])[:n]
}

// b64Chars derives n characters of base64 from seed.
func b64Chars(seed string, n int) string {
	var out []byte
	for i := 0; len(out) < n; i++ {
		sum := sha256.Sum256([]byte(seed + "/" + strconv.Itoa(i)))
		out = append(out, base64.StdEncoding.EncodeToString(sum[:])[:40]...)
	}
	return string(out[:n])
}

// AddRole registers an IAM role arn:aws:iam::ACCOUNT:role/[PATH/]NAME that
// any registered principal may assume. When externalID is not "", an
// AssumeRole must pass exactly that ExternalId (else AccessDenied). Adding
// a role again replaces its external ID. It panics on a malformed ARN.
// The role's MaxSessionDuration is 3600 seconds, the AWS default.
func (w *World) AddRole(roleARN string, externalID string) {
	r, ok := parseRoleARN(roleARN)
	if !ok {
		panic(fmt.Sprintf("lambdasim: AddRole: invalid role ARN %q", roleARN))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if old := w.roles[roleARN]; old != nil {
		old.externalID = externalID
		return
	}
	r.externalID = externalID
	w.roles[roleARN] = r
}

func parseRoleARN(s string) (*role, bool) {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] != "iam" || p[3] != "" || !validAccount(p[4]) {
		return nil, false
	}
	path, ok := strings.CutPrefix(p[5], "role/")
	if !ok {
		return nil, false
	}
	name := path[strings.LastIndex(path, "/")+1:]
	if name == "" {
		return nil, false
	}
	return &role{arn: s, account: p[4], name: name, id: "AROA" + idChars("role/"+s, 17)}, true
}

// Partition returns the Server of the account and region, creating it on
// first use with the World's clock, rates, Intercept and list options. Use
// its methods to populate it (AddFunction, Start, End, SetTags,
// AddPlainFunction, RunWorkload...) and inspect it (Requests...). It panics
// if account or region is empty.
func (w *World) Partition(account, region string) *Server {
	if !validAccount(account) || region == "" {
		panic(fmt.Sprintf("lambdasim: Partition: invalid account %q or region %q", account, region))
	}
	k := partKey{account, region}
	w.mu.RLock()
	s := w.parts[k]
	w.mu.RUnlock()
	if s != nil {
		return s
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if s = w.parts[k]; s == nil {
		s = New(Options{
			Region:                  region,
			AccountID:               account,
			Now:                     w.opts.Now,
			ListRate:                w.opts.ListRate,
			GetRate:                 w.opts.GetRate,
			ListFunctionsRate:       w.opts.ListFunctionsRate,
			Intercept:               w.opts.Intercept,
			OffsetMarkers:           w.opts.OffsetMarkers,
			ReverseMeansNewestFirst: w.opts.ReverseMeansNewestFirst,
		})
		sum := sha256.Sum256([]byte("partition/" + account + "/" + region))
		s.reqSalt = binary.BigEndian.Uint64(sum[:8])
		w.parts[k] = s
	}
	return s
}

// partitions returns a snapshot of the partitions.
func (w *World) partitions() []*Server {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]*Server, 0, len(w.parts))
	for _, s := range w.parts {
		out = append(out, s)
	}
	return out
}

// Requests returns how many requests were received per operation across
// the World: every partition's [Server.Requests] (durable reads,
// ListFunctions, GetResources, AssumeRole, GetCallerIdentity) plus the
// requests the World rejected for their credentials.
func (w *World) Requests() map[string]int {
	out := map[string]int{}
	for _, s := range w.partitions() {
		for k, v := range s.Requests() {
			out[k] += v
		}
	}
	w.rejMu.Lock()
	defer w.rejMu.Unlock()
	for k, v := range w.rejected {
		out[k] += v
	}
	return out
}

// RequestsIn returns the request counts of one partition (empty if it was
// never used). STS requests count in the caller's account and the region of
// their credential scope.
func (w *World) RequestsIn(account, region string) map[string]int {
	w.mu.RLock()
	s := w.parts[partKey{account, region}]
	w.mu.RUnlock()
	if s == nil {
		return map[string]int{}
	}
	return s.Requests()
}

// ResetRequests zeroes the counts of every partition and of rejected
// requests.
func (w *World) ResetRequests() {
	for _, s := range w.partitions() {
		s.ResetRequests()
	}
	w.rejMu.Lock()
	defer w.rejMu.Unlock()
	clear(w.rejected)
}

// ListenWorld serves w like [Listen] serves a Server.
func ListenWorld(addr string, w *World) (string, func(context.Context) error, error) {
	return listen(addr, w)
}

// credential is the parsed SigV4 credential of a request.
type credential struct {
	accessKey, region, service string
}

// authFailure is a credential problem, rendered per service.
type authFailure int

const (
	authMissing authFailure = iota + 1
	authIncomplete
	authUnrecognized
	authExpired
)

// parseCredential reads "Authorization: AWS4-HMAC-SHA256
// Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=...,
// Signature=...".
func parseCredential(h string) (credential, authFailure, string) {
	if h == "" {
		return credential{}, authMissing, ""
	}
	algo, params, _ := strings.Cut(h, " ")
	if algo != "AWS4-HMAC-SHA256" {
		return credential{}, authIncomplete, "Unsupported authorization scheme " + strconv.Quote(algo)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return credential{}, authIncomplete, "Authorization header requires '" + k + "' parameter."
		}
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[0] == "" || scope[2] == "" || scope[3] == "" || scope[4] != "aws4_request" {
		return credential{}, authIncomplete, "Authorization header has a malformed Credential: " + fields["Credential"]
	}
	return credential{accessKey: scope[0], region: scope[2], service: scope[3]}, 0, ""
}

// guessService picks the API of a request without a usable credential
// scope, to answer in its shape.
func guessService(r *http.Request) string {
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		return "tagging"
	case r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		return "sts"
	}
	return "lambda"
}

// opOf names the operation a request asks for, "" if unknown.
func opOf(service string, r *http.Request) string {
	switch service {
	case "lambda":
		op, _, ok := route(r)
		if ok {
			return op
		}
	case "tagging":
		if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), taggingTargetPrefix); ok && op == OpGetResources {
			return op
		}
	case "sts":
		_ = r.ParseForm()
		if a := r.Form.Get("Action"); a == OpAssumeRole || a == OpGetCallerIdentity {
			return a
		}
	}
	return ""
}

// authError renders a credential failure as the service does.
func authError(service string, f authFailure, msg string) (protocol, *apiError) {
	e := &apiError{status: http.StatusForbidden}
	switch f {
	case authMissing:
		e.code, e.message = "MissingAuthenticationTokenException", "Missing Authentication Token"
	case authIncomplete:
		e.code, e.message = "IncompleteSignatureException", msg
	case authUnrecognized:
		e.code, e.message = "UnrecognizedClientException", "The security token included in the request is invalid."
	case authExpired:
		e.code, e.message = "ExpiredTokenException", "The security token included in the request is expired"
	}
	switch service {
	case "sts":
		switch f {
		case authMissing:
			e.code, e.message = "MissingAuthenticationToken", "Request is missing Authentication Token"
		case authIncomplete:
			e.code = "IncompleteSignature"
		case authUnrecognized:
			e.code, e.message = "InvalidClientTokenId", "The security token included in the request is invalid"
		case authExpired:
			e.code = "ExpiredToken"
		}
		return stsProtocol{}, e
	case "tagging":
		e.status = http.StatusBadRequest
		return taggingProtocol{}, e
	}
	return lambdaProtocol{}, e
}

// ServeHTTP routes a request by its credential scope and access key; see
// [World].
func (w *World) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	setDate(rw, w.opts.Now())
	cred, fail, msg := parseCredential(r.Header.Get("Authorization"))
	service := cred.service
	if fail != 0 {
		service = guessService(r)
	}
	switch service {
	case "lambda", "sts", "tagging":
	default:
		writeResponse(rw, errorResponse(&apiError{status: http.StatusForbidden, code: "InvalidSignatureException",
			message: "Credential should be scoped to correct service: 'lambda', 'sts' or 'tagging'. "}, ""))
		return
	}
	var pr *principal
	if fail == 0 {
		pr, fail = w.authenticate(cred.accessKey, r.Header.Get("X-Amz-Security-Token"))
	}
	if fail != 0 {
		if op := opOf(service, r); op != "" {
			w.rejMu.Lock()
			w.rejected[op]++
			w.rejMu.Unlock()
		}
		p, e := authError(service, fail, msg)
		writeResponse(rw, p.errorResponse(e, ""))
		return
	}
	part := w.Partition(pr.account, cred.region)
	switch service {
	case "lambda":
		part.ServeHTTP(rw, r)
	case "tagging":
		part.serveTagging(rw, r)
	case "sts":
		w.serveSTS(rw, r, pr, part)
	}
}

// authenticate finds the principal of an access key and checks its session
// token and expiry.
func (w *World) authenticate(accessKey, token string) (*principal, authFailure) {
	w.mu.RLock()
	p := w.keys[accessKey]
	w.mu.RUnlock()
	switch {
	case p == nil || token != p.token:
		return nil, authUnrecognized
	case !p.expires.IsZero() && !w.opts.Now().Before(p.expires):
		return nil, authExpired
	}
	return p, 0
}

// sessionToken derives an opaque session token for an issued key.
func sessionToken(seed string) string {
	var b []byte
	for i := 0; i < 3; i++ {
		sum := sha256.Sum256([]byte(seed + "/token/" + strconv.Itoa(i)))
		b = append(b, sum[:]...)
	}
	return "IQoJb3JpZ2luX2Vj" + base64.StdEncoding.EncodeToString(b)
}

// IssuedSessions returns how many sets of credentials AssumeRole issued for
// the role (successful calls only; [World.Requests] counts every call).
func (w *World) IssuedSessions(roleARN string) int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if r := w.roles[roleARN]; r != nil {
		return r.issued
	}
	return 0
}
