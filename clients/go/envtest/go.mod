module github.com/k8senv/k8senv/clients/go/envtest

go 1.19

require (
	github.com/k8senv/k8senv/clients/go v0.0.0
	k8s.io/client-go v0.20.2
)

replace github.com/k8senv/k8senv/clients/go => ../
