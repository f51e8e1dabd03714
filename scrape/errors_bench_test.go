package scrape_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
)

// BenchmarkErrorOf reads one execution's error through the SDK and the
// simulated API, with payloads of a few bytes and of 1 MB each (InputPayload,
// Result and ErrorData: an answer of over 3 MB). B/op of the two, side by
// side, is what the payloads cost the exporter's heap: the answer is
// streamed, so next to nothing. Its numbers in docs/breakdowns.md come from
//
//	go test -run '^$' -bench ErrorOf -benchmem -benchtime 200x ./scrape/
func BenchmarkErrorOf(b *testing.B) {
	for _, bc := range []struct {
		name    string
		payload int
	}{{"payload=small", 0}, {"payload=1MiB", 1 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			// The simulator renders every answer anew; serving one rendered
			// answer keeps its allocations out of the numbers.
			var body atomic.Pointer[[]byte]
			sim := lambdasim.New(lambdasim.Options{
				Now:          func() time.Time { return base.Add(time.Hour) },
				PayloadBytes: bc.payload,
				ErrorTypes:   map[string][]string{"orders": {"PaymentDeclined"}},
				Intercept: func(r lambdasim.Request) *lambdasim.Fault {
					if b := body.Load(); b != nil && r.Op == lambdasim.OpGet {
						return &lambdasim.Fault{Body: *b}
					}
					return nil
				},
			})
			srv := httptestServer(b, sim)
			c := newPool(scrape.PoolOptions{Endpoint: srv}).Client(scrape.Access{})
			arn := endAt(b, sim, "orders", "run", lambdasim.StatusFailed)
			raw := rawAnswer(b, srv, arn)
			body.Store(&raw)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if e, err := c.ErrorOf(context.Background(), arn); err != nil || e.Type != "PaymentDeclined" {
					b.Fatal(e, err)
				}
			}
		})
	}
}
