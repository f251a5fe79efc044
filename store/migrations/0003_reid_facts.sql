-- Re-ID support (additive): pair facts, the last known membership of each deer, and a view that
-- resolves every correction fact to the detection rows of today.

-- IoU of two normalised xyxy boxes; one expression, so the planner inlines it.
CREATE FUNCTION box_iou(ax1 real, ay1 real, ax2 real, ay2 real,
                        bx1 real, by1 real, bx2 real, by2 real) RETURNS real
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        (greatest(0, least(ax2, bx2) - greatest(ax1, bx1)) * greatest(0, least(ay2, by2) - greatest(ay1, by1)))
        / nullif((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1)
                 - greatest(0, least(ax2, bx2) - greatest(ax1, bx1)) * greatest(0, least(ay2, by2) - greatest(ay1, by1)), 0),
        0)::real
$$;

-- A fact may name a second detection (same_deer = must-link, not_this_deer = cannot-link), and
-- points at the user action (merge / split / move ...) it came from.
ALTER TABLE corrections
    ADD COLUMN other_image_id bigint REFERENCES images(id) ON DELETE CASCADE,
    ADD COLUMN ox1 real, ADD COLUMN oy1 real, ADD COLUMN ox2 real, ADD COLUMN oy2 real,
    ADD COLUMN action_id bigint REFERENCES corrections(id) ON DELETE CASCADE;
CREATE INDEX corrections_kind_idx ON corrections (kind);

-- Which (image, box) each deer held after the last re-ID run or correction. A reprocess deletes and
-- rewrites detection rows (deer_id lost); the next run re-attaches them from here by IoU, so deer
-- ids, and the names on them, survive.
CREATE TABLE deer_members (
    image_id  bigint NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    x1 real NOT NULL, y1 real NOT NULL, x2 real NOT NULL, y2 real NOT NULL,
    deer_id   bigint NOT NULL REFERENCES deer(id) ON DELETE CASCADE
);
CREATE INDEX deer_members_image_idx ON deer_members (image_id);

-- Every detection-level fact resolved to the current detection of its image with IoU >= 0.5 (best
-- match); a side that no longer resolves is NULL and the fact is inert until it does again.
CREATE VIEW correction_facts AS
SELECT c.id, c.kind, c.deer_id, c.other_deer_id, c.action_id, c.created_at,
       a.id AS detection_id, b.id AS other_detection_id
FROM corrections c
LEFT JOIN LATERAL (
    SELECT d.id FROM detections d
    WHERE d.image_id = c.image_id AND box_iou(d.x1, d.y1, d.x2, d.y2, c.x1, c.y1, c.x2, c.y2) >= 0.5
    ORDER BY box_iou(d.x1, d.y1, d.x2, d.y2, c.x1, c.y1, c.x2, c.y2) DESC, d.id LIMIT 1) a ON true
LEFT JOIN LATERAL (
    SELECT d.id FROM detections d
    WHERE d.image_id = c.other_image_id
      AND box_iou(d.x1, d.y1, d.x2, d.y2, c.ox1, c.oy1, c.ox2, c.oy2) >= 0.5
    ORDER BY box_iou(d.x1, d.y1, d.x2, d.y2, c.ox1, c.oy1, c.ox2, c.oy2) DESC, d.id LIMIT 1) b ON true
WHERE c.image_id IS NOT NULL;
