package shard

import (
	"errors"
	"fmt"
	"testing"
)

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("12345678901%d|us-east-%d|workflow-%d|", i%4, i%2+1, i)
	}
	return out
}

// Every key has exactly one owner among the shards.
func TestOwnershipIsAPartition(t *testing.T) {
	for total := 1; total <= 7; total++ {
		count := make([]int, total)
		for _, k := range keys(3000) {
			owners := 0
			for i := 0; i < total; i++ {
				if (Shard{i, total}).Owns(k) {
					owners++
					count[i]++
				}
			}
			if owners != 1 {
				t.Fatalf("total %d: key %q has %d owners", total, k, owners)
			}
		}
		for i, c := range count { // balanced within ±20%
			if want := 3000 / total; c < want*8/10 || c > want*12/10 {
				t.Errorf("total %d: shard %d owns %d keys, expected about %d", total, i, c, want)
			}
		}
	}
}

// Growing from n to n+1 shards moves only the keys the new shard takes.
func TestGrowingMovesLittle(t *testing.T) {
	ks := keys(5000)
	for n := 1; n <= 6; n++ {
		moved := 0
		for _, k := range ks {
			before, after := Of(k, n), Of(k, n+1)
			if before != after {
				moved++
				if after != n {
					t.Fatalf("key %q moved from %d to %d, not to the new shard %d", k, before, after, n)
				}
			}
		}
		if want := len(ks) / (n + 1); moved < want*8/10 || moved > want*12/10 {
			t.Errorf("%d -> %d shards moved %d keys, expected about %d", n, n+1, moved, want)
		}
	}
}

// The assignment must not change between releases: replicas of two
// versions during a rollout must agree.
func TestAssignmentIsStable(t *testing.T) {
	got := []int{Of("a", 3), Of("123456789012|us-east-1|orders|", 3), Of("123456789012|eu-west-1|billing|3", 5)}
	want := []int{stableA, stableOrders, stableBilling}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("assignment %d = %d, want %d: the hash changed", i, got[i], want[i])
		}
	}
}

func TestIndexFromPodName(t *testing.T) {
	for name, want := range map[string]int{"lambda-durable-exporter-0": 0, "x-12": 12, "a-b-3": 3} {
		if got, err := IndexFromPodName(name); err != nil || got != want {
			t.Errorf("%q: got %d, %v", name, got, err)
		}
	}
	for _, name := range []string{"exporter", "exporter-", "exporter-x", ""} {
		if _, err := IndexFromPodName(name); !errors.Is(err, ErrNoOrdinal) {
			t.Errorf("%q: err = %v", name, err)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, s := range []Shard{{0, 0}, {-1, 2}, {2, 2}} {
		if s.Validate() == nil {
			t.Errorf("%+v validated", s)
		}
	}
	if err := (Shard{1, 2}).Validate(); err != nil {
		t.Error(err)
	}
}

// Recorded once; see TestAssignmentIsStable.
const (
	stableA       = 2
	stableOrders  = 1
	stableBilling = 4
)
