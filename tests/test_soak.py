"""The soak (benchmarks/soak.py), short: a census of ~200 photos killed twice and through one
Postgres restart while clients upload to the real Serve app; afterwards every photo is stored once,
none is lost, no detection is written twice, every upload was stored or refused with a 4xx, and
every photo's results equal an undisturbed run's. Plus the comparison's own check: it must see a
tampered photo."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from soak import PhotoOutcome, SoakConfig, compare, render, soak  # noqa: E402


def test_compare_sees_a_tampered_photo():
    """Float noise within the tolerance is the same result; a moved box, a changed label, a lost or
    an extra detection, another status or a missing photo are each a difference."""
    deer = ("doe", "deer", "doe", "female", None, 0.1, 0.2, 0.3, 0.4)
    buck = ("buck", "deer", "buck", "male", "mid", 0.5, 0.5, 0.7, 0.9)
    base = {"a": PhotoOutcome("completed", (deer, buck)), "b": PhotoOutcome("completed", (deer,)),
            "c": PhotoOutcome("failed", ()), "d": PhotoOutcome("completed", ())}
    assert compare(base, dict(base)) == {}
    noisy = {**base, "a": PhotoOutcome("completed", (buck, (*deer[:5], 0.1004, 0.2, 0.3, 0.3996)))}
    assert compare(base, noisy) == {}

    moved = (*deer[:5], 0.1, 0.2, 0.3, 0.45)
    for tampered, sha in [({**base, "a": PhotoOutcome("completed", (moved, buck))}, "a"),
                          ({**base, "b": PhotoOutcome("completed", (("fawn", *deer[1:]),))}, "b"),
                          ({**base, "b": PhotoOutcome("completed", ())}, "b"),
                          ({**base, "d": PhotoOutcome("completed", (deer,))}, "d"),
                          ({**base, "b": PhotoOutcome("completed", (deer, deer))}, "b"),
                          ({**base, "c": PhotoOutcome("completed", ())}, "c"),
                          ({k: v for k, v in base.items() if k != "d"}, "d")]:
        assert list(compare(base, tampered)) == [sha], tampered
    assert compare(base, base, shas={"a", "zz"}) == {"zz": "not in the baseline"}


def test_short_soak_keeps_every_invariant(ray_cluster, demo_weights, tmp_path):
    config = SoakConfig(photos=180, upload_photos=16, kills=2, pg_restarts=1, clients=3, seed=1, size=(640, 360),
                        write_batch=4, pg_down_s=2.0, timeout_s=600)
    started = time.monotonic()
    result = soak(config, weights=demo_weights)
    print(render(result), f"\ntest: {time.monotonic() - started:.0f} s")
    assert result.ok, render(result)
    c = result.counts
    assert c["kills (during start-up)"].startswith("2 ") and c["postgres restarts"] == 1
    assert c["census photos missing"] == c["duplicate detections"] == c["photos differing from the undisturbed run"] == 0
    assert c["uploads answered 5xx in the end"] == 0 and c["uploads sent"] >= 10
