"""Join the Ray cluster named by --address / $RAY_ADDRESS, or start a local one for this run."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass

import ray

from models.settings import ENV_PREFIX, default, settings

log = logging.getLogger(__name__)


_dashboard = ""  # the dashboard URL of the cluster this process joined or started


def connect(address: str | None = None, num_cpus: int | None = None, warm_data: bool = True) -> str:
    """Initialise Ray once per process and return the dashboard URL (may be empty). warm_data:
    start Ray Data's own actors now, on a thread (for a driver about to run the census)."""
    global _dashboard
    if ray.is_initialized():  # by this process before (or by a caller with its own ray.init)
        return _dashboard
    address = address or os.environ.get("RAY_ADDRESS")
    # Workers import our packages from the driver's working dir (a `ray job submit --working-dir`
    # already ships it); excludes keep the upload small.
    runtime_env = {"env_vars": _thumper_env()}
    if address:
        try:
            ctx = ray.init(address=address, runtime_env=runtime_env, log_to_driver=True)
        except Exception as e:
            if _auth_failure(e) and os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
                raise ConnectionError(
                    f"the Ray cluster at {address} uses token authentication and this process does not: "
                    "export RAY_AUTH_MODE=token, with the cluster's token in ~/.ray/auth_token (or "
                    "RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH); see docs/scale-out.md, Token authentication") from e
            raise
    else:
        ctx = ray.init(num_cpus=num_cpus, runtime_env=runtime_env, include_dashboard=None,
                       log_to_driver=True)
    url = _dashboard = getattr(ctx, "dashboard_url", "") or ""
    log.info("Ray %s cluster: %s; dashboard %s", "joined" if address else "local",
             ray.cluster_resources(), url or "(not running)")
    if warm_data:
        _start_warming()
    return url


# ---- start-up: Ray Data's own machinery gets ready while the driver opens the store and ingests --
_warming: threading.Thread | None = None


def _warm() -> None:
    """Import Ray Data and run a one-row dataset: the first execution in a driver starts Ray Data's
    own actors (its stats actor, the autoscaling coordinator; seconds on a small machine, each a
    process that imports Ray Data), which the census would otherwise wait for before its first actor
    is even asked for."""
    started = time.perf_counter()
    try:
        import ray.data  # which sets up Ray Data's loggers
    except ImportError as e:
        log.debug("no Ray Data to warm up: %s", e)
        return
    quiet = logging.getLogger("ray.data")  # its plan and progress lines would read as a dataset of ours
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        ray.data.range(1, override_num_blocks=1).materialize()
    except Exception as e:  # only an optimisation: the census starts them itself if this failed
        log.debug("Ray Data warm-up failed: %s", e)
    finally:
        quiet.setLevel(level)
    log.debug("Ray Data warmed up in %.1f s", time.perf_counter() - started)


def _start_warming() -> None:
    global _warming
    if _warming is None:
        _warming = threading.Thread(target=_warm, name="thumper-ray-data-warm-up", daemon=True)
        _warming.start()


def wait_warm(timeout: float = 60.0) -> None:
    """Before the census starts its dataset: the warm-up's dataset must not run beside it."""
    if _warming is not None and _warming.is_alive():
        started = time.perf_counter()
        _warming.join(timeout)
        log.debug("waited %.1f s for Ray Data's warm-up", time.perf_counter() - started)


def _thumper_env() -> dict[str, str]:
    """THUMPER_* variables for the workers, less those the Ray job this driver runs in already gives
    them (`ray job submit --runtime-env-json '{"env_vars": {...}}'`, the API's reprocess jobs): Ray
    refuses to start a driver whose ray.init names a job's env var a second time, even unchanged."""
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    try:
        job = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR") or "{}")
        set_by_job = (job.get("runtime_env") or {}).get("env_vars") or {}
    except (ValueError, AttributeError):
        set_by_job = {}
    return {k: v for k, v in env.items() if k not in set_by_job}


def _auth_failure(e: BaseException) -> bool:
    """Whether Ray refused us for a missing or wrong token (its error hides under a ConnectionError,
    after ~20 s of retries): Ray never sends a token to an address it was given unless
    RAY_AUTH_MODE=token, even where `ray start` turned token authentication on."""
    seen = 0
    while e is not None and seen < 10:
        if type(e).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(e):
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


CPU_BATCH = 8  # photos per detector call on CPU: a bigger one only adds latency
CPU_CALL_SECONDS = 2.0  # a CPU batch is at most about this much of a lane's time
# a lane's detector seconds per GFLOP on one core, for the batch of a run before any has timed the
# detector: measured 0.012 (YOLOv9-c, 104 GFLOPs at 640: 1.25 s a photo) and 0.014 (YOLOv8n, 8.2:
# 0.115 s) on a 2-core cloud VM; only the batch hangs on it, and the first timed run replaces it
CPU_SECONDS_PER_GFLOP = 0.012
DECODE_CPUS = 0.25  # one decode (or read) task: short, many; a fraction leaves the cores to the models


class PlanError(RuntimeError):
    """The cluster can never run the pipeline as planned; the message says what is missing."""


@dataclass(frozen=True)
class PoolPlan:
    """Resources for one actor pool: a GPU fraction where the cluster has GPUs, else CPUs. On CPU
    an actor runs `lanes` batches at once, each lane its own copy of the models on `threads` torch
    threads (one: a lane per CPU the actor holds)."""

    num_cpus: float
    num_gpus: float
    min_size: int
    max_size: int
    batch_size: int
    threads: int = 1
    lanes: int = 1

    def __str__(self) -> str:
        size = f"{self.min_size}" if self.min_size == self.max_size else f"{self.min_size}-{self.max_size}"
        holds = f"{self.num_gpus:g} GPU + {self.num_cpus:.2f} CPU" if self.num_gpus else f"{self.num_cpus:.2f} CPU"
        lanes = f", {self.lanes} lanes" if self.lanes > 1 else ""
        plural = "s" if self.threads > 1 else ""
        threads = "" if self.num_gpus else f"{' each' if lanes else ''} on {self.threads} torch thread{plural}"
        return f"{size} actor(s) of {holds}{lanes}{threads}, {self.batch_size} photos a call"

    def map_kwargs(self) -> dict:
        lanes = {"max_concurrent_calls_per_actor": self.lanes, "enable_true_multi_threading": True,
                 "max_tasks_in_flight_per_actor": 2 * self.lanes} if self.lanes > 1 else {}
        return {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus or None,
                "compute": ray.data.ActorPoolStrategy(min_size=self.min_size, max_size=self.max_size, **lanes),
                "batch_size": self.batch_size}


@dataclass(frozen=True)
class StageCosts:
    """CPU-seconds one photo costs each stage (the CPU time of the thread or process that ran it:
    pipelines.stages), as a run measured them (pipelines.stage_costs): what the next run's CPU
    pools are sized from."""

    decode: float
    detect: float
    describe: float

    @property
    def total(self) -> float:
        return self.decode + self.detect + self.describe


def plan_pools(gpu_fraction: float = default("gpu_fraction"), batch_size: int | None = None,
               resources: dict | None = None, imgsz: int | None = None,
               costs: StageCosts | None = None, detect_gflops: float = 0.0) -> dict[str, PoolPlan | None]:
    """Size the detection and crop-model (classify + embed) pools for the cluster's resources.

    With GPUs, each pool packs 1/gpu_fraction actors per GPU so the models share a device, and the
    batch is sized from the GPU's memory (cluster/gpu_sizing.py).

    On CPUs the two are fused ("describe" is None): each actor holds the detector and the crop
    models and takes a batch through both, so a photo's bytes never travel between actors. An actor
    holds about two CPUs and runs a lane per CPU: each lane its own models on one torch thread,
    batches going through the lanes at once. One torch thread per lane, not two threads per batch:
    a multi-threaded op waits for its slowest thread, and on a box where decode tasks, the driver
    and Ray share the cores that thread is often the one without a core. One process per two
    CPUs, not one per CPU: each imports torch, Ultralytics and timm (seconds of CPU), which is
    most of the start-up before the first result. The decode tasks get the share of a photo's cost
    that decode is (`costs`, from the last run with these models: pipelines.stage_costs), or until
    a run has measured it a tenth of the CPUs (at least a quarter CPU); the actors the rest. With
    measured costs a batch is what a lane detects in about CPU_CALL_SECONDS (8 photos at most);
    before a run has measured them, the same from the detector's GFLOPs a photo (`detect_gflops`,
    models.describe) at CPU_SECONDS_PER_GFLOP. One
    CPU still runs: a one-lane actor of 0.75 CPU and a decode task of 0.25. A cluster too small for
    that is refused at once (PlanError), never left waiting.

    THUMPER_PLAN_GPUS=N plans for N GPUs that are not up yet: with autoscaling GPU workers at
    min_workers 0 the cluster has no GPU when the job starts; the GPU actors' requests are what
    make the autoscaler start them.
    """
    from cluster.gpu_sizing import detect_batch_for, gpu_memory_gb

    res = resources if resources is not None else ray.cluster_resources()
    gpus, cpus = res.get("GPU", 0) or float(settings().plan_gpus), float(res.get("CPU", 0))
    if gpus:
        per_gpu = max(1, int(1 / gpu_fraction))
        n = max(1, int(gpus * per_gpu / 2))
        bs = batch_size or detect_batch_for(gpu_memory_gb(res), gpu_fraction, imgsz or 640)
        # a GPU actor mostly waits on its device: one CPU each where there are CPUs to spare
        actor_cpus = 1.0 if cpus >= 2 + DECODE_CPUS else 0.25
        _check(cpus, 2 * actor_cpus + DECODE_CPUS, "one detector actor, one crop-model actor and a decode task")
        # crops are small: twice the images per call costs less than the detector's batch
        return {"detect": PoolPlan(actor_cpus, gpu_fraction, 1, n, bs),
                "describe": PoolPlan(actor_cpus, gpu_fraction, 1, n, bs * 2)}
    bs = batch_size or CPU_BATCH
    detect = costs.detect if costs is not None and costs.detect > 0 else detect_gflops * CPU_SECONDS_PER_GFLOP
    if not batch_size and detect > 0:
        # a lane's call at most ~CPU_CALL_SECONDS: a MegaDetector-sized batch of 8 is 6-10 s on one
        # thread here, the wait for the first result (batching buys little on a CPU)
        bs = max(1, min(CPU_BATCH, round(CPU_CALL_SECONDS / detect)))
    _check(cpus, MIN_ACTOR_CPUS + DECODE_CPUS, f"an inference actor ({MIN_ACTOR_CPUS:g} CPU) and a decode task")
    decode_cpus = max(DECODE_CPUS, 0.1 * cpus)  # big boxes keep a few decode tasks going
    if costs is not None and costs.total > 0:
        decode_cpus = max(DECODE_CPUS, cpus * costs.decode / costs.total)
    decode_cpus = min(decode_cpus, cpus - MIN_ACTOR_CPUS)
    spare = cpus - decode_cpus
    n = max(1, round(spare / CPUS_PER_ACTOR))
    per_actor = spare / n
    lanes = max(1, round(per_actor))
    return {"detect": PoolPlan(per_actor, 0, n, n, bs, threads=1, lanes=lanes), "describe": None}


CPUS_PER_ACTOR = 2.0  # on CPU: an inference actor per ~2 CPUs (every node of a cluster has that many)
MIN_ACTOR_CPUS = 0.75  # the least CPU an inference actor is planned with (a 1-CPU box)


def _check(have: float, need: float, what: str) -> None:
    if have + 1e-9 < need:
        raise PlanError(f"the census needs at least {need:g} CPUs ({what}); this Ray cluster has {have:g}. "
                        "Start Ray with more CPUs (--num-cpus), or join a bigger cluster (--address).")
