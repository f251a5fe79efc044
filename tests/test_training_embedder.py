"""Training the re-ID embedder on confirmed identities (pipelines/training_embedder.py, on real
Postgres, Ray and Ray Train): a synthetic herd is census'd with the demo embedder, a reviewer
splits, cleans, merges and confirms its profiles through pipelines.corrections (what the API
calls), and `train_embedder` must hold out whole individuals, score parent and new on them by
re-ID pairwise precision / recall, register the new version with both scores and activate it only
when better; a reprocess with '--embedder latest' then uses it. Too little confirmed identity data
is refused, saying what is missing."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from pipelines.training import TrainingRefused
from pipelines.training_embedder import EmbedderOptions, is_better, pair_scores, split_by_individual, train_embedder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from train_from_corrections import census, herd_of, photos, review_identities  # noqa: E402


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("THUMPER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _rows(spec: dict[int, list[int]]) -> list[dict]:
    """Identity-set rows: deer id -> the bursts of its detections (one detection each)."""
    return [{"deer_id": d, "burst": b, "image_id": 100 * d + k} for d, bursts in spec.items()
            for k, b in enumerate(bursts)]


def test_individuals_are_split_whole_and_too_few_are_refused():
    # 8 deer on 2+ bursts, one deer seen in a single burst only, one with a single detection
    spec = {d: [10 * d, 10 * d, 10 * d + 1] for d in range(1, 9)} | {20: [200, 200, 200], 21: [210]}
    rows = _rows(spec)
    split = split_by_individual(rows, EmbedderOptions(holdout=0.3, seed=1))
    train = {rows[i]["deer_id"] for i in split["train"]}
    held = {rows[i]["deer_id"] for i in split["test"]}
    assert train and len(held) == 2 and not train & held  # no individual on both sides
    assert 20 in train and 20 not in held  # one burst: trained on, never scored on
    assert 21 not in train | held  # a single detection makes no pair
    assert sorted(held) == split["data"]["held_out_deer"] and sorted(train) == split["data"]["train_deer"]
    assert split["data"]["individuals"] == {"confirmed": 10, "eligible": 8, "train": 7, "held_out": 2}
    assert set(split["train"].tolist()) | set(split["test"].tolist()) == set(range(len(rows) - 1))
    # another seed holds out others, still whole
    other = split_by_individual(rows, EmbedderOptions(holdout=0.3, seed=5))
    assert not {rows[i]["deer_id"] for i in other["train"]} & {rows[i]["deer_id"] for i in other["test"]}

    few = _rows({1: [1, 2], 2: [3, 4], 3: [5, 6], 4: [7, 7, 7], 5: [8]})
    with pytest.raises(TrainingRefused, match=r"too little confirmed identity data: training the embedder needs 6 "
                                              r"individuals .* the store has 3 \(of 5 confirmed deer profiles: 1 "
                                              r"with fewer detections, 1 seen on fewer bursts\)"):
        split_by_individual(few, EmbedderOptions())
    assert split_by_individual(few, EmbedderOptions(min_individuals=3, min_bursts=1))["data"]["individuals"][
        "held_out"] == 2


def test_pair_scores_count_pairs_at_the_threshold():
    ids = np.array([0, 0, 1, 1])
    e = np.array([[1, 0], [0.8, 0.6], [0, 1], [0.6, 0.8]], np.float32)  # crop 3 leans towards deer 0
    s = pair_scores(e, ids, threshold=0.7)
    # pairs >= 0.7: (0,1) 0.8 same, (1,3) 0.96 different, (2,3) 0.8 same; (0,3) 0.6 no
    assert s["pairs"] == 6 and s["same_pairs"] == 2
    assert s["precision"] == pytest.approx(2 / 3, abs=1e-4) and s["recall"] == 1.0
    assert s["f1"] == pytest.approx(0.8, abs=1e-4)
    assert pair_scores(e, ids, threshold=0.99)["f1"] == 0.0  # nothing called same
    assert s["best_f1"]["f1"] == pytest.approx(0.8, abs=1e-4)


def test_better_means_a_higher_f1_without_losing_precision():
    parent = {"precision": 0.90, "recall": 0.50, "f1": 0.643}
    assert is_better(parent, {"precision": 0.88, "recall": 0.70, "f1": 0.780})
    # a higher F1 bought by calling everything the same deer: not better
    assert not is_better(parent, {"precision": 0.70, "recall": 0.95, "f1": 0.806})
    assert not is_better(parent, parent)


def test_too_little_confirmed_identity_data_is_refused(store, ray_cluster, photo_folder, demo_options, cache):
    from pipelines.census import run_census

    root, _ = photo_folder
    run_census(store, root, demo_options)
    with pytest.raises(TrainingRefused, match=r"too little confirmed identity data: .* the store has 0 \(of 0 "
                                              r"confirmed deer profiles.*Confirm more deer profiles"):
        train_embedder(store, EmbedderOptions(base=demo_options.embedder))
    assert [v["kind"] for v in store.models.list()] == ["classifier", "detector", "embedder"]  # nothing new


def test_confirmed_identities_train_a_version_that_reprocess_uses(store, ray_cluster, tmp_path, cache):
    from pipelines.census import PipelineOptions, process_pending
    from pipelines.reid import run_reid

    root = tmp_path / "photos"
    truth = photos(root, 150, seed=11, herd=herd_of(16, "t"))
    census(store, root, "demo")
    (demo,) = store.models.list("embedder")
    made = review_identities(store, root, truth, budget=300)
    assert made["confirm"] >= 6, made

    result = train_embedder(store, EmbedderOptions(epochs=2, max_distance=0.3, activate="never"))
    new = store.models.get(result.version_id)
    assert new["kind"] == "embedder" and new["parent_id"] == demo["id"] and Path(new["path"]).is_relative_to(cache)
    assert not result.activated and store.models.active("embedder")["id"] == demo["id"]  # --activate never
    m, d = new["metrics"], new["data"]
    for side in ("held_out", "parent_held_out"):  # both scored, on the same held-out individuals
        assert {"precision", "recall", "f1", "best_f1", "clustered"} <= set(m[side])
        assert m[side]["threshold"] == pytest.approx(0.7) and m[side]["individuals"] == len(d["held_out_deer"]) >= 2
    assert m["held_out"]["pairs"] == m["parent_held_out"]["pairs"] > 0
    assert m["better"] == is_better(result.before, result.after) and m["threshold"] == pytest.approx(0.7)
    assert m["held_out"]["dim"] == m["parent_held_out"]["dim"] == d["dim"]
    assert d["train_deer"] and not set(d["train_deer"]) & set(d["held_out_deer"])  # individuals, not crops
    assert len(result.epochs) == 2 and all(e["loss"] > 0 for e in result.epochs)

    store.models.activate(result.version_id)
    run = process_pending(store, PipelineOptions(detector="demo", classifier="demo", embedder="latest",
                                                 reprocess=True), kind="reprocess")
    assert run.embedder_version == new["version"]
    assert store.models.run_versions(run.run_id)["embedder"] == result.version_id
    versions = {v for (v,) in store.conn.execute("SELECT DISTINCT embedder_version FROM detections"
                                                 " WHERE embedding IS NOT NULL")}
    assert versions == {new["version"]}
    summary = run_reid(store)  # one dimension: re-ID reads the new embeddings
    assert summary.detections > 0 and summary.deer > 0

    # if-better: activated exactly when it is better
    again = train_embedder(store, EmbedderOptions(epochs=1, max_distance=0.3, seed=1))
    assert store.models.get(again.version_id)["parent_id"] == result.version_id
    assert again.activated == is_better(again.before, again.after)
    assert store.models.active("embedder")["id"] == (again.version_id if again.activated else result.version_id)
