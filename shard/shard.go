// Package shard decides which replica of a sharded exporter polls which
// target. It uses rendezvous (highest random weight) hashing with a hash
// that is the same in every process, so replicas agree without talking to
// each other, and changing the number of shards from n to n+1 moves only
// about 1/(n+1) of the targets.
package shard

import (
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
)

// Shard is one replica's place: Index in [0, Total).
type Shard struct {
	Index, Total int
}

// All is the unsharded exporter: one shard that owns everything.
var All = Shard{Index: 0, Total: 1}

// Validate reports an impossible index or total.
func (s Shard) Validate() error {
	if s.Total < 1 {
		return fmt.Errorf("shard total must be >= 1, got %d", s.Total)
	}
	if s.Index < 0 || s.Index >= s.Total {
		return fmt.Errorf("shard index must be in [0, %d), got %d", s.Total, s.Index)
	}
	return nil
}

// Owns reports whether this shard polls the target with the given key.
func (s Shard) Owns(key string) bool {
	return s.Total <= 1 || Of(key, s.Total) == s.Index
}

// Of returns the shard, in [0, total), that owns key.
func Of(key string, total int) int {
	best, bestW := 0, uint64(0)
	for i := 0; i < total; i++ {
		h := fnv.New64a()
		h.Write([]byte(key))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(i)))
		// FNV's low bits mix poorly for short suffixes: finish with a
		// 64-bit mixer (splitmix64's) before comparing weights.
		if w := mix(h.Sum64()); i == 0 || w > bestW {
			best, bestW = i, w
		}
	}
	return best
}

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

var ordinal = regexp.MustCompile(`-(\d+)$`)

// ErrNoOrdinal says a pod name does not end in a StatefulSet ordinal.
var ErrNoOrdinal = errors.New("no StatefulSet ordinal at the end of the pod name")

// IndexFromPodName takes the shard index from a StatefulSet pod name such as
// "lambda-durable-exporter-2".
func IndexFromPodName(name string) (int, error) {
	m := ordinal.FindStringSubmatch(name)
	if m == nil {
		return 0, fmt.Errorf("pod name %q: %w", name, ErrNoOrdinal)
	}
	return strconv.Atoi(m[1])
}
