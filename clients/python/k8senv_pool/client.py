"""The k8senv pool service's client: HTTP/1.1 + JSON over a Unix socket (docs/reference/pool-api.md).

Standard library only. Every socket operation has a timeout: the client never waits forever.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import socket
import stat
import struct
import time
from typing import Any, Dict, Iterator, List, Optional
from urllib.parse import quote

__all__ = [
    "Client",
    "Instance",
    "Webhook",
    "User",
    "PoolError",
    "NoServiceError",
    "ServiceGoneError",
    "NoAnswerError",
    "UntrustedSocketError",
    "find_socket",
    "instance",
    "ENV_SOCKET",
    "ENV_ENVIRONMENT",
    "ENV_TIMEOUT",
    "NO_SERVICE",
    "SERVICE_GONE",
    "UNTRUSTED_SOCKET",
]

ENV_SOCKET = "K8SENV_POOL"
"""The socket's path (`k8senv up --detach` prints an export of it; `k8senv run` sets it)."""
ENV_ENVIRONMENT = "K8SENV_POOL_ENV"
"""The environment the pytest fixture acquires when none is named."""
ENV_TIMEOUT = "K8SENV_POOL_TIMEOUT"
"""Seconds the pytest fixture waits for a free instance (default 60)."""

NO_SERVICE = "no k8senv pool service is running (start one with `k8senv up --detach`)"
SERVICE_GONE = "the pool service is gone"
UNTRUSTED_SOCKET = "untrusted socket (a k8senv client uses only its own user's pool service)"

DEFAULT_ACQUIRE_TIMEOUT = 60.0
CONNECT_TIMEOUT = 5.0
ANSWER_MARGIN = 30.0  # beyond the acquire wait: the service's own time to answer
STATUS_TIMEOUT = 30.0
RELEASE_TIMEOUT = 120.0  # a reset (or the replacement of an instance) takes a while
MAX_ANSWER_BYTES = 4 << 20

MODES = ("reset", "clean", "stop", "keep")


class PoolError(Exception):
    """An error of the pool service, or of reaching it.

    ``code`` is the service's error code (``acquire-timeout``, ``lease-not-found``, ...), or one
    of the client's own: ``no-service``, ``service-gone``, ``no-answer``, ``unexpected-answer``,
    ``untrusted-socket``.
    ``http_status`` is the answer's HTTP status, ``None`` when there was no answer.
    """

    def __init__(self, code: str, message: str, http_status: Optional[int] = None,
                 op: Optional[str] = None, socket_path: Optional[str] = None):
        self.code = code
        self.message = message
        self.http_status = http_status
        self.op = op
        self.socket_path = socket_path
        super().__init__(code, message, http_status)

    def __str__(self) -> str:
        where = " ".join(p for p in (self.op, f"on {self.socket_path}" if self.socket_path else None) if p)
        prefix = f"k8senv pool: {where}: " if where else "k8senv pool: "
        if self.http_status is not None:
            return f"{prefix}{self.message} ({self.code}, HTTP {self.http_status})"
        return f"{prefix}{self.message}"


class NoServiceError(PoolError):
    """No socket was found, or nothing accepts connections on it."""

    def __init__(self, detail: str, op: Optional[str] = None, socket_path: Optional[str] = None):
        super().__init__("no-service", f"{NO_SERVICE}: {detail}", None, op, socket_path)


class ServiceGoneError(PoolError):
    """The service accepted the connection and closed it without an answer."""

    def __init__(self, detail: str, op: Optional[str] = None, socket_path: Optional[str] = None):
        super().__init__("service-gone", f"{SERVICE_GONE}: {detail}", None, op, socket_path)


class NoAnswerError(PoolError):
    """The service did not answer before the request's deadline."""

    def __init__(self, detail: str, op: Optional[str] = None, socket_path: Optional[str] = None):
        super().__init__("no-answer", detail, None, op, socket_path)


class UntrustedSocketError(PoolError):
    """A socket was refused because it is not provably the user's own pool service's: the socket
    or its folder is a symlink, belongs to another user or may be written by others; the search
    for ``.k8senv/pool.sock`` stopped at a folder of another user; or the process answering on
    the socket runs as another uid (``SO_PEERCRED``). Nothing was sent on such a socket."""

    def __init__(self, detail: str, op: Optional[str] = None, socket_path: Optional[str] = None):
        super().__init__("untrusted-socket", f"{UNTRUSTED_SOCKET}: {detail}", None, op, socket_path)
        self.detail = detail


@dataclasses.dataclass
class Webhook:
    """Where a leased instance's admission and conversion webhooks call, and the certificate for a
    server there (docs/explanation/webhooks.md)."""

    host: str
    """Where to listen: ``127.0.0.1``."""
    port: int
    """The port to listen on."""
    cert_dir: str
    """A folder with ``tls.crt`` and ``tls.key`` to serve, and ``ca.crt``, the CA kube-apiserver trusts."""


@dataclasses.dataclass
class User:
    """A declared user (``users:`` in k8senv.yaml) of a leased instance. What it may do depends on
    the config's ``apiServer.authorization``: with RBAC (the default when users are declared),
    what the Roles and ClusterRoles bound to it or its groups allow."""

    token: str = dataclasses.field(repr=False)
    """Its bearer token, made for this instance."""
    kubeconfig: str
    """A 0600 kubeconfig file with that token."""


@dataclasses.dataclass
class Instance:
    """A leased instance: a ready kube-apiserver that is the holder's alone until released."""

    lease: str
    """The lease's id: 32 lowercase hex characters."""
    environment: str
    name: str
    """The instance's name, e.g. ``capi-0``."""
    server: str
    """The API server's URL, e.g. ``https://127.0.0.1:39211``."""
    ca_certificate: str = dataclasses.field(repr=False)
    """PEM of the API server's CA."""
    ca_file: str
    """The same CA in a file."""
    token: str = dataclasses.field(repr=False)
    """A bearer token."""
    kubeconfig: str
    """A 0600 kubeconfig file for kubectl."""
    holder: int
    """The pid whose exit ends the lease."""
    expires_at: Optional[str] = None
    """RFC 3339 time at which the TTL ends the lease; ``None`` without one."""
    webhook: Optional[Webhook] = None
    """Where its webhooks call; ``None`` when its environment has none."""
    users: Dict[str, User] = dataclasses.field(default_factory=dict)
    """The users the config declares, by name (empty when it declares none)."""
    client: Optional["Client"] = dataclasses.field(default=None, repr=False, compare=False)
    released: bool = dataclasses.field(default=False, repr=False, compare=False)

    def release(self, mode: str = "reset") -> dict:
        """Ends the lease (see :meth:`Client.release`)."""
        if self.client is None:
            raise PoolError("bad-request", f"release of lease {self.lease}: the instance was not returned by acquire")
        try:
            answer = self.client.release(self.lease, mode)
        except PoolError as e:
            if e.http_status is not None:  # the service answered: the lease is over either way
                self.released = True
            raise
        self.released = True
        return answer

    def configuration(self, user: Optional[str] = None) -> Any:
        """A ``kubernetes.client.Configuration`` that reaches this instance: its server, its CA
        (``ca_file``) and its admin token, or the token of ``user``, a user the config declares
        (``users:`` in k8senv.yaml)::

            from kubernetes import client
            with client.ApiClient(inst.configuration()) as api:
                client.CoreV1Api(api).list_namespace()

        Needs the ``kubernetes`` package (Debian: ``apt-get install python3-kubernetes``; else
        ``pip install kubernetes``); this client itself does not, and imports it only here.

        :raises ImportError: when ``kubernetes`` is not importable; the message says how to get it.
        :raises KeyError: when the config declares no user ``user``.
        """
        kubernetes_client = _kubernetes_client()
        token = self.token
        if user is not None:
            if user not in self.users:
                known = ", ".join(sorted(self.users)) or "none (users: in k8senv.yaml declares them)"
                raise KeyError(f"instance {self.name} has no user {user!r}; its users: {known}")
            token = self.users[user].token
        config = kubernetes_client.Configuration()
        config.host = self.server
        config.api_key = {"authorization": "Bearer " + token}
        config.ssl_ca_cert = self.ca_file or _ca_file(self.ca_certificate)
        return config

    def audit_events(self, since: Any = None) -> List[dict]:
        """The requests this instance completed during its lease (see :meth:`Client.audit_events`)."""
        if self.client is None:
            raise PoolError("bad-request", f"audit of lease {self.lease}: the instance was not returned by acquire")
        return self.client.audit_events(self.lease, since)


def _kubernetes_client() -> Any:
    """``kubernetes.client``, imported on first use: the pool client itself needs only the
    standard library."""
    try:
        from kubernetes import client as kubernetes_client  # type: ignore[import-not-found]
    except ImportError as e:
        raise ImportError(
            "k8senv_pool: Instance.configuration() and the k8senv_api_client fixture need the kubernetes "
            "package, which is not importable here (Debian: apt-get install python3-kubernetes; "
            f"else: pip install kubernetes): {e}", name="kubernetes") from e
    return kubernetes_client


def _ca_file(pem: str) -> str:
    """A 0600 file of this user's with the CA's PEM, for a service that sent no caFile (the
    kubernetes client reads its CA from a file); removed when the process exits."""
    import atexit
    import tempfile

    fd, path = tempfile.mkstemp(prefix="k8senv-ca-", suffix=".crt")
    with os.fdopen(fd, "w") as f:
        f.write(pem)
    atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    return path


# A client uses only its own user's pool service: a grant is a kubeconfig, and a kubeconfig can
# make kubectl run a program (an exec plugin), so a socket another user planted would run that
# user's program as this one. Three checks, none following a symlink:
#
# - the socket and its folder (the .k8senv state folder, or K8SENV_POOL's folder) must be the
#   user's: the folder a real folder owned by the euid that neither its group nor others may
#   write to, the socket a real socket owned by the euid (_untrusted);
# - the search for .k8senv/pool.sock walks up from the current folder only through folders owned
#   by the user or by root, and stops at a folder of another user without looking into it, as
#   git's safe.directory refuses a repository of another user (find_socket);
# - after connecting, the process answering must run as the user's euid (SO_PEERCRED,
#   _check_peer): this holds even if a folder is swapped between the checks and the connect.


def _not_you(uid: int) -> str:
    return f"owned by uid {uid}, not you (uid {os.geteuid()})"


def _lstat(path: str) -> Optional[os.stat_result]:
    """``os.lstat(path)``, or ``None`` when nothing is there (no such file, or a path component
    that is not a folder)."""
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return f"mode {mode:o}"


def _refusal(path: str, folder: bool) -> Optional[str]:
    """Why ``path`` is not the user's — a real folder of the euid's that its group and others
    cannot write to (``folder``), else a real socket of the euid's —, ``""`` when it is, ``None``
    when nothing is there."""
    try:
        st = _lstat(path)
    except OSError as e:
        return f"{path} cannot be checked: {_oserror(e)}"
    if st is None:
        return None
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symlink"
    if folder and not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a folder"
    if not folder and not stat.S_ISSOCK(st.st_mode):
        return f"{path} is not a socket ({_kind(st.st_mode)})"
    if st.st_uid != os.geteuid():
        return f"{path} is {_not_you(st.st_uid)}"
    if folder and st.st_mode & 0o022:
        return f"{path} is writable by its group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    return ""


def _untrusted(path: str) -> Optional[str]:
    """Why the socket ``path`` is not provably the user's, or ``None`` when it is — or when it or
    its folder does not exist (connecting says so)."""
    for what, folder in ((os.path.dirname(path) or ".", True), (path, False)):
        reason = _refusal(what, folder)
        if reason is None:
            return None
        if reason:
            return reason
    return None


def _exists(path: str) -> bool:
    """Whether something is at ``path`` (itself, not what a symlink there points to); an error
    other than a missing file counts as something, for :func:`_untrusted` to report."""
    try:
        return _lstat(path) is not None
    except OSError:
        return True


def find_socket(start: Optional[str] = None) -> str:
    """The pool service's socket: ``$K8SENV_POOL`` when set and not empty, else the first
    ``.k8senv/pool.sock`` in ``start`` (default: the current folder; its physical path) and each
    parent folder, walking up while a folder is owned by the user or by root and stopping at a
    folder of another user (without looking into it). Either way the socket and its folder must
    be the user's (a real folder of the euid's that its group and others cannot write to, a real
    socket of the euid's).

    Raises :class:`NoServiceError` when there is none, :class:`UntrustedSocketError` when the
    socket is not the user's.
    """
    path = os.environ.get(ENV_SOCKET, "")
    if path:
        reason = _untrusted(path)
        if reason:
            raise UntrustedSocketError(f"{ENV_SOCKET}={path}: {reason}", socket_path=path)
        return path
    try:
        here = os.path.realpath(start if start is not None else os.getcwd())
    except OSError as e:
        raise NoServiceError(f"{ENV_SOCKET} is not set and the current folder is unknown: {e}") from e
    euid = os.geteuid()
    looked = None
    d = here
    while True:
        try:
            owner = os.lstat(d).st_uid
        except OSError as e:
            raise NoServiceError(f"{ENV_SOCKET} is not set and looking for .k8senv/pool.sock in {d} failed: "
                                 f"{_oserror(e)}") from e
        candidate = os.path.join(d, ".k8senv", "pool.sock")
        if owner not in (euid, 0):
            stop = (f"stopped looking for .k8senv/pool.sock at {d}: {_not_you(owner)}; "
                    f"set {ENV_SOCKET} to use a pool there")
            if _exists(candidate):
                raise UntrustedSocketError(stop, socket_path=candidate)
            detail = f"{ENV_SOCKET} is not set"
            if looked is not None:
                detail += f" and there is no .k8senv/pool.sock in {here}"
                if looked != here:
                    detail += f" or the folders above it up to {looked}"
            raise NoServiceError(f"{detail}; {stop}")
        if _exists(candidate):
            reason = _untrusted(candidate)
            if reason:
                raise UntrustedSocketError(reason, socket_path=candidate)
            return candidate
        looked = d
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    raise NoServiceError(f"{ENV_SOCKET} is not set and there is no .k8senv/pool.sock in {here} or any folder above it")


def _check_peer(sock: socket.socket, path: str) -> None:
    """Raises :class:`UntrustedSocketError` unless the process at the other end of ``sock`` (the
    one that listens on the socket) runs as the client's euid (``SO_PEERCRED``)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        raise UntrustedSocketError("the user of the process answering on it cannot be checked on this system "
                                   "(SO_PEERCRED is Linux's)", socket_path=path)
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("iII"))
    except OSError as e:
        raise UntrustedSocketError(f"the user of the process answering on it cannot be checked (SO_PEERCRED): "
                                   f"{_oserror(e)}", socket_path=path) from e
    pid, uid, _ = struct.unpack("iII", creds)  # struct ucred: pid_t, uid_t, gid_t
    euid = os.geteuid()
    if uid != euid:
        raise UntrustedSocketError(f"the process answering on it (pid {pid}) runs as uid {uid}, not you (uid {euid})",
                                   socket_path=path)


class _UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection to a Unix socket, with a connect timeout and a read/write timeout."""

    def __init__(self, path: str, timeout: float, connect_timeout: float):
        super().__init__("k8senv", timeout=timeout)
        self._path = path
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        # Only a socket of the user's own, answered by a process of the user's own (see
        # find_socket). A Unix socket whose listen queue is full refuses a connection with EAGAIN
        # instead of queueing it (many tests acquiring at once): that is retried until the
        # connect timeout.
        reason = _untrusted(self._path)
        if reason:
            raise UntrustedSocketError(reason, socket_path=self._path)
        deadline = time.monotonic() + min(self._connect_timeout, self.timeout)
        delay = 0.002
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                sock.connect(self._path)
                _check_peer(sock, self._path)
                sock.settimeout(self.timeout)
            except BlockingIOError:
                sock.close()
                if time.monotonic() + delay >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
                continue
            except BaseException:
                sock.close()
                raise
            self.sock = sock
            return


class _ConnectFailed(Exception):
    def __init__(self, cause: BaseException):
        self.cause = cause


def _webhook(answer: Any) -> Optional[Webhook]:
    """The ``webhook`` of an acquire's answer (null when the environment has none)."""
    if answer is None:
        return None
    return Webhook(host=answer["host"], port=int(answer["port"]), cert_dir=answer["certDir"])


def _seconds(value: float) -> Any:
    """A number for JSON: an int when whole (60, not 60.0)."""
    value = float(value)
    return int(value) if value.is_integer() else value


class Client:
    """A client of one pool service. Every request opens its own connection, so a client may be
    shared by threads.

    ``socket_path`` defaults to :func:`find_socket` (which raises :class:`NoServiceError` when
    there is no socket, :class:`UntrustedSocketError` when it is not the user's); the
    constructor does not connect. Each request uses the socket only if it and its folder are the
    user's and the process answering runs as the user, else it raises
    :class:`UntrustedSocketError` having sent nothing.
    """

    def __init__(self, socket_path: Optional[str] = None, *, connect_timeout: float = CONNECT_TIMEOUT):
        self.socket_path = socket_path if socket_path else find_socket()
        self.connect_timeout = connect_timeout

    def __repr__(self) -> str:
        return f"Client({self.socket_path!r})"

    def acquire(self, environment: Optional[str] = None, timeout: float = DEFAULT_ACQUIRE_TIMEOUT,
                holder: Optional[int] = None, ttl: Optional[float] = None) -> Instance:
        """Leases an instance of ``environment`` (may be ``None`` when the service serves one),
        waiting up to ``timeout`` seconds for a free one. ``holder`` is the pid whose exit ends
        the lease (default: this process); ``ttl`` (seconds) ends it even if the holder lives.
        """
        body: dict = {}
        if environment:
            body["environment"] = environment
        if timeout is not None:
            if timeout < 0:
                raise ValueError(f"timeout must not be negative: {timeout}")
            body["timeoutSeconds"] = _seconds(timeout)
        if holder is not None:
            body["holder"] = int(holder)
        if ttl is not None:
            if ttl <= 0:
                raise ValueError(f"ttl must be positive: {ttl}")
            body["ttlSeconds"] = _seconds(ttl)
        wait = DEFAULT_ACQUIRE_TIMEOUT if timeout is None else float(timeout)
        answer = self._request("POST", "/v1/leases", body, wait + ANSWER_MARGIN)
        op = "POST /v1/leases"
        try:
            inst = Instance(
                lease=answer["lease"],
                environment=answer.get("environment") or "",
                name=answer.get("instance") or "",
                server=answer.get("server") or "",
                ca_certificate=answer.get("caCertificate") or "",
                ca_file=answer.get("caFile") or "",
                token=answer.get("token") or "",
                kubeconfig=answer.get("kubeconfig") or "",
                holder=int(answer.get("holder") or 0),
                expires_at=answer.get("expiresAt"),
                webhook=_webhook(answer.get("webhook")),
                users={name: User(token=u.get("token") or "", kubeconfig=u.get("kubeconfig") or "")
                       for name, u in (answer.get("users") or {}).items()},
                client=self,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise PoolError("unexpected-answer", f"the answer is not a lease: {answer!r:.200}",
                            None, op, self.socket_path) from e
        if not isinstance(inst.lease, str) or not inst.lease:
            raise PoolError("unexpected-answer", "the answer has no lease id", None, op, self.socket_path)
        return inst

    def release(self, lease: str, mode: str = "reset") -> dict:
        """Ends a lease. ``mode`` is ``reset`` (back to the state it was lent in), ``clean``
        (what the holder created is deleted through the API), ``stop`` (the pool replaces
        the instance) or ``keep`` (the instance is written as a post-mortem bundle into the
        service's ``postmortem.dir``, then reset; the answer's ``bundle`` is its path, for
        ``k8senv open``). Returns the service's answer
        (``{"lease", "instance", "mode", "replaced"}``, and ``bundle`` with ``keep``). Releasing
        an ended lease raises :class:`PoolError` with code ``lease-not-found``.
        """
        if not lease:
            raise ValueError("empty lease id")
        path = f"/v1/leases/{quote(lease, safe='')}?mode={quote(mode or 'reset', safe='')}"
        return self._request("DELETE", path, None, RELEASE_TIMEOUT)

    def audit_events(self, lease: str, since: Any = None) -> List[dict]:
        """The requests the lease's instance completed since the lease was granted, oldest
        first, as the service answers them: dicts of ``time``, ``instance``, ``user``, ``verb``,
        ``resource``, ``namespace``, ``name``, ``code``, ``latencyMs``, ``requestURI``,
        ``auditID``, ``userAgent`` (docs/reference/pool-api.md). ``since`` (a timezone-aware
        :class:`datetime.datetime`, an RFC 3339 string or a Go duration such as ``"30s"``)
        narrows them to the requests from then on. Raises :class:`PoolError` with code
        ``not-audited`` when the environment has no ``audit:``, ``lease-not-found`` for an ended
        lease.
        """
        if not lease:
            raise ValueError("empty lease id")
        path = f"/v1/leases/{quote(lease, safe='')}/audit"
        if since is not None:
            text = since.isoformat() if hasattr(since, "isoformat") else str(since)
            path += f"?since={quote(text, safe='')}"
        answer = self._request("GET", path, None, STATUS_TIMEOUT)
        events = answer.get("events") if isinstance(answer, dict) else None
        if not isinstance(events, list):
            raise PoolError("unexpected-answer", f"the answer has no events: {answer!r:.200}",
                            None, f"GET /v1/leases/{lease}/audit", self.socket_path)
        return events

    def status(self) -> dict:
        """The pools' state: ``{"version", "pid", "environments": [...]}`` as the service
        answers it."""
        return self._request("GET", "/v1/status", None, STATUS_TIMEOUT)

    def _request(self, method: str, path: str, body: Optional[dict], timeout: float) -> Any:
        op = f"{method} {path.split('?', 1)[0]}"
        sock = self.socket_path
        conn = _UnixHTTPConnection(sock, timeout=timeout, connect_timeout=self.connect_timeout)
        try:
            try:
                conn.connect()
            except OSError as e:  # missing socket, refused, permission denied, connect timeout
                raise _ConnectFailed(e) from e
            except UntrustedSocketError as e:  # nothing was sent
                e.op = op
                raise
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Accept": "application/json", "Host": "k8senv"}
            if payload is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            data = resp.read(MAX_ANSWER_BYTES)
            status = resp.status
        except _ConnectFailed as e:
            cause = e.cause
            detail = "no answer within the connect timeout" if isinstance(cause, socket.timeout) else _oserror(cause)
            raise NoServiceError(detail, op, sock) from cause
        except socket.timeout as e:
            raise NoAnswerError(f"no answer within {timeout:g}s", op, sock) from e
        except (http.client.RemoteDisconnected, http.client.IncompleteRead, http.client.BadStatusLine,
                ConnectionResetError, BrokenPipeError, ConnectionAbortedError) as e:
            raise ServiceGoneError(f"the connection was closed without an answer ({type(e).__name__}: {e})",
                                   op, sock) from e
        finally:
            conn.close()

        if not 200 <= status <= 299:
            raise _answer_error(status, data, op, sock)
        try:
            return json.loads(data)
        except ValueError as e:
            raise PoolError("unexpected-answer",
                            f"the answer (HTTP {status}) is not JSON: {data[:200]!r}", None, op, sock) from e


def _oserror(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror} ({type(e).__name__})"
    return f"{type(e).__name__}: {e}"


def _answer_error(status: int, data: bytes, op: str, sock: str) -> PoolError:
    try:
        err = json.loads(data)["error"]
        code, message = err["code"], err.get("message", "")
        if isinstance(code, str) and code:
            return PoolError(code, str(message), status, op, sock)
    except (ValueError, KeyError, TypeError):
        pass
    text = data[:200].decode("utf-8", "replace").strip()
    reason = http.client.responses.get(status, "error")
    return PoolError("unexpected-answer", f"{reason}: {text}" if text else reason, status, op, sock)


@contextlib.contextmanager
def instance(environment: Optional[str] = None, *, timeout: float = DEFAULT_ACQUIRE_TIMEOUT,
             holder: Optional[int] = None, ttl: Optional[float] = None, mode: str = "reset",
             socket_path: Optional[str] = None) -> Iterator[Instance]:
    """Leases an instance for the ``with`` block and releases it (``mode``) when it ends::

        with k8senv_pool.instance("capi") as inst:
            ...  # inst.server, inst.ca_file, inst.token
    """
    inst = Client(socket_path).acquire(environment, timeout=timeout, holder=holder, ttl=ttl)
    try:
        yield inst
    finally:
        if not inst.released:
            inst.release(mode)
