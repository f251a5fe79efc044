-- Deployments (a camera at a location for a period) and camera-clock corrections, kept as facts.
-- images.recorded_at is the time as the photo told it (EXIF, the stamp bar by OCR, or the file's
-- mtime) and never changes; images.taken_at is that time with the deployment's corrections
-- applied, which every burst, filter, chart, report and export reads.

CREATE TABLE deployments (
    id                       bigserial PRIMARY KEY,
    location_id              int NOT NULL REFERENCES locations(id),
    camera_make              text NOT NULL DEFAULT '',
    camera_model             text NOT NULL DEFAULT '',
    camera_serial            text NOT NULL DEFAULT '',
    latitude                 double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude                double precision CHECK (longitude BETWEEN -180 AND 180),
    coordinate_uncertainty_m int CHECK (coordinate_uncertainty_m > 0),
    start_at                 timestamp,       -- camera-local; NULL: its first photo
    end_at                   timestamp,       -- camera-local; NULL: its last photo
    time_zone                text,            -- an IANA name (America/Chicago) or a UTC offset (-05:00)
    timestamp_issues         boolean NOT NULL DEFAULT false,  -- its clock cannot be trusted
    notes                    text,
    created_at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (location_id, camera_make, camera_model, camera_serial),
    CHECK (start_at IS NULL OR end_at IS NULL OR end_at >= start_at)
);

ALTER TABLE images ADD COLUMN deployment_id bigint REFERENCES deployments(id);
ALTER TABLE images ADD COLUMN recorded_at timestamp;
UPDATE images SET recorded_at = taken_at;
ALTER TABLE images DROP CONSTRAINT images_time_source_check;
ALTER TABLE images ADD CONSTRAINT images_time_source_check CHECK (time_source IN ('exif', 'ocr', 'mtime'));

INSERT INTO deployments (location_id, camera_make, camera_model)
    SELECT DISTINCT location_id, coalesce(camera_make, ''), coalesce(camera_model, '') FROM images
    WHERE location_id IS NOT NULL;
UPDATE images i SET deployment_id = d.id FROM deployments d
    WHERE d.location_id = i.location_id AND d.camera_make = coalesce(i.camera_make, '')
      AND d.camera_model = coalesce(i.camera_model, '');
CREATE INDEX images_deployment_idx ON images (deployment_id, recorded_at);

-- Applied in id order to recorded_at, each to the photos of its range (in recorded time; NULL:
-- open-ended). Undone corrections stay, with undone_at set.
CREATE TABLE time_corrections (
    id              bigserial PRIMARY KEY,
    deployment_id   bigint NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('offset', 'drift', 'dst', 'ampm')),
    range_start     timestamp,
    range_end       timestamp,
    offset_seconds  double precision,   -- offset and dst: added to the time
    known_recorded  timestamp,          -- drift: the camera said this ...
    known_true      timestamp,          -- ... when the true time was this; zero error at the start
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    undone_at       timestamptz,
    CHECK (range_start IS NULL OR range_end IS NULL OR range_end >= range_start),
    CHECK (kind NOT IN ('offset', 'dst') OR offset_seconds IS NOT NULL),
    CHECK (kind <> 'drift' OR (known_recorded IS NOT NULL AND known_true IS NOT NULL))
);
CREATE INDEX time_corrections_deployment_idx ON time_corrections (deployment_id);
