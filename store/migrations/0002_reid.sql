-- Re-identification: bursts, deer profiles, and the corrections people make.

CREATE TABLE bursts (
    id          bigserial PRIMARY KEY,
    location_id int REFERENCES locations(id),
    camera      text,                        -- camera key: make + model at the location
    started_at  timestamp,
    ended_at    timestamp,
    n_images    int NOT NULL DEFAULT 0
);
ALTER TABLE images ADD COLUMN burst_id bigint REFERENCES bursts(id) ON DELETE SET NULL;

-- One row per individual animal. Ids are kept across clustering runs (new clusters are matched to
-- the deer whose detections they hold), so names and corrections stay attached.
CREATE TABLE deer (
    id                 bigserial PRIMARY KEY,
    name               text,
    sex                text NOT NULL DEFAULT 'unknown' CHECK (sex IN ('female', 'male', 'unknown')),
    deer_class         text,                 -- doe | fawn | buck | deer (majority of its detections)
    age_class          text,                 -- fawn | young | mid | mature (bucks, majority)
    status             text NOT NULL DEFAULT 'active'
                       CHECK (status IN ('active', 'provisional', 'merged', 'retired')),
    merged_into        bigint REFERENCES deer(id),
    first_seen         timestamp,
    last_seen          timestamp,
    sightings          int NOT NULL DEFAULT 0,
    locations          text[] NOT NULL DEFAULT '{}',
    representative_id  bigint,               -- detection with the best crop
    centroid           vector,               -- mean embedding (not normalised: see pipelines.clustering)
    run_id             bigint REFERENCES runs(id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE detections ADD COLUMN deer_id bigint REFERENCES deer(id) ON DELETE SET NULL;
CREATE INDEX detections_deer_idx ON detections (deer_id);

-- Corrections are facts, applied by every clustering run. A detection is named by its image and box,
-- not by its row id, so a fact still finds "its" detection after a reprocess replaces the rows.
CREATE TABLE corrections (
    id             bigserial PRIMARY KEY,
    kind           text NOT NULL
                   CHECK (kind IN ('rename', 'merge', 'split', 'move', 'not_deer', 'not_this_deer', 'same_deer')),
    deer_id        bigint REFERENCES deer(id) ON DELETE CASCADE,   -- the deer the fact is about
    other_deer_id  bigint REFERENCES deer(id) ON DELETE CASCADE,   -- merge / move target
    image_id       bigint REFERENCES images(id) ON DELETE CASCADE, -- the detection's image ...
    x1 real, y1 real, x2 real, y2 real,                              -- ... and box
    name           text,
    note           text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX corrections_image_idx ON corrections (image_id);
