"""Cluster specs parse and say what the docs say; GPU pool sizing; the background sink's contract.
(No Kubernetes or cloud here: these check the files, not a deployment.)"""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from cluster.gpu_sizing import detect_batch_for, gpu_memory_gb
from cluster.runtime import plan_pools
from pipelines.sink import BackgroundWriter
from models.types import PhotoResult

REPO = Path(__file__).resolve().parents[1]
KUBERAY = REPO / "cluster" / "kuberay"


def _docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((KUBERAY / name).read_text()) if d]


def _ray_cluster_spec(doc: dict) -> dict:
    spec = doc["spec"]
    return spec.get("rayClusterSpec") or spec.get("rayClusterConfig") or spec["jobTemplate"]["rayClusterSpec"]


def _check_ray_cluster(cluster: dict) -> None:
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["image"] and cluster["rayVersion"]
    [gpu] = cluster["workerGroupSpecs"]
    worker = gpu["template"]["spec"]["containers"][0]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert gpu["minReplicas"] <= gpu["maxReplicas"]
    assert cluster["headGroupSpec"]["rayStartParams"]["metrics-export-port"] == "8080"


def test_rayjob_reprocesses_on_an_autoscaling_gpu_cluster():
    [job] = _docs("rayjob-reprocess.yaml")
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    assert job["spec"]["entrypoint"].startswith("python -m thumper process --reprocess")
    assert job["spec"]["shutdownAfterJobFinishes"] is True
    cluster = _ray_cluster_spec(job)
    _check_ray_cluster(cluster)
    env = {e["name"] for e in cluster["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]}
    assert {"THUMPER_DATABASE_URL", "THUMPER_PLAN_GPUS"} <= env


def test_rayservice_runs_the_serve_app_like_its_config():
    [svc] = _docs("rayservice.yaml")
    assert (svc["apiVersion"], svc["kind"]) == ("ray.io/v1", "RayService")
    serve = yaml.safe_load(svc["spec"]["serveConfigV2"])
    local = yaml.safe_load((REPO / "serve_apps" / "config.yaml").read_text())
    [app] = serve["applications"]
    assert app["import_path"] == local["applications"][0]["import_path"]
    assert {d["name"] for d in app["deployments"]} == {d["name"] for d in local["applications"][0]["deployments"]}
    _check_ray_cluster(_ray_cluster_spec(svc))


def test_weekly_schedules_create_a_rayjob():
    [cron] = _docs("raycronjob-weekly.yaml")
    assert (cron["kind"], cron["spec"]["schedule"]) == ("RayCronJob", "0 2 * * 0")
    assert cron["spec"]["jobTemplate"]["entrypoint"].startswith("python -m thumper census")
    _check_ray_cluster(_ray_cluster_spec(cron))

    docs = {d["kind"]: d for d in _docs("cronjob-weekly.yaml")}
    assert {"CronJob", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"} <= set(docs)
    assert docs["CronJob"]["spec"]["schedule"] == "0 2 * * 0"
    [template] = yaml.safe_load_all(docs["ConfigMap"]["data"]["rayjob.yaml"])
    assert template["kind"] == "RayJob" and "NAME_SUFFIX" in template["metadata"]["name"]
    assert template["spec"] == {**cron["spec"]["jobTemplate"], "ttlSecondsAfterFinished": 86400}
    [rule] = docs["Role"]["rules"]
    assert "rayjobs" in rule["resources"]
    # every kubectl verb the creator's script uses is granted (get -> get + list: it lists by label)
    [creator] = docs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    used = set(re.findall(r"kubectl (get|create|delete)\b", creator["args"][0]))
    assert used == {"get", "create", "delete"}
    assert used | {"list"} <= set(rule["verbs"])


def _pod_templates(node) -> list[dict]:
    """Every headGroupSpec / workerGroupSpecs pod template under a manifest."""
    found = []
    if isinstance(node, dict):
        if "headGroupSpec" in node:
            found.append(node["headGroupSpec"]["template"])
            found += [w["template"] for w in node.get("workerGroupSpecs", [])]
        for value in node.values():
            found += _pod_templates(value)
    elif isinstance(node, list):
        for value in node:
            found += _pod_templates(value)
    return found


def test_every_ray_pod_is_scraped_by_the_pod_monitor():
    [monitor] = _docs("podmonitor.yaml")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    manifests = _docs("rayjob-reprocess.yaml") + _docs("rayservice.yaml") + _docs("raycronjob-weekly.yaml")
    manifests += [yaml.safe_load(d["data"]["rayjob.yaml"]) for d in _docs("cronjob-weekly.yaml") if d["kind"] == "ConfigMap"]
    templates = [t for m in manifests for t in _pod_templates(m)]
    assert len(templates) == 8  # a head and a GPU worker group in each of the four
    for t in templates:
        labels = t.get("metadata", {}).get("labels", {})
        assert wanted.items() <= labels.items(), labels


def test_ray_cluster_launcher_spec():
    from ray.autoscaler._private.util import prepare_config, validate_config

    spec = yaml.safe_load((REPO / "ray_cluster.yaml").read_text())
    validate_config(prepare_config(spec))  # Ray's own schema (ray/autoscaler/ray-schema.json): no typos
    types = spec["available_node_types"]
    assert types[spec["head_node_type"]]["resources"] == {"CPU": 0}
    assert types["worker.gpu"]["max_workers"] >= 1
    assert any("THUMPER_INSTALL=runtime bash .ci/install" in c for c in spec["setup_commands"])
    assert all("--metrics-export-port" in " ".join(spec[k]) for k in ("head_start_ray_commands", "worker_start_ray_commands"))


def test_grafana_dashboard_queries_the_exported_metrics():
    dash = json.loads((REPO / "cluster" / "grafana" / "thumper-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    for name in ("ray_thumper_images_total", "ray_thumper_detections_total", "ray_thumper_pending_images",
                 "ray_thumper_db_write_seconds_bucket", "ray_thumper_stage_seconds_sum",
                 "ray_thumper_stage_failures_total", "ray_node_gpus_utilization"):
        assert name in exprs, name
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])


def test_gpu_batch_from_memory(monkeypatch):
    monkeypatch.delenv("THUMPER_GPU_MEMORY_GB", raising=False)
    assert gpu_memory_gb({"GPU": 2, "accelerator_type:H100": 1, "accelerator_type:A10G": 1}) == 24
    assert gpu_memory_gb({"GPU": 1}) == 16  # unknown type: a size that fits most cards
    assert detect_batch_for(80, 0.25) > detect_batch_for(24, 0.25) >= 8
    assert detect_batch_for(80, 0.25, imgsz=1280) < detect_batch_for(80, 0.25, imgsz=640)
    plan = plan_pools(0.25, resources={"CPU": 16, "GPU": 1, "accelerator_type:H100": 1})
    assert plan["detect"].num_gpus == 0.25 and plan["detect"].batch_size == detect_batch_for(80, 0.25)
    assert plan_pools(0.25, batch_size=32, resources={"CPU": 16, "GPU": 1})["detect"].batch_size == 32
    monkeypatch.setenv("THUMPER_PLAN_GPUS", "2")  # autoscaling GPU workers not up yet
    assert plan_pools(0.25, resources={"CPU": 4})["detect"].num_gpus == 0.25


def test_background_writer_writes_in_order_and_surfaces_errors():
    written, gate = [], threading.Event()

    def write(results):
        gate.wait(5)
        written.append([r.image_id for r in results])
        return len(results)

    sink = BackgroundWriter(write, claimed=6, depth=1)
    sink.put([PhotoResult(1), PhotoResult(2)])
    sink.put([PhotoResult(3, error="bad")])  # queued while the first write is held
    gate.set()
    sink.put([PhotoResult(4)])
    sink.close()
    assert written == [[1, 2], [3], [4]]
    assert (sink.completed, sink.failed, sink.detections) == (3, 1, 4)

    def broken(results):
        raise RuntimeError("database gone")

    sink = BackgroundWriter(broken, claimed=2)
    sink.put([PhotoResult(1)])
    with pytest.raises(RuntimeError, match="database gone"):
        deadline = time.time() + 5
        while time.time() < deadline:
            sink.put([PhotoResult(2)])
    sink.abort()


def test_background_writer_writes_on_arrival_and_merges_what_queued_up_to_its_batch():
    written, gate, first = [], threading.Event(), threading.Event()

    def write(results):
        first.set()
        gate.wait(5)
        written.append([r.image_id for r in results])
        return 0

    sink = BackgroundWriter(write, claimed=14, depth=8, batch=4)
    sink.put([PhotoResult(1)])  # written at once: the writer does not wait for a full batch
    assert first.wait(5)
    for ids in ([2, 3], [4], [5, 6], [7], [8, 9], [10, 11, 12, 13, 14]):  # queued behind the held write
        sink.put([PhotoResult(i) for i in ids])
    gate.set()
    sink.close()
    # up to 4 photos a transaction, order kept; a bigger batch is cut, smaller ones are not split
    assert written == [[1], [2, 3, 4], [5, 6, 7], [8, 9], [10, 11, 12, 13], [14]]
    assert sink.completed == 14


def test_background_writer_abort_drops_queued_batches():
    started, release, written = threading.Event(), threading.Event(), []

    def write(results):
        started.set()
        release.wait(5)
        written.append(results[0].image_id)
        return 0

    sink = BackgroundWriter(write, claimed=3, depth=2)
    sink.put([PhotoResult(1)])
    started.wait(5)
    sink.put([PhotoResult(2)])
    threading.Timer(0.2, release.set).start()
    sink.abort()  # the write in progress commits; the queued one is dropped (its image stays claimed)
    assert written == [1]


def test_cpu_pools_are_sized_from_the_measured_stage_costs():
    from cluster.runtime import DECODE_CPUS, StageCosts

    toy = StageCosts(decode=0.008, detect=0.036, describe=0.025)  # the demo models at 160 px
    real = StageCosts(decode=0.008, detect=0.9, describe=0.025)  # a MegaDetector-sized detector
    for cpus in (1, 2, 3, 4, 8, 16, 64):
        for costs in (toy, real):
            plan = plan_pools(resources={"CPU": cpus}, costs=costs)
            det, decode = plan["detect"], cpus - plan["detect"].min_size * plan["detect"].num_cpus
            assert plan["describe"] is None, "on CPU the crop models ride in the detector's actors"
            assert decode >= DECODE_CPUS - 1e-9, (cpus, costs, plan)
            assert det.lanes == max(1, round(det.num_cpus)) and det.threads == 1
    # decode gets its share of a photo's cost: an eighth of the toy models' photo, ~1% of the real one
    assert 1.5 <= 16 - _actor_cpus(plan_pools(resources={"CPU": 16}, costs=toy)) <= 2.2
    assert 16 - _actor_cpus(plan_pools(resources={"CPU": 16}, costs=real)) == pytest.approx(DECODE_CPUS)
    # a batch is about two seconds of a lane: 8 of the toy models' photos, 2 of a MegaDetector's
    assert plan_pools(resources={"CPU": 2}, costs=toy)["detect"].batch_size == 8
    assert plan_pools(resources={"CPU": 2}, costs=real)["detect"].batch_size == 2
    assert plan_pools(batch_size=16, resources={"CPU": 2}, costs=real)["detect"].batch_size == 16
    assert plan_pools(resources={"CPU": 2})["detect"].batch_size == 8, "unmeasured: the default batch"
    # before any run has timed the detector, its GFLOPs size the batch: a MegaDetector-v6-c-sized
    # detector (104 GFLOPs at 640) gets 2 photos a call, a YOLOv8n (8.2) and the demo 8; once timed,
    # the measured cost wins
    assert plan_pools(resources={"CPU": 2}, detect_gflops=104)["detect"].batch_size == 2
    assert plan_pools(resources={"CPU": 2}, detect_gflops=8.2)["detect"].batch_size == 8
    assert plan_pools(resources={"CPU": 2}, detect_gflops=104, costs=toy)["detect"].batch_size == 8
    assert plan_pools(resources={"CPU": 2}, detect_gflops=0.5, costs=real)["detect"].batch_size == 2
    # a cost with no decode in it still leaves decode tasks their quarter CPU
    assert 2 - _actor_cpus(plan_pools(resources={"CPU": 2}, costs=StageCosts(0, 1, 0))) == pytest.approx(DECODE_CPUS)


def _actor_cpus(plan) -> float:
    return plan["detect"].min_size * plan["detect"].num_cpus


def test_stage_cost_tally_remembers_per_photo_costs(tmp_path, monkeypatch):
    from pipelines import stage_costs

    monkeypatch.setattr(stage_costs, "cache_dir", lambda: tmp_path)
    tally = stage_costs.Tally()
    for _ in range(13):  # thirteen batches of 8 photos
        tally.add({"cost_decode": np.full(8, 0.01), "cost_detect": np.full(8, 0.2), "cost_describe": np.full(8, 0.05)})
    tally.add({"result": np.empty(8, dtype=object)})  # a batch without the columns counts for nothing
    costs = tally.remember("k")
    assert tally.photos == 104 and costs is not None
    assert np.allclose([costs.decode, costs.detect, costs.describe], [0.01, 0.2, 0.05])
    assert stage_costs.remembered("k") == costs and stage_costs.remembered("other") is None
    few = stage_costs.Tally()
    few.add({"cost_decode": np.ones(4), "cost_detect": np.ones(4), "cost_describe": np.ones(4)})
    assert few.costs() is not None  # measured, and said, but 4 photos are mostly warm-up: not kept for a plan
    assert few.remember("few") is None and stage_costs.remembered("few") is None


def test_cpu_plans_fit_every_cluster_shape_or_refuse_at_once():
    from cluster.runtime import DECODE_CPUS, PlanError

    for cpus in (1, 2, 3, 4, 8, 16, 64):
        plan = plan_pools(resources={"CPU": cpus})
        det = plan["detect"]
        # the actors and a decode task can always run together: nothing waits for a CPU that never frees
        assert det.min_size * det.num_cpus + DECODE_CPUS <= cpus + 1e-9, cpus
        assert det.num_gpus == 0 and det.min_size == det.max_size
        # a lane per CPU an actor holds, each on one torch thread; an actor fits a 2-CPU node
        assert det.threads == 1 and det.lanes == max(1, round(det.num_cpus)) and det.num_cpus <= 3
        assert abs(det.min_size * det.lanes - det.min_size * det.num_cpus) <= 1, "a lane for every CPU the actors hold"
    two = plan_pools(resources={"CPU": 2})["detect"]
    assert (two.min_size, two.lanes, two.threads) == (1, 2, 1), "on 2 cores: one process, a lane per core"
    assert plan_pools(resources={"CPU": 1})["detect"].lanes == 1
    kwargs = two.map_kwargs()["compute"]
    assert kwargs.max_concurrent_calls_per_actor == 2 and kwargs.enable_true_multi_threading
    with pytest.raises(PlanError, match="needs at least 1 CPUs .* has 0.5"):
        plan_pools(resources={"CPU": 0.5})
    one_cpu_gpu = plan_pools(resources={"CPU": 1, "GPU": 1})
    assert 2 * one_cpu_gpu["detect"].num_cpus + DECODE_CPUS <= 1
