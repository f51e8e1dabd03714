package config

import (
	"testing"
	"time"
)

// TestExampleConfig keeps config.example.yaml, which the README points new
// users to, valid and showing every key.
func TestExampleConfig(t *testing.T) {
	c, err := Load("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Functions) != 3 || c.Functions[1].Qualifier != "3" || c.Functions[2].Window != 6*time.Hour {
		t.Fatalf("unexpected example config: %+v", c)
	}
	if len(c.Discovery) != 1 || c.Discovery[0].Pattern == nil || c.Functions[2].AccountID != "123456789012" {
		t.Fatalf("unexpected example config: %+v", c)
	}
}
