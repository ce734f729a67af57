"""`SigningThreads`: the few threads one signer signs on, away from the event loop.

Every signer gets threads of its own, so a signer that hangs holds up its
own requests and no one else's: there is no pool shared across the process.
The threads are daemons, so a ``sign()`` that never returns cannot keep the
interpreter from exiting, and they end after a minute idle, so a signer
that is no longer used (after `KalshiAuth.rotate`) costs nothing.

A local RSA key gets one thread: it releases the GIL while it signs, and a
single thread measured best (docs/performance.md). An external signer waits
on the network, so it gets several, to keep that many calls in flight.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

__all__ = ["SigningThreads"]

Headers = dict[str, str]

_IDLE_S = 60.0  # a thread with nothing to sign for this long ends


class SigningThreads:
    """Up to `limit` daemon threads that each make one set of signed headers at a time,
    first come first served."""

    __slots__ = ("__weakref__", "_idle", "_jobs", "_lock", "_started", "_wake", "limit", "name")

    def __init__(self, limit: int, name: str) -> None:
        self.limit = limit
        self.name = name
        self._reset()
        _all_threads.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._jobs: deque[tuple[Future[Headers], Callable[[], Headers]]] = deque()
        self._started = 0  # threads alive
        self._idle = 0  # of those, waiting for a job

    def submit(self, job: Callable[[], Headers]) -> Future[Headers]:
        """Queue `job`; its future. Cancelling the future drops a job that has not started,
        at once: a hung signer's timed-out requests do not pile up behind it."""
        future: Future[Headers] = Future()
        entry = (future, job)
        future.add_done_callback(self._drop_if_cancelled)
        with self._lock:
            self._jobs.append(entry)
            if self._idle:
                self._wake.notify()
            if len(self._jobs) <= self._idle or self._started >= self.limit:
                return future
            self._started += 1
            failure: BaseException | None = None
            try:
                threading.Thread(target=self._work, name=self.name, daemon=True).start()
            except BaseException as exc:  # no thread to be had (RLIMIT_NPROC, memory): undo
                self._started -= 1
                self._jobs.remove(entry)
                failure = exc
        if failure is not None:  # outside the lock: the future's callbacks run here
            future.cancel()
            raise failure
        return future

    def queued(self) -> int:
        """How many jobs wait for a thread."""
        with self._lock:
            return len(self._jobs)

    def _drop_if_cancelled(self, future: Future[Headers]) -> None:
        if future.cancelled():
            with self._lock:
                for entry in self._jobs:
                    if entry[0] is future:
                        self._jobs.remove(entry)
                        break

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._idle += 1
                    self._wake.wait_for(lambda: bool(self._jobs), timeout=_IDLE_S)
                    self._idle -= 1
                    if not self._jobs:
                        self._started -= 1
                        return
                future, job = self._jobs.popleft()
            if not future.set_running_or_notify_cancel():
                continue  # its request gave up waiting before it started
            try:
                result = job()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
            del future, job  # nothing of a finished request stays referenced while idle

    def forget_threads(self) -> None:
        """After fork(), in the child: it has none of the parent's threads; start over, empty."""
        self._reset()


_all_threads: weakref.WeakSet[SigningThreads] = weakref.WeakSet()


def _forget_in_child() -> None:
    for threads in list(_all_threads):
        threads.forget_threads()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
