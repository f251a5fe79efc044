"""Request batching for the model deployments: concurrent requests share one forward pass
(@serve.batch), sized by the settings (models.settings) and retuned live through Serve's
user_config (serve_apps.app sets it; `serve deploy` with a new one changes running replicas)."""
from __future__ import annotations

from ray import serve

from models.settings import default


def batched(method):
    """@serve.batch with the settings' defaults, until the deployment's user_config arrives."""
    return serve.batch(max_batch_size=default("max_batch_size"),
                       batch_wait_timeout_s=default("batch_wait_timeout_s"))(method)


def retune(method, config: dict) -> None:
    """Apply a user_config's batching to a @batched method of a replica."""
    if "max_batch_size" in config:
        method.set_max_batch_size(int(config["max_batch_size"]))
    if "batch_wait_timeout_s" in config:
        method.set_batch_wait_timeout_s(float(config["batch_wait_timeout_s"]))
