"""The documented cluster commands, run as written: README.md's "As a Ray job" block (which starts a
head with `ray start --head` and submits the census with `ray job submit`) and docs/serve.md's
`serve run serve_apps.app:app`, both against that head, with Ray's token authentication on as the
installed Ray turns it on. The commands are read from the docs, so the docs and this test cannot
drift apart.

What the test changes, and only that: the photo folder placeholder (/path/to/photos); ports
appended to `ray start --head`, and RAY_TMPDIR, so the head cannot collide with any other Ray on
this machine; HOME (a fresh one: no ~/.ray/auth_token yet, as on a new machine; the weights cache
is passed through THUMPER_CACHE_DIR); the database (THUMPER_DATABASE_URL); RAY_API_SERVER_ADDRESS,
which points `ray job submit` at that head's dashboard port; and, for `serve run`, Serve's HTTP
port (`serve start` first, on a free loopback port). `serve run` finds the head as it finds any
local head started with `ray start` (RAY_TMPDIR/ray/ray_current_cluster). The head is stopped by
killing its own processes: `ray stop` would stop every Ray on the machine."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import REPO, free_port, head_gcs, kill_head

PLACEHOLDER = "/path/to/photos"


def fenced_block(md: Path, heading: str, containing: str) -> list[str]:
    """The lines of the first ```bash block under `heading` that contains `containing`."""
    text = md.read_text()
    assert heading in text, f"{md.name} has no {heading!r} section"
    section = text.split(heading, 1)[1]
    section = re.split(r"\n#{1,3} ", section, maxsplit=1)[0]  # up to the next heading
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        if containing in block:
            return [line for line in block.splitlines() if line.strip()]
    raise AssertionError(f"no bash block with {containing!r} under {heading!r} in {md.name}")


def _command(line: str) -> str:
    """A line without its trailing comment (commands here quote no '#')."""
    return line.split(" #", 1)[0].strip()


def _bash(script: str, env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=REPO, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def readme_job(tmp_path_factory, server_url, demo_weights):
    """Runs README.md's "As a Ray job" block on generated photos; yields what it did. The head it
    started stays up for the Serve test and is stopped at the end of the module, whatever happened."""
    from conftest import create_database, drop_database
    from models.synthetic import make_photo_folder
    from models.files import cache_dir

    lines = fenced_block(REPO / "README.md", "### As a Ray job", "ray job submit")
    starts = [i for i, line in enumerate(lines) if _command(line).startswith("ray start --head")]
    submits = [i for i, line in enumerate(lines) if PLACEHOLDER in line]
    assert len(starts) == 1 and len(submits) == 1, f"README's Ray job block: {lines}"
    assert _command(lines[submits[0]]).startswith("ray job submit ")

    photos = tmp_path_factory.mktemp("readme-photos")
    make_photo_folder(photos, photos_per_location=2, seed=3)
    n_photos = sum(1 for _ in photos.rglob("*.JPG"))
    temp_dir = Path(tempfile.mkdtemp(prefix="thr-", dir="/tmp"))  # RAY_TMPDIR; short: socket paths have a limit
    home = temp_dir / "home"
    home.mkdir()
    dashboard = free_port()
    head_flags = (f" --port {free_port()} --dashboard-port {dashboard} --dashboard-host 127.0.0.1"
                  f" --ray-client-server-port {free_port()} --dashboard-agent-listen-port {free_port()}"
                  " --num-cpus 2 --disable-usage-stats")
    script = list(lines)
    script[starts[0]] = _command(lines[starts[0]]) + head_flags
    script[submits[0]] = lines[submits[0]].replace(PLACEHOLDER, shlex.quote(str(photos)))

    db_name, db_url = create_database(server_url, "thumper_readme")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RAY_") and k not in ("THUMPER_DATABASE_URL", "VIRTUAL_ENV")}
    env.update(HOME=str(home), THUMPER_CACHE_DIR=str(cache_dir()), THUMPER_DATABASE_URL=db_url,
               RAY_TMPDIR=str(temp_dir), RAY_API_SERVER_ADDRESS=f"http://127.0.0.1:{dashboard}",
               PYTHONUNBUFFERED="1")
    started = time.monotonic()
    try:
        try:
            done = _bash("\n".join(script), env, timeout=300)
        except subprocess.TimeoutExpired as e:
            out = e.stdout or ""
            done = subprocess.CompletedProcess(e.cmd, -1, out.decode(errors="replace") if isinstance(out, bytes) else out)
        yield {"result": done, "seconds": time.monotonic() - started, "db_url": db_url, "photos": n_photos,
               "env": env, "home": home, "dashboard": dashboard, "gcs": head_gcs(temp_dir)}
    finally:
        kill_head(temp_dir)  # and its files
        drop_database(server_url, db_name)


def test_readme_ray_job_block_runs_as_written(readme_job):
    done = readme_job["result"]
    tail = done.stdout[-6000:]
    assert (readme_job["home"] / ".ray" / "auth_token").exists(), "the README's block made no token"
    assert done.returncode == 0, f"README's Ray job block failed (rc {done.returncode}):\n{tail}"
    assert re.search(r"Job '\S+' succeeded", done.stdout), tail
    # the head is token-protected: without the token its job service refuses
    anonymous = httpx.get(f"http://127.0.0.1:{readme_job['dashboard']}/api/jobs/", timeout=10)
    assert anonymous.status_code == 401, anonymous.text
    with psycopg.connect(readme_job["db_url"]) as conn:
        counts = dict(conn.execute("SELECT status, count(*) FROM images GROUP BY status").fetchall())
    assert counts == {"completed": readme_job["photos"]}, f"{counts}\n{tail}"


def test_serve_run_as_documented_on_the_token_protected_head(readme_job):
    """docs/serve.md's `serve run serve_apps.app:app` on that head: /health answers, and the jobs
    route starts a reprocess job through the head's token-protected job service and follows it."""
    if not readme_job["gcs"]:
        pytest.fail(f"the README's block started no head:\n{readme_job['result'].stdout[-4000:]}")
    lines = fenced_block(REPO / "docs" / "serve.md", "## Run it", "serve run serve_apps.app:app")
    upto = next(i for i, line in enumerate(lines) if _command(line) == "serve run serve_apps.app:app")
    key, http = "readme-test-key", free_port()
    env = {**readme_job["env"], "THUMPER_API_KEY": key}
    # Serve's proxy on a free loopback port: `serve run` then joins this Serve instance
    setup = _bash(f"source .venv/bin/activate; serve start --http-host 127.0.0.1 --http-port {http}", env, 120)
    assert setup.returncode == 0, setup.stdout[-4000:]
    script = "\n".join(["source .venv/bin/activate"] + lines[:upto] + [f"exec {_command(lines[upto])}"])
    log = readme_job["home"] / "serve-run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{http}"
    try:
        deadline, health = time.monotonic() + 180, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"{base}/health", timeout=5)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        assert health is not None and health.status_code == 200, f"no /health: {log.read_text()[-4000:]}"

        with httpx.Client(base_url=base, timeout=60, headers={"X-API-Key": key}) as client:
            r = client.post("/api/jobs/reprocess", json={"all": False})
            assert r.status_code == 202, r.text
            job_id, deadline = r.json()["job_id"], time.monotonic() + 180
            while time.monotonic() < deadline:
                job = client.get(f"/api/jobs/{job_id}").json()
                if job["status"] in ("SUCCEEDED", "FAILED", "STOPPED"):
                    break
                time.sleep(2)
        assert job["status"] == "SUCCEEDED", job
        with psycopg.connect(readme_job["db_url"]) as conn:
            runs = conn.execute("SELECT kind, status FROM runs ORDER BY id").fetchall()
        assert runs[0] == ("census", "completed") and runs[-1] == ("process", "completed"), runs
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as a user stops `serve run`
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
