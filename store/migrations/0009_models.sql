-- The model registry: every detector, crop classifier and embedder a run used or training made,
-- with the file's sha256, the version it was fine-tuned from, what data made it and how well it
-- scored. One version per kind is active: what `--classifier latest` (and the Serve app's
-- 'latest') resolves to.
CREATE TABLE model_versions (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('detector', 'classifier', 'embedder')),
    name        text NOT NULL,                           -- the spec or file stem it was known by
    version     text NOT NULL,                           -- stem@sha12, as detections.*_version record it
    sha256      text NOT NULL,
    path        text,                                    -- where the file is (trained ones: the cache dir)
    parent_id   bigint REFERENCES model_versions(id),    -- the version it was fine-tuned from
    data        jsonb NOT NULL DEFAULT '{}',             -- training data summary (crops per label, sources, split)
    metrics     jsonb NOT NULL DEFAULT '{}',             -- held-out scores, of it and of its parent
    created_at  timestamptz NOT NULL DEFAULT now(),
    active      boolean NOT NULL DEFAULT false,
    UNIQUE (kind, sha256)
);
CREATE UNIQUE INDEX model_versions_one_active ON model_versions (kind) WHERE active;

-- A run points at the versions it used (the text columns stay, for runs from before the registry).
ALTER TABLE runs
    ADD COLUMN detector_model_id bigint REFERENCES model_versions(id),
    ADD COLUMN classifier_model_id bigint REFERENCES model_versions(id),
    ADD COLUMN embedder_model_id bigint REFERENCES model_versions(id);
