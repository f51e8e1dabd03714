// Package config loads and validates the exporter's YAML configuration.
//
// Parse decodes strictly (unknown keys are errors), applies defaults and
// validates, reporting every problem at once (joined with errors.Join) in
// file order. Each problem names the line, the key path and the offending
// value, for example:
//
//	line 7: functions[1].statuses[0]: unknown status "RUNING" (want one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED)
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"time"
)

// Default values applied by Parse and returned by Default.
const (
	DefaultInterval              = 60 * time.Second
	DefaultWindow                = 24 * time.Hour
	DefaultPageSize              = 1000
	DefaultMaxConcurrency        = 4
	DefaultResyncInterval        = time.Hour // or interval when that is longer (Parse)
	DefaultOverlap               = 5 * time.Minute
	DefaultListRequestsPerSecond = 10
	DefaultGetRequestsPerSecond  = 20
	DefaultDiscoveryRefresh      = 10 * time.Minute
	DefaultMaxErrorTypes         = 20
	DefaultErrorReadsPerSecond   = 2

	// MaxPageSize is the largest MaxItems ListDurableExecutionsByFunction accepts.
	MaxPageSize = 1000

	// Bounds of values that are valid YAML but nonsense. A poll more often
	// than every second only burns the shared budget; one less often than
	// daily is no monitoring. The API keeps an execution at most 90 days
	// after it ends (RetentionPeriodInDays), so a longer window lists
	// nothing more.
	MinInterval = time.Second
	MaxInterval = 24 * time.Hour
	MaxWindow   = 90 * 24 * time.Hour

	// MaxFileSize bounds a configuration file (1 MiB, some 80,000
	// functions by name), so that a runaway generated file fails clearly
	// instead of taking the exporter's memory.
	MaxFileSize = 1 << 20
	// MaxFunctions and MaxDiscovery bound the functions and discovery
	// lists; each function is polled and exported on its own.
	MaxFunctions = 10000
	MaxDiscovery = 1000

	// MaxAgeThresholds bounds running_age_thresholds (one series each per
	// function).
	MaxAgeThresholds = 10
	// MaxMaxErrorTypes bounds max_error_types (series per function and
	// status).
	MaxMaxErrorTypes = 1000
)

// Breakdowns that the breakdown key accepts.
const (
	// BreakdownVersion labels executions, finishes and durations with the
	// version each execution ran under (from its ARN).
	BreakdownVersion = "version"
	// BreakdownErrorType counts failures by Error.ErrorType.
	BreakdownErrorType = "error_type"
)

// DefaultRunningAgeThresholds are the running-age thresholds when the file
// sets none: an hour, a day, a week, thirty days.
var DefaultRunningAgeThresholds = []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

// Config is the whole exporter configuration. The yaml tags name the keys of
// the file; untagged fields are derived by Parse and Validate.
type Config struct {
	// Region is the default AWS region; empty lets the SDK default chain decide.
	Region string `yaml:"region"`
	// Endpoint overrides the Lambda API endpoint (absolute http(s) URL); empty = AWS.
	Endpoint string `yaml:"endpoint"`

	Interval time.Duration `yaml:"interval"` // poll interval, > 0
	Window   time.Duration `yaml:"window"`   // default gauge window, > 0
	// ResyncInterval is the full re-listing period; 0 disables; else >=
	// Interval. Unset in the file, it is the larger of
	// DefaultResyncInterval and Interval.
	ResyncInterval time.Duration `yaml:"resync_interval"`
	Overlap        time.Duration `yaml:"overlap"` // how far back incremental polls re-list, > 0
	// MaxIdleInterval bounds how rarely an idle function (nothing running,
	// nothing new) is polled as its polls are spaced out; 0 disables the
	// backoff, else >= Interval.
	MaxIdleInterval time.Duration `yaml:"max_idle_interval"`

	// DurationBuckets are the upper bounds of the duration histogram; nil
	// means the default set (1s to 30d, 20 buckets). Fewer buckets mean
	// fewer series per function.
	DurationBuckets []time.Duration `yaml:"duration_buckets"`

	// RunningAgeThresholds are the ages for
	// lambda_durable_executions_running_older_than: per function, how many
	// running executions are older than each. Strictly increasing, > 0, at
	// most MaxAgeThresholds; nil means DefaultRunningAgeThresholds.
	RunningAgeThresholds []time.Duration `yaml:"running_age_thresholds"`

	PageSize       int `yaml:"page_size"`       // MaxItems per list call, 1..1000
	MaxConcurrency int `yaml:"max_concurrency"` // functions polled at once per account and region, >= 1

	ListRequestsPerSecond float64 `yaml:"list_requests_per_second"` // client-side limit per account+region, > 0
	GetRequestsPerSecond  float64 `yaml:"get_requests_per_second"`  // client-side limit per account+region, > 0

	// Breakdown lists the breakdowns of every entry that sets none: version
	// and error_type; nil or empty = none.
	Breakdown []string `yaml:"breakdown"`
	// MaxErrorTypes caps the distinct error types per function and status;
	// the rest fold into "other". 1..MaxMaxErrorTypes.
	MaxErrorTypes int `yaml:"max_error_types"`
	// ErrorReadsPerSecond bounds the reads of error types per account and
	// region (within the Get budget), > 0.
	ErrorReadsPerSecond float64 `yaml:"error_reads_per_second"`

	// AccountID is the 12-digit account of the default credentials when
	// known, "" otherwise. It is the account label of functions whose
	// AccountID cannot be derived (Function.AccountID == ""), and duplicate
	// detection treats such functions as being in this account.
	AccountID string `yaml:"account_id"`

	Functions []Function  `yaml:"functions"`
	Discovery []Discovery `yaml:"discovery"`
}

// Function is one function (optionally qualified and/or filtered) to watch.
// A string key tagged nonempty must not be empty in the file; the tag says
// what to write instead.
type Function struct {
	// Name is as written in the file (name, partial ARN or full ARN).
	Name string `yaml:"name"`
	// Qualifier is from the qualifier key or the ARN suffix.
	Qualifier string `yaml:"qualifier" nonempty:"omit the key for the unqualified function"`
	// ExecutionName is an exact execution name filter, "" = all.
	ExecutionName string   `yaml:"execution_name" nonempty:"omit the key to export all executions"`
	Statuses      []string `yaml:"statuses"` // status filter, nil = all five
	// Breakdown is resolved: the entry's list, which replaces the top-level
	// one (an empty list means none), else the top-level one.
	Breakdown []string `yaml:"breakdown"`
	// Window is resolved: the per-function override or the global window.
	Window time.Duration `yaml:"window"`
	// RoleARN is the IAM role to assume for this function, "" = default credentials.
	RoleARN string `yaml:"role_arn" nonempty:"omit the key to use the default credentials"`
	// ExternalID is the external ID for assuming RoleARN, "" = none.
	ExternalID string `yaml:"external_id" nonempty:"omit the key when the role requires none"`
	Line       int    // line of the entry in the file, 0 when not from a file

	// Derived from Name, RoleARN and the global Region by Parse / Validate.
	FunctionName string // bare function name
	// Region is the region of a full ARN, else the function's region key,
	// else the global Region (may be empty). Validate treats a non-empty
	// Region as the function's region key, so it is kept on re-validation.
	Region    string `yaml:"region" nonempty:"omit the key to use the global region"`
	AccountID string // account of a full or partial ARN, else of RoleARN, else ""
}

// Discovery finds functions to watch by listing the functions of an account
// in some regions, filtered by tags and name. Every discovered function is
// watched like a static Function with the entry's Qualifier, Statuses and
// Window.
type Discovery struct {
	// Regions are the regions to list. Omitted (nil), they resolve to the
	// global Region, or stay nil when that is empty: the SDK's region (the
	// fleet resolves it). A list that is set needs at least one region.
	Regions []string `yaml:"regions"`
	// RoleARN is the IAM role to assume, "" = default credentials.
	RoleARN string `yaml:"role_arn" nonempty:"omit the key to use the default credentials"`
	// ExternalID is the external ID for assuming RoleARN, "" = none.
	ExternalID string `yaml:"external_id" nonempty:"omit the key when the role requires none"`
	// Tags are tags a function must all carry (exact values), nil = any.
	Tags map[string]string `yaml:"tags"`
	// NamePattern is an RE2 regular expression matched against the bare
	// function name, "" = any.
	NamePattern string         `yaml:"name_pattern" nonempty:"omit the key to match every function name"`
	Pattern     *regexp.Regexp // NamePattern compiled by Parse / Validate, nil when empty
	// Refresh is how often the function list is refreshed; 0 in code =
	// DefaultDiscoveryRefresh.
	Refresh time.Duration `yaml:"refresh"`
	// Qualifier is the version or alias applied to every discovered
	// function, "" = unqualified.
	Qualifier string        `yaml:"qualifier"`
	Statuses  []string      `yaml:"statuses"`  // status filter, nil = all five
	Breakdown []string      `yaml:"breakdown"` // resolved as Function.Breakdown
	Window    time.Duration `yaml:"window"`    // resolved: per-entry override or the global window
	AccountID string        // derived: account of RoleARN, else ""
	Line      int           // line of the entry in the file, 0 when not from a file
}

// Has reports whether the resolved breakdown list holds b.
func Has(breakdown []string, b string) bool { return slices.Contains(breakdown, b) }

// AllStatuses returns the durable execution statuses in canonical order.
func AllStatuses() []string {
	return []string{"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"}
}

// Default returns a Config holding every default and no functions or
// discovery entries.
func Default() Config {
	return Config{
		Interval:              DefaultInterval,
		Window:                DefaultWindow,
		PageSize:              DefaultPageSize,
		MaxConcurrency:        DefaultMaxConcurrency,
		ResyncInterval:        DefaultResyncInterval,
		Overlap:               DefaultOverlap,
		ListRequestsPerSecond: DefaultListRequestsPerSecond,
		GetRequestsPerSecond:  DefaultGetRequestsPerSecond,
		MaxErrorTypes:         DefaultMaxErrorTypes,
		ErrorReadsPerSecond:   DefaultErrorReadsPerSecond,
	}
}

// Load reads and parses the configuration file at path. Every error names
// the path; a missing file satisfies errors.Is(err, fs.ErrNotExist). A file
// larger than MaxFileSize is refused before it is read.
func Load(path string) (*Config, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file %q: %w", path, err)
	}
	c, err := Parse(b)
	if multi, ok := err.(interface{ Unwrap() []error }); ok && len(multi.Unwrap()) > 1 {
		return nil, fmt.Errorf("config file %q: %d problems:\n%w", path, len(multi.Unwrap()), err)
	} else if err != nil {
		return nil, fmt.Errorf("config file %q: %w", path, err)
	}
	return c, nil
}

// readFile reads at most MaxFileSize bytes of path: the size of a regular
// file is checked before reading, and the read stops one byte past the
// limit for anything else (or a file that grows).
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxFileSize {
		return nil, tooLarge(fmt.Sprintf("%d bytes, ", fi.Size()))
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, tooLarge("")
	}
	return b, nil
}

// tooLarge says that a file of size ("N bytes, " or "" if unknown) is over
// MaxFileSize.
func tooLarge(size string) error {
	return fmt.Errorf("too large: %smore than the limit of %d bytes (1 MiB)", size, MaxFileSize)
}

// Parse decodes a YAML configuration, applies defaults and validates it.
// On failure it returns nil and every problem found, joined, in file order.
// Input larger than MaxFileSize is refused unread. A YAML syntax error is
// the only problem reported then, as "line N: path: problem" when its line
// is known.
func Parse(b []byte) (*Config, error) {
	if len(b) > MaxFileSize {
		return nil, tooLarge(fmt.Sprintf("%d bytes, ", len(b)))
	}
	var probs problems
	c, fields, err := decode(b, &probs)
	if err != nil {
		return nil, err
	}
	validate(c, fields, &probs)
	if err := probs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks a Config (for example one built in code) and returns every
// problem joined. It also fills the derived fields of each Function
// (FunctionName, Region, AccountID, Qualifier from an ARN suffix) and
// resolves a zero Function.Window to the global Window; for each Discovery
// entry it compiles Pattern, derives AccountID and resolves a zero Window to
// the global Window and a zero Refresh to DefaultDiscoveryRefresh. Messages
// carry a "line N: " prefix only for entries whose Line is set.
func (c *Config) Validate() error {
	if c == nil {
		return errors.New("config: nil Config")
	}
	var probs problems
	validate(c, nil, &probs)
	return probs.err()
}

// APIName is the FunctionName to send to the Lambda API: the name exactly as
// configured, minus the :QUALIFIER suffix of an ARN.
func (f Function) APIName() string {
	if p, ok := parseFunctionName(f.Name); ok {
		return p.apiName
	}
	return f.Name
}

// Key identifies the function for state maps:
// FunctionName|Qualifier|Region|AccountID. Entries that differ only by
// ExecutionName share a Key.
func (f Function) Key() string {
	return f.FunctionName + "|" + f.Qualifier + "|" + f.Region + "|" + f.AccountID
}
