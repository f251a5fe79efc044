"""Postgres + pgvector store: schema, bulk writes, queries. Knows nothing of Ray."""
from store.db import connect, resolve_database_url
from store.repository import ImageRecord, Store

__all__ = ["connect", "resolve_database_url", "ImageRecord", "Store"]
