"""Instance.configuration() and the k8senv_api_client fixture, against the fake pool service
(the real service: test_integration.py, whose tests use k8senv_api_client)."""

import sys

import pytest

import k8senv_pool
from conftest import CA_PEM, lease_answer

kubernetes = pytest.importorskip("kubernetes", reason="python3-kubernetes (clients/test.sh requires it)")


def test_configuration_reaches_the_instance_as_its_admin(make_pool):
    users = {"alice": {"token": "alice-token", "kubeconfig": "/repo/.k8senv/run-1/capi-0/users/alice.kubeconfig"}}
    pool = make_pool(lambda req: (201, lease_answer("capi", users=users)))
    inst = k8senv_pool.Client(pool.path).acquire("capi")

    config = inst.configuration()
    assert isinstance(config, kubernetes.client.Configuration)
    assert config.host == "https://127.0.0.1:39211"
    assert config.ssl_ca_cert == "/repo/.k8senv/run-1/capi-0/pki/ca.crt"
    assert config.verify_ssl
    assert config.get_api_key_with_prefix("authorization") == "Bearer secret-token"

    alice = inst.configuration("alice")
    assert alice.get_api_key_with_prefix("authorization") == "Bearer alice-token"
    with pytest.raises(KeyError, match="instance capi-0 has no user 'bob'; its users: alice"):
        inst.configuration("bob")


def test_configuration_writes_the_ca_when_the_service_sends_no_file(make_pool):
    answer = lease_answer("capi")
    del answer["caFile"]
    pool = make_pool(lambda req: (201, answer))
    config = k8senv_pool.Client(pool.path).acquire("capi").configuration()
    with open(config.ssl_ca_cert) as f:
        assert f.read() == CA_PEM


def test_configuration_without_kubernetes_names_the_package(make_pool, monkeypatch):
    pool = make_pool(lambda req: (201, lease_answer("capi")))
    inst = k8senv_pool.Client(pool.path).acquire("capi")
    for name in [m for m in sys.modules if m == "kubernetes" or m.startswith("kubernetes.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "kubernetes", None)  # import kubernetes raises ImportError

    with pytest.raises(ImportError) as e:
        inst.configuration()
    assert "Instance.configuration() and the k8senv_api_client fixture need the kubernetes package" in str(e.value)
    assert "apt-get install python3-kubernetes" in str(e.value)
    assert "pip install kubernetes" in str(e.value)
    assert e.value.name == "kubernetes"


def test_api_client_fixture_is_released_after_the_test(pytester, pool, monkeypatch):
    for name in ("K8SENV_POOL_ENV", "K8SENV_POOL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("K8SENV_POOL", pool.path)
    pytester.makepyfile("""
        import pytest
        from kubernetes import client

        @pytest.mark.k8senv(environment="capi")
        def test_api(k8senv_api_client, k8senv_instance):
            assert isinstance(k8senv_api_client, client.ApiClient)
            assert k8senv_api_client.configuration.host == k8senv_instance.server
            assert k8senv_api_client.configuration.get_api_key_with_prefix("authorization") == "Bearer secret-token"
    """)
    result = pytester.runpytest("-p", "k8senv_pool.pytest_plugin")
    result.assert_outcomes(passed=1)
    assert [r.method for r in pool.requests] == ["POST", "DELETE"]


def test_api_client_fixture_without_kubernetes_fails_the_test(pytester, pool, monkeypatch):
    for name in ("K8SENV_POOL_ENV", "K8SENV_POOL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("K8SENV_POOL", pool.path)
    for name in [m for m in sys.modules if m == "kubernetes" or m.startswith("kubernetes.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "kubernetes", None)  # import kubernetes raises ImportError
    pytester.makepyfile("""
        def test_api(k8senv_api_client):
            pass
    """)
    result = pytester.runpytest("-p", "k8senv_pool.pytest_plugin")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*k8senv_api_client: k8senv_pool: Instance.configuration() and the k8senv_api_client "
                                 "fixture need the kubernetes package*python3-kubernetes*pip install kubernetes*"])
    assert [r.method for r in pool.requests] == ["POST", "DELETE"]  # the instance is released
