"""The client uses only its own user's pool service (issue 25, item 1): a socket that another user
planted above a repository, a .k8senv that is a symlink, or a service answering as another uid
is refused before a request is sent."""

import json
import os
import socket
import signal

import pytest

import k8senv_pool
from conftest import lease_answer

NOBODY = 65534  # the uid (and gid) the tests give to another user's files and processes


@pytest.fixture
def root():
    """Skips a test that must chown files or switch uids, unless in CI ($CI), where the tests run
    as root and a skip would hide the test."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail(f"this test needs root (to chown files to uid {NOBODY} or run a process as it); "
                        f"CI runs the tests as root, but euid is {os.geteuid()}")
        pytest.skip(f"needs root: it chowns files to uid {NOBODY} or runs a process as it (euid is {os.geteuid()})")


def mkdir(path, mode):
    os.mkdir(path)
    os.chmod(path, mode)  # past the umask
    return path


def assert_untrusted(raised, pool, *want):
    err = raised.value
    assert isinstance(err, k8senv_pool.UntrustedSocketError), repr(err)
    assert err.code == "untrusted-socket" and err.http_status is None
    assert not isinstance(err, k8senv_pool.NoServiceError)
    for w in want:
        assert w in str(err)
    if pool is not None:
        assert pool.requests == [], "the planted service was sent a request"


def test_socket_in_another_user_s_folder_above_the_repository(root, isolated, make_pool, monkeypatch):
    """uid nobody made .k8senv/pool.sock in a shared folder of its own above the repository: the
    search stops at that folder and says why; nothing is sent to the planted service."""
    shared = mkdir(os.path.join(isolated, "shared"), 0o777)
    pool = make_pool(path=os.path.join(shared, ".k8senv", "pool.sock"))
    for path in (pool.path, os.path.dirname(pool.path), shared):
        os.lchown(path, NOBODY, NOBODY)
    repo = mkdir(os.path.join(shared, "repo"), 0o755)
    monkeypatch.chdir(repo)

    for call in (k8senv_pool.find_socket, k8senv_pool.Client, lambda: k8senv_pool.instance("capi").__enter__()):
        with pytest.raises(k8senv_pool.PoolError) as raised:
            call()
        assert_untrusted(raised, pool,
                         f"stopped looking for .k8senv/pool.sock at {shared}: owned by uid 65534, not you (uid 0)",
                         "set K8SENV_POOL to use a pool there")


def test_search_stops_at_a_folder_of_another_user(root, isolated, make_pool, monkeypatch):
    """The search does not look above a folder of another user, even for a socket of the user's own."""
    pool = make_pool(path=os.path.join(isolated, ".k8senv", "pool.sock"))
    shared = mkdir(os.path.join(isolated, "shared"), 0o777)
    os.chown(shared, NOBODY, NOBODY)
    repo = mkdir(os.path.join(shared, "repo"), 0o755)
    monkeypatch.chdir(repo)

    with pytest.raises(k8senv_pool.NoServiceError) as raised:
        k8senv_pool.Client()
    assert f"no .k8senv/pool.sock in {repo}" in str(raised.value)
    assert f"stopped looking for .k8senv/pool.sock at {shared}: owned by uid 65534, not you (uid 0)" in str(raised.value)

    monkeypatch.chdir(shared)  # the current folder itself is another user's: not even looked into
    with pytest.raises(k8senv_pool.NoServiceError) as raised:
        k8senv_pool.Client()
    assert f"K8SENV_POOL is not set; stopped looking for .k8senv/pool.sock at {shared}: owned by uid 65534" in str(raised.value)
    assert pool.requests == []


def test_state_folder_of_another_user_in_a_sticky_folder(root, isolated, make_pool, monkeypatch):
    """The issue's reproduction: a sticky shared folder (root's, mode 1777, like /tmp) where uid
    nobody made .k8senv/pool.sock above the repository."""
    shared = mkdir(os.path.join(isolated, "tmp"), 0o1777)
    pool = make_pool(path=os.path.join(shared, ".k8senv", "pool.sock"))
    state = os.path.dirname(pool.path)
    os.chown(pool.path, NOBODY, NOBODY)
    os.chown(state, NOBODY, NOBODY)
    monkeypatch.chdir(mkdir(os.path.join(shared, "repo"), 0o755))

    with pytest.raises(k8senv_pool.PoolError) as raised:
        k8senv_pool.Client().acquire("capi")
    assert_untrusted(raised, pool, f"{state} is owned by uid 65534, not you (uid 0)")


def test_socket_owned_by_another_user(root, isolated, make_pool, monkeypatch):
    """A socket of another user in the user's own .k8senv: found, named by K8SENV_POOL, or given."""
    pool = make_pool(path=os.path.join(isolated, ".k8senv", "pool.sock"))
    os.chown(pool.path, NOBODY, NOBODY)
    owned = f"{pool.path} is owned by uid 65534, not you (uid 0)"

    with pytest.raises(k8senv_pool.PoolError) as raised:
        k8senv_pool.Client()
    assert_untrusted(raised, pool, owned)

    monkeypatch.setenv("K8SENV_POOL", pool.path)
    with pytest.raises(k8senv_pool.PoolError) as raised:
        k8senv_pool.Client()
    assert_untrusted(raised, pool, f"K8SENV_POOL={pool.path}", owned)

    with pytest.raises(k8senv_pool.PoolError) as raised:  # a path given in code: checked when connecting
        k8senv_pool.Client(pool.path).status()
    assert_untrusted(raised, pool, "GET /v1/status", owned)


def test_socket_folder_of_another_user_named_by_k8senv_pool(root, isolated, make_pool, monkeypatch):
    pool = make_pool()
    folder = os.path.dirname(pool.path)
    os.chown(folder, NOBODY, NOBODY)
    monkeypatch.setenv("K8SENV_POOL", pool.path)
    with pytest.raises(k8senv_pool.PoolError) as raised:
        k8senv_pool.Client()
    assert_untrusted(raised, pool, f"K8SENV_POOL={pool.path}", f"{folder} is owned by uid 65534, not you (uid 0)")


def test_state_folder_symlink(isolated, make_pool, monkeypatch):
    """.k8senv as a symlink to a real folder with a socket: refused, found or named; so is a
    socket that is a symlink to the real one."""
    pool = make_pool()
    link = os.path.join(isolated, ".k8senv")
    os.symlink(os.path.dirname(pool.path), link)
    deep = mkdir(os.path.join(isolated, "a"), 0o755)
    monkeypatch.chdir(deep)

    with pytest.raises(k8senv_pool.PoolError) as raised:
        k8senv_pool.Client()
    assert_untrusted(raised, pool, f"{link} is a symlink")

    monkeypatch.setenv("K8SENV_POOL", os.path.join(link, "pool.sock"))
    with pytest.raises(k8senv_pool.PoolError) as raised:
        k8senv_pool.Client()
    assert_untrusted(raised, pool, f"{link} is a symlink")

    monkeypatch.delenv("K8SENV_POOL")
    real = mkdir(os.path.join(deep, ".k8senv"), 0o700)
    os.symlink(pool.path, os.path.join(real, "pool.sock"))
    with pytest.raises(k8senv_pool.PoolError) as raised:
        k8senv_pool.Client()
    assert_untrusted(raised, pool, f"{os.path.join(real, 'pool.sock')} is a symlink")


def test_state_folder_writable_by_others(isolated, make_pool):
    """A .k8senv that its group or others may write to: another user could swap the socket."""
    pool = make_pool(path=os.path.join(isolated, ".k8senv", "pool.sock"))
    state = os.path.dirname(pool.path)
    os.chmod(state, 0o777)
    with pytest.raises(k8senv_pool.PoolError) as raised:
        k8senv_pool.Client()
    assert_untrusted(raised, pool, f"{state} is writable by its group or others (mode 0777)")


def serve_as_nobody(bound, answer, report):
    """In a forked child: becomes uid nobody, listens on the bound socket (the peer credentials a
    client sees are the listener's), says so on the pipe ``report``, and answers every request
    with the grant ``answer``, reporting it. Never returns."""
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        bound.listen(16)
        os.write(report, f"listening as uid {os.getuid()}\n".encode())
        body = json.dumps(answer).encode()
        while True:
            conn, _ = bound.accept()
            data = conn.recv(65536)
            if data:
                os.write(report, b"request " + data.split(b"\r\n", 1)[0] + b"\n")
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            conn.close()
    finally:
        os._exit(1)


def test_peer_of_another_user_is_refused(root, short_dir):
    """A socket file of the user's own in a folder of the user's own, answered by a process of
    another uid (the bound socket was passed to it): SO_PEERCRED tells, and the client closes the
    connection before sending anything."""
    path = os.path.join(short_dir, "pool.sock")
    bound = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bound.bind(path)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        serve_as_nobody(bound, lease_answer("capi"), write_end)
    os.close(write_end)
    bound.close()
    report = os.fdopen(read_end)
    try:
        assert report.readline().strip() == f"listening as uid {NOBODY}"
        assert os.lstat(path).st_uid == os.geteuid()  # the socket file is the test user's

        with pytest.raises(k8senv_pool.PoolError) as raised:
            k8senv_pool.Client(path).acquire("capi")
        assert_untrusted(raised, None, f"POST /v1/leases on {path}", "the process answering on it",
                         "runs as uid 65534, not you (uid 0)")
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        rest = report.read()
        report.close()
    assert "request" not in rest, f"the helper was sent a request: {rest}"
