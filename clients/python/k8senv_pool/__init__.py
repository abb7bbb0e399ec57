"""k8senv_pool: the Python client of the k8senv pool service (docs/reference/pool-api.md).

    import k8senv_pool

    with k8senv_pool.instance("capi") as inst:
        ...  # inst.server, inst.ca_file (or inst.ca_certificate), inst.token

In pytest, the ``k8senv_instance`` fixture of :mod:`k8senv_pool.pytest_plugin`
(``-p k8senv_pool.pytest_plugin``, or ``pytest_plugins = ["k8senv_pool.pytest_plugin"]``).
"""

from .client import (
    ENV_ENVIRONMENT,
    ENV_SOCKET,
    ENV_TIMEOUT,
    NO_SERVICE,
    SERVICE_GONE,
    Client,
    Instance,
    NoAnswerError,
    NoServiceError,
    PoolError,
    ServiceGoneError,
    find_socket,
    instance,
)

__all__ = [
    "Client",
    "Instance",
    "PoolError",
    "NoServiceError",
    "ServiceGoneError",
    "NoAnswerError",
    "find_socket",
    "instance",
    "ENV_SOCKET",
    "ENV_ENVIRONMENT",
    "ENV_TIMEOUT",
    "NO_SERVICE",
    "SERVICE_GONE",
]

__version__ = "0.1.0"
