package k8senv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// TestOverhead is scripts/bench/bench-pool-service.sh's measurement, not a test: it runs only with
// K8SENV_POOL_BENCH=1 against a running pool service. 50 parallel tests each make one request
// to a Kubernetes API server: with K8SENV_POOL_BENCH_SHARED=1 all to one instance acquired
// once (the baseline: what sharing costs), else each to an instance of its own, acquired and
// released (reset) around it. It prints one line: the wall time of the 50 tests, and the time
// spent in Acquire and Release summed over them.
func TestOverhead(t *testing.T) {
	if os.Getenv("K8SENV_POOL_BENCH") != "1" {
		t.Skip("a benchmark: set K8SENV_POOL_BENCH=1 (scripts/bench/bench-pool-service.sh does)")
	}
	env := getenv("K8SENV_POOL_ENV", "isolation")
	shared := os.Getenv("K8SENV_POOL_BENCH_SHARED") == "1"
	client, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	var one *Instance
	if shared {
		if one, err = client.Acquire(context.Background(), AcquireOptions{Environment: env}); err != nil {
			t.Fatal(err)
		}
		defer one.Release(context.Background(), ModeReset)
	}
	var mu sync.Mutex
	var acquire, release time.Duration
	started := time.Now()
	t.Run("tests", func(t *testing.T) {
		for i := 0; i < 50; i++ {
			t.Run(fmt.Sprintf("t%02d", i), func(t *testing.T) {
				t.Parallel()
				inst := one
				if !shared {
					began := time.Now()
					var err error
					if inst, err = client.Acquire(context.Background(), AcquireOptions{Environment: env, Timeout: 5 * time.Minute}); err != nil {
						t.Fatal(err)
					}
					mu.Lock()
					acquire += time.Since(began)
					mu.Unlock()
				}
				if status, _, err := newKubeClient(t, inst).do("GET", "/api/v1/namespaces/default", nil); err != nil || status != 200 {
					t.Fatalf("GET default namespace: %d %v", status, err)
				}
				if !shared {
					began := time.Now()
					if err := inst.Release(context.Background(), ModeReset); err != nil {
						t.Fatal(err)
					}
					mu.Lock()
					release += time.Since(began)
					mu.Unlock()
				}
			})
		}
	})
	mode := "leases"
	if shared {
		mode = "shared"
	}
	fmt.Printf("go-tests mode=%s tests=50 wall_ms=%.1f acquire_sum_ms=%.1f release_sum_ms=%.1f\n",
		mode, ms(time.Since(started)), ms(acquire), ms(release))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
