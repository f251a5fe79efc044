-- Images, detections with embeddings, and the runs that produced them.

CREATE TABLE locations (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per job (census, reprocess, reid, serve): which models and settings produced what.
CREATE TABLE runs (
    id                bigserial PRIMARY KEY,
    kind              text NOT NULL,
    status            text NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running', 'completed', 'failed', 'aborted')),
    source            text,
    detector          text,
    detector_version  text,
    embedder          text,
    embedder_version  text,
    embedding_dim     int,
    settings          jsonb NOT NULL DEFAULT '{}',
    images_claimed    int NOT NULL DEFAULT 0,
    images_completed  int NOT NULL DEFAULT 0,
    images_failed     int NOT NULL DEFAULT 0,
    detections        int NOT NULL DEFAULT 0,
    error             text,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz
);

CREATE TABLE images (
    id            bigserial PRIMARY KEY,
    sha256        text NOT NULL UNIQUE,          -- content hash: a copy under another name is the same image
    path          text NOT NULL,
    location_id   int REFERENCES locations(id),
    taken_at      timestamp,                     -- camera-local wall time
    time_source   text NOT NULL CHECK (time_source IN ('exif', 'mtime')),
    camera_make   text,
    camera_model  text,
    width         int,
    height        int,
    file_size     bigint,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    error         text,
    run_id        bigint REFERENCES runs(id),    -- the run that claimed / last processed it
    created_at    timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz
);
CREATE INDEX images_status_idx ON images (status);
CREATE INDEX images_location_time_idx ON images (location_id, taken_at);

CREATE TABLE detections (
    id                bigserial PRIMARY KEY,
    image_id          bigint NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    det_index         int NOT NULL,
    run_id            bigint NOT NULL REFERENCES runs(id),
    x1 real NOT NULL, y1 real NOT NULL, x2 real NOT NULL, y2 real NOT NULL,  -- normalised 0..1
    confidence        real NOT NULL,
    label             text NOT NULL,
    deer_class        text NOT NULL,
    sex               text NOT NULL,
    age_class         text,
    detector_version  text NOT NULL,
    embedder_version  text,
    embedding         vector,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (image_id, det_index)                 -- an image's detections are written once
);
CREATE INDEX detections_run_idx ON detections (run_id);
