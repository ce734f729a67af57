"""`Credentials`: a key id and its signer, and where and when that signer runs.

This is the one place that decides *where* a signature is made: inline, or
on the signer's own threads (`SigningThreads`), and how long a request waits
for it. Every adapter, sync or async, first request, redirect hop, clock
re-send or WebSocket attempt, signs through `sign` or `sign_async`.

The job handed over is the whole signature, timestamp included, so the
timestamp is taken when the signature is made, not before the request
waited for a thread. The pair is replaced whole by `KalshiAuth.rotate`: a
signature in flight finishes with the pair it started with.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import time
from collections.abc import Callable
from functools import partial

import anyio
from cryptography.hazmat.primitives import serialization

from ._errors import ConfigurationError, SignerError
from ._external import ExternalSigner, MessageSigner, Signer
from ._keys import PrivateKey, key_kind, load_private_key
from ._offload import SigningThreads
from ._signing import KeySigner

__all__ = ["Credentials", "KeySource", "SignJob"]

KeySource = str | bytes | os.PathLike[str] | os.PathLike[bytes] | PrivateKey | Signer

# A polled wait (trio) checks after 0.5 ms, then twice as long each time, up to every 10 ms:
# a fast signer is seen at once, a slow one costs a hundred wake-ups a second.
_FIRST_PAUSE_S = 0.0005
_LONGEST_PAUSE_S = 0.01

Headers = dict[str, str]
# Makes the headers with the credentials it is given (and arguments of its own).
SignJob = Callable[..., Headers]


class Credentials:
    """A key id, its key (or `Signer`), the signer of it, and the threads it signs on.

    `off_loop`: async adapters sign on the threads (a local RSA key, any
    external signer); otherwise inline. `signer.timeout` (an external
    signer's): how long a request waits for a signature, sync or async;
    None signs inline in sync code. Never changed once made: a rotation
    makes new credentials and swaps them in whole.
    """

    __slots__ = ("key", "key_id", "key_type", "off_loop", "signer", "threads")

    def __init__(self, key_id: str, key: PrivateKey | Signer, signer: MessageSigner) -> None:
        self.key_id = key_id
        self.key = key
        self.signer = signer
        self.off_loop = signer.off_loop
        self.threads = SigningThreads(signer.threads, "kalshi-auth-sign")
        if isinstance(signer, ExternalSigner):
            kind = "RSA" if signer.key_type == "rsa" else "Ed25519"
            self.key_type = f"{kind} ({signer.name})"
        else:
            self.key_type = key_kind(key)

    @classmethod
    def load(
        cls, key_id: str, source: KeySource, password: str | bytes | None, signer_timeout: float
    ) -> Credentials:
        """Credentials from a checked key id and a key in any form `KalshiAuth` takes."""
        if isinstance(source, Signer):
            if password is not None:
                raise ConfigurationError("password= is for key files; a Signer holds its own key")
            return cls(key_id, source, ExternalSigner(source, timeout=signer_timeout))
        key = load_private_key(source, password=password)
        return cls(key_id, key, KeySigner(key))

    def portable(self) -> tuple[str, bytes | Signer]:
        """(key id, key) for a pickle: the key as unencrypted PKCS#8 DER (the pickle holds
        the key), or the external signer, which pickles itself or refuses to."""
        key = self.key
        if isinstance(key, Signer):
            return self.key_id, key
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return self.key_id, der

    def sign(self, job: SignJob, *args: object) -> Headers:
        """`job(self, *args)`, inline for a local key; on the threads, waited for at most
        ``signer.timeout``, for an external signer."""
        timeout = self.signer.timeout
        if timeout is None:
            return job(self, *args)
        future = self.threads.submit(partial(job, self, *args))
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()  # if it has not started, it never will
        raise self._timed_out(timeout)

    async def sign_async(self, job: SignJob, *args: object) -> Headers:
        """`job(self, *args)` without holding up the event loop when `off_loop`: one hand-off to
        the threads and back; an external signer waited for at most its timeout."""
        if not self.off_loop:
            return self.sign(job, *args)
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # trio, or another anyio backend
            return await self.await_polled(self.threads.submit(partial(job, self, *args)))
        future = self.threads.submit(partial(job, self, *args))
        waiter = asyncio.wrap_future(future)  # on the running loop; cancelling it cancels the job
        timeout = self.signer.timeout
        if timeout is None:
            return await waiter
        try:
            return await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            pass
        raise self._timed_out(timeout)

    async def await_polled(self, future: concurrent.futures.Future[Headers]) -> Headers:
        """Await `future` under trio or another anyio backend, where asyncio's hand-back is
        not available: checked every few milliseconds, so that no thread of anyio's shared
        pool waits on a signer; cancelled with the caller, bounded by the timeout."""
        timeout = self.signer.timeout
        limit = math.inf if timeout is None else timeout
        deadline = time.monotonic() + limit
        pause = _FIRST_PAUSE_S
        try:
            while not future.done() and time.monotonic() < deadline:
                await anyio.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE_S)
        except BaseException:  # cancelled: a job that has not started goes with it
            future.cancel()
            raise
        if future.done():
            return future.result()
        future.cancel()
        raise self._timed_out(limit)

    def _timed_out(self, timeout: float) -> SignerError:
        return SignerError(
            f"the external signer {self.signer.name} did not return within {timeout:g} s "
            "(signer_timeout); the request was not sent. kalshi-auth never retries a signer: "
            "check the signer's service, or raise KalshiAuth(signer_timeout=...)"
        )
