package lambdasim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Resource Groups Tagging API (awsJson1.1, API version 2017-01-26).
const (
	taggingTargetPrefix     = "ResourceGroupsTaggingAPI_20170126."
	defaultResourcesPerPage = 100
	maxResourcesPerPage     = 100
	minTagsPerPage          = 100
	maxTagsPerPage          = 500
	maxTagFilters           = 50
	maxTagFilterValues      = 20
	maxResourceARNs         = 100
	maxResourceTypeFilters  = 100
	maxTaggingBody          = 1 << 20
)

type tagFilter struct {
	Key    *string
	Values []string
}

type getResourcesInput struct {
	PaginationToken           *string
	ResourceARNList           []string
	ResourceTypeFilters       []string
	ResourcesPerPage          *int
	TagFilters                []tagFilter
	TagsPerPage               *int
	IncludeComplianceDetails  *bool
	ExcludeCompliantResources *bool
}

type resourceTag struct{ Key, Value string }

type complianceDetails struct {
	NoncompliantKeys           []string
	KeysWithNoncompliantValues []string
	ComplianceStatus           bool
}

type resourceTagMapping struct {
	ResourceARN       string
	Tags              []resourceTag
	ComplianceDetails *complianceDetails `json:",omitempty"`
}

type getResourcesResponse struct {
	PaginationToken        string
	ResourceTagMappingList []resourceTagMapping
}

func taggingInvalid(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "InvalidParameterException", message: msg}
}

// serveTagging serves an authenticated Tagging API request (POST / with
// X-Amz-Target ResourceGroupsTaggingAPI_20170126.OP). Only GetResources is
// implemented; other targets are answered 400 UnknownOperationException and
// not counted.
func (s *Server) serveTagging(w http.ResponseWriter, r *http.Request) {
	p := taggingProtocol{}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), taggingTargetPrefix)
	if r.Method != http.MethodPost || !ok || op != OpGetResources {
		writeResponse(w, p.errorResponse(&apiError{status: http.StatusBadRequest, code: "UnknownOperationException",
			message: "Unknown operation " + r.Header.Get("X-Amz-Target")}, ""))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTaggingBody))
	s.handle(w, r, p, op, nil, func(reqID string) *response {
		if err != nil {
			return p.errorResponse(&apiError{status: http.StatusBadRequest, code: "SerializationException", message: err.Error()}, reqID)
		}
		out, aerr := s.getResources(body)
		if aerr != nil {
			return p.errorResponse(aerr, reqID)
		}
		b, _ := json.Marshal(out)
		return &response{status: http.StatusOK, header: p.header(reqID), body: b}
	})
}

// getResources serves GetResources for the partition's Lambda functions
// whose tags were ever set, sorted by ARN. TagFilters must all match (AND);
// a filter's Values match any of them (OR), and a filter without Values
// matches any value of its key. Without TagFilters, previously tagged
// functions without tags are listed with "Tags": [].
func (s *Server) getResources(body []byte) (any, *apiError) {
	var in getResourcesInput
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, &apiError{status: http.StatusBadRequest, code: "SerializationException", message: "Malformed request body: " + err.Error()}
		}
	}
	token := ""
	if in.PaginationToken != nil {
		token = *in.PaginationToken
	}
	if len(in.ResourceARNList) > 0 {
		switch {
		case len(in.TagFilters) > 0 || len(in.ResourceTypeFilters) > 0:
			return nil, taggingInvalid("ResourceARNList cannot be specified with TagFilters or ResourceTypeFilters.")
		case in.ResourcesPerPage != nil || in.TagsPerPage != nil || token != "":
			return nil, taggingInvalid("ResourceARNList cannot be specified with ResourcesPerPage, TagsPerPage or PaginationToken.")
		case len(in.ResourceARNList) > maxResourceARNs:
			return nil, taggingInvalid("ResourceARNList can contain at most 100 ARNs.")
		}
	}
	perPage := defaultResourcesPerPage
	if in.ResourcesPerPage != nil {
		if n := *in.ResourcesPerPage; n < 1 || n > maxResourcesPerPage {
			return nil, taggingInvalid("ResourcesPerPage must be between 1 and 100.")
		}
		perPage = *in.ResourcesPerPage
	}
	tagsPerPage := 0
	if in.TagsPerPage != nil {
		if n := *in.TagsPerPage; n < minTagsPerPage || n > maxTagsPerPage {
			return nil, taggingInvalid("TagsPerPage must be between 100 and 500.")
		}
		tagsPerPage = *in.TagsPerPage
	}
	if len(in.TagFilters) > maxTagFilters {
		return nil, taggingInvalid("TagFilters can contain at most 50 filters.")
	}
	for _, tf := range in.TagFilters {
		if tf.Key == nil || *tf.Key == "" || len(*tf.Key) > 128 {
			return nil, taggingInvalid("Each TagFilter must have a Key of 1 to 128 characters.")
		}
		if len(tf.Values) > maxTagFilterValues {
			return nil, taggingInvalid("A TagFilter can contain at most 20 values.")
		}
	}
	if len(in.ResourceTypeFilters) > maxResourceTypeFilters {
		return nil, taggingInvalid("ResourceTypeFilters can contain at most 100 items.")
	}
	lambdaTypes := len(in.ResourceTypeFilters) == 0
	for _, rt := range in.ResourceTypeFilters {
		svc, typ, _ := strings.Cut(rt, ":")
		if svc == "" || strings.Contains(typ, ":") {
			return nil, taggingInvalid("Invalid resource type filter: " + rt)
		}
		if svc == "lambda" && (typ == "" || typ == "function") {
			lambdaTypes = true
		}
	}
	if in.ExcludeCompliantResources != nil && *in.ExcludeCompliantResources &&
		(in.IncludeComplianceDetails == nil || !*in.IncludeComplianceDetails) {
		return nil, taggingInvalid("ExcludeCompliantResources can only be used when IncludeComplianceDetails is true.")
	}
	after := ""
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		last, ok := strings.CutPrefix(string(b), "gr1\x00")
		if err != nil || !ok || last == "" {
			return nil, taggingInvalid("Invalid PaginationToken.")
		}
		after = last
	}

	out := getResourcesResponse{ResourceTagMappingList: []resourceTagMapping{}}
	// Every simulated function is compliant: nothing is left to list when
	// compliant resources are excluded.
	if !lambdaTypes || (in.ExcludeCompliantResources != nil && *in.ExcludeCompliantResources) {
		return out, nil
	}
	wantARN := map[string]bool{}
	for _, a := range in.ResourceARNList {
		wantARN[a] = true
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	// All ARNs share the prefix, so name order is ARN order.
	names := make([]string, 0, len(s.funcs))
	for n, f := range s.funcs {
		if f.tagged {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	tags := 0
	for _, name := range names {
		arn := s.FunctionARN(name)
		if after != "" && arn <= after {
			continue
		}
		f := s.funcs[name]
		if len(wantARN) > 0 && !wantARN[arn] {
			continue
		}
		if !matchTagFilters(f.tags, in.TagFilters) {
			continue
		}
		n := max(1, len(f.tags))
		if got := len(out.ResourceTagMappingList); got == perPage || (got > 0 && tagsPerPage > 0 && tags+n > tagsPerPage) {
			last := out.ResourceTagMappingList[len(out.ResourceTagMappingList)-1].ResourceARN
			out.PaginationToken = base64.RawURLEncoding.EncodeToString([]byte("gr1\x00" + last))
			return out, nil
		}
		tags += n
		m := resourceTagMapping{ResourceARN: arn, Tags: make([]resourceTag, 0, len(f.tags))}
		for k, v := range f.tags {
			m.Tags = append(m.Tags, resourceTag{k, v})
		}
		slices.SortFunc(m.Tags, func(a, b resourceTag) int { return strings.Compare(a.Key, b.Key) })
		if in.IncludeComplianceDetails != nil && *in.IncludeComplianceDetails {
			m.ComplianceDetails = &complianceDetails{NoncompliantKeys: []string{}, KeysWithNoncompliantValues: []string{}, ComplianceStatus: true}
		}
		out.ResourceTagMappingList = append(out.ResourceTagMappingList, m)
	}
	return out, nil
}

func matchTagFilters(tags map[string]string, filters []tagFilter) bool {
	for _, tf := range filters {
		v, ok := tags[*tf.Key]
		if !ok || (len(tf.Values) > 0 && !slices.Contains(tf.Values, v)) {
			return false
		}
	}
	return true
}
