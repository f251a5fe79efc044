-- A person's word on what a deer detection is (doe, fawn, buck with its age class): a fact like the
-- others, anchored on (image, box), so it survives reprocessing, re-applied to the detection rows
-- after every write, and it decides its whole track in the census estimate.
ALTER TABLE corrections DROP CONSTRAINT corrections_kind_check;
ALTER TABLE corrections ADD CONSTRAINT corrections_kind_check
    CHECK (kind IN ('rename', 'merge', 'split', 'move', 'not_deer', 'not_this_deer', 'same_deer', 'class'));
ALTER TABLE corrections ADD COLUMN deer_class text CHECK (deer_class IN ('doe', 'fawn', 'buck', 'deer'));
ALTER TABLE corrections ADD COLUMN age_class text CHECK (age_class IN ('young', 'mid', 'mature'));
ALTER TABLE corrections ADD CONSTRAINT corrections_class_check
    CHECK (kind <> 'class' OR (deer_class IS NOT NULL AND (age_class IS NULL OR deer_class = 'buck')));
