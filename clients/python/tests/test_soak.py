"""The pool service's fault soak (clients/test.sh --integration): 8 concurrent clients, 2,000
acquire/release cycles in all (K8SENV_POOL_SOAK_CYCLES), each cycle a process of its own that
leases an instance (it is the holder), checks that nothing of an earlier holder is there,
leaves a ConfigMap behind and then either releases or is SIGKILLed by its client (30%). In the
end: no lease is left, every instance is idle, the pool has not grown, and no holder ever saw an
earlier holder's object.

Runs with K8SENV_POOL_INTEGRATION=1 against a running pool service (K8SENV_POOL), on the
environment K8SENV_POOL_ENV (default "isolation").
"""

import json
import os
import random
import subprocess
import sys
import threading
import time

import pytest

from k8senv_pool import Client

pytestmark = pytest.mark.skipif(os.environ.get("K8SENV_POOL_INTEGRATION") != "1",
                                reason="integration test against a running k8senv pool service (clients/test.sh --integration)")

CLIENTS = 8
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One holder: acquire, look, leave a mark, then release or wait to be killed.
HOLDER = r"""
import http.client, json, os, ssl, sys, time, urllib.parse
sys.path.insert(0, sys.argv[3])
from k8senv_pool import Client
inst = Client().acquire(sys.argv[2], timeout=300)
url = urllib.parse.urlsplit(inst.server)
context = ssl.create_default_context(cafile=inst.ca_file)
def request(method, path, body=None):
    connection = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=60)
    connection.request(method, path, body=json.dumps(body) if body else None,
                       headers={"Authorization": "Bearer " + inst.token, "Content-Type": "application/json"})
    answer = connection.getresponse()
    return answer.status, answer.read()
status, body = request("GET", "/api/v1/namespaces/default/configmaps")
left = [i["metadata"]["name"] for i in json.loads(body)["items"] if i["metadata"]["name"].startswith("soak-")]
if status != 200 or left:
    print("LEAK", inst.name, status, left, flush=True)
    sys.exit(3)
status, body = request("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "soak-%d" % os.getpid()}})
if status != 201:
    print("CREATE", status, body[:200], flush=True)
    sys.exit(4)
print("READY", inst.name, flush=True)
if sys.argv[1] == "release":
    inst.release()
else:
    time.sleep(600)
"""


def test_soak_with_random_kills():
    environment = os.environ.get("K8SENV_POOL_ENV") or "isolation"
    cycles = int(os.environ.get("K8SENV_POOL_SOAK_CYCLES") or 2000)
    client = Client()
    before = client.status()
    size = next(e["size"] for e in before["environments"] if e["name"] == environment)
    failures, counts, lock = [], {"kill": 0, "release": 0}, threading.Lock()
    remaining = [cycles]

    def work(seed):
        rng = random.Random(seed)
        while True:
            with lock:
                if remaining[0] == 0 or failures:
                    return
                remaining[0] -= 1
            mode = "kill" if rng.random() < 0.3 else "release"
            holder = subprocess.Popen([sys.executable, "-c", HOLDER, mode, environment, HERE],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = holder.stdout.readline()
            if not line.startswith("READY"):
                holder.kill()
                _, err = holder.communicate()
                with lock:
                    failures.append(f"{mode}: {line.strip()} {err.strip()[-500:]}")
                return
            if mode == "kill":
                holder.kill()
            if holder.wait(timeout=300) != (0 if mode == "release" else -9):
                with lock:
                    failures.append(f"{mode}: exit {holder.returncode}: {holder.stderr.read()[-500:]}")
                return
            with lock:
                counts[mode] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert counts["kill"] + counts["release"] == cycles, counts

    # Every lease ends (a killed holder's within a poll of the service): all idle, none lost.
    deadline = time.monotonic() + 30
    while True:
        env = next(e for e in client.status()["environments"] if e["name"] == environment)
        states = [i["state"] for i in env["instances"]]
        if states and all(s == "idle" for s in states) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert all(s == "idle" for s in states), env
    assert all(i["lease"] is None and i["holder"] is None for i in env["instances"]), env
    assert len(env["instances"]) == size, f"the pool grew past its size {size}: {env}"
    assert env["waiting"] == 0 and env["size"] == size, env
