// Package overview builds the "Lambda durable executions" Grafana dashboard
// with the Grafana Foundation SDK. cmd/generate writes it to
// dashboards/lambda-durable-overview.json; the tests prove that file is up to
// date and that every query in it parses and uses only exported metrics.
package overview

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// UID is the dashboard's stable uid (links and provisioning rely on it).
const UID = "lambda-durable-overview"

// FileName is the name of the committed JSON under grafana/dashboards.
const FileName = "lambda-durable-overview.json"

// sel is the label selector every per-function query uses.
const sel = `function=~"$function", qualifier=~"$qualifier"`

var ds = dashboard.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// JSON returns the dashboard as the indented JSON that is committed.
func JSON() ([]byte, error) {
	d, err := Build()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Build builds the dashboard.
//
//nolint:staticcheck // SA1019: dashboardv2 is Grafana's v2 schema; the committed JSON and its provisioning use the classic (v1) dashboard model on purpose.
func Build() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder("Lambda durable executions").
		Uid(UID).
		Description("AWS Lambda durable executions as exported by lambda-durable-exporter: status, finishes, failure ratio, durations, oldest running execution, exporter health and API usage.").
		Tags([]string{"aws", "lambda", "durable-executions", "lambda-durable-exporter"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("1m").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		Link(dashboard.NewDashboardLinkBuilder("Alerts runbook").
			Type(dashboard.DashboardLinkTypeLink).
			Url("https://github.com/lambda-durable-exporter/lambda-durable-exporter/blob/main/docs/alerts.md").
			TargetBlank(true)).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder("function").
			Label("Function").
			Datasource(ds).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(lambda_durable_exporter_poll_success, function)`)}).
			Definition(`label_values(lambda_durable_exporter_poll_success, function)`).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).
			IncludeAll(true).
			AllValue(".*").
			Current(allOption())).
		WithVariable(dashboard.NewQueryVariableBuilder("qualifier").
			Label("Qualifier").
			Description("Version or alias; All also matches functions polled without a qualifier.").
			Datasource(ds).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(lambda_durable_exporter_poll_success{function=~"$function"}, qualifier)`)}).
			Definition(`label_values(lambda_durable_exporter_poll_success{function=~"$function"}, qualifier)`).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).
			IncludeAll(true).
			AllValue(".*").
			Current(allOption()))

	// Executions.
	b = b.WithRow(dashboard.NewRowBuilder("Executions")).
		WithPanel(statPanel("Executions by status",
			"Every RUNNING execution, whatever its age, and the terminal ones started within the exporter's window, over the selected functions.", "short",
			query(`sum by (status) (lambda_durable_executions{`+sel+`})`, "{{status}}").Instant()).
			Span(8).Height(6)).
		WithPanel(statPanel("Finished in time range by status",
			"Executions that reached a terminal status during the dashboard's time range.", "short",
			query(`sum by (status) (increase(lambda_durable_executions_finished_total{`+sel+`}[$__range]))`, "{{status}}").Instant()).
			Span(8).Height(6)).
		WithPanel(statPanel("Oldest running execution",
			"Age of the oldest RUNNING execution over the selected functions.", "s",
			query(`time() - min(lambda_durable_execution_oldest_running_start_timestamp_seconds{`+sel+`})`, "age").Instant()).
			Span(8).Height(6)).
		WithPanel(tsPanel("Executions by status per function",
			"lambda_durable_executions: every RUNNING execution whatever its age, and the terminal ones started within the window, by current status.", "short", true,
			query(`sum by (function, qualifier, status) (lambda_durable_executions{`+sel+`})`, "{{function}} {{qualifier}} {{status}}")).
			Span(12).Height(8)).
		WithPanel(tsPanel("Finished executions per minute",
			"Rate of executions reaching each terminal status.", "short", false,
			query(`sum by (function, status) (rate(lambda_durable_executions_finished_total{`+sel+`}[$__rate_interval])) * 60`, "{{function}} {{status}}")).
			Span(12).Height(8)).
		WithPanel(tsPanel("Failure ratio",
			"Share of finished executions that FAILED or TIMED_OUT (the LambdaDurableExecutionFailureRatioHigh alert uses the same ratio over 1h).", "percentunit", false,
			query(`sum by (function) (rate(lambda_durable_executions_finished_total{`+sel+`, status=~"FAILED|TIMED_OUT"}[$__rate_interval])) / sum by (function) (rate(lambda_durable_executions_finished_total{`+sel+`}[$__rate_interval]))`, "{{function}}")).
			Min(0).Max(1).
			Span(12).Height(8)).
		WithPanel(tsPanel("Oldest running execution age",
			"time() minus the start of the oldest RUNNING execution, whatever its age, per function (the LambdaDurableExecutionRunningTooLong alert fires above 24h).", "s", false,
			query(`time() - min by (function, qualifier) (lambda_durable_execution_oldest_running_start_timestamp_seconds{`+sel+`})`, "{{function}} {{qualifier}}")).
			Span(12).Height(8)).
		WithPanel(tsPanel("Running executions by age",
			"lambda_durable_executions_running_older_than: RUNNING executions older than each of running_age_thresholds (default 1h, 1d, 7d, 30d), over the selected functions.", "short", false,
			query(`sum by (age_seconds) (lambda_durable_executions_running_older_than{`+sel+`})`, "older than {{age_seconds}}s")).
			Span(12).Height(8)).
		WithPanel(tsPanel("Time-out headroom",
			"Age of the oldest RUNNING execution as a share of the function's ExecutionTimeout (lambda_durable_function_execution_timeout_seconds), per function; 100% is the time-out. The LambdaDurableExecutionNearTimeout alert fires above 80%. No line for a function whose timeout is not known or where nothing runs.", "percentunit", false,
			query(`(time() - min by (function, qualifier) (lambda_durable_execution_oldest_running_start_timestamp_seconds{`+sel+`})) / max by (function, qualifier) (lambda_durable_function_execution_timeout_seconds{`+sel+`})`, "{{function}} {{qualifier}}")).
			Min(0).
			Span(12).Height(8))

	// Breakdowns (config key breakdown).
	b = b.WithRow(dashboard.NewRowBuilder("Which version, failing how")).
		WithPanel(tsPanel("Failures per minute by version",
			"With breakdown version: FAILED and TIMED_OUT finishes per minute by the version each execution ran under (from its ARN), so a canary shows beside the stable version. Empty for functions without the breakdown.", "short", false,
			query(`sum by (function, version, status) (rate(lambda_durable_executions_finished_total{`+sel+`, version!="", status=~"FAILED|TIMED_OUT"}[$__rate_interval])) * 60`, "{{function}} v{{version}} {{status}}")).
			Span(12).Height(8)).
		WithPanel(tsPanel("Failure ratio by version",
			"With breakdown version: share of each version's finishes that FAILED or TIMED_OUT: since which deploy? (LambdaDurableVersionFailureRatioHigh fires when one version is above 10% and twice the others.)", "percentunit", false,
			query(`sum by (function, version) (rate(lambda_durable_executions_finished_total{`+sel+`, version!="", status=~"FAILED|TIMED_OUT"}[$__rate_interval])) / sum by (function, version) (rate(lambda_durable_executions_finished_total{`+sel+`, version!=""}[$__rate_interval]))`, "{{function}} v{{version}}")).
			Min(0).Max(1).
			Span(12).Height(8)).
		WithPanel(tsPanel("Top error types",
			"With breakdown error_type: the ten busiest Error.ErrorType values of FAILED, TIMED_OUT and STOPPED executions, per minute (none: no error; unknown: empty type; other: past max_error_types; unread: could not be read).", "short", false,
			query(`topk(10, sum by (function, status, error_type) (rate(lambda_durable_execution_errors_total{`+sel+`}[$__rate_interval])) * 60)`, "{{function}} {{status}} {{error_type}}")).
			Span(12).Height(8)).
		WithPanel(tsPanel("Error reads pending",
			"lambda_durable_exporter_error_reads_pending: counted executions whose error type is still to be read (within error_reads_per_second); the error counts follow finished_total once this is 0.", "short", false,
			query(`sum by (function, qualifier) (lambda_durable_exporter_error_reads_pending{`+sel+`})`, "{{function}} {{qualifier}}")).
			Span(12).Height(8))

	// Durations.
	b = b.WithRow(dashboard.NewRowBuilder("Durations")).
		WithPanel(tsPanel("Duration percentiles",
			"p50, p95 and p99 of EndTimestamp - StartTimestamp of the executions that finished, from the duration histogram.", "s", false,
			query(`histogram_quantile(0.50, sum by (function, le) (rate(lambda_durable_execution_duration_seconds_bucket{`+sel+`}[$__rate_interval])))`, "p50 {{function}}"),
			query(`histogram_quantile(0.95, sum by (function, le) (rate(lambda_durable_execution_duration_seconds_bucket{`+sel+`}[$__rate_interval])))`, "p95 {{function}}"),
			query(`histogram_quantile(0.99, sum by (function, le) (rate(lambda_durable_execution_duration_seconds_bucket{`+sel+`}[$__rate_interval])))`, "p99 {{function}}")).
			Span(12).Height(8)).
		WithPanel(tsPanel("Average duration by status",
			"Mean duration of the executions that finished, by terminal status.", "s", false,
			query(`sum by (function, status) (rate(lambda_durable_execution_duration_seconds_sum{`+sel+`}[$__rate_interval])) / sum by (function, status) (rate(lambda_durable_execution_duration_seconds_count{`+sel+`}[$__rate_interval]))`, "{{function}} {{status}}")).
			Span(12).Height(8)).
		WithPanel(heatmap.NewPanelBuilder().
			Title("Duration distribution").
			Description("Finished executions per duration bucket (lambda_durable_execution_duration_seconds_bucket), all selected functions and statuses.").
			Datasource(ds).
			WithTarget(query(`sum by (le) (increase(lambda_durable_execution_duration_seconds_bucket{`+sel+`}[$__rate_interval]))`, "{{le}}").
				Format(prometheus.PromQueryFormatHeatmap).RefId("A")).
			Calculate(false).
			RowsFrame(heatmap.NewRowsHeatmapOptionsBuilder().Layout(common.HeatmapCellLayoutLe)).
			YAxis(heatmap.NewYAxisConfigBuilder().Unit("s")).
			CellValues(heatmap.NewCellValuesBuilder().Unit("short")).
			Color(heatmap.NewHeatmapColorOptionsBuilder().
				Mode(heatmap.HeatmapColorModeScheme).
				Scheme("Oranges").
				Scale(heatmap.HeatmapColorScaleExponential).
				Exponent(0.5).
				Steps(64)).
			ShowLegend().
			Tooltip(heatmap.NewHeatmapTooltipBuilder().Mode(common.TooltipDisplayModeSingle).YHistogram(true).ShowColorScale(true)).
			Span(24).Height(9))

	// Exporter health.
	b = b.WithRow(dashboard.NewRowBuilder("Exporter health")).
		WithPanel(statetimeline.NewPanelBuilder().
			Title("Poll success").
			Description("lambda_durable_exporter_poll_success: whether the last poll of each function succeeded.").
			Datasource(ds).
			WithTarget(query(`min by (function, qualifier) (lambda_durable_exporter_poll_success{`+sel+`})`, "{{function}} {{qualifier}}").RefId("A")).
			Mappings([]dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
				Type: dashboard.MappingTypeValueToText,
				Options: map[string]dashboard.ValueMappingResult{
					"0": {Text: cog.ToPtr("failing"), Color: cog.ToPtr("red"), Index: cog.ToPtr[int32](0)},
					"1": {Text: cog.ToPtr("ok"), Color: cog.ToPtr("green"), Index: cog.ToPtr[int32](1)},
				},
			}}}).
			ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
			Span(12).Height(8)).
		WithPanel(tsPanel("Time since last successful poll",
			"time() minus lambda_durable_exporter_last_success_timestamp_seconds; grows when polls fail.", "s", false,
			query(`time() - max by (function, qualifier) (lambda_durable_exporter_last_success_timestamp_seconds{`+sel+`})`, "{{function}} {{qualifier}}")).
			Span(12).Height(8)).
		WithPanel(tsPanel("Poll duration",
			"How long the last poll of each function took.", "s", false,
			query(`max by (function, qualifier) (lambda_durable_exporter_poll_duration_seconds{`+sel+`})`, "{{function}} {{qualifier}}")).
			Span(12).Height(8)).
		WithPanel(tsPanel("Tracked executions",
			"Executions the exporter keeps state for (memory use grows with it).", "short", false,
			query(`sum by (function, qualifier) (lambda_durable_exporter_tracked_executions{`+sel+`})`, "{{function}} {{qualifier}}")).
			Span(12).Height(8)).
		WithPanel(tsPanel("Resyncs, overruns and invalid executions",
			"Per-minute rates of state corrections found by full re-listings, polls longer than the interval, and executions the API returned malformed (by reason).", "short", false,
			query(`sum by (function) (rate(lambda_durable_exporter_resync_corrections_total{`+sel+`}[$__rate_interval])) * 60`, "resync corrections {{function}}"),
			query(`sum by (function) (rate(lambda_durable_exporter_poll_overruns_total{`+sel+`}[$__rate_interval])) * 60`, "overruns {{function}}"),
			query(`sum by (function, reason) (rate(lambda_durable_exporter_invalid_executions_total{`+sel+`}[$__rate_interval])) * 60`, "invalid {{reason}} {{function}}")).
			Span(12).Height(8)).
		WithPanel(tsPanel("Checkpoints",
			"With --storage.path: checkpoint writes and failed writes per minute per exporter instance (LambdaDurableExporterStorageFailing fires on failures), checkpoints found unusable at start, and the functions whose state was resumed from a checkpoint at start. Empty without --storage.path.", "short", false,
			query(`sum by (instance) (rate(lambda_durable_exporter_storage_writes_total[$__rate_interval])) * 60`, "writes {{instance}}"),
			query(`sum by (instance) (rate(lambda_durable_exporter_storage_write_failures_total[$__rate_interval])) * 60`, "failed writes {{instance}}"),
			query(`sum by (instance) (increase(lambda_durable_exporter_storage_load_failures_total[$__rate_interval]))`, "unusable checkpoints at start {{instance}}"),
			query(`sum by (instance) (lambda_durable_exporter_state_restored{`+sel+`})`, "resumed functions {{instance}}")).
			Span(12).Height(8)).
		WithPanel(tsPanel("Clock skew",
			"lambda_durable_exporter_clock_skew_seconds: the Lambda API's clock minus the exporter's, from the Date header of its answers (the exporter corrects for it; LambdaDurableExporterClockSkew fires above 60s).", "s", false,
			query(`max by (instance) (lambda_durable_exporter_clock_skew_seconds{`+sel+`})`, "{{instance}}")).
			Span(12).Height(8)).
		WithPanel(statPanel("Config reload",
			"lambda_durable_exporter_config_last_reload_successful per exporter instance.", "short",
			query(`min by (instance) (lambda_durable_exporter_config_last_reload_successful)`, "{{instance}}").Instant()).
			Mappings([]dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
				Type: dashboard.MappingTypeValueToText,
				Options: map[string]dashboard.ValueMappingResult{
					"0": {Text: cog.ToPtr("failed"), Color: cog.ToPtr("red"), Index: cog.ToPtr[int32](0)},
					"1": {Text: cog.ToPtr("ok"), Color: cog.ToPtr("green"), Index: cog.ToPtr[int32](1)},
				},
			}}}).
			Span(6).Height(8)).
		WithPanel(statPanel("Exporter version",
			"lambda_durable_exporter_build_info of each exporter instance.", "short",
			query(`count by (version, revision, goversion) (lambda_durable_exporter_build_info)`, "{{version}} ({{revision}}, {{goversion}})").Instant()).
			TextMode(common.BigValueTextModeName).
			Span(6).Height(8)).
		WithPanel(tsPanel("Targets per replica",
			"Targets (function, qualifier, account, region) each exporter replica polls, with its shard (--shard.index of --shard.total).", "short", false,
			query(`lambda_durable_exporter_targets * on (job, instance) group_left (index, total) lambda_durable_exporter_shard_info`, "{{instance}} shard {{index}}/{{total}}")).
			Span(8).Height(8)).
		WithPanel(statetimeline.NewPanelBuilder().
			Title("Discovery success").
			Description("lambda_durable_exporter_discovery_success per discovery entry (its index in the config) and region. Empty when the configuration has no discovery entry.").
			Datasource(ds).
			WithTarget(query(`min by (discovery, region) (lambda_durable_exporter_discovery_success)`, "entry {{discovery}} {{region}}").RefId("A")).
			Mappings([]dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
				Type: dashboard.MappingTypeValueToText,
				Options: map[string]dashboard.ValueMappingResult{
					"0": {Text: cog.ToPtr("failing"), Color: cog.ToPtr("red"), Index: cog.ToPtr[int32](0)},
					"1": {Text: cog.ToPtr("ok"), Color: cog.ToPtr("green"), Index: cog.ToPtr[int32](1)},
				},
			}}}).
			ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
			Span(8).Height(8)).
		WithPanel(tsPanel("Discovered functions",
			"Functions the last successful discovery of each entry found, after name and tag filters. Empty when the configuration has no discovery entry.", "short", false,
			query(`sum by (discovery, region) (lambda_durable_exporter_discovered_functions)`, "entry {{discovery}} {{region}}")).
			Span(8).Height(8))

	// API usage.
	b = b.WithRow(dashboard.NewRowBuilder("Lambda API usage")).
		WithPanel(tsPanel("API requests by outcome",
			"Requests per second sent to the Lambda API by operation and outcome (throttled requests feed the LambdaDurableExporterApiThrottled alert).", "reqps", true,
			query(`sum by (operation, outcome) (rate(lambda_durable_exporter_api_requests_total[$__rate_interval]))`, "{{operation}} {{outcome}}")).
			Span(12).Height(8)).
		WithPanel(tsPanel("API requests per poll",
			"Requests the last successful poll of each function made, by operation.", "short", true,
			query(`sum by (function, operation) (lambda_durable_exporter_poll_requests{`+sel+`})`, "{{function}} {{operation}}")).
			Span(12).Height(8))

	d, err := b.Build()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("build dashboard: %w", err)
	}
	return d, nil
}

func allOption() dashboard.VariableOption {
	return dashboard.VariableOption{
		Selected: cog.ToPtr(true),
		Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
		Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
	}
}

func query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(ds).
		Expr(expr).
		LegendFormat(legend).
		EditorMode(prometheus.QueryEditorModeCode)
}

func tsPanel(title, description, unit string, stacked bool, targets ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(ds).
		Unit(unit).
		FillOpacity(10).
		LineWidth(1).
		ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
	if stacked {
		p = p.Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).FillOpacity(40)
	}
	for i, t := range targets {
		p = p.WithTarget(t.RefId(refID(i)))
	}
	return p
}

func statPanel(title, description, unit string, targets ...*prometheus.DataqueryBuilder) *stat.PanelBuilder {
	p := stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(ds).
		Unit(unit).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeValue).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false))
	for i, t := range targets {
		p = p.WithTarget(t.RefId(refID(i)))
	}
	return p
}

func refID(i int) string { return string(rune('A' + i)) }
