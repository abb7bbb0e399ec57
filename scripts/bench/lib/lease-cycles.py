"""Acquire + release cycles against a running pool service, timed one by one (Python standard
library client, one process). Used by bench-pool-service.sh and bench-pool-transport.sh.

Environment: K8SENV_POOL (the socket), CYCLES (the steady-state cycles), ENVIRONMENT (default
isolation), PYTHONPATH with clients/python. Prints:
  socket-lease-first cycles=200 p50_ms=.. p99_ms=..   the first 200 right after up returned
  socket-lease cycles=N p50_ms=.. p99_ms=..           ... then N more: the steady state
  socket-lease-ratio first_over_steady_p50=..x first_over_steady_p99=..x load1=..
                                                      the two side by side (goal: p99 below 5 ms
                                                      in both, a ratio near 1x); load1: the
                                                      machine's 1-minute load when it started
  socket-split cycles=200 acquire_p50_ms=.. release_p50_ms=.. status_p50_ms=..
                                                      then each request timed alone (status: the
                                                      transport with nothing behind it)
"""
import os
import time

from k8senv_pool import Client

client = Client(os.environ["K8SENV_POOL"])
environment = os.environ.get("ENVIRONMENT", "isolation")


def cycles(n):
    times = []
    for _ in range(n):
        started = time.perf_counter()
        lease = client.acquire(environment, holder=os.getpid())
        client.release(lease.lease)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return lambda q: times[min(len(times) - 1, int(q * len(times)))]


# The first cycles right after up returned (before k8senv waited for kube-apiserver's own
# post-start work, they shared the cores with it: docs/explanation/performance.md), then the
# steady state, then the two side by side.
load = os.getloadavg()[0]
first = cycles(200)
print(f"socket-lease-first cycles=200 p50_ms={first(0.50):.2f} p99_ms={first(0.99):.2f}", flush=True)
steady = cycles(int(os.environ["CYCLES"]))
print(f"socket-lease cycles={os.environ['CYCLES']} p50_ms={steady(0.50):.2f} p99_ms={steady(0.99):.2f}", flush=True)
print(f"socket-lease-ratio first_over_steady_p50={first(0.50) / steady(0.50):.2f}x "
      f"first_over_steady_p99={first(0.99) / steady(0.99):.2f}x load1={load:.2f}", flush=True)
if os.environ.get("LEASE_ONLY"):
    raise SystemExit(0)
times = {"acquire": [], "release": [], "status": []}
for _ in range(200):
    started = time.perf_counter()
    lease = client.acquire(environment, holder=os.getpid())
    acquired = time.perf_counter()
    client.release(lease.lease)
    released = time.perf_counter()
    client.status()
    times["acquire"].append((acquired - started) * 1000)
    times["release"].append((released - acquired) * 1000)
    times["status"].append((time.perf_counter() - released) * 1000)
median = {name: sorted(values)[len(values) // 2] for name, values in times.items()}
print(f"socket-split cycles=200 acquire_p50_ms={median['acquire']:.2f} release_p50_ms={median['release']:.2f} "
      f"status_p50_ms={median['status']:.2f}", flush=True)
