package envtest

import (
	k8senv "github.com/k8senv/k8senv/clients/go"
	"k8s.io/client-go/rest"
)

// RESTConfig is a client-go configuration that reaches the leased instance inst as its admin:
// inst.Server, its CA (inst.CACertificate, else the file inst.CAFile) and its bearer token.
// It is a function of this package rather than a method of k8senv.Instance so that the
// k8senv client stays free of client-go.
func RESTConfig(inst *k8senv.Instance) *rest.Config {
	return restConfig(inst.Server, inst.Token, inst.CACertificate, inst.CAFile)
}

// UserRESTConfig is RESTConfig for the declared user name of the config (users: in
// k8senv.yaml): the instance's server and CA with that user's token. It fails when the
// instance has no such user.
func UserRESTConfig(inst *k8senv.Instance, name string) (*rest.Config, error) {
	u, ok := inst.Users[name]
	if !ok {
		return nil, &UnknownUserError{User: name, Instance: inst.Name, Known: userNames(inst)}
	}
	return restConfig(inst.Server, u.Token, inst.CACertificate, inst.CAFile), nil
}

func restConfig(server, token, caPEM, caFile string) *rest.Config {
	cfg := &rest.Config{Host: server, BearerToken: token}
	if caPEM != "" {
		cfg.TLSClientConfig.CAData = []byte(caPEM)
	} else {
		cfg.TLSClientConfig.CAFile = caFile
	}
	return cfg
}
