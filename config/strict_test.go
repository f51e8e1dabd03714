package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestUnknownNestedKeys checks that decoding is strict at every depth: a
// misspelled key is an error naming the key and its line whether it is at
// the top level, in an entry of functions or discovery (block or flow
// style, written out or through an alias), or next to other problems.
// (yaml.v3 forgets KnownFields inside custom unmarshalers, go-yaml/yaml#460,
// so this is not a given.) The only other mapping, tags, takes any key.
func TestUnknownNestedKeys(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"top level", "functions:\n  - name: a\nwindw: 1h\n",
			`line 3: unknown key "windw"`},
		{"function entry", "functions:\n  - name: a\n    statuss: [FAILED]\n",
			`line 3: functions[0]: unknown key "statuss"`},
		{"second function entry", "functions:\n  - name: a\n  - name: b\n    role: arn:aws:iam::123456789012:role/r\n",
			`line 4: functions[1]: unknown key "role"`},
		{"function entry, flow style", "functions: [{name: a, Window: 1h}]\n",
			`line 1: functions[0]: unknown key "Window"`},
		{"discovery entry", "discovery:\n  - regions: [us-east-1]\n    tag: {team: a}\n",
			`line 3: discovery[0]: unknown key "tag"`},
		{"discovery entry, flow style", "discovery: [{regions: [us-east-1], refesh: 5m}]\n",
			`line 1: discovery[0]: unknown key "refesh"`},
		{"key of the other list", "discovery:\n  - regions: [us-east-1]\n    name: a\n",
			`line 3: discovery[0]: unknown key "name"`},
		{"derived field name", "functions:\n  - name: a\n    function_name: a\n",
			`line 3: functions[0]: unknown key "function_name"`},
		{"merge key", "functions:\n  - name: a\n    <<: {window: 1h}\n",
			`line 3: functions[0]: unknown key "<<"`},
		{"aliased entry", "functions:\n  - &f {name: a, qualifer: \"3\"}\ndiscovery:\n  - regions: [us-east-1]\n    extra: *f\n",
			"line 2: functions[0]: unknown key \"qualifer\"\nline 5: discovery[0]: unknown key \"extra\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if err == nil || c != nil {
				t.Fatalf("Parse(%q) = %+v, %v; want error %q", tt.in, c, err, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestUnknownNestedKeysAllReported(t *testing.T) {
	in := `intervl: 1m
discovery:
  - &b {regions: [us-east-1], statuses: [FAILED], nme_pattern: ^a}
  - regions: [eu-west-1]
    tags: {anything: goes}
    qualifer: live
functions:
  - name: a
    windw: 1h
    window: 0s
  - *b
`
	want := []string{
		`line 1: unknown key "intervl"`,
		`line 3: discovery[0]: unknown key "nme_pattern"`,
		`line 3: functions[1]: unknown key "regions"`,
		`line 3: functions[1]: unknown key "nme_pattern"`,
		`line 6: discovery[1]: unknown key "qualifer"`,
		`line 9: functions[0]: unknown key "windw"`,
		`line 10: functions[0].window: must be > 0, got "0s"`,
		`line 11: functions[1]: missing required key "name"`,
	}
	_, err := Parse([]byte(in))
	if err == nil {
		t.Fatal("Parse succeeded, want errors")
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("errors\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestNonsenseValues: values that are valid YAML but nonsense are errors
// that name the key, the value and the line.
func TestNonsenseValues(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"interval: 1ms\nfunctions:\n  - name: a\n", `line 1: interval: must be between "1s" and "1d", got "1ms"`},
		{"interval: 100y\nresync_interval: 0s\nfunctions:\n  - name: a\n", `line 1: interval: must be between "1s" and "1d", got "100y"`},
		{"window: 290y\nfunctions:\n  - name: a\n", `line 1: window: must be at most "90d", got "290y"`},
		{"window: 91d\nfunctions:\n  - name: a\n", `line 1: window: must be at most "90d", got "91d"`},
		{"functions:\n  - name: a\n    window: 100d\n", `line 3: functions[0].window: must be at most "90d", got "100d"`},
		{"discovery:\n  - regions: [us-east-1]\n    window: 100d\n", `line 3: discovery[0].window: must be at most "90d", got "100d"`},
	} {
		_, err := Parse([]byte(c.yaml))
		if err == nil || err.Error() != c.want {
			t.Errorf("Parse(%q) = %v\nwant %s", c.yaml, err, c.want)
		}
	}
	if _, err := Parse([]byte("interval: 1s\nwindow: 90d\nfunctions:\n  - name: a\n")); err != nil {
		t.Errorf("the bounds themselves are rejected: %v", err)
	}
}

// TestRunningAgeThresholds: strictly validated, with the bucket list's
// messages, and defaulted when absent.
func TestRunningAgeThresholds(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"running_age_thresholds: [1d, 1h]\nfunctions:\n  - name: a\n", `line 1: running_age_thresholds[1]: must be greater than running_age_thresholds[0] "1d", got "1h"`},
		{"running_age_thresholds: []\nfunctions:\n  - name: a\n", `line 1: running_age_thresholds: empty list; omit the key for the default thresholds`},
		{"running_age_thresholds: [0s]\nfunctions:\n  - name: a\n", `line 1: running_age_thresholds[0]: must be > 0, got "0s"`},
		{"running_age_thresholds: [1h, 2h, 3h, 4h, 5h, 6h, 7h, 8h, 9h, 10h, 11h]\nfunctions:\n  - name: a\n", `line 1: running_age_thresholds: at most 10 thresholds, got 11`},
		{"running_age_thresholds: [1h, soon]\nfunctions:\n  - name: a\n", `line 1: running_age_thresholds[1]: invalid duration "soon": not a valid duration string`},
	} {
		_, err := Parse([]byte(c.yaml))
		if err == nil || err.Error() != c.want {
			t.Errorf("Parse(%q) = %v\nwant %s", c.yaml, err, c.want)
		}
	}
	c, err := Parse([]byte("running_age_thresholds: [6h, 3d]\nfunctions:\n  - name: a\n"))
	if err != nil || len(c.RunningAgeThresholds) != 2 || c.RunningAgeThresholds[1] != 72*time.Hour {
		t.Fatalf("Parse = %+v, %v", c, err)
	}
}
