"""Crop-model deployment: holds the inference core's classifier and embedder
(models.inference.CropModels); the crops of concurrent uploads share each forward pass
(@serve.batch). Crops are cut here, from the photo's bytes, as the batch pipeline cuts them."""
from __future__ import annotations

import asyncio

from ray import serve

from models.types import Detection
from serve_apps.batching import batched, retune


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=32, health_check_period_s=30)
class DescriberDeployment:
    def __init__(self, classifier: str | None, embedder: str | None):
        import torch

        from models.inference import CropModels
        from models.weights import load_classifier, load_embedder

        device = "cuda:0" if torch.cuda.is_available() else "cpu"
        half = device != "cpu"
        self.models = CropModels(load_classifier(classifier, device=device, half=half) if classifier else None,
                                 load_embedder(embedder, device=device, half=half) if embedder else None)

    def reconfigure(self, config: dict) -> None:
        """Serve's user_config: batching changes without restarting the replica."""
        retune(self.describe, config)

    def info(self) -> dict:
        c, e = self.models.classifier, self.models.embedder
        return {"classifier": c.version if c else None, "embedder": e.version if e else None,
                "dim": e.dim if e else 0}

    @batched
    async def describe(self, photos: list[tuple[bytes, list[Detection]]]) -> list[list[Detection]]:
        """(photo bytes, its detections) per photo -> the detections classified and, deer, embedded."""
        return await asyncio.to_thread(self.models.describe_many, [p[0] for p in photos], [p[1] for p in photos])
