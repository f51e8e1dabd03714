package scrape

import "github.com/lambda-durable-exporter/lambda-durable-exporter/durable"

// ExecutionError is what GetDurableExecution with its execution data says
// of an execution's error.
type ExecutionError struct {
	Status   durable.Status
	Type     string // Error.ErrorType as sent, cut to 1 KiB
	HasError bool   // the answer had an Error object
}
