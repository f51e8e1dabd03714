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
			`line 2: region: mapping values are not allowed in this context`},
		{"yaml unclosed flow list", "interval: 1m\nfunctions: [a\n",
			`line 2: functions: did not find expected ',' or ']'`}, // where the list opens (yaml.v3 says line 1)
		{"yaml indentation error", "functions:\n  - name: a\n - name: b\n",
			`line 3: functions[0]: did not find expected key`}, // yaml.v3 says line 2
		// More shapes in TestSyntaxErrors.

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
		{"explicit resync shorter than a long interval", "interval: 2h\nresync_interval: 1h\n" + fn,
			`line 2: resync_interval: must be "0s" (disabled) or >= interval "2h", got "1h"`},
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
			`functions: at least one function or discovery entry is required`},
		{"empty functions", "interval: 1m\nfunctions: []\n",
			`line 2: functions: at least one function or discovery entry is required`},
		{"null functions", "functions:\n",
			`line 1: functions: at least one function or discovery entry is required`},
		{"empty file", "",
			`functions: at least one function or discovery entry is required`},
		{"only comments", "# nothing here\n\n# at all\n",
			`functions: at least one function or discovery entry is required`},
		{"only document marker", "---\n",
			`functions: at least one function or discovery entry is required`},
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

		// accounts and regions of static functions
		{"function region conflicts with ARN", "functions:\n  - name: arn:aws:lambda:us-east-1:123456789012:function:a\n    region: eu-west-1\n",
			`line 3: functions[0].region: "eu-west-1" conflicts with region "us-east-1" in ARN "arn:aws:lambda:us-east-1:123456789012:function:a"`},
		{"bad function region", "functions:\n  - name: a\n    region: EU West\n",
			`line 3: functions[0].region: invalid region "EU West" (want e.g. us-east-1)`},
		{"empty function region", "functions:\n  - name: a\n    region: \"\"\n",
			`line 3: functions[0].region: must not be empty (omit the key to use the global region)`},
		{"function region list", "functions:\n  - name: a\n    region: [us-east-1]\n",
			`line 3: functions[0].region: expected a string, got a list`},
		{"bad role_arn account", "functions:\n  - name: a\n    role_arn: arn:aws:iam::1234:role/r\n",
			`line 3: functions[0].role_arn: invalid role ARN "arn:aws:iam::1234:role/r" (want arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME with a 12-digit ACCOUNT)`},
		{"role_arn of a user", "functions:\n  - name: a\n    role_arn: arn:aws:iam::123456789012:user/u\n",
			`line 3: functions[0].role_arn: invalid role ARN "arn:aws:iam::123456789012:user/u" (want arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME with a 12-digit ACCOUNT)`},
		{"role_arn with empty path segment", "functions:\n  - name: a\n    role_arn: arn:aws:iam::123456789012:role//r\n",
			`line 3: functions[0].role_arn: invalid role ARN "arn:aws:iam::123456789012:role//r" (want arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME with a 12-digit ACCOUNT)`},
		{"empty role_arn", "functions:\n  - name: a\n    role_arn: \"\"\n",
			`line 3: functions[0].role_arn: must not be empty (omit the key to use the default credentials)`},
		{"external_id without role_arn", "functions:\n  - name: a\n    external_id: secret\n",
			`line 3: functions[0].external_id: requires role_arn`},
		{"empty external_id", "functions:\n  - name: a\n    role_arn: arn:aws:iam::123456789012:role/r\n    external_id: \"\"\n",
			`line 4: functions[0].external_id: must not be empty (omit the key when the role requires none)`},
		{"bad external_id", "functions:\n  - name: a\n    role_arn: arn:aws:iam::123456789012:role/r\n    external_id: a b\n",
			`line 4: functions[0].external_id: invalid external ID "a b" (want 2-1224 letters, digits or any of _+=,.@:/-)`},
		{"short external_id", "functions:\n  - name: a\n    role_arn: arn:aws:iam::123456789012:role/r\n    external_id: x\n",
			`line 4: functions[0].external_id: invalid external ID "x" (want 2-1224 letters, digits or any of _+=,.@:/-)`},
		{"role account conflicts with ARN account", "functions:\n  - name: 123456789012:function:a\n    role_arn: arn:aws:iam::210987654321:role/r\n",
			`line 3: functions[0].role_arn: account "210987654321" of "arn:aws:iam::210987654321:role/r" conflicts with account "123456789012" in ARN "123456789012:function:a"`},
		{"duplicate in the account_id account", "account_id: \"123456789012\"\nfunctions:\n  - name: a\n  - name: 123456789012:function:a\n",
			`line 4: functions[1]: duplicate function "a" (first at line 3)`},
		{"duplicate via role account", "functions:\n  - name: a\n    role_arn: arn:aws:iam::123456789012:role/r\n  - name: arn:aws:lambda:us-east-1:123456789012:function:a\n",
			`line 4: functions[1]: duplicate function "a" (first at line 2)`},
		{"duplicate via function region", "region: eu-west-1\nfunctions:\n  - name: a\n    region: us-east-1\n  - name: arn:aws:lambda:us-east-1:123456789012:function:a\n",
			`line 5: functions[1]: duplicate function "a" (first at line 3)`},
		{"duplicate with an unknown account", "functions:\n  - name: a\n  - name: a\n    role_arn: arn:aws:iam::123456789012:role/r\n",
			`line 3: functions[1]: duplicate function "a" (first at line 2)`},

		// new top-level keys
		{"max_idle_interval shorter than interval", "interval: 2m\nmax_idle_interval: 1m\n" + fn,
			`line 2: max_idle_interval: must be "0s" (disabled) or >= interval "2m", got "1m"`},
		{"max_idle_interval shorter than default interval", "max_idle_interval: 30s\n" + fn,
			`line 1: max_idle_interval: must be "0s" (disabled) or >= interval "1m", got "30s"`},
		{"negative max_idle_interval", "max_idle_interval: -1m\n" + fn,
			`line 1: max_idle_interval: must be >= 0, got "-1m"`},
		{"bad max_idle_interval", "max_idle_interval: 5\n" + fn,
			`line 1: max_idle_interval: invalid duration "5": not a valid duration string (a number needs a unit, e.g. "5s")`},
		{"short account_id", "account_id: 1234\n" + fn,
			`line 1: account_id: invalid account ID "1234" (want 12 digits)`},
		{"empty account_id", "account_id: \"\"\n" + fn,
			`line 1: account_id: invalid account ID "" (want 12 digits)`},
		{"account_id list", "account_id: [123456789012]\n" + fn,
			`line 1: account_id: expected a string, got a list`},

		// discovery
		{"empty discovery and no functions", "discovery: []\n",
			`line 1: functions: at least one function or discovery entry is required`},
		{"discovery mapping", "discovery:\n  regions: [us-east-1]\n",
			`line 2: discovery: expected a list, got a mapping`},
		{"discovery entry scalar", "discovery:\n  - us-east-1\n",
			`line 2: discovery[0]: expected a mapping, got "us-east-1"`},
		{"discovery empty regions", "discovery:\n  - regions: []\n",
			`line 2: discovery[0].regions: empty list; at least one region is required`},
		{"discovery null regions", "discovery:\n  - regions:\n",
			`line 2: discovery[0].regions: missing value`},
		{"discovery regions scalar", "discovery:\n  - regions: us-east-1\n",
			`line 2: discovery[0].regions: expected a list, got "us-east-1"`},
		{"discovery region not a string", "discovery:\n  - regions: [us-east-1, {a: b}]\n",
			`line 2: discovery[0].regions[1]: expected a string, got a mapping`},
		{"discovery bad region", "discovery:\n  - regions: [us-east-1, EU West]\n",
			`line 2: discovery[0].regions[1]: invalid region "EU West" (want e.g. us-east-1)`},
		{"discovery duplicate region", "discovery:\n  - regions:\n      - us-east-1\n      - eu-west-1\n      - us-east-1\n",
			`line 5: discovery[0].regions[2]: duplicate region "us-east-1" (first at regions[0])`},
		{"discovery bad role_arn", "discovery:\n  - regions: [us-east-1]\n    role_arn: arn:aws:iam:us-east-1:123456789012:role/r\n",
			`line 3: discovery[0].role_arn: invalid role ARN "arn:aws:iam:us-east-1:123456789012:role/r" (want arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME with a 12-digit ACCOUNT)`},
		{"discovery external_id without role_arn", "discovery:\n  - regions: [us-east-1]\n    external_id: secret\n",
			`line 3: discovery[0].external_id: requires role_arn`},
		{"discovery empty tags", "discovery:\n  - regions: [us-east-1]\n    tags: {}\n",
			`line 3: discovery[0].tags: empty mapping; omit the key to match any tags`},
		{"discovery tags list", "discovery:\n  - regions: [us-east-1]\n    tags: [team]\n",
			`line 3: discovery[0].tags: expected a mapping, got a list`},
		{"discovery null tags", "discovery:\n  - regions: [us-east-1]\n    tags:\n",
			`line 3: discovery[0].tags: missing value`},
		{"discovery tag value not a string", "discovery:\n  - regions: [us-east-1]\n    tags:\n      env: prod\n      team: [payments]\n",
			`line 5: discovery[0].tags.team: expected a string, got a list`},
		{"discovery tag value null", "discovery:\n  - regions: [us-east-1]\n    tags:\n      team:\n",
			`line 4: discovery[0].tags.team: missing value`},
		{"discovery empty tag key", "discovery:\n  - regions: [us-east-1]\n    tags:\n      env: prod\n      \"\": x\n",
			`line 5: discovery[0].tags: empty tag key`},
		{"discovery duplicate tag key", "discovery:\n  - regions: [us-east-1]\n    tags:\n      team: a\n      team: b\n",
			`line 5: discovery[0].tags: duplicate key "team" (first at line 4)`},
		{"discovery tag key not a string", "discovery:\n  - regions: [us-east-1]\n    tags:\n      [team]: a\n",
			`line 4: discovery[0].tags: keys must be strings, got a list`},
		{"discovery bad name_pattern", "discovery:\n  - regions: [us-east-1]\n    name_pattern: \"^(orders\"\n",
			"line 3: discovery[0].name_pattern: invalid regular expression \"^(orders\": missing closing ): `^(orders`"},
		{"discovery Perl lookahead", "discovery:\n  - regions: [us-east-1]\n    name_pattern: \"^(?!test)\"\n",
			"line 3: discovery[0].name_pattern: invalid regular expression \"^(?!test)\": invalid or unsupported Perl syntax: `(?!`"},
		{"discovery empty name_pattern", "discovery:\n  - regions: [us-east-1]\n    name_pattern: \"\"\n",
			`line 3: discovery[0].name_pattern: must not be empty (omit the key to match every function name)`},
		{"discovery zero refresh", "discovery:\n  - regions: [us-east-1]\n    refresh: 0s\n",
			`line 3: discovery[0].refresh: must be > 0, got "0s"`},
		{"discovery negative refresh", "discovery:\n  - regions: [us-east-1]\n    refresh: -10m\n",
			`line 3: discovery[0].refresh: must be > 0, got "-10m"`},
		{"discovery integer refresh", "discovery:\n  - regions: [us-east-1]\n    refresh: 600\n",
			`line 3: discovery[0].refresh: invalid duration "600": not a valid duration string (a number needs a unit, e.g. "600s")`},
		{"discovery unknown key", "discovery:\n  - regions: [us-east-1]\n    name_regex: ^a\n",
			`line 3: discovery[0]: unknown key "name_regex"`},
		{"discovery duplicate key", "discovery:\n  - regions: [us-east-1]\n    regions: [eu-west-1]\n",
			`line 3: discovery[0]: duplicate key "regions" (first at line 2)`},
		{"discovery bad qualifier", "discovery:\n  - regions: [us-east-1]\n    qualifier: v 1\n",
			`line 3: discovery[0].qualifier: invalid qualifier "v 1" (want a version number, $LATEST or an alias of 1-128 letters, digits, '-' or '_')`},
		{"discovery unknown status", "discovery:\n  - regions: [us-east-1]\n    statuses: [FAILED, RUNING]\n",
			`line 3: discovery[0].statuses[1]: unknown status "RUNING" (want one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED)`},
		{"discovery duplicate status", "discovery:\n  - regions: [us-east-1]\n    statuses: [FAILED, FAILED]\n",
			`line 3: discovery[0].statuses[1]: duplicate status "FAILED" (first at statuses[0])`},
		{"discovery empty statuses", "discovery:\n  - regions: [us-east-1]\n    statuses: []\n",
			`line 3: discovery[0].statuses: empty list; omit the key to export all statuses`},
		{"discovery zero window", "discovery:\n  - regions: [us-east-1]\n    window: 0s\n",
			`line 3: discovery[0].window: must be > 0, got "0s"`},
		{"second discovery entry", "discovery:\n  - regions: [us-east-1]\n  - regions: [eu-west-1]\n    refresh: 0m\n",
			`line 4: discovery[1].refresh: must be > 0, got "0m"`},
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
		MaxErrorTypes:         DefaultMaxErrorTypes,
		ErrorReadsPerSecond:   DefaultErrorReadsPerSecond,
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

func TestParseAccountsRegionsAndDiscovery(t *testing.T) {
	in := `region: eu-west-1
account_id: "111111111111"
interval: 30s
max_idle_interval: 15m
window: 12h
functions:
  - name: orders
    region: us-east-1
    role_arn: arn:aws:iam::222222222222:role/durable-exporter
    external_id: ext-1
  - name: 333333333333:function:billing
    role_arn: arn:aws:iam::333333333333:role/path/to/reader
  - name: arn:aws:lambda:ap-south-1:444444444444:function:pay:live
    region: ap-south-1
  - name: plain
discovery:
  - regions: [us-east-1, eu-west-1]
    role_arn: arn:aws:iam::123456789012:role/durable-exporter
    external_id: example
    tags: {team: payments, env: prod}
    name_pattern: "^orders-"
    refresh: 5m
    qualifier: live
    statuses: [FAILED, TIMED_OUT]
    window: 6h
  - regions:
      - us-west-2
`
	c, err := Parse([]byte(in))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Discovery[0].Pattern == nil || c.Discovery[0].Pattern.String() != "^orders-" ||
		!c.Discovery[0].Pattern.MatchString("orders-eu") || c.Discovery[0].Pattern.MatchString("my-orders-eu") {
		t.Errorf("discovery[0].Pattern = %v", c.Discovery[0].Pattern)
	}
	if c.Discovery[1].Pattern != nil {
		t.Errorf("discovery[1].Pattern = %v, want nil", c.Discovery[1].Pattern)
	}
	got := *c
	got.Discovery = append([]Discovery(nil), c.Discovery...)
	got.Discovery[0].Pattern = nil // compared above
	want := Default()
	want.Region = "eu-west-1"
	want.AccountID = "111111111111"
	want.Interval = 30 * time.Second
	want.MaxIdleInterval = 15 * time.Minute
	want.Window = 12 * time.Hour
	want.Functions = []Function{
		{
			Name: "orders", RoleARN: "arn:aws:iam::222222222222:role/durable-exporter", ExternalID: "ext-1",
			Window: 12 * time.Hour, Line: 7,
			FunctionName: "orders", Region: "us-east-1", AccountID: "222222222222",
		},
		{
			Name: "333333333333:function:billing", RoleARN: "arn:aws:iam::333333333333:role/path/to/reader",
			Window: 12 * time.Hour, Line: 11,
			FunctionName: "billing", Region: "eu-west-1", AccountID: "333333333333",
		},
		{
			Name: "arn:aws:lambda:ap-south-1:444444444444:function:pay:live", Qualifier: "live",
			Window: 12 * time.Hour, Line: 13,
			FunctionName: "pay", Region: "ap-south-1", AccountID: "444444444444",
		},
		{
			Name: "plain", Window: 12 * time.Hour, Line: 15,
			FunctionName: "plain", Region: "eu-west-1",
		},
	}
	want.Discovery = []Discovery{
		{
			Regions:     []string{"us-east-1", "eu-west-1"},
			RoleARN:     "arn:aws:iam::123456789012:role/durable-exporter",
			ExternalID:  "example",
			Tags:        map[string]string{"team": "payments", "env": "prod"},
			NamePattern: "^orders-",
			Refresh:     5 * time.Minute,
			Qualifier:   "live",
			Statuses:    []string{"FAILED", "TIMED_OUT"},
			Window:      6 * time.Hour,
			AccountID:   "123456789012",
			Line:        17,
		},
		{
			Regions: []string{"us-west-2"},
			Refresh: DefaultDiscoveryRefresh,
			Window:  12 * time.Hour,
			Line:    26,
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse\n got: %+v\nwant: %+v", got, want)
	}

	keys := []string{
		"orders||us-east-1|222222222222",
		"billing||eu-west-1|333333333333",
		"pay|live|ap-south-1|444444444444",
		"plain||eu-west-1|",
	}
	for i, f := range c.Functions {
		if k := f.Key(); k != keys[i] {
			t.Errorf("functions[%d].Key() = %q, want %q", i, k, keys[i])
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate on parsed config: %v", err)
	}
	if c.Functions[3].Region != "eu-west-1" || c.Discovery[0].Pattern.String() != "^orders-" {
		t.Errorf("Validate changed derived fields: %+v", c)
	}
}

// TestDiscoveryDefaultRegion: a discovery entry without regions lists the
// global region, else the SDK's (Regions stays nil for the fleet to resolve),
// so "discovery: [{}]" watches every durable function of the default region.
func TestDiscoveryDefaultRegion(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"global region", "region: eu-west-1\ndiscovery:\n  - {}\n", []string{"eu-west-1"}},
		{"SDK region", "discovery:\n  - {}\n", nil},
		{"with filters", "region: eu-west-1\ndiscovery:\n  - role_arn: arn:aws:iam::123456789012:role/r\n    name_pattern: ^a\n", []string{"eu-west-1"}},
		{"own regions win", "region: eu-west-1\ndiscovery:\n  - regions: [us-east-1]\n", []string{"us-east-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := c.Discovery[0].Regions; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Regions = %q, want %q", got, tc.want)
			}
			if err := c.Validate(); err != nil || !reflect.DeepEqual(c.Discovery[0].Regions, tc.want) {
				t.Errorf("Validate again: %v, Regions %q", err, c.Discovery[0].Regions)
			}
		})
	}
	inCode := Default()
	inCode.Discovery = []Discovery{{}}
	if err := inCode.Validate(); err != nil || inCode.Discovery[0].Regions != nil {
		t.Errorf("Validate in code: %v, Regions %q", err, inCode.Discovery[0].Regions)
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
		{"default resync follows a long interval", "interval: 2h\nfunctions:\n  - name: a\n", func(t *testing.T, c *Config) {
			if c.ResyncInterval != 2*time.Hour {
				t.Errorf("resync = %v, want the interval 2h", c.ResyncInterval)
			}
		}},
		{"default resync with a short interval", "interval: 5m\nfunctions:\n  - name: a\n", func(t *testing.T, c *Config) {
			if c.ResyncInterval != DefaultResyncInterval {
				t.Errorf("resync = %v, want %v", c.ResyncInterval, DefaultResyncInterval)
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
		{"same name in two accounts", "region: us-east-1\nfunctions:\n  - name: 123456789012:function:a\n  - name: 210987654321:function:a\n", func(t *testing.T, c *Config) {
			if c.Functions[0].AccountID != "123456789012" || c.Functions[1].AccountID != "210987654321" {
				t.Errorf("accounts %q %q", c.Functions[0].AccountID, c.Functions[1].AccountID)
			}
		}},
		{"same name under two roles", "functions:\n  - name: a\n    role_arn: arn:aws:iam::111111111111:role/r\n  - name: a\n    role_arn: arn:aws:iam::222222222222:role/r\n", nil},
		{"default account and a partial ARN in another", "account_id: \"111111111111\"\nfunctions:\n  - name: a\n  - name: 222222222222:function:a\n", func(t *testing.T, c *Config) {
			if c.AccountID != "111111111111" || c.Functions[0].AccountID != "" || c.Functions[1].AccountID != "222222222222" {
				t.Errorf("accounts %q %q %q", c.AccountID, c.Functions[0].AccountID, c.Functions[1].AccountID)
			}
		}},
		{"same name in a region of its own", "region: us-east-1\nfunctions:\n  - name: a\n  - name: a\n    region: eu-west-1\n", nil},
		{"function region repeated from ARN", "functions:\n  - name: arn:aws:lambda:us-east-1:123456789012:function:a\n    region: us-east-1\n", nil},
		{"role account repeated from ARN", "functions:\n  - name: 123456789012:function:a\n    role_arn: arn:aws:iam::123456789012:role/r\n", nil},
		{"integer account_id", "account_id: 123456789012\nfunctions:\n  - name: a\n", func(t *testing.T, c *Config) {
			if c.AccountID != "123456789012" {
				t.Errorf("account_id = %q", c.AccountID)
			}
		}},
		{"max_idle_interval equal to interval", "interval: 2m\nmax_idle_interval: 120s\nfunctions:\n  - name: a\n", nil},
		{"max_idle_interval disabled", "interval: 2m\nmax_idle_interval: 0s\nfunctions:\n  - name: a\n", nil},
		{"only discovery", "discovery:\n  - regions: [us-east-1]\n", func(t *testing.T, c *Config) {
			if len(c.Functions) != 0 || len(c.Discovery) != 1 {
				t.Fatalf("functions %d discovery %d", len(c.Functions), len(c.Discovery))
			}
			d := c.Discovery[0]
			if d.Refresh != DefaultDiscoveryRefresh || d.Window != DefaultWindow || d.Pattern != nil || d.Tags != nil ||
				d.AccountID != "" || d.Qualifier != "" || d.Statuses != nil || d.Line != 2 {
				t.Errorf("discovery defaults: %+v", d)
			}
		}},
		{"null functions with discovery", "functions:\ndiscovery:\n  - regions: [us-east-1]\n", nil},
		{"empty functions with discovery", "functions: []\ndiscovery:\n  - regions: [us-east-1]\n", nil},
		{"discovery with empty qualifier", "discovery:\n  - regions: [us-east-1]\n    qualifier: \"\"\n", nil},
		{"discovery tag values as written", "discovery:\n  - regions: [us-east-1]\n    tags: {cost: 042, on: true, empty: \"\", \"aws:cloudformation:stack-name\": s}\n", func(t *testing.T, c *Config) {
			want := map[string]string{"cost": "042", "on": "true", "empty": "", "aws:cloudformation:stack-name": "s"}
			if !reflect.DeepEqual(c.Discovery[0].Tags, want) {
				t.Errorf("tags = %q", c.Discovery[0].Tags)
			}
		}},
		{"role with a path", "discovery:\n  - regions: [us-east-1]\n    role_arn: arn:aws-us-gov:iam::123456789012:role/team/ops/durable-exporter@x\n    external_id: a:b/c=d\n", func(t *testing.T, c *Config) {
			if c.Discovery[0].AccountID != "123456789012" {
				t.Errorf("account = %q", c.Discovery[0].AccountID)
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
	if err := (&Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "functions: at least one function or discovery entry is required") {
		t.Errorf("Validate on zero Config: %v", err)
	}
}

func TestValidateInCodeAccountsAndDiscovery(t *testing.T) {
	c := Default()
	c.Region = "us-west-2"
	c.AccountID = "111111111111"
	c.Functions = []Function{
		{Name: "a", Region: "eu-central-1", RoleARN: "arn:aws:iam::222222222222:role/r", ExternalID: "xy"},
	}
	c.Discovery = []Discovery{{Regions: []string{"us-east-1"}, NamePattern: "^a", Tags: map[string]string{"k": "v"}}}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if f := c.Functions[0]; f.FunctionName != "a" || f.Region != "eu-central-1" || f.AccountID != "222222222222" || f.Window != c.Window {
		t.Errorf("derived function fields: %+v", f)
	}
	if d := c.Discovery[0]; d.Pattern == nil || d.Pattern.String() != "^a" || d.Refresh != DefaultDiscoveryRefresh || d.Window != c.Window {
		t.Errorf("derived discovery fields: %+v", d)
	}
	c.Discovery[0].NamePattern = ""
	if err := c.Validate(); err != nil || c.Discovery[0].Pattern != nil {
		t.Errorf("Validate after clearing NamePattern: %v, Pattern %v", err, c.Discovery[0].Pattern)
	}

	only := Default()
	only.Discovery = []Discovery{{Regions: []string{"us-east-1"}}}
	if err := only.Validate(); err != nil {
		t.Errorf("Validate with only discovery: %v", err)
	}

	bad := Default()
	bad.AccountID = "12"
	bad.MaxIdleInterval = time.Second
	bad.Functions = []Function{
		{Name: "arn:aws:lambda:us-east-1:123456789012:function:a", Region: "us-east-2", RoleARN: "arn:aws:iam::210987654321:role/r"},
		{Name: "b", ExternalID: "xy", Line: 9},
	}
	bad.Discovery = []Discovery{
		{Tags: map[string]string{}, NamePattern: "[", Refresh: -time.Minute, Statuses: []string{"DONE"}},
		{Regions: []string{"us-east-1", "us-east-1"}, Tags: map[string]string{"": "x"}, RoleARN: "r", Line: 20},
	}
	want := []string{
		`line 9: functions[1].external_id: requires role_arn`,
		`line 20: discovery[1].regions[1]: duplicate region "us-east-1" (first at regions[0])`,
		`line 20: discovery[1].role_arn: invalid role ARN "r" (want arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME with a 12-digit ACCOUNT)`,
		`line 20: discovery[1].tags: empty tag key`,
		`max_idle_interval: must be "0s" (disabled) or >= interval "1m", got "1s"`,
		`account_id: invalid account ID "12" (want 12 digits)`,
		`functions[0].region: "us-east-2" conflicts with region "us-east-1" in ARN "arn:aws:lambda:us-east-1:123456789012:function:a"`,
		`functions[0].role_arn: account "210987654321" of "arn:aws:iam::210987654321:role/r" conflicts with account "123456789012" in ARN "arn:aws:lambda:us-east-1:123456789012:function:a"`,
		`discovery[0].tags: empty mapping; omit the key to match any tags`,
		"discovery[0].name_pattern: invalid regular expression \"[\": missing closing ]: `[`",
		`discovery[0].refresh: must be > 0, got "-1m"`,
		`discovery[0].statuses[0]: unknown status "DONE" (want one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED)`,
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("errors\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseReportsDiscoveryProblemsInFileOrder(t *testing.T) {
	in := `interval: 5m
max_idle_interval: 1m
discovery:
  - regions: [us-east-1, us-east-1]
    tags: {}
    name_pattern: "a)"
    refresh: 0s
    external_id: x
    regoins: [eu-west-1]
  - role_arn: arn:aws:iam::123:role/r
functions:
  - name: a
    region: eu-west-1
    external_id: e
`
	want := []string{
		`line 2: max_idle_interval: must be "0s" (disabled) or >= interval "5m", got "1m"`,
		`line 4: discovery[0].regions[1]: duplicate region "us-east-1" (first at regions[0])`,
		`line 5: discovery[0].tags: empty mapping; omit the key to match any tags`,
		"line 6: discovery[0].name_pattern: invalid regular expression \"a)\": unexpected ): `a)`",
		`line 7: discovery[0].refresh: must be > 0, got "0s"`,
		`line 8: discovery[0].external_id: requires role_arn`,
		`line 9: discovery[0]: unknown key "regoins"`,
		`line 10: discovery[1].role_arn: invalid role ARN "arn:aws:iam::123:role/r" (want arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME with a 12-digit ACCOUNT)`,
		`line 14: functions[0].external_id: requires role_arn`,
	}
	_, err := Parse([]byte(in))
	if err == nil {
		t.Fatal("Parse succeeded, want errors")
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("errors\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
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
functions: at least one function or discovery entry is required`
	if err == nil || err.Error() != want {
		t.Errorf("Load(two) error\n got: %v\nwant: %s", err, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("functions:\n  - name: a\n"))
	f.Add([]byte("interval: 30s\nresync_interval: 0s\nfunctions:\n  - name: arn:aws:lambda:us-east-1:123456789012:function:x:3\n    statuses: [FAILED]\n"))
	f.Add([]byte("functions:\n  - name: a\n    window: &w 2h\n  - name: b\n    window: *w\n"))
	f.Add([]byte("account_id: \"123456789012\"\nmax_idle_interval: 10m\ndiscovery:\n  - regions: [us-east-1]\n    tags: {team: a}\n    name_pattern: ^o\n"))
	f.Add([]byte("functions:\n  - name: a\n    statuses:\n\t- FAILED\n"))                                         // a tab
	f.Add([]byte("discovery:\n  - regions: [us-east-1,\n      'eu-west-1']\n    name_pattern: |\n      x\n\t\n")) // flow, quote, block scalar
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

func TestProblemCapCountsOnlyProblems(t *testing.T) {
	var b strings.Builder
	for i := range maxProblems {
		fmt.Fprintf(&b, "k%d: 1\n", i)
	}
	b.WriteString("discovery:\n  - regions: [us-east-1, eu-west-1, BAD]\n    statuses: [FAILED, X]\n")
	_, err := Parse([]byte(b.String()))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	if last := lines[len(lines)-1]; last != "too many problems: 2 more not shown" {
		t.Errorf("last line %q", last)
	}
}

func TestFileSizeLimit(t *testing.T) {
	dir := t.TempDir()
	const fn = "functions:\n  - name: a\n"

	// A file of exactly MaxFileSize bytes is read: comments pad it.
	limit := filepath.Join(dir, "limit.yaml")
	pad := MaxFileSize - len(fn)
	body := fn + "#" + strings.Repeat("x", pad-2) + "\n"
	if err := os.WriteFile(limit, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(limit); err != nil || len(c.Functions) != 1 {
		t.Fatalf("Load(file of MaxFileSize bytes) = %v, %v", c, err)
	}

	// A sparse 10 MB file is refused by its size, unread.
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(10 << 20); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Load(big)
	want := `config file "` + big + `": too large: 10485760 bytes, more than the limit of 1048576 bytes (1 MiB)`
	if err == nil || err.Error() != want {
		t.Errorf("Load(big) error\n got: %v\nwant: %s", err, want)
	}

	// Parse refuses the same bytes, one over the limit.
	_, err = Parse([]byte(body + "\n"))
	want = `too large: 1048577 bytes, more than the limit of 1048576 bytes (1 MiB)`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(MaxFileSize+1 bytes) error\n got: %v\nwant: %s", err, want)
	}
}

func TestReadFileStopsPastTheLimit(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	// Not a regular file: no size to check first, so the read stops.
	_, err := Load("/dev/zero")
	want := `config file "/dev/zero": too large: more than the limit of 1048576 bytes (1 MiB)`
	if err == nil || err.Error() != want {
		t.Errorf("Load(/dev/zero) error\n got: %v\nwant: %s", err, want)
	}
}

func TestListLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("functions:\n")
	for i := range MaxFunctions {
		fmt.Fprintf(&b, "  - name: f%d\n", i)
	}
	if c, err := Parse([]byte(b.String())); err != nil || len(c.Functions) != MaxFunctions {
		t.Fatalf("Parse(%d functions): %v", MaxFunctions, err)
	}
	b.WriteString("  - name: one-more\n")
	_, err := Parse([]byte(b.String()))
	if want := `line 2: functions: at most 10000 functions, got 10001`; err == nil || err.Error() != want {
		t.Errorf("Parse(%d functions) error\n got: %v\nwant: %s", MaxFunctions+1, err, want)
	}

	b.Reset()
	b.WriteString("discovery:\n")
	for range MaxDiscovery + 1 {
		b.WriteString("  - regions: [us-east-1]\n")
	}
	_, err = Parse([]byte(b.String()))
	if want := `line 2: discovery: at most 1000 discovery entries, got 1001`; err == nil || err.Error() != want {
		t.Errorf("Parse(%d discovery entries) error\n got: %v\nwant: %s", MaxDiscovery+1, err, want)
	}
}
