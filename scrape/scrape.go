// Package scrape owns every conversation with AWS Lambda. It pages through
// ListDurableExecutionsByFunction with the SDK's paginator, reads single
// executions with GetDurableExecution, and converts the SDK's pointer types
// into plain domain values once. Nothing outside this package imports the
// Lambda SDK.
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

// MaxPages bounds one listing: at 1000 items a page it is ten million
// executions. A NextMarker chain longer than that is taken as a service fault.
const MaxPages = 10000

// ErrRepeatedMarker reports a listing whose NextMarker came back a second
// time: following it would loop, stopping silently could lose executions.
var ErrRepeatedMarker = errors.New("NextMarker repeated")

// ErrTooManyPages reports a listing that did not end within MaxPages.
var ErrTooManyPages = fmt.Errorf("listing did not end within %d pages", MaxPages)

// ErrNotFound reports an execution the API no longer knows.
var ErrNotFound = errors.New("durable execution not found")

// Execution is one durable execution as the API reported it. Timestamps are
// Unix milliseconds; 0 means the API left the field out.
type Execution struct {
	ARN         string
	Name        string
	FunctionARN string
	Status      durable.Status
	RawStatus   string // the API's spelling, kept for Unknown statuses
	Start, End  int64
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
// returns how many pages it fetched. A repeated NextMarker or a chain longer
// than MaxPages is an error: the caller must not trust a partial listing.
func (c *Client) List(ctx context.Context, q Query, visit func(Execution)) (int, error) {
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
			return pages, fmt.Errorf("list %s page %d: %w", q.FunctionName, pages+1, err)
		}
		pages++
		for i := range out.DurableExecutions {
			visit(fromSummary(&out.DurableExecutions[i]))
		}
		if m := aws.ToString(out.NextMarker); m != "" {
			if _, dup := seen[m]; dup {
				return pages, fmt.Errorf("list %s page %d: %w", q.FunctionName, pages, ErrRepeatedMarker)
			}
			if pages >= MaxPages {
				return pages, fmt.Errorf("list %s: %w", q.FunctionName, ErrTooManyPages)
			}
			seen[m] = struct{}{}
		}
	}
	return pages, nil
}

// Get reads one execution without its payloads (IncludeExecutionData=false:
// they can be megabytes). An execution the API does not know is ErrNotFound.
func (c *Client) Get(ctx context.Context, arn string) (Execution, error) {
	out, err := c.api.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{
		DurableExecutionArn:  aws.String(arn),
		IncludeExecutionData: aws.Bool(false),
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return Execution{}, fmt.Errorf("get %s: %w", arn, ErrNotFound)
		}
		return Execution{}, fmt.Errorf("get %s: %w", arn, err)
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
