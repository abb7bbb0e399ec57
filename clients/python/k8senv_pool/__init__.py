"""k8senv_pool: the Python client of the k8senv pool service (docs/reference/pool-api.md).

    import k8senv_pool

    with k8senv_pool.instance("capi") as inst:
        ...  # inst.server, inst.ca_file (or inst.ca_certificate), inst.token
        # inst.configuration(): a kubernetes.client.Configuration (needs the kubernetes package)

In pytest, the ``k8senv_instance`` and ``k8senv_api_client`` fixtures of :mod:`k8senv_pool.pytest_plugin`
(``-p k8senv_pool.pytest_plugin``, or ``pytest_plugins = ["k8senv_pool.pytest_plugin"]``).
"""

from . import client as _client
from .client import *  # noqa: F401,F403 — the names client.__all__ lists

__all__ = list(_client.__all__)

__version__ = "0.1.0"
