package lambdasim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

func TestWorldGetCallerIdentity(t *testing.T) {
	h := newWorldHarness(t, lambdasim.WorldOptions{}, t0)
	akA, skA := h.w.AddAccount(acctA)
	akB, skB := h.w.AddAccount(acctB)
	akA2, skA2 := h.w.AddAccount(acctA)
	if !strings.HasPrefix(akA, "AKIA") || len(akA) != 20 || len(skA) != 40 || akA == akA2 || akA == akB {
		t.Fatalf("keys %q %q %q", akA, akA2, akB)
	}
	for _, c := range []struct{ ak, sk, account, region string }{
		{akA, skA, acctA, regUS}, {akA2, skA2, acctA, regEU}, {akB, skB, acctB, regUS},
	} {
		out, err := h.sts(c.region, static(c.ak, c.sk)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.Account) != c.account || aws.ToString(out.Arn) != "arn:aws:iam::"+c.account+":user/sim" ||
			!strings.HasPrefix(aws.ToString(out.UserId), "AIDA") || len(aws.ToString(out.UserId)) != 21 {
			t.Fatalf("%+v", out)
		}
	}
	if n := h.w.RequestsIn(acctA, regEU)[lambdasim.OpGetCallerIdentity]; n != 1 {
		t.Fatalf("RequestsIn = %v", h.w.RequestsIn(acctA, regEU))
	}
	if n := h.w.Requests()[lambdasim.OpGetCallerIdentity]; n != 3 {
		t.Fatalf("Requests = %v", h.w.Requests())
	}
}

// roleWorld has a hub account with long-term keys, a role in account B
// that requires an external ID, and executions of "orders" in B/us-east-1.
func roleWorld(t *testing.T, start time.Time) (h *worldHarness, hubKey, hubSecret string, execs []string) {
	h = newWorldHarness(t, lambdasim.WorldOptions{}, start)
	hubKey, hubSecret = h.w.AddAccount(acctA)
	h.w.AddRole(roleARN, "ext-123")
	p := h.w.Partition(acctB, regUS)
	for i := range 3 {
		execs = append(execs, p.Start("orders", "", "", start.Add(-time.Duration(i+1)*time.Minute)))
	}
	return h, hubKey, hubSecret, execs
}

func assumeRoleCache(h *worldHarness, hubKey, hubSecret, externalID string) *aws.CredentialsCache {
	stsClient := h.sts(regUS, static(hubKey, hubSecret))
	prov := stscreds.NewAssumeRoleProvider(stsClient, roleARN, func(o *stscreds.AssumeRoleOptions) {
		if externalID != "" {
			o.ExternalID = aws.String(externalID)
		}
		o.RoleSessionName = "lde"
		o.Duration = 15 * time.Minute
	})
	return aws.NewCredentialsCache(prov)
}

// TestWorldAssumeRole drives stscreds and the SDK's credentials cache. The
// cache decides expiry on the real clock, so the World's clock starts at
// the real time: within the 15-minute session one AssumeRole serves every
// call. Advancing only the fake clock past the expiration makes the World
// reject the cached credentials (ExpiredTokenException); after the cache is
// invalidated, the next call assumes the role again.
func TestWorldAssumeRole(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Second)
	h, hubKey, hubSecret, execs := roleWorld(t, start)
	cache := assumeRoleCache(h, hubKey, hubSecret, "ext-123")
	lc := h.lambda(regUS, cache)
	ctx := context.Background()

	for i := range 5 {
		out, err := lc.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("orders")})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if got := arns(out.DurableExecutions); !equalStrings(got, execs) {
			t.Fatalf("listing %v, want %v", got, execs)
		}
	}
	if n, issued := h.w.Requests()[lambdasim.OpAssumeRole], h.w.IssuedSessions(roleARN); n != 1 || issued != 1 {
		t.Fatalf("AssumeRole calls %d, sessions issued %d, want 1", n, issued)
	}
	// AssumeRole counts in the caller's partition, the listing in the
	// role's.
	if a, b := h.w.RequestsIn(acctA, regUS), h.w.RequestsIn(acctB, regUS); a[lambdasim.OpAssumeRole] != 1 || b[lambdasim.OpList] != 5 || b[lambdasim.OpAssumeRole] != 0 {
		t.Fatalf("hub %v, role account %v", a, b)
	}

	creds, err := cache.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(creds.AccessKeyID, "ASIA") || creds.SessionToken == "" || !creds.CanExpire ||
		!creds.Expires.Equal(start.Add(15*time.Minute)) || creds.AccountID != acctB {
		t.Fatalf("credentials %+v", creds)
	}
	id, err := h.sts(regUS, cache).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Account) != acctB || aws.ToString(id.Arn) != "arn:aws:sts::222222222222:assumed-role/exporter-read/lde" ||
		!strings.HasPrefix(aws.ToString(id.UserId), "AROA") || !strings.HasSuffix(aws.ToString(id.UserId), ":lde") {
		t.Fatalf("identity %+v", id)
	}

	// The session expires on the World's clock.
	h.clock.Advance(15 * time.Minute)
	_, err = lc.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("orders")})
	if code, msg, status := apiError(t, err); code != "ExpiredTokenException" || status != 403 ||
		msg != "The security token included in the request is expired" {
		t.Fatalf("after expiry: %s %q %d", code, msg, status)
	}
	if n := h.w.Requests()[lambdasim.OpAssumeRole]; n != 1 {
		t.Fatalf("AssumeRole calls %d before invalidation", n)
	}
	cache.Invalidate()
	out, err := lc.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("orders")})
	if err != nil || len(out.DurableExecutions) != 3 {
		t.Fatalf("after refresh: %v", err)
	}
	fresh, _ := cache.Retrieve(ctx)
	if n := h.w.Requests()[lambdasim.OpAssumeRole]; n != 2 || fresh.AccessKeyID == creds.AccessKeyID ||
		!fresh.Expires.Equal(start.Add(30*time.Minute)) {
		t.Fatalf("AssumeRole calls %d, fresh %+v", n, fresh)
	}
}

// TestWorldCredentialsCacheUsesRealClock documents the pitfall: with the
// World's clock far behind the real one, issued credentials look expired
// to the SDK's cache at once, so it assumes the role before every call.
func TestWorldCredentialsCacheUsesRealClock(t *testing.T) {
	h, hubKey, hubSecret, _ := roleWorld(t, time.Now().Add(-2*time.Hour))
	lc := h.lambda(regUS, assumeRoleCache(h, hubKey, hubSecret, "ext-123"))
	for range 3 {
		if _, err := lc.ListDurableExecutionsByFunction(context.Background(), &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("orders")}); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.w.Requests()[lambdasim.OpAssumeRole]; n != 3 {
		t.Fatalf("AssumeRole calls %d, want 3", n)
	}
}

func TestWorldAssumeRoleDenied(t *testing.T) {
	h, hubKey, hubSecret, _ := roleWorld(t, t0)
	ctx := context.Background()
	for _, ext := range []string{"wrong-id", ""} {
		lc := h.lambda(regUS, assumeRoleCache(h, hubKey, hubSecret, ext))
		_, err := lc.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("orders")})
		code, msg, status := apiError(t, err)
		if code != "AccessDenied" || status != 403 ||
			msg != "User: arn:aws:iam::111111111111:user/sim is not authorized to perform: sts:AssumeRole on resource: "+roleARN {
			t.Fatalf("external ID %q: %s %q %d (%v)", ext, code, msg, status, err)
		}
	}
	// Unknown role.
	_, err := h.sts(regUS, static(hubKey, hubSecret)).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::222222222222:role/nope"), RoleSessionName: aws.String("s1"), ExternalId: aws.String("ext-123"),
	})
	if code, _, status := apiError(t, err); code != "AccessDenied" || status != 403 {
		t.Fatalf("unknown role: %s %d", code, status)
	}
	if n := h.w.RequestsIn(acctB, regUS)[lambdasim.OpList]; n != 0 {
		t.Fatalf("denied callers reached the durable API: %d", n)
	}
	if n, issued := h.w.Requests()[lambdasim.OpAssumeRole], h.w.IssuedSessions(roleARN); n != 3 || issued != 0 {
		t.Fatalf("AssumeRole count %d, issued %d", n, issued)
	}
}

func TestWorldAssumeRoleWire(t *testing.T) {
	h, hubKey, hubSecret, _ := roleWorld(t, t0)
	c := h.sts(regUS, static(hubKey, hubSecret))
	ctx := context.Background()
	// DurationSeconds defaults to 3600 on the wire when absent.
	out, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("direct"), ExternalId: aws.String("ext-123")})
	if err != nil {
		t.Fatal(err)
	}
	cr, u := out.Credentials, out.AssumedRoleUser
	if !aws.ToTime(cr.Expiration).Equal(time.Date(2025, 11, 28, 10, 0, 0, 0, time.UTC)) || // t0 + 1h, whole seconds
		!strings.HasPrefix(aws.ToString(cr.AccessKeyId), "ASIA") || len(aws.ToString(cr.SecretAccessKey)) != 40 ||
		aws.ToString(u.Arn) != "arn:aws:sts::222222222222:assumed-role/exporter-read/direct" ||
		!strings.HasPrefix(aws.ToString(u.AssumedRoleId), "AROA") || !strings.HasSuffix(aws.ToString(u.AssumedRoleId), ":direct") {
		t.Fatalf("%+v %+v %+v", out, cr, u)
	}
	// The issued session works against the Lambda API of account B, and
	// only with its session token.
	good := credentials.NewStaticCredentialsProvider(aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), aws.ToString(cr.SessionToken))
	if _, err := h.lambda(regUS, good).ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"", "forged"} {
		bad := credentials.NewStaticCredentialsProvider(aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), tok)
		_, err := h.lambda(regUS, bad).ListFunctions(ctx, &lambda.ListFunctionsInput{})
		if code, _, status := apiError(t, err); code != "UnrecognizedClientException" || status != 403 {
			t.Fatalf("token %q: %s %d", tok, code, status)
		}
	}

	for _, c2 := range []struct {
		in   *sts.AssumeRoleInput
		code string
	}{
		{&sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("x"), ExternalId: aws.String("ext-123")}, "ValidationError"},
		{&sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String("ext-123"), DurationSeconds: aws.Int32(600)}, "ValidationError"},
		{&sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String("ext-123"), DurationSeconds: aws.Int32(7200)}, "ValidationError"},
		{&sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String("ext-124")}, "AccessDenied"},
	} {
		_, err := c.AssumeRole(ctx, c2.in)
		code, _, status := apiError(t, err)
		if wantStatus := map[string]int{"ValidationError": 400, "AccessDenied": 403}[c2.code]; code != c2.code || status != wantStatus {
			t.Fatalf("%+v: %s %d (%v)", c2.in, code, status, err)
		}
	}
}
