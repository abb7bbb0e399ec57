package k8senv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Environment variables the clients read.
const (
	// EnvSocket is the socket's path (`k8senv up --detach` prints an export of it; `k8senv run`
	// sets it).
	EnvSocket = "K8SENV_POOL"
	// EnvEnvironment is the environment the test helpers acquire when none is named.
	EnvEnvironment = "K8SENV_POOL_ENV"
	// EnvTimeout is how long (seconds) the test helpers wait for a free instance; default 60.
	EnvTimeout = "K8SENV_POOL_TIMEOUT"
)

// Release modes (DELETE /v1/leases/{lease}?mode=…).
const (
	ModeReset = "reset" // back to the state it was lent in (the default)
	ModeClean = "clean" // what the holder created is deleted through the API; changes to objects that existed stay
	ModeStop  = "stop"  // the instance is stopped; the pool starts another when needed
	ModeKeep  = "keep"  // written as a post-mortem bundle into the service's postmortem.dir, then reset (see Client.Keep)
)

// DefaultAcquireTimeout is the service's wait for a free instance when none is asked for.
const DefaultAcquireTimeout = 60 * time.Second

// Deadlines of requests whose context has none.
const (
	dialTimeout    = 5 * time.Second
	answerMargin   = 30 * time.Second // beyond the acquire wait: the service's own time to answer
	statusTimeout  = 30 * time.Second
	releaseTimeout = 2 * time.Minute // a reset (or the replacement of an instance) takes a while
	maxAnswerBytes = 4 << 20
)

// Client talks to one pool service. It is safe for concurrent use.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client of the service listening on socketPath. It does not connect: every
// request opens its own connection, and uses it only if the socket and its folder are the
// user's and the process answering runs as the user (else the request fails with an error
// matching ErrUntrustedSocket, having sent nothing).
func NewClient(socketPath string) *Client {
	tr := &http.Transport{
		Proxy: nil, // never a proxy: the host in the URL is a placeholder
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialUnix(ctx, socketPath)
		},
		DisableKeepAlives:  true, // the service answers Connection: close
		DisableCompression: true,
	}
	return &Client{socket: socketPath, http: &http.Client{Transport: tr}}
}

// Connect finds the service's socket (see FindSocket) and returns a client of it. It fails
// with an error matching ErrNoService when there is no socket, ErrUntrustedSocket when the
// socket is not the user's own; it does not dial.
func Connect() (*Client, error) {
	path, err := FindSocket()
	if err != nil {
		return nil, err
	}
	return NewClient(path), nil
}

// SocketPath is the socket this client sends its requests to.
func (c *Client) SocketPath() string { return c.socket }

// AcquireOptions are the fields of an acquire; every one is optional.
type AcquireOptions struct {
	// Environment is the environment's name; may be empty when the service serves one.
	Environment string
	// Timeout is how long the service waits for a free instance (0: its default, 60 s).
	Timeout time.Duration
	// Holder is the pid whose exit ends the lease (0: the calling process).
	Holder int
	// TTL ends the lease this long after it was granted, even if its holder lives (0: none).
	TTL time.Duration
}

// Instance is a leased instance: a ready kube-apiserver that is the holder's alone until the
// lease is released.
type Instance struct {
	Lease         string     `json:"lease"`         // 32 lowercase hex characters
	Environment   string     `json:"environment"`   // the environment's name
	Name          string     `json:"instance"`      // the instance's name, e.g. "capi-0"
	Server        string     `json:"server"`        // e.g. "https://127.0.0.1:39211"
	CACertificate string     `json:"caCertificate"` // PEM of the API server's CA
	CAFile        string     `json:"caFile"`        // the same CA in a file
	Token         string     `json:"token"`         // a bearer token
	Kubeconfig    string     `json:"kubeconfig"`    // a 0600 kubeconfig file for kubectl
	Holder        int        `json:"holder"`        // the pid whose exit ends the lease
	ExpiresAt     *time.Time `json:"expiresAt"`     // when the TTL ends the lease; nil without one
	Webhook       *Webhook   `json:"webhook"`       // where its webhooks call; nil when its environment has none
	// Users are the users the config declares (users: in k8senv.yaml), by name: each with a
	// token of this instance and a kubeconfig. Empty (not nil) when it declares none.
	Users map[string]User `json:"users"`

	client   *Client
	mu       sync.Mutex
	released bool
}

// Webhook is where a leased instance's admission and conversion webhooks call, and the
// certificate for a server there (docs/explanation/webhooks.md): listen on Host:Port with
// CertDir/tls.crt and CertDir/tls.key (controller-runtime's webhook.Options{Host, Port, CertDir}).
type Webhook struct {
	Host    string `json:"host"`    // "127.0.0.1"
	Port    int    `json:"port"`    // the environment's webhookPort, or the run's free port
	CertDir string `json:"certDir"` // tls.crt, tls.key and ca.crt (the CA kube-apiserver trusts)
}

// User is a declared user of a leased instance. What it may do depends on the config's
// apiServer.authorization: with RBAC (the default when users are declared), what the Roles and
// ClusterRoles bound to it or its groups allow.
type User struct {
	Token      string `json:"token"`      // its bearer token, made for this instance
	Kubeconfig string `json:"kubeconfig"` // a 0600 kubeconfig file with that token
}

type acquireRequest struct {
	Environment    string   `json:"environment,omitempty"`
	TimeoutSeconds *float64 `json:"timeoutSeconds,omitempty"`
	Holder         int      `json:"holder,omitempty"`
	TTLSeconds     *float64 `json:"ttlSeconds,omitempty"`
}

// Acquire leases an instance, waiting up to opts.Timeout for a free one. Unless ctx has a
// deadline, the request has one: the wait plus 30 s.
func (c *Client) Acquire(ctx context.Context, opts AcquireOptions) (*Instance, error) {
	if opts.Timeout < 0 || opts.TTL < 0 || opts.Holder < 0 {
		return nil, fmt.Errorf("k8senv pool: acquire: negative option in %+v", opts)
	}
	req := acquireRequest{Environment: opts.Environment, Holder: opts.Holder}
	wait := DefaultAcquireTimeout
	if opts.Timeout > 0 {
		s := opts.Timeout.Seconds()
		req.TimeoutSeconds = &s
		wait = opts.Timeout
	}
	if opts.TTL > 0 {
		s := opts.TTL.Seconds()
		req.TTLSeconds = &s
	}
	inst := &Instance{}
	if err := c.do(ctx, http.MethodPost, "/v1/leases", req, wait+answerMargin, inst); err != nil {
		return nil, err
	}
	if inst.Lease == "" {
		return nil, &ConnError{Op: "POST /v1/leases", Socket: c.socket, Detail: "the answer has no lease id"}
	}
	if inst.Users == nil { // a service of an older k8senv sends none
		inst.Users = map[string]User{}
	}
	inst.client = c
	return inst, nil
}

// Release ends a lease; mode is ModeReset (also when empty), ModeClean, ModeStop or ModeKeep. Unless ctx
// has a deadline, the request has one of 2 minutes. Releasing an ended lease fails with code
// CodeLeaseNotFound.
func (c *Client) Release(ctx context.Context, lease string, mode string) error {
	_, err := c.release(ctx, lease, mode)
	return err
}

// Keep ends a lease with ModeKeep: the service writes the instance, as the holder left it, as
// a post-mortem bundle into the postmortem.dir of its config (serve it with `k8senv open`),
// then resets it for the next holder. It returns the bundle's path. A service without a
// postmortem folder answers CodeBadRequest (the lease stays held).
func (c *Client) Keep(ctx context.Context, lease string) (string, error) {
	answer, err := c.release(ctx, lease, ModeKeep)
	return answer.Bundle, err
}

type releaseAnswer struct {
	Lease    string `json:"lease"`
	Instance string `json:"instance"`
	Mode     string `json:"mode"`
	Replaced bool   `json:"replaced"`
	Bundle   string `json:"bundle,omitempty"`
}

func (c *Client) release(ctx context.Context, lease string, mode string) (releaseAnswer, error) {
	var answer releaseAnswer
	if lease == "" {
		return answer, errors.New("k8senv pool: release: empty lease id")
	}
	if mode == "" {
		mode = ModeReset
	}
	path := "/v1/leases/" + url.PathEscape(lease) + "?mode=" + url.QueryEscape(mode)
	err := c.do(ctx, http.MethodDelete, path, nil, releaseTimeout, &answer)
	return answer, err
}

// Release ends the instance's lease (see Client.Release). After a release the service
// answered, the t.Cleanup of Acquire does nothing.
func (i *Instance) Release(ctx context.Context, mode string) error {
	if i.client == nil {
		return fmt.Errorf("k8senv pool: release of lease %q: the instance was not returned by Acquire", i.Lease)
	}
	err := i.client.Release(ctx, i.Lease, mode)
	var answered *Error
	if err == nil || errors.As(err, &answered) {
		i.mu.Lock()
		i.released = true
		i.mu.Unlock()
	}
	return err
}

func (i *Instance) isReleased() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.released
}

// Status is the answer of GET /v1/status.
type Status struct {
	Version      int                 `json:"version"`
	PID          int                 `json:"pid"`
	Environments []EnvironmentStatus `json:"environments"`
}

// EnvironmentStatus is one environment's pool.
type EnvironmentStatus struct {
	Name      string           `json:"name"`
	Size      int              `json:"size"`
	Instances []InstanceStatus `json:"instances"`
	Starting  int              `json:"starting"` // instances being started (not yet in Instances)
	Waiting   int              `json:"waiting"`  // acquires waiting for a free instance
}

// InstanceStatus is one instance of a pool.
type InstanceStatus struct {
	Name   string    `json:"name"`
	State  string    `json:"state"`  // idle, leased or resetting (instances starting are counted in EnvironmentStatus.Starting)
	Lease  string    `json:"lease"`  // "" unless leased
	Holder int       `json:"holder"` // 0 unless leased
	Since  time.Time `json:"since"`
}

// Status returns the pools' state. Unless ctx has a deadline, the request has one of 30 s.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.do(ctx, http.MethodGet, "/v1/status", nil, statusTimeout, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// dialUnix connects to the socket within dialTimeout, if it is the user's (checkSocket), and
// keeps the connection only if the process answering runs as the user (checkPeer). A Unix
// socket whose listen queue is full refuses a connection with EAGAIN instead of queueing it
// (many tests acquiring at once): that is retried until the deadline.
func dialUnix(ctx context.Context, path string) (net.Conn, error) {
	if e := checkSocket(path); e != nil {
		return nil, e
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	backoff := 2 * time.Millisecond
	for {
		conn, err := d.DialContext(ctx, "unix", path)
		if err == nil {
			if e := checkPeer(conn.(*net.UnixConn), path); e != nil {
				conn.Close()
				return nil, e
			}
			return conn, nil
		}
		if !errors.Is(err, syscall.EAGAIN) {
			return nil, &dialError{err}
		}
		select {
		case <-ctx.Done():
			return nil, &dialError{fmt.Errorf("%w (its listen queue stayed full for %s)", err, dialTimeout)}
		case <-time.After(backoff):
		}
		if backoff < 100*time.Millisecond {
			backoff *= 2
		}
	}
}

// dialError marks a failure to connect: the socket is missing or nobody answers on it.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// do sends one request and decodes a 2xx answer into out; an error status becomes *Error.
func (c *Client) do(ctx context.Context, method, path string, body any, timeout time.Duration, out any) error {
	op := method + " " + path
	if i := strings.IndexByte(op, '?'); i >= 0 {
		op = op[:i]
	}
	deadline := "before the caller's deadline"
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
		deadline = "within " + timeout.String()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("k8senv pool: %s: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://k8senv"+path, rd)
	if err != nil {
		return fmt.Errorf("k8senv pool: %s: %w", op, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")

	resp, err := c.http.Do(req)
	if err != nil {
		return c.connError(ctx, op, deadline, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return c.connError(ctx, op, deadline, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.answerError(op, resp, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &ConnError{Op: op, Socket: c.socket, Detail: fmt.Sprintf("the answer (HTTP %d) is not the expected JSON: %q", resp.StatusCode, snippet(data)), Err: err}
	}
	return nil
}

func (c *Client) answerError(op string, resp *http.Response, data []byte) error {
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &body); err == nil && body.Error != nil && body.Error.Code != "" {
		return &Error{Code: body.Error.Code, Message: body.Error.Message, HTTPStatus: resp.StatusCode, Op: op, Socket: c.socket}
	}
	msg := http.StatusText(resp.StatusCode)
	if s := snippet(data); s != "" {
		msg += ": " + s
	}
	return &Error{Code: CodeUnexpectedAnswer, Message: msg, HTTPStatus: resp.StatusCode, Op: op, Socket: c.socket}
}

// connError tells why a request got no answer.
func (c *Client) connError(ctx context.Context, op, deadline string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var refused *ConnError // a socket that is not the user's (dialUnix)
	if errors.As(err, &refused) {
		refused.Op, refused.Socket = op, c.socket
		return refused
	}
	e := &ConnError{Op: op, Socket: c.socket, Err: err}
	var de *dialError
	switch {
	case errors.As(err, &de):
		e.Kind, e.Err = ErrNoService, de.err
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		e.Detail, e.Err = "no answer "+deadline, context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		e.Detail = "canceled"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		strings.Contains(err.Error(), "server closed"), strings.Contains(err.Error(), "connection reset"):
		e.Kind, e.Detail = ErrServiceGone, "the connection was closed without an answer"
	}
	return e
}

func snippet(data []byte) string {
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
