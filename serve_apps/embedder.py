"""Embedder deployment: one re-ID embedder per replica; the crops of concurrent uploads are embedded
in one forward pass (@serve.batch)."""
from __future__ import annotations

import asyncio

import numpy as np
from ray import serve

from serve_apps.detector import CROP_SIZE
from serve_apps.model_stages import LocalWeights


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=32, health_check_period_s=30)
class EmbedderDeployment:
    def __init__(self, weights: str, max_batch_size: int = 8, batch_wait_timeout_s: float = 0.02):
        from models.weights import resolve_embedder
        from pipelines.stages import EmbedStage

        self.stage = EmbedStage(LocalWeights(resolve_embedder(weights)), crop_size=CROP_SIZE)
        self.embed.set_max_batch_size(max_batch_size)
        self.embed.set_batch_wait_timeout_s(batch_wait_timeout_s)

    def info(self) -> dict:
        return {"version": self.stage.embedder.version, "dim": self.stage.embedder.dim}

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.02)
    async def embed(self, crops: list[bytes]) -> list[np.ndarray]:
        """crops: one photo's crops (CROP_SIZE^2 RGB, concatenated bytes) -> its (n, dim) embeddings."""
        n = len(crops)
        batch = {"image_id": np.arange(n), "width": np.zeros(n), "height": np.zeros(n),
                 "error": np.array([""] * n, dtype=object), "dets": np.array(["[]"] * n, dtype=object),
                 "crops": np.array(crops, dtype=object)}
        out = await asyncio.to_thread(self.stage, batch)
        dim = self.stage.embedder.dim
        return [np.frombuffer(b, np.float32).reshape(-1, dim) for b in out["embeddings"]]
