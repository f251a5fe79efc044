"""The second model stage and the inference core: classifiers loaded every way the field ships
them, crops cut from the photo itself (EXIF orientation honoured), and detector -> classifier ->
embedder as one object, on the demo weights and on real camera-trap photos."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from models import weights as W
from models.classes import ClassMap
from models.classifier import Classifier, ClassifierLoadError
from models.crops import CROP_VERSION, cut_crops, square_region
from models.images import PhotoRefused, identify
from models.inference import CropModels, InferenceCore, classify_detections
from models.letterbox import letterbox
from models.recipes.shapes import build_timm_classifier, build_ultralytics_classifier
from models.types import Detection

REAL = Path(__file__).resolve().parents[2] / "shared" / "photos" / "real"
LABELS = ["doe", "fawn", "buck_mature", "cow", "raccoon", "person"]


def _crops(n=3, size=(70, 50)):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (*size[::-1], 3), dtype=np.uint8) for _ in range(n)]


# ---------------------------------------------------------------- loading

def test_timm_checkpoint_and_manifest_with_safetensors(tmp_path):
    from safetensors.torch import save_file

    ckpt_path = build_timm_classifier(tmp_path / "tiny.pt", LABELS, input_size=64)
    a = Classifier(ckpt_path)
    assert a.labels == LABELS and a.input_size == 64 and a.version.startswith("tiny@")
    p = a.classify(_crops())
    assert p.shape == (3, len(LABELS)) and np.allclose(p.sum(1), 1, atol=1e-5)
    # the way published timm classifiers ship: a manifest naming the architecture, weights and labels
    state = torch.load(ckpt_path, weights_only=True)["state_dict"]
    save_file(state, str(tmp_path / "weights.safetensors"))
    (tmp_path / "tiny.yaml").write_text(json.dumps({"arch": "resnet10t", "weights": "weights.safetensors",
                                                    "labels": LABELS, "input_size": 64}))
    b = Classifier(tmp_path / "tiny.yaml")
    assert b.labels == LABELS and np.allclose(b.classify(_crops()), p, atol=1e-5)
    (tmp_path / "broken.yaml").write_text("arch: resnet10t\n")
    with pytest.raises(ClassifierLoadError, match="arch, weights and labels"):
        Classifier(tmp_path / "broken.yaml")


def test_ultralytics_cls_weights(tmp_path):
    path = build_ultralytics_classifier(tmp_path / "seeds-cls.pt", LABELS)
    c = Classifier(path)
    assert c.labels == LABELS and c.input_size == 64
    p = c.classify(_crops(4, (90, 40)))
    assert p.shape == (4, len(LABELS)) and np.allclose(p.sum(1), 1, atol=1e-3)


def test_torchscript_classifier(tmp_path):
    eager = Classifier(build_timm_classifier(tmp_path / "e.pt", LABELS, input_size=48))
    traced = torch.jit.trace(eager.model, torch.zeros(1, 3, 48, 48))
    torch.jit.save(traced, str(tmp_path / "ts.pt"),
                   _extra_files={"meta.json": json.dumps({"labels": LABELS, "input_size": 48})})
    ts = Classifier(tmp_path / "ts.pt")
    assert ts.labels == LABELS and np.allclose(ts.classify(_crops()), eager.classify(_crops()), atol=1e-4)


def test_a_detector_or_junk_is_not_a_classifier(tmp_path, demo_weights):
    with pytest.raises(ClassifierLoadError, match="detect model, not a classifier"):
        Classifier(demo_weights.detector)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(ClassifierLoadError, match="not a classifier this project loads"):
        Classifier(junk)


def test_known_classifier_by_name_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("THUMPER_CACHE_DIR", str(tmp_path))
    with pytest.raises(W.WeightsNotFound) as e:
        W.resolve_classifier("deepfaune-new-england", download=False)
    msg = str(e.value)
    assert "dfne_weights_v1_0.pth" in msg and "CC0-1.0" in msg and "--classifier PATH" in msg
    assert W.KNOWN_CLASSIFIERS["deepfaune-new-england"].url.startswith("https://")
    with pytest.raises(W.WeightsNotFound, match="--classifier none"):
        W.resolve_classifier("no-such-classifier")


def test_known_classifier_manifest_loads_its_weights(tmp_path, monkeypatch):
    """Once the file is in the cache (downloaded elsewhere and copied there), the registry's
    manifest loads it: here a small timm model stands in for the ViT-L, under the real file name."""
    monkeypatch.setenv("THUMPER_CACHE_DIR", str(tmp_path))
    import timm

    labels = W.DFNE_LABELS
    model = timm.create_model("resnet10t", pretrained=False, num_classes=len(labels))
    (tmp_path / "weights").mkdir()
    torch.save({"model_state_dict": model.state_dict()}, tmp_path / "weights" / "dfne_weights_v1_0.pth")
    monkeypatch.setitem(W.KNOWN_CLASSIFIER_MANIFESTS, "deepfaune-new-england",
                        {**W.KNOWN_CLASSIFIER_MANIFESTS["deepfaune-new-england"], "arch": "resnet10t"})
    manifest = W.resolve_classifier("deepfaune-new-england")
    c = Classifier(manifest)
    assert c.labels == labels and c.input_size == 182 and c.classify(_crops(1)).shape == (1, 24)
    cm = ClassMap.load()
    assert all(label in cm for label in labels), [label for label in labels if label not in cm]


# ---------------------------------------------------------------- the classifier's word

def test_species_is_the_one_holding_most_probability():
    cm = ClassMap.load()
    labels = ["doe", "buck_mid", "buck_young", "cow", "raccoon"]
    det = Detection((0.1, 0.1, 0.3, 0.3), 0.8, "animal")
    # cow is the single most probable label, but deer labels hold more together
    (d,) = classify_detections([det], np.array([[0.2, 0.15, 0.15, 0.4, 0.1]]), labels, "c@1", cm)
    assert d.species == "deer" and d.is_deer and d.species_confidence == pytest.approx(0.5)
    assert (d.class_label, d.deer_class, d.sex) == ("doe", "doe", "female") and d.classifier_version == "c@1"
    assert d.label == "animal" and d.confidence == 0.8, "the detector's word is kept beside it"
    assert d.probs == {"doe": 0.2, "buck_mid": 0.15, "buck_young": 0.15, "cow": 0.4, "raccoon": 0.1}
    (c,) = classify_detections([det], np.array([[0.1, 0.1, 0.05, 0.7, 0.05]]), labels, "c@1", cm)
    assert c.species == "cattle" and not c.is_deer and c.deer_class is None and c.sex is None


# ---------------------------------------------------------------- crops

def test_square_region_with_margin_stays_in_the_photo():
    x1, y1, x2, y2 = square_region((0.4, 0.4, 0.5, 0.6), 1000, 500, margin=0.1)
    assert x2 - x1 == pytest.approx(y2 - y1) == pytest.approx(100 * 1.2)  # longer side 100 px + margins
    assert (x1 + x2) / 2 == pytest.approx(450) and (y1 + y2) / 2 == pytest.approx(250)
    x1, y1, x2, y2 = square_region((0.0, 0.0, 0.05, 0.2), 1000, 500)  # a corner: shifted inside
    assert x1 == 0 and y1 == 0 and x2 - x1 == pytest.approx(y2 - y1)


def test_crops_come_from_the_photo_at_full_detail(tmp_path):
    """A 1920x1080 photo with a fine pattern in a small box: the crop keeps the pattern, which the
    detector's 160 px letterbox would have averaged away."""
    photo = np.full((1080, 1920, 3), 90, np.uint8)
    photo[500:580, 900:980] = 0
    photo[500:580:2, 900:980] = 255  # 1-px stripes
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "PNG")
    (crop,) = cut_crops(buf.getvalue(), [(900 / 1920, 500 / 1080, 980 / 1920, 580 / 1080)], 128, margin=0)
    assert crop.shape == (128, 128, 3)
    assert crop.std() > 60, "stripes survive"
    square, at = letterbox(buf.getvalue(), 160)
    y = at.pad_y + int(500 * at.scale)
    assert square[y + 2:y + 10, 76:81].std() < 40, "the letterboxed input has lost them"


def test_rotated_photo_boxes_and_crops_line_up():
    """EXIF orientation 6 (stored 1536x2048): decoded, boxed and cropped as viewed, equal to the
    same scene stored upright."""
    upright = (REAL / "african_elephants.jpg").read_bytes()
    rotated = (REAL / "african_elephants_with_exif_orientation.jpg").read_bytes()
    with Image.open(io.BytesIO(upright)) as u, Image.open(io.BytesIO(rotated)) as r:
        assert r.size == u.size[::-1], "stored rotated"
        assert identify(io.BytesIO(rotated))[1:] == identify(io.BytesIO(upright))[1:] == u.size
    sq_u, at_u = letterbox(upright, 320)
    sq_r, at_r = letterbox(rotated, 320)
    assert (at_r.width, at_r.height) == (at_u.width, at_u.height)
    assert np.abs(sq_u.astype(int) - sq_r.astype(int)).mean() < 8
    box = (0.3, 0.35, 0.6, 0.7)
    (cu,), (cr,) = cut_crops(upright, [box], 96), cut_crops(rotated, [box], 96)
    assert np.abs(cu.astype(int) - cr.astype(int)).mean() < 10


@pytest.mark.parametrize("name", ["african_elephants_cmyk.jpg", "african_elephants_bw.jpg", "blank2.jpg",
                                  "ocelot.jpg", "human.jpg"])
def test_real_photo_variants_decode_and_crop(name):
    data = (REAL / name).read_bytes()
    fmt, w, h = identify(io.BytesIO(data))
    square, at = letterbox(data, 320)
    longer = max(square.shape[:2])
    assert longer == 320 and square.shape[0] % 32 == square.shape[1] % 32 == 0 and (at.width, at.height) == (w, h)
    crops = cut_crops(data, [(0.1, 0.1, 0.3, 0.4), (0.5, 0.5, 0.9, 0.95)], 128)
    assert [c.shape for c in crops] == [(128, 128, 3)] * 2 and all(c.std() > 1 for c in crops)


def test_truncated_real_photo_fails_alone_with_a_clear_message():
    data = (REAL / "african_elephants_truncated_file.jpg").read_bytes()
    with pytest.raises(OSError, match="truncated"):
        letterbox(data, 320)


def test_mpo_is_a_jpeg_and_gif_is_refused_the_same_way_everywhere(tmp_path):
    """Bushnell cameras write MPO (a JPEG with an embedded preview): accepted as a JPEG."""
    with Image.open(REAL / "domestic_cattle.jpg") as im:
        big = im.convert("RGB").resize((1920, 1080))
    preview = big.resize((640, 360))
    buf = io.BytesIO()
    big.save(buf, "MPO", save_all=True, append_images=[preview])
    assert identify(io.BytesIO(buf.getvalue())) == ("MPO", 1920, 1080)
    square, at = letterbox(buf.getvalue(), 160)
    assert (at.width, at.height) == (1920, 1080)
    gif = io.BytesIO()
    big.save(gif, "GIF")
    with pytest.raises(PhotoRefused, match="unsupported image type GIF: only JPEG and PNG are accepted"):
        identify(io.BytesIO(gif.getvalue()))


# ---------------------------------------------------------------- the core

@pytest.fixture(scope="module")
def core(demo_weights):
    from models.detector import Detector
    from models.embedder import Embedder

    return InferenceCore(Detector(demo_weights.detector), Classifier(demo_weights.classifier),
                         Embedder(demo_weights.embedder))


def _scene_bytes(subjects, seed=5):
    from models.recipes.embedder import encode
    from models.synthetic import place_group, render_scene

    rng = np.random.default_rng(seed)
    img, truth = render_scene(rng, (960, 540), list(zip(subjects, place_group(rng, (960, 540), subjects))),
                              background_seed=seed)
    return encode(img), truth


def test_core_turns_photos_into_typed_results(core):
    from models.synthetic import DeerSpec, OtherSpec

    deer_photo, _ = _scene_bytes([DeerSpec("buck", "mature", "core-buck")], seed=5)
    cow_photo, _ = _scene_bytes([OtherSpec("cow", "core-cow")], seed=6)
    results = core([(1, deer_photo), (2, b"not a photo"), (3, cow_photo)])
    assert [r.image_id for r in results] == [1, 2, 3]
    assert results[1].error.startswith("cannot decode image") and not results[1].detections
    buck, cow = results[0], results[2]
    assert (buck.width, buck.height) == (960, 540)
    assert buck.deer and all(d.embedding is not None and d.embedding.shape == (128,) for d in buck.deer)
    assert any(d.deer_class == "buck" for d in buck.deer)
    d = buck.deer[0]
    assert d.crop_version == CROP_VERSION and d.classifier_version == core.versions["classifier"]
    assert d.detector_version == core.versions["detector"] and d.embedder_version == core.versions["embedder"]
    assert cow.detections and not cow.deer, "a cow is kept, labelled, and not a deer"
    assert cow.detections[0].species == "cattle" and cow.detections[0].embedding is None


def test_crop_models_without_a_classifier_keep_the_detector_labels(demo_weights):
    from models.embedder import Embedder

    photo, _ = _scene_bytes([], seed=7)
    dets = [Detection((0.1, 0.1, 0.4, 0.5), 0.9, "doe", species="deer", deer_class="doe", sex="female"),
            Detection((0.5, 0.1, 0.7, 0.5), 0.9, "animal")]
    out = CropModels(None, Embedder(demo_weights.embedder)).describe(photo, dets)
    assert out[0].embedding is not None and out[0].classifier_version is None
    assert out[1].embedding is None and out[1].species == "animal", "an unidentified animal is not a deer"
