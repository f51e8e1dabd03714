package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// newTimeoutDesc describes the function's configured execution timeout.
func newTimeoutDesc(labels []string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "function_execution_timeout_seconds"),
		"The function's DurableConfig.ExecutionTimeout, read with GetFunctionConfiguration (static functions) or ListFunctions (discovered ones) once per refresh; absent while not known.",
		labels, nil)
}

// collectTimeout emits the execution timeout of a target when it is known
// (and the function still exists).
func (c *Collector) collectTimeout(ch chan<- prometheus.Metric, s *snapshot.Snapshot, l []string) {
	if s.ExecutionTimeout > 0 && !s.Gone {
		ch <- prometheus.MustNewConstMetric(c.timeout, prometheus.GaugeValue, s.ExecutionTimeout, l...)
	}
}
