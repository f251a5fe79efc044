"""Online inference for uploaded photos: store the file, register it, detect, classify and embed
(the inference core's models, in their deployments), write the results and assign each deer to a
profile, through the same claim / write_results machinery as the batch pipeline, so an upload is
idempotent and a crash leaves nothing half-written."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from models.files import atomic_write
from models.types import PhotoResult
from pipelines.ingest import read_photo
from pipelines.timefix import after_ingest
from serve_apps.photos import CheckedPhoto
from serve_apps.settings import ServeSettings
from store import DatabaseUnavailable, Store
from store.pool import StorePool

log = logging.getLogger(__name__)

CLAIMABLE = ("pending", "failed")  # a re-upload of a photo that failed before retries it
WAIT_FOR_OTHER_S = 120  # a copy being processed by another request or run


class ModelUnavailable(RuntimeError):
    """Detection, classification or embedding failed; the photo is stored and left pending for a batch run."""


@dataclass
class UploadOutcome:
    image: dict
    duplicate: bool


class UploadService:
    def __init__(self, settings: ServeSettings, pool: StorePool, upload_dir: Path, detector, describer):
        self.settings, self.pool, self.upload_dir = settings, pool, upload_dir
        self.detector, self.describer = detector, describer  # DeploymentHandles
        self._ready = asyncio.Lock()
        self.models: dict | None = None
        self.run_id: int | None = None
        self._run_store: Store | None = None
        self._run_lock = threading.Lock()  # one thread at a time checks or replaces the run

    async def ensure_ready(self) -> dict:
        """Model versions and the replica's 'serve' run, on first use (handles are async-only)."""
        async with self._ready:
            if self.models is None:
                det, crops = await asyncio.gather(self.detector.info.remote(), self.describer.info.remote())
                self.run_id = await asyncio.to_thread(self._start_run, det, crops)
                self.models = {"detector": det, "crops": crops}
        return self.models

    async def reload_models(self) -> dict:
        """Have the describer re-read the registry (a classifier activated with the app's classifier
        'latest'); what /health shows and a later run records follow. The replica's current serve
        run keeps the versions it started with; each detection records its own."""
        info = await self.describer.reload.remote()
        async with self._ready:
            if self.models is not None and not info.get("error"):
                crops = {k: v for k, v in info.items() if k not in ("reloaded", "error")}
                self.models = {**self.models, "crops": crops}
        return info

    def _start_run(self, det: dict, crops: dict) -> int:
        # a connection of its own: it holds the run's advisory lock for the replica's lifetime
        self._run_store = Store.open(self.pool.url)
        self._run_store.recover_abandoned_runs()
        return self._run_store.start_run(
            "serve", source="api", detector=self.settings.detector, detector_version=det["version"],
            classifier=self.settings.classifier, classifier_version=crops["classifier"],
            embedder=self.settings.embedder, embedder_version=crops["embedder"], embedding_dim=crops["dim"],
            settings={"max_distance": self.settings.max_distance, "conf": self.settings.conf})

    def close(self) -> None:
        if self._run_store is not None and not self._run_store.closed:
            self._run_store.finish_run(self.run_id, "completed")
            self._run_store.close()

    # ---- one photo --------------------------------------------------------------------
    def register(self, photo: CheckedPhoto, location: str) -> tuple[int, bool]:
        """Image id, and whether it was new. Known bytes are never written twice."""
        with self.pool.store() as store:
            known = store.image_id_by_sha256(photo.sha256)
            if known is not None:
                return known, False
            path = self._write_file(photo)
            record = read_photo(path, self.upload_dir)  # hash, EXIF time and camera, as folder ingest does
            record.location = location
            added = store.add_images([record])
            if added.new:  # its camera's clock corrections, if any, apply to it too
                after_ingest(store, added.image_ids)
            return added.image_ids[0], added.new == 1  # a concurrent twin may have won: same id

    def _write_file(self, photo: CheckedPhoto) -> Path:
        # the name comes from the content hash and the sniffed type, never from the user
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        path = self.upload_dir / f"{photo.sha256}.{photo.ext}"
        if not path.exists():
            with atomic_write(path, hidden=True) as tmp:  # readers see no file or the whole file
                tmp.write_bytes(photo.data)
        return path

    async def upload(self, photo: CheckedPhoto, location: str) -> UploadOutcome:
        models = await self.ensure_ready()
        image_id, new = await asyncio.to_thread(self.register, photo, location)
        await self._process_or_wait(image_id, photo, models)
        image = await asyncio.to_thread(self._read, image_id)
        return UploadOutcome(image, duplicate=not new)

    def _claim(self, image_id: int) -> bool:
        self._keep_run_alive()
        with self.pool.store() as store:
            return bool(store.claim_pending(self.run_id, [image_id], CLAIMABLE))

    def _keep_run_alive(self) -> None:
        """The run's lock lives on its own connection: when the database restarted, that lock is
        gone, and another process may mark the run aborted and take up its photos. Claiming under
        it then would hold photos no live lock protects, so a new run starts on a new connection."""
        with self._run_lock:
            try:
                if self._run_store is not None and not self._run_store.closed:
                    self._run_store.ping()
                    return
            except DatabaseUnavailable:
                pass
            lost = self.run_id
            if self._run_store is not None:
                self._run_store.close()
            self.run_id = self._start_run(self.models["detector"], self.models["crops"])
            log.warning("the database connection holding serve run %s was lost; uploads continue under run %s",
                        lost, self.run_id)

    async def _process(self, image_id: int, photo: CheckedPhoto, models: dict) -> None:
        try:
            dets = await self.detector.detect.remote((photo.square, photo.placement))
            if dets:
                dets = await self.describer.describe.remote((photo.data, dets))
        except Exception as e:
            log.exception("inference failed for image %d", image_id)
            await asyncio.to_thread(self._release, image_id)
            raise ModelUnavailable(f"inference failed: {type(e).__name__}: {e}") from e
        at = photo.placement
        await asyncio.to_thread(self._write, [PhotoResult(image_id, at.width, at.height, dets)])

    def _write(self, results: list[PhotoResult]) -> None:
        with self.pool.store() as store, store.transaction():  # detections and their deer together
            store.write_results(self.run_id, results)
            store.assign_to_profiles(results[0].image_id, self.settings.max_distance, self.run_id)

    def _release(self, image_id: int) -> None:
        with self.pool.store() as store:
            store.release_claim(self.run_id, image_id)

    async def _process_or_wait(self, image_id: int, photo: CheckedPhoto, models: dict) -> None:
        """Process the photo if this request can claim it; else another request (a concurrent
        twin) or run has it: wait for that one's result rather than computing it twice."""
        deadline = time.monotonic() + WAIT_FOR_OTHER_S
        while time.monotonic() < deadline:
            if await asyncio.to_thread(self._claim, image_id):
                return await self._process(image_id, photo, models)
            if await asyncio.to_thread(self._status, image_id) not in ("pending", "processing"):
                return
            await asyncio.sleep(0.1)

    def _status(self, image_id: int) -> str | None:
        with self.pool.store() as store:
            return store.image_status(image_id)

    def _read(self, image_id: int) -> dict:
        with self.pool.store() as store:
            return store.browse.get_image(image_id)
