"""Re-identification: cluster deer detection embeddings into individual animals.

Pure numpy. Embeddings are L2-normalised, so cosine distance = 1 - dot product.

Algorithm (constrained, greedy average-linkage agglomeration):
1. cannot-links are recorded, then must-links (burst tracks, user merges) are
   union-found into groups, each dropped if it would break a hard constraint;
2. each round, the current clusters' normalised centroids get candidate
   neighbour pairs from a top-k search (exact in blocks for small inputs, an
   inverted-file index above ``exact_search_limit``) limited to
   ``max_distance``;
3. pairs are visited by increasing distance and merged when the two clusters'
   *current* average-linkage distance (mean cosine distance over all
   cross-cluster detection pairs = 1 - mean_a . mean_b, O(d) from running
   sums) is within ``max_distance`` and no hard constraint is broken; rounds
   repeat on the merged clusters until nothing merges.
   Why average linkage and not cosine between *normalised* centroids: a merged
   centroid drifts toward the "generic deer" direction shared by all animals
   and then attracts its neighbours; on the 100k benchmark that chained up to
   16 animals into one cluster (pairwise precision 0.43 vs 1.00).
4. clusters with fewer than ``min_sightings`` detections become -1.

Hard constraints, checked with per-cluster sets merged small-to-large:
- two detections of the same photo are never in one cluster;
- female and male never meet; an unknown-sex cluster takes the first known
  sex it merges with and from then on refuses the other;
- cannot-link pairs are never together;
- must-link pairs are always together, except when joining them would break
  one of the constraints above: a user's "not this deer" (or a photo/sex
  conflict) is stronger evidence than a track link or an earlier merge, so the
  must-link is dropped. Must-links are applied in the order given.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.settings import default

UNKNOWN, FEMALE, MALE = 0, 1, 2
_BLOCK_ELEMENTS = 1 << 23  # similarity block size (32 MB float32): bounded memory


@dataclass(frozen=True)
class ClusterSettings:
    """Clustering knobs.

    max_distance=0.5: largest mean cosine distance (1 - cos) between two
        clusters' detections for them to be one animal. Same default as
        Immich's face clustering ``maxDistance``, and for two single
        detections it means the same thing (cos >= 0.5). Because it is a
        mean over all pairs it does not chain the way single linkage does,
        but it must sit above the model's typical same-animal distance (pose,
        light, season): a split animal is fixable by a user merge, a merged
        pair silently corrupts the census, so the default leans to precision.
        It depends on the embedding model: tune it with
        ``pairwise_precision_recall`` on labelled data.
    min_sightings=3: like Immich's ``minFaces``, a profile needs repeated
        evidence; one or two detections are too often a bad crop, a
        mis-embedded pose or a passer-by, and users should not have to wade
        through them. They stay -1 and can still join a profile later via
        ``assign_to_profiles``. Note a burst can supply 3 sightings at once.
    neighbours=16: candidate pairs per cluster per round. A kNN graph with
        k ~ log(n) is connected within an identity, and later rounds (on
        merged clusters) recover pairs a round missed.
    max_rounds=8: rounds stop early once nothing merges (usually 3-4).
    exact_search_limit=5000: below this many clusters, neighbours are exact
        (blocked matrix products); above, an inverted-file index (spherical
        k-means cells, ``probe_cells`` nearest cells searched) keeps 100k
        detections fast on 2 cores.
    """

    max_distance: float = default("max_distance")
    min_sightings: int = 3
    neighbours: int = 16
    max_rounds: int = 8
    exact_search_limit: int = 5_000
    probe_cells: int = 8
    seed: int = 0


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _sex_codes(sexes) -> list[int]:
    s = np.asarray(sexes).astype(str)
    return np.where(s == "female", FEMALE, np.where(s == "male", MALE, UNKNOWN)).tolist()


# ---------------------------------------------------------------- neighbours


def _spherical_kmeans(x: np.ndarray, k: int, seed: int, iters: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sample = x[rng.choice(len(x), min(len(x), 32 * k), replace=False)]
    centres = sample[rng.choice(len(sample), k, replace=False)].copy()
    for _ in range(iters):
        nearest = np.argmax(sample @ centres.T, axis=1)
        sums = np.zeros_like(centres)
        np.add.at(sums, nearest, sample)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centres = np.where(norms > 0, sums / np.maximum(norms, 1e-12), centres)  # keep empty cells
    return centres


def _search_blocks(units: np.ndarray, settings: ClusterSettings):
    """Yield (queries, candidates, column of each query within candidates)."""
    n = len(units)
    everyone = np.arange(n)
    if n <= settings.exact_search_limit:
        yield everyone, everyone, everyone
        return
    n_cells = int(np.sqrt(n))
    centres = _spherical_kmeans(units, n_cells, settings.seed)
    cell = np.concatenate(
        [np.argmax(units[s : s + 8192] @ centres.T, axis=1) for s in range(0, n, 8192)]
    )
    order = np.argsort(cell, kind="stable")
    bounds = np.searchsorted(cell[order], np.arange(n_cells + 1))
    members = [order[bounds[c] : bounds[c + 1]] for c in range(n_cells)]
    cell_sim = centres @ centres.T
    np.fill_diagonal(cell_sim, np.inf)  # a cell always searches itself
    probes = np.argsort(-cell_sim, axis=1)[:, : settings.probe_cells]
    for c in range(n_cells):
        if len(members[c]):  # probes[c][0] == c, so the queries lead the candidates
            yield members[c], np.concatenate([members[p] for p in probes[c]]), np.arange(len(members[c]))


def _neighbour_pairs(units: np.ndarray, settings: ClusterSettings):
    """Deduplicated candidate pairs (i, j, distance), i < j, sorted by distance."""
    n, k = len(units), settings.neighbours
    min_sim = np.float32(1.0 - settings.max_distance)
    found_i, found_j, found_sim = [], [], []
    for queries, candidates, self_cols in _search_blocks(units, settings):
        candidate_vecs = units[candidates]
        step = max(1, _BLOCK_ELEMENTS // len(candidates))
        for s in range(0, len(queries), step):
            q = queries[s : s + step]
            sim = units[q] @ candidate_vecs.T
            sim[np.arange(len(q)), self_cols[s : s + step]] = -np.inf
            within = sim >= min_sim
            # Rows with <= k pairs in range keep them all (cheap, usual case);
            # only crowded rows pay for a top-k partition.
            crowded = within.sum(axis=1) > k
            r, c = np.nonzero(within[~crowded])
            r = np.flatnonzero(~crowded)[r]
            if crowded.any():
                rows = np.flatnonzero(crowded)
                top = np.argpartition(sim[rows], -k, axis=1)[:, -k:]
                r = np.concatenate([r, np.repeat(rows, k)])
                c = np.concatenate([c, top.ravel()])
            found_i.append(q[r])
            found_j.append(candidates[c])
            found_sim.append(sim[r, c])
    if not found_i:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    i, j, sim = np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_sim)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    _, first = np.unique(lo.astype(np.int64) * n + hi, return_index=True)
    lo, hi, dist = lo[first], hi[first], 1.0 - sim[first]
    order = np.argsort(dist, kind="stable")
    return lo[order], hi[order], dist[order]


# ------------------------------------------------------------ cluster state


class _Clusters:
    """Union-find over detections with per-root constraint sets and centroid sums."""

    def __init__(self, embeddings, photo_ids, sex_codes, cannot_link):
        n = len(embeddings)
        self.parent = list(range(n))
        self.size = [1] * n
        self.sums = embeddings.astype(np.float64)
        self.photos = [{p} for p in photo_ids]
        self.sex = sex_codes
        self.forbidden: dict[int, set[int]] = {}  # root -> detections it may never join
        for a, b in cannot_link:
            if a != b:
                self.forbidden.setdefault(a, set()).add(b)
                self.forbidden.setdefault(b, set()).add(a)
        self.known_conflicts: set[tuple[int, int]] = set()  # conflicts only grow with clusters

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression
            parent[i], i = root, parent[i]
        return root

    def distance(self, a: int, b: int) -> float:
        """Average linkage: mean cosine distance over all cross-cluster detection pairs."""
        return 1.0 - float(self.sums[a] @ self.sums[b]) / (self.size[a] * self.size[b])

    def compatible(self, a: int, b: int) -> bool:
        key = (a, b) if a < b else (b, a)
        if key in self.known_conflicts:
            return False
        ok = (
            not (self.sex[a] and self.sex[b] and self.sex[a] != self.sex[b])
            and self.photos[a].isdisjoint(self.photos[b])
            and not self._cannot_link(a, b)
        )
        if not ok:
            self.known_conflicts.add(key)
        return ok

    def _cannot_link(self, a: int, b: int) -> bool:
        fa, fb = self.forbidden.get(a), self.forbidden.get(b)
        if not fa and not fb:
            return False
        # Forbidden sets are symmetric, so scanning the smaller one suffices.
        if not fa or (fb and len(fb) < len(fa)):
            fa, b = fb, a
        return any(self.find(x) == b for x in fa)

    def merge(self, a: int, b: int) -> int:
        if self.size[a] < self.size[b]:
            a, b = b, a  # small-to-large: the bigger cluster's sets absorb the smaller
        self.parent[b] = a
        self.size[a] += self.size[b]
        self.sums[a] += self.sums[b]
        self.photos[a] |= self.photos[b]
        self.photos[b] = None
        self.sex[a] = self.sex[a] or self.sex[b]
        fb = self.forbidden.pop(b, None)
        if fb:
            fa = self.forbidden.get(a)
            if fa is None or len(fa) < len(fb):
                fa, fb = fb, fa or set()
            fa |= fb
            self.forbidden[a] = fa
        return a

    def roots(self) -> np.ndarray:
        return np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)


# --------------------------------------------------------------- public API


def cluster_detections(
    embeddings: np.ndarray,
    photo_ids: np.ndarray,
    sexes: np.ndarray,
    must_link: np.ndarray | None = None,
    cannot_link: np.ndarray | None = None,
    settings: ClusterSettings | None = None,
) -> np.ndarray:
    """Individual label per detection (0..k-1 by first appearance, -1 = no profile).

    embeddings (n, d); photo_ids (n,) ints; sexes (n,) 'female'|'male'|other
    (= unknown); must_link / cannot_link (m, 2) detection index pairs.
    """
    settings = settings or ClusterSettings()
    x = _normalise(embeddings)
    n = len(x)
    if x.ndim != 2:
        raise ValueError("embeddings must be an (n, d) array")
    if not (len(photo_ids) == len(sexes) == n):
        raise ValueError("embeddings, photo_ids and sexes must have the same length")
    if n == 0:
        return np.empty(0, dtype=np.int64)
    must = np.asarray(must_link if must_link is not None else [], np.int64).reshape(-1, 2)
    cannot = np.asarray(cannot_link if cannot_link is not None else [], np.int64).reshape(-1, 2)
    for links in (must, cannot):
        if links.size and (links.min() < 0 or links.max() >= n):
            raise ValueError("link indices must be detection indices in [0, n)")
    state = _Clusters(x, np.asarray(photo_ids).tolist(), _sex_codes(sexes), cannot.tolist())

    for a, b in must.tolist():
        ra, rb = state.find(a), state.find(b)
        if ra != rb and state.compatible(ra, rb):
            state.merge(ra, rb)

    for _ in range(settings.max_rounds):
        roots = np.unique(state.roots())
        units = _normalise(state.sums[roots])
        i, j, _dist = _neighbour_pairs(units, settings)
        merges = 0
        for a, b in zip(roots[i].tolist(), roots[j].tolist()):
            ra, rb = state.find(a), state.find(b)
            if (
                ra != rb
                and state.distance(ra, rb) <= settings.max_distance
                and state.compatible(ra, rb)
            ):
                state.merge(ra, rb)
                merges += 1
        if merges == 0:
            break

    roots = state.roots()
    _, first, inverse, counts = np.unique(
        roots, return_index=True, return_inverse=True, return_counts=True
    )
    kept = counts >= settings.min_sightings
    # Number surviving clusters by their first detection so labels are stable.
    new_id = np.full(len(first), -1, dtype=np.int64)
    kept_ids = np.flatnonzero(kept)
    new_id[kept_ids[np.argsort(first[kept_ids], kind="stable")]] = np.arange(len(kept_ids))
    return new_id[inverse]


def centroids(
    embeddings: np.ndarray, labels: np.ndarray, normalise: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(profile labels ascending, (k, d) mean embedding per label); -1 skipped.

    normalise=True gives unit vectors (cosine search, e.g. pgvector);
    normalise=False gives raw means, whose dot product with an embedding is its
    mean cosine to the profile's detections (see ``assign_to_profiles``).
    """
    x = _normalise(embeddings)
    labels = np.asarray(labels)
    mask = labels >= 0
    values, inverse = np.unique(labels[mask], return_inverse=True)
    sums = np.zeros((len(values), x.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, x[mask])
    if normalise:
        return values, _normalise(sums)
    return values, (sums / np.bincount(inverse, minlength=len(values))[:, None]).astype(np.float32)


def assign_to_profiles(
    embeddings: np.ndarray, profile_centroids: np.ndarray, max_distance: float
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest profile per detection: (index into profile_centroids or -1, distance).

    distance = 1 - embedding . centroid (embeddings are normalised, centroids
    used as given). With raw means (``centroids(..., normalise=False)``) this is
    exactly the average-linkage test ``cluster_detections`` would apply to a
    lone detection, so online and batch decisions agree at the same
    ``max_distance``. With unit centroids it is plain cosine distance to the
    centre, which is smaller, so the same threshold admits more.
    Accepts (n, d) or a single (d,) embedding; always returns (n,) arrays.
    The distance to the nearest profile is returned even when it is too far,
    so callers can show a "closest guess" or log near misses.
    """
    x = np.atleast_2d(_normalise(embeddings))
    profiles = np.atleast_2d(np.asarray(profile_centroids, np.float32)) if len(profile_centroids) else None
    if profiles is None:
        return np.full(len(x), -1, dtype=np.int64), np.full(len(x), np.inf, dtype=np.float32)
    step = max(1, _BLOCK_ELEMENTS // len(profiles))
    best = np.empty(len(x), dtype=np.int64)
    dist = np.empty(len(x), dtype=np.float32)
    for s in range(0, len(x), step):
        sim = x[s : s + step] @ profiles.T
        best[s : s + step] = np.argmax(sim, axis=1)
        dist[s : s + step] = 1.0 - sim[np.arange(len(sim)), best[s : s + step]]
    return np.where(dist <= max_distance, best, -1), dist


def pairwise_precision_recall(true_labels, pred_labels) -> tuple[float, float]:
    """Pairwise precision/recall of "same individual", via contingency counts (O(n log n)).

    precision = same-cluster pairs that are truly the same animal / same-cluster pairs;
    recall = truly-same pairs put in one cluster / truly-same pairs.
    Label -1 (noise / unknown) in either input is a singleton: it forms no pairs.
    Returns 1.0 for a ratio with no pairs in its denominator.
    """
    t = _noise_as_singletons(np.asarray(true_labels))
    p = _noise_as_singletons(np.asarray(pred_labels))
    if len(t) != len(p):
        raise ValueError("label arrays must have the same length")

    def pairs(codes: np.ndarray) -> float:
        counts = np.unique(codes, return_counts=True)[1].astype(np.float64)
        return float(np.sum(counts * (counts - 1) / 2))

    if len(t) == 0:
        return 1.0, 1.0
    together = pairs(t * (p.max() + 1) + p)  # contingency cell = (true, predicted)
    predicted, actual = pairs(p), pairs(t)
    precision = together / predicted if predicted else 1.0
    recall = together / actual if actual else 1.0
    return precision, recall


def _noise_as_singletons(labels: np.ndarray) -> np.ndarray:
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.astype(np.int64).ravel()
    noise = np.flatnonzero(labels.ravel() == -1)
    codes[noise] = codes.max(initial=0) + 1 + np.arange(len(noise))
    return codes
