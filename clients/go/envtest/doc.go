// Package envtest leases a kube-apiserver from a k8senv pool service in the shape of
// controller-runtime's envtest: Environment.Start returns a *rest.Config, Environment.Stop
// releases the instance. RESTConfig turns any leased k8senv.Instance into a *rest.Config.
//
//	env := &envtest.Environment{Name: "base"}
//	cfg, err := env.Start()
//	if err != nil {
//		t.Fatal(err)
//	}
//	defer env.Stop()
//	clientset, err := kubernetes.NewForConfig(cfg)
//
// It is a module of its own (github.com/k8senv/k8senv/clients/go/envtest) because it needs
// client-go; the k8senv client (github.com/k8senv/k8senv/clients/go) stays standard library
// only. See README.md for building it offline (scripts/go-offline.sh).
package envtest
