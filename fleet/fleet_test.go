package fleet

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/config"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/poller"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/shard"
)

const (
	acctA = "111111111111" // the default credentials' account
	acctB = "222222222222" // reached through a role
	roleB = "arn:aws:iam::222222222222:role/durable-exporter"
)

// recorder is an Applier that keeps what it was given.
type recorder struct {
	mu    sync.Mutex
	specs []poller.Spec
	n     int
	ch    chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 100)} }

func (r *recorder) Apply(_ context.Context, _ poller.Settings, specs []poller.Spec) {
	r.mu.Lock()
	r.specs = slices.Clone(specs)
	r.n++
	r.mu.Unlock()
	r.ch <- struct{}{}
}

func (r *recorder) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.specs {
		out = append(out, s.Key)
	}
	slices.Sort(out)
	return out
}

// waitFor waits until the applied keys equal want.
func (r *recorder) waitFor(t *testing.T, want []string) []poller.Spec {
	t.Helper()
	slices.Sort(want)
	deadline := time.After(10 * time.Second)
	for {
		if slices.Equal(r.keys(), want) {
			r.mu.Lock()
			defer r.mu.Unlock()
			return slices.Clone(r.specs)
		}
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("applied targets %v, want %v", r.keys(), want)
		}
	}
}

type world struct {
	w    *lambdasim.World
	pool *scrape.Pool
	fail func(op string) bool // inject failures
	hold chan struct{}        // when set, STS GetCallerIdentity waits for it to close
	mu   sync.Mutex
}

func newWorld(t *testing.T) *world {
	t.Helper()
	wd := &world{}
	wd.w = lambdasim.NewWorld(lambdasim.WorldOptions{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		wd.mu.Lock()
		f, hold := wd.fail, wd.hold
		wd.mu.Unlock()
		if hold != nil && r.Op == lambdasim.OpGetCallerIdentity {
			<-hold
		}
		if f != nil && f(r.Op) {
			return &lambdasim.Fault{Status: 500, ErrorType: "ServiceException"}
		}
		return nil
	}})
	ak, sk := wd.w.AddAccount(acctA)
	wd.w.AddAccount(acctB)
	wd.w.AddRole(roleB, "secret-external-id")
	srv := httptest.NewServer(wd.w)
	t.Cleanup(srv.Close)
	wd.pool = scrape.NewPool(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(ak, sk, ""),
		BaseEndpoint: aws.String(srv.URL),
	}, scrape.PoolOptions{PageSize: 100, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxAttempts: 2})
	return wd
}

// finders hands out the world's discovery clients, whatever the options.
func (wd *world) finders(scrape.PoolOptions) FinderFunc {
	return func(a scrape.Access) Finder { return wd.pool.Discoverer(a) }
}

func (wd *world) setFail(f func(op string) bool) {
	wd.mu.Lock()
	wd.fail = f
	wd.mu.Unlock()
}

func parse(t *testing.T, y string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startFleet(t *testing.T, wd *world, c *config.Config, sh shard.Shard) (*recorder, *Fleet, *Metrics, context.CancelFunc) {
	t.Helper()
	rec := newRecorder()
	m := NewMetrics("lambda_durable")
	f := New(Options{
		Logger:        slog.New(slog.DiscardHandler),
		Connect:       wd.finders,
		Manager:       rec,
		Shard:         sh,
		DefaultRegion: "us-east-1",
	}, m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx, c) }()
	t.Cleanup(func() { cancel(); <-done })
	return rec, f, m, cancel
}

// TestDiscoveryAcrossAccountsRegionsAndRoles drives discovery through the
// real SDK clients (Lambda ListFunctions, STS, Resource Groups Tagging)
// against the simulated world.
func TestDiscoveryAcrossAccountsRegionsAndRoles(t *testing.T) {
	wd := newWorld(t)
	aEast := wd.w.Partition(acctA, "us-east-1")
	aEast.AddFunction("orders-checkout", []string{"$LATEST"}, nil)
	aEast.AddFunction("orders-refund", []string{"$LATEST"}, nil)
	aEast.AddFunction("billing", []string{"$LATEST"}, nil)
	aEast.AddPlainFunction("orders-legacy") // not durable: never polled
	aEast.SetTags("orders-checkout", map[string]string{"team": "payments"})
	aEast.SetTags("billing", map[string]string{"team": "payments"})
	aEast.SetTags("orders-refund", map[string]string{"team": "support"})
	wd.w.Partition(acctA, "eu-west-1").AddFunction("orders-eu", []string{"$LATEST"}, nil)
	wd.w.Partition(acctB, "us-east-1").AddFunction("orders-b", []string{"$LATEST"}, nil)
	wd.w.Partition(acctB, "us-east-1").AddFunction("other-service", []string{"$LATEST"}, nil)

	c := parse(t, `
region: us-east-1
functions:
  - name: billing                        # also found by discovery: polled once
discovery:
  - regions: [us-east-1, eu-west-1]
    name_pattern: "^orders-"
    refresh: 100ms
  - regions: [us-east-1]
    tags: {team: payments}
    refresh: 100ms
  - regions: [us-east-1]
    role_arn: `+roleB+`
    external_id: secret-external-id
    name_pattern: "-b$"
    statuses: [FAILED]
    refresh: 100ms
`)
	rec, _, m, _ := startFleet(t, wd, c, shard.All)
	specs := rec.waitFor(t, []string{
		Key(acctA, "us-east-1", "billing", ""),
		Key(acctA, "us-east-1", "orders-checkout", ""),
		Key(acctA, "us-east-1", "orders-refund", ""),
		Key(acctA, "eu-west-1", "orders-eu", ""),
		Key(acctB, "us-east-1", "orders-b", ""),
	})
	for _, s := range specs {
		switch s.Function {
		case "billing":
			if s.APIName != "billing" { // the static entry wins
				t.Errorf("billing polled as %q, want the static entry", s.APIName)
			}
		case "orders-b":
			if s.RoleARN != roleB || s.ExternalID != "secret-external-id" || len(s.Statuses) != 1 || s.AccountID != acctB {
				t.Errorf("orders-b spec %+v", s)
			}
		}
		if s.AccountID == "" {
			t.Errorf("%s has no account; the default one comes from STS", s.Key)
		}
	}
	// The discovered targets can be polled through the same pool: the
	// role's credentials reach account B's durable API.
	b := wd.w.Partition(acctB, "us-east-1")
	b.Start("orders-b", "$LATEST", "x", time.Now().Add(-time.Minute))
	for _, s := range specs {
		if s.Function != "orders-b" {
			continue
		}
		cl := wd.pool.Client(scrape.Access{Account: s.AccountID, Region: s.Region, RoleARN: s.RoleARN, ExternalID: s.ExternalID})
		n := 0
		if _, err := cl.List(context.Background(), scrape.Query{FunctionName: s.APIName}, func(scrape.Execution) { n++ }); err != nil || n != 1 {
			t.Fatalf("listing through the role: %d executions, %v", n, err)
		}
	}
	if got := wd.w.IssuedSessions(roleB); got != 1 {
		t.Errorf("AssumeRole called %d times; the credentials cache should need one", got)
	}
	if v := testutil.ToFloat64(m.discoverySuccess.WithLabelValues("0", "eu-west-1")); v != 1 {
		t.Errorf("discovery_success{0,eu-west-1} = %v", v)
	}
	if v := testutil.ToFloat64(m.discovered.WithLabelValues("0", "us-east-1")); v != 2 {
		t.Errorf("discovered_functions{0,us-east-1} = %v, want 2", v)
	}

	// A discovery failure keeps the last known set.
	wd.setFail(func(op string) bool { return op == lambdasim.OpListFunctions })
	time.Sleep(400 * time.Millisecond)
	if v := testutil.ToFloat64(m.discoverySuccess.WithLabelValues("0", "us-east-1")); v != 0 {
		t.Errorf("discovery_success during the failure = %v, want 0", v)
	}
	if len(rec.keys()) != 5 {
		t.Errorf("targets during a discovery failure: %v", rec.keys())
	}
	wd.setFail(nil)

	// A function that appears is polled; one that disappears is dropped.
	aEast.AddFunction("orders-new", []string{"$LATEST"}, nil)
	wd.w.Partition(acctA, "eu-west-1").AddPlainFunction("unrelated")
	rec.waitFor(t, []string{
		Key(acctA, "us-east-1", "billing", ""),
		Key(acctA, "us-east-1", "orders-checkout", ""),
		Key(acctA, "us-east-1", "orders-refund", ""),
		Key(acctA, "us-east-1", "orders-new", ""),
		Key(acctA, "eu-west-1", "orders-eu", ""),
		Key(acctB, "us-east-1", "orders-b", ""),
	})
}

// TestDiscoveryInTheSDKRegion: "discovery: [{}]" with no region in the file
// lists every durable function of the SDK's region, and only there.
func TestDiscoveryInTheSDKRegion(t *testing.T) {
	wd := newWorld(t)
	wd.w.Partition(acctA, "us-east-1").AddFunction("orders", []string{"$LATEST"}, nil)
	wd.w.Partition(acctA, "us-east-1").AddPlainFunction("plain") // not durable
	wd.w.Partition(acctA, "eu-west-1").AddFunction("orders-eu", []string{"$LATEST"}, nil)
	rec, _, m, _ := startFleet(t, wd, parse(t, "discovery:\n  - {}\n"), shard.All)
	specs := rec.waitFor(t, []string{Key(acctA, "us-east-1", "orders", "")})
	if specs[0].Region != "us-east-1" {
		t.Errorf("region of the discovered function = %q, want the SDK's us-east-1", specs[0].Region)
	}
	if v := testutil.ToFloat64(m.discoverySuccess.WithLabelValues("0", "us-east-1")); v != 1 {
		t.Errorf("discovery_success{0,us-east-1} = %v, want 1", v)
	}
}

// TestReloadKeepsDiscoveredTargets: a reload that keeps a discovery entry
// keeps its functions applied throughout (no gap that would drop state).
func TestReloadKeepsDiscoveredTargets(t *testing.T) {
	wd := newWorld(t)
	wd.w.Partition(acctA, "us-east-1").AddFunction("orders-a", []string{"$LATEST"}, nil)
	y := "region: us-east-1\ndiscovery:\n  - regions: [us-east-1]\n    refresh: 1h\n"
	rec, f, _, _ := startFleet(t, wd, parse(t, y), shard.All)
	want := []string{Key(acctA, "us-east-1", "orders-a", "")}
	rec.waitFor(t, want)
	f.Reload(context.Background(), parse(t, y+"functions:\n  - name: static-one\n"))
	if got := rec.keys(); !slices.Contains(got, want[0]) {
		t.Fatalf("right after the reload the discovered target is gone: %v", got)
	}
}

// TestSlowSTSNeverBlocksReloads: with account_id unset the default account
// comes from STS. While STS does not answer, the exporter applies no
// targets (so it is not ready), and reloads return at once instead of
// waiting on STS; when it answers, the targets carry its account.
func TestSlowSTSNeverBlocksReloads(t *testing.T) {
	wd := newWorld(t)
	wd.w.Partition(acctA, "us-east-1").AddFunction("billing", []string{"$LATEST"}, nil)
	hold := make(chan struct{})
	wd.mu.Lock()
	wd.hold = hold
	wd.mu.Unlock()
	defer func() {
		select {
		case <-hold:
		default:
			close(hold)
		}
	}()
	yaml := "region: us-east-1\nfunctions:\n  - name: billing\n"
	rec, f, _, _ := startFleet(t, wd, parse(t, yaml), shard.All)
	for i := 0; i < 3; i++ {
		reloaded := make(chan struct{})
		go func() { defer close(reloaded); f.Reload(context.Background(), parse(t, yaml)) }()
		select {
		case <-reloaded:
		case <-time.After(10 * time.Second): // a guard, not a timing assertion
			t.Fatal("a reload waited on STS")
		}
	}
	rec.mu.Lock()
	n := rec.n
	rec.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d target sets applied before the account was known", n)
	}
	close(hold)
	rec.waitFor(t, []string{Key(acctA, "us-east-1", "billing", "")})
}
