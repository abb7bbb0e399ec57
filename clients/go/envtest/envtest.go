package envtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	k8senv "github.com/k8senv/k8senv/clients/go"
	"k8s.io/client-go/rest"
)

// Environment leases one instance of a k8senv environment for a test suite, in the shape of
// controller-runtime's envtest.Environment:
//
//	env := &envtest.Environment{Name: "base"}
//	cfg, err := env.Start() // a *rest.Config of an instance that is this process's alone
//	...
//	err = env.Stop() // releases it (reset to the state it was lent in)
//
// The instance's CRDs, seeds, users and controllers are what k8senv.yaml gives the
// environment; there is no CRDDirectoryPaths or binary path to set here.
type Environment struct {
	// Name is the environment of k8senv.yaml to lease. Empty: $K8SENV_POOL_ENV, else the
	// service's only environment.
	Name string

	// ConfigFile is the k8senv.yaml whose pool service Start starts when none is running.
	// Empty: the nearest k8senv.yaml in the current folder or above it (see Start).
	ConfigFile string

	// Timeout is how long Start waits for a free instance. 0: $K8SENV_POOL_TIMEOUT seconds,
	// else the service's default (60 s).
	Timeout time.Duration

	// TTL ends the lease this long after it was granted even if the process lives (0: none).
	TTL time.Duration

	// ReleaseMode is how Stop releases the instance: k8senv.ModeReset (also when empty),
	// k8senv.ModeClean or k8senv.ModeStop.
	ReleaseMode string

	// NoStart makes Start only lease from a running pool service: it never starts one.
	NoStart bool

	// Config is the configuration Start returned (nil before Start and after Stop).
	Config *rest.Config

	// Instance is the leased instance (nil before Start and after Stop): its server, CA,
	// token, kubeconfig file, declared users (UserRESTConfig) and webhook address.
	Instance *k8senv.Instance

	mu sync.Mutex
}

// Start leases an instance of the environment and returns a client-go configuration that
// reaches it as its admin (see RESTConfig). The lease's holder is this process: when it exits,
// also without Stop, the service takes the instance back and resets it.
//
// The pool service is the one $K8SENV_POOL names, else the one whose .k8senv/pool.sock is in
// the current folder or the nearest folder above it (as `k8senv run` and `k8senv up --detach`
// provide; the client's trust checks apply). When no service runs, K8SENV_POOL is not set,
// NoStart is false and `k8senv` is on PATH, Start starts one as a user would, with
// `k8senv up --detach -f CONFIG` (CONFIG: ConfigFile, else the nearest k8senv.yaml in the
// current folder or above it, up to the repository's root), says so on standard error, and
// leases from it. That service keeps running for the next test run; `k8senv down -f CONFIG`
// stops it.
//
// - Throws: an error matching k8senv.ErrNoService when no service runs and none could be
// started (the message says why), k8senv.ErrUntrustedSocket for a socket that is not the
// user's, or the service's *k8senv.Error (k8senv.ErrorCode: acquire-timeout,
// unknown-environment, …). Start on a started Environment fails.
func (e *Environment) Start() (*rest.Config, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.Instance != nil {
		return nil, fmt.Errorf("k8senv envtest: Start: the environment is started already (instance %s, lease %s); Stop it first", e.Instance.Name, e.Instance.Lease)
	}
	opts := k8senv.AcquireOptions{Environment: e.Name, Timeout: e.Timeout, TTL: e.TTL}
	if opts.Environment == "" {
		opts.Environment = os.Getenv(k8senv.EnvEnvironment)
	}
	if opts.Timeout == 0 {
		d, err := k8senv.TimeoutFromEnv()
		if err != nil {
			return nil, fmt.Errorf("k8senv envtest: Start: %w", err)
		}
		opts.Timeout = d
	}

	inst, err := acquire(opts)
	if err != nil && k8senv.IsNoService(err) {
		var why string
		switch {
		case os.Getenv(k8senv.EnvSocket) != "":
			why = k8senv.EnvSocket + " names the service to use, so envtest does not start one"
		case e.NoStart:
			why = "NoStart is set, so envtest does not start one"
		default:
			if _, lookErr := exec.LookPath("k8senv"); lookErr != nil {
				why = "k8senv is not on PATH, so envtest could not start one (install k8senv, or run the tests under `k8senv run -- go test ./...`)"
				break
			}
			var c *k8senv.Client
			c, err = startService(e.ConfigFile)
			if err == nil {
				inst, err = c.Acquire(context.Background(), opts)
			}
		}
		if why != "" {
			err = fmt.Errorf("%w; %s", err, why)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("k8senv envtest: Start: %w", err)
	}
	e.Instance = inst
	e.Config = RESTConfig(inst)
	return rest.CopyConfig(e.Config), nil
}

// acquire leases from the service that k8senv.Connect finds.
func acquire(opts k8senv.AcquireOptions) (*k8senv.Instance, error) {
	c, err := k8senv.Connect()
	if err != nil {
		return nil, err
	}
	return c.Acquire(context.Background(), opts)
}

// Stop releases the instance Start leased, with ReleaseMode (default reset). Stop of an
// Environment that was not started, or was stopped already, does nothing.
//
// - Throws: the service's *k8senv.Error, or an error matching k8senv.ErrNoService or
// k8senv.ErrServiceGone when the service is gone (its instances are gone with it).
func (e *Environment) Stop() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.Instance == nil {
		return nil
	}
	inst := e.Instance
	err := inst.Release(context.Background(), e.ReleaseMode)
	e.Instance, e.Config = nil, nil
	if err != nil {
		return fmt.Errorf("k8senv envtest: Stop: releasing instance %s (lease %s): %w", inst.Name, inst.Lease, err)
	}
	return nil
}

// UnknownUserError is UserRESTConfig's error for a user the instance's config does not declare.
type UnknownUserError struct {
	User     string   // the name asked for
	Instance string   // the instance, e.g. "base-0"
	Known    []string // the declared users, sorted
}

func (e *UnknownUserError) Error() string {
	known := "it declares no users (users: in k8senv.yaml)"
	if len(e.Known) > 0 {
		known = "its users: " + strings.Join(e.Known, ", ")
	}
	return fmt.Sprintf("k8senv envtest: instance %s has no user %q; %s", e.Instance, e.User, known)
}

func userNames(inst *k8senv.Instance) []string {
	names := make([]string, 0, len(inst.Users))
	for n := range inst.Users {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// startError is a failure to start a pool service (envtest's own `k8senv up --detach`, or no
// k8senv.yaml to start it for); it matches k8senv.ErrNoService, since no service runs.
type startError struct {
	msg string
	err error
}

func (e *startError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}
func (e *startError) Unwrap() error        { return e.err }
func (e *startError) Is(target error) bool { return target == k8senv.ErrNoService }
