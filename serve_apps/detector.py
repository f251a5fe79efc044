"""Detector deployment: holds the inference core's detector (models.detector, no Ray Data in
sight); concurrent uploads share a forward pass (@serve.batch)."""
from __future__ import annotations

import asyncio

import numpy as np
from ray import serve

from models.letterbox import stack
from models.settings import default
from models.types import Detection, Placement
from serve_apps.batching import batched, retune


@serve.deployment(ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=32, health_check_period_s=30)
class DetectorDeployment:
    def __init__(self, weights: str, conf: float = default("conf")):
        import torch

        from models.detector import Detector
        from models.weights import resolve_detector

        device = "cuda:0" if torch.cuda.is_available() else "cpu"
        self.detector = Detector(resolve_detector(weights), device=device, conf=conf, half=device != "cpu")
        self.batches = self.frames = 0  # how much batching happens, for the benchmark

    def reconfigure(self, config: dict) -> None:
        """Serve's user_config: batching changes without restarting the replica."""
        retune(self.detect, config)

    def info(self) -> dict:
        d = self.detector
        return {"version": d.version, "imgsz": d.imgsz, "batches": self.batches, "frames": self.frames}

    @batched
    async def detect(self, frames: list[tuple[np.ndarray, Placement]]) -> list[list[Detection]]:
        """frames: (letterboxed square, its placement) per photo -> that photo's detections, boxes
        normalised to the photo."""
        self.batches, self.frames = self.batches + 1, self.frames + len(frames)
        # one shared canvas for the batch, as in the batch pipeline
        pixels, placed = stack([f[0] for f in frames], [f[1] for f in frames], self.detector.imgsz)
        # a thread, so the replica's event loop keeps queueing the next batch during the forward pass
        return await asyncio.to_thread(self.detector.detect, list(pixels), placed)
