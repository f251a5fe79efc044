"""The Serve application, built from settings:

    serve run serve_apps.app:app                               (settings from THUMPER_* env vars)
    serve run serve_apps.app:build_app detector=demo local_only=true
    serve deploy serve_apps/config.yaml
"""
from __future__ import annotations

from ray.serve import Application

from pipelines.census import resolve_classifier_spec
from serve_apps.api import ThumperAPI
from serve_apps.describer import DescriberDeployment
from serve_apps.detector import DetectorDeployment
from serve_apps.settings import ServeSettings


def _gpus() -> float:
    import ray

    return ray.cluster_resources().get("GPU", 0) if ray.is_initialized() else 0


def build_app(args: dict | None = None) -> Application:
    """Application builder: args (key=value from `serve run`, or `args:` in the config YAML) over
    THUMPER_* environment variables."""
    settings = ServeSettings.from_mapping(args or {})
    # batching is the deployments' user_config: `serve deploy` with a new one retunes live replicas
    batching = {"max_batch_size": settings.max_batch_size, "batch_wait_timeout_s": settings.batch_wait_timeout_s}
    detector = DetectorDeployment.options(user_config=batching)
    describer = DescriberDeployment.options(user_config=batching)
    if _gpus():  # the models share a GPU in fractions; without GPUs the decorators' CPU shares apply
        gpu = {"num_gpus": settings.gpu_fraction, "num_cpus": 0.5}
        detector, describer = detector.options(ray_actor_options=gpu), describer.options(ray_actor_options=gpu)
    classifier = resolve_classifier_spec(settings.classifier, settings.detector)
    return ThumperAPI.bind(
        detector.bind(settings.detector, conf=settings.conf),
        describer.bind(classifier, settings.embedder, settings.database_url),  # the URL: for 'latest'
        settings,
    )


def __getattr__(name: str):
    # `app` is built on first access, so importing build_app never needs the env to be complete
    if name == "app":
        return build_app({})
    raise AttributeError(name)
