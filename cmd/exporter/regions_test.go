package main

import (
	"testing"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/config"
)

// TestCheckRegions: a function or a discovery entry without a region of
// its own is fine when the SDK has one, and refused at start otherwise.
func TestCheckRegions(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, sdk, want string
	}{
		{"discovery in the SDK region", "discovery:\n  - {}\n", "eu-west-1", ""},
		{"discovery in the config region", "region: eu-west-1\ndiscovery:\n  - {}\n", "", ""},
		{"discovery with regions", "discovery:\n  - regions: [us-east-1]\n", "", ""},
		{"discovery without any region", "discovery:\n  - {}\n", "",
			"discovery[0]: no region: set its regions or region in the config file, or set AWS_REGION"},
		{"function without any region", "functions:\n  - name: a\n", "",
			"functions[0] (a): no region: set region in the config file, use a full ARN, or set AWS_REGION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if err := checkRegions(c, tc.sdk); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("checkRegions = %q, want %q", got, tc.want)
			}
		})
	}
}
