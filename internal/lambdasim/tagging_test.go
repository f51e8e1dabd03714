package lambdasim_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	ttypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

func tagWorld(t *testing.T) (*worldHarness, *tagging.Client) {
	h := newWorldHarness(t, lambdasim.WorldOptions{}, t0)
	ak, sk := h.w.AddAccount(acctA)
	p := h.w.Partition(acctA, regUS)
	p.SetTags("pay-api", map[string]string{"team": "payments", "env": "prod"})
	p.SetTags("pay-batch", map[string]string{"team": "payments", "env": "dev"})
	p.SetTags("search", map[string]string{"team": "search", "env": "prod"})
	p.SetTags("ops", map[string]string{"owner": "sre"})
	p.SetTags("retired", nil) // previously tagged
	p.AddFunction("untagged", nil, nil)
	p.AddPlainFunction("plain-tagged")
	p.SetTags("plain-tagged", map[string]string{"team": "payments"})
	h.w.Partition(acctA, regEU).SetTags("eu-fn", map[string]string{"team": "payments"})
	h.w.Partition(acctB, regUS).SetTags("b-fn", map[string]string{"team": "payments"})
	return h, h.tagging(regUS, static(ak, sk))
}

func getResources(t *testing.T, c *tagging.Client, in *tagging.GetResourcesInput) ([]ttypes.ResourceTagMapping, []int) {
	t.Helper()
	p := tagging.NewGetResourcesPaginator(c, in)
	var out []ttypes.ResourceTagMapping
	var sizes []int
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("GetResources page %d: %v", len(sizes)+1, err)
		}
		out = append(out, page.ResourceTagMappingList...)
		sizes = append(sizes, len(page.ResourceTagMappingList))
	}
	return out, sizes
}

func resourceNames(ms []ttypes.ResourceTagMapping) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		arn := aws.ToString(m.ResourceARN)
		out[i] = arn[strings.LastIndex(arn, ":")+1:]
	}
	return out
}

func filter(key string, values ...string) ttypes.TagFilter {
	return ttypes.TagFilter{Key: aws.String(key), Values: values}
}

func TestWorldTaggingFilters(t *testing.T) {
	h, c := tagWorld(t)
	all := []string{"ops", "pay-api", "pay-batch", "plain-tagged", "retired", "search"}
	cases := []struct {
		name    string
		filters []ttypes.TagFilter
		types   []string
		want    []string
	}{
		{"one value", []ttypes.TagFilter{filter("team", "payments")}, nil, []string{"pay-api", "pay-batch", "plain-tagged"}},
		{"values are OR", []ttypes.TagFilter{filter("team", "payments", "search")}, nil, []string{"pay-api", "pay-batch", "plain-tagged", "search"}},
		{"filters are AND", []ttypes.TagFilter{filter("team", "payments"), filter("env", "prod")}, nil, []string{"pay-api"}},
		{"AND of ORs", []ttypes.TagFilter{filter("team", "payments", "search"), filter("env", "prod")}, nil, []string{"pay-api", "search"}},
		{"key only", []ttypes.TagFilter{filter("env")}, nil, []string{"pay-api", "pay-batch", "search"}},
		{"no match", []ttypes.TagFilter{filter("team", "nobody")}, nil, []string{}},
		{"missing key", []ttypes.TagFilter{filter("team"), filter("owner")}, nil, []string{}},
		{"no filters", nil, nil, all},
		{"lambda", nil, []string{"lambda"}, all},
		{"lambda:function", []ttypes.TagFilter{filter("team", "search")}, []string{"ec2:instance", "lambda:function"}, []string{"search"}},
		{"other type", nil, []string{"ec2:instance"}, []string{}},
	}
	for _, tc := range cases {
		got, _ := getResources(t, c, &tagging.GetResourcesInput{TagFilters: tc.filters, ResourceTypeFilters: tc.types})
		if names := resourceNames(got); !equalStrings(names, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, names, tc.want)
		}
	}

	got, _ := getResources(t, c, &tagging.GetResourcesInput{})
	byName := map[string]ttypes.ResourceTagMapping{}
	for _, m := range got {
		byName[resourceNames([]ttypes.ResourceTagMapping{m})[0]] = m
	}
	api := byName["pay-api"]
	if aws.ToString(api.ResourceARN) != "arn:aws:lambda:us-east-1:111111111111:function:pay-api" || len(api.Tags) != 2 ||
		aws.ToString(api.Tags[0].Key) != "env" || aws.ToString(api.Tags[0].Value) != "prod" ||
		aws.ToString(api.Tags[1].Key) != "team" || aws.ToString(api.Tags[1].Value) != "payments" {
		t.Fatalf("pay-api %+v", api)
	}
	if r, ok := byName["retired"]; !ok || r.Tags == nil || len(r.Tags) != 0 {
		t.Fatalf("retired %+v", r)
	}
	// Each partition lists its own functions.
	b := h.tagging(regUS, static(h.w.AddAccount(acctB)))
	got, _ = getResources(t, b, &tagging.GetResourcesInput{TagFilters: []ttypes.TagFilter{filter("team", "payments")}})
	if names := resourceNames(got); !equalStrings(names, []string{"b-fn"}) || aws.ToString(got[0].ResourceARN) != "arn:aws:lambda:us-east-1:222222222222:function:b-fn" {
		t.Fatalf("account B: %v", names)
	}
	ak, sk := h.w.AddAccount(acctA)
	got, _ = getResources(t, h.tagging(regEU, static(ak, sk)), &tagging.GetResourcesInput{})
	if names := resourceNames(got); !equalStrings(names, []string{"eu-fn"}) {
		t.Fatalf("eu-west-1: %v", names)
	}
	if n := h.w.RequestsIn(acctA, regUS)[lambdasim.OpGetResources]; n != len(cases)+1 {
		t.Fatalf("GetResources count %d", n)
	}
}

func TestWorldTaggingPagination(t *testing.T) {
	_, c := tagWorld(t)
	got, sizes := getResources(t, c, &tagging.GetResourcesInput{ResourcesPerPage: aws.Int32(2)})
	if names := resourceNames(got); !equalStrings(names, []string{"ops", "pay-api", "pay-batch", "plain-tagged", "retired", "search"}) || !equalInts(sizes, []int{2, 2, 2}) {
		t.Fatalf("%v pages %v", names, sizes)
	}
	got, sizes = getResources(t, c, &tagging.GetResourcesInput{ResourcesPerPage: aws.Int32(2), TagFilters: []ttypes.TagFilter{filter("team", "payments", "search")}})
	if names := resourceNames(got); !equalStrings(names, []string{"pay-api", "pay-batch", "plain-tagged", "search"}) || !equalInts(sizes, []int{2, 2}) {
		t.Fatalf("filtered: %v pages %v", names, sizes)
	}
	out, err := c.GetResources(context.Background(), &tagging.GetResourcesInput{ResourcesPerPage: aws.Int32(5)})
	if err != nil || len(out.ResourceTagMappingList) != 5 || aws.ToString(out.PaginationToken) == "" {
		t.Fatalf("%v %+v", err, out)
	}
	last, err := c.GetResources(context.Background(), &tagging.GetResourcesInput{ResourcesPerPage: aws.Int32(5), PaginationToken: out.PaginationToken})
	if err != nil || len(last.ResourceTagMappingList) != 1 || aws.ToString(last.PaginationToken) != "" {
		t.Fatalf("%v %+v", err, last)
	}
}

func TestWorldTaggingErrors(t *testing.T) {
	_, c := tagWorld(t)
	for _, in := range []*tagging.GetResourcesInput{
		{ResourcesPerPage: aws.Int32(101)},
		{ResourcesPerPage: aws.Int32(0)},
		{PaginationToken: aws.String("garbage")},
		{TagFilters: []ttypes.TagFilter{{Values: []string{"x"}}}},
		{ResourceARNList: []string{"arn:aws:lambda:us-east-1:111111111111:function:ops"}, TagFilters: []ttypes.TagFilter{filter("team")}},
	} {
		_, err := c.GetResources(context.Background(), in)
		var ipe *ttypes.InvalidParameterException
		if !errors.As(err, &ipe) || ipe.ErrorMessage() == "" {
			t.Fatalf("%+v: %v", in, err)
		}
		if _, _, status := apiError(t, err); status != 400 {
			t.Fatalf("status %d", status)
		}
	}
	out, err := c.GetResources(context.Background(), &tagging.GetResourcesInput{ResourceARNList: []string{
		"arn:aws:lambda:us-east-1:111111111111:function:ops", "arn:aws:lambda:us-east-1:111111111111:function:untagged",
	}})
	if err != nil || !equalStrings(resourceNames(out.ResourceTagMappingList), []string{"ops"}) {
		t.Fatalf("ARN list: %v %+v", err, out)
	}
}
