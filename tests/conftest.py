"""Shared fixtures: a real Postgres + pgvector (embedded, or THUMPER_TEST_DATABASE_URL's server),
a fresh database per test, one real local Ray for the session, and the project's demo weights."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from pathlib import Path
from typing import NamedTuple

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

REPO = Path(__file__).resolve().parents[1]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing_tool(why: str, module: bool = False) -> None:
    """A test needs a tool this machine lacks: skipped on a developer's machine, a failure in CI,
    which installs every test tool (.ci/install), so a missing one is a broken install, not a pass."""
    if in_ci():
        pytest.fail(f"{why} (CI installs every test tool with .ci/install)", pytrace=False)
    pytest.skip(why, allow_module_level=module)


@pytest.fixture(scope="session", autouse=True)
def _isolated_data_dir(tmp_path_factory):
    """CLI runs in tests use a throw-away data dir, never the user's ~/.local/share/thumper."""
    data = tmp_path_factory.mktemp("thumper-data")
    os.environ["THUMPER_DATA_DIR"] = str(data)
    os.environ.pop("THUMPER_DATABASE_URL", None)
    yield
    from store.embedded import stop_embedded

    stop_embedded(data / "pgdata")  # started by a CLI test or a Serve replica, if any


@pytest.fixture(scope="session")
def server_url() -> str:
    """THUMPER_TEST_DATABASE_URL (any Postgres with pgvector) or an embedded server.

    The embedded data dir lives outside pytest's tmp root: as root, Postgres runs as the `pgserver`
    user, and pytest resets its tmp root to mode 0700 at every session start."""
    url = os.environ.get("THUMPER_TEST_DATABASE_URL")
    if url:
        yield url
        return
    from store.embedded import embedded_url, stop_embedded

    pgdata = Path(tempfile.mkdtemp(prefix="thumper-test-pg-")) / "pgdata"
    yield embedded_url(pgdata)
    stop_embedded(pgdata)
    shutil.rmtree(pgdata.parent, ignore_errors=True)


def create_database(server_url: str, prefix: str = "thumper_test") -> tuple[str, str]:
    """A brand-new database on the server: tests never see each other's rows. (name, URL)"""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, make_conninfo(**{**conninfo_to_dict(server_url), "dbname": name})


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(**settings):
    """A real Serve app (serve_apps.app.build_app(settings)) on the session's Ray; yields its URL."""
    from ray import serve

    from serve_apps.app import build_app

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(settings), name="thumper", route_prefix="/")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()


@pytest.fixture
def make_db(server_url):
    """Factory of fresh databases, dropped after the test."""
    created: list[str] = []

    def make() -> str:
        name, url = create_database(server_url)
        created.append(name)
        return url

    yield make
    for name in created:
        drop_database(server_url, name)


@pytest.fixture(scope="module")
def module_db_url(server_url) -> str:
    """One fresh database shared by a module's tests (e.g. behind one running Serve app)."""
    name, url = create_database(server_url, "thumper_module")
    yield url
    drop_database(server_url, name)


@pytest.fixture
def db_url(make_db) -> str:
    return make_db()


@pytest.fixture
def store(db_url):
    from store import Store, connect

    conn = connect(db_url)
    yield Store(conn)
    conn.close()


@pytest.fixture(scope="session")
def ray_cluster():
    """One real Ray for the whole session, CPUs limited as on a CI box: the local cluster a census
    starts (`cluster.runtime.connect`), or, when pytest-xdist runs sessions side by side on this
    machine (the README's test command does), a head of this session's own on free ports. Two local
    clusters on one machine both take the dashboard agent's fixed port 52365, and the second one's
    job agent never starts: every Ray job submitted to it fails with "No available agent" (Ray's
    answer is `ray start --head --dashboard-agent-listen-port`, ray-project/ray#34886)."""
    import ray

    from cluster.runtime import connect

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        connect(num_cpus=2)
        yield ray.get_runtime_context().gcs_address
        ray.shutdown()
        return
    head = start_head(num_cpus=2)
    try:
        connect(address=head.gcs)
        yield head.gcs
    finally:
        ray.shutdown()
        kill_head(head.temp_dir)


class Head(NamedTuple):
    gcs: str
    temp_dir: Path


def start_head(num_cpus: int) -> Head:
    """`ray start --head` on free ports, with a RAY_TMPDIR of its own (so no other Ray on this
    machine finds it). Without token authentication: this process imported Ray before, with its
    authentication mode read then, so it could not send a token (README's Ray job test runs a
    token-protected head)."""
    import subprocess
    import sys

    temp_dir = Path(tempfile.mkdtemp(prefix="thx-", dir="/tmp"))  # short: socket paths have a limit
    env = {**os.environ, "RAY_TMPDIR": str(temp_dir), "RAY_AUTH_MODE": "disabled"}
    ray_bin = str(Path(sys.executable).with_name("ray"))
    cmd = [ray_bin, "start", "--head", f"--num-cpus={num_cpus}", "--disable-usage-stats",
           f"--port={free_port()}", f"--dashboard-port={free_port()}", "--dashboard-host=127.0.0.1",
           f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    gcs = head_gcs(temp_dir)
    if done.returncode or not gcs:
        kill_head(temp_dir)
        raise RuntimeError(f"ray start --head failed (rc {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return Head(gcs, temp_dir)


def head_gcs(ray_tmpdir: Path) -> str | None:
    """The GCS address of the head `ray start` wrote under RAY_TMPDIR=ray_tmpdir, if it started."""
    cluster_file = ray_tmpdir / "ray" / "ray_current_cluster"
    text = cluster_file.read_text().strip() if cluster_file.exists() else ""
    return text.split()[0] if text else None


def kill_head(ray_tmpdir: Path) -> None:
    """Kill the processes of the head started with RAY_TMPDIR=ray_tmpdir, and their children
    (workers, job drivers, Serve replicas), and remove its files. Ray's client server is matched by
    the head's GCS address. (`ray stop` would stop every Ray on the machine.)"""
    import psutil

    keys = [str(ray_tmpdir)]
    if gcs := head_gcs(ray_tmpdir):
        keys.append(f"--address={gcs}")
    procs = {}
    for p in psutil.process_iter(["cmdline"]):
        try:
            if p.pid != os.getpid() and any(k in arg for arg in p.info["cmdline"] or [] for k in keys):
                procs[p.pid] = p
                procs.update({c.pid: c for c in p.children(recursive=True)})
        except psutil.Error:
            continue
    for p in procs.values():
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(list(procs.values()), timeout=15)
    shutil.rmtree(ray_tmpdir, ignore_errors=True)


class DemoWeights(NamedTuple):
    detector: Path
    classifier: Path
    embedder: Path


@pytest.fixture(scope="session")
def demo_weights() -> DemoWeights:
    """The project's own offline weights (shipped in models/demo_weights, else built once)."""
    from models.recipes.demo import ensure_demo_classifier, ensure_demo_detector, ensure_demo_embedder

    return DemoWeights(ensure_demo_detector(), ensure_demo_classifier(), ensure_demo_embedder())


@pytest.fixture
def demo_options(demo_weights):
    """Pipeline options with the demo models given by path, as a user would give their own."""
    from pipelines.census import PipelineOptions

    w = demo_weights
    return PipelineOptions(detector=str(w.detector), classifier=str(w.classifier), embedder=str(w.embedder))


def another_classifier_version(weights: Path, out_dir: Path, stem: str) -> Path:
    """A copy of a timm classifier checkpoint that is another file (one more key, so another
    sha256 and registry version) and answers exactly as the original: a second version to activate."""
    import torch

    ckpt = torch.load(weights, map_location="cpu", weights_only=True)
    out = out_dir / f"{stem}.pt"
    torch.save({**ckpt, "note": f"a copy of {weights.name} for the tests"}, out)
    return out


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory) -> tuple[Path, list[dict]]:
    """Generated camera-trap photos with EXIF, in location sub-folders, with ground truth."""
    from models.synthetic import make_photo_folder

    root = tmp_path_factory.mktemp("photos")
    truth = make_photo_folder(root, photos_per_location=6, seed=3)
    return root, truth
