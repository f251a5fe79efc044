"""Response models: they type the OpenAPI docs at /docs and keep internal columns (server paths,
embeddings) out of responses."""
from __future__ import annotations

from datetime import date, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")
DeerClass = Literal["doe", "fawn", "buck", "deer"]
Season = Literal["rut", "winter", "spring", "summer", "fall"]  # store.queries.SEASON_MONTHS
ImageStatus = Literal["pending", "processing", "completed", "failed"]
DeerStatus = Literal["active", "provisional", "merged", "retired"]


class Deployment(BaseModel):
    """A camera at a location for a period (thumper cameras): where, when, its clock."""
    id: int
    location: str
    camera_make: str
    camera_model: str
    camera_serial: str
    latitude: float | None
    longitude: float | None
    coordinate_uncertainty_m: int | None
    time_zone: str | None = Field(description="IANA name or UTC offset; null: not set")
    timestamp_issues: bool
    notes: str | None
    start_at: datetime | None = Field(description="as set; null: its first photo")
    end_at: datetime | None
    start: datetime | None = Field(description="effective start: start_at, else its first photo (corrected time)")
    end: datetime | None
    photos: int
    mtime_photos: int = Field(description="photos timed by their file date (no EXIF or stamp time)")
    ocr_photos: int
    suspect_photos: int = Field(description="photos dated before 2005 or in the future: a reset clock?")
    shifted_photos: int = Field(description="photos whose time a correction changed")
    corrections: int


class DeploymentEdit(BaseModel):
    """Fields to change; those left out stay as they are."""
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    coordinate_uncertainty_m: int | None = Field(None, gt=0)
    start_at: datetime | None = None
    end_at: datetime | None = None
    time_zone: str | None = Field(None, max_length=64)
    timestamp_issues: bool | None = None
    notes: str | None = Field(None, max_length=2000)
    camera_serial: str | None = Field(None, max_length=64)


class TimeCorrectionIn(BaseModel):
    kind: Literal["offset", "drift", "dst", "ampm"]
    by: str | None = Field(None, max_length=32, description="offset/dst: +1h30m, -3600s, -01:00 (dst default -1h)")
    camera_said: datetime | None = Field(None, description="drift: the camera's time at a known moment")
    true_time: datetime | None = Field(None, description="drift: the true time at that moment")
    start: datetime | None = Field(None, description="first recorded time it applies to; null: from the first")
    end: datetime | None = None
    note: str | None = Field(None, max_length=500)


class TimeCorrectionOut(BaseModel):
    id: int
    kind: str
    description: str
    range_start: datetime | None
    range_end: datetime | None
    note: str | None
    created_at: datetime
    undone: bool


class DeploymentDetail(Deployment):
    time_corrections: list[TimeCorrectionOut]


class TimeCorrectionDone(BaseModel):
    correction_id: int
    photos_changed: int
    bursts: int = Field(description="bursts after regrouping (all cameras)")
    deployment: Deployment


class Detection(BaseModel):
    id: int
    image_id: int
    det_index: int
    x1: float
    y1: float
    x2: float
    y2: float
    confidence: float = Field(description="the detector's confidence")
    label: str = Field(description="the detector's label (MegaDetector: animal / person / vehicle)")
    observation_type: str = Field("animal", description="animal, human, vehicle or blank")
    species: str = Field("deer", description="class map species key; 'animal' = species not identified")
    species_confidence: float | None = None
    class_label: str | None = Field(None, description="the crop classifier's label, when one ran")
    class_confidence: float | None = None
    deer_class: str | None = Field(None, description="doe, fawn, buck or deer (sex unknown); null: not a deer")
    sex: str | None = None
    age_class: str | None = None
    deer_id: int | None = None
    deer_name: str | None = None
    deer_status: str | None = None
    detector_version: str
    classifier_version: str | None = None
    embedder_version: str | None = None
    class_corrected: bool = Field(False, description="deer_class is a person's correction (the classifier said "
                                                     "class_label)")
    not_deer: bool = Field(False, description="a person said it is not a deer")
    taken_at: datetime | None = None
    location: str | None = None


class Image(BaseModel):
    id: int
    sha256: str
    location: str | None
    taken_at: datetime | None
    time_source: str
    camera_make: str | None = None
    camera_model: str | None = None
    width: int | None = None
    height: int | None = None
    file_size: int | None = None
    status: str
    error: str | None = None
    created_at: datetime
    processed_at: datetime | None = None
    detections: int | None = Field(None, description="number of detections (lists only)")


class ImageDetail(Image):
    detections: list[Detection] = []  # type: ignore[assignment]


class UploadedImage(ImageDetail):
    duplicate: bool = Field(description="the same bytes were already stored: nothing was written")
    filename: str | None = Field(None, description="the name the client sent (informational only)")


class UploadResponse(BaseModel):
    images: list[UploadedImage]


class Deer(BaseModel):
    id: int
    name: str | None
    sex: str
    deer_class: str | None
    age_class: str | None
    status: str
    merged_into: int | None = None
    first_seen: datetime | None
    last_seen: datetime | None
    sightings: int
    locations: list[str]
    representative_id: int | None
    created_at: datetime
    updated_at: datetime


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class DeerDetail(Deer):
    sightings_page: Page[Detection]


class Run(BaseModel):
    id: int
    kind: str
    status: str
    source: str | None
    detector_version: str | None
    embedder_version: str | None
    images_claimed: int
    images_completed: int
    images_failed: int
    detections: int
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class ProcessingStatus(BaseModel):
    images: dict[str, int]
    total: int
    deer: int = Field(description="active and provisional profiles")
    running: list[Run]
    recent_runs: list[Run]


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    models: dict | None = None
    run_id: int | None = None


class Rename(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class MergeInto(BaseModel):
    into: int = Field(description="the deer that remains")


class MoveTo(BaseModel):
    deer_id: int


class SetClass(BaseModel):
    """What the detection is, as a person sees it: it decides its whole track in the census."""
    deer_class: DeerClass
    age_class: Literal["young", "mid", "mature"] | None = Field(None, description="bucks only")


class SplitOff(BaseModel):
    detection_ids: list[int] = Field(min_length=1, max_length=10_000)
    name: str | None = Field(None, max_length=100)


class CorrectionDone(BaseModel):
    deer_id: int | None = Field(None, description="the new deer (split)")
    deer: Deer | None = None


class ReprocessRequest(BaseModel):
    detector: str | None = Field(None, description="a weights name allowed by the server (default: the server's)")
    classifier: str | None = Field(None, description="'latest' (the active registered version: thumper models), "
                                                     "'demo', 'none', or the server's own (default)")
    embedder: str | None = Field(None, description="'latest' (the active registered version: thumper models), "
                                                   "'demo', or the server's own (default)")
    all: bool = Field(True, description="reprocess completed photos too (new models); false: only pending")
    retry_failed: bool = False


class Job(BaseModel):
    job_id: str
    status: str
    entrypoint: str | None = None
    message: str | None = None
    logs_tail: str | None = None
    dashboard_url: str | None = Field(None, description="the Ray dashboard (its Jobs view; training also under Train)")


# ---- the model registry (store/models_registry.py, docs/training.md) ----------------------------
ModelKind = Literal["detector", "classifier", "embedder"]


class ModelVersion(BaseModel):
    id: int
    kind: ModelKind
    name: str = Field(description="the spec or file stem it was known by")
    version: str = Field(description="stem@sha12, what detections record as their *_version")
    sha256: str
    parent_id: int | None = Field(None, description="the version it was fine-tuned from")
    parent_version: str | None = None
    data: dict = Field(default_factory=dict, description="training data summary (crops per label, sources, split)")
    metrics: dict = Field(default_factory=dict, description="held_out: its scores; parent_held_out: its parent's, "
                                                            "on the same held-out crops")
    created_at: datetime
    active: bool


class Serving(BaseModel):
    """What the app's crop models are now (from the describer deployment)."""
    classifier_spec: str | None = Field(None, description="the app's classifier setting: 'latest' follows the "
                                                          "active version; anything else ignores activations")
    classifier: str | None = Field(None, description="the classifier version new uploads get")
    embedder: str | None = None


class ModelList(BaseModel):
    versions: list[ModelVersion]
    serving: Serving | None = Field(None, description="null when the model deployments do not answer")


class Activated(BaseModel):
    version: ModelVersion
    serving: Serving | None = None
    note: str = Field(description="what the activation changes for uploads and runs")


class TrainRequest(BaseModel):
    kind: Literal["classifier", "embedder"] = "classifier"
    epochs: int | None = Field(None, ge=1, le=200, description="default: the trainer's")
    activate: Literal["if-better", "anyway", "never"] | None = Field(
        None, description="make the new version active if it scores better than its parent (the default), "
                          "anyway, or never")


# ---- the census estimate (pipelines.estimate.CensusEstimate.to_dict; docs/census.md) ----------------
class SurveyWindow(BaseModel):
    start: date = Field(description="first day, camera-local")
    end: date = Field(description="last day, included")
    name: str = Field(description="custom, last-14-days, rut-2024, ...")
    days: int


class EstimateFigure(BaseModel):
    point: float | None = Field(description="the estimate; null when refused")
    low: float | None = Field(None, description="95% interval, low end (percentile bootstrap)")
    high: float | None = Field(None, description="95% interval, high end")
    method: str = ""
    refused: str | None = Field(None, description="why the data cannot support this figure")


class BuckAgeCount(BaseModel):
    confirmed: int
    automatic: int


class BuckRoster(BaseModel):
    total: int = Field(description="antlered bucks seen: one per buck profile (a count, no interval)")
    confirmed: int = Field(description="of them, profiles a person confirmed (named, merged, split, reviewed)")
    automatic: int = Field(description="of them, profiles only the automatic re-ID gave")
    by_age: dict[str, BuckAgeCount] = Field(description="young / mid / mature / unknown")
    unidentified_photos: int = Field(description="buck photos that named no individual")


class CensusEstimate(BaseModel):
    window: SurveyWindow
    location: str | None = Field(description="null: every camera pooled")
    events: int = Field(description="bursts with a deer in the window (independent sightings)")
    days_with_photos: int
    photos: dict[str, int] = Field(description="buck / doe / fawn / unknown: animals seen over bursts (one per track)")
    roster: BuckRoster
    figures: dict[str, EstimateFigure] = Field(
        description="bucks, does, fawns, total (the reported figures), does_per_buck, fawns_per_doe, jacobson_* "
                    "(the published method: bucks seen, r = 1), bucks_chao, bucks_schnabel")
    assumptions: list[str]
    notes: list[str]
    settings: dict = Field(description="n_boot, seed, sightability range, buck estimator, ...")
    presets: list[str] = Field(description="survey window presets the `season` parameter takes")
