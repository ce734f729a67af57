"""Running a signature off the event loop, on small thread pools of our own.

Only the signature itself leaves the loop. A local RSA key gets one thread:
it releases the GIL while it signs, and a single thread measured best (more
threads fight the event loop for the GIL between signatures; see
docs/performance.md). An external signer may wait tens of milliseconds on a
network call, so it gets more threads, to keep several calls in flight. The
pools are kalshi-auth's own: signing neither waits behind nor crowds out work
in the loop's default executor.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import anyio.to_thread

__all__ = ["run_off_loop"]

T = TypeVar("T")

_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


async def run_off_loop(fn: Callable[..., T], *args: object, threads: int = 1) -> T:
    """`fn(*args)` on a pool of `threads` signing threads, awaited without blocking the loop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # trio, or another anyio backend: anyio's own threads
        return await anyio.to_thread.run_sync(partial(fn, *args))
    return await loop.run_in_executor(_pool(threads), partial(fn, *args))


def _pool(threads: int) -> ThreadPoolExecutor:
    with _pools_lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(
                threads, thread_name_prefix="kalshi-auth-sign"
            )
        return pool


def _forget_pools_in_child() -> None:
    # A forked child has none of the parent's threads: it makes its own pools when needed.
    global _pools_lock  # noqa: PLW0603 - a fresh lock for a fresh process
    _pools.clear()
    _pools_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)
