"""A small pool of Stores for threaded servers: a psycopg connection runs one transaction at a
time, so concurrent requests must never share one."""
from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from typing import Iterator

from psycopg import pq

from store.db import connect
from store.repository import Store


class StorePool:
    def __init__(self, url: str | None = None, size: int = 4):
        self.url, self.size = url, size
        self._idle: queue.LifoQueue[Store] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._migrated = False

    @contextmanager
    def store(self) -> Iterator[Store]:
        """Borrow a Store; callers wait when all `size` connections are out."""
        self._slots.acquire()
        store = None
        try:
            store = self._take()
            yield store
        finally:
            if store is not None:
                self._give_back(store)
            self._slots.release()

    def _take(self) -> Store:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            conn = connect(self.url, migrate=not self._migrated)  # migrations once per pool
            self._migrated = True
            return Store(conn)

    def _give_back(self, store: Store) -> None:
        # a broken connection, or one left inside a transaction, is closed rather than reused
        if store.conn.closed or store.conn.info.transaction_status != pq.TransactionStatus.IDLE:
            store.conn.close()
        else:
            self._idle.put(store)

    def close(self) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().conn.close()
