package scrape

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Outcomes of one HTTP attempt, as api_requests_total labels them.
const (
	OutcomeSuccess   = "success"
	OutcomeThrottled = "throttled"
	OutcomeError     = "error"
)

// Metrics is the scraper's own cumulative instrumentation.
type Metrics struct {
	Requests *prometheus.CounterVec
}

// NewMetrics builds the request counter with every (operation, outcome) pair
// present from the start, so a missing series never stands in for zero.
func NewMetrics(namespace string) *Metrics {
	m := &Metrics{Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Subsystem: "exporter",
		Name:      "api_requests_total",
		Help:      "HTTP requests sent to the Lambda API, retries included, by operation and outcome (success, throttled, error).",
	}, []string{"operation", "outcome"})}
	for _, op := range []string{OpList, OpGet, OpListFunctions, OpGetResources, OpGetFunctionConfiguration} {
		for _, o := range []string{OutcomeSuccess, OutcomeThrottled, OutcomeError} {
			m.Requests.WithLabelValues(op, o)
		}
	}
	return m
}

// Limits are the client-side request budgets of one account and region.
// AWS allows 15 list and 30 get requests per second per account and region;
// the defaults stay below that so other tools keep some headroom.
type Limits struct {
	ListPerSecond float64
	GetPerSecond  float64
	// ErrorReadsPerSecond bounds Client.ErrorOf calls (0 = unlimited). They
	// are GetDurableExecution requests too, so each also takes from the
	// Get budget.
	ErrorReadsPerSecond float64
}

// Limiters hands out one pair of rate limiters per account and region, shared
// by every function polled there.
type Limiters struct {
	limits Limits
	mu     sync.Mutex
	m      map[string]*accountLimiter
}

// NewLimiters returns an empty set of limiters with the given budgets.
func NewLimiters(l Limits) *Limiters {
	return &Limiters{limits: l, m: make(map[string]*accountLimiter)}
}

func (l *Limiters) get(key string) *accountLimiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.m[key]
	if !ok {
		a = &accountLimiter{list: newGate(l.limits.ListPerSecond), get: newGate(l.limits.GetPerSecond),
			errorRead: newGate(l.limits.ErrorReadsPerSecond)}
		l.m[key] = a
	}
	return a
}

// accountLimiter holds the budgets of one account and region. errorRead is
// taken by ErrorOf once per call, before the request; list and get by the
// transport for every attempt.
type accountLimiter struct{ list, get, errorRead *gate }

func (a *accountLimiter) forOp(op string) *gate {
	switch op {
	case OpGet:
		return a.get
	case OpList:
		return a.list
	}
	return nil // discovery calls are rare and have quotas of their own
}

// gate is a token bucket that a throttle answer can also close for a while,
// so that after a 429 every poller of that account waits out the
// Retry-After together instead of retrying in a herd.
type gate struct {
	lim   *rate.Limiter
	mu    sync.Mutex
	until time.Time
}

func newGate(perSecond float64) *gate {
	if perSecond <= 0 {
		return &gate{lim: rate.NewLimiter(rate.Inf, 0)}
	}
	burst := int(perSecond)
	if burst < 1 {
		burst = 1
	}
	return &gate{lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

func (g *gate) wait(ctx context.Context) error {
	for {
		g.mu.Lock()
		d := time.Until(g.until)
		g.mu.Unlock()
		if d <= 0 {
			return g.lim.Wait(ctx)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (g *gate) pause(d time.Duration) {
	g.mu.Lock()
	if u := time.Now().Add(d); u.After(g.until) {
		g.until = u
	}
	g.mu.Unlock()
}

// transport rate-limits and counts every HTTP attempt the SDK makes,
// retries included; it caps the size of every answer's body (maxBody < 0:
// no cap) and reads the service's clock from its Date header.
type transport struct {
	next    aws.HTTPClient
	limiter *accountLimiter
	metrics *Metrics
	maxBody int64
	clock   *serverClock
	local   Clock
}

func (t *transport) Do(r *http.Request) (*http.Response, error) {
	op := awsmiddleware.GetOperationName(r.Context())
	g := t.limiter.forOp(op)
	if g != nil {
		if err := g.wait(r.Context()); err != nil {
			return nil, err
		}
	}
	resp, err := t.next.Do(r)
	if err == nil {
		t.clock.observe(resp.Header, t.local.Now())
		capBody(resp, t.maxBody)
	}
	outcome := OutcomeSuccess
	switch {
	case err != nil:
		outcome = OutcomeError
	case resp.StatusCode == http.StatusTooManyRequests:
		outcome = OutcomeThrottled
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok && g != nil {
			g.pause(d)
		}
	case resp.StatusCode >= 300:
		outcome = OutcomeError
	}
	if t.metrics != nil && op != "" {
		t.metrics.Requests.WithLabelValues(op, outcome).Inc()
	}
	return resp, err
}

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP date.
// Values are capped at five minutes so a bad header cannot stall polling.
func parseRetryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		d = time.Duration(s * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	} else {
		return 0, false
	}
	if d < 0 {
		d = 0
	}
	return min(d, 5*time.Minute), true
}

// backoff is exponential with full jitter, but never shorter than the
// Retry-After the service asked for.
type backoff struct {
	base, max time.Duration
}

func (b backoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	ceil := b.max
	if attempt < 30 {
		ceil = min(b.max, b.base<<attempt)
	}
	d := time.Duration(rand.Int64N(int64(ceil) + 1))
	if ra, ok := retryAfter(err); ok && ra > d {
		// A little jitter on top so that pollers released together spread out.
		d = ra + time.Duration(rand.Int64N(int64(ra/10)+1))
	}
	return d, nil
}

func retryAfter(err error) (time.Duration, bool) {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if d, ok := parseRetryAfter(re.Response.Header.Get("Retry-After")); ok {
			return d, true
		}
	}
	var tm *types.TooManyRequestsException
	if errors.As(err, &tm) && tm.RetryAfterSeconds != nil {
		return parseRetryAfter(*tm.RetryAfterSeconds)
	}
	return 0, false
}

// PoolOptions configures the SDK clients of a Pool.
type PoolOptions struct {
	Endpoint    string // overrides the SDK's endpoint resolution when set
	PageSize    int
	MaxAttempts int           // per request, retries included; default 6
	BaseBackoff time.Duration // default 200ms
	MaxBackoff  time.Duration // default 20s
	Limits      Limits
	Metrics     *Metrics
	HTTPTimeout time.Duration // per HTTP attempt; default 30s
	// Dialer, when set, opens every connection instead of the network: an
	// in-process API for tests (lambdasim.Pipe).
	Dialer Dialer
	// MaxResponseBytes caps the body of every answer (0 = the default,
	// DefaultMaxResponseBytes, 16 MiB; < 0 = no cap). A body over the cap
	// fails its request with ErrResponseTooLarge as soon as the cap is
	// reached (at once when its Content-Length says so), without reading
	// the rest into memory or off the network. A full page of 1000
	// executions is about 0.5 MB.
	MaxResponseBytes int64
	// Clock is the local clock that Client.ServerOffset is measured
	// against (nil = time.Now): the offset is the service's clock minus
	// this one. A program whose own clock is not time.Now (a test on a fake
	// clock) must give it here, or the offset mixes the two clocks. Its
	// dynamic type must be comparable (a pointer, say): PoolOptions values
	// are compared with ==.
	Clock Clock
}

// Clock is a source of the local time.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Dialer opens connections; *net.Dialer and lambdasim.Pipe implement it.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Pool caches SDK clients per account, role and region. All clients of an
// account and region share the same rate limiters, and assumed-role
// credentials are cached per role and refreshed before they expire.
type Pool struct {
	base     aws.Config
	opts     PoolOptions
	limiters *Limiters
	mu       sync.Mutex
	clients  map[string]*Client
	creds    map[string]aws.CredentialsProvider
}

// NewPool returns a Pool whose clients start from base (credentials, region,
// endpoint variables from the SDK's default chain).
func NewPool(base aws.Config, o PoolOptions) *Pool {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 20 * time.Second
	}
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = 30 * time.Second
	}
	if o.MaxResponseBytes == 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	return &Pool{base: base, opts: o, limiters: NewLimiters(o.Limits),
		clients: make(map[string]*Client), creds: make(map[string]aws.CredentialsProvider)}
}

// transport is the instrumented, rate-limited HTTP client of an account
// and region, with a clock of its own.
func (p *Pool) transport(a Access) *transport {
	return &transport{
		next:    p.httpClient(),
		limiter: p.limiters.get(a.Budget()),
		metrics: p.opts.Metrics,
		maxBody: p.opts.MaxResponseBytes,
		clock:   &serverClock{},
		local:   p.opts.Clock,
	}
}

func (p *Pool) httpClient() aws.HTTPClient {
	c := awshttp.NewBuildableClient().WithTimeout(p.opts.HTTPTimeout)
	if d := p.opts.Dialer; d != nil {
		c = c.WithTransportOptions(func(t *http.Transport) { t.DialContext = d.DialContext })
	}
	return c
}

func (p *Pool) retryer() aws.Retryer {
	o := p.opts
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = o.MaxAttempts
		so.MaxBackoff = o.MaxBackoff
		so.Backoff = backoff{base: o.BaseBackoff, max: o.MaxBackoff}
		// The shared limiters and Retry-After pacing do this job.
		so.RateLimiter = ratelimit.None
	})
}

// Client returns the durable-executions client for an access.
func (p *Pool) Client(a Access) *Client {
	if a.Region == "" {
		a.Region = p.base.Region
	}
	key := a.key()
	p.mu.Lock()
	c, ok := p.clients[key]
	p.mu.Unlock()
	if ok {
		return c
	}
	cfg := p.configFor(a)
	tr := p.transport(a)
	api := lambda.NewFromConfig(cfg, func(lo *lambda.Options) {
		lo.HTTPClient = tr
		if p.opts.Endpoint != "" {
			lo.BaseEndpoint = aws.String(p.opts.Endpoint)
		}
		lo.Retryer = p.retryer()
		lo.APIOptions = append(lo.APIOptions, addAnswerChecks)
	})
	c = NewClient(api, p.opts.PageSize)
	c.clock = tr.clock
	c.errorGate = tr.limiter.errorRead
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.clients[key]; ok {
		return prev
	}
	p.clients[key] = c
	return c
}
