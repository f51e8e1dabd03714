package scrape

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// OpGetFunctionConfiguration is the operation name of a function
// configuration read, as api_requests_total labels it.
const OpGetFunctionConfiguration = "GetFunctionConfiguration"

// ExecutionTimeout reads a function's configuration (GetFunctionConfiguration
// of function, a name or ARN, and qualifier, "" for none) and returns its
// DurableConfig.ExecutionTimeout. ok is false when the function has no
// DurableConfig (or no timeout in it). A function or qualifier that does not
// exist fails with ErrFunctionNotFound.
func (d *Discoverer) ExecutionTimeout(ctx context.Context, function, qualifier string) (timeout time.Duration, ok bool, err error) {
	in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(function)}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	out, err := d.lambda.GetFunctionConfiguration(ctx, in)
	if err != nil {
		var nf *lambdatypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			err = fmt.Errorf("%w: %w", ErrFunctionNotFound, err)
		}
		return 0, false, fmt.Errorf("get function configuration: %w", err)
	}
	timeout, ok = executionTimeout(out.DurableConfig)
	return timeout, ok, nil
}

// executionTimeout converts a DurableConfig's timeout (seconds) once.
func executionTimeout(c *lambdatypes.DurableConfig) (time.Duration, bool) {
	if c == nil || c.ExecutionTimeout == nil || *c.ExecutionTimeout <= 0 {
		return 0, false
	}
	return time.Duration(*c.ExecutionTimeout) * time.Second, true
}
