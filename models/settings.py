"""The program's settings: every THUMPER_* environment variable and every default shared by more
than one room, defined once here (pydantic-settings, env prefix THUMPER_, as Immich's ML service
does). It sits in the lowest room so that every room reads the same values:

    from models.settings import settings, default
    settings().database_url      # the environment now (tests and workers change it)
    default("conf")              # the built-in default, whatever the environment says

The command line's defaults come from `settings()`, so `THUMPER_DETECTOR=... thumper census` works
as `--detector ...` does; Serve builder args and config YAML `args` override the environment.
"""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


ENV_PREFIX = "THUMPER_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", validate_default=True)

    # ---- where things live ----------------------------------------------------------------
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "thumper",
                            description="model weights (downloaded, or the demo's when rebuilt)")
    data_dir: Path = Field(default_factory=lambda: Path(os.environ.get("XDG_DATA_HOME") or
                                                        Path.home() / ".local" / "share") / "thumper",
                           description="the embedded Postgres, uploads, thumbnails")
    database_url: str | None = Field(None, description="Postgres URL; none: the embedded Postgres in data_dir")
    offline: bool = Field(False, description="never download weights, even for a known name")

    # ---- models -----------------------------------------------------------------------------
    detector: str = Field("megadetector-v6-c", description="a weights path, a known name, or 'demo'")
    classifier: str = Field("auto", description="a path, a known name, 'demo', 'none', or 'auto' "
                                                "(the demo classifier beside the demo detector, else none)")
    embedder: str = Field("demo", description="a path or 'demo'")
    conf: float = Field(0.25, description="detection confidence threshold")
    max_distance: float = Field(0.5, description="re-ID: largest mean cosine distance within one deer")

    # ---- placement and batching ---------------------------------------------------------------
    gpu_fraction: float = Field(0.25, description="GPU share per model actor or replica, when there are GPUs")
    gpu_memory_gb: float | None = Field(None, description="GPU memory when the type is not recognised")
    plan_gpus: int = Field(0, description="plan pools for this many GPUs not up yet (autoscaling)")
    write_batch: int = Field(64, description="photos per database transaction in the batch pipeline, at most (results are written as they come; what queues behind a write goes in one)")
    db_grace_s: float = Field(60, ge=0, description="how long a run waits for a lost database to come back, then "
                                                    "resumes (0: exit at once)")
    max_batch_size: int = Field(8, description="Serve: requests that share a forward pass")
    batch_wait_timeout_s: float = Field(0.02, description="Serve: how long a batch waits to fill")

    # ---- the Serve app ------------------------------------------------------------------------
    api_key: str | None = Field(None, repr=False, description="the server's own token (X-API-Key), an editor's; "
                                                             "users log in or use their own tokens")
    local_only: bool = Field(False, description="no credentials, but listen on 127.0.0.1 and answer it only")
    session_hours: float = Field(168, gt=0, description="how long a web login lasts")
    max_upload_bytes: int = Field(50 * 1024 * 1024, description="per file")
    max_files: int = Field(20, description="per request")
    max_pixels: int = Field(64_000_000, description="decompression-bomb guard (PIL's own is ~89M)")
    db_pool_size: int = 4
    dashboard_address: str | None = Field(None, description="for Ray jobs; none: $RAY_DASHBOARD_ADDRESS or "
                                                            "this cluster's")
    ray_address: str | None = Field(None, description="given to submitted jobs; none: the app's cluster")


def settings(**overrides) -> Settings:
    """The settings now: `overrides` (those not None) over THUMPER_* variables over defaults."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None and v != ""})


def env_name(name: str) -> str:
    """The environment variable of one setting (for a child process's environment)."""
    if name not in Settings.model_fields:
        raise KeyError(name)
    return f"{ENV_PREFIX}{name.upper()}"


def default(name: str):
    """The built-in default of one setting, ignoring the environment."""
    return Settings.model_fields[name].get_default(call_default_factory=True)
