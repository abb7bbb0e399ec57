package k8senv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// CodeNotAudited: GET /v1/leases/{lease}/audit of an instance whose environment has no audit:
// in k8senv.yaml.
const CodeNotAudited = "not-audited"

// AuditEvent is one request a leased instance completed, from its audit log
// (docs/explanation/audit.md).
type AuditEvent struct {
	Time       time.Time `json:"time"`       // when kube-apiserver received it
	Instance   string    `json:"instance"`   // e.g. "capi-0"
	User       string    `json:"user"`       // e.g. "k8senv-admin"
	Verb       string    `json:"verb"`       // get, list, create, update, patch, delete, …
	Resource   string    `json:"resource"`   // "configmaps", "deployments.apps/status"; the path of a non-resource request
	Namespace  string    `json:"namespace"`  // "" when none
	Name       string    `json:"name"`       // "" when none
	Code       int       `json:"code"`       // the response's status code; 0 when none was recorded
	LatencyMs  float64   `json:"latencyMs"`  // received to response complete
	RequestURI string    `json:"requestURI"` // path and query
	AuditID    string    `json:"auditID"`
	UserAgent  string    `json:"userAgent"`
}

// Mutating reports whether the request asked to change something: create, update, patch,
// delete or deletecollection.
func (e AuditEvent) Mutating() bool {
	switch e.Verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

// AuditEvents returns the requests the lease's instance completed since the lease was granted
// (or since since, when later; the zero time means the grant), oldest first. It fails with code
// CodeNotAudited when the environment has no audit:, CodeLeaseNotFound for an ended lease.
// Unless ctx has a deadline, the request has one of 30 s.
func (c *Client) AuditEvents(ctx context.Context, lease string, since time.Time) ([]AuditEvent, error) {
	if lease == "" {
		return nil, errors.New("k8senv pool: audit: empty lease id")
	}
	path := "/v1/leases/" + url.PathEscape(lease) + "/audit"
	if !since.IsZero() {
		path += "?since=" + url.QueryEscape(since.UTC().Format(time.RFC3339Nano))
	}
	var answer struct {
		Lease    string       `json:"lease"`
		Instance string       `json:"instance"`
		Events   []AuditEvent `json:"events"`
	}
	if err := c.do(ctx, http.MethodGet, path, nil, statusTimeout, &answer); err != nil {
		return nil, err
	}
	if answer.Events == nil {
		answer.Events = []AuditEvent{}
	}
	return answer.Events, nil
}

// AuditEvents returns the requests this instance completed during its lease (see
// Client.AuditEvents).
func (i *Instance) AuditEvents(ctx context.Context, since time.Time) ([]AuditEvent, error) {
	if i.client == nil {
		return nil, fmt.Errorf("k8senv pool: audit of lease %q: the instance was not returned by Acquire", i.Lease)
	}
	return i.client.AuditEvents(ctx, i.Lease, since)
}
