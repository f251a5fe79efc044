"""Training recipes for the project's own demo weights (synthetic scenes only; run once, offline)."""
