package envtest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	k8senv "github.com/k8senv/k8senv/clients/go"
	"github.com/k8senv/k8senv/clients/go/envtest"
)

// The integration tests run against the pool service in $K8SENV_POOL (clients/test.sh
// --integration, on clients/testdata/k8senv.yaml): environment K8SENV_POOL_ENV (default
// isolation) with the Widget CRD.

func integration(t *testing.T) string {
	t.Helper()
	if os.Getenv("K8SENV_POOL_INTEGRATION") != "1" {
		t.Skip("integration test against a running k8senv pool service: set K8SENV_POOL_INTEGRATION=1 and K8SENV_POOL (see clients/test.sh --integration)")
	}
	return getenv("K8SENV_POOL_ENV", "isolation")
}

// TestIntegrationEnvtest is a controller-runtime user's suite against the real service:
// cfg from Start, a namespace and a custom resource created and listed with client-go, Stop.
func TestIntegrationEnvtest(t *testing.T) {
	env := &envtest.Environment{Name: integration(t)}
	if err := startAndUse(env); err != nil {
		t.Fatal(err)
	}
	if env.Instance != nil || env.Config != nil {
		t.Errorf("after Stop the environment still has instance %v and config %v", env.Instance, env.Config)
	}
}

// TestIntegrationEnvtestLeaseEndsWithProcess: a test process that calls Start and exits
// without Stop gives its instance back: the lease ends with the process.
func TestIntegrationEnvtestLeaseEndsWithProcess(t *testing.T) {
	name := integration(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStartWithoutStop$", "-test.count=1")
	cmd.Env = append(os.Environ(), "K8SENV_ENVTEST_HELPER=1", "K8SENV_POOL_ENV="+name)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the helper process failed: %v; its output: %s", err, out)
	}
	var lease, instance string
	for sc := bufio.NewScanner(strings.NewReader(string(out))); sc.Scan(); {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && k == "lease" {
			lease = v
		} else if ok && k == "instance" {
			instance = v
		}
	}
	if lease == "" || instance == "" {
		t.Fatalf("the helper printed no lease and instance: %s", out)
	}
	pid := cmd.ProcessState.Pid()

	c, err := k8senv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	// The service notices the holder's exit and takes the instance back; the deadline only
	// bounds a failure. (A status shows a lease's id to its holder only: the instance is
	// found by name, held by the exited pid.)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		holder, err := instanceHolder(c, instance)
		if err != nil {
			t.Fatal(err)
		}
		if holder != pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s is still held by pid %d (exited) after 2 minutes", instance, pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Release(context.Background(), lease, k8senv.ModeReset); k8senv.ErrorCode(err) != k8senv.CodeLeaseNotFound {
		t.Errorf("releasing the ended lease: want %s, got %v", k8senv.CodeLeaseNotFound, err)
	}
}

// instanceHolder is the holder of the instance named name in the service's status (0 when
// it is not leased).
func instanceHolder(c *k8senv.Client, name string) (int, error) {
	st, err := c.Status(context.Background())
	if err != nil {
		return 0, err
	}
	for _, e := range st.Environments {
		for _, i := range e.Instances {
			if i.Name == name {
				return i.Holder, nil
			}
		}
	}
	return 0, fmt.Errorf("instance %s is not in the service's status", name)
}

// TestHelperStartWithoutStop is the process of TestIntegrationEnvtestLeaseEndsWithProcess:
// it starts an environment, prints its lease and exits without Stop.
func TestHelperStartWithoutStop(t *testing.T) {
	if os.Getenv("K8SENV_ENVTEST_HELPER") != "1" {
		t.Skip("the helper process of TestIntegrationEnvtestLeaseEndsWithProcess")
	}
	env := &envtest.Environment{}
	if _, err := env.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("lease=%s\ninstance=%s\n", env.Instance.Lease, env.Instance.Name)
	os.Exit(0) // no Stop, no cleanup: as a test binary that ends without releasing
}

// TestIntegrationEnvtestStartsService: with no service running and k8senv on PATH, Start
// starts one for the repository's k8senv.yaml (found from a package folder below it), leases
// from it, and leaves it running for the next Start.
func TestIntegrationEnvtestStartsService(t *testing.T) {
	integration(t)
	k8senvPath, err := exec.LookPath("k8senv")
	if err != nil {
		t.Fatalf("k8senv is not on PATH (clients/test.sh --integration runs with it): %v", err)
	}
	repo := t.TempDir()
	config := repo + "/k8senv.yaml"
	write(t, repo+"/.git/HEAD", "ref: refs/heads/main\n")
	write(t, config, "apiVersion: k8senv.dev/v1alpha1\nkind: Config\nbinaries:\n  kubeAPIServer: ${K8SENV_KUBE_APISERVER:-kube-apiserver}\n"+
		"storage: embedded\nenvironments:\n  base:\n    pool: {size: 1}\n")
	write(t, repo+"/pkg/controller/.keep", "")
	t.Cleanup(func() {
		if out, err := exec.Command(k8senvPath, "down", "-f", config).CombinedOutput(); err != nil {
			t.Errorf("k8senv down -f %s: %v: %s", config, err, out)
		}
	})

	for _, round := range []string{"starts the service", "finds it running"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStartAndUse$", "-test.count=1")
		cmd.Dir = repo + "/pkg/controller"
		cmd.Env = append(withoutPool(os.Environ()), "K8SENV_ENVTEST_HELPER=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: the helper process failed: %v; its output:\n%s", round, err, out)
		}
		said := strings.Contains(string(out), "k8senv envtest: no k8senv pool service is running; starting one with `k8senv up --detach -f "+config+"`")
		if want := round == "starts the service"; said != want {
			t.Errorf("%s: said that it starts a service: %v, want %v; its output:\n%s", round, said, want, out)
		}
	}
}

// TestHelperStartAndUse is the process of TestIntegrationEnvtestStartsService: a user's suite
// in a package folder, with no K8SENV_POOL.
func TestHelperStartAndUse(t *testing.T) {
	if os.Getenv("K8SENV_ENVTEST_HELPER") != "1" {
		t.Skip("the helper process of TestIntegrationEnvtestStartsService")
	}
	env := &envtest.Environment{Name: "base"}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	if cfg.Host != env.Instance.Server || !strings.HasPrefix(cfg.Host, "https://127.0.0.1:") {
		t.Fatalf("config host %q, instance server %q", cfg.Host, env.Instance.Server)
	}
}

func withoutPool(environ []string) []string {
	var kept []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "K8SENV_POOL=") && !strings.HasPrefix(kv, "K8SENV_POOL_ENV=") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			kept = append(kept, kv)
		}
	}
	return kept
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(path[:strings.LastIndex(path, "/")], 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
