"""pytest plugin of the k8senv pool: the ``k8senv_instance`` and ``k8senv_api_client`` fixtures.

Load it with ``pytest -p k8senv_pool.pytest_plugin``, or in a conftest.py::

    pytest_plugins = ["k8senv_pool.pytest_plugin"]

A test that asks for ``k8senv_instance`` gets an instance of its own for the test's duration
(released with mode ``reset`` after it). The environment comes from, first to last:

1. indirect parametrization: ``@pytest.mark.parametrize("k8senv_instance", ["a", "b"],
   indirect=True)`` (a name, or a dict of the marker's keywords);
2. the marker: ``@pytest.mark.k8senv(environment="capi")`` (or ``k8senv("capi")``), on the
   test, its class or its module (``pytestmark``);
3. ``$K8SENV_POOL_ENV``, then the ini option ``k8senv_environment``;
4. none: the service's only environment.

The wait for a free instance is the marker's or parameter's ``timeout``, else
``$K8SENV_POOL_TIMEOUT``, else the ini option ``k8senv_timeout``, else 60 seconds.

``k8senv_api_client`` is a ``kubernetes.client.ApiClient`` of the test's ``k8senv_instance``
(:meth:`Instance.configuration`; the same marker and parameters choose it), closed after the
test; it needs the ``kubernetes`` package (python3-kubernetes).
"""

from __future__ import annotations

import os
from typing import Any, Dict

import pytest

from .client import DEFAULT_ACQUIRE_TIMEOUT, ENV_ENVIRONMENT, ENV_TIMEOUT, MODES, Client, Instance, PoolError

MARKER = "k8senv"
_KEYS = ("environment", "timeout", "ttl", "mode")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("k8senv_environment",
                  f"k8senv pool: the environment of k8senv_instance when a test names none ({ENV_ENVIRONMENT} wins)")
    parser.addini("k8senv_timeout",
                  f"k8senv pool: seconds k8senv_instance waits for a free instance ({ENV_TIMEOUT} wins; default 60)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(environment=None, *, timeout=None, ttl=None, mode='reset'): the k8senv pool environment "
        "of the k8senv_instance fixture, the seconds to wait for a free instance, the lease's TTL and the "
        "release mode (reset, clean, stop or keep)",
    )


def _merge(into: Dict[str, Any], args: tuple, kwargs: dict, what: str) -> None:
    if len(args) > 1:
        raise pytest.UsageError(f"{what}: at most one positional argument (the environment), got {args!r}")
    if args:
        into["environment"] = args[0]
    unknown = sorted(set(kwargs) - set(_KEYS))
    if unknown:
        raise pytest.UsageError(f"{what}: unknown keyword(s) {', '.join(unknown)}; known: {', '.join(_KEYS)}")
    into.update(kwargs)


def _seconds(value: Any, what: str) -> float:
    try:
        s = float(value)
    except (TypeError, ValueError):
        s = -1.0
    if s <= 0:
        raise pytest.UsageError(f"{what}={value!r} is not a positive number of seconds")
    return s


def _options(request: pytest.FixtureRequest) -> Dict[str, Any]:
    opts: Dict[str, Any] = {}
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        _merge(opts, tuple(marker.args), dict(marker.kwargs), f"@pytest.mark.{MARKER}")
    param = getattr(request, "param", None)
    if isinstance(param, dict):
        _merge(opts, (), param, "k8senv_instance parameter")
    elif isinstance(param, str):
        opts["environment"] = param
    elif param is not None:
        raise pytest.UsageError(f"k8senv_instance parameter {param!r}: an environment name or a dict of "
                                f"{', '.join(_KEYS)}")

    config = request.config
    if not opts.get("environment"):
        opts["environment"] = os.environ.get(ENV_ENVIRONMENT) or config.getini("k8senv_environment") or None
    if opts.get("timeout") is None:
        if os.environ.get(ENV_TIMEOUT):
            opts["timeout"] = _seconds(os.environ[ENV_TIMEOUT], ENV_TIMEOUT)
        elif config.getini("k8senv_timeout"):
            opts["timeout"] = _seconds(config.getini("k8senv_timeout"), "k8senv_timeout")
        else:
            opts["timeout"] = DEFAULT_ACQUIRE_TIMEOUT
    opts.setdefault("ttl", None)
    mode = opts.get("mode") or "reset"
    if mode not in MODES:
        raise pytest.UsageError(f"k8senv mode {mode!r}: one of {', '.join(MODES)}")
    opts["mode"] = mode
    return opts


@pytest.fixture
def k8senv_instance(request: pytest.FixtureRequest):
    """An instance of a k8senv pool, this test's alone; released (reset) after the test."""
    opts = _options(request)
    try:
        inst: Instance = Client().acquire(opts["environment"], timeout=opts["timeout"], ttl=opts["ttl"])
    except PoolError as e:
        pytest.fail(f"k8senv_instance: {e}", pytrace=False)
    try:
        yield inst
    finally:
        if not inst.released:
            inst.release(opts["mode"])



@pytest.fixture
def k8senv_api_client(k8senv_instance: Instance):
    """A ``kubernetes.client.ApiClient`` of this test's ``k8senv_instance`` (its admin),
    closed after the test; the instance is released after it as ``k8senv_instance`` is."""
    try:
        config = k8senv_instance.configuration()
    except ImportError as e:
        pytest.fail(f"k8senv_api_client: {e}", pytrace=False)
    from kubernetes import client as kubernetes_client

    api = kubernetes_client.ApiClient(config)
    try:
        yield api
    finally:
        api.close()
