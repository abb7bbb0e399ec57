"""The pytest plugin, in pytest sessions of their own (pytester) against the fake pool service."""

import pytest

NO_SERVICE_TEXT = "start one with `k8senv up --detach`"


@pytest.fixture
def no_env(monkeypatch):
    """No K8SENV_POOL* variables (pytester runs in a folder of its own, without .k8senv above it)."""
    for name in ("K8SENV_POOL", "K8SENV_POOL_ENV", "K8SENV_POOL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def served(no_env, pool, monkeypatch):
    monkeypatch.setenv("K8SENV_POOL", pool.path)
    return pool


def acquired(pool):
    return [(r.json() or {}).get("environment") for r in pool.requests if r.method == "POST"]


def released(pool):
    return [r.query for r in pool.requests if r.method == "DELETE"]


def test_marker_environment_and_release_after_the_test(pytester, served):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.k8senv(environment="capi")
        def test_keyword(k8senv_instance):
            assert k8senv_instance.environment == "capi"
            assert k8senv_instance.server.startswith("https://")

        @pytest.mark.k8senv("positional", mode="stop", timeout=7)
        def test_positional(k8senv_instance):
            assert k8senv_instance.environment == "positional"
    """)
    result = pytester.runpytest("-p", "k8senv_pool.pytest_plugin", "--strict-markers")
    result.assert_outcomes(passed=2)
    assert acquired(served) == ["capi", "positional"]
    assert [r.json().get("timeoutSeconds") for r in served.requests if r.method == "POST"] == [60, 7]
    assert released(served) == ["mode=reset", "mode=stop"]
    # each lease released right after its own test: acquire, release, acquire, release
    assert [r.method for r in served.requests] == ["POST", "DELETE", "POST", "DELETE"]


def test_class_and_module_markers(pytester, served):
    pytester.makepyfile("""
        import pytest

        pytestmark = pytest.mark.k8senv(environment="module-env")

        def test_module(k8senv_instance):
            assert k8senv_instance.environment == "module-env"

        @pytest.mark.k8senv(environment="class-env")
        class TestInClass:
            def test_class(self, k8senv_instance):
                assert k8senv_instance.environment == "class-env"
    """)
    pytester.runpytest("-p", "k8senv_pool.pytest_plugin").assert_outcomes(passed=2)
    assert acquired(served) == ["module-env", "class-env"]


def test_indirect_parametrization(pytester, served):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.k8senv(environment="overridden")
        @pytest.mark.parametrize("k8senv_instance", ["alpha", {"environment": "beta", "mode": "stop"}], indirect=True)
        def test_param(k8senv_instance):
            assert k8senv_instance.environment in ("alpha", "beta")
    """)
    pytester.runpytest("-p", "k8senv_pool.pytest_plugin").assert_outcomes(passed=2)
    assert acquired(served) == ["alpha", "beta"]
    assert released(served) == ["mode=reset", "mode=stop"]


def test_defaults_from_env_then_ini(pytester, served, monkeypatch):
    pytester.makepyfile("""
        def test_default(k8senv_instance):
            pass
    """)
    pytester.makeini("""
        [pytest]
        k8senv_environment = from-ini
        k8senv_timeout = 12
    """)
    pytester.runpytest("-p", "k8senv_pool.pytest_plugin").assert_outcomes(passed=1)
    monkeypatch.setenv("K8SENV_POOL_ENV", "from-env")
    monkeypatch.setenv("K8SENV_POOL_TIMEOUT", "300")
    pytester.runpytest("-p", "k8senv_pool.pytest_plugin").assert_outcomes(passed=1)
    assert acquired(served) == ["from-ini", "from-env"]
    assert [r.json().get("timeoutSeconds") for r in served.requests if r.method == "POST"] == [12, 300]


def test_no_environment_anywhere_asks_for_the_only_one(pytester, served):
    pytester.makepyfile("""
        def test_default(k8senv_instance):
            assert k8senv_instance.environment == "only"
    """)
    pytester.runpytest("-p", "k8senv_pool.pytest_plugin").assert_outcomes(passed=1)
    assert "environment" not in served.requests[0].json()


def test_loaded_through_conftest_pytest_plugins(pytester, served):
    pytester.makeconftest('pytest_plugins = ["k8senv_pool.pytest_plugin"]')
    pytester.makepyfile("""
        import pytest

        @pytest.mark.k8senv(environment="capi")
        def test_it(k8senv_instance):
            assert k8senv_instance.lease
    """)
    # -p as well: the plugin is loaded once
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)
    pytester.runpytest("--strict-markers", "-p", "k8senv_pool.pytest_plugin").assert_outcomes(passed=1)
    assert released(served) == ["mode=reset", "mode=reset"]


def test_released_when_the_test_fails(pytester, served):
    pytester.makepyfile("""
        def test_fails(k8senv_instance):
            assert False, "the test failed"
    """)
    pytester.runpytest("-p", "k8senv_pool.pytest_plugin").assert_outcomes(failed=1)
    assert released(served) == ["mode=reset"]


def test_no_service_is_a_clear_error(pytester, no_env):
    pytester.makepyfile("""
        def test_it(k8senv_instance):
            pass
    """)
    result = pytester.runpytest("-p", "k8senv_pool.pytest_plugin")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*k8senv_instance: k8senv pool: no k8senv pool service is running (start one with `k8senv up --detach`)*"])


def test_bad_marker_is_a_usage_error(pytester, served):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.k8senv(environmnet="typo")
        def test_it(k8senv_instance):
            pass
    """)
    result = pytester.runpytest("-p", "k8senv_pool.pytest_plugin")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unknown keyword(s) environmnet*"])
    assert served.requests == []
