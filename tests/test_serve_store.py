"""The store side of the online API, without models: profile assignment rules and the read
queries' filters."""
from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest

from models.types import Detection, PhotoResult
from store import ImageRecord
from store import queries
from store.profiles import as_array


def _unit(*v) -> np.ndarray:
    x = np.zeros(8, np.float32)
    x[: len(v)] = v
    return x / np.linalg.norm(x)


def _photo(store, run_id, name, dets, taken=datetime(2024, 10, 1, 6), location="Hayfield") -> int:
    """One image with detections [(embedding, sex)], written and assigned as an upload would be."""
    (image_id,) = store.add_images([ImageRecord(name, f"/x/{name}", location, taken, "exif")]).image_ids
    store.claim_pending(run_id, [image_id])
    rows = [Detection((0.1 * k, 0.1, 0.1 * k + 0.1, 0.3), 0.9, "doe", species="deer", deer_class="doe" if sex == "female" else "buck", sex=sex, age_class=None, embedding=emb) for k, (emb, sex) in enumerate(dets)]
    with store.transaction():
        store.write_results(run_id, [PhotoResult(image_id, width=10, height=10, detections=rows)],
                            detector_version="d", embedder_version="e")
        return image_id, store.assign_to_profiles(image_id, 0.5, run_id)


@pytest.fixture
def run(store):
    return store.start_run("serve")


def test_nearest_profile_within_threshold_else_provisional(store, run):
    _, (a,) = _photo(store, run, "1", [(_unit(1, 0), "female")])
    assert a.created
    _, (b,) = _photo(store, run, "2", [(_unit(1, 0.1), "female")])
    assert not b.created and b.deer_id == a.deer_id and b.distance < 0.01
    _, (c,) = _photo(store, run, "3", [(_unit(0, 1), "female")])  # orthogonal: distance 1 > 0.5
    assert c.created
    sightings, status, centroid = store.conn.execute(
        "SELECT sightings, status, centroid FROM deer WHERE id = %s", (a.deer_id,)).fetchone()
    assert sightings == 2 and status == "provisional"
    np.testing.assert_allclose(as_array(centroid), (_unit(1, 0) + _unit(1, 0.1)) / 2, rtol=1e-5)


def test_sex_and_same_photo_constraints(store, run):
    _, (doe,) = _photo(store, run, "1", [(_unit(1, 0), "female")])
    _, (buck,) = _photo(store, run, "2", [(_unit(1, 0), "male")])
    assert buck.created and buck.deer_id != doe.deer_id  # never a male onto a female profile
    _, (unknown,) = _photo(store, run, "3", [(_unit(1, 0), "unknown")])
    assert not unknown.created
    _, (x, y) = _photo(store, run, "4", [(_unit(1, 0), "female"), (_unit(1, 0), "female")])
    assert x.deer_id != y.deer_id  # two deer in one photo are two animals


def test_read_filters(store, run):
    _photo(store, run, "1", [(_unit(1, 0), "female")], taken=datetime(2024, 1, 5))
    _photo(store, run, "2", [(_unit(0, 1), "male")], taken=datetime(2024, 7, 5), location="Sanctuary")
    f = queries.Filters
    p = queries.Page(10, 0)
    assert store.browse.list_images(f(), p)["total"] == 2
    assert store.browse.list_images(f(season="winter"), p)["total"] == 1
    assert store.browse.list_images(f(date_from=date(2024, 7, 5), date_to=date(2024, 7, 5)), p)["total"] == 1
    assert store.browse.list_images(f(location="Sanctuary", deer_class="buck"), p)["total"] == 1
    assert store.browse.list_deer(f(location="Hayfield"), p)["total"] == 1
    assert store.browse.list_detections(f(season="summer"), p)["total"] == 1
    assert store.browse.processing_status()["images"]["completed"] == 2
