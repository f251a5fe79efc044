"""Settings of the Serve application, from THUMPER_* environment variables or builder args."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from pipelines.clustering import ClusterSettings

LOOPBACK = "127.0.0.1"


class InsecureConfig(RuntimeError):
    """The app would accept writes from anyone; it refuses to start."""


def _bool(v) -> bool:
    return v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true", "yes", "on")


@dataclass
class ServeSettings:
    database_url: str | None = None  # None: $THUMPER_DATABASE_URL, else the embedded Postgres
    detector: str = "demo"  # weights spec: a path, a known name, or 'demo'
    classifier: str = "auto"  # 'auto' (demo beside the demo detector, else none), 'none', or a spec
    embedder: str = "demo"
    api_key: str | None = field(default=None, repr=False)
    local_only: bool = False  # no key needed for writes, but only from this machine (127.0.0.1)
    read_requires_key: bool = False
    max_upload_bytes: int = 50 * 1024 * 1024  # per file
    max_files: int = 20  # per request
    max_pixels: int = 64_000_000  # decompression-bomb guard (PIL's own default is ~89M)
    conf: float = 0.25
    max_distance: float = ClusterSettings().max_distance  # same threshold as batch re-ID
    gpu_fraction: float = 0.25  # per model replica, used only when the cluster has GPUs
    max_batch_size: int = 8
    batch_wait_timeout_s: float = 0.02
    db_pool_size: int = 4
    dashboard_address: str | None = None  # for Ray jobs; None: $RAY_DASHBOARD_ADDRESS or this cluster's
    ray_address: str | None = None  # given to submitted jobs; None: the cluster the app runs on

    @classmethod
    def from_mapping(cls, values: dict) -> "ServeSettings":
        """Builder args (`serve run ... key=value`, config YAML `args`) over THUMPER_* env vars."""
        out = {}
        for f in fields(cls):
            raw = values.get(f.name, os.environ.get(f"THUMPER_{f.name.upper()}"))
            if raw is None or raw == "":
                continue
            kind = type(f.default) if f.default is not None else str
            out[f.name] = _bool(raw) if kind is bool else kind(raw)
        return cls(**out)

    def check(self) -> "ServeSettings":
        if not self.api_key and not self.local_only:
            raise InsecureConfig(
                "refusing to start: no API key for writes. Set THUMPER_API_KEY (or --api-key / api_key=...), "
                "or run local-only (THUMPER_LOCAL_ONLY=1 / --local-only), which binds 127.0.0.1 and only "
                "answers requests from this machine.")
        if self.read_requires_key and not self.api_key:
            raise InsecureConfig("read_requires_key is set but no API key is configured")
        return self
