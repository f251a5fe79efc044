"""The driver-side sink: write result batches to Postgres on a background thread, in order, while
the driver pulls the next batches from Ray Data, so the pipeline never stalls on a COPY.

Results are written as soon as they arrive: the writer takes whatever is queued, up to `batch`
photos, into one transaction. While the database keeps up every block is written on arrival (the
first result comes after the first block, not after `batch` photos); when it falls behind, the
blocks that queued meanwhile go in one bigger transaction. The queue is bounded: if the database
still falls behind, the driver stops pulling and Ray Data's streaming backpressure slows the stages,
instead of results piling up in memory. A crash loses at most what is queued, whose images stay
claimed and are reclaimed by the next run."""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Sequence

from cluster.metrics import record_write, set_pending
from models.types import PhotoResult

log = logging.getLogger(__name__)
_STOP = object()


def steady_pace(timeline: Sequence[tuple[float, int]]) -> float:
    """Photos/s over the later half of a run, from (time, photos done so far) points: the pace once
    every actor is up, which is what a 60,000-photo run keeps. Not from the first result: work the
    early stages did while the last actor was starting would flatter it. 0 without two points."""
    if len(timeline) < 2:
        return 0.0
    end_t, end_n = timeline[-1]
    mid_t, mid_n = next(p for p in timeline if p[1] >= end_n / 2)
    if mid_t == end_t:
        mid_t, mid_n = timeline[-2]
    return (end_n - mid_n) / (end_t - mid_t) if end_t > mid_t else 0.0


class BackgroundWriter:
    def __init__(self, write: Callable[[Sequence[PhotoResult]], int], claimed: int, depth: int = 4,
                 run_id: int | None = None, batch: int | None = None):
        """depth: result lists queued at most; batch: photos per transaction at most (None: one
        queued list per transaction)."""
        self._write, self._pending, self._run_id, self._batch = write, claimed, run_id, batch
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._held = None  # a list taken from the queue that did not fit the last transaction
        self._abort = threading.Event()
        self.completed = self.failed = self.detections = 0
        self.write_seconds = 0.0
        self.timeline: list[tuple[float, int]] = []  # (perf_counter, photos written) after each batch
        set_pending(claimed)
        self._thread = threading.Thread(target=self._run, name="thumper-db-writer", daemon=True)
        self._thread.start()

    def put(self, results: list[PhotoResult]) -> None:
        """Queue a batch (in pieces of at most `batch` photos); blocks while the queue is full;
        raises the writer's error, if any."""
        step = self._batch or len(results) or 1
        for k in range(0, len(results), step):
            piece = results[k:k + step]
            while True:
                self._raise_if_failed()
                try:
                    self._queue.put(piece, timeout=0.5)
                    break
                except queue.Full:
                    continue

    def close(self) -> None:
        """Write everything queued, then stop; raises the writer's error, if any."""
        self._queue.put(_STOP)
        self._thread.join()
        self._raise_if_failed()

    def abort(self) -> None:
        """Drop what is queued, let a write in progress commit, stop. Afterwards the connection is
        free for the caller (finish_run)."""
        self._abort.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(_STOP)
        self._thread.join()

    def steady_rate(self) -> float:
        return steady_pace(self.timeline)

    def __enter__(self) -> "BackgroundWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _next(self) -> tuple[list, bool]:
        """The next transaction: the first queued piece and those queued behind it, up to `batch`
        photos (a piece that would go over waits for the next one); and whether the stop sign came."""
        first, self._held = (self._held, None) if self._held is not None else (self._queue.get(), None)
        if first is _STOP:
            return [], True
        results = list(first)
        while self._batch and len(results) < self._batch:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is _STOP:
                return results, True
            if len(results) + len(more) > self._batch:
                self._held = more
                break
            results.extend(more)
        return results, False

    def _run(self) -> None:
        stop = False
        while not stop:
            results, stop = self._next()
            if not results:
                continue
            if self._abort.is_set() or self._error is not None:
                continue  # after a failure or an abort nothing more is written
            try:
                started = time.perf_counter()
                detections = self._write(results)
                seconds = time.perf_counter() - started
            except BaseException as e:  # handed to the driver thread on its next put/close
                self._error = e
                continue
            failed = sum(1 for r in results if r.error)
            self.completed += len(results) - failed
            self.failed += failed
            self.detections += detections
            self.write_seconds += seconds
            self._pending -= len(results)
            self.timeline.append((time.perf_counter(), self.completed + self.failed))
            if len(self.timeline) == 1:
                log.info("first results written: %d photos", self.completed + self.failed)
            record_write(seconds, len(results) - failed, failed, detections, self._run_id)
            set_pending(self._pending)
        set_pending(0)  # the run is over: whatever is left is released by finish_run
