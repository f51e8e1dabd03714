// Command lambda-durable-exporter exports AWS Lambda durable executions as
// Prometheus metrics. This file is wiring only: flags, logger, config, AWS
// client, registry, HTTP server and signals.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/collector"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/config"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/fleet"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/poller"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/shard"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/storage"
)

const program = "lambda-durable-exporter"

func main() { os.Exit(run()) }

func run() int {
	stampVersion()
	app := kingpin.New(program, "Prometheus exporter for AWS Lambda durable executions.")
	var configSet bool
	configFile := app.Flag("config.file", "Path to the configuration file.").Default("config.yaml").IsSetByUser(&configSet).String()
	configCheck := app.Flag("config.check", "Validate the configuration file and exit.").Bool()
	metricsPath := app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	maxRequests := app.Flag("web.max-requests", "Maximum number of concurrent scrapes of the metrics path; 0 means no limit.").Default("40").Int()
	pprofOn := app.Flag("web.enable-pprof", "Serve Go profiling endpoints under /debug/pprof/ (off by default: they expose internals).").Bool()
	shardIndex := app.Flag("shard.index", "This replica's shard, in [0, shard.total).").Default("0").Int()
	shardTotal := app.Flag("shard.total", "Number of replicas sharing the targets; each polls and exports only its own.").Default("1").Int()
	shardAuto := app.Flag("shard.auto", "Take the shard index from the StatefulSet pod name's ordinal ($POD_NAME, else $HOSTNAME).").Bool()
	storagePath := app.Flag("storage.path", "Directory for checkpoints of every function's state, so that counters continue across restarts and what ends while the exporter is down is counted; created if missing. Off when empty.").Default("").String()
	demo := app.Flag("demo", "Run against a simulated Lambda API with a live workload, on loopback; no AWS account needed.").Bool()
	toolkitFlags := kingpinflag.AddFlags(app, ":9897")
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.Version(version.Print(program))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", program, err)
		return 2
	}
	logger := promslog.New(logConfig)
	sh := shard.Shard{Index: *shardIndex, Total: *shardTotal}
	if *shardAuto {
		pod := os.Getenv("POD_NAME")
		if pod == "" {
			pod, _ = os.Hostname()
		}
		i, err := shard.IndexFromPodName(pod)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: --shard.auto: %v\n", program, err)
			return 2
		}
		sh.Index = i
	}
	if err := sh.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", program, err)
		return 2
	}

	// The web config (TLS, basic auth) is checked before anything starts,
	// and by --config.check, not first when the listener opens.
	if f := *toolkitFlags.WebConfigFile; f != "" {
		if err := web.Validate(f); err != nil {
			fmt.Fprintf(os.Stderr, "%s: web config file %q: %v\n", program, f, err)
			return 1
		}
	}
	if *configCheck {
		if _, err := config.Load(*configFile); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", program, err)
			return 1
		}
		fmt.Printf("%s: configuration %q is valid\n", program, *configFile)
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	load := func() (*config.Config, error) { return config.Load(*configFile) }
	source := *configFile // what the logs name as the configuration
	var awsOpts []func(*awsconfig.LoadOptions) error
	if *demo {
		url, shutdown, err := startDemo(ctx, logger)
		if err != nil {
			logger.Error("cannot start the simulated Lambda API", "err", err)
			return 1
		}
		defer func() { _ = shutdown(context.Background()) }()
		if !configSet {
			load = func() (*config.Config, error) { return config.Parse([]byte(demoYAML)) }
			source = "the built-in demo configuration"
		}
		inner := load
		load = func() (*config.Config, error) {
			c, err := inner()
			if err == nil {
				c.Endpoint = url
			}
			return c, err
		}
		awsOpts = append(awsOpts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("DEMOACCESSKEY", "demo-secret", "")))
	}

	cfg, err := load()
	if err != nil {
		logger.Error("invalid configuration", "file", source, "err", err)
		return 1
	}
	if cfg.Region != "" {
		awsOpts = append(awsOpts, awsconfig.WithRegion(cfg.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsOpts...)
	if err != nil {
		logger.Error("cannot load AWS configuration", "err", err)
		return 1
	}
	if err := checkRegions(cfg, awsCfg.Region); err != nil {
		logger.Error("invalid configuration", "file", source, "err", err)
		return 1
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector(collector.Namespace+"_exporter"),
	)
	scrapeMetrics := scrape.NewMetrics(collector.Namespace)
	reloads := newReloadMetrics()
	reg.MustRegister(scrapeMetrics.Requests, reloads.ok, reloads.when)

	// The manager and the fleet build their AWS clients from the pool
	// options of each configuration, and rebuild them when a reload changes
	// those options.
	var store *storage.Dir
	if *storagePath != "" {
		store, err = storage.Open(*storagePath)
		if store == nil {
			logger.Error("invalid --storage.path", "path", *storagePath, "err", err)
			return 1
		}
		if err != nil {
			logger.Error("storage: the checkpoint directory is not usable; polling goes on, checkpoints will fail and be counted", "path", *storagePath, "err", err)
		}
		reg.MustRegister(storageMetrics(store)...)
	}
	mgr := poller.NewManager(poller.Options{Logger: logger, Connect: poller.Connect(awsCfg, scrapeMetrics), Store: store})
	coll := collector.New(mgr)
	reg.MustRegister(coll, coll.Breakdowns())
	fleetMetrics := fleet.NewMetrics(collector.Namespace)
	reg.MustRegister(fleetMetrics.Collectors()...)
	fl := fleet.New(fleet.Options{
		Logger:        logger,
		Connect:       fleet.Connect(awsCfg, scrapeMetrics),
		Manager:       mgr,
		Shard:         sh,
		DefaultRegion: awsCfg.Region,
	}, fleetMetrics)
	logger.Info("starting", "version", version.Info(), "functions", len(cfg.Functions), "discovery", len(cfg.Discovery),
		"interval", cfg.Interval, "window", cfg.Window, "shard", sh.Index, "shards", sh.Total)
	fleetDone := make(chan struct{})
	go func() { defer close(fleetDone); fl.Run(ctx, cfg) }()
	reloads.success()

	reloadConfig := func() error {
		c, err := load()
		if err == nil {
			err = checkRegions(c, awsCfg.Region)
		}
		if err != nil {
			reloads.failure()
			logger.Error("reload failed; keeping the running configuration", "file", source, "err", err)
			return err
		}
		fl.Reload(ctx, c)
		reloads.success()
		logger.Info("configuration reloaded", "file", source, "functions", len(c.Functions))
		return nil
	}

	mux := http.NewServeMux()
	mux.Handle(*metricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(logger.Handler(), slog.LevelError),
		MaxRequestsInFlight: *maxRequests,
		Registry:            reg,
	}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !mgr.Ready() {
			http.Error(w, "Not ready: waiting for the first successful poll of every function", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "Ready")
	})
	reloadCh := make(chan chan error)
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "This endpoint requires a POST request.", http.StatusMethodNotAllowed)
			return
		}
		res := make(chan error, 1)
		select {
		case reloadCh <- res:
		case <-r.Context().Done():
			return
		}
		if err := <-res; err != nil {
			// The details (paths, values) go to the log and the reload
			// metric, not to whoever can reach this port.
			http.Error(w, "failed to reload the configuration; the previous one stays in effect (see the exporter's log)", http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprintln(w, "Reloaded")
	})
	if *pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	if *metricsPath != "/" {
		description := "Prometheus exporter for AWS Lambda durable executions"
		if *demo {
			description += ". DEMO MODE: the numbers come from a simulated Lambda API with a made-up workload, not from AWS."
		}
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        program,
			Description: description,
			Version:     version.Info(),
			Profiling:   strconv.FormatBool(*pprofOn),
			Links: []web.LandingLinks{
				{Address: *metricsPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
			},
		})
		if err != nil {
			logger.Error("cannot build the landing page", "err", err)
			return 1
		}
		mux.Handle("/", landing)
	}

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- web.ListenAndServe(srv, toolkitFlags, logger) }()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	code := 0
loop:
	for {
		select {
		case <-hup:
			_ = reloadConfig()
		case res := <-reloadCh:
			res <- reloadConfig()
		case err := <-serveErr:
			if !errors.Is(err, http.ErrServerClosed) {
				logger.Error("HTTP server failed", "err", err)
				code = 1
			}
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	logger.Info("shutting down")
	stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Error("HTTP shutdown", "err", err)
	}
	<-fleetDone
	mgr.Wait()
	return code
}

// checkRegions makes sure every function has a region to be polled in and
// every discovery entry a region to list.
func checkRegions(c *config.Config, sdkRegion string) error {
	var errs []error
	for i, f := range c.Functions {
		if f.Region == "" && sdkRegion == "" {
			errs = append(errs, fmt.Errorf("functions[%d] (%s): no region: set region in the config file, use a full ARN, or set AWS_REGION", i, f.Name))
		}
	}
	for i, d := range c.Discovery {
		if len(d.Regions) == 0 && sdkRegion == "" {
			errs = append(errs, fmt.Errorf("discovery[%d]: no region: set its regions or region in the config file, or set AWS_REGION", i))
		}
	}
	return errors.Join(errs...)
}

// reloadMetrics are the exporter's own configuration reload metrics.
type reloadMetrics struct{ ok, when prometheus.Gauge }

func newReloadMetrics() *reloadMetrics {
	return &reloadMetrics{
		ok: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: collector.Namespace, Subsystem: "exporter", Name: "config_last_reload_successful",
			Help: "1 when the last configuration (re)load succeeded, else 0.",
		}),
		when: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: collector.Namespace, Subsystem: "exporter", Name: "config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last (re)loaded successfully.",
		}),
	}
}

func (r *reloadMetrics) success() { r.ok.Set(1); r.when.SetToCurrentTime() }
func (r *reloadMetrics) failure() { r.ok.Set(0) }

// storageMetrics are the checkpoint store's own metrics.
func storageMetrics(d *storage.Dir) []prometheus.Collector {
	counter := func(name, help string, v func(storage.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: collector.Namespace, Subsystem: "exporter", Name: name, Help: help,
		}, func() float64 { return float64(v(d.Stats())) })
	}
	return []prometheus.Collector{
		counter("storage_writes_total", "Checkpoints written to --storage.path.",
			func(s storage.Stats) uint64 { return s.Writes }),
		counter("storage_write_failures_total", "Checkpoint writes that failed (disk full, read-only, ...); polling goes on, and a restart then resumes from an older checkpoint.",
			func(s storage.Stats) uint64 { return s.WriteFailures }),
		counter("storage_load_failures_total", "Checkpoints found at start that could not be used (damaged, truncated, unreadable, another version or target); those functions started fresh.",
			func(s storage.Stats) uint64 { return s.LoadFailures }),
	}
}

// startDemo serves a simulated Lambda API with a live workload on loopback.
func startDemo(ctx context.Context, logger *slog.Logger) (string, func(context.Context) error, error) {
	sim := lambdasim.New(lambdasim.Options{Region: "us-east-1", AccountID: "123456789012"})
	url, shutdown, err := lambdasim.Listen("127.0.0.1:0", sim)
	if err != nil {
		return "", nil, err
	}
	go sim.RunWorkload(ctx, lambdasim.Workload{Functions: demoFunctions, LongRunners: demoLongRunners,
		ExecutionTimeouts: demoTimeouts, ErrorTypes: demoErrorTypes, Canaries: demoCanaries,
		MaxDuration: 15 * time.Minute}) // a steady RUNNING count; the long runners stay
	logger.Info("demo mode: simulated Lambda durable API with a live workload", "endpoint", url)
	return url, shutdown, nil
}

var demoFunctions = []string{"order-workflow", "billing", "nightly-report", "inventory-sync"}

// demoLongRunners are workflows that started long before the demo's 24h
// window and still run, so that the running-age panels and the
// RunningTooLong alert show something.
var demoLongRunners = map[string][]time.Duration{
	"order-workflow": {30 * time.Hour, 9 * 24 * time.Hour},
	"billing":        {40 * 24 * time.Hour},
}

// demoTimeouts are the functions' execution timeouts: billing's 40-day
// long runner is past 80% of its 45 days, so the time-out headroom panel
// and the NearTimeout alert show something.
var demoTimeouts = map[string]time.Duration{
	"order-workflow": 14 * 24 * time.Hour,
	"billing":        45 * 24 * time.Hour,
	"nightly-report": 2 * time.Hour,
}

// demoErrorTypes are the Error.ErrorType values of the demo's FAILED
// executions, for the error-type breakdown.
var demoErrorTypes = map[string][]string{
	"order-workflow": {"PaymentDeclinedError", "InventoryUnavailableError", "StepFailedError"},
	"billing":        {"InvoiceRenderError", "StepFailedError"},
	"nightly-report": {"StepFailedError"},
}

// demoCanaries: billing's alias live routes a quarter of its executions to
// version 3, which fails far more often than version 2, for the version
// breakdown's panels and LambdaDurableVersionFailureRatioHigh.
var demoCanaries = map[string]lambdasim.Canary{"billing": {Version: "3", Share: 0.25, FailureRate: 0.4}}

// demoYAML is the configuration --demo uses when no --config.file is given.
// It goes through the same parser as a user's file.
const demoYAML = `
region: us-east-1
account_id: "123456789012"
interval: 5s
window: 24h
overlap: 1m
resync_interval: 10m
breakdown: [error_type]
functions:
  - name: order-workflow
  - name: billing
    qualifier: live
    breakdown: [version, error_type]
  - name: arn:aws:lambda:us-east-1:123456789012:function:nightly-report
discovery:
  # The inventory-* functions are not listed above: discovery finds them.
  - regions: [us-east-1]
    name_pattern: "^inventory-"
    refresh: 1m
`
