package scrape

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	taggingtypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Discovery operation names, as api_requests_total labels them.
const (
	OpListFunctions = "ListFunctions"
	OpGetResources  = "GetResources"
)

// Access says where and as whom to call AWS.
type Access struct {
	Account    string // 12-digit account; "" when not known (the default credentials' own)
	Region     string // "" means the default region
	RoleARN    string // assumed with STS when set
	ExternalID string
}

func (a Access) key() string {
	return a.Budget() + "/" + a.RoleARN + "/" + a.ExternalID
}

// Budget identifies the account and region whose request budgets (rate
// limits, concurrent polls) the access draws on, whatever the role.
func (a Access) Budget() string { return a.Account + "/" + a.Region }

// credentials returns the (cached) credentials for a role, or the base ones.
func (p *Pool) credentials(a Access) aws.CredentialsProvider {
	if a.RoleARN == "" {
		return p.base.Credentials
	}
	k := a.RoleARN + "\x00" + a.ExternalID
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.creds[k]; ok {
		return c
	}
	stsCfg := p.base.Copy()
	if a.Region != "" {
		stsCfg.Region = a.Region
	}
	client := sts.NewFromConfig(stsCfg)
	prov := stscreds.NewAssumeRoleProvider(client, a.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "lambda-durable-exporter"
		if a.ExternalID != "" {
			o.ExternalID = aws.String(a.ExternalID)
		}
	})
	// The cache refreshes the assumed-role credentials one to two minutes
	// before they expire (jittered), so no request goes out with expiring
	// credentials and many roles do not all refresh at once.
	c := aws.NewCredentialsCache(prov, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = 2 * time.Minute
		o.ExpiryWindowJitterFrac = 0.5
	})
	p.creds[k] = c
	return c
}

// configFor returns the SDK configuration for an access: region and
// credentials; the caller adds the instrumented transport.
func (p *Pool) configFor(a Access) aws.Config {
	cfg := p.base.Copy()
	if a.Region != "" {
		cfg.Region = a.Region
	}
	cfg.Credentials = p.credentials(a)
	return cfg
}

// Function is a durable function found by discovery.
type Function struct {
	Name, ARN, Account, Region string
	// ExecutionTimeout is its DurableConfig.ExecutionTimeout; 0 when the
	// configuration carries none.
	ExecutionTimeout time.Duration
}

// Discoverer finds durable functions in one account and region.
type Discoverer struct {
	lambda  *lambda.Client
	tagging *tagging.Client
	sts     *sts.Client
	access  Access
}

// Discoverer returns the discovery client for an access.
func (p *Pool) Discoverer(a Access) *Discoverer {
	if a.Region == "" {
		a.Region = p.base.Region
	}
	cfg := p.configFor(a)
	tr := p.transport(a)
	lc := lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		o.HTTPClient = tr
		o.Retryer = p.retryer()
		if p.opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(p.opts.Endpoint)
		}
	})
	tc := tagging.NewFromConfig(cfg, func(o *tagging.Options) {
		o.HTTPClient = tr
		o.Retryer = p.retryer()
	})
	return &Discoverer{lambda: lc, tagging: tc, sts: sts.NewFromConfig(cfg), access: a}
}

// DurableFunctions pages through ListFunctions and returns the functions
// whose configuration has a DurableConfig.
func (d *Discoverer) DurableFunctions(ctx context.Context) ([]Function, error) {
	var out []Function
	p := lambda.NewListFunctionsPaginator(d.lambda, &lambda.ListFunctionsInput{MaxItems: aws.Int32(50)})
	seen := map[string]struct{}{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list functions: %w", err)
		}
		for _, f := range page.Functions {
			if f.DurableConfig == nil || f.FunctionName == nil {
				continue
			}
			fn := Function{Name: *f.FunctionName, ARN: aws.ToString(f.FunctionArn), Region: d.region()}
			fn.Account = AccountOf(fn.ARN)
			fn.ExecutionTimeout, _ = executionTimeout(f.DurableConfig)
			out = append(out, fn)
		}
		if m := aws.ToString(page.NextMarker); m != "" {
			if _, dup := seen[m]; dup {
				return nil, fmt.Errorf("list functions: %w", ErrRepeatedMarker)
			}
			seen[m] = struct{}{}
		}
	}
	return out, nil
}

// TaggedFunctions returns the ARNs of the Lambda functions that carry every
// one of tags, in as few calls as the Tagging API allows: one paged
// GetResources with all filters.
func (d *Discoverer) TaggedFunctions(ctx context.Context, tags map[string]string) (map[string]bool, error) {
	in := &tagging.GetResourcesInput{ResourceTypeFilters: []string{"lambda:function"}, ResourcesPerPage: aws.Int32(100)}
	for k, v := range tags {
		in.TagFilters = append(in.TagFilters, taggingtypes.TagFilter{Key: aws.String(k), Values: []string{v}})
	}
	out := map[string]bool{}
	p := tagging.NewGetResourcesPaginator(d.tagging, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("get tagged resources: %w", err)
		}
		for _, r := range page.ResourceTagMappingList {
			out[aws.ToString(r.ResourceARN)] = true
		}
	}
	return out, nil
}

// CallerAccount asks STS which account the credentials belong to.
func (d *Discoverer) CallerAccount(ctx context.Context) (string, error) {
	out, err := d.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("get caller identity: %w", err)
	}
	return aws.ToString(out.Account), nil
}

func (d *Discoverer) region() string { return d.lambda.Options().Region }

// AccountOf returns the account in an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:...), or "".
func AccountOf(arn string) string {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 6 || p[0] != "arn" {
		return ""
	}
	return p[4]
}
