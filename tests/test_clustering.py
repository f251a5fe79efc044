import itertools

import numpy as np
import pytest

from pipelines.clustering import (
    ClusterSettings,
    assign_to_profiles,
    centroids,
    cluster_detections,
    pairwise_precision_recall,
)

ONE = ClusterSettings(min_sightings=1)


def unit(*v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def identities(n_ids, per_id, dim=32, noise=0.25, seed=0):
    """Orthogonal-ish random centres + small noise; one detection per photo."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_ids, dim))
    truth = np.repeat(np.arange(n_ids), per_id)
    x = centres[truth] / np.linalg.norm(centres[truth], axis=1, keepdims=True)
    x = x + rng.standard_normal(x.shape) * noise / np.sqrt(dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    order = rng.permutation(len(truth))
    return x[order].astype(np.float32), truth[order]


def unknown(n):
    return np.array(["unknown"] * n)


# ------------------------------------------------------------- hard constraints


def test_same_photo_never_merged_even_with_identical_embeddings():
    x = np.tile(unit(1, 0, 0), (6, 1))
    photos = np.array([7, 7, 7, 8, 8, 9])
    labels = cluster_detections(x, photos, unknown(6), settings=ONE)
    for p in np.unique(photos):
        in_photo = labels[photos == p]
        assert len(set(in_photo.tolist())) == len(in_photo)
    assert len(set(labels.tolist())) == 3  # three animals are enough to explain it


def test_female_and_male_never_merged_unknown_takes_a_side():
    x = np.tile(unit(0, 1, 0), (4, 1))
    sexes = np.array(["female", "male", "unknown", "unknown"])
    labels = cluster_detections(x, np.arange(4), sexes, settings=ONE)
    assert labels[0] != labels[1]
    assert {labels[2], labels[3]} <= {labels[0], labels[1]}


def test_cannot_link_honoured_for_identical_embeddings():
    x = np.tile(unit(1, 1, 0), (4, 1))
    labels = cluster_detections(x, np.arange(4), unknown(4), cannot_link=[[0, 3]], settings=ONE)
    assert labels[0] != labels[3]
    assert {labels[1], labels[2]} <= {labels[0], labels[3]}


def test_must_link_joins_dissimilar_detections():
    x = np.stack([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])
    labels = cluster_detections(x, np.arange(3), unknown(3), must_link=[[0, 1]], settings=ONE)
    assert labels[0] == labels[1] != labels[2]


def test_cannot_link_beats_must_link_and_must_links_apply_in_order():
    x = np.stack([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])
    labels = cluster_detections(
        x, np.arange(3), unknown(3), must_link=[[0, 1], [1, 2]], cannot_link=[[0, 2]], settings=ONE
    )
    assert labels[0] == labels[1]
    assert labels[2] != labels[0]
    direct = cluster_detections(x[:2], [0, 1], unknown(2), [[0, 1]], [[1, 0]], ONE)
    assert direct[0] != direct[1]


def test_must_link_never_breaks_photo_or_sex_constraint():
    x = np.stack([unit(1, 0), unit(0, 1), unit(1, 1)])
    labels = cluster_detections(
        x, np.array([1, 1, 2]), np.array(["unknown", "unknown", "unknown"]), [[0, 1]], settings=ONE
    )
    assert labels[0] != labels[1]
    labels = cluster_detections(x[:2], [1, 2], np.array(["female", "male"]), [[0, 1]], settings=ONE)
    assert labels[0] != labels[1]


def test_all_constraints_hold_when_threshold_wants_to_merge_everything():
    rng = np.random.default_rng(3)
    n_ids, n = 6, 600
    truth = rng.integers(0, n_ids, n)
    # Few crowded photos: many same-photo detections, each animal once per photo.
    photos = np.empty(n, dtype=np.int64)
    next_photo = 0
    for i in range(n):
        photos[i] = next_photo
        if rng.random() < 0.4:
            next_photo += 1
    for p in np.unique(photos):  # an animal appears at most once in a photo
        idx = np.flatnonzero(photos == p)
        _, first = np.unique(truth[idx], return_index=True)
        dup = np.setdiff1d(np.arange(len(idx)), first)
        photos[idx[dup]] = 10_000 + idx[dup]
    id_sex = rng.choice(["female", "male"], n_ids)
    sexes = np.where(rng.random(n) < 0.5, id_sex[truth], "unknown")
    x = rng.standard_normal((n_ids, 16))[truth] + rng.standard_normal((n, 16))
    must = [(a, b) for a, b in rng.integers(0, n, (400, 2)) if truth[a] == truth[b] and a != b]
    cannot = [(a, b) for a, b in rng.integers(0, n, (400, 2)) if truth[a] != truth[b]]
    settings = ClusterSettings(max_distance=1.5, min_sightings=1, exact_search_limit=100)
    labels = cluster_detections(x, photos, sexes, must, cannot, settings)

    assert labels.min() >= 0
    for c in np.unique(labels):
        members = labels == c
        assert len(np.unique(photos[members])) == members.sum()
        assert len(set(sexes[members].tolist()) - {"unknown"}) <= 1
    assert all(labels[a] == labels[b] for a, b in must)
    assert all(labels[a] != labels[b] for a, b in cannot)


# ------------------------------------------------------------------ quality


@pytest.mark.parametrize("exact_search_limit", [5_000, 50])  # exact and inverted-file search
def test_well_separated_identities_recovered(exact_search_limit):
    x, truth = identities(n_ids=25, per_id=24)
    settings = ClusterSettings(exact_search_limit=exact_search_limit)
    labels = cluster_detections(x, np.arange(len(x)), unknown(len(x)), settings=settings)
    precision, recall = pairwise_precision_recall(truth, labels)
    assert precision >= 0.99 and recall >= 0.99
    assert labels.max() + 1 == 25


def test_min_sightings_marks_small_clusters_as_noise_and_numbers_by_first_appearance():
    x = np.stack([unit(0, 1, 0)] * 2 + [unit(1, 0, 0)] * 3 + [unit(0, 0, 1)] * 4)
    labels = cluster_detections(x, np.arange(9), unknown(9), settings=ClusterSettings(min_sightings=3))
    assert labels.tolist() == [-1, -1, 0, 0, 0, 1, 1, 1, 1]


def test_empty_input_and_bad_link_index():
    assert cluster_detections(np.zeros((0, 8)), [], []).shape == (0,)
    with pytest.raises(ValueError):
        cluster_detections(np.eye(2), [0, 1], unknown(2), must_link=[[0, 2]])


# ------------------------------------------------------------------ metrics


@pytest.mark.parametrize(
    "truth, pred, expected",
    [
        ([0, 0, 1, 1], [0, 0, 0, 0], (2 / 6, 1.0)),
        ([0, 0, 1, 1], [0, 1, 2, 3], (1.0, 0.0)),
        ([0, 0, 0, 1], [0, 0, 1, 1], (0.5, 1 / 3)),
        ([0, 0, 0, 0], [-1, -1, 5, 5], (1.0, 1 / 6)),  # -1 are singletons, not a cluster
        ([3, 3, 7], [1, 1, 2], (1.0, 1.0)),
    ],
)
def test_pairwise_precision_recall_hand_cases(truth, pred, expected):
    assert pairwise_precision_recall(truth, pred) == pytest.approx(expected)


def test_pairwise_precision_recall_matches_brute_force():
    rng = np.random.default_rng(1)
    truth, pred = rng.integers(-1, 5, 60), rng.integers(-1, 7, 60)
    same_t = same_p = both = 0
    for a, b in itertools.combinations(range(60), 2):
        t = truth[a] == truth[b] != -1
        p = pred[a] == pred[b] != -1
        same_t, same_p, both = same_t + t, same_p + p, both + (t and p)
    assert pairwise_precision_recall(truth, pred) == pytest.approx((both / same_p, both / same_t))


# ------------------------------------------------------- profiles and assignment


def test_centroids_skip_noise_and_are_normalised():
    x = np.stack([unit(1, 0), unit(1, 1), unit(0, 1), unit(-1, 0)])
    values, c = centroids(x, np.array([2, 2, 0, -1]))
    assert values.tolist() == [0, 2]
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(c[1], unit(1 + 2**-0.5, 2**-0.5), rtol=1e-6)


def test_assign_to_profiles_thresholds():
    profiles = np.stack([unit(1, 0, 0), unit(0, 1, 0)])
    close = unit(1, 0.1, 0)  # distance ~0.005 to profile 0
    inside = unit(0.55, 0, (1 - 0.55**2) ** 0.5)  # distance 0.45 to profile 0
    outside = unit(0.45, 0, (1 - 0.45**2) ** 0.5)  # distance 0.55
    idx, dist = assign_to_profiles(np.stack([close, inside, outside]), profiles, max_distance=0.5)
    assert idx.tolist() == [0, 0, -1]
    np.testing.assert_allclose(dist, [1 - close[0], 0.45, 0.55], atol=1e-5)

    idx, dist = assign_to_profiles(unit(0, 1, 0), profiles, 0.5)  # single (d,) embedding
    assert idx.tolist() == [1] and dist.shape == (1,)
    idx, dist = assign_to_profiles(np.stack([close]), np.zeros((0, 3)), 0.5)
    assert idx.tolist() == [-1] and np.isinf(dist).all()


def test_assign_with_raw_means_is_mean_distance_to_members():
    x, truth = identities(n_ids=3, per_id=5, dim=8, noise=1.0)
    values, means = centroids(x, truth, normalise=False)
    new = unit(*np.ones(8))
    idx, dist = assign_to_profiles(new, means, max_distance=2.0)
    mean_dist = [np.mean(1 - x[truth == v] @ new) for v in values]
    assert idx[0] == int(np.argmin(mean_dist))
    assert dist[0] == pytest.approx(min(mean_dist), abs=1e-5)
