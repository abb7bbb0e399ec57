"""Integration tests against a running pool service (clients/test.sh --integration):
K8SENV_POOL_INTEGRATION=1, K8SENV_POOL naming its socket (or a .k8senv/pool.sock above the current
folder). Twenty tests (run them with ``pytest -n 4``; a pool of 2 instances is enough) each lease an
instance of K8SENV_POOL_ENV (default "isolation") through the ``k8senv_instance`` and
``k8senv_api_client`` fixtures and create the same namespace in it: each must find the instance as its snapshot left it, seeds
included, and nothing of another test.

The custom resource is K8SENV_POOL_CR_GROUP / _VERSION / _PLURAL / _KIND (default
example.k8senv.dev / v1 / widgets / Widget) with the spec K8SENV_POOL_CR_SPEC (JSON, default
{"color": "blue"}); the seed that must be there is K8SENV_POOL_SEED ("namespace/configmap", default
"seeded/greeting").
"""

import json
import os

import pytest

TESTS = 20
NAMESPACE = "isolated"

pytestmark = [
    pytest.mark.skipif(os.environ.get("K8SENV_POOL_INTEGRATION") != "1",
                       reason="integration test against a running k8senv pool service: set "
                              "K8SENV_POOL_INTEGRATION=1 and K8SENV_POOL (see clients/test.sh --integration)"),
    pytest.mark.k8senv(environment=os.environ.get("K8SENV_POOL_ENV") or "isolation"),
]


def env(name, default):
    return os.environ.get(name) or default


@pytest.mark.parametrize("index", range(TESTS))
def test_instance_is_isolated(k8senv_instance, k8senv_api_client, index):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    group = env("K8SENV_POOL_CR_GROUP", "example.k8senv.dev")
    version = env("K8SENV_POOL_CR_VERSION", "v1")
    plural = env("K8SENV_POOL_CR_PLURAL", "widgets")
    kind = env("K8SENV_POOL_CR_KIND", "Widget")
    spec = json.loads(env("K8SENV_POOL_CR_SPEC", '{"color": "blue"}'))
    seed = env("K8SENV_POOL_SEED", "seeded/greeting")
    seed_namespace, _, seed_name = seed.partition("/")
    assert seed_namespace and seed_name, f"K8SENV_POOL_SEED={seed!r}: want namespace/configmapname"

    core = client.CoreV1Api(k8senv_api_client)
    custom = client.CustomObjectsApi(k8senv_api_client)
    where = f"instance {k8senv_instance.name} (lease {k8senv_instance.lease})"

    # The same namespace in every test: created, not AlreadyExists.
    try:
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    except ApiException as e:
        if e.status == 409:
            pytest.fail(f"namespace {NAMESPACE} already exists on {where}: another holder's objects are visible")
        raise
    configmap = f"mine-{index}"
    core.create_namespaced_config_map(NAMESPACE, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": configmap, "namespace": NAMESPACE},
        "data": {"test": str(index)},
    })
    widget = f"w-{index}"
    custom.create_namespaced_custom_object(group, version, NAMESPACE, plural, {
        "apiVersion": f"{group}/{version}", "kind": kind,
        "metadata": {"name": widget, "namespace": NAMESPACE},
        "spec": spec,
    })

    # kube-root-ca.crt is published into every namespace by kube-controller-manager when one
    # runs; it is nobody's test object.
    configmaps = sorted(cm.metadata.name for cm in core.list_namespaced_config_map(NAMESPACE).items
                        if cm.metadata.name != "kube-root-ca.crt")
    assert configmaps == [configmap], f"ConfigMaps in {NAMESPACE} on {where}"
    widgets = sorted(item["metadata"]["name"]
                     for item in custom.list_namespaced_custom_object(group, version, NAMESPACE, plural)["items"])
    assert widgets == [widget], f"{plural} in {NAMESPACE} on {where}"

    # The environment's seeds are there.
    try:
        core.read_namespaced_config_map(seed_name, seed_namespace)
    except ApiException as e:
        pytest.fail(f"seeded ConfigMap {seed} on {where}: HTTP {e.status}: {e.reason}")


def test_audit_events_are_the_lease_s_own():
    """A lease of K8SENV_POOL_AUDIT_ENV (default "audited": audit: in clients/testdata/k8senv.yaml,
    a pool of one) sees its own create with code 201 and none of the previous lease's; after the
    release its audit is lease-not-found; a lease of an environment without audit: is told
    not-audited."""
    import datetime

    import k8senv_pool
    from kubernetes import client

    pool = k8senv_pool.Client()
    timeout = float(env("K8SENV_POOL_TIMEOUT", "60"))
    audited = env("K8SENV_POOL_AUDIT_ENV", "audited")
    names = set()
    for name in ("first-lease", "second-lease"):
        inst = pool.acquire(audited, timeout=timeout)
        try:
            names.add(inst.name)
            api = client.ApiClient(inst.configuration())
            try:
                client.CoreV1Api(api).create_namespaced_config_map("default", {
                    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
            finally:
                api.close()
            events = inst.audit_events()
            creates = [(e["namespace"], e["name"], e["code"]) for e in events
                       if e["verb"] == "create" and e["resource"] == "configmaps"]
            assert creates == [("default", name, 201)], f"lease {inst.lease} of {inst.name}: {events}"
            assert all(e["instance"] == inst.name for e in events), events
            later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
            assert inst.audit_events(since=later) == []
        finally:
            inst.release()
        with pytest.raises(k8senv_pool.PoolError) as released:
            pool.audit_events(inst.lease)
        assert released.value.code == "lease-not-found"
    assert len(names) == 1, f"the two leases of {audited} had instances {names}: want the pool's one instance"

    plain = pool.acquire(env("K8SENV_POOL_ENV", "isolation"), timeout=timeout)
    try:
        with pytest.raises(k8senv_pool.PoolError) as refused:
            plain.audit_events()
        assert refused.value.code == "not-audited", str(refused.value)
    finally:
        plain.release()
