module github.com/k8senv/k8senv/clients/go

go 1.19
