"""Training on corrections (pipelines/training.py, on real Postgres, Ray and Ray Train): from a
deliberately weak demo classifier, a synthetic herd is census'd, a reviewer corrects it through
pipelines.corrections (what the API calls), and `train_classifier` must produce a registered,
active version that scores clearly better on held-out verified crops; a reprocess with
'--classifier latest' then uses it and the corrections still stand. Too little verified data is
refused, and a version that is not better is registered but not activated."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipelines.census import PipelineOptions, process_pending
from pipelines.training import TrainingRefused, TrainOptions, train_classifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from train_from_corrections import census, photos, review  # noqa: E402


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """Trained versions and Ray Train's checkpoints go to a throw-away cache."""
    monkeypatch.setenv("THUMPER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def weak(tmp_path, demo_weights) -> Path:
    from models.recipes.classifier import weaken_classifier

    return weaken_classifier(demo_weights.classifier, tmp_path / "weak-classifier.pt", keep=0.25)


def test_corrections_train_a_better_version_that_reprocess_uses(store, ray_cluster, tmp_path, cache, weak):
    root = tmp_path / "photos"
    truth = photos(root, 180, seed=11)
    census(store, root, str(weak))
    (weak_version,) = store.models.list("classifier")
    assert weak_version["active"] and weak_version["path"] == str(weak.resolve())  # registered on first use
    first_run = store.conn.execute("SELECT id FROM runs WHERE kind = 'census'").fetchone()[0]
    assert store.models.run_versions(first_run)["classifier"] == weak_version["id"]

    made = review(store, root, truth, budget=250)
    assert made["not_deer"] > 0 and made["class"] > 0, made
    result = train_classifier(store, TrainOptions(epochs=6, min_per_class=8))

    assert result.after["crops"] == result.before["crops"] >= 15  # the same held-out crops for both
    assert result.after["accuracy"] >= result.before["accuracy"] + 0.1, (result.before, result.after)
    assert result.after["per_class"]["not deer"] > result.before["per_class"]["not deer"]
    assert result.activated and store.models.active("classifier")["id"] == result.version_id
    new = store.models.get(result.version_id)
    assert new["parent_id"] == weak_version["id"] and Path(new["path"]).is_relative_to(cache)
    assert new["metrics"]["held_out"]["accuracy"] == result.after["accuracy"]
    assert new["metrics"]["parent_held_out"]["accuracy"] == result.before["accuracy"]
    assert new["data"]["sources"]["not_deer"] > 0 and new["data"]["sources"]["class"] > 0
    assert "model" not in new["data"]["sources"]  # no model labels unless asked
    # no burst on both sides
    assert new["data"]["bursts"]["train"] > 0 and new["data"]["bursts"]["held_out"] > 0
    assert len(result.epochs) == 6

    not_deer = store.conn.execute("SELECT count(*) FROM correction_facts WHERE kind = 'not_deer'"
                                  " AND detection_id IS NOT NULL").fetchone()[0]
    run = process_pending(store, PipelineOptions(detector="demo", classifier="latest", embedder="demo",
                                                 reprocess=True), kind="reprocess")
    assert run.classifier_version == new["version"]
    assert store.models.run_versions(run.run_id)["classifier"] == result.version_id
    versions = {v for (v,) in store.conn.execute("SELECT DISTINCT classifier_version FROM detections"
                                                      " WHERE classifier_version IS NOT NULL")}
    assert versions == {new["version"]}
    ids = [i for (i,) in store.conn.execute("SELECT id FROM detections WHERE classifier_version IS NOT NULL"
                                            " ORDER BY id LIMIT 3")]
    assert {r["classifier_model_id"] for r in store.models.detection_versions(ids)} == {result.version_id}
    # the corrections still win: every "not a deer" still finds its detection after the rewrite
    assert store.conn.execute("SELECT count(*) FROM correction_facts WHERE kind = 'not_deer'"
                              " AND detection_id IS NOT NULL").fetchone()[0] >= not_deer - 2

    # trained again with nothing new and 'never' (after the re-ID that gives rewritten detections their
    # profiles back): registered beside it, the active one unchanged
    from pipelines.reid import run_reid

    run_reid(store)
    again = train_classifier(store, TrainOptions(epochs=1, min_per_class=8, activate="never"))
    assert not again.activated and store.models.active("classifier")["id"] == result.version_id
    assert store.models.get(again.version_id)["parent_id"] == result.version_id


def test_too_little_verified_data_is_refused(store, ray_cluster, photo_folder, demo_options, cache):
    from pipelines import corrections
    from pipelines.census import run_census

    root, _ = photo_folder
    run_census(store, root, demo_options)
    with pytest.raises(TrainingRefused, match=r"too little verified data: at least two classes need 20 verified "
                                              r"crops each .*verified crops by class: none"):
        train_classifier(store, TrainOptions())
    det = store.conn.execute("SELECT id FROM detections WHERE deer_class IS NOT NULL LIMIT 1").fetchone()[0]
    corrections.not_deer(store.reid, det)
    with pytest.raises(TrainingRefused, match="verified crops by class: not deer 1"):
        train_classifier(store, TrainOptions())
    assert [v["kind"] for v in store.models.list()] == ["classifier", "detector", "embedder"]  # nothing new


def test_latest_without_an_active_version_says_what_to_do(store):
    from models.weights import WeightsNotFound
    from pipelines.model_versions import resolve_latest

    with pytest.raises(WeightsNotFound, match="no classifier version is registered as active yet: run "
                                              "`thumper train classifier`"):
        resolve_latest(store, "classifier")


def test_a_version_that_forgets_a_rare_class_is_not_better():
    from pipelines.training import is_better

    parent = {"accuracy": 0.80, "balanced_accuracy": 0.80, "per_class": {"doe": 0.8, "buck": 0.8, "fawn": 0.8}}
    # more right overall (does and bucks are most of the crops), but it never says fawn any more
    forgets = {"accuracy": 0.88, "balanced_accuracy": 0.63, "per_class": {"doe": 0.95, "buck": 0.95, "fawn": 0.0}}
    learns = {"accuracy": 0.90, "balanced_accuracy": 0.88, "per_class": {"doe": 0.9, "buck": 0.95, "fawn": 0.8}}
    assert not is_better(parent, forgets) and is_better(parent, learns) and not is_better(learns, learns)
    # better overall and over classes, but it forgot the class it had too few crops to train on
    parent = {"accuracy": 0.47, "balanced_accuracy": 0.53, "per_class": {"doe": 0.8, "buck": 0.3, "fawn": 1.0}}
    gains = {"accuracy": 0.71, "balanced_accuracy": 0.72, "per_class": {"doe": 1.0, "buck": 0.9, "fawn": 0.0}}
    assert is_better(parent, gains) and not is_better(parent, gains, untrained={"fawn": 15})
