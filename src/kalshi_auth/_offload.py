"""Running a signature off the event loop, on a small pool of our own.

An external signer may wait tens of milliseconds on a network call; an event
loop must not. The pool is bounded and belongs to kalshi-auth, so signing
neither waits behind nor crowds out other work in the loop's default executor.
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

__all__ = ["SIGNING_THREADS", "run_off_loop"]

SIGNING_THREADS = 8
T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


async def run_off_loop(fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)` in a signing thread, awaited without blocking the event loop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # trio, or another anyio backend: anyio's own threads
        return await anyio.to_thread.run_sync(partial(fn, *args))
    return await loop.run_in_executor(_signing_pool(), partial(fn, *args))


def _signing_pool() -> ThreadPoolExecutor:
    global _pool  # noqa: PLW0603 - one pool per process, made on first use
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(SIGNING_THREADS, thread_name_prefix="kalshi-auth-sign")
        return _pool


def _forget_pool_in_child() -> None:
    # A forked child has none of the parent's threads: it makes its own pool when needed.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)
