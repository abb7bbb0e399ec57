"""Test support: k8senv_pool importable without installing it, and a fake pool service on a Unix
socket (the client's unit tests check its own parsing and error handling against it; the real
service is tested against this client by test_integration.py)."""

import http.server
import json
import os
import shutil
import socket
import socketserver
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from typing import Callable, List, Optional
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytest_plugins = ["pytester", "k8senv_pool.pytest_plugin"]

CLOSE = object()  # a handler's answer: close the connection without answering
HANG = object()  # a handler's answer: never answer (until the fake stops)


@dataclass
class Request:
    method: str
    path: str
    query: str
    content_type: Optional[str]
    body: bytes

    def json(self):
        return json.loads(self.body) if self.body else None


CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def lease_answer(environment="capi", lease=None, expires_at=None, holder=4242, webhook=None, users=None):
    return {
        "lease": lease or uuid.uuid4().hex,
        "environment": environment,
        "instance": f"{environment}-0",
        "server": "https://127.0.0.1:39211",
        "caCertificate": CA_PEM,
        "caFile": f"/repo/.k8senv/run-1/{environment}-0/pki/ca.crt",
        "token": "secret-token",
        "kubeconfig": f"/repo/.k8senv/run-1/{environment}-0/kubeconfig",
        "holder": holder,
        "expiresAt": expires_at,
        "webhook": webhook,
        "users": users or {},
    }


def pool_handler(req: Request):
    """Acquires echo the environment asked for; releases and status succeed."""
    if req.method == "POST" and req.path == "/v1/leases":
        body = req.json() or {}
        return 201, lease_answer(body.get("environment") or "only")
    if req.method == "DELETE" and req.path.startswith("/v1/leases/"):
        mode = dict(p.split("=", 1) for p in req.query.split("&") if "=" in p).get("mode", "reset")
        return 200, {"lease": req.path.rsplit("/", 1)[1], "instance": "capi-0", "mode": mode, "replaced": False}
    if req.method == "GET" and req.path == "/v1/status":
        return 200, {"version": 1, "pid": 5150, "environments": []}
    return 404, {"error": {"code": "not-found", "message": "no such path"}}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False


class FakePool:
    def __init__(self, path: str, handler: Callable = pool_handler, backlog: int = 16, serve: bool = True):
        self.path = path
        self.handler = handler
        self.requests: List[Request] = []
        self.stopping = threading.Event()
        pool = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                url = urlsplit(self.path)
                req = Request(self.command, url.path, url.query, self.headers.get("Content-Type"),
                              self.rfile.read(length))
                pool.requests.append(req)
                result = pool.handler(req)
                self.close_connection = True
                if result is CLOSE:
                    return
                if result is HANG:
                    pool.stopping.wait(30)
                    return
                status, payload = result
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = serve

            def log_message(self, *args):
                pass

        os.makedirs(os.path.dirname(path), exist_ok=True)
        server_class = type("Server", (_Server,), {"request_queue_size": backlog})
        self.server = server_class(path, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        if serve:
            self.serve()

    def serve(self):
        self.thread.start()

    def stop(self):
        self.stopping.set()
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def short_dir():
    """A fresh folder with a short path (a socket's path has at most 107 bytes)."""
    base = tempfile.gettempdir()
    d = tempfile.mkdtemp(prefix="k8senv-py-", dir=base if len(base) <= 40 else "/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def isolated(short_dir, monkeypatch):
    """No K8SENV_POOL* variables, and a current folder without .k8senv above it."""
    for name in ("K8SENV_POOL", "K8SENV_POOL_ENV", "K8SENV_POOL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(short_dir)
    return short_dir


@pytest.fixture
def make_pool(short_dir):
    pools = []

    def make(handler=pool_handler, path=None, **kwargs):
        pool = FakePool(path or os.path.join(short_dir, f"p{len(pools)}", "pool.sock"), handler, **kwargs)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.stop()


@pytest.fixture
def pool(make_pool):
    return make_pool()


@pytest.fixture
def silent_closer(short_dir):
    """A socket whose service accepts each connection and closes it at once."""
    path = os.path.join(short_dir, "closer.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    srv.settimeout(0.1)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield path
    stop.set()
    t.join(2)
    srv.close()
