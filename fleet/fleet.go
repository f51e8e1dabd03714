// Package fleet decides which targets this exporter polls: the configured
// functions plus those found by discovery, each in its account and region,
// de-duplicated, and filtered to this replica's shard. It feeds the poller
// manager whenever the configuration or a discovery result changes.
package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/config"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/poller"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/shard"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// Finder finds durable functions in one account and region;
// *scrape.Discoverer implements it.
type Finder interface {
	DurableFunctions(ctx context.Context) ([]scrape.Function, error)
	TaggedFunctions(ctx context.Context, tags map[string]string) (map[string]bool, error)
	CallerAccount(ctx context.Context) (string, error)
	// ExecutionTimeout reads a function's DurableConfig.ExecutionTimeout
	// (ok false when it has none).
	ExecutionTimeout(ctx context.Context, function, qualifier string) (d time.Duration, ok bool, err error)
}

// FinderFunc returns the Finder of an access.
type FinderFunc func(scrape.Access) Finder

// Connect is the production way to build finders: discovery clients from
// one scrape.Pool on the base AWS configuration, with metrics (nil for none).
func Connect(base aws.Config, metrics *scrape.Metrics) func(scrape.PoolOptions) FinderFunc {
	return func(o scrape.PoolOptions) FinderFunc {
		o.Metrics = metrics
		pool := scrape.NewPool(base, o)
		return func(a scrape.Access) Finder { return pool.Discoverer(a) }
	}
}

// Applier is what the fleet drives: *poller.Manager.
type Applier interface {
	Apply(ctx context.Context, s poller.Settings, specs []poller.Spec)
}

// Options configure a Fleet.
type Options struct {
	Logger *slog.Logger
	// Connect builds the finders for the configuration's pool options
	// (its endpoint); it is called again when a reload changes them.
	Connect       func(scrape.PoolOptions) FinderFunc
	Manager       Applier
	Shard         shard.Shard
	DefaultRegion string // the SDK's region, for functions that name none
}

// Fleet owns the target set.
type Fleet struct {
	o       Options
	metrics *Metrics
	updates chan update
}

// Metrics are the fleet's own series.
type Metrics struct {
	discoverySuccess, discovered *prometheus.GaugeVec
	targets                      prometheus.Gauge
	shardInfo                    *prometheus.GaugeVec
}

// NewMetrics builds the fleet metrics under a metric namespace; register
// them with Collectors.
func NewMetrics(namespace string) *Metrics {
	return &Metrics{
		discoverySuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "discovery_success",
			Help: "1 when the last discovery of a discovery entry (index in the config) in a region succeeded, else 0; the last known functions stay polled.",
		}, []string{"discovery", "region"}),
		discovered: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "discovered_functions",
			Help: "Durable functions the last successful discovery found, after name and tag filters.",
		}, []string{"discovery", "region"}),
		targets: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "targets",
			Help: "Targets (function, qualifier, account, region) this replica polls, after sharding.",
		}),
		shardInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "shard_info",
			Help: "This replica's shard index and the total number of shards; always 1.",
		}, []string{"index", "total"}),
	}
}

// Collectors returns the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.discoverySuccess, m.discovered, m.targets, m.shardInfo}
}

type update struct {
	cfg  *config.Config
	done chan struct{}
	// or the default credentials' account, "" when STS did not say:
	account *string
	// or a discovery result:
	source string
	specs  []poller.Spec
	err    error
	gen    int
	// or the execution timeouts read of static targets, by key:
	timeouts map[string]time.Duration
}

// New returns a fleet; Run drives it.
func New(o Options, m *Metrics) *Fleet {
	m.shardInfo.WithLabelValues(strconv.Itoa(o.Shard.Index), strconv.Itoa(o.Shard.Total)).Set(1)
	return &Fleet{o: o, metrics: m, updates: make(chan update)}
}

// Reload hands a new, valid configuration to Run and waits until its
// targets are applied. It never waits on the network: an account that must
// be asked of STS is resolved in the background.
func (f *Fleet) Reload(ctx context.Context, c *config.Config) {
	done := make(chan struct{})
	select {
	case f.updates <- update{cfg: c, done: done}:
	case <-ctx.Done():
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Run applies configurations and discovery results until ctx ends.
//
// Functions given by bare name get the default credentials' account in
// their account_id label unless the configuration sets account_id. It is
// asked of STS in the background: the first targets wait for the answer
// (the exporter is not ready until then), reloads never do.
func (f *Fleet) Run(ctx context.Context, first *config.Config) {
	var (
		cfg        *config.Config
		account    string // the default credentials' account
		resolving  bool   // an STS call for it is under way
		waiting    bool   // the first targets wait for that call
		discovered = map[string][]poller.Spec{}
		cancelDisc context.CancelFunc
		gen        int
		finders    FinderFunc
		poolOpts   scrape.PoolOptions
		timeouts   = map[string]time.Duration{} // of static targets, by key
	)
	apply := func() {
		specs := f.specs(cfg, account, discovered)
		withTimeouts(specs, timeouts)
		f.metrics.targets.Set(float64(len(specs)))
		f.o.Manager.Apply(ctx, settingsOf(cfg), specs)
	}
	// start (re)starts discovery and applies the targets of cfg.
	start := func() {
		if cancelDisc != nil {
			cancelDisc()
		}
		gen++
		var dctx context.Context
		dctx, cancelDisc = context.WithCancel(ctx)
		// Keep the results of discovery entries that stay, so their
		// functions keep their state across the reload.
		keep := map[string]bool{}
		for i, d := range cfg.Discovery {
			regions := d.Regions
			if len(regions) == 0 { // omitted and no global region: the SDK's
				regions = []string{f.o.DefaultRegion}
			}
			for _, region := range regions {
				src := sourceKey(d, region)
				keep[src] = true
				go f.discover(dctx, finders, gen, i, d, region, account, src)
			}
		}
		for k := range discovered {
			if !keep[k] {
				delete(discovered, k)
			}
		}
		static := f.specs(cfg, account, nil)
		keepTimeouts(timeouts, static)
		go f.readTimeouts(dctx, finders, gen, static, timeoutRefresh(cfg))
		f.metrics.discoverySuccess.Reset()
		f.metrics.discovered.Reset()
		apply()
	}
	load := func(c *config.Config) {
		firstLoad := cfg == nil
		cfg = c
		if o := settingsOf(c).Pool; finders == nil || o != poolOpts {
			finders, poolOpts = f.o.Connect(o), o
		}
		if c.AccountID != "" {
			account = c.AccountID
		} else if account == "" && !resolving {
			resolving = true
			go func(finders FinderFunc) {
				acct := f.callerAccount(ctx, finders)
				select {
				case f.updates <- update{account: &acct}:
				case <-ctx.Done():
				}
			}(finders)
			waiting = waiting || firstLoad
		}
		if !waiting {
			start()
		}
	}
	load(first)
	for {
		select {
		case <-ctx.Done():
			if cancelDisc != nil {
				cancelDisc()
			}
			return
		case u := <-f.updates:
			switch {
			case u.cfg != nil:
				load(u.cfg)
				close(u.done)
			case u.account != nil:
				resolving = false
				learnt := *u.account != "" && cfg.AccountID == ""
				if learnt {
					account = *u.account
				}
				if waiting || learnt {
					waiting = false
					start()
				}
			case u.gen != gen:
				// from a configuration that was replaced
			case u.timeouts != nil:
				if mergeTimeouts(timeouts, u.timeouts) {
					apply()
				}
			case u.err != nil:
				// keep the last known set
			case !slices.EqualFunc(discovered[u.source], u.specs, specEq):
				discovered[u.source] = u.specs
				apply()
			}
		}
	}
}

func specEq(a, b poller.Spec) bool {
	return a.Key == b.Key && a.APIName == b.APIName && a.ExecutionTimeout == b.ExecutionTimeout
}

// callerAccount asks STS for the default credentials' account; without it
// the account_id label stays empty for functions given by bare name.
func (f *Fleet) callerAccount(ctx context.Context, finders FinderFunc) string {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	acct, err := finders(scrape.Access{}).CallerAccount(ctx)
	if err != nil {
		f.o.Logger.Warn("cannot learn the account of the default credentials; account_id stays empty for functions given by name", "err", err)
		return ""
	}
	return acct
}

// discover runs one discovery entry in one region every refresh.
func (f *Fleet) discover(ctx context.Context, finders FinderFunc, gen, idx int, d config.Discovery, region, defaultAccount, src string) {
	access := scrape.Access{Account: d.AccountID, Region: region, RoleARN: d.RoleARN, ExternalID: d.ExternalID}
	labels := []string{strconv.Itoa(idx), region}
	ticker := time.NewTicker(d.Refresh)
	defer ticker.Stop()
	for {
		specs, err := f.discoverOnce(ctx, finders(access), region, d, defaultAccount)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			f.metrics.discoverySuccess.WithLabelValues(labels...).Set(0)
			f.o.Logger.Error("discovery failed; keeping the last known functions", "discovery", idx, "region", region, "err", err)
		} else {
			f.metrics.discoverySuccess.WithLabelValues(labels...).Set(1)
			f.metrics.discovered.WithLabelValues(labels...).Set(float64(len(specs)))
		}
		select {
		case f.updates <- update{source: src, specs: specs, err: err, gen: gen}:
		case <-ctx.Done():
			return
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return
		}
	}
}

func (f *Fleet) discoverOnce(ctx context.Context, finder Finder, region string, d config.Discovery, defaultAccount string) ([]poller.Spec, error) {
	ctx, cancel := context.WithTimeout(ctx, max(d.Refresh, time.Minute))
	defer cancel()
	fns, err := finder.DurableFunctions(ctx)
	if err != nil {
		return nil, err
	}
	var tagged map[string]bool
	if len(d.Tags) > 0 {
		if tagged, err = finder.TaggedFunctions(ctx, d.Tags); err != nil {
			return nil, err
		}
	}
	var specs []poller.Spec
	for _, fn := range fns {
		if d.Pattern != nil && !d.Pattern.MatchString(fn.Name) {
			continue
		}
		if tagged != nil && !tagged[fn.ARN] {
			continue
		}
		acct := fn.Account
		if acct == "" {
			acct = d.AccountID
		}
		if acct == "" {
			acct = defaultAccount
		}
		s := spec(fn.Name, fn.ARN, d.Qualifier, "", region, acct, d.RoleARN, d.ExternalID, d.Statuses, d.Window)
		s.ByVersion, s.ByErrorType = breakdowns(d.Breakdown)
		s.ExecutionTimeout = fn.ExecutionTimeout
		specs = append(specs, s)
	}
	slices.SortFunc(specs, func(a, b poller.Spec) int { return strings.Compare(a.Key, b.Key) })
	return specs, nil
}

// specs merges static and discovered targets (a function found twice is
// polled once; the static entry wins) and keeps this shard's.
func (f *Fleet) specs(c *config.Config, account string, discovered map[string][]poller.Spec) []poller.Spec {
	var out []poller.Spec
	seen := map[string]bool{}
	var buckets []float64
	ages := c.RunningAgeThresholds
	if ages == nil {
		ages = config.DefaultRunningAgeThresholds
	}
	for _, b := range c.DurationBuckets {
		buckets = append(buckets, b.Seconds())
	}
	add := func(s poller.Spec) {
		if seen[s.Key] || !f.o.Shard.Owns(s.Key) {
			seen[s.Key] = true
			return
		}
		seen[s.Key] = true
		s.DurationBuckets = buckets
		s.AgeThresholds = ages
		s.MaxErrorTypes = c.MaxErrorTypes
		out = append(out, s)
	}
	for _, fn := range c.Functions {
		region := fn.Region
		if region == "" {
			region = c.Region
		}
		if region == "" {
			region = f.o.DefaultRegion
		}
		acct := fn.AccountID
		if acct == "" {
			acct = account
		}
		s := spec(fn.FunctionName, fn.APIName(), fn.Qualifier, fn.ExecutionName, region, acct, fn.RoleARN, fn.ExternalID, fn.Statuses, fn.Window)
		s.ByVersion, s.ByErrorType = breakdowns(fn.Breakdown)
		add(s)
	}
	keys := make([]string, 0, len(discovered))
	for k := range discovered {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, s := range discovered[k] {
			add(s)
		}
	}
	return out
}

// breakdowns says which breakdowns a resolved breakdown list holds.
func breakdowns(b []string) (version, errorType bool) {
	return config.Has(b, config.BreakdownVersion), config.Has(b, config.BreakdownErrorType)
}

// Key identifies a target across reloads, discovery rounds and shards.
func Key(account, region, function, qualifier string) string {
	return account + "|" + region + "|" + function + "|" + qualifier
}

func spec(name, apiName, qualifier, execName, region, account, role, externalID string, statuses []string, window time.Duration) poller.Spec {
	var st []durable.Status
	for _, s := range statuses {
		st = append(st, durable.ParseStatus(s))
	}
	slices.Sort(st) // emission order, whatever the file's order
	return poller.Spec{
		Target:        snapshot.Target{Function: name, Qualifier: qualifier, Region: region, AccountID: account},
		Key:           Key(account, region, name, qualifier),
		APIName:       apiName,
		ExecutionName: execName,
		RoleARN:       role,
		ExternalID:    externalID,
		Statuses:      st,
		Window:        window,
	}
}

// sourceKey identifies a discovery entry in a region by its content, so
// that its results survive a reload that keeps it.
func sourceKey(d config.Discovery, region string) string {
	return fmt.Sprintf("%s|%s|%s|%v|%s|%s|%v|%s|%v", region, d.RoleARN, d.ExternalID, d.Tags, d.NamePattern, d.Qualifier, d.Statuses, d.Window, d.Breakdown)
}

// settingsOf maps the configuration to the poller's settings.
func settingsOf(c *config.Config) poller.Settings {
	return poller.Settings{
		Interval:       c.Interval,
		Overlap:        c.Overlap,
		Resync:         c.ResyncInterval,
		MaxConcurrency: c.MaxConcurrency,
		MaxIdle:        c.MaxIdleInterval,
		Pool: scrape.PoolOptions{
			Endpoint: c.Endpoint,
			PageSize: c.PageSize,
			Limits: scrape.Limits{ListPerSecond: c.ListRequestsPerSecond, GetPerSecond: c.GetRequestsPerSecond,
				ErrorReadsPerSecond: c.ErrorReadsPerSecond},
		},
	}
}
