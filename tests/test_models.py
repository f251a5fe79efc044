"""Model wrappers on the project's own demo weights (trained once into the cache, then reused)."""
import json

import numpy as np
import pytest
import torch

from models import files as F
from models import weights as W
from models.classes import ClassMap
from models.detector import Detector
from models.embedder import Embedder, build_backbone
from models.synthetic import box_iou, default_herd
from models.recipes.demo import ensure_demo_detector, ensure_demo_embedder
from models.recipes.detector import random_scene
from models.recipes.embedder import crop_views
from models.types import Detection
from models.weights import load_detector, load_embedder


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

def test_class_map_says_species_and_deer_attributes():
    cm = ClassMap.load()
    doe, fawn, old = cm.meaning("doe"), cm.meaning("fawn"), cm.meaning("buck_mature")
    assert (doe.species.key, doe.deer_class, doe.sex, doe.age_class) == ("deer", "doe", "female", None)
    assert (fawn.deer_class, fawn.sex, fawn.age_class) == ("fawn", "unknown", "fawn")
    assert (old.deer_class, old.sex, old.age_class) == ("buck", "male", "mature")
    assert cm.meaning("Buck-Young").age_class == "young" and cm.meaning("buck").age_class is None
    # MegaDetector's classes: what kind of thing, not a species; an animal is never a deer by itself
    animal, person, vehicle = cm.meaning("animal"), cm.meaning("person"), cm.meaning("vehicle")
    assert not animal.is_deer and animal.species.key == "animal" and animal.species.observation_type == "animal"
    assert (person.species.key, person.species.observation_type, person.species.scientific) == \
        ("human", "human", "Homo sapiens")
    assert vehicle.species.observation_type == "vehicle" and not vehicle.is_deer
    # a label no one listed is kept as an animal of that name, and never counted
    ocelot = cm.meaning("Ocelot")
    assert ocelot.species.key == "ocelot" and not ocelot.is_deer and ocelot.label == "Ocelot"
    assert cm.scientific_name("white_tailed_deer") == "Odocoileus virginianus"
    assert cm.meaning("White-tailed Deer").is_deer  # DeepFaune-New-England's label


# the seeds' two YOLO models, label lists as their authors trained them
SEEDS_V1 = ["doe", "fawn", "mature", "mid", "young", "coyote", "cow", "raccoon", "turkey", "person", "UTV"]
SEEDS_V2 = ["cattle", "pig", "raccoon", "doe", "unknown", "buck"]


def test_seeds_label_lists_map_as_their_authors_meant():
    cm = ClassMap.load()
    v1 = {label: cm.meaning(label) for label in SEEDS_V1}
    for age in ("mature", "mid", "young"):  # bucks of that age class
        assert (v1[age].deer_class, v1[age].sex, v1[age].age_class) == ("buck", "male", age)
    assert v1["doe"].deer_class == "doe" and v1["fawn"].deer_class == "fawn"
    assert {k: v1[k].species.key for k in ("coyote", "cow", "raccoon", "turkey")} == \
        {"coyote": "coyote", "cow": "cattle", "raccoon": "raccoon", "turkey": "turkey"}
    assert v1["person"].species.observation_type == "human" and v1["UTV"].species.observation_type == "vehicle"
    assert not any(v1[k].is_deer for k in ("coyote", "cow", "raccoon", "turkey", "person", "UTV"))
    v2 = {label: cm.meaning(label) for label in SEEDS_V2}
    assert (v2["unknown"].deer_class, v2["unknown"].sex) == ("deer", "unknown")  # a deer of unknown sex
    assert (v2["buck"].deer_class, v2["buck"].sex, v2["buck"].age_class) == ("buck", "male", None)
    assert v2["cattle"].species.key == "cattle" and v2["pig"].species.key == "hog"
    assert not v2["cattle"].is_deer and not v2["pig"].is_deer and not v2["raccoon"].is_deer
    # every label of both lists is one the map knows (nothing falls through to a guess)
    assert all(label in cm for label in SEEDS_V1 + SEEDS_V2)


def test_class_map_rejects_bad_entries(tmp_path):
    bad = tmp_path / "map.yaml"
    bad.write_text("species:\n  deer: {deer: true}\nlabels:\n  elk: {species: deer, deer_class: elk, sex: male}\n")
    with pytest.raises(ValueError, match="elk"):
        ClassMap.load(bad)
    bad.write_text("species:\n  cattle: {}\nlabels:\n  cow: {species: cattle, sex: female}\n")
    with pytest.raises(ValueError, match="not a deer"):
        ClassMap.load(bad)
    bad.write_text("species:\n  cattle: {}\nlabels:\n  cow: {species: bovine}\n")
    with pytest.raises(ValueError, match="unknown species"):
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
    good = W.KnownWeights("good.pt", source.as_uri(), "MIT", F.file_sha256(source), "")
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
    assert F.cache_dir() == tmp_path


# ---------------------------------------------------------------- detector

def test_detector_identity(detector, detector_weights):
    assert detector.name == detector_weights.stem
    assert detector.version == f"{detector.name}@{F.file_sha256(detector_weights)[:12]}"
    assert list(detector.labels.values()) == ["animal", "person", "vehicle"]  # MegaDetector's classes
    report = json.loads(detector_weights.with_suffix(".json").read_text())
    assert report["recall"] >= 0.8


def test_detector_finds_synthetic_subjects(detector, scenes):
    images = [np.asarray(img) for img, _ in scenes]
    found = detector.detect(images)
    assert len(found) == len(images)
    hits = total = 0
    for (img, truth), dets in zip(scenes, found):
        for d in dets:
            assert isinstance(d, Detection)
            x1, y1, x2, y2 = d.box
            assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1  # normalised to the photo
            assert 0.25 <= d.confidence <= 1 and d.detector_version == detector.version
            assert d.label in ("animal", "person", "vehicle") and not d.is_deer  # species is the classifier's
        for t in truth:
            total += 1
            hits += any(box_iou(t["box"], d.xyxy(*img.size)) >= 0.5 for d in dets)
    assert total > 30 and hits / total >= 0.75, f"recall {hits}/{total}"


def test_detector_handles_mixed_sizes_and_empty_batch(detector, scenes):
    small = np.asarray(scenes[0][0].resize((480, 270)))
    big, truth = np.asarray(scenes[0][0]), scenes[0][1]
    out = detector.detect([big, small])
    assert len(out) == 2 and detector.detect([]) == []
    if truth and out[1]:  # the same subject, found at half the size: the same normalised box
        assert any(box_iou(d.box, e.box) > 0.5 for d in out[1] for e in out[0])


def test_detector_labels_mean_what_the_class_map_says(detector_weights, scenes):
    seeds_like = ClassMap({"deer": {"deer": True}, "human": {"type": "human"}},
                          {"animal": {"species": "deer", "deer_class": "doe", "sex": "female"},
                           "person": {"species": "human"}})
    images = [np.asarray(img) for img, _ in scenes[:10]]
    dets = [d for ds in Detector(detector_weights, class_map=seeds_like).detect(images) for d in ds]
    animals = [d for d in dets if d.label == "animal"]
    assert animals and all(d.deer_class == "doe" and d.sex == "female" and d.species == "deer" for d in animals)
    assert all(not d.is_deer for d in dets if d.label != "animal")


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
    assert emb.embed([img, img[10:40, 10:40]]).shape == (2, 32)


def test_timm_embedder_architecture(tmp_path):
    """The field's re-ID models are timm models (MegaDescriptor is a timm Swin): built from the name."""
    torch.manual_seed(0)
    model = build_backbone("timm/resnet10t", 24).eval()
    torch.save({"arch": "timm/resnet10t", "dim": 24, "input_size": 64, "state_dict": model.state_dict()},
               tmp_path / "t.pt")
    emb = Embedder(tmp_path / "t.pt")
    out = emb.embed([np.full((40, 60, 3), 90, np.uint8), np.zeros((64, 64, 3), np.uint8)])
    assert out.shape == (2, 24) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)


# ---------------------------------------------------------------- describe (what the driver needs)

def test_describe_remembers_by_content(detector, embedder, detector_weights, tmp_path, monkeypatch):
    from models.describe import describe_detector, describe_embedder

    embedder_weights = ensure_demo_embedder()  # before the cache moves: else it is trained again there
    monkeypatch.setenv("THUMPER_CACHE_DIR", str(tmp_path))
    info = describe_detector(detector_weights)
    assert info.imgsz == detector.imgsz and info.sha256 == F.file_sha256(detector_weights)
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
    # the detector's compute comes with it (what sizes a CPU batch before any run timed it), scaled
    # with the pixels at another input size; a memo from before it was asked for is asked again
    assert info.gflops > 0 and describe_detector(detector_weights).gflops == info.gflops
    assert info.gflops_at(2 * info.imgsz) == pytest.approx(4 * info.gflops)
    memo.write_text(json.dumps({"sha256": info.sha256, "imgsz": 999}))
    assert describe_detector(detector_weights).imgsz == detector.imgsz
    assert json.loads(memo.read_text())["gflops"] == info.gflops


def test_a_box_inside_a_more_confident_one_is_part_of_that_animal():
    from models.detector import suppress_contained

    doe = Detection((0.1, 0.1, 0.5, 0.6), 0.9, "animal")
    head = Detection((0.35, 0.1, 0.5, 0.3), 0.5, "animal")  # wholly inside the doe: dropped
    fawn = Detection((0.4, 0.3, 0.7, 0.6), 0.6, "animal")  # overlaps her, beside her: kept
    person = Detection((0.2, 0.2, 0.3, 0.4), 0.4, "person", observation_type="human")  # another kind: kept
    kept = suppress_contained([head, fawn, doe, person])
    assert kept == [doe, fawn, person]
