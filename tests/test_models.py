"""Model wrappers on the project's own demo weights (trained once into the cache, then reused)."""
import json

import numpy as np
import pytest
import torch

from models import weights as W
from models.classes import ClassMap
from models.demo import ensure_demo_detector, ensure_demo_embedder
from models.detector import Detector, load_detector
from models.embedder import Embedder, build_backbone, load_embedder
from models.synthetic import box_iou, default_herd
from models.train_demo import random_scene
from models.train_embedder import crop, crop_views
from models.types import Detection


@pytest.fixture(scope="session")
def detector_weights():
    return ensure_demo_detector()  # the first run trains for a few minutes; later runs hit the cache


@pytest.fixture(scope="session")
def detector(detector_weights):
    return Detector(detector_weights)


@pytest.fixture(scope="session")
def embedder():
    return Embedder(ensure_demo_embedder())


@pytest.fixture(scope="session")
def scenes():
    rng = np.random.default_rng(2024)  # a seed the demo detector never trained or was measured on
    return [random_scene(rng, (960, 540), "test") for _ in range(30)]


# ---------------------------------------------------------------- class map

def test_class_map_lookups():
    cm = ClassMap.load()
    assert cm.lookup("doe") == {"deer_class": "doe", "sex": "female", "age_class": None}
    assert cm.lookup("fawn") == {"deer_class": "fawn", "sex": "unknown", "age_class": "fawn"}
    assert cm.lookup("buck_mature") == {"deer_class": "buck", "sex": "male", "age_class": "mature"}
    assert cm.lookup("Buck-Young") == {"deer_class": "buck", "sex": "male", "age_class": "young"}
    assert cm.lookup("buck")["age_class"] is None
    assert cm.lookup("animal") == cm.lookup("deer") == {"deer_class": "deer", "sex": "unknown", "age_class": None}
    assert cm.lookup("person") is None and cm.lookup("vehicle") is None and cm.lookup("") is None


def test_class_map_rejects_bad_entries(tmp_path):
    bad = tmp_path / "map.yaml"
    bad.write_text("labels:\n  elk: {deer_class: elk, sex: male}\n")
    with pytest.raises(ValueError, match="elk"):
        ClassMap.load(bad)


# ---------------------------------------------------------------- weights

def test_unknown_detector_name_explains_what_to_do():
    with pytest.raises(W.WeightsNotFound) as e:
        W.resolve_detector("no-such-detector")
    msg = str(e.value)
    assert "no-such-detector" in msg and "megadetector-v6-c" in msg and "--detector PATH" in msg
    assert isinstance(e.value, FileNotFoundError)


def test_registry_name_with_download_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("THUMPER_CACHE_DIR", str(tmp_path))
    with pytest.raises(W.WeightsNotFound) as e:
        W.resolve_detector("megadetector-v6-c", download=False)
    msg = str(e.value)
    assert "MDV6-yolov9-c.pt" in msg and "https://zenodo.org/records/15398270/files/MDV6-yolov9-c.pt" in msg
    assert str(tmp_path / "weights" / "MDV6-yolov9-c.pt") in msg and "--detector PATH" in msg


def test_registry_download_failure_is_helpful_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("THUMPER_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(W.KNOWN_DETECTORS, "closed-port", W.KnownWeights(
        "x.pt", "http://127.0.0.1:9/x.pt", "MIT", None, "nothing listens on port 9"))
    with pytest.raises(W.WeightsNotFound) as e:
        W.resolve_detector("closed-port")
    assert "http://127.0.0.1:9/x.pt" in str(e.value) and "could not be downloaded" in str(e.value)
    assert not list((tmp_path / "weights").glob("*")), "no partial file may be left behind"


def test_registry_download_verifies_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv("THUMPER_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "published.pt"
    source.write_bytes(b"weights" * 1000)
    good = W.KnownWeights("good.pt", source.as_uri(), "MIT", W.file_sha256(source), "")
    bad = W.KnownWeights("bad.pt", source.as_uri(), "MIT", "0" * 64, "")
    monkeypatch.setitem(W.KNOWN_DETECTORS, "good", good)
    monkeypatch.setitem(W.KNOWN_DETECTORS, "bad", bad)
    path = W.resolve_detector("good")
    assert path == tmp_path / "cache" / "weights" / "good.pt" and path.read_bytes() == source.read_bytes()
    source.unlink()
    assert W.resolve_detector("good") == path, "cached: no second download"
    with pytest.raises(W.WeightsNotFound, match="sha256 mismatch"):
        source.write_bytes(b"tampered")
        W.resolve_detector("bad")
    assert sorted(p.name for p in path.parent.iterdir()) == ["good.pt"]


def test_paths_resolve_to_themselves(tmp_path):
    f = tmp_path / "my.pt"
    f.write_bytes(b"x")
    assert W.resolve_detector(str(f)) == f and W.resolve_embedder(str(f)) == f
    with pytest.raises(W.WeightsNotFound, match="--embedder PATH"):
        W.resolve_embedder(str(tmp_path / "missing.pt"))


def test_cache_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("THUMPER_CACHE_DIR", str(tmp_path))
    assert W.cache_dir() == tmp_path


# ---------------------------------------------------------------- detector

def test_detector_identity(detector, detector_weights):
    assert detector.name == detector_weights.stem
    assert detector.version == f"{detector.name}@{W.file_sha256(detector_weights)[:12]}"
    assert list(detector.labels.values()) == ["doe", "fawn", "buck_young", "buck_mid", "buck_mature"]
    report = json.loads(detector_weights.with_suffix(".json").read_text())
    assert report["recall"] >= 0.8


def test_detector_finds_synthetic_deer(detector, scenes):
    images = [np.asarray(img) for img, _ in scenes]
    found = detector.detect(images)
    assert len(found) == len(images)
    hits = total = 0
    for (img, truth), dets, arr in zip(scenes, found, images):
        h, w = arr.shape[:2]
        for d in dets:
            assert isinstance(d, Detection)
            x1, y1, x2, y2 = d.box
            assert -1 <= x1 < x2 <= w + 1 and -1 <= y1 < y2 <= h + 1
            assert 0.25 <= d.confidence <= 1
            assert d.deer_class in ("doe", "fawn", "buck") and d.sex in ("female", "male", "unknown")
        for t in truth:
            total += 1
            hits += any(box_iou(t["box"], d.box) >= 0.5 for d in dets)
    assert total > 30 and hits / total >= 0.75, f"recall {hits}/{total}"


def test_detector_handles_mixed_sizes_and_empty_batch(detector, scenes):
    small = np.asarray(scenes[0][0].resize((480, 270)))
    big, truth = np.asarray(scenes[0][0]), scenes[0][1]
    out = detector.detect([big, small])
    assert len(out) == 2 and detector.detect([]) == []
    for d in out[1]:
        assert d.box[2] <= 481 and d.box[3] <= 271  # boxes are in each image's own pixels
    if truth and out[1]:  # the same deer, found at half the size, maps back onto the full-size box
        assert any(box_iou(tuple(2 * v for v in d.box), e.box) > 0.5 for d in out[1] for e in out[0])


def test_detector_drops_labels_that_are_not_deer(detector_weights, scenes):
    only_does = ClassMap({"doe": {"deer_class": "doe", "sex": "female", "age_class": None}})
    images = [np.asarray(img) for img, _ in scenes[:10]]
    dets = [d for ds in Detector(detector_weights, class_map=only_does).detect(images) for d in ds]
    assert dets and all(d.label == "doe" for d in dets)
    nothing = ClassMap({"person": {"deer_class": "deer", "sex": "unknown", "age_class": None}})
    assert Detector(detector_weights, class_map=nothing).detect(images) == [[] for _ in images]


def test_load_detector_demo(detector_weights):
    assert load_detector("demo", conf=0.5).conf == 0.5
    with pytest.raises(W.WeightsNotFound):
        load_detector("nope")


# ---------------------------------------------------------------- embedder

def _herd_crops(n_views=4, seed=11):
    rng = np.random.default_rng(seed)
    herd = default_herd()  # ids never seen in training
    return np.repeat(np.arange(len(herd)), n_views), [c for s in herd for c in crop_views(rng, s, n_views)]


def test_embedder_shape_norm_determinism(embedder):
    assert (embedder.dim, embedder.input_size) == (128, 128)
    assert embedder.version.startswith(embedder.name + "@") and len(embedder.version.split("@")[1]) == 12
    _, crops = _herd_crops(2)
    crops.append(np.zeros((7, 300, 3), np.uint8))  # any size works
    e = embedder.embed(crops)
    assert e.shape == (len(crops), 128) and e.dtype == np.float32
    assert np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    assert np.allclose(e, Embedder(ensure_demo_embedder()).embed(crops), atol=1e-5)
    assert np.allclose(e[:3], embedder.embed(crops[:3]), atol=1e-5), "a crop's embedding must not depend on its batch"
    assert embedder.embed([]).shape == (0, 128)


def test_same_individual_is_closer_than_different(embedder):
    ids, crops = _herd_crops()
    e = embedder.embed(crops)
    sim = e @ e.T
    same = (ids[:, None] == ids[None, :]) & ~np.eye(len(ids), dtype=bool)
    diff = ids[:, None] != ids[None, :]
    assert sim[diff].mean() < 0.8, "embeddings collapsed onto one vector"
    assert sim[same].mean() > sim[diff].mean() + 0.1


def test_embedder_loads_torchscript(embedder, tmp_path):
    scripted = torch.jit.trace(embedder.model, torch.zeros(1, 3, 128, 128))
    path = tmp_path / "scripted.pt"
    meta = {"dim": 128, "input_size": 128, "mean": embedder.mean.flatten().tolist(), "std": embedder.std.flatten().tolist()}
    torch.jit.save(scripted, str(path), _extra_files={"meta.json": json.dumps(meta)})
    _, crops = _herd_crops(1)
    other = load_embedder(str(path))
    assert other.dim == 128 and np.allclose(other.embed(crops), embedder.embed(crops), atol=1e-4)


def test_checkpoint_format_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_backbone("resnet18", 32).eval()
    ckpt = {"arch": "resnet18", "dim": 32, "input_size": 64, "mean": [0.5] * 3, "std": [0.25] * 3,
            "state_dict": model.state_dict()}
    torch.save(ckpt, tmp_path / "r18.pt")
    emb = Embedder(tmp_path / "r18.pt")
    assert (emb.dim, emb.input_size, emb.name) == (32, 64, "r18")
    img = np.random.default_rng(0).integers(0, 255, (50, 80, 3), dtype=np.uint8)
    assert emb.embed([img, crop(img, (10, 10, 40, 40))]).shape == (2, 32)


# ---------------------------------------------------------------- describe (what the driver needs)

def test_describe_remembers_by_content(detector, embedder, detector_weights, tmp_path, monkeypatch):
    from models.describe import describe_detector, describe_embedder

    embedder_weights = ensure_demo_embedder()  # before the cache moves: else it is trained again there
    monkeypatch.setenv("THUMPER_CACHE_DIR", str(tmp_path))
    info = describe_detector(detector_weights)
    assert info.imgsz == detector.imgsz and info.sha256 == W.file_sha256(detector_weights)
    assert describe_embedder(embedder_weights).dim == embedder.dim
    memo = next((tmp_path / "described").glob("detector-*.json"))
    # the memo answers from now on (no model load): an edited memo shows through...
    memo.write_text(json.dumps({**json.loads(memo.read_text()), "imgsz": 999}))
    assert describe_detector(detector_weights).imgsz == 999
    # ...a copy of the file under another name is the same weights...
    copy = tmp_path / "renamed.pt"
    copy.write_bytes(detector_weights.read_bytes())
    assert describe_detector(copy).imgsz == 999
    # ...and an unreadable memo is asked again of the model and rewritten
    memo.write_text("{not json")
    assert describe_detector(detector_weights).imgsz == detector.imgsz
    assert json.loads(memo.read_text())["imgsz"] == detector.imgsz
