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
        """Queue `job`; its future. Cancel the future to drop a job that has not started."""
        future: Future[Headers] = Future()
        with self._lock:
            self._jobs.append((future, job))
            if self._idle:
                self._wake.notify()
            if len(self._jobs) > self._idle and self._started < self.limit:
                self._started += 1
                threading.Thread(target=self._work, name=self.name, daemon=True).start()
        return future

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
