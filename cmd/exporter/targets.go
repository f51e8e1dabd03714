package main

import (
	"slices"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/collector"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/config"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/poller"
)

// specsOf turns configured functions into poll targets. A function's region
// comes from its ARN, else the config file, else the SDK's default chain.
func specsOf(c *config.Config, sdkRegion string) []poller.Spec {
	specs := make([]poller.Spec, 0, len(c.Functions))
	for _, f := range c.Functions {
		region := f.Region
		if region == "" {
			region = c.Region
		}
		if region == "" {
			region = sdkRegion
		}
		var statuses []durable.Status
		for _, s := range f.Statuses {
			statuses = append(statuses, durable.ParseStatus(s))
		}
		slices.Sort(statuses) // emission order, whatever the file's order
		specs = append(specs, poller.Spec{
			Target:        collector.Target{Function: f.FunctionName, Qualifier: f.Qualifier, Region: region},
			Key:           f.AccountID + "|" + region + "|" + f.FunctionName + "|" + f.Qualifier,
			APIName:       f.APIName(),
			ExecutionName: f.ExecutionName,
			Account:       f.AccountID,
			Statuses:      statuses,
			Window:        f.Window,
		})
	}
	return specs
}
