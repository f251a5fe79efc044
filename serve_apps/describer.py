"""Crop-model deployment: holds the inference core's classifier and embedder
(models.inference.CropModels); the crops of concurrent uploads share each forward pass
(@serve.batch). Crops are cut here, from the photo's bytes, as the batch pipeline cuts them.

`classifier: latest` (and `embedder: latest`) load the model registry's active version
(pipelines.model_versions, docs/training.md). A classifier activated later is loaded without a
restart: at once by `reload()` (the API calls it after POST /api/models/{id}/activate), and by
every replica within RECHECK_S anyway (a replica the API's call did not reach). The embedder is
resolved once, at replica start: a new embedder puts embeddings in another space than the deer
profiles' centroids, so it takes a reprocess, a re-ID run and a restart, never a silent swap."""
from __future__ import annotations

import asyncio
import logging
import threading
import time

from ray import serve

from models.types import Detection
from serve_apps.batching import batched, retune

log = logging.getLogger(__name__)
LATEST = "latest"  # pipelines.model_versions.LATEST (not imported: it pulls in the store at import)
RECHECK_S = 10.0  # how often a replica with a 'latest' classifier looks at the registry by itself


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=32, health_check_period_s=30)
class DescriberDeployment:
    def __init__(self, classifier: str | None, embedder: str | None, database_url: str | None = None):
        import torch

        from models.inference import CropModels
        from models.weights import load_embedder

        self.database_url = database_url
        self.classifier_spec = classifier
        self.device = "cuda:0" if torch.cuda.is_available() else "cpu"
        self.half = self.device != "cpu"
        self._lock = threading.Lock()  # one reload at a time
        self._next_check = time.monotonic() + RECHECK_S
        self.classifier_id: int | None = None  # the registry version loaded, for 'latest'
        embedder_path = self._resolve("embedder", embedder)[0] if embedder else None
        cls, self.classifier_id = self._load_classifier()
        self.models = CropModels(cls, load_embedder(str(embedder_path), device=self.device, half=self.half)
                                 if embedder_path else None)

    def _resolve(self, kind: str, spec: str):
        """(file, registry version id or None) for a spec: 'latest' through the registry."""
        from models.weights import resolve_classifier, resolve_embedder
        from pipelines.model_versions import resolve_latest
        from store import Store

        if spec != LATEST:
            return (resolve_classifier if kind == "classifier" else resolve_embedder)(spec), None
        with Store.open(self.database_url) as store:
            path = resolve_latest(store, kind)  # WeightsNotFound says what to do when none is active
            return path, store.models.active(kind)["id"]

    def _load_classifier(self):
        from models.weights import load_classifier

        if not self.classifier_spec:
            return None, None
        path, version_id = self._resolve("classifier", self.classifier_spec)
        return load_classifier(str(path), device=self.device, half=self.half), version_id

    def _active_classifier_id(self) -> int | None:
        from store import Store

        with Store.open(self.database_url, migrate=False) as store:
            active = store.models.active("classifier")
        return active["id"] if active else None

    def reconfigure(self, config: dict) -> None:
        """Serve's user_config: batching changes without restarting the replica."""
        retune(self.describe, config)

    def info(self) -> dict:
        c, e = self.models.classifier, self.models.embedder
        return {"classifier": c.version if c else None, "embedder": e.version if e else None,
                "dim": e.dim if e else 0, "classifier_id": self.classifier_id,  # /health shows it: never a path
                "classifier_follows_registry": self.classifier_spec == LATEST}

    def _reload(self) -> bool:
        """Load the registry's active classifier if it is not the one held; whether it changed. A
        classifier that cannot be loaded (its file gone) leaves the one held in place, logged."""
        from models.inference import CropModels

        if self.classifier_spec != LATEST:
            return False
        with self._lock:
            self._next_check = time.monotonic() + RECHECK_S
            if self._active_classifier_id() == self.classifier_id:
                return False
            cls, version_id = self._load_classifier()
            old = self.models.classifier.version if self.models.classifier else None
            # a new CropModels: a classifier of another input size changes the crop size too;
            # batches under way keep the object they started with
            self.models = CropModels(cls, self.models.embedder)
            self.classifier_id = version_id
        log.info("classifier reloaded: %s -> %s (registry version %s)", old, cls.version, version_id)
        return True

    async def reload(self) -> dict:
        """Re-read the registry now (after an activation): info(), plus `reloaded`."""
        try:
            changed = await asyncio.to_thread(self._reload)
        except Exception as e:  # the replica keeps serving with what it holds
            log.exception("reloading the classifier")
            return {**self.info(), "reloaded": False, "error": f"{type(e).__name__}: {e}"}
        return {**self.info(), "reloaded": changed}

    async def _recheck(self) -> None:
        if self.classifier_spec == LATEST and time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + RECHECK_S
            try:
                await asyncio.to_thread(self._reload)
            except Exception:  # the database away: keep the classifier held, look again later
                log.exception("looking for a newly activated classifier")

    @batched
    async def describe(self, photos: list[tuple[bytes, list[Detection]]]) -> list[list[Detection]]:
        """(photo bytes, its detections) per photo -> the detections classified and, deer, embedded."""
        await self._recheck()
        models = self.models
        return await asyncio.to_thread(models.describe_many, [p[0] for p in photos], [p[1] for p in photos])
