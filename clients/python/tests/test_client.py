"""Unit tests of the client against the fake pool service of conftest.py."""

import os
import socket
import threading
import time

import pytest

import k8senv_pool
from k8senv_pool import client as client_module
from conftest import CA_PEM, CLOSE, HANG, lease_answer, pool_handler

LEASE = "5f0c2d3e8a6b4c1d9e7f0a1b2c3d4e5f"
NO_SERVICE_TEXT = "start one with `k8senv up --detach`"


def test_acquire_parses_every_field(make_pool):
    webhook = {"host": "127.0.0.1", "port": 42817, "certDir": "/repo/.k8senv/run-1/webhook"}
    pool = make_pool(lambda req: (201, lease_answer("capi", LEASE, "2026-12-01T13:20:30Z", webhook=webhook)))
    inst = k8senv_pool.Client(pool.path).acquire("capi", timeout=5, holder=4242, ttl=90)
    assert (inst.lease, inst.environment, inst.name) == (LEASE, "capi", "capi-0")
    assert inst.server == "https://127.0.0.1:39211"
    assert inst.ca_certificate == CA_PEM
    assert inst.ca_file == "/repo/.k8senv/run-1/capi-0/pki/ca.crt"
    assert inst.token == "secret-token"
    assert inst.kubeconfig == "/repo/.k8senv/run-1/capi-0/kubeconfig"
    assert inst.holder == 4242
    assert inst.expires_at == "2026-12-01T13:20:30Z"
    assert inst.webhook == k8senv_pool.Webhook(host="127.0.0.1", port=42817, cert_dir="/repo/.k8senv/run-1/webhook")
    assert "secret-token" not in repr(inst)  # kept out of assertion messages and logs

    [req] = pool.requests
    assert (req.method, req.path, req.content_type) == ("POST", "/v1/leases", "application/json")
    assert req.json() == {"environment": "capi", "timeoutSeconds": 5, "holder": 4242, "ttlSeconds": 90}
    assert b'"timeoutSeconds": 5,' in req.body  # whole seconds go as integers, not 5.0


def test_acquire_parses_users(make_pool):
    users = {
        "alice": {"token": "alice-token", "kubeconfig": "/repo/.k8senv/run-1/capi-0/users/alice.kubeconfig"},
        "bob": {"token": "bob-token", "kubeconfig": "/repo/.k8senv/run-1/capi-0/users/bob.kubeconfig"},
    }
    pool = make_pool(lambda req: (201, lease_answer("capi", LEASE, users=users)))
    inst = k8senv_pool.Client(pool.path).acquire("capi")
    assert sorted(inst.users) == ["alice", "bob"]
    assert inst.users["alice"] == k8senv_pool.User(token="alice-token", kubeconfig="/repo/.k8senv/run-1/capi-0/users/alice.kubeconfig")
    assert inst.users["bob"].kubeconfig == "/repo/.k8senv/run-1/capi-0/users/bob.kubeconfig"
    assert inst.users["bob"].token == "bob-token"
    assert "alice-token" not in repr(inst)  # users' tokens are kept out of logs too


@pytest.mark.parametrize("users", [{}, None], ids=["empty", "absent (an older service)"])
def test_acquire_without_users(make_pool, users):
    answer = lease_answer("capi", LEASE)
    if users is None:
        del answer["users"]
    pool = make_pool(lambda req: (201, answer))
    assert k8senv_pool.Client(pool.path).acquire("capi").users == {}


def test_malformed_users_are_an_unexpected_answer(make_pool):
    pool = make_pool(lambda req: (201, lease_answer("capi", LEASE, users=["alice"])))
    with pytest.raises(k8senv_pool.PoolError) as raised:
        k8senv_pool.Client(pool.path).acquire("capi")
    assert raised.value.code == "unexpected-answer"


def test_acquire_sends_only_what_is_given(pool):
    inst = k8senv_pool.Client(pool.path).acquire(timeout=1.5)
    assert inst.environment == "only" and inst.expires_at is None and inst.webhook is None
    assert pool.requests[0].json() == {"timeoutSeconds": 1.5}


def test_release_and_status(make_pool):
    status = {"version": 1, "pid": 5150, "environments": [{"name": "capi", "size": 2, "waiting": 0, "instances": [
        {"name": "capi-0", "state": "leased", "lease": LEASE, "holder": 4242, "since": "2026-12-01T13:20:00Z"},
        {"name": "capi-1", "state": "idle", "lease": None, "holder": None, "since": "2026-12-01T13:19:58Z"}]}]}
    pool = make_pool(lambda req: (200, status) if req.path == "/v1/status" else pool_handler(req))
    c = k8senv_pool.Client(pool.path)
    assert c.release(LEASE, "stop") == {"lease": LEASE, "instance": "capi-0", "mode": "stop", "replaced": False}
    c.release(LEASE)
    assert [(r.method, r.path, r.query) for r in pool.requests] == [
        ("DELETE", f"/v1/leases/{LEASE}", "mode=stop"),
        ("DELETE", f"/v1/leases/{LEASE}", "mode=reset"),
    ]
    assert c.status() == status


def test_release_keep_answers_the_bundle(make_pool):
    kept = {"lease": LEASE, "instance": "capi-0", "mode": "keep", "replaced": False, "bundle": "/ci/pm/capi-0.k8senv-bundle"}
    pool = make_pool(lambda req: (200, kept))
    assert k8senv_pool.Client(pool.path).release(LEASE, "keep")["bundle"] == "/ci/pm/capi-0.k8senv-bundle"
    assert [(r.method, r.query) for r in pool.requests] == [("DELETE", "mode=keep")]
    assert "keep" in k8senv_pool.client.MODES


def test_error_bodies_become_pool_error(make_pool):
    def handler(req):
        if req.method == "POST":
            return 503, {"error": {"code": "acquire-timeout", "message": "no instance of capi became free within 5s"}}
        if req.method == "DELETE":
            return 404, {"error": {"code": "lease-not-found", "message": f"no lease {LEASE}"}}
        return 502, b"<html>proxy error</html>"

    pool = make_pool(handler)
    c = k8senv_pool.Client(pool.path)
    with pytest.raises(k8senv_pool.PoolError) as err:
        c.acquire("capi", timeout=5)
    e = err.value
    assert (e.code, e.message, e.http_status) == ("acquire-timeout", "no instance of capi became free within 5s", 503)
    assert type(e) is k8senv_pool.PoolError
    for part in ("POST /v1/leases", pool.path, "no instance of capi became free within 5s", "acquire-timeout", "503"):
        assert part in str(e)

    with pytest.raises(k8senv_pool.PoolError) as err:
        c.release(LEASE)
    assert (err.value.code, err.value.http_status) == ("lease-not-found", 404)

    with pytest.raises(k8senv_pool.PoolError) as err:
        c.status()
    assert (err.value.code, err.value.http_status) == ("unexpected-answer", 502)
    assert "proxy error" in err.value.message


def test_malformed_success_answer(make_pool):
    pool = make_pool(lambda req: (201, b'{"lease": 12'))
    with pytest.raises(k8senv_pool.PoolError, match="not JSON") as err:
        k8senv_pool.Client(pool.path).acquire()
    assert err.value.code == "unexpected-answer"


def test_no_socket(isolated):
    with pytest.raises(k8senv_pool.NoServiceError) as err:
        k8senv_pool.Client()
    assert NO_SERVICE_TEXT in str(err.value)
    assert "K8SENV_POOL is not set" in str(err.value) and ".k8senv/pool.sock" in str(err.value)
    assert err.value.code == "no-service" and err.value.http_status is None
    assert isinstance(err.value, k8senv_pool.PoolError)

    with pytest.raises(k8senv_pool.NoServiceError, match="start one with"):
        with k8senv_pool.instance("capi"):
            pass

    missing = os.path.join(isolated, "missing.sock")
    with pytest.raises(k8senv_pool.NoServiceError) as err:
        k8senv_pool.Client(missing).status()
    assert NO_SERVICE_TEXT in str(err.value) and missing in str(err.value)


def test_stale_socket_is_no_service(isolated, monkeypatch):
    stale = os.path.join(isolated, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)  # bound, never listening: connection refused
    try:
        monkeypatch.setenv("K8SENV_POOL", stale)
        with pytest.raises(k8senv_pool.NoServiceError, match="start one with `k8senv up --detach`"):
            k8senv_pool.Client().acquire("capi")
    finally:
        s.close()


def test_service_gone_after_reading_the_request(make_pool):
    pool = make_pool(lambda req: CLOSE)
    c = k8senv_pool.Client(pool.path)
    for call in (lambda: c.acquire("capi"), c.status, lambda: c.release(LEASE)):
        with pytest.raises(k8senv_pool.ServiceGoneError) as err:
            call()
        assert "the pool service is gone" in str(err.value) and pool.path in str(err.value)
        assert err.value.code == "service-gone"


def test_service_gone_at_once(silent_closer):
    with pytest.raises(k8senv_pool.ServiceGoneError, match="the pool service is gone"):
        k8senv_pool.Client(silent_closer).acquire("capi")


def test_no_answer_before_the_deadline(make_pool, monkeypatch):
    pool = make_pool(lambda req: HANG)
    monkeypatch.setattr(client_module, "STATUS_TIMEOUT", 0.3)
    start = time.monotonic()
    with pytest.raises(k8senv_pool.NoAnswerError) as err:
        k8senv_pool.Client(pool.path).status()
    assert time.monotonic() - start < 5
    assert "no answer within 0.3s" in str(err.value) and "GET /v1/status" in str(err.value)


def test_full_listen_queue_is_retried(make_pool):
    """A listen queue that is full answers connect with EAGAIN: the client retries until the
    service accepts."""
    pool = make_pool(backlog=0, serve=False)
    filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    filler.connect(pool.path)  # the queue's one place
    try:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.setblocking(False)
        try:
            probe.connect(pool.path)
            pytest.skip("this kernel queues more than the listen backlog: nothing to retry")
        except BlockingIOError:
            pass
        finally:
            probe.close()
        threading.Timer(0.3, pool.serve).start()
        assert k8senv_pool.Client(pool.path).status()["version"] == 1
    finally:
        filler.close()


def test_discovery_through_env(isolated, pool, monkeypatch):
    monkeypatch.setenv("K8SENV_POOL", pool.path)
    c = k8senv_pool.Client()
    assert c.socket_path == pool.path
    assert c.status()["version"] == 1


def test_discovery_through_parent_folder(isolated, make_pool, monkeypatch):
    pool = make_pool(path=os.path.join(isolated, ".k8senv", "pool.sock"))
    deep = os.path.join(isolated, "a", "b")
    os.makedirs(os.path.join(deep, ".k8senv"))  # a .k8senv without a socket is passed over
    monkeypatch.chdir(deep)
    c = k8senv_pool.Client()
    assert os.path.samefile(c.socket_path, pool.path)
    assert c.status()["version"] == 1

    other = make_pool()
    monkeypatch.setenv("K8SENV_POOL", other.path)  # wins over the folders
    assert k8senv_pool.find_socket() == other.path


def test_instance_context_manager_releases(isolated, pool, monkeypatch):
    monkeypatch.setenv("K8SENV_POOL", pool.path)
    with k8senv_pool.instance("capi", timeout=5) as inst:
        assert inst.environment == "capi"
        assert [r.method for r in pool.requests] == ["POST"]
    assert (pool.requests[1].method, pool.requests[1].path, pool.requests[1].query) == (
        "DELETE", f"/v1/leases/{inst.lease}", "mode=reset")

    with pytest.raises(RuntimeError):
        with k8senv_pool.instance("capi", mode="stop") as inst:
            raise RuntimeError("the test failed")
    assert pool.requests[-1].query == "mode=stop"

    with k8senv_pool.instance("capi") as inst:
        inst.release("clean")
    assert [r.query for r in pool.requests[-2:]] == ["", "mode=clean"]  # released once


def test_audit_events(make_pool):
    events = [{"time": "2026-12-01T13:20:01.123456Z", "instance": "capi-0", "user": "k8senv-admin", "verb": "create",
               "resource": "configmaps", "namespace": "default", "name": "x", "code": 201, "latencyMs": 2.9,
               "requestURI": "/api/v1/namespaces/default/configmaps", "auditID": "a1", "userAgent": "python"}]

    def handler(req):
        if req.path == f"/v1/leases/{LEASE}/audit":
            return 200, {"lease": LEASE, "instance": "capi-0", "events": events}
        if req.path == "/v1/leases/other/audit":
            return 409, {"error": {"code": "not-audited", "message": "instance capi-1 writes no audit log"}}
        return pool_handler(req)

    pool = make_pool(handler)
    c = k8senv_pool.Client(pool.path)
    assert c.audit_events(LEASE) == events
    assert c.audit_events(LEASE, since="30s") == events
    assert [(r.method, r.path, r.query) for r in pool.requests] == [
        ("GET", f"/v1/leases/{LEASE}/audit", ""),
        ("GET", f"/v1/leases/{LEASE}/audit", "since=30s"),
    ]
    with pytest.raises(k8senv_pool.PoolError) as err:
        c.audit_events("other")
    assert (err.value.code, err.value.http_status) == ("not-audited", 409)
