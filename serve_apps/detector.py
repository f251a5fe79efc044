"""Detector deployment: one YOLO per replica; concurrent uploads share a forward pass (@serve.batch)."""
from __future__ import annotations

import asyncio

import numpy as np
from ray import serve

from serve_apps.model_stages import LocalWeights, stack, unstack

CROP_SIZE = 128  # the embedder's input; crops travel at this size, as in the batch pipeline


@serve.deployment(ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=32, health_check_period_s=30)
class DetectorDeployment:
    def __init__(self, weights: str, conf: float = 0.25, max_batch_size: int = 8, batch_wait_timeout_s: float = 0.02):
        from models.weights import resolve_detector
        from pipelines.stages import DetectStage

        self.stage = DetectStage(LocalWeights(resolve_detector(weights)), conf=conf, imgsz=None, crop_size=CROP_SIZE)
        self.detect.set_max_batch_size(max_batch_size)
        self.detect.set_batch_wait_timeout_s(batch_wait_timeout_s)
        self.batches = self.frames = 0  # how much batching happens, for the benchmark

    def info(self) -> dict:
        d = self.stage.detector
        return {"version": d.version, "imgsz": d.imgsz, "crop_size": CROP_SIZE,
                "batches": self.batches, "frames": self.frames}

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.02)
    async def detect(self, frames: list[dict]) -> list[dict]:
        """frames: letterboxed photos (pipelines.stages.letterbox) -> per photo: boxes normalised to
        the photo (JSON rows, as the pipeline writes them) and crops for the embedder."""
        self.batches, self.frames = self.batches + 1, self.frames + len(frames)
        batch = stack([{**f, "image_id": k, "error": ""} for k, f in enumerate(frames)])
        # a thread, so the replica's event loop keeps queueing the next batch during the forward pass
        out = await asyncio.to_thread(self.stage, batch)
        return unstack(out, ("dets", "crops", "error"))


def frame(pixels: np.ndarray, scale: float, pad_x: int, pad_y: int, width: int, height: int) -> dict:
    return {"pixels": pixels, "scale": scale, "pad_x": pad_x, "pad_y": pad_y, "width": width, "height": height}
