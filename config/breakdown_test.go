package config

import (
	"slices"
	"testing"
)

// TestBreakdown: the top-level list applies to every entry that sets none;
// an entry's list replaces it, an empty one meaning none; defaults of the
// error-type knobs.
func TestBreakdown(t *testing.T) {
	c, err := Parse([]byte(`
breakdown: [version, error_type]
functions:
  - name: a
  - name: b
    breakdown: [version]
  - name: c
    breakdown: []
discovery:
  - regions: [us-east-1]
  - regions: [eu-west-1]
    breakdown: [error_type]
`))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{{"version", "error_type"}, {"version"}, {}} {
		if got := c.Functions[i].Breakdown; !slices.Equal(got, want) {
			t.Errorf("functions[%d].breakdown = %q, want %q", i, got, want)
		}
	}
	for i, want := range [][]string{{"version", "error_type"}, {"error_type"}} {
		if got := c.Discovery[i].Breakdown; !slices.Equal(got, want) {
			t.Errorf("discovery[%d].breakdown = %q, want %q", i, got, want)
		}
	}
	if !Has(c.Functions[0].Breakdown, BreakdownErrorType) || Has(c.Functions[2].Breakdown, BreakdownVersion) {
		t.Error("Has")
	}
	if c.MaxErrorTypes != DefaultMaxErrorTypes || c.ErrorReadsPerSecond != DefaultErrorReadsPerSecond {
		t.Errorf("defaults: %d, %v", c.MaxErrorTypes, c.ErrorReadsPerSecond)
	}

	off, err := Parse([]byte("functions:\n  - name: a\n"))
	if err != nil || len(off.Functions[0].Breakdown) != 0 {
		t.Fatalf("off by default: %q, %v", off.Functions[0].Breakdown, err)
	}
	code := Config{Interval: DefaultInterval, Window: DefaultWindow, Overlap: DefaultOverlap, PageSize: 100, MaxConcurrency: 1,
		ListRequestsPerSecond: 1, GetRequestsPerSecond: 1, Breakdown: []string{"version"},
		Functions: []Function{{Name: "a"}, {Name: "b", Breakdown: []string{}}}}
	if err := code.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(code.Functions[0].Breakdown, []string{"version"}) || len(code.Functions[1].Breakdown) != 0 ||
		code.MaxErrorTypes != DefaultMaxErrorTypes {
		t.Errorf("in code: %q %q %d", code.Functions[0].Breakdown, code.Functions[1].Breakdown, code.MaxErrorTypes)
	}
}

func TestBreakdownErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown", "breakdown: [versions]\nfunctions:\n  - name: a\n",
			`line 1: breakdown[0]: unknown breakdown "versions" (want version or error_type)`},
		{"duplicate in an entry", "functions:\n  - name: a\n    breakdown: [version, error_type, version]\n",
			`line 3: functions[0].breakdown[2]: duplicate breakdown "version" (first at breakdown[0])`},
		{"discovery", "discovery:\n  - regions: [us-east-1]\n    breakdown: [error]\n",
			`line 3: discovery[0].breakdown[0]: unknown breakdown "error" (want version or error_type)`},
		{"scalar", "functions:\n  - name: a\n    breakdown: version\n",
			`line 3: functions[0].breakdown: expected a list, got "version"`},
		{"max_error_types zero", "max_error_types: 0\nfunctions:\n  - name: a\n",
			`line 1: max_error_types: must be between 1 and 1000, got 0`},
		{"max_error_types huge", "max_error_types: 5000\nfunctions:\n  - name: a\n",
			`line 1: max_error_types: must be between 1 and 1000, got 5000`},
		{"error_reads_per_second", "error_reads_per_second: 0\nfunctions:\n  - name: a\n",
			`line 1: error_reads_per_second: must be a finite number > 0, got 0`},
		{"misspelled", "functions:\n  - name: a\n    break_down: [version]\n",
			`line 3: functions[0]: unknown key "break_down"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}
