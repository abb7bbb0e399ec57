// Package k8senv is the Go client of the k8senv pool service (docs/reference/pool-api.md).
//
// `k8senv up` (or `k8senv up --detach`, or `k8senv run`) serves pools of ready kube-apiservers
// over HTTP/1.1 + JSON on a Unix socket. A test acquires an instance, uses it alone and releases
// it; the release resets the instance for the next holder.
//
// In a test:
//
//	inst, err := k8senv.Acquire(t, "capi") // released (mode reset) by t.Cleanup
//	if err != nil {
//		t.Fatal(err)
//	}
//	// inst.Server, inst.CACertificate (or inst.CAFile) and inst.Token reach the API server.
//
// For client-go and controller-runtime, the module github.com/k8senv/k8senv/clients/go/envtest
// makes a lease a *rest.Config (envtest.RESTConfig) and has controller-runtime's envtest shape
// (envtest.Environment: cfg, err := env.Start(); env.Stop()); it is a module of its own so that
// this one needs nothing but the standard library.
//
// Outside tests:
//
//	c, err := k8senv.Connect()
//	inst, err := c.Acquire(ctx, k8senv.AcquireOptions{Environment: "capi"})
//	defer inst.Release(context.Background(), k8senv.ModeReset)
//
// The socket is K8SENV_POOL, else .k8senv/pool.sock in the current folder or the nearest parent
// folder that has one, looking no higher than a folder of another user. The client uses only its
// own user's service: the socket and its folder must be the user's (no symlinks) and the process
// answering must run as the user (SO_PEERCRED), else it fails with an error matching
// ErrUntrustedSocket having sent nothing. The package uses the standard library only, and every
// request has a deadline: it never waits forever for the service.
package k8senv
