""""Yes, same deer" from the review queue: a must-link fact between the detection and its deer's
best other detection, so every later re-ID run keeps them together and the queue stops asking."""
from __future__ import annotations

from pipelines.corrections import CorrectionError
from store.reid import ReidStore

BOX = ("image_id", "x1", "y1", "x2", "y2")
OTHER_BOX = ("other_image_id", "ox1", "oy1", "ox2", "oy2")


def confirm_match(reid: ReidStore, detection_id: int) -> int:
    """Record that the detection is its deer (returned); facts name detections by image and box,
    like the corrections in pipelines.corrections, so they survive a reprocess."""
    reid.lock()  # the same lock as re-ID runs and corrections
    try:
        with reid.conn.transaction():
            found = reid.detections([detection_id])
            if not found:
                raise CorrectionError(f"no detection {detection_id}")
            det = found[0]
            if det["deer_id"] is None:
                raise CorrectionError(f"detection {detection_id} is not assigned to a deer")
            deer = reid.deer(det["deer_id"])
            others = [m for m in reid.members(det["deer_id"]) if m["id"] != detection_id]
            if not others:
                raise CorrectionError(f"deer {det['deer_id']} has no other sighting to confirm against")
            anchor = next((m for m in others if m["id"] == deer["representative_id"]),
                          max(others, key=lambda m: (m["confidence"], -m["id"])))
            reid.add_corrections([{"kind": "same_deer", "deer_id": det["deer_id"], "note": "confirmed in review",
                                   **{k: det[c] for k, c in zip(BOX, BOX)},
                                   **{k: anchor[c] for k, c in zip(OTHER_BOX, BOX)}}])
    finally:
        reid.unlock()
    return det["deer_id"]
