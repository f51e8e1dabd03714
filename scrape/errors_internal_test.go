package scrape

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// oracleErrorAnswer is what scanErrorAnswer must find in b, by
// encoding/json: ok is false when b is not a valid answer.
func oracleErrorAnswer(b []byte) (errorFields, bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil || top == nil {
		return errorFields{}, false
	}
	str := func(m map[string]json.RawMessage, key string, nullOK bool) (string, bool) {
		raw, ok := m[key]
		if !ok || isNull(raw) {
			return "", nullOK
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return cutString(s, maxKeptBytes), true
	}
	var f errorFields
	var ok bool
	if f.ARN, ok = str(top, "DurableExecutionArn", false); !ok || f.ARN == "" {
		return f, false
	}
	if f.Status, ok = str(top, "Status", false); !ok || f.Status == "" {
		return f, false
	}
	if raw, present := top["Error"]; present && !isNull(raw) {
		var em map[string]json.RawMessage
		if raw[0] != '{' || json.Unmarshal(raw, &em) != nil {
			return f, false
		}
		f.HasError = true
		if f.Type, ok = str(em, "ErrorType", true); !ok {
			return f, false
		}
	}
	return f, true
}

var scanSeeds = []string{
	``,
	`{}`,
	`[]`,
	`null`,
	`{"DurableExecutionArn":"a","Status":"FAILED","Error":{"ErrorType":"E","ErrorMessage":"m","StackTrace":["x"]}}`,
	`{"InputPayload":"{\"a\":[1,2,{\"b\":null}]}","Error":{"ErrorData":"\u00e9\ud83d\ude00","ErrorType":"T\"q"},"Status":"FAILED","DurableExecutionArn":"arn"}`,
	`{"DurableExecutionArn":"a","Status":"RUNNING","StartTimestamp":-1.5e+3,"N":[true,false,null,0,0.25,1E9],"Error":null}`,
	`{"DurableExecutionArn":"a","Status":"S","Error":{"ErrorType":null}}`,
	`{"DurableExecutionArn":"a","Status":"S","Error":"oops"}`,
	`{"DurableExecutionArn":"a","Status":"S","Error":{"ErrorType":5}}`,
	`{"DurableExecutionArn":"a","Status":"S","Error":{"ErrorType":"x"},"Error":null}`,
	`{"Durable\u0045xecutionArn":"a","Status":"S"} `,
	`{"DurableExecutionArn":"a","Status":"S"}{}`,
	`{"DurableExecutionArn":"a","Status":"S","x":01}`,
	`{"DurableExecutionArn":"a","Status":"S","x":"\x"}`,
	`{"DurableExecutionArn":"a","Status":"S","x":"ab`,
	"{\"DurableExecutionArn\":\"a\xff\",\"Status\":\"S\",\"Error\":{\"ErrorType\":\"\xe2\x82\"}}",
}

func FuzzScanError(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := scanErrorAnswer(bytes.NewReader(b))
		want, ok := oracleErrorAnswer(b)
		if err != nil && !errors.Is(err, ErrMalformedResponse) {
			t.Fatalf("error %v is not ErrMalformedResponse", err)
		}
		if (err == nil) != ok {
			t.Fatalf("scanner err %v, encoding/json valid %v (%+v)", err, ok, want)
		}
		if ok && got != want {
			t.Fatalf("scanner %+v, encoding/json %+v", got, want)
		}
	})
}

func TestScanErrorSeeds(t *testing.T) {
	for _, s := range scanSeeds {
		got, err := scanErrorAnswer(strings.NewReader(s))
		want, ok := oracleErrorAnswer([]byte(s))
		if (err == nil) != ok || (ok && got != want) {
			t.Errorf("%q: scanner %+v, %v; encoding/json %+v, %v", s, got, err, want, ok)
		}
	}
}

// TestScanErrorLongStrings cuts kept strings at MaxErrorTypeBytes, however
// they are escaped, and skips long strings of every kind.
func TestScanErrorLongStrings(t *testing.T) {
	for _, unit := range []string{"x", `\u0041`, "é", `\ud83d\ude00`, `\"`} {
		typ := strings.Repeat(unit, 3000)
		body := `{"InputPayload":"` + typ + `","DurableExecutionArn":"a","Status":"FAILED","Error":{"ErrorMessage":"` + typ + `","ErrorType":"` + typ + `"}}`
		got, err := scanErrorAnswer(strings.NewReader(body))
		want, ok := oracleErrorAnswer([]byte(body))
		if err != nil || !ok || got != want || len(got.Type) > MaxErrorTypeBytes || len(got.Type) < MaxErrorTypeBytes-3 {
			t.Errorf("unit %s: scanner %d bytes %v, encoding/json %d bytes %v", unit, len(got.Type), err, len(want.Type), ok)
		}
	}
}

// TestScanErrorDepth stops at encoding/json's nesting limit.
func TestScanErrorDepth(t *testing.T) {
	for _, n := range []int{9998, 9999, 10000, 20000} {
		body := `{"DurableExecutionArn":"a","Status":"S","x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
		_, err := scanErrorAnswer(strings.NewReader(body))
		_, ok := oracleErrorAnswer([]byte(body))
		if (err == nil) != ok {
			t.Errorf("depth %d: scanner %v, encoding/json valid %v", n, err, ok)
		}
	}
}
