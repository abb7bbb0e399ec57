package k8senv

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// Acquire leases an instance of the environment env for the test t and registers its release
// (mode reset) with t.Cleanup. An empty env means K8SENV_POOL_ENV, or the service's only
// environment when that is not set either. The wait for a free instance is K8SENV_POOL_TIMEOUT
// seconds (default 60). The lease's holder is the test process: if it is killed, the service
// takes the instance back.
func Acquire(t testing.TB, env string) (*Instance, error) {
	t.Helper()
	return AcquireWith(t, AcquireOptions{Environment: env})
}

// AcquireWith is Acquire with every option of an acquire. Empty Environment and zero Timeout
// are taken from K8SENV_POOL_ENV and K8SENV_POOL_TIMEOUT as by Acquire.
func AcquireWith(t testing.TB, opts AcquireOptions) (*Instance, error) {
	t.Helper()
	if opts.Environment == "" {
		opts.Environment = os.Getenv(EnvEnvironment)
	}
	if opts.Timeout == 0 {
		d, err := TimeoutFromEnv()
		if err != nil {
			return nil, err
		}
		opts.Timeout = d
	}
	c, err := Connect()
	if err != nil {
		return nil, err
	}
	inst, err := c.Acquire(context.Background(), opts)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if inst.isReleased() {
			return
		}
		if err := inst.Release(context.Background(), ModeReset); err != nil {
			t.Errorf("k8senv: releasing instance %s (lease %s) after the test: %v", inst.Name, inst.Lease, err)
		}
	})
	return inst, nil
}

// TimeoutFromEnv is the wait for a free instance that K8SENV_POOL_TIMEOUT asks for (seconds),
// or 0 when it is not set (the service's default, 60 s). Acquire and envtest.Environment use it.
func TimeoutFromEnv() (time.Duration, error) {
	v := os.Getenv(EnvTimeout)
	if v == "" {
		return 0, nil
	}
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || s <= 0 {
		return 0, fmt.Errorf("k8senv pool: %s=%q is not a positive number of seconds", EnvTimeout, v)
	}
	return time.Duration(s * float64(time.Second)), nil
}
