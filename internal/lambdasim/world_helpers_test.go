package lambdasim_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

const (
	acctA   = "111111111111"
	acctB   = "222222222222"
	regUS   = "us-east-1"
	regEU   = "eu-west-1"
	roleARN = "arn:aws:iam::222222222222:role/exporter-read"
)

// worldHarness is a World behind httptest, with real SDK clients of the
// three services pointed at it.
type worldHarness struct {
	w     *lambdasim.World
	clock *fakeClock
	srv   *httptest.Server
}

func newWorldHarness(t testing.TB, o lambdasim.WorldOptions, start time.Time) *worldHarness {
	t.Helper()
	h := &worldHarness{clock: newClock(start)}
	if o.Now == nil {
		o.Now = h.clock.Now
	}
	h.w = lambdasim.NewWorld(o)
	h.srv = httptest.NewServer(h.w)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *worldHarness) config(region string, creds aws.CredentialsProvider) aws.Config {
	return aws.Config{
		Region:           region,
		Credentials:      creds,
		HTTPClient:       h.srv.Client(),
		RetryMaxAttempts: 1,
		BaseEndpoint:     aws.String(h.srv.URL),
	}
}

func static(ak, sk string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(ak, sk, "")
}

func (h *worldHarness) lambda(region string, creds aws.CredentialsProvider) *lambda.Client {
	return lambda.NewFromConfig(h.config(region, creds))
}

func (h *worldHarness) sts(region string, creds aws.CredentialsProvider) *sts.Client {
	return sts.NewFromConfig(h.config(region, creds))
}

func (h *worldHarness) tagging(region string, creds aws.CredentialsProvider) *tagging.Client {
	return tagging.NewFromConfig(h.config(region, creds))
}

// apiError returns the API error code, message and HTTP status of err.
func apiError(t testing.TB, err error) (code, msg string, status int) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("err = %v, want an API error", err)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return api.ErrorCode(), api.ErrorMessage(), status
}

// listFunctions pages through ListFunctions with the SDK paginator.
func listFunctions(t testing.TB, c *lambda.Client, in *lambda.ListFunctionsInput) ([]ltypes.FunctionConfiguration, []int) {
	t.Helper()
	p := lambda.NewListFunctionsPaginator(c, in)
	var out []ltypes.FunctionConfiguration
	var sizes []int
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListFunctions page %d: %v", len(sizes)+1, err)
		}
		out = append(out, page.Functions...)
		sizes = append(sizes, len(page.Functions))
	}
	return out, sizes
}

func functionNames(fs []ltypes.FunctionConfiguration) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = aws.ToString(f.FunctionName)
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
