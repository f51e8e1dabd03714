package lambdasim

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

// STS (awsQuery, API version 2011-06-15).
const (
	stsVersion             = "2011-06-15"
	defaultSessionDuration = 3600
	minSessionDuration     = 900
	maxSessionDuration     = 43200
	// roleMaxSessionDuration is every simulated role's MaxSessionDuration
	// (the AWS default).
	roleMaxSessionDuration = 3600
	maxSTSBody             = 1 << 20
)

var (
	roleSessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	externalIDPattern      = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Result  struct {
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string
			SessionToken    string
			Expiration      string
		}
		AssumedRoleUser struct {
			AssumedRoleID string `xml:"AssumedRoleId"`
			Arn           string
		}
	} `xml:"AssumeRoleResult"`
	ResponseMetadata responseMetadata
}

type getCallerIdentityResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
	Result  struct {
		Arn     string
		UserID  string `xml:"UserId"`
		Account string
	} `xml:"GetCallerIdentityResult"`
	ResponseMetadata responseMetadata
}

func stsValidation(format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ValidationError", message: fmt.Sprintf(format, a...)}
}

// serveSTS serves an authenticated STS request (form-encoded, normally
// POST /), counted in part, the caller's partition.
func (w *World) serveSTS(rw http.ResponseWriter, r *http.Request, pr *principal, part *Server) {
	p := stsProtocol{}
	r.Body = http.MaxBytesReader(rw, r.Body, maxSTSBody)
	if err := r.ParseForm(); err != nil {
		writeResponse(rw, p.errorResponse(&apiError{status: http.StatusBadRequest, code: "MalformedInput", message: err.Error()}, ""))
		return
	}
	form := r.Form
	action, version := form.Get("Action"), form.Get("Version")
	if (action != OpAssumeRole && action != OpGetCallerIdentity) || version != stsVersion {
		writeResponse(rw, p.errorResponse(&apiError{status: http.StatusBadRequest, code: "InvalidAction",
			message: fmt.Sprintf("Could not find operation %s for version %s", action, version)}, ""))
		return
	}
	part.handle(rw, r, p, action, form, func(reqID string) *response {
		var body any
		var aerr *apiError
		if action == OpAssumeRole {
			body, aerr = w.assumeRole(pr, form, reqID)
		} else {
			body = w.callerIdentity(pr, reqID)
		}
		if aerr != nil {
			return p.errorResponse(aerr, reqID)
		}
		b, err := xml.Marshal(body)
		if err != nil {
			return p.errorResponse(&apiError{status: http.StatusInternalServerError, code: "InternalFailure", message: err.Error()}, reqID)
		}
		return &response{status: http.StatusOK, header: p.header(reqID), body: append([]byte(xml.Header), b...)}
	})
}

func (w *World) callerIdentity(pr *principal, reqID string) any {
	var out getCallerIdentityResponse
	out.Result.Arn, out.Result.UserID, out.Result.Account = pr.arn(), pr.userID(), pr.account
	out.ResponseMetadata.RequestID = reqID
	return out
}

// assumeRole validates an AssumeRole request as STS does and issues
// temporary credentials for the role's account.
func (w *World) assumeRole(pr *principal, form url.Values, reqID string) (any, *apiError) {
	roleARN, hasARN := form["RoleArn"]
	session, hasSession := form["RoleSessionName"]
	switch {
	case !hasARN:
		return nil, stsValidation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	case len(roleARN[0]) < 20 || len(roleARN[0]) > 2048:
		return nil, stsValidation("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048", roleARN[0])
	case !hasSession:
		return nil, stsValidation("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
	case !roleSessionNamePattern.MatchString(session[0]):
		return nil, stsValidation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64", session[0])
	}
	duration := defaultSessionDuration
	if d := form.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		switch {
		case err != nil:
			return nil, stsValidation("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be an integer", d)
		case n < minSessionDuration:
			return nil, stsValidation("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", n, minSessionDuration)
		case n > maxSessionDuration:
			return nil, stsValidation("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to %d", n, maxSessionDuration)
		}
		duration = n
	}
	extID, hasExtID := form["ExternalId"]
	if hasExtID && (len(extID[0]) < 2 || len(extID[0]) > 1224 || !externalIDPattern.MatchString(extID[0])) {
		return nil, stsValidation("1 validation error detected: Value '%s' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]* and have length between 2 and 1224", extID[0])
	}

	w.mu.RLock()
	rl := w.roles[roleARN[0]]
	var wantExtID string
	if rl != nil {
		wantExtID = rl.externalID
	}
	w.mu.RUnlock()
	if rl == nil || (wantExtID != "" && (!hasExtID || extID[0] != wantExtID)) {
		return nil, &apiError{status: http.StatusForbidden, code: "AccessDenied",
			message: "User: " + pr.arn() + " is not authorized to perform: sts:AssumeRole on resource: " + roleARN[0]}
	}
	if duration > roleMaxSessionDuration {
		return nil, stsValidation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}

	expires := w.opts.Now().Add(time.Duration(duration) * time.Second).Truncate(time.Second)
	w.mu.Lock()
	np := w.newPrincipalLocked("ASIA", rl.account)
	np.role, np.session, np.expires = rl, session[0], expires
	np.token = sessionToken(np.accessKey)
	rl.issued++
	w.mu.Unlock()

	var out assumeRoleResponse
	c := &out.Result.Credentials
	c.AccessKeyID, c.SecretAccessKey, c.SessionToken = np.accessKey, np.secret, np.token
	c.Expiration = expires.UTC().Format(time.RFC3339)
	out.Result.AssumedRoleUser.AssumedRoleID = np.userID()
	out.Result.AssumedRoleUser.Arn = np.arn()
	out.ResponseMetadata.RequestID = reqID
	return out, nil
}
