package envtest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	k8senv "github.com/k8senv/k8senv/clients/go"
	"github.com/k8senv/k8senv/clients/go/envtest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// getenv is os.Getenv(name), or def when it is empty.
func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// widgets is the custom resource of the clients' test config (clients/testdata/k8senv.yaml):
// K8SENV_POOL_CR_GROUP / _VERSION / _PLURAL / _KIND, as the client's integration tests read them.
func widgets() (schema.GroupVersionResource, string) {
	return schema.GroupVersionResource{
		Group:    getenv("K8SENV_POOL_CR_GROUP", "example.k8senv.dev"),
		Version:  getenv("K8SENV_POOL_CR_VERSION", "v1"),
		Resource: getenv("K8SENV_POOL_CR_PLURAL", "widgets"),
	}, getenv("K8SENV_POOL_CR_KIND", "Widget")
}

// startAndUse is a suite as a controller-runtime user writes it: Start, a clientset and a
// dynamic client from the config, a namespace and a custom resource created, both listed,
// Stop. It returns the first error.
func startAndUse(env *envtest.Environment) (err error) {
	cfg, err := env.Start()
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := env.Stop(); err == nil {
			err = stopErr
		}
	}()
	ctx := context.Background()

	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "envtest-user"}}
	if _, err := clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace: %w", err)
	}
	namespaces, err := clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing namespaces: %w", err)
	}
	found := false
	for _, n := range namespaces.Items {
		found = found || n.Name == ns.Name
	}
	if !found {
		return fmt.Errorf("namespace %s is not in the list of %d namespaces", ns.Name, len(namespaces.Items))
	}

	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	gvr, kind := widgets()
	widget := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": gvr.Group + "/" + gvr.Version,
		"kind":       kind,
		"metadata":   map[string]interface{}{"name": "blue", "namespace": ns.Name},
		"spec":       map[string]interface{}{"color": "blue"},
	}}
	if _, err := dyn.Resource(gvr).Namespace(ns.Name).Create(ctx, widget, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating %s %s/blue: %w", gvr.Resource, ns.Name, err)
	}
	list, err := dyn.Resource(gvr).Namespace(ns.Name).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing %s: %w", gvr.Resource, err)
	}
	if len(list.Items) != 1 || list.Items[0].GetName() != "blue" {
		return fmt.Errorf("listing %s in %s: want only blue, got %d items", gvr.Resource, ns.Name, len(list.Items))
	}
	return nil
}

// TestStartAgainstStoppedService runs the user's suite against a service that stopped (its
// socket is left, nobody listens): Start fails with ErrNoService and says so.
func TestStartAgainstStoppedService(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "pool.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	t.Setenv(k8senv.EnvSocket, sock)

	err = startAndUse(&envtest.Environment{Name: "isolation"})
	if err == nil {
		t.Fatal("Start against a stopped service succeeded")
	}
	if !errors.Is(err, k8senv.ErrNoService) {
		t.Errorf("the error does not match k8senv.ErrNoService: %v", err)
	}
	for _, want := range []string{
		"k8senv envtest: Start: ",
		"no k8senv pool service is running (start one with `k8senv up --detach`)",
		sock,
		"K8SENV_POOL names the service to use, so envtest does not start one",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
}

// TestStartWithoutServiceOrK8senv: no service and no k8senv on PATH: the error says that
// envtest could not start one and how to get one.
func TestStartWithoutServiceOrK8senv(t *testing.T) {
	t.Setenv(k8senv.EnvSocket, "")
	t.Setenv("PATH", t.TempDir())
	chdir(t, t.TempDir())

	_, err := (&envtest.Environment{Name: "base"}).Start()
	if !errors.Is(err, k8senv.ErrNoService) {
		t.Fatalf("want an error matching k8senv.ErrNoService, got %v", err)
	}
	if want := "k8senv is not on PATH, so envtest could not start one"; !strings.Contains(err.Error(), want) {
		t.Errorf("the error does not say %q:\n%v", want, err)
	}
}

// TestStartRunsK8senvUp: no service, k8senv on PATH (here a stand-in that fails as a bad
// config makes it fail): Start runs `k8senv up --detach` for the nearest k8senv.yaml, in its
// folder, and reports its failure with its output.
func TestStartRunsK8senvUp(t *testing.T) {
	bin := t.TempDir()
	args := filepath.Join(bin, "args")
	script := "#!/bin/sh\necho \"$PWD $*\" > " + args + "\necho 'error: k8senv.yaml:3:1: unknown key \"enviroments\"' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "k8senv"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	if err := os.Mkdir(filepath.Join(repo, ".git"), 0o700); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(repo, "k8senv.yaml")
	if err := os.WriteFile(config, []byte("apiVersion: k8senv.dev/v1alpha1\nkind: Config\nenviroments: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(repo, "pkg", "controller")
	if err := os.MkdirAll(pkg, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv(k8senv.EnvSocket, "")
	t.Setenv("PATH", bin)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	chdir(t, pkg)

	_, err := (&envtest.Environment{Name: "base"}).Start()
	if !errors.Is(err, k8senv.ErrNoService) {
		t.Fatalf("want an error matching k8senv.ErrNoService, got %v", err)
	}
	for _, want := range []string{
		"`k8senv up --detach --quiet -f " + config + "` (in " + repo + ") failed: exit status 1",
		`error: k8senv.yaml:3:1: unknown key "enviroments"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	got, err := os.ReadFile(args)
	if err != nil {
		t.Fatal(err)
	}
	if want := repo + " up --detach --quiet -f " + config + "\n"; string(got) != want {
		t.Errorf("k8senv ran as %q, want %q", got, want)
	}
}

// TestStartWithoutConfig: no service and no k8senv.yaml up to the repository's root: the
// error names where envtest looked and what writes one.
func TestStartWithoutConfig(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "k8senv"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	if err := os.Mkdir(filepath.Join(repo, ".git"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv(k8senv.EnvSocket, "")
	t.Setenv("PATH", bin)
	chdir(t, repo)

	_, err := (&envtest.Environment{Name: "base"}).Start()
	if !errors.Is(err, k8senv.ErrNoService) {
		t.Fatalf("want an error matching k8senv.ErrNoService, got %v", err)
	}
	want := "no k8senv pool service is running and there is no k8senv.yaml in " + repo + " or above it up to " + repo + " to start one for (`k8senv init` writes one"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("the error does not say %q:\n%v", want, err)
	}
}

func TestRESTConfig(t *testing.T) {
	inst := &k8senv.Instance{Server: "https://127.0.0.1:6443", Token: "admin-token", CACertificate: "-----BEGIN CERTIFICATE-----\n",
		Users: map[string]k8senv.User{"alice": {Token: "alice-token"}}}
	cfg := envtest.RESTConfig(inst)
	if cfg.Host != inst.Server || cfg.BearerToken != "admin-token" || string(cfg.TLSClientConfig.CAData) != inst.CACertificate || cfg.Insecure {
		t.Errorf("RESTConfig = %+v", cfg)
	}
	alice, err := envtest.UserRESTConfig(inst, "alice")
	if err != nil || alice.BearerToken != "alice-token" || alice.Host != inst.Server {
		t.Errorf("UserRESTConfig(alice) = %+v, %v", alice, err)
	}
	_, err = envtest.UserRESTConfig(inst, "bob")
	if want := `k8senv envtest: instance  has no user "bob"; its users: alice`; err == nil || err.Error() != want {
		t.Errorf("UserRESTConfig(bob) error = %v, want %q", err, want)
	}
	onlyFile := envtest.RESTConfig(&k8senv.Instance{Server: "https://x", CAFile: "/ca.crt"})
	if onlyFile.TLSClientConfig.CAFile != "/ca.crt" || onlyFile.TLSClientConfig.CAData != nil {
		t.Errorf("RESTConfig without a CA PEM = %+v", onlyFile.TLSClientConfig)
	}
}

// chdir changes the current folder for the test (not parallel) and back after it.
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
			t.Error(err)
		}
	})
}

// fakeK8senv puts a k8senv on PATH that records that it ran, and returns that record's path.
func fakeK8senv(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	ran := filepath.Join(bin, "ran")
	if err := os.WriteFile(filepath.Join(bin, "k8senv"), []byte("#!/bin/sh\ntouch "+ran+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(k8senv.EnvSocket, "")
	t.Setenv("PATH", bin)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	return ran
}

// TestStartRefusesSymlinkedConfig: a k8senv.yaml that is a symlink is not started (k8senv up
// runs the programs a config names), and k8senv does not run.
func TestStartRefusesSymlinkedConfig(t *testing.T) {
	ran := fakeK8senv(t)
	repo := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "k8senv.yaml")
	if err := os.WriteFile(elsewhere, []byte("kind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(repo, "k8senv.yaml")); err != nil {
		t.Fatal(err)
	}
	chdir(t, repo)

	_, err := (&envtest.Environment{Name: "base"}).Start()
	want := "envtest does not start one for " + filepath.Join(repo, "k8senv.yaml") + ": it is not a regular file"
	if !errors.Is(err, k8senv.ErrNoService) || !strings.Contains(err.Error(), want) {
		t.Errorf("want an error matching k8senv.ErrNoService that says %q, got %v", want, err)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("k8senv ran for a symlinked config")
	}
}

// TestStartRefusesConfigOfAnotherUser: a k8senv.yaml another user owns is not started.
func TestStartRefusesConfigOfAnotherUser(t *testing.T) {
	const nobody = 65534
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("this test needs root (to chown a file to uid %d); CI runs the tests as root, but euid is %d", nobody, os.Geteuid())
		}
		t.Skipf("needs root: it chowns a file to uid %d (euid is %d)", nobody, os.Geteuid())
	}
	ran := fakeK8senv(t)
	repo := t.TempDir()
	config := filepath.Join(repo, "k8senv.yaml")
	if err := os.WriteFile(config, []byte("kind: Config\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(config, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	chdir(t, repo)

	_, err := (&envtest.Environment{Name: "base"}).Start()
	want := fmt.Sprintf("envtest does not start one for %s: it is owned by uid %d, not you (uid 0), and k8senv up runs the programs a config names", config, nobody)
	if !errors.Is(err, k8senv.ErrNoService) || !strings.Contains(err.Error(), want) {
		t.Errorf("want an error matching k8senv.ErrNoService that says %q, got %v", want, err)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("k8senv ran for another user's config")
	}
}
