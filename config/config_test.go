package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	const fn = "functions:\n  - name: a\n" // a valid functions list (lines 2-3 when appended after one line)
	tests := []struct {
		name string
		in   string
		want string
	}{
		// structure
		{"unknown top-level key", "intervall: 5m\n" + fn,
			`line 1: unknown key "intervall"`},
		{"unknown function key", "functions:\n  - name: a\n    qualifer: \"3\"\n",
			`line 3: functions[0]: unknown key "qualifer"`},
		{"duplicate key", "interval: 1m\ninterval: 2m\n" + fn,
			`line 2: duplicate key "interval" (first at line 1)`},
		{"duplicate function key", "functions:\n  - name: a\n    name: b\n",
			`line 3: functions[0]: duplicate key "name" (first at line 2)`},
		{"top level not a mapping", "- name: a\n",
			`line 1: expected a mapping at the top level, got a list`},
		{"top level scalar", "hello\n",
			`line 1: expected a mapping at the top level, got "hello"`},
		{"second document", fn + "---\nregion: x\n",
			`line 4: unexpected second YAML document (only one is allowed)`},
		{"yaml syntax error", "interval: 1m\nregion: a: b\n",
			`yaml: line 2: mapping values are not allowed in this context`},
		{"yaml unclosed flow list", "interval: 1m\nfunctions: [a\n",
			`yaml: line 1: did not find expected ',' or ']'`}, // yaml.v3's own (context) line
		{"yaml indentation error", "functions:\n  - name: a\n - name: b\n",
			`yaml: line 2: did not find expected key`},

		// durations
		{"malformed duration", "interval: abc\n" + fn,
			`line 1: interval: invalid duration "abc": not a valid duration string`},
		{"quoted number duration", "interval: \"60\"\n" + fn,
			`line 1: interval: invalid duration "60": not a valid duration string`},
		{"integer duration", "interval: 60\n" + fn,
			`line 1: interval: invalid duration "60": not a valid duration string (a number needs a unit, e.g. "60s")`},
		{"float duration", "window: 1.5\n" + fn,
			`line 1: window: invalid duration "1.5": not a valid duration string (a number needs a unit, e.g. "1.5s")`},
		{"unknown unit", "interval: 5x\n" + fn,
			`line 1: interval: invalid duration "5x": unknown unit "x"`},
		{"empty duration", "interval: \"\"\n" + fn,
			`line 1: interval: invalid duration "": empty duration string`},
		{"duration out of range", "interval: 1000y\n" + fn,
			`line 1: interval: invalid duration "1000y": duration out of range`},
		{"duration list", "interval: [1m]\n" + fn,
			`line 1: interval: expected a duration string, got a list`},
		{"duration null", "interval:\n" + fn,
			`line 1: interval: missing value`},
		{"zero interval", "interval: 0s\n" + fn,
			`line 1: interval: must be > 0, got "0s"`},
		{"zero interval no unit", "interval: \"0\"\n" + fn,
			`line 1: interval: must be > 0, got "0"`},
		{"negative interval", "interval: -1m\n" + fn,
			`line 1: interval: must be > 0, got "-1m"`},
		{"zero window", "window: 0s\n" + fn,
			`line 1: window: must be > 0, got "0s"`},
		{"negative window", "window: -2h\n" + fn,
			`line 1: window: must be > 0, got "-2h"`},
		{"zero overlap", "overlap: 0m\n" + fn,
			`line 1: overlap: must be > 0, got "0m"`},
		{"zero function window", "functions:\n  - name: a\n    window: 0s\n",
			`line 3: functions[0].window: must be > 0, got "0s"`},
		{"negative function window", "functions:\n  - name: a\n    window: -1h\n",
			`line 3: functions[0].window: must be > 0, got "-1h"`},
		{"integer function window", "functions:\n  - name: a\n    window: 6\n",
			`line 3: functions[0].window: invalid duration "6": not a valid duration string (a number needs a unit, e.g. "6s")`},
		{"resync shorter than interval", "interval: 2m\nresync_interval: 1m\n" + fn,
			`line 2: resync_interval: must be "0s" (disabled) or >= interval "2m", got "1m"`},
		{"default resync shorter than interval", "interval: 2h\n" + fn,
			`line 1: resync_interval: must be "0s" (disabled) or >= interval "2h", got "1h" (the default)`},
		{"negative resync", "resync_interval: -1h\n" + fn,
			`line 1: resync_interval: must be >= 0, got "-1h"`},

		// numbers
		{"page_size 0", "page_size: 0\n" + fn,
			`line 1: page_size: must be between 1 and 1000, got 0`},
		{"page_size 1001", "page_size: 1001\n" + fn,
			`line 1: page_size: must be between 1 and 1000, got 1001`},
		{"page_size abc", "page_size: abc\n" + fn,
			`line 1: page_size: invalid integer "abc"`},
		{"page_size float", "page_size: 10.5\n" + fn,
			`line 1: page_size: invalid integer "10.5"`},
		{"page_size huge", "page_size: 99999999999999999999\n" + fn,
			`line 1: page_size: invalid integer "99999999999999999999"`},
		{"page_size mapping", "page_size: {a: 1}\n" + fn,
			`line 1: page_size: expected an integer, got a mapping`},
		{"max_concurrency 0", "max_concurrency: 0\n" + fn,
			`line 1: max_concurrency: must be >= 1, got 0`},
		{"list rate 0", "list_requests_per_second: 0\n" + fn,
			`line 1: list_requests_per_second: must be a finite number > 0, got 0`},
		{"get rate negative", "get_requests_per_second: -1.5\n" + fn,
			`line 1: get_requests_per_second: must be a finite number > 0, got -1.5`},
		{"get rate inf", "get_requests_per_second: .inf\n" + fn,
			`line 1: get_requests_per_second: must be a finite number > 0, got .inf`},
		{"list rate nan", "list_requests_per_second: .nan\n" + fn,
			`line 1: list_requests_per_second: must be a finite number > 0, got .nan`},
		{"list rate text", "list_requests_per_second: fast\n" + fn,
			`line 1: list_requests_per_second: invalid number "fast"`},

		// strings
		{"bad region", "region: US East\n" + fn,
			`line 1: region: invalid region "US East" (want e.g. us-east-1)`},
		{"region list", "region: [a]\n" + fn,
			`line 1: region: expected a string, got a list`},
		{"relative endpoint", "endpoint: localhost:9000\n" + fn,
			`line 1: endpoint: invalid URL "localhost:9000" (want an absolute http:// or https:// URL)`},
		{"endpoint without host", "endpoint: http://\n" + fn,
			`line 1: endpoint: invalid URL "http://" (want an absolute http:// or https:// URL)`},

		// functions
		{"no functions key", "interval: 1m\n",
			`functions: at least one function is required`},
		{"empty functions", "interval: 1m\nfunctions: []\n",
			`line 2: functions: at least one function is required`},
		{"null functions", "functions:\n",
			`line 1: functions: at least one function is required`},
		{"empty file", "",
			`functions: at least one function is required`},
		{"only comments", "# nothing here\n\n# at all\n",
			`functions: at least one function is required`},
		{"only document marker", "---\n",
			`functions: at least one function is required`},
		{"functions mapping", "functions:\n  name: a\n",
			`line 2: functions: expected a list, got a mapping`},
		{"function entry scalar", "functions:\n  - billing\n",
			`line 2: functions[0]: expected a mapping, got "billing"`},
		{"missing name", "functions:\n  - qualifier: \"3\"\n",
			`line 2: functions[0]: missing required key "name"`},
		{"empty name", "functions:\n  - name: \"\"\n",
			`line 2: functions[0].name: must not be empty`},
		{"null name", "functions:\n  - name:\n",
			`line 2: functions[0].name: missing value`},
		{"bad name", "functions:\n  - name: bad name!\n",
			`line 2: functions[0].name: invalid function name "bad name!" (want 1-64 letters, digits, '-' or '_', a partial ARN ACCOUNT:function:NAME or a full function ARN)`},
		{"name too long", "functions:\n  - name: " + strings.Repeat("a", 65) + "\n",
			`line 2: functions[0].name: invalid function name "` + strings.Repeat("a", 65) + `" (want 1-64 letters, digits, '-' or '_', a partial ARN ACCOUNT:function:NAME or a full function ARN)`},
		{"name with qualifier suffix", "functions:\n  - name: billing:3\n",
			`line 2: functions[0].name: invalid function name "billing:3" (set the version or alias with the qualifier key)`},
		{"bad ARN", "functions:\n  - name: arn:aws:lambda:us-east-1:1234:function:billing\n",
			`line 2: functions[0].name: invalid function ARN "arn:aws:lambda:us-east-1:1234:function:billing" (want arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] with a 12-digit ACCOUNT)`},
		{"ARN of another service", "functions:\n  - name: arn:aws:states:us-east-1:123456789012:stateMachine:x\n",
			`line 2: functions[0].name: invalid function ARN "arn:aws:states:us-east-1:123456789012:stateMachine:x" (want arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] with a 12-digit ACCOUNT)`},
		{"bad partial ARN", "functions:\n  - name: 12345:function:billing\n",
			`line 2: functions[0].name: invalid partial function ARN "12345:function:billing" (want ACCOUNT:function:NAME[:QUALIFIER] with a 12-digit ACCOUNT)`},
		{"conflicting ARN qualifier", "functions:\n  - name: arn:aws:lambda:us-east-1:123456789012:function:billing:3\n    qualifier: \"4\"\n",
			`line 3: functions[0].qualifier: "4" conflicts with qualifier "3" in ARN "arn:aws:lambda:us-east-1:123456789012:function:billing:3"`},
		{"bad qualifier", "functions:\n  - name: a\n    qualifier: v 1\n",
			`line 3: functions[0].qualifier: invalid qualifier "v 1" (want a version number, $LATEST or an alias of 1-128 letters, digits, '-' or '_')`},
		{"empty qualifier", "functions:\n  - name: a\n    qualifier: \"\"\n",
			`line 3: functions[0].qualifier: must not be empty (omit the key for the unqualified function)`},
		{"empty execution_name", "functions:\n  - name: a\n    execution_name: \"\"\n",
			`line 3: functions[0].execution_name: must not be empty (omit the key to export all executions)`},
		{"unknown status", "functions:\n  - name: a\n    statuses: [FAILED, RUNING]\n",
			`line 3: functions[0].statuses[1]: unknown status "RUNING" (want one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED)`},
		{"lower-case status", "functions:\n  - name: a\n    statuses:\n      - failed\n",
			`line 4: functions[0].statuses[0]: unknown status "failed" (want one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED)`},
		{"duplicate status", "functions:\n  - name: a\n    statuses: [FAILED, TIMED_OUT, FAILED]\n",
			`line 3: functions[0].statuses[2]: duplicate status "FAILED" (first at statuses[0])`},
		{"empty statuses", "functions:\n  - name: a\n    statuses: []\n",
			`line 3: functions[0].statuses: empty list; omit the key to export all statuses`},
		{"statuses scalar", "functions:\n  - name: a\n    statuses: FAILED\n",
			`line 3: functions[0].statuses: expected a list, got "FAILED"`},
		{"status not a string", "functions:\n  - name: a\n    statuses: [[FAILED]]\n",
			`line 3: functions[0].statuses[0]: expected a string, got a list`},
		{"duplicate name", "functions:\n  - name: a\n  - name: a\n",
			`line 3: functions[1]: duplicate function "a" (first at line 2)`},
		{"duplicate pair via name and ARN", "region: us-east-1\nfunctions:\n  - name: billing\n    qualifier: \"3\"\n  - name: other\n  - name: arn:aws:lambda:us-east-1:123456789012:function:billing:3\n",
			`line 6: functions[2]: duplicate function "billing" with qualifier "3" (first at line 3)`},
		{"duplicate pair via partial ARN and qualifier key", "functions:\n  - name: 123456789012:function:billing:live\n  - name: billing\n    qualifier: live\n",
			`line 3: functions[1]: duplicate function "billing" with qualifier "live" (first at line 2)`},
		{"duplicate that differs only by execution name", "functions:\n  - name: a\n    execution_name: x\n  - name: a\n    execution_name: y\n",
			`line 4: functions[1]: duplicate function "a" (first at line 2)`},
		{"duplicate that differs only by account", "region: us-east-1\nfunctions:\n  - name: 123456789012:function:a\n  - name: 210987654321:function:a\n",
			`line 4: functions[1]: duplicate function "a" (first at line 3)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error %q", tt.in, c, tt.want)
			}
			if c != nil {
				t.Errorf("Parse returned a config along with the error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseReportsAllProblemsInFileOrder(t *testing.T) {
	in := `region: us-east-1
intervall: 5m
interval: 60
window: 0s
page_size: 1001
functions:
  - name: billing
    qualifier: "3"
  - name: orders
    statuses: [RUNING, FAILED]
    qualifer: x
  - name: arn:aws:lambda:us-east-1:123456789012:function:billing:3
  - statuses: []
overlap: -5m
`
	want := []string{
		`line 2: unknown key "intervall"`,
		`line 3: interval: invalid duration "60": not a valid duration string (a number needs a unit, e.g. "60s")`,
		`line 4: window: must be > 0, got "0s"`,
		`line 5: page_size: must be between 1 and 1000, got 1001`,
		`line 10: functions[1].statuses[0]: unknown status "RUNING" (want one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED)`,
		`line 11: functions[1]: unknown key "qualifer"`,
		`line 12: functions[2]: duplicate function "billing" with qualifier "3" (first at line 7)`,
		`line 13: functions[3]: missing required key "name"`,
		`line 13: functions[3].statuses: empty list; omit the key to export all statuses`,
		`line 14: overlap: must be > 0, got "-5m"`,
	}
	_, err := Parse([]byte(in))
	if err == nil {
		t.Fatal("Parse succeeded, want errors")
	}
	got := strings.Split(err.Error(), "\n")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var multi interface{ Unwrap() []error }
	if !errors.As(err, &multi) || len(multi.Unwrap()) != len(want) {
		t.Errorf("want %d joined errors, got %v", len(want), err)
	}
}

func TestParseFull(t *testing.T) {
	in := `# every key
region: eu-west-1
endpoint: http://localhost:9000
interval: 30s
window: 1d
page_size: 500
max_concurrency: 8
resync_interval: 2h
overlap: 10m
list_requests_per_second: 2.5
get_requests_per_second: 5
functions:
  - name: order-workflow
    qualifier: "3"
    execution_name: nightly-run
    statuses: [FAILED, TIMED_OUT]
    window: 6h
  - name: 123456789012:function:billing
  - name: arn:aws-cn:lambda:cn-north-1:210987654321:function:pay_ments:$LATEST
  - name: arn:aws:lambda:us-east-2:123456789012:function:alias-fn:live
    qualifier: live
  - name: order-workflow
    qualifier: "4"
    execution_name: other-run
`
	c, err := Parse([]byte(in))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Config{
		Region:                "eu-west-1",
		Endpoint:              "http://localhost:9000",
		Interval:              30 * time.Second,
		Window:                24 * time.Hour,
		PageSize:              500,
		MaxConcurrency:        8,
		ResyncInterval:        2 * time.Hour,
		Overlap:               10 * time.Minute,
		ListRequestsPerSecond: 2.5,
		GetRequestsPerSecond:  5,
		Functions: []Function{
			{
				Name: "order-workflow", Qualifier: "3", ExecutionName: "nightly-run",
				Statuses: []string{"FAILED", "TIMED_OUT"}, Window: 6 * time.Hour, Line: 13,
				FunctionName: "order-workflow", Region: "eu-west-1",
			},
			{
				Name: "123456789012:function:billing", Window: 24 * time.Hour, Line: 18,
				FunctionName: "billing", Region: "eu-west-1", AccountID: "123456789012",
			},
			{
				Name: "arn:aws-cn:lambda:cn-north-1:210987654321:function:pay_ments:$LATEST", Qualifier: "$LATEST",
				Window: 24 * time.Hour, Line: 19,
				FunctionName: "pay_ments", Region: "cn-north-1", AccountID: "210987654321",
			},
			{
				Name: "arn:aws:lambda:us-east-2:123456789012:function:alias-fn:live", Qualifier: "live",
				Window: 24 * time.Hour, Line: 20,
				FunctionName: "alias-fn", Region: "us-east-2", AccountID: "123456789012",
			},
			{
				Name: "order-workflow", Qualifier: "4", ExecutionName: "other-run",
				Window: 24 * time.Hour, Line: 22,
				FunctionName: "order-workflow", Region: "eu-west-1",
			},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse\n got: %+v\nwant: %+v", c, want)
	}

	apiNames := []string{
		"order-workflow",
		"123456789012:function:billing",
		"arn:aws-cn:lambda:cn-north-1:210987654321:function:pay_ments",
		"arn:aws:lambda:us-east-2:123456789012:function:alias-fn",
		"order-workflow",
	}
	keys := []string{
		"order-workflow|3|eu-west-1|",
		"billing||eu-west-1|123456789012",
		"pay_ments|$LATEST|cn-north-1|210987654321",
		"alias-fn|live|us-east-2|123456789012",
		"order-workflow|4|eu-west-1|",
	}
	for i, f := range c.Functions {
		if got := f.APIName(); got != apiNames[i] {
			t.Errorf("functions[%d].APIName() = %q, want %q", i, got, apiNames[i])
		}
		if got := f.Key(); got != keys[i] {
			t.Errorf("functions[%d].Key() = %q, want %q", i, got, keys[i])
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate on parsed config: %v", err)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte("functions:\n  - name: a\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Functions = []Function{{Name: "a", FunctionName: "a", Window: DefaultWindow, Line: 2}}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("got %+v\nwant %+v", *c, want)
	}
	d := Default()
	if d.Interval != 60*time.Second || d.Window != 24*time.Hour || d.PageSize != 1000 ||
		d.MaxConcurrency != 4 || d.ResyncInterval != time.Hour || d.Overlap != 5*time.Minute ||
		d.ListRequestsPerSecond != 10 || d.GetRequestsPerSecond != 20 || d.Region != "" ||
		d.Endpoint != "" || d.Functions != nil {
		t.Errorf("Default() = %+v", d)
	}
}

func TestParseAccepted(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(*testing.T, *Config)
	}{
		{"resync disabled", "interval: 2h\nresync_interval: 0s\nfunctions:\n  - name: a\n", func(t *testing.T, c *Config) {
			if c.ResyncInterval != 0 || c.Interval != 2*time.Hour {
				t.Errorf("got resync %v interval %v", c.ResyncInterval, c.Interval)
			}
		}},
		{"resync equal to interval", "interval: 1h\nresync_interval: 60m\nfunctions:\n  - name: a\n", nil},
		{"compound duration", "interval: 1h30m\nresync_interval: 3h\nfunctions:\n  - name: a\n", func(t *testing.T, c *Config) {
			if c.Interval != 90*time.Minute {
				t.Errorf("interval = %v", c.Interval)
			}
		}},
		{"integer qualifier", "functions:\n  - name: a\n    qualifier: 7\n", func(t *testing.T, c *Config) {
			if c.Functions[0].Qualifier != "7" {
				t.Errorf("qualifier = %q", c.Functions[0].Qualifier)
			}
		}},
		{"latest published", "functions:\n  - name: a\n    qualifier: $LATEST.PUBLISHED\n", nil},
		{"anchors and aliases", "functions:\n  - name: a\n    window: &w 2h\n  - name: b\n    window: *w\n", func(t *testing.T, c *Config) {
			if c.Functions[1].Window != 2*time.Hour {
				t.Errorf("aliased window = %v", c.Functions[1].Window)
			}
		}},
		{"same name in two regions", "region: us-east-1\nfunctions:\n  - name: a\n  - name: arn:aws:lambda:eu-west-1:111111111111:function:a\n", func(t *testing.T, c *Config) {
			if c.Functions[0].Region != "us-east-1" || c.Functions[1].Region != "eu-west-1" {
				t.Errorf("regions %q %q", c.Functions[0].Region, c.Functions[1].Region)
			}
		}},
		{"qualified and unqualified", "functions:\n  - name: a\n  - name: a\n    qualifier: \"1\"\n", nil},
		{"hex page size", "page_size: 0x10\nfunctions:\n  - name: a\n", func(t *testing.T, c *Config) {
			if c.PageSize != 16 {
				t.Errorf("page_size = %d", c.PageSize)
			}
		}},
		{"quoted number", "page_size: \"10\"\nlist_requests_per_second: \"3\"\nfunctions:\n  - name: a\n", func(t *testing.T, c *Config) {
			if c.PageSize != 10 || c.ListRequestsPerSecond != 3 {
				t.Errorf("page_size = %d rate = %v", c.PageSize, c.ListRequestsPerSecond)
			}
		}},
		{"ARN qualifier repeated in key", "functions:\n  - name: arn:aws:lambda:us-east-1:123456789012:function:a:3\n    qualifier: \"3\"\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate after Parse: %v", err)
			}
		})
	}
}

func TestValidateInCode(t *testing.T) {
	c := Default()
	c.Region = "us-west-2"
	c.Functions = []Function{
		{Name: "arn:aws:lambda:us-east-1:123456789012:function:billing:7"},
		{Name: "orders", Statuses: []string{"FAILED"}, Window: time.Hour},
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	f := c.Functions[0]
	if f.FunctionName != "billing" || f.Qualifier != "7" || f.Region != "us-east-1" ||
		f.AccountID != "123456789012" || f.Window != c.Window {
		t.Errorf("derived fields not filled: %+v", f)
	}
	if g := c.Functions[1]; g.FunctionName != "orders" || g.Region != "us-west-2" || g.Window != time.Hour {
		t.Errorf("derived fields not filled: %+v", g)
	}
	if err := c.Validate(); err != nil { // idempotent
		t.Fatalf("second Validate: %v", err)
	}

	bad := Config{
		Interval:       0,
		Window:         -time.Minute,
		PageSize:       0,
		MaxConcurrency: 0,
		ResyncInterval: time.Second,
		Overlap:        time.Minute,
		Endpoint:       "ftp://x",
		Functions: []Function{
			{Name: "a", Statuses: []string{}},
			{Name: "a", Line: 12},
			{Name: "", Window: -1500 * time.Microsecond},
		},
	}
	want := []string{
		`line 12: functions[1]: duplicate function "a" (first at functions[0])`,
		`endpoint: invalid URL "ftp://x" (want an absolute http:// or https:// URL)`,
		`interval: must be > 0, got "0s"`,
		`window: must be > 0, got "-1m"`,
		`page_size: must be between 1 and 1000, got 0`,
		`max_concurrency: must be >= 1, got 0`,
		`list_requests_per_second: must be a finite number > 0, got 0`,
		`get_requests_per_second: must be a finite number > 0, got 0`,
		`functions[0].statuses: empty list; omit the key to export all statuses`,
		`functions[2].name: must not be empty`,
		`functions[2].window: must be > 0, got "-1.5ms"`,
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("errors\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	var nilCfg *Config
	if err := nilCfg.Validate(); err == nil {
		t.Error("Validate on nil Config succeeded")
	}
	if err := (&Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "functions: at least one function is required") {
		t.Errorf("Validate on zero Config: %v", err)
	}
}

func TestAllStatuses(t *testing.T) {
	want := []string{"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"}
	got := AllStatuses()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AllStatuses() = %v", got)
	}
	got[0] = "X"
	if AllStatuses()[0] != "RUNNING" {
		t.Error("AllStatuses returns shared storage")
	}
}

func TestAPIName(t *testing.T) {
	for name, want := range map[string]string{
		"fn":                            "fn",
		"123456789012:function:fn":      "123456789012:function:fn",
		"123456789012:function:fn:prod": "123456789012:function:fn",
		"arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST":           "arn:aws:lambda:us-east-1:123456789012:function:fn",
		"arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:fn":        "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:fn",
		"arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST.PUBLISHED": "arn:aws:lambda:us-east-1:123456789012:function:fn",
		"not valid!": "not valid!",
	} {
		if got := (Function{Name: name}).APIName(); got != want {
			t.Errorf("APIName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()

	missing := filepath.Join(dir, "missing.yaml")
	_, err := Load(missing)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
	if want := `config file "` + missing + `": open ` + missing + `: no such file or directory`; err.Error() != want {
		t.Errorf("Load(missing) error\n got: %s\nwant: %s", err, want)
	}

	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("functions:\n  - name: a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil || len(c.Functions) != 1 {
		t.Fatalf("Load(good) = %+v, %v", c, err)
	}

	one := filepath.Join(dir, "one.yaml")
	if err := os.WriteFile(one, []byte("interval: 0s\nfunctions:\n  - name: a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(one)
	if want := `config file "` + one + `": line 1: interval: must be > 0, got "0s"`; err == nil || err.Error() != want {
		t.Errorf("Load(one) error\n got: %v\nwant: %s", err, want)
	}

	two := filepath.Join(dir, "two.yaml")
	if err := os.WriteFile(two, []byte("interval: 0s\nwindow: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(two)
	want := `config file "` + two + `": 3 problems:
line 1: interval: must be > 0, got "0s"
line 2: window: must be > 0, got "0s"
functions: at least one function is required`
	if err == nil || err.Error() != want {
		t.Errorf("Load(two) error\n got: %v\nwant: %s", err, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("functions:\n  - name: a\n"))
	f.Add([]byte("interval: 30s\nresync_interval: 0s\nfunctions:\n  - name: arn:aws:lambda:us-east-1:123456789012:function:x:3\n    statuses: [FAILED]\n"))
	f.Add([]byte("functions:\n  - name: a\n    window: &w 2h\n  - name: b\n    window: *w\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned both a config and an error: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse succeeded but Validate failed: %v\ninput: %q", err, b)
		}
	})
}

func TestProblemCap(t *testing.T) {
	var b strings.Builder
	for i := range maxProblems + 2 {
		fmt.Fprintf(&b, "k%d: 1\n", i)
	}
	b.WriteString("functions:\n  - name: a\n")
	_, err := Parse([]byte(b.String()))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxProblems+1 {
		t.Fatalf("got %d lines, want %d", len(lines), maxProblems+1)
	}
	if lines[0] != `line 1: unknown key "k0"` {
		t.Errorf("first line %q", lines[0])
	}
	if last := lines[len(lines)-1]; last != "too many problems: 2 more not shown" {
		t.Errorf("last line %q", last)
	}
}
