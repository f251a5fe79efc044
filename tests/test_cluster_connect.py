"""cluster.runtime.connect's two guards, without a cluster: the env vars a Ray job already sets are
not named again (Ray refuses to start such a driver), and a refused token says what to set."""
from __future__ import annotations

import json

from cluster.runtime import _auth_failure, _thumper_env


def test_job_env_vars_are_not_named_twice(monkeypatch):
    monkeypatch.setenv("THUMPER_DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("THUMPER_PLAN_GPUS", "4")
    monkeypatch.setenv("THUMPER_DATA_DIR", "/data")
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
    assert {"THUMPER_DATABASE_URL", "THUMPER_PLAN_GPUS", "THUMPER_DATA_DIR"} <= set(_thumper_env())

    job = {"runtime_env": {"env_vars": {"THUMPER_DATABASE_URL": "postgresql://db/x", "THUMPER_PLAN_GPUS": "4"}}}
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps(job))
    env = _thumper_env()
    assert "THUMPER_DATABASE_URL" not in env and "THUMPER_PLAN_GPUS" not in env
    assert env["THUMPER_DATA_DIR"] == "/data"

    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps({"runtime_env": None}))
    assert "THUMPER_PLAN_GPUS" in _thumper_env()


def test_a_refused_token_is_recognised_under_rays_connection_error():
    from ray.exceptions import AuthenticationError

    try:
        try:
            try:
                raise AuthenticationError("RPC error: InvalidAuthToken: Authentication token is missing")
            except AuthenticationError as e:
                raise RuntimeError(f"Failed to connect to GCS. Last connection error: {e}") from e
        except RuntimeError as e:
            raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379") from e
    except ConnectionError as e:
        assert _auth_failure(e)
    assert not _auth_failure(ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379"))


def test_a_second_connect_keeps_the_cluster_it_joined(ray_cluster):
    """A process that connects twice (a census after a caller's own ray.init, or a second command in
    one process) keeps its cluster; this raised AttributeError on Ray 2.60 (no
    RuntimeContext.dashboard_url)."""
    import ray

    from cluster.runtime import connect

    assert isinstance(connect(), str)
    assert isinstance(connect(num_cpus=1), str)
    assert ray.get_runtime_context().gcs_address == ray_cluster
