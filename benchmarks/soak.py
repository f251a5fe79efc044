"""Soak: a bulk census that is killed again and again while clients upload, with a Postgres restart
along the way; afterwards every photo is stored once, nothing is lost, nothing written twice, and
each photo's results equal those of an undisturbed run.

    .venv/bin/python benchmarks/soak.py                        # 3,000 photos, 10 kills, 1 restart, 4 clients
    .venv/bin/python benchmarks/soak.py --photos 300 --kills 3 --keep

What it does, in a throw-away work folder (and its own embedded Postgres unless --database-url):

1. Generates the census folder (synthetic trail-camera photos with EXIF, models/synthetic.py; a
   truncated photo, a file of random bytes and a renamed copy among them) and a set of photos only
   the clients upload.
2. Baseline: one undisturbed `thumper census` of all those photos into a database of its own; per
   photo (by sha256) its status and its detections (labels, classes, boxes).
3. Starts the real Serve app (serve_apps.app.build_app, demo models, an API key) on a second
   database, and clients that upload while the census runs: new photos, the same bytes again,
   photos that are also in the census folder, and bad files (truncated JPEG, random bytes named
   .jpg, an empty file, a text file). A 503 with Retry-After (Postgres away) is retried.
4. Disturbed census: `python -m thumper census FOLDER` as a subprocess with its own local Ray;
   SIGKILL of its whole session (driver, raylet, GCS, workers) at random moments (some while it
   starts, most after a random number of newly written photos), --kills times; one Postgres
   restart (immediate stop, a few seconds down, start) in the middle of a run; rerun until it
   exits 0 (exit 4, database lost, and exit 3, busy, are expected answers: rerun, with --wait
   after a 3).
5. Checks, with SQL on the disturbed database: every census and every stored upload's photo is
   there exactly once and nothing else is; none is left pending or processing; no image has a
   detection twice (same box and label, or a det_index gap) or one written by a run that does not
   own it; every upload was a 200 (present afterwards) or a 4xx with a detail (absent); per-photo
   results equal the baseline's. Prints the figures and exits 1 when a check fails.

tests/test_soak.py runs the same code on ~200 photos with 2 kills and 1 restart.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

EXIT_BUSY, EXIT_NO_DATABASE = 3, 4  # thumper/cli.py
BOX_TOLERANCE = 1e-3  # normalised box coordinates (~1 px on a 960 px photo): float noise of batched inference
BAD_UPLOADS = {  # kind -> (file name, expected status)
    "truncated": ("cut.jpg", 422),
    "random": ("noise.jpg", 415),
    "empty": ("empty.jpg", 422),
    "text": ("notes.txt", 415),
}


@dataclass
class SoakConfig:
    photos: int = 3000  # in the census folder (rounded up to a multiple of 3 locations), plus 3 odd files
    upload_photos: int | None = None  # photos only the clients upload; None: photos // 10, at least 12
    kills: int = 10
    pg_restarts: int = 1
    clients: int = 4
    seed: int = 0
    size: tuple[int, int] = (960, 540)
    write_batch: int = 16  # photos per census transaction: many commit points to be killed between
    pg_down_s: float = 3.0  # how long Postgres stays down at a restart
    early_kill_share: float = 0.3  # kills that land while the census starts (Ray, ingest) rather than mid-write
    database_url: str | None = None  # a server to create the two databases on; None: an embedded one
    restart_command: str | None = None  # with database_url: a shell command that restarts that server
    census_address: str | None = None  # a Ray cluster for the census to join; None: its own local Ray per run
    work_dir: Path | None = None
    keep: bool = False
    timeout_s: float = 3600.0
    verbose: bool = False


# ---- photos ------------------------------------------------------------------------------------
@dataclass
class Photos:
    census: Path  # the census folder
    census_shas: set[str]  # every distinct photo in it (bad files too)
    uploads: list[Path]  # good photos only the clients upload
    upload_shas: dict[Path, str]
    census_files: list[Path]  # good census photos (clients upload some of them too)
    baseline: Path  # hard links of both sets: the undisturbed run's folder
    bad: dict[str, bytes]  # BAD_UPLOADS kind -> bytes


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def make_photos(work: Path, config: SoakConfig) -> Photos:
    from models.synthetic import make_photo_folder

    census = work / "census"
    per_location = max(1, -(-config.photos // 3))
    make_photo_folder(census, photos_per_location=per_location, seed=config.seed, size=config.size, others=0.2)
    good = sorted(census.rglob("*.JPG"))
    data = good[0].read_bytes()
    (good[0].parent / "IMG_9001_truncated.JPG").write_bytes(data[: len(data) // 3])  # fails at decode
    (good[1].parent / "IMG_9002_garbage.JPG").write_bytes(random.Random(config.seed).randbytes(4096))
    shutil.copy(good[2], good[3].parent / "IMG_9003_copy.JPG")  # the same bytes under another name
    n_up = config.upload_photos if config.upload_photos is not None else max(12, config.photos // 10)
    up_root = work / "upload-src"
    make_photo_folder(up_root, locations=("Upload_North", "Upload_South"), photos_per_location=max(1, -(-n_up // 2)),
                      seed=config.seed + 1000, size=config.size, others=0.2)
    uploads = sorted(up_root.rglob("*.JPG"))
    census_shas = {_sha(p.read_bytes()) for p in census.rglob("*.JPG")}
    upload_shas = {p: _sha(p.read_bytes()) for p in uploads}
    uploads = [p for p in uploads if upload_shas[p] not in census_shas]  # distinct from the census's, surely
    baseline = work / "baseline"
    for src, prefix in ((census, "c_"), (up_root, "u_")):
        for p in src.rglob("*.JPG"):
            target = baseline / (prefix + p.parent.name) / p.name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(p, target)
    cut = uploads[0].read_bytes()
    bad = {"truncated": cut[: len(cut) // 2], "random": random.Random(config.seed + 1).randbytes(3000),
           "empty": b"", "text": b"field notes: two does at the hayfield feeder, 06:40\n"}
    return Photos(census, census_shas, uploads, upload_shas, good, baseline, bad)


# ---- Postgres ----------------------------------------------------------------------------------
class Postgres:
    """The server the two databases live on, and a way to restart it."""

    def __init__(self, work: Path, url: str | None = None, restart_command: str | None = None):
        self.pgdata = None if url else (work / "pgdata").resolve()
        self.restart_command, self.restarts = restart_command, 0
        self.log = None if url else self.pgdata / "restarted.log"  # inside pgdata: the server's user writes it
        if url:
            self.admin_url = url
        else:
            from store.embedded import embedded_url

            self.admin_url = embedded_url(self.pgdata)
        self.created: list[str] = []

    def create_database(self, prefix: str) -> str:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return make_conninfo(**{**conninfo_to_dict(self.admin_url), "dbname": name})

    def _pg_ctl(self, *args: str) -> None:
        import pgserver

        user = "pgserver" if os.geteuid() == 0 else None  # as root, pgserver runs Postgres as this user
        pgserver.pg_ctl(list(args), pgdata=self.pgdata, user=user, timeout=120)

    def restart(self, down_s: float) -> str:
        """Stop the server at once (as a crash would: every connection cut, no checkpoint), keep it
        down for down_s, start it again (crash recovery). Returns what was done."""
        self.restarts += 1
        if self.pgdata is not None:
            self._pg_ctl("-w", "-m", "immediate", "stop")
            time.sleep(down_s)
            self._pg_ctl("-w", "-l", str(self.log), "restart")  # postmaster.opts: the same socket and options
            return "embedded Postgres: immediate stop, start"
        if self.restart_command:
            subprocess.run(self.restart_command, shell=True, check=True)
            return f"`{self.restart_command}`"
        import psycopg  # someone else's server: end every connection to our databases, as a restart would

        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY(%s)",
                          (self.created,))
        return "connections ended (pg_terminate_backend): no --restart-command for this server"

    def close(self, keep: bool) -> None:
        if self.pgdata is not None:
            if not keep:
                from store.embedded import stop_embedded

                stop_embedded(self.pgdata)
            return
        if not keep:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as admin:
                for name in self.created:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _connect(url: str, attempts: int = 120):
    """A plain connection, waiting out a restart."""
    import psycopg

    for k in range(attempts):
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError:
            if k == attempts - 1:
                raise
            time.sleep(0.5)


# ---- per-photo results -------------------------------------------------------------------------
@dataclass(frozen=True)
class PhotoOutcome:
    status: str
    detections: tuple  # sorted (label, species, deer_class, sex, age_class, x1, y1, x2, y2)


def photo_outcomes(url: str) -> dict[str, PhotoOutcome]:
    """Every stored photo by sha256: its status and its detections."""
    with _connect(url) as conn:
        rows = conn.execute(
            "SELECT i.sha256, i.status, d.label, d.species, d.deer_class, d.sex, d.age_class, d.x1, d.y1, d.x2, d.y2"
            " FROM images i LEFT JOIN detections d ON d.image_id = i.id ORDER BY i.sha256, d.det_index").fetchall()
    found: dict[str, tuple[str, list]] = {}
    for sha, status, *det in rows:
        entry = found.setdefault(sha, (status, []))
        if det[0] is not None:
            entry[1].append((*det[:5], *(float(v) for v in det[5:])))
    return {sha: PhotoOutcome(status, tuple(sorted(dets))) for sha, (status, dets) in found.items()}


def _same_detections(a: tuple, b: tuple, tol: float) -> bool:
    if len(a) != len(b):
        return False
    left = list(b)
    for d in a:  # each detection matched to one of the other's: same labels, boxes within tol
        match = next((k for k, e in enumerate(left) if e[:5] == d[:5]
                      and all(abs(x - y) <= tol for x, y in zip(e[5:], d[5:]))), None)
        if match is None:
            return False
        left.pop(match)
    return True


def compare(baseline: dict[str, PhotoOutcome], got: dict[str, PhotoOutcome], shas=None,
            tol: float = BOX_TOLERANCE) -> dict[str, str]:
    """sha256 -> how the photo differs from the baseline, for the photos in `shas` (default: the
    baseline's). Missing, another status, or other detections (labels and classes exactly, boxes
    within tol) all count."""
    out = {}
    for sha in sorted(baseline if shas is None else shas):
        want, have = baseline.get(sha), got.get(sha)
        if want is None:
            out[sha] = "not in the baseline"
        elif have is None:
            out[sha] = "missing"
        elif have.status != want.status:
            out[sha] = f"status {have.status}, baseline {want.status}"
        elif not _same_detections(want.detections, have.detections, tol):
            out[sha] = f"{len(have.detections)} detections {have.detections}, baseline {len(want.detections)} {want.detections}"
    return out


# ---- the census, disturbed -----------------------------------------------------------------------
def census_command(folder: Path, url: str, weights, config: SoakConfig, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "thumper", "census", str(folder), "--db", url,
           "--detector", str(weights.detector), "--classifier", str(weights.classifier),
           "--embedder", str(weights.embedder), "--write-batch", str(config.write_batch), "--no-reid", *extra]
    return cmd + (["--address", config.census_address] if config.census_address else [])


def start_census(cmd: list[str], log: Path, config: SoakConfig) -> subprocess.Popen:
    """In a session of its own, so one signal reaches the driver and the Ray it starts."""
    env = {**os.environ, "RAY_ADDRESS": config.census_address or ""}  # "": a local Ray of its own
    with open(log, "w") as out:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _session_members(sid: int) -> list[int]:
    """Live processes of session `sid` (Ray's workers have process groups of their own in it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def kill_session(proc: subprocess.Popen, wait_s: float = 20.0) -> int:
    """SIGKILL the census's whole session at once; returns how many processes it had."""
    members = _session_members(proc.pid)
    for pid in members:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    deadline = time.monotonic() + wait_s
    while (left := _session_members(proc.pid)) and time.monotonic() < deadline:
        for pid in left:  # a worker forked while we were killing
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    return len(members)


class Progress:
    """Photos of the census folder the census has done (completed or failed; not those an upload
    did), read from the database; survives a restart of the server."""

    def __init__(self, url: str, shas: set[str]):
        self.url, self.shas, self.conn = url, sorted(shas), None

    def done(self) -> int | None:
        import psycopg

        try:
            if self.conn is None or self.conn.closed:
                self.conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
            if not self.conn.execute("SELECT to_regclass('images') IS NOT NULL").fetchone()[0]:
                return 0
            return self.conn.execute("SELECT count(*) FROM images i JOIN runs r ON r.id = i.run_id"
                                     " WHERE i.status IN ('completed', 'failed') AND r.kind = 'census'"
                                     " AND i.sha256 = ANY(%s)", (self.shas,)).fetchone()[0]
        except psycopg.OperationalError:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


@dataclass
class Disturbance:
    kind: str  # "kill" or "pg"
    early: bool = False  # kill while the run starts (seconds after launch) rather than after new writes


@dataclass
class CensusLog:
    runs: list[dict] = field(default_factory=list)  # {"run", "exit", "seconds", "event", "done_before", ...}
    kills: int = 0
    early_kills: int = 0
    pg_restarts: int = 0
    pg_how: str = ""
    killed_processes: int = 0
    unexpected: list[str] = field(default_factory=list)


def plan_disturbances(config: SoakConfig, rng: random.Random) -> list[Disturbance]:
    events = [Disturbance("kill", early=rng.random() < config.early_kill_share) for _ in range(config.kills)]
    for _ in range(config.pg_restarts):  # never first: the restart lands in a run that has already been killed
        events.insert(rng.randint(1 if events else 0, len(events)), Disturbance("pg"))
    return events


def disturbed_census(photos: Photos, url: str, weights, pg: Postgres, config: SoakConfig, rng: random.Random,
                     logs: Path, deadline: float, log=print) -> CensusLog:
    """Run the census until it exits 0, disturbing it as planned."""
    events = plan_disturbances(config, rng)
    log("disturbances planned: " + ", ".join("early kill" if e.early else e.kind for e in events))
    progress = Progress(url, photos.census_shas)
    total, out, wait_flag, proc = len(photos.census_shas), CensusLog(), False, None
    try:
        while time.monotonic() < deadline:
            k = len(out.runs) + 1
            cmd = census_command(photos.census, url, weights, config, *(["--wait"] if wait_flag else []))
            started = time.monotonic()
            done_before = progress.done() or 0
            proc = start_census(cmd, logs / f"census-{k:02d}.log", config)
            run = {"run": k, "done_before": done_before, "events": []}
            log(f"census run {k} started ({done_before} of {total} photos done)")
            target_at = target_done = None

            def arm():
                nonlocal target_at, target_done
                target_at = target_done = None
                if events and events[0].early:
                    target_at = time.monotonic() + rng.uniform(0.5, 8.0)
                elif events:  # after a random number of new photos, leaving room for the events still to come
                    now = progress.done() or done_before
                    room = max(2, (total - now) // (len(events) + 1))
                    target_done = now + rng.randint(1, room)

            arm()
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
                due = events and ((target_at is not None and time.monotonic() >= target_at) or
                                  (target_done is not None and (progress.done() or 0) >= target_done))
                if not due or proc.poll() is not None:
                    continue
                event = events.pop(0)
                log(f"  {'early kill' if event.early else event.kind} at {time.monotonic() - started:.1f} s, "
                    f"{progress.done()} photos done")
                if event.kind == "kill":
                    out.killed_processes += kill_session(proc)
                    out.kills += 1
                    out.early_kills += event.early
                    run["events"].append("kill (start-up)" if event.early else "kill")
                    break
                out.pg_how = pg.restart(config.pg_down_s)  # the census may notice (exit 4) or ride it out
                out.pg_restarts += 1
                run["events"].append("postgres restart")
                arm()
            if proc.poll() is None:  # the deadline
                kill_session(proc)
                run["events"].append("timeout")
            run["exit"], run["seconds"] = proc.returncode, round(time.monotonic() - started, 1)
            run["done_after"] = progress.done()
            out.runs.append(run)
            log(f"  run {k} exited {proc.returncode} after {run['seconds']} s ({run['done_after']} done)")
            wait_flag = proc.returncode == EXIT_BUSY
            if proc.returncode == 0:
                if events:  # finished before the rest could land: go on, on a census that has nothing left
                    run["events"].append(f"finished with {len(events)} disturbances not done")
                return out
            if proc.returncode not in (-signal.SIGKILL, EXIT_BUSY, EXIT_NO_DATABASE):
                tail = (logs / f"census-{k:02d}.log").read_text()[-2000:]
                out.unexpected.append(f"census run {k} exited {proc.returncode}:\n{tail}")
                if len(out.unexpected) > 3:
                    return out
        out.unexpected.append("the census did not finish before the deadline")
        return out
    finally:
        if proc is not None and proc.poll() is None:  # an error here: never leave a census running
            kill_session(proc)
        progress.close()


# ---- the clients --------------------------------------------------------------------------------
@dataclass
class Upload:
    kind: str  # new, again (bytes sent before), census (also in the census folder), bad:<kind>
    sha: str
    status: int = 0
    detail: str = ""
    duplicate: bool | None = None
    image_status: str | None = None
    retries: int = 0  # 503s (with Retry-After) and dropped connections, retried
    error: str = ""  # what went wrong with the answer itself


class Clients:
    """Threads that upload to the running app until stopped; every request and its answer kept."""

    def __init__(self, base_url: str, key: str, photos: Photos, config: SoakConfig, rng: random.Random):
        self.base_url, self.key, self.photos, self.config = base_url, key, photos, config
        self.rng, self.lock = rng, threading.Lock()
        self.fresh = list(photos.uploads)
        rng.shuffle(self.fresh)
        self.sent: list[Path] = []
        self.uploads: list[Upload] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(config.clients)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=600)

    def _pick(self) -> tuple[str, str, bytes, str]:
        """(kind, file name, bytes, location) of the next upload."""
        with self.lock:
            roll = self.rng.random()
            if self.fresh and (roll < 0.45 or not self.sent):
                p = self.fresh.pop()
                self.sent.append(p)
                return "new", p.name, p.read_bytes(), p.parent.name
            if roll < 0.65 and self.sent:
                p = self.rng.choice(self.sent)
                return "again", f"copy-of-{p.name}", p.read_bytes(), self.rng.choice(["Upload_North", "Elsewhere"])
            if roll < 0.85:
                p = self.rng.choice(self.photos.census_files)
                return "census", p.name, p.read_bytes(), p.parent.name
            kind = self.rng.choice(sorted(BAD_UPLOADS))
            return f"bad:{kind}", BAD_UPLOADS[kind][0], self.photos.bad[kind], "Hayfield"

    def _client(self, i: int) -> None:
        import httpx

        with httpx.Client(base_url=self.base_url, timeout=300, headers={"X-API-Key": self.key}) as http:
            while not self.stop.is_set():
                kind, name, data, location = self._pick()
                up = self._send(http, kind, name, data, location)
                with self.lock:
                    self.uploads.append(up)
                self.stop.wait(self.rng.uniform(0.0, 0.5))

    def _send(self, http, kind: str, name: str, data: bytes, location: str) -> Upload:
        import httpx

        up = Upload(kind, _sha(data))
        mime = "text/plain" if name.endswith(".txt") else "image/jpeg"
        for _ in range(100):
            try:
                r = http.post("/api/images", data={"location": location}, files=[("files", (name, data, mime))])
            except httpx.TransportError as e:
                up.retries += 1
                up.error = f"{type(e).__name__}: {e}"
                time.sleep(1)
                continue
            if r.status_code == 503 and r.headers.get("retry-after"):
                up.retries += 1  # the database is away: try again, as Retry-After asks (not longer than 2 s here)
                time.sleep(min(2.0, float(r.headers["retry-after"])))
                continue
            up.status, up.error = r.status_code, ""
            try:
                body = r.json()
            except ValueError:
                up.error = f"not JSON: {r.text[:200]}"
                return up
            if r.status_code == 200:
                (image,) = body["images"]
                up.duplicate, up.image_status = image["duplicate"], image["status"]
                if image["sha256"] != up.sha:
                    up.error = f"answered with another photo's sha256 {image['sha256']}"
            else:
                up.detail = str(body.get("detail", ""))
            return up
        up.error = up.error or "still 503 after 100 tries"
        return up


def start_app(url: str, weights, key: str) -> str:
    """The real Serve app on this process's Ray (a local one if none): its base URL."""
    import httpx
    from ray import serve

    from cluster.runtime import connect as connect_ray
    from serve_apps.app import build_app

    import ray

    if not ray.is_initialized():  # a test's session Ray, or a local one for the app
        connect_ray()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app({"database_url": url, "detector": str(weights.detector), "classifier": str(weights.classifier),
                         "embedder": str(weights.embedder), "api_key": key}), name="thumper", route_prefix="/")
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return base
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the Serve app did not answer /health")


# ---- the checks ---------------------------------------------------------------------------------
@dataclass
class SoakResult:
    counts: dict[str, object]
    failures: list[str]
    differing: dict[str, str]
    work: Path

    @property
    def ok(self) -> bool:
        return not self.failures


def database_checks(url: str, uploads_dir: Path) -> dict[str, int]:
    """Invariants any store must hold after the soak, whatever the photos."""
    with _connect(url) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "sha256 stored more than once": one("SELECT count(*) FROM (SELECT sha256 FROM images GROUP BY 1"
                                                " HAVING count(*) > 1) x"),
            "images pending or processing": one("SELECT count(*) FROM images WHERE status IN ('pending', 'processing')"),
            "duplicate detections": one(
                "SELECT count(*) FROM (SELECT image_id FROM detections GROUP BY image_id, label, x1, y1, x2, y2"
                " HAVING count(*) > 1) x"),
            "images with det_index gaps": one(
                "SELECT count(*) FROM (SELECT image_id FROM detections GROUP BY 1"
                " HAVING max(det_index) + 1 <> count(*) OR min(det_index) <> 0) x"),
            "detections of another run than the image's": one(
                "SELECT count(*) FROM detections d JOIN images i ON i.id = d.image_id WHERE d.run_id <> i.run_id"),
            "census runs left running": one("SELECT count(*) FROM runs WHERE kind = 'census' AND status = 'running'"),
            "uploaded images without their file": sum(
                1 for (path,) in conn.execute("SELECT path FROM images WHERE path LIKE %s", (f"{uploads_dir}/%",))
                if not Path(path).exists()),
        }


def serve_run_alive(url: str) -> bool:
    """Whether a 'serve' run is alive in another session (its advisory lock held): the app's."""
    from store import Store

    with Store.open(url) as store:
        return any(r["kind"] == "serve" for r in store.live_runs())


def _run_counts(url: str) -> dict[str, int]:
    with _connect(url) as conn:
        return dict(conn.execute("SELECT kind || ' ' || status, count(*) FROM runs GROUP BY 1").fetchall())


def check_uploads(uploads: list[Upload], stored: dict[str, PhotoOutcome]) -> list[str]:
    """Every upload a 200 whose photo is stored, or the refusal its file deserves (a 4xx that says
    what was wrong) whose photo is not."""
    bad = []
    for up in uploads:
        where = f"upload ({up.kind}, {up.sha[:12]})"
        if up.error:
            bad.append(f"{where}: {up.error}")
        elif up.kind.startswith("bad:"):
            want = BAD_UPLOADS[up.kind[4:]][1]
            if up.status != want or "nothing was stored" not in up.detail:
                bad.append(f"{where}: {up.status} {up.detail!r}, expected {want} saying nothing was stored")
            elif up.sha in stored:
                bad.append(f"{where}: refused with {up.status} but stored")
        elif up.status != 200:
            bad.append(f"{where}: {up.status} {up.detail!r}")
        elif up.sha not in stored:
            bad.append(f"{where}: 200 but not stored")
    return bad


def soak(config: SoakConfig, weights=None, log=print) -> SoakResult:
    """The whole soak; its figures and the failed checks. Ray for the Serve app: this process's
    (one is started if none is up); the census starts a Ray of its own each run."""
    from models.recipes.demo import ensure_demo_classifier, ensure_demo_detector, ensure_demo_embedder
    from store.embedded import data_dir

    if weights is None:
        from types import SimpleNamespace

        weights = SimpleNamespace(detector=ensure_demo_detector(), classifier=ensure_demo_classifier(),
                                  embedder=ensure_demo_embedder())
    rng = random.Random(config.seed)
    work = config.work_dir or Path(tempfile.mkdtemp(prefix="thumper-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    started = time.monotonic()
    deadline = started + config.timeout_s
    photos = make_photos(work, config)
    log(f"soak in {work}: {len(photos.census_shas)} distinct photos in the census folder, "
        f"{len(photos.uploads)} for the clients only")
    pg = Postgres(work, config.database_url, config.restart_command)
    clients = None
    failures: list[str] = []
    try:
        base_url, soak_url = pg.create_database("thumper_soak_baseline"), pg.create_database("thumper_soak")
        t = time.monotonic()
        done = subprocess.run(census_command(photos.baseline, base_url, weights, config), cwd=REPO,
                              env={**os.environ, "RAY_ADDRESS": config.census_address or ""},
                              stdout=open(logs / "baseline.log", "w"), stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise RuntimeError(f"the baseline census exited {done.returncode}: see {logs / 'baseline.log'}")
        baseline_s = time.monotonic() - t
        baseline = photo_outcomes(base_url)
        log(f"baseline: {len(baseline)} photos in {baseline_s:.0f} s")

        key = uuid.uuid4().hex
        app = start_app(soak_url, weights, key)
        log(f"Serve app up at {app}; clients: {config.clients}; census: {config.kills} kills, "
            f"{config.pg_restarts} Postgres restart(s)")
        clients = Clients(app, key, photos, config, random.Random(config.seed + 1))
        clients.start()
        t = time.monotonic()
        census = disturbed_census(photos, soak_url, weights, pg, config, rng, logs, deadline, log)
        census_s = time.monotonic() - t
        clients.finish()
        uploads = list(clients.uploads)
        clients = None
        failures += census.unexpected

        live_serve = serve_run_alive(soak_url)  # the app is still up: its run must still hold its lock
        stored = photo_outcomes(soak_url)
        accepted = {u.sha for u in uploads if u.status == 200}
        expected = photos.census_shas | accepted
        extra = set(stored) - expected
        missing = photos.census_shas - set(stored)
        differing = compare(baseline, stored, shas=expected)
        checks = database_checks(soak_url, data_dir() / "uploads")
        upload_problems = check_uploads(uploads, stored)
        failures += upload_problems
        failures += [f"{n} {what}" for what, n in checks.items() if n]
        if not live_serve:
            failures.append("the running Serve app holds no live run: its run lost its lock (a Postgres restart ends "
                            "the connection that held it) and a census took it for dead (runs: serve aborted)")
        if missing:
            failures.append(f"{len(missing)} census photos missing: {sorted(missing)[:5]}")
        if extra:
            failures.append(f"{len(extra)} images stored that nobody sent: {sorted(extra)[:5]}")
        if differing:
            failures.append(f"{len(differing)} photos differ from the undisturbed run: " +
                            "; ".join(f"{s[:12]} {why}" for s, why in list(differing.items())[:5]))
        if census.kills < config.kills or census.pg_restarts < config.pg_restarts:
            failures.append(f"only {census.kills} of {config.kills} kills and {census.pg_restarts} of "
                            f"{config.pg_restarts} restarts landed before the census finished")
        codes = Counter(u.status for u in uploads)
        exits = Counter(r["exit"] for r in census.runs)
        statuses = Counter(stored[s].status for s in photos.census_shas if s in stored)
        counts = {
            "photos in the census folder (distinct)": len(photos.census_shas),
            "census photos completed / failed": f"{statuses['completed']} / {statuses['failed']}",
            "baseline photos (census + client-only)": len(baseline),
            "census runs": len(census.runs),
            "census exits": ", ".join(f"{'SIGKILL' if e == -9 else e}: {n}" for e, n in sorted(exits.items())),
            "kills (during start-up)": f"{census.kills} ({census.early_kills})",
            "processes killed": census.killed_processes,
            "postgres restarts": census.pg_restarts,
            "uploads sent": len(uploads),
            "uploads 200 new / duplicate": f"{sum(1 for u in uploads if u.status == 200 and not u.duplicate)} / "
                                           f"{sum(1 for u in uploads if u.status == 200 and u.duplicate)}",
            "uploads 200 by kind": ", ".join(f"{k} {n}" for k, n in sorted(Counter(
                u.kind for u in uploads if u.status == 200).items())),
            "uploads refused": ", ".join(f"{c}: {n}" for c, n in sorted(codes.items()) if c != 200) or "0",
            "uploads retried after 503 / dropped connection": sum(1 for u in uploads if u.retries),
            "uploads answered 5xx in the end": sum(1 for u in uploads if u.status >= 500),
            "images stored": len(stored),
            "census photos missing": len(missing),
            "images nobody sent": len(extra),
            **checks,
            "photos differing from the undisturbed run": len(differing),
            "serve app's run alive at the end": "yes" if live_serve else "NO",
            "runs": ", ".join(f"{k} {n}" for k, n in sorted(_run_counts(soak_url).items())),
            "baseline census (s)": round(baseline_s),
            "disturbed census (s)": round(census_s),
            "wall time (s)": round(time.monotonic() - started),
        }
        (work / "soak.json").write_text(json.dumps({"counts": counts, "failures": failures,
                                                    "runs": census.runs, "restart": census.pg_how}, indent=1))
        return SoakResult(counts, failures, differing, work)
    finally:
        if clients is not None:
            clients.finish()
        _shutdown_app()
        pg.close(config.keep)
        if not config.keep and config.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


def _shutdown_app() -> None:
    try:
        from ray import serve

        serve.shutdown()
    except Exception:  # never started
        pass


def render(result: SoakResult) -> str:
    width = max(map(len, result.counts))
    lines = [f"{k:<{width}}  {v}" for k, v in result.counts.items()]
    lines.append("")
    lines.append("all checks passed" if result.ok else "FAILED:\n  " + "\n  ".join(result.failures))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = SoakConfig()
    ap.add_argument("--photos", type=int, default=d.photos, help=f"photos in the census folder (default {d.photos})")
    ap.add_argument("--upload-photos", type=int, help="photos only the clients upload (default: photos / 10)")
    ap.add_argument("--kills", type=int, default=d.kills, help=f"SIGKILLs of the census (default {d.kills})")
    ap.add_argument("--pg-restarts", type=int, default=d.pg_restarts,
                    help=f"Postgres restarts during the census (default {d.pg_restarts})")
    ap.add_argument("--pg-down", type=float, default=d.pg_down_s,
                    help=f"seconds Postgres stays down at a restart (default {d.pg_down_s:g})")
    ap.add_argument("--clients", type=int, default=d.clients, help=f"concurrent upload clients (default {d.clients})")
    ap.add_argument("--seed", type=int, default=d.seed, help="photos, kill times and uploads follow it (default 0)")
    ap.add_argument("--size", default="x".join(map(str, d.size)), help="photo size (default 960x540)")
    ap.add_argument("--write-batch", type=int, default=d.write_batch,
                    help=f"photos per census transaction (default {d.write_batch})")
    ap.add_argument("--database-url", metavar="URL",
                    help="a Postgres (with pgvector) to create the soak's two databases on; default: an embedded "
                         "one in the work folder, which the soak can restart")
    ap.add_argument("--restart-command", metavar="CMD",
                    help="with --database-url: a shell command that restarts that server (default: end every "
                         "connection to the soak's databases instead)")
    ap.add_argument("--census-address", metavar="ADDR",
                    help="a Ray cluster for the census to join (default: a local Ray of its own per run, killed with it)")
    ap.add_argument("--timeout", type=float, default=d.timeout_s, help="give up after this many seconds")
    ap.add_argument("--keep", action="store_true", help="keep the work folder, its logs and its databases")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="thumper-soak-"))
    os.environ["THUMPER_DATA_DIR"] = str(work / "data")  # before Ray starts: the app's replicas inherit it
    os.environ.pop("THUMPER_DATABASE_URL", None)
    config = SoakConfig(photos=args.photos, upload_photos=args.upload_photos, kills=args.kills,
                        pg_restarts=args.pg_restarts, pg_down_s=args.pg_down, clients=args.clients, seed=args.seed,
                        size=tuple(map(int, args.size.split("x"))), write_batch=args.write_batch,
                        database_url=args.database_url, restart_command=args.restart_command,
                        census_address=args.census_address, work_dir=work, keep=args.keep, timeout_s=args.timeout)
    try:
        result = soak(config)
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        if not args.keep:
            from store.embedded import stop_embedded

            stop_embedded(work / "data" / "pgdata")  # if anything started one there
            shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {os.cpu_count()} cores; {args.photos} photos {args.size}; seed {args.seed}")
    print(render(result))
    if args.keep:
        print(f"work folder kept: {work}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
