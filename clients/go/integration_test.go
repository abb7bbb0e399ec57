package k8senv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// Integration tests against a running pool service (clients/test.sh --integration):
// K8SENV_POOL_INTEGRATION=1, K8SENV_POOL naming its socket (or a .k8senv/pool.sock above the
// current folder). Twenty parallel tests each lease an instance of K8SENV_POOL_ENV
// (default "isolation") and create the same namespace in it: each must find the instance as
// its snapshot left it, seeds included, and nothing of another test.

const integrationTests = 20

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type customResource struct{ group, version, plural, kind string }

func TestIntegration(t *testing.T) {
	if os.Getenv("K8SENV_POOL_INTEGRATION") != "1" {
		t.Skip("integration test against a running k8senv pool service: set K8SENV_POOL_INTEGRATION=1 and K8SENV_POOL (see clients/test.sh --integration)")
	}
	env := getenv("K8SENV_POOL_ENV", "isolation")
	cr := customResource{
		group:   getenv("K8SENV_POOL_CR_GROUP", "example.k8senv.dev"),
		version: getenv("K8SENV_POOL_CR_VERSION", "v1"),
		plural:  getenv("K8SENV_POOL_CR_PLURAL", "widgets"),
		kind:    getenv("K8SENV_POOL_CR_KIND", "Widget"),
	}
	var spec map[string]any
	specJSON := getenv("K8SENV_POOL_CR_SPEC", `{"color":"blue"}`)
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		t.Fatalf("K8SENV_POOL_CR_SPEC=%s: %v", specJSON, err)
	}
	seed := getenv("K8SENV_POOL_SEED", "seeded/greeting")
	seedNS, seedName, ok := strings.Cut(seed, "/")
	if !ok || seedNS == "" || seedName == "" {
		t.Fatalf("K8SENV_POOL_SEED=%q: want namespace/configmapname", seed)
	}

	for i := 0; i < integrationTests; i++ {
		i := i
		t.Run(fmt.Sprintf("isolated-%02d", i), func(t *testing.T) {
			t.Parallel()
			inst, err := Acquire(t, env)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("lease %s: instance %s of %s at %s", inst.Lease, inst.Name, inst.Environment, inst.Server)
			kube := newKubeClient(t, inst)
			const ns = "isolated"

			// The same namespace in every test: created, not AlreadyExists.
			kube.mustCreate(t, "/api/v1/namespaces", map[string]any{
				"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns},
			})
			cm := fmt.Sprintf("mine-%d", i)
			kube.mustCreate(t, "/api/v1/namespaces/"+ns+"/configmaps", map[string]any{
				"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": cm, "namespace": ns},
				"data":     map[string]string{"test": fmt.Sprint(i)},
			})
			crPath := fmt.Sprintf("/apis/%s/%s/namespaces/%s/%s", cr.group, cr.version, ns, cr.plural)
			widget := fmt.Sprintf("w-%d", i)
			kube.mustCreate(t, crPath, map[string]any{
				"apiVersion": cr.group + "/" + cr.version, "kind": cr.kind,
				"metadata": map[string]any{"name": widget, "namespace": ns},
				"spec":     spec,
			})

			// kube-root-ca.crt is published into every namespace by kube-controller-manager
			// when one runs; it is nobody's test object.
			if got := kube.listNames(t, "/api/v1/namespaces/"+ns+"/configmaps", "kube-root-ca.crt"); !equal(got, []string{cm}) {
				t.Errorf("ConfigMaps in %s on %s: %v, want only this test's [%s]", ns, inst.Name, got, cm)
			}
			if got := kube.listNames(t, crPath, ""); !equal(got, []string{widget}) {
				t.Errorf("%s in %s on %s: %v, want only this test's [%s]", cr.plural, ns, inst.Name, got, widget)
			}

			// The environment's seeds are there.
			status, body, err := kube.do(http.MethodGet, "/api/v1/namespaces/"+seedNS+"/configmaps/"+seedName, nil)
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusOK {
				t.Errorf("seeded ConfigMap %s on %s: HTTP %d: %s", seed, inst.Name, status, snippet(body))
			}
		})
	}
}

// kubeClient sends authenticated JSON requests to a leased instance's kube-apiserver.
type kubeClient struct {
	server, token string
	http          *http.Client
}

func newKubeClient(t *testing.T, inst *Instance) *kubeClient {
	t.Helper()
	pem := []byte(inst.CACertificate)
	if len(pem) == 0 {
		var err error
		if pem, err = os.ReadFile(inst.CAFile); err != nil {
			t.Fatalf("the lease has no caCertificate, and its caFile: %v", err)
		}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("the lease's CA certificate is not PEM: %q", snippet(pem))
	}
	tr := &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &kubeClient{server: strings.TrimRight(inst.Server, "/"), token: inst.Token, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (k *kubeClient) do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, k.server+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp.StatusCode, data, nil
}

func (k *kubeClient) mustCreate(t *testing.T, path string, obj map[string]any) {
	t.Helper()
	status, body, err := k.do(http.MethodPost, path, obj)
	if err != nil {
		t.Fatal(err)
	}
	switch status {
	case http.StatusCreated:
	case http.StatusConflict:
		t.Fatalf("POST %s: AlreadyExists (HTTP 409): another holder's objects are visible: %s", path, snippet(body))
	default:
		t.Fatalf("POST %s: HTTP %d: %s", path, status, snippet(body))
	}
}

// listNames lists a collection and returns its items' names, sorted, less the name skip.
func (k *kubeClient) listNames(t *testing.T, path, skip string) []string {
	t.Helper()
	status, body, err := k.do(http.MethodGet, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d: %s", path, status, snippet(body))
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	names := []string{}
	for _, item := range list.Items {
		if item.Metadata.Name != skip {
			names = append(names, item.Metadata.Name)
		}
	}
	sort.Strings(names)
	return names
}

func equal(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

// TestIntegrationAudit: the audit events of a lease of K8SENV_POOL_AUDIT_ENV (default "audited",
// an environment with audit: in clients/testdata/k8senv.yaml; a pool of one) are that lease's
// requests: its create is there with its code, and two leases of the same instance one after the
// other do not see each other's. A lease of K8SENV_POOL_ENV (no audit:) is told not-audited.
func TestIntegrationAudit(t *testing.T) {
	if os.Getenv("K8SENV_POOL_INTEGRATION") != "1" {
		t.Skip("integration test against a running k8senv pool service: set K8SENV_POOL_INTEGRATION=1 and K8SENV_POOL (see clients/test.sh --integration)")
	}
	ctx := context.Background()
	auditEnv := getenv("K8SENV_POOL_AUDIT_ENV", "audited")
	instances := map[string]bool{}
	for _, name := range []string{"first-lease", "second-lease"} {
		inst, err := Acquire(t, auditEnv)
		if err != nil {
			t.Fatal(err)
		}
		instances[inst.Name] = true
		kube := newKubeClient(t, inst)
		kube.mustCreate(t, "/api/v1/namespaces/default/configmaps", map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name},
		})
		events, err := inst.AuditEvents(ctx, time.Time{})
		if err != nil {
			t.Fatalf("AuditEvents of lease %s: %v", inst.Lease, err)
		}
		found := false
		for _, e := range events {
			if e.Instance != inst.Name {
				t.Errorf("lease %s of %s: an event of instance %q: %+v", inst.Lease, inst.Name, e.Instance, e)
			}
			if e.Verb != "create" || e.Resource != "configmaps" {
				continue
			}
			if e.Name != name {
				t.Errorf("lease %s sees another lease's request: create configmaps %s/%s", inst.Lease, e.Namespace, e.Name)
				continue
			}
			if e.Namespace == "default" && e.Code == http.StatusCreated && e.Mutating() && !e.Time.IsZero() {
				found = true
			}
		}
		if !found {
			t.Errorf("lease %s of %s: no \"create configmaps default/%s 201\" among its %d events: %+v", inst.Lease, inst.Name, name, len(events), events)
		}
		later, err := inst.AuditEvents(ctx, time.Now().Add(time.Hour))
		if err != nil || len(later) != 0 {
			t.Errorf("AuditEvents since an hour from now: %d events, error %v; want none", len(later), err)
		}
		if err := inst.Release(ctx, ModeReset); err != nil {
			t.Fatal(err)
		}
		if _, err := inst.AuditEvents(ctx, time.Time{}); ErrorCode(err) != CodeLeaseNotFound {
			t.Errorf("AuditEvents of the released lease %s: %v; want code %s", inst.Lease, err, CodeLeaseNotFound)
		}
	}
	if len(instances) != 1 {
		t.Errorf("the two leases of %s had instances %v: want the pool's one instance both times", auditEnv, instances)
	}

	plain, err := Acquire(t, getenv("K8SENV_POOL_ENV", "isolation"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.AuditEvents(ctx, time.Time{}); ErrorCode(err) != CodeNotAudited {
		t.Errorf("AuditEvents of a lease of %s (no audit:): %v; want code %s", plain.Environment, err, CodeNotAudited)
	}
}
