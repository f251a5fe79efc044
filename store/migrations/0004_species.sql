-- Every detection is kept with what it is: animals of every species, people and vehicles. Only
-- deer (deer_class not null) are counted, re-identified and given profiles. The crop classifier
-- that named the species, and the crop recipe it read, are recorded beside the detector.

ALTER TABLE detections ADD COLUMN observation_type text NOT NULL DEFAULT 'animal'
    CHECK (observation_type IN ('animal', 'human', 'vehicle', 'blank'));
ALTER TABLE detections ADD COLUMN species text NOT NULL DEFAULT 'deer';  -- class_map.yaml key
ALTER TABLE detections ADD COLUMN species_confidence real;
ALTER TABLE detections ADD COLUMN class_label text;         -- the classifier's raw label
ALTER TABLE detections ADD COLUMN class_confidence real;
ALTER TABLE detections ADD COLUMN class_probs jsonb;        -- label -> probability, every label
ALTER TABLE detections ADD COLUMN classifier_version text;
ALTER TABLE detections ADD COLUMN crop_version text;
ALTER TABLE detections ALTER COLUMN species DROP DEFAULT;   -- rows before this migration were all deer
ALTER TABLE detections ALTER COLUMN deer_class DROP NOT NULL;
ALTER TABLE detections ALTER COLUMN sex DROP NOT NULL;
CREATE INDEX detections_species_idx ON detections (species);

ALTER TABLE runs ADD COLUMN classifier text;
ALTER TABLE runs ADD COLUMN classifier_version text;
