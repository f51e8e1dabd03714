package queries

import (
	"strings"
	"testing"
)

func TestSubstitute(t *testing.T) {
	for _, tc := range []struct {
		in   string
		vars map[string]string
		want string
	}{
		{`rate(x{function=~"$function"}[$__rate_interval])`, nil, `rate(x{function=~".*"}[5m])`},
		{`increase(x[$__range]) / $__range_s`, nil, `increase(x[1h]) / 3600`},
		{`x{function=~"${function}", qualifier=~"${qualifier:regex}"}`, map[string]string{"function": "a|b"}, `x{function=~"a|b", qualifier=~".*"}`},
		{`x{status=~"FAILED|TIMED_OUT"}`, nil, `x{status=~"FAILED|TIMED_OUT"}`},
	} {
		got, err := Substitute(tc.in, tc.vars)
		if err != nil || got != tc.want {
			t.Errorf("Substitute(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := Substitute(`x{a="$nope"}`, nil); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown variable: err = %v", err)
	}
}

func TestExtract(t *testing.T) {
	const d = `{
	  "templating": {"list": [
	    {"name": "datasource", "type": "datasource", "query": "prometheus"},
	    {"name": "function", "type": "query", "query": "label_values(up{job=\"x\"}, function)"},
	    {"name": "q", "type": "query", "query": {"query": "label_values(m, qualifier)", "refId": "V"}}
	  ]},
	  "panels": [
	    {"type": "row", "title": "r", "panels": [{"type": "stat", "title": "inner", "targets": [{"refId": "A", "expr": "b"}]}]},
	    {"type": "timeseries", "title": "p", "targets": [{"refId": "A", "expr": "a", "instant": true}]}
	  ]}`
	qs, err := Extract([]byte(d))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range qs {
		got = append(got, q.Panel+"|"+q.RefID+"|"+q.Expr+"|"+q.LabelValues)
	}
	if len(qs) != 4 || qs[0].Expr != `up{job="x"}` || qs[0].LabelValues != "function" || qs[1].Expr != "m" ||
		qs[2].Panel != "inner" || qs[3].Panel != "p" || !qs[3].Instant {
		t.Errorf("Extract = %q", got)
	}
	if _, err := Extract([]byte(`{"panels":[{"type":"stat","title":"empty","targets":[{"refId":"A","expr":" "}]}]}`)); err == nil {
		t.Error("a target without expr is accepted")
	}
}
