"""Postgres + pgvector store: schema, bulk writes, queries. Knows nothing of Ray."""
from psycopg import OperationalError as DatabaseUnavailable  # the server went away or cannot be reached

from store.db import connect, resolve_database_url, unavailable_reason
from store.repository import ImageRecord, Store

__all__ = ["connect", "resolve_database_url", "unavailable_reason", "DatabaseUnavailable", "ImageRecord", "Store"]
