// Package lambdasim is a wire-compatible simulation of the AWS Lambda
// durable-executions read API (restJson1, API version 2025-12-01), for tests,
// benchmarks and demo mode.
//
// It serves two operations exactly as the aws-sdk-go-v2 Lambda client
// (service/lambda v1.114.4) sends and decodes them:
//
//	GET /2025-12-01/functions/{FunctionName}/durable-executions   ListDurableExecutionsByFunction
//	GET /2025-12-01/durable-executions/{DurableExecutionArn}      GetDurableExecution
//
// Wire facts, checked against the SDK source and by tests using the real client:
//
//   - Path labels are escaped Amazon style: every byte except A-Z a-z 0-9 - . _ ~
//     is percent-encoded, including '/' (%2F), ':' (%3A) and '$' (%24). The
//     server also accepts a Get path whose ARN '/' characters are not escaped.
//   - Query timestamps (StartedAfter, StartedBefore) are sent as RFC 3339
//     date-time in UTC truncated to milliseconds ("2025-11-28T09:00:00.123Z").
//     The server accepts any RFC 3339 form, with or without a fraction, and
//     without a zone (taken as UTC).
//   - Body timestamps are JSON numbers, epoch seconds with a millisecond
//     fraction. All times are stored with millisecond precision, like AWS.
//   - Statuses is a repeated query key (Statuses=A&Statuses=B); booleans are
//     "true"/"false".
//   - Errors carry the code in the X-Amzn-ErrorType header (which the SDK
//     prefers over the body), and a JSON body with "Type" ("User" or
//     "Service"), the message member as modelled ("message" for
//     InvalidParameterValueException and TooManyRequestsException, "Message"
//     for ResourceNotFoundException and ServiceException; the SDK accepts
//     either casing) and "Reason" for throttles. TooManyRequestsException
//     takes RetryAfterSeconds from the Retry-After header.
//   - Every answer is dated (the Date header) by the simulator's clock, not
//     the real one, so a fake or skewed Options.Now models a service whose
//     clock differs from the client's.
//
// Behaviour the real service documents ambiguously is selectable (see
// [Options]) so that clients can be tested against every reading.
//
// A Server also serves Lambda ListFunctions (GET /2015-03-31/functions,
// restJson1 API version 2015-03-31): its functions sorted by name, at most
// 50 per page whatever MaxItems (1..10000) says, as AWS documents; an opaque
// NextMarker; DurableConfig {ExecutionTimeout 86400, RetentionPeriodInDays
// 14} on durable functions and none on those added with
// [Server.AddPlainFunction]; LastModified in Lambda's
// "2006-01-02T15:04:05.000+0000" form (the registration time). Constraint
// violations (MaxItems, FunctionVersion other than ALL, a malformed
// MasterRegion) are 400 ValidationException, which the SDK does not model;
// a bad Marker is InvalidParameterValueException.
//
// It serves GetFunctionConfiguration (GET
// /2015-03-31/functions/{FunctionName}/configuration?Qualifier=) too: the
// same configuration of $LATEST, a version or an alias's version, 404
// ResourceNotFoundException for an unknown function or qualifier. The
// ExecutionTimeout of a function can be set with [Server.SetExecutionTimeout].
//
// # World
//
// A [World] puts many accounts and regions behind one endpoint and adds STS
// (awsQuery: form-encoded POST, XML answers in the
// https://sts.amazonaws.com/doc/2011-06-15/ namespace, errors as
// <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>) and
// the Resource Groups Tagging API (awsJson1.1: POST / with X-Amz-Target
// ResourceGroupsTaggingAPI_20170126.GetResources, errors as
// {"__type": CODE, "Message": ...}). Requests are routed by the SigV4
// credential scope (service and region) and the access key (account).
package lambdasim
