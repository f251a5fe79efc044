"""Connecting to a Ray cluster and sizing actor pools for what it has (GPUs or only CPUs)."""
