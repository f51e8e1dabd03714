// Package scrape owns every conversation with AWS Lambda. It pages through
// ListDurableExecutionsByFunction with the SDK's paginator, reads single
// executions with GetDurableExecution, and converts what the API sends into
// plain domain values once. It checks every answer itself, below the SDK's
// deserializer (see answers.go): a 200 that is no answer at all is an
// error, one unreadable item is not; it caps the size of every answer, and
// reads the service's clock from their Date headers. Nothing outside this
// package imports the Lambda SDK.
package scrape

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
)

// The operation names, as the SDK and the api_requests_total metric spell them.
const (
	OpList = durable.ListOperation
	OpGet  = durable.GetOperation
)

// MaxPages bounds one listing unless Query.MaxPages says otherwise: at 1000
// items a page it is ten million executions. A NextMarker chain longer than
// that is taken as a service fault.
const MaxPages = 10000

// ErrRepeatedMarker reports a listing whose NextMarker came back a second
// time: following it would loop, stopping silently could lose executions.
var ErrRepeatedMarker = errors.New("NextMarker repeated")

// ErrTooManyPages reports a listing that did not end within its page limit
// (Query.MaxPages, default MaxPages): the last page fetched still had a
// NextMarker.
var ErrTooManyPages = errors.New("listing did not end within the page limit")

// ErrNotFound reports an execution the API no longer knows.
var ErrNotFound = errors.New("durable execution not found")

// ErrFunctionNotFound reports a listing of a function (or qualifier) the
// API does not know: deleted, or never there.
var ErrFunctionNotFound = errors.New("function not found")

// Execution is one durable execution as the API reported it. Timestamps are
// Unix milliseconds; 0 means the API left the field out.
type Execution struct {
	ARN         string
	Name        string
	FunctionARN string
	Status      durable.Status
	RawStatus   string // the API's spelling, kept for Unknown statuses
	Start, End  int64
	// Malformed, when not "", says why a listed item could not be read, e.g.
	// "StartTimestamp: not a number" (several reasons are joined by "; ").
	// Such an item does not fail its page; of its fields only ARN, Name and
	// FunctionARN are set, those that could be read. Get never returns one.
	Malformed string
}

// Query selects the executions of one listing.
type Query struct {
	FunctionName  string // name, partial ARN or full ARN
	Qualifier     string
	ExecutionName string
	Status        durable.Status // Unknown = every status; the API takes at most one
	StartedAfter  time.Time      // zero = no lower bound
	StartedBefore time.Time      // zero = no upper bound
	// ReverseOrder is passed on as is; the API documents its meaning both
	// ways, so nothing may depend on the order of results.
	ReverseOrder bool
	// MaxPages bounds the listing (0 = the package's MaxPages): when the
	// last page it allows still has a NextMarker, List fails with
	// ErrTooManyPages rather than fetch more.
	MaxPages int
}

// API is the part of the Lambda SDK client that the exporter uses.
type API interface {
	lambda.ListDurableExecutionsByFunctionAPIClient
	GetDurableExecution(context.Context, *lambda.GetDurableExecutionInput, ...func(*lambda.Options)) (*lambda.GetDurableExecutionOutput, error)
}

// Client lists and reads durable executions through an SDK client.
type Client struct {
	api      API
	pageSize int32
	clock    *serverClock // nil unless made by a Pool
	// errorGate is the error-read budget of ErrorOf; nil unless made by a Pool.
	errorGate *gate
}

// NewClient wraps an SDK client; pageSize is MaxItems for every page (1..1000).
func NewClient(api API, pageSize int) *Client {
	if pageSize < 1 || pageSize > 1000 {
		pageSize = 1000
	}
	return &Client{api: api, pageSize: int32(pageSize)}
}

// List pages through every execution that matches q, following NextMarker
// until the end, and calls visit for each item in the order received. It
// returns how many pages it fetched. A repeated NextMarker, a chain longer
// than q.MaxPages, or a page that is not one (ErrMalformedResponse) is an
// error: the caller must not trust a partial listing. A single item that
// cannot be read is handed to visit with Execution.Malformed set (clients
// of a Pool; see answers.go). When the context ends the listing, the error
// also says why the last attempt before that failed, if one did.
func (c *Client) List(ctx context.Context, q Query, visit func(Execution)) (int, error) {
	ctx, attempts := withAttemptLog(ctx)
	limit := q.MaxPages
	if limit <= 0 {
		limit = MaxPages
	}
	in := &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String(q.FunctionName),
		MaxItems:     c.pageSize,
	}
	if q.Qualifier != "" {
		in.Qualifier = aws.String(q.Qualifier)
	}
	if q.ExecutionName != "" {
		in.DurableExecutionName = aws.String(q.ExecutionName)
	}
	if q.Status != durable.Unknown {
		in.Statuses = []types.ExecutionStatus{types.ExecutionStatus(q.Status.String())}
	}
	if !q.StartedAfter.IsZero() {
		in.StartedAfter = aws.Time(q.StartedAfter)
	}
	if !q.StartedBefore.IsZero() {
		in.StartedBefore = aws.Time(q.StartedBefore)
	}
	if q.ReverseOrder {
		in.ReverseOrder = aws.Bool(true)
	}
	p := lambda.NewListDurableExecutionsByFunctionPaginator(c.api, in,
		func(o *lambda.ListDurableExecutionsByFunctionPaginatorOptions) { o.Limit = c.pageSize })
	seen := make(map[string]struct{})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			var nf *types.ResourceNotFoundException
			if errors.As(err, &nf) {
				err = fmt.Errorf("%w: %w", ErrFunctionNotFound, err)
			}
			return pages, fmt.Errorf("list %s page %d: %w", q.FunctionName, pages+1, attempts.annotate(err))
		}
		pages++
		if items, ok := pageItems(out.ResultMetadata); ok {
			for _, e := range items {
				visit(e)
			}
		} else {
			for i := range out.DurableExecutions {
				visit(fromSummary(&out.DurableExecutions[i]))
			}
		}
		if m := aws.ToString(out.NextMarker); m != "" {
			if _, dup := seen[m]; dup {
				return pages, fmt.Errorf("list %s page %d: %w", q.FunctionName, pages, ErrRepeatedMarker)
			}
			if pages >= limit {
				return pages, fmt.Errorf("list %s: %w (%d pages)", q.FunctionName, ErrTooManyPages, limit)
			}
			seen[m] = struct{}{}
		}
	}
	return pages, nil
}

// Get reads one execution without its payloads (IncludeExecutionData=false:
// they can be megabytes). An execution the API does not know is ErrNotFound;
// an answer without the execution's ARN and status is ErrMalformedResponse
// (clients of a Pool). When the context ends the call, the error also says
// why the last attempt before that failed, if one did.
func (c *Client) Get(ctx context.Context, arn string) (Execution, error) {
	ctx, attempts := withAttemptLog(ctx)
	out, err := c.api.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{
		DurableExecutionArn:  aws.String(arn),
		IncludeExecutionData: aws.Bool(false),
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return Execution{}, fmt.Errorf("get %s: %w", arn, ErrNotFound)
		}
		return Execution{}, fmt.Errorf("get %s: %w", arn, attempts.annotate(err))
	}
	e := Execution{
		ARN:         aws.ToString(out.DurableExecutionArn),
		Name:        aws.ToString(out.DurableExecutionName),
		FunctionARN: aws.ToString(out.FunctionArn),
		RawStatus:   string(out.Status),
		Status:      durable.ParseStatus(string(out.Status)),
		Start:       millis(out.StartTimestamp),
		End:         millis(out.EndTimestamp),
	}
	if e.ARN == "" {
		e.ARN = arn
	}
	return e, nil
}

// ServerOffset returns the service's clock minus the local clock
// (PoolOptions.Clock, default time.Now), as the Date headers of this
// client's recent answers tell it (any status, retries included; see
// serverClock for the estimate). Date has whole seconds, so the offset is
// good to about a second, and rather too low than too high. ok is false
// until an answer with a Date arrived, and always for a client not made by
// a Pool. The service's time is the local clock's plus the offset.
func (c *Client) ServerOffset() (offset time.Duration, ok bool) {
	if c.clock == nil {
		return 0, false
	}
	return c.clock.offset()
}

func fromSummary(s *types.Execution) Execution {
	return Execution{
		ARN:         aws.ToString(s.DurableExecutionArn),
		Name:        aws.ToString(s.DurableExecutionName),
		FunctionARN: aws.ToString(s.FunctionArn),
		RawStatus:   string(s.Status),
		Status:      durable.ParseStatus(string(s.Status)),
		Start:       millis(s.StartTimestamp),
		End:         millis(s.EndTimestamp),
	}
}

func millis(t *time.Time) int64 {
	if t == nil || t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
