package config

import (
	"strings"
	"testing"
	"time"
)

func TestDurationBuckets(t *testing.T) {
	c, err := Parse([]byte("duration_buckets: [1s, 1m, 1h, 1d, 30d]\nfunctions:\n  - name: a\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{time.Second, time.Minute, time.Hour, 24 * time.Hour, 30 * 24 * time.Hour}
	if len(c.DurationBuckets) != len(want) {
		t.Fatalf("buckets %v", c.DurationBuckets)
	}
	for i := range want {
		if c.DurationBuckets[i] != want[i] {
			t.Fatalf("buckets %v, want %v", c.DurationBuckets, want)
		}
	}
	if c, _ := Parse([]byte("functions:\n  - name: a\n")); c.DurationBuckets != nil {
		t.Errorf("default buckets should be nil (the built-in set), got %v", c.DurationBuckets)
	}
}

func TestDurationBucketsErrors(t *testing.T) {
	var items []string
	for i := 1; i <= 21; i++ {
		items = append(items, (time.Duration(i) * time.Second).String())
	}
	many := "[" + strings.Join(items, ", ") + "]"
	for _, tc := range []struct{ in, want string }{
		{"duration_buckets: []", `line 1: duration_buckets: empty list; omit the key for the default buckets`},
		{"duration_buckets: " + many, `line 1: duration_buckets: at most 20 buckets, got 21`},
		{"duration_buckets: [1m, 1m]", `line 1: duration_buckets[1]: must be greater than duration_buckets[0] "1m", got "1m"`},
		{"duration_buckets: [1h, 1m]", `line 1: duration_buckets[1]: must be greater than duration_buckets[0] "1h", got "1m"`},
		{"duration_buckets: [0s, 1m]", `line 1: duration_buckets[0]: must be > 0, got "0s"`},
		{"duration_buckets: [1m, soon]", `line 1: duration_buckets[1]: invalid duration "soon": not a valid duration string`},
		{"duration_buckets: 1m", `line 1: duration_buckets: expected a list, got "1m"`},
	} {
		_, err := Parse([]byte(tc.in + "\nfunctions:\n  - name: a\n"))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}
