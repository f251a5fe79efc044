"""The Serve application's view of the settings (models.settings): builder args (`serve run ...
key=value`, config YAML `args`) over THUMPER_* variables, and the refusal to start insecurely."""
from __future__ import annotations

from models.settings import Settings

LOOPBACK = "127.0.0.1"


class InsecureConfig(RuntimeError):
    """The app would accept writes from anyone; it refuses to start."""


class ServeSettings(Settings):
    """The one settings object; every default lives in models.settings but this one: the app
    starts on the shipped demo models (it must answer offline), the census on MegaDetector."""

    detector: str = "demo"

    @classmethod
    def from_mapping(cls, values: dict) -> "ServeSettings":
        """Builder args over THUMPER_* env vars; an empty or None value means "not given"."""
        return cls(**{k: v for k, v in values.items() if v is not None and v != ""})

    def check(self) -> "ServeSettings":
        if not self.api_key and not self.local_only:
            raise InsecureConfig(
                "refusing to start: no API key for writes. Set THUMPER_API_KEY (or --api-key / api_key=...), "
                "or run local-only (THUMPER_LOCAL_ONLY=1 / --local-only), which binds 127.0.0.1 and only "
                "answers requests from this machine.")
        if self.read_requires_key and not self.api_key:
            raise InsecureConfig("read_requires_key is set but no API key is configured")
        return self
