"""The Serve application's view of the settings (models.settings): builder args (`serve run ...
key=value`, config YAML `args`) over THUMPER_* variables."""
from __future__ import annotations

from models.settings import Settings

LOOPBACK = "127.0.0.1"


class ServeSettings(Settings):
    """The one settings object; every default lives in models.settings but this one: the app
    starts on the shipped demo models (it must answer offline), the census on MegaDetector.

    Nothing here can open the app to anyone: unless local-only, every route but /health needs a
    login or a token (serve_apps/security.py)."""

    detector: str = "demo"

    @classmethod
    def from_mapping(cls, values: dict) -> "ServeSettings":
        """Builder args over THUMPER_* env vars; an empty or None value means "not given"."""
        return cls(**{k: v for k, v in values.items() if v is not None and v != ""})
