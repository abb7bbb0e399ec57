package k8senv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The client's unit tests, against a fake service on a Unix socket: the parsing of answers and
// the handling of errors. The service itself is tested against these clients by
// integration_test.go.

const leaseID = "5f0c2d3e8a6b4c1d9e7f0a1b2c3d4e5f"

const acquireAnswer = `{
  "lease": "` + leaseID + `",
  "environment": "capi",
  "instance": "capi-0",
  "server": "https://127.0.0.1:39211",
  "caCertificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
  "caFile": "/repo/.k8senv/run-1/capi-0/pki/ca.crt",
  "token": "secret-token",
  "kubeconfig": "/repo/.k8senv/run-1/capi-0/kubeconfig",
  "holder": 4242,
  "expiresAt": "2026-12-01T13:20:30Z",
  "webhook": {"host": "127.0.0.1", "port": 42817, "certDir": "/repo/.k8senv/run-1/webhook"},
  "users": {
    "alice": {"token": "alice-token", "kubeconfig": "/repo/.k8senv/run-1/capi-0/users/alice.kubeconfig"},
    "bob": {"token": "bob-token", "kubeconfig": "/repo/.k8senv/run-1/capi-0/users/bob.kubeconfig"}
  }
}`

type request struct {
	Method, Path, Query, ContentType string
	Body                             []byte
}

// fakePool is an HTTP server on a Unix socket that records requests and answers with handle.
type fakePool struct {
	sock     string
	mu       sync.Mutex
	requests []request
	handle   func(w http.ResponseWriter, r request)
}

// shortTempDir is a fresh folder with a short path: a socket's path has at most 107 bytes.
func shortTempDir(t *testing.T) string {
	t.Helper()
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "k8senv-go-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func startFakePool(t *testing.T, sock string, handle func(w http.ResponseWriter, r request)) *fakePool {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	p := &fakePool{sock: sock, handle: handle}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, ContentType: r.Header.Get("Content-Type"), Body: body}
		p.mu.Lock()
		p.requests = append(p.requests, req)
		p.mu.Unlock()
		w.Header().Set("Connection", "close")
		p.handle(w, req)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

func (p *fakePool) recorded() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]request(nil), p.requests...)
}

func answer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// poolHandler answers acquires with acquireAnswer and releases with 200.
func poolHandler(w http.ResponseWriter, r request) {
	switch {
	case r.Method == http.MethodPost && r.Path == "/v1/leases":
		answer(w, http.StatusCreated, acquireAnswer)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.Path, "/v1/leases/"):
		answer(w, http.StatusOK, fmt.Sprintf(`{"lease":%q,"instance":"capi-0","mode":"reset","replaced":false}`, strings.TrimPrefix(r.Path, "/v1/leases/")))
	case r.Method == http.MethodGet && r.Path == "/v1/status":
		answer(w, http.StatusOK, `{"version":1,"pid":5150,"environments":[]}`)
	default:
		answer(w, http.StatusNotFound, `{"error":{"code":"not-found","message":"no such path"}}`)
	}
}

func newPool(t *testing.T, handle func(w http.ResponseWriter, r request)) *fakePool {
	return startFakePool(t, filepath.Join(shortTempDir(t), "pool.sock"), handle)
}

// isolate points discovery at nothing: no K8SENV_POOL, and a current folder without
// .k8senv above it.
func isolate(t *testing.T) string {
	t.Helper()
	t.Setenv(EnvSocket, "")
	t.Setenv(EnvEnvironment, "")
	t.Setenv(EnvTimeout, "")
	dir := shortTempDir(t)
	chdir(t, dir)
	return dir
}

func chdir(t *testing.T, dir string) {
	t.Helper()
	old, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Chdir(old); err != nil {
			t.Errorf("back to %s: %v", old, err)
		}
	})
}

func TestAcquireParsesEveryField(t *testing.T) {
	p := newPool(t, poolHandler)
	c := NewClient(p.sock)
	inst, err := c.Acquire(context.Background(), AcquireOptions{Environment: "capi", Timeout: 5 * time.Second, Holder: 4242, TTL: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Date(2026, 12, 1, 13, 20, 30, 0, time.UTC)
	got := map[string]any{
		"Lease": inst.Lease, "Environment": inst.Environment, "Name": inst.Name, "Server": inst.Server,
		"CACertificate": inst.CACertificate, "CAFile": inst.CAFile, "Token": inst.Token,
		"Kubeconfig": inst.Kubeconfig, "Holder": inst.Holder,
	}
	want := map[string]any{
		"Lease": leaseID, "Environment": "capi", "Name": "capi-0", "Server": "https://127.0.0.1:39211",
		"CACertificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
		"CAFile":        "/repo/.k8senv/run-1/capi-0/pki/ca.crt", "Token": "secret-token",
		"Kubeconfig": "/repo/.k8senv/run-1/capi-0/kubeconfig", "Holder": 4242,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	if inst.ExpiresAt == nil || !inst.ExpiresAt.Equal(expires) {
		t.Errorf("ExpiresAt = %v, want %v", inst.ExpiresAt, expires)
	}
	if w := (Webhook{Host: "127.0.0.1", Port: 42817, CertDir: "/repo/.k8senv/run-1/webhook"}); inst.Webhook == nil || *inst.Webhook != w {
		t.Errorf("Webhook = %+v, want %+v", inst.Webhook, w)
	}
	wantUsers := map[string]User{
		"alice": {Token: "alice-token", Kubeconfig: "/repo/.k8senv/run-1/capi-0/users/alice.kubeconfig"},
		"bob":   {Token: "bob-token", Kubeconfig: "/repo/.k8senv/run-1/capi-0/users/bob.kubeconfig"},
	}
	if fmt.Sprint(inst.Users) != fmt.Sprint(wantUsers) {
		t.Errorf("Users = %v, want %v", inst.Users, wantUsers)
	}

	reqs := p.recorded()
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/v1/leases" {
		t.Fatalf("requests = %+v, want one POST /v1/leases", reqs)
	}
	if reqs[0].ContentType != "application/json" {
		t.Errorf("Content-Type = %q", reqs[0].ContentType)
	}
	var body map[string]any
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatalf("request body %q: %v", reqs[0].Body, err)
	}
	wantBody := map[string]any{"environment": "capi", "timeoutSeconds": 5.0, "holder": 4242.0, "ttlSeconds": 90.0}
	if fmt.Sprint(body) != fmt.Sprint(wantBody) {
		t.Errorf("request body = %v, want %v", body, wantBody)
	}
	if !strings.Contains(string(reqs[0].Body), `"timeoutSeconds":5,`) {
		t.Errorf("whole seconds are sent as integers: %s", reqs[0].Body)
	}
}

func TestAcquireWithoutUsers(t *testing.T) {
	for name, users := range map[string]string{"empty": `,"users":{}`, "absent (an older service)": ``} {
		t.Run(name, func(t *testing.T) {
			p := newPool(t, func(w http.ResponseWriter, r request) {
				answer(w, http.StatusCreated, `{"lease":"`+leaseID+`","environment":"only","instance":"only-0","server":"https://127.0.0.1:1","caCertificate":"","caFile":"/ca.crt","token":"t","kubeconfig":"/k","holder":7,"expiresAt":null`+users+`}`)
			})
			inst, err := NewClient(p.sock).Acquire(context.Background(), AcquireOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if inst.Users == nil || len(inst.Users) != 0 {
				t.Errorf("Users = %#v, want an empty map", inst.Users)
			}
			if _, ok := inst.Users["alice"]; ok {
				t.Errorf("Users has alice")
			}
		})
	}
}

func TestAcquireWithoutOptionsSendsEmptyObject(t *testing.T) {
	p := newPool(t, func(w http.ResponseWriter, r request) {
		answer(w, http.StatusCreated, `{"lease":"`+leaseID+`","environment":"only","instance":"only-0","server":"https://127.0.0.1:1","caCertificate":"","caFile":"/ca.crt","token":"t","kubeconfig":"/k","holder":7,"expiresAt":null,"webhook":null}`)
	})
	inst, err := NewClient(p.sock).Acquire(context.Background(), AcquireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if inst.ExpiresAt != nil {
		t.Errorf("ExpiresAt = %v, want nil", inst.ExpiresAt)
	}
	if inst.Webhook != nil {
		t.Errorf("Webhook = %+v, want nil", inst.Webhook)
	}
	if body := string(p.recorded()[0].Body); body != "{}" {
		t.Errorf("request body = %s, want {}", body)
	}
}

func TestReleaseSendsModeAndStatusParses(t *testing.T) {
	p := newPool(t, func(w http.ResponseWriter, r request) {
		if r.Path == "/v1/status" {
			answer(w, http.StatusOK, `{"version":1,"pid":5150,"environments":[{"name":"capi","size":2,"instances":[
				{"name":"capi-0","state":"leased","lease":"`+leaseID+`","holder":4242,"since":"2026-12-01T13:20:00Z"},
				{"name":"capi-1","state":"idle","lease":null,"holder":null,"since":"2026-12-01T13:19:58Z"}],"waiting":3}]}`)
			return
		}
		poolHandler(w, r)
	})
	c := NewClient(p.sock)
	if err := c.Release(context.Background(), leaseID, ModeStop); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(context.Background(), leaseID, ""); err != nil {
		t.Fatal(err)
	}
	reqs := p.recorded()
	if reqs[0].Method != "DELETE" || reqs[0].Path != "/v1/leases/"+leaseID || reqs[0].Query != "mode=stop" {
		t.Errorf("release request = %+v", reqs[0])
	}
	if reqs[1].Query != "mode=reset" {
		t.Errorf("default mode: query = %q, want mode=reset", reqs[1].Query)
	}
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 1 || st.PID != 5150 || len(st.Environments) != 1 {
		t.Fatalf("status = %+v", st)
	}
	env := st.Environments[0]
	if env.Name != "capi" || env.Size != 2 || env.Waiting != 3 || len(env.Instances) != 2 {
		t.Fatalf("environment = %+v", env)
	}
	i0, i1 := env.Instances[0], env.Instances[1]
	if i0.State != "leased" || i0.Lease != leaseID || i0.Holder != 4242 || !i0.Since.Equal(time.Date(2026, 12, 1, 13, 20, 0, 0, time.UTC)) {
		t.Errorf("instance 0 = %+v", i0)
	}
	if i1.State != "idle" || i1.Lease != "" || i1.Holder != 0 {
		t.Errorf("instance 1 = %+v", i1)
	}
}

func TestKeepSendsModeKeepAndReturnsTheBundle(t *testing.T) {
	isolate(t)
	p := newPool(t, func(w http.ResponseWriter, r request) {
		answer(w, http.StatusOK, `{"lease":"`+leaseID+`","instance":"capi-0","mode":"keep","replaced":false,"bundle":"/ci/pm/capi-0.k8senv-bundle"}`)
	})
	bundle, err := NewClient(p.sock).Keep(context.Background(), leaseID)
	if err != nil {
		t.Fatal(err)
	}
	if bundle != "/ci/pm/capi-0.k8senv-bundle" {
		t.Errorf("bundle = %q", bundle)
	}
	if reqs := p.recorded(); len(reqs) != 1 || reqs[0].Method != "DELETE" || reqs[0].Query != "mode=keep" {
		t.Errorf("requests = %+v, want one DELETE with mode=keep", reqs)
	}
}

func TestErrorBodiesBecomeError(t *testing.T) {
	p := newPool(t, func(w http.ResponseWriter, r request) {
		switch r.Method {
		case http.MethodPost:
			answer(w, http.StatusServiceUnavailable, `{"error":{"code":"acquire-timeout","message":"no instance of capi became free within 5s"}}`)
		case http.MethodDelete:
			answer(w, http.StatusNotFound, `{"error":{"code":"lease-not-found","message":"no lease `+leaseID+`"}}`)
		default:
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html>proxy error</html>")
		}
	})
	c := NewClient(p.sock)

	_, err := c.Acquire(context.Background(), AcquireOptions{Environment: "capi", Timeout: 5 * time.Second})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("acquire error %T %v, want *Error", err, err)
	}
	if e.Code != CodeAcquireTimeout || e.HTTPStatus != 503 || e.Message != "no instance of capi became free within 5s" || e.Op != "POST /v1/leases" {
		t.Errorf("error = %+v", e)
	}
	for _, part := range []string{"POST /v1/leases", "no instance of capi became free within 5s", "acquire-timeout", "503"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("%q does not say %q", err, part)
		}
	}

	err = c.Release(context.Background(), leaseID, ModeReset)
	if ErrorCode(err) != CodeLeaseNotFound || !errors.As(err, &e) || e.HTTPStatus != 404 {
		t.Errorf("release error = %v, want lease-not-found (404)", err)
	}

	_, err = c.Status(context.Background())
	if !errors.As(err, &e) || e.Code != CodeUnexpectedAnswer || e.HTTPStatus != 502 || !strings.Contains(e.Message, "proxy error") {
		t.Errorf("error = %v, want an unexpected-answer *Error with HTTP 502 and the body", err)
	}
	if IsNoService(err) || IsServiceGone(err) {
		t.Errorf("an answer is neither no-service nor gone: %v", err)
	}
}

func TestMalformedSuccessAnswer(t *testing.T) {
	p := newPool(t, func(w http.ResponseWriter, r request) { answer(w, http.StatusCreated, `{"lease": 12`) })
	_, err := NewClient(p.sock).Acquire(context.Background(), AcquireOptions{})
	if err == nil || !strings.Contains(err.Error(), "not the expected JSON") {
		t.Errorf("err = %v, want 'not the expected JSON'", err)
	}
}

const noServiceText = "start one with `k8senv up --detach`"

func TestNoSocket(t *testing.T) {
	dir := isolate(t)

	_, err := Connect()
	if !IsNoService(err) || !strings.Contains(err.Error(), noServiceText) {
		t.Fatalf("Connect: %v, want ErrNoService saying %q", err, noServiceText)
	}
	if !strings.Contains(err.Error(), "K8SENV_POOL is not set") || !strings.Contains(err.Error(), ".k8senv/pool.sock") {
		t.Errorf("Connect: %v, want it to say where it looked", err)
	}

	_, err = Acquire(t, "capi")
	if !IsNoService(err) {
		t.Errorf("Acquire(t): %v, want ErrNoService", err)
	}

	missing := filepath.Join(dir, "missing.sock")
	_, err = NewClient(missing).Status(context.Background())
	if !IsNoService(err) || !strings.Contains(err.Error(), noServiceText) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing socket: %v, want ErrNoService naming %s", err, missing)
	}

	// A socket left behind by a service that died: connection refused.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	t.Setenv(EnvSocket, stale)
	c, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Acquire(context.Background(), AcquireOptions{})
	if !IsNoService(err) || !strings.Contains(err.Error(), noServiceText) {
		t.Errorf("stale socket: %v, want ErrNoService", err)
	}
}

// A service that reads the request and closes the connection without an answer.
func startSilentCloser(t *testing.T) string {
	sock := filepath.Join(shortTempDir(t), "pool.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 64<<10)
			conn.SetReadDeadline(time.Now().Add(time.Second))
			conn.Read(buf)
			conn.Close()
		}
	}()
	return sock
}

func TestServiceGone(t *testing.T) {
	c := NewClient(startSilentCloser(t))
	_, err := c.Acquire(context.Background(), AcquireOptions{Environment: "capi"})
	if !IsServiceGone(err) || !strings.Contains(err.Error(), "the pool service is gone") {
		t.Errorf("acquire: %v, want ErrServiceGone", err)
	}
	_, err = c.Status(context.Background())
	if !IsServiceGone(err) || IsNoService(err) {
		t.Errorf("status: %v, want ErrServiceGone", err)
	}
	err = c.Release(context.Background(), leaseID, ModeReset)
	if !IsServiceGone(err) {
		t.Errorf("release: %v, want ErrServiceGone", err)
	}
}

func TestNoAnswerBeforeDeadline(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	p := newPool(t, func(w http.ResponseWriter, r request) { <-block })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := NewClient(p.sock).Status(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer") || !strings.Contains(err.Error(), "GET /v1/status") {
		t.Errorf("err = %v, want a deadline error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

func TestDiscoveryThroughEnv(t *testing.T) {
	isolate(t)
	p := newPool(t, poolHandler)
	t.Setenv(EnvSocket, p.sock)
	c, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	if c.SocketPath() != p.sock {
		t.Errorf("SocketPath = %s, want %s", c.SocketPath(), p.sock)
	}
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDiscoveryThroughParentFolder(t *testing.T) {
	root := isolate(t)
	p := startFakePool(t, filepath.Join(root, ".k8senv", "pool.sock"), poolHandler)
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(filepath.Join(deep, ".k8senv"), 0o700); err != nil { // a .k8senv without a socket is passed over
		t.Fatal(err)
	}
	chdir(t, deep)
	c, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	a, err1 := os.Stat(c.SocketPath())
	b, err2 := os.Stat(p.sock)
	if err1 != nil || err2 != nil || !os.SameFile(a, b) {
		t.Fatalf("SocketPath = %s, want %s", c.SocketPath(), p.sock)
	}
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatal(err)
	}

	// K8SENV_POOL wins over the folders.
	other := newPool(t, poolHandler)
	t.Setenv(EnvSocket, other.sock)
	if c, err := Connect(); err != nil || c.SocketPath() != other.sock {
		t.Errorf("with K8SENV_POOL: %v %v", c, err)
	}
}

func TestTestingAcquireReleasesOnCleanup(t *testing.T) {
	isolate(t)
	p := newPool(t, poolHandler)
	t.Setenv(EnvSocket, p.sock)

	var inst *Instance
	t.Run("holder", func(t *testing.T) {
		var err error
		inst, err = Acquire(t, "capi")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(p.recorded()); n != 1 {
			t.Errorf("%d requests before the test's end, want the acquire alone", n)
		}
	})
	reqs := p.recorded()
	if len(reqs) != 2 || reqs[1].Method != "DELETE" || reqs[1].Path != "/v1/leases/"+inst.Lease || reqs[1].Query != "mode=reset" {
		t.Fatalf("requests = %+v, want the acquire then DELETE /v1/leases/%s?mode=reset", reqs, inst.Lease)
	}
	if !strings.Contains(string(reqs[0].Body), `"environment":"capi"`) {
		t.Errorf("acquire body = %s", reqs[0].Body)
	}
}

func TestTestingAcquireAfterExplicitRelease(t *testing.T) {
	isolate(t)
	p := newPool(t, poolHandler)
	t.Setenv(EnvSocket, p.sock)
	t.Run("holder", func(t *testing.T) {
		inst, err := Acquire(t, "capi")
		if err != nil {
			t.Fatal(err)
		}
		if err := inst.Release(context.Background(), ModeStop); err != nil {
			t.Fatal(err)
		}
	})
	reqs := p.recorded()
	if len(reqs) != 2 || reqs[1].Query != "mode=stop" {
		t.Errorf("requests = %+v, want the acquire and one release (mode=stop)", reqs)
	}
}

func TestTestingAcquireDefaultsFromEnv(t *testing.T) {
	isolate(t)
	p := newPool(t, poolHandler)
	t.Setenv(EnvSocket, p.sock)
	t.Setenv(EnvEnvironment, "from-env")
	t.Setenv(EnvTimeout, "300")
	t.Run("holder", func(t *testing.T) {
		if _, err := Acquire(t, ""); err != nil {
			t.Fatal(err)
		}
	})
	body := string(p.recorded()[0].Body)
	if body != `{"environment":"from-env","timeoutSeconds":300}` {
		t.Errorf("acquire body = %s", body)
	}

	t.Setenv(EnvTimeout, "soon")
	_, err := Acquire(t, "capi")
	if err == nil || !strings.Contains(err.Error(), "K8SENV_POOL_TIMEOUT") {
		t.Errorf("err = %v, want one naming K8SENV_POOL_TIMEOUT", err)
	}
}

// recordingTB is a testing.TB whose cleanups and errors are kept, to look at a failing cleanup
// without failing this test.
type recordingTB struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (r *recordingTB) Helper()          {}
func (r *recordingTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recordingTB) Errorf(format string, args ...interface{}) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestTestingAcquireReportsFailedRelease(t *testing.T) {
	isolate(t)
	p := newPool(t, func(w http.ResponseWriter, r request) {
		if r.Method == http.MethodDelete {
			answer(w, http.StatusNotFound, `{"error":{"code":"lease-not-found","message":"the lease ended: its holder exited"}}`)
			return
		}
		poolHandler(w, r)
	})
	t.Setenv(EnvSocket, p.sock)
	rt := &recordingTB{TB: t}
	inst, err := Acquire(rt, "capi")
	if err != nil {
		t.Fatal(err)
	}
	if len(rt.cleanups) != 1 {
		t.Fatalf("%d cleanups registered, want 1", len(rt.cleanups))
	}
	rt.cleanups[0]()
	if len(rt.errors) != 1 || !strings.Contains(rt.errors[0], "lease-not-found") || !strings.Contains(rt.errors[0], inst.Lease) {
		t.Errorf("errors = %q, want one naming the lease and lease-not-found", rt.errors)
	}
}

// A listen queue that is full answers connect with EAGAIN: the client retries until the
// service accepts.
func TestFullListenQueueIsRetried(t *testing.T) {
	sock := filepath.Join(shortTempDir(t), "pool.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), sock)
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	filler, err := net.Dial("unix", sock) // the queue's one place
	if err != nil {
		t.Fatal(err)
	}
	defer filler.Close()
	if c, err := net.Dial("unix", sock); err == nil {
		c.Close()
		t.Skip("this kernel queues more than the listen backlog: nothing to retry")
	} else if !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("second connection: %v, want EAGAIN", err)
	}

	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK, `{"version":1,"pid":1,"environments":[]}`)
	})}
	t.Cleanup(func() { srv.Close() })
	time.AfterFunc(300*time.Millisecond, func() { srv.Serve(ln) })
	st, err := NewClient(sock).Status(context.Background())
	if err != nil || st.Version != 1 {
		t.Fatalf("Status = %+v, %v", st, err)
	}
}

func TestAuditEventsParsesAndSendsSince(t *testing.T) {
	p := newPool(t, func(w http.ResponseWriter, r request) {
		switch {
		case r.Method == http.MethodGet && r.Path == "/v1/leases/"+leaseID+"/audit":
			answer(w, http.StatusOK, `{"lease":"`+leaseID+`","instance":"capi-0","events":[
				{"time":"2026-12-01T13:20:01.123456Z","instance":"capi-0","user":"k8senv-admin","verb":"create","resource":"configmaps",
				 "namespace":"default","name":"x","code":201,"latencyMs":2.9,"requestURI":"/api/v1/namespaces/default/configmaps",
				 "auditID":"a1","userAgent":"go-test","futureField":true},
				{"time":"2026-12-01T13:20:02Z","instance":"capi-0","user":"k8senv-admin","verb":"get","resource":"/version",
				 "namespace":null,"name":null,"code":null,"latencyMs":0.1,"requestURI":"/version","auditID":"a2","userAgent":null}]}`)
		case r.Path == "/v1/leases/other/audit":
			answer(w, http.StatusConflict, `{"error":{"code":"not-audited","message":"instance capi-1 writes no audit log"}}`)
		default:
			poolHandler(w, r)
		}
	})
	c := NewClient(p.sock)
	events, err := c.AuditEvents(context.Background(), leaseID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 {
		t.Fatalf("events = %+v", events)
	}
	e0, e1 := events[0], events[1]
	if e0.Verb != "create" || e0.Resource != "configmaps" || e0.Namespace != "default" || e0.Name != "x" || e0.Code != 201 ||
		e0.LatencyMs != 2.9 || !e0.Mutating() || !e0.Time.Equal(time.Date(2026, 12, 1, 13, 20, 1, 123456000, time.UTC)) {
		t.Errorf("event 0 = %+v", e0)
	}
	if e1.Verb != "get" || e1.Namespace != "" || e1.Name != "" || e1.Code != 0 || e1.Mutating() {
		t.Errorf("event 1 = %+v", e1)
	}
	since := time.Date(2026, 12, 1, 13, 20, 1, 500000000, time.UTC)
	if _, err := c.AuditEvents(context.Background(), leaseID, since); err != nil {
		t.Fatal(err)
	}
	reqs := p.recorded()
	if reqs[0].Query != "" || reqs[1].Query != "since=2026-12-01T13%3A20%3A01.5Z" {
		t.Errorf("queries = %q, %q", reqs[0].Query, reqs[1].Query)
	}
	_, err = c.AuditEvents(context.Background(), "other", time.Time{})
	if ErrorCode(err) != CodeNotAudited {
		t.Errorf("not audited: err = %v", err)
	}
}
