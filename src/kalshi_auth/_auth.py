"""`KalshiAuth`: one auth object for requests and httpx, sync and async."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ._clock import ServerClock
from ._core import SigningCore, checked_key_id
from ._env import blame_variable, read_env
from ._errors import ConfigurationError, KalshiAuthError
from ._external import ExternalSigner, MessageSigner, Signer
from ._httpx import HttpxAdapter, request_target
from ._keys import PrivateKey, key_kind, load_private_key
from ._requests import RequestsAdapter
from ._scope import DEFAULT_HOSTS, HostScope
from ._signing import KeySigner, now_ms

__all__ = ["KalshiAuth"]

Clock = Callable[[], int]
KeySource = str | bytes | os.PathLike[str] | os.PathLike[bytes] | PrivateKey | Signer


class KalshiAuth(RequestsAdapter, HttpxAdapter):
    """Signs each request for Kalshi's API with the three ``KALSHI-ACCESS-*`` headers.

    Use it as ``auth=`` on any requests call or ``Session`` and on any httpx
    ``Client`` or ``AsyncClient``. It signs the final request: the method and
    the path exactly as they go on the wire, after ``params`` are merged and a
    ``base_url`` is applied. One instance is safe to share across threads,
    asyncio tasks and forked processes.

    Args:
        key_id: the API key id Kalshi shows next to the key (a UUID).
        private_key: PEM text (``str`` or ``bytes``), a path to the key file
            (``pathlib.Path``, or a ``str`` naming an existing file), or a
            loaded ``cryptography`` RSA or Ed25519 private key, parsed once, here;
            or a `Signer` for a key held elsewhere (a KMS, an HSM).
        password: the password of an encrypted key.
        include_query: also sign ``?`` + the query. Kalshi does **not**, and
            rejects such signatures; this is for servers that follow old guides.
        hosts: the hosts to sign for: names (with their subdomains), IP addresses,
            networks, or ``"*"``. Other hosts get no headers, and a warning once.
            Default: Kalshi's API domains, ``localhost``, ``127.0.0.0/8``, ``::1``.
        clock: the time in epoch milliseconds (default: the system clock); the
            offset learned from Kalshi's ``Date`` header is added to it.

    In an ``AsyncClient``, aiohttp and websockets, RSA keys and a `Signer` sign on a
    kalshi-auth thread, so the event loop never waits on a signature; Ed25519 keys
    sign inline (30 µs). Its `core` holds every signing policy on plain values.
    """

    def __init__(
        self,
        key_id: str,
        private_key: KeySource,
        *,
        password: str | bytes | None = None,
        include_query: bool = False,
        hosts: str | Iterable[str] = DEFAULT_HOSTS,
        clock: Clock = now_ms,
    ) -> None:
        key_id = checked_key_id(key_id)
        if not callable(clock):
            raise ConfigurationError("clock must be a callable returning epoch milliseconds")
        self._key, self._key_type, signer = _signer_for(private_key, password)
        # Whether async adapters sign on a thread. Measured (docs/performance.md): RSA off
        # the loop gives more requests per second and a fifth of the longest stall; Ed25519
        # signs in ~30 us, less than the hand-off to a thread costs.
        self.sign_off_loop = signer.off_loop or isinstance(self._key, rsa.RSAPrivateKey)
        self.core = SigningCore(
            key_id,
            signer,
            scope=HostScope(hosts),
            clock=ServerClock(clock),
            include_query=bool(include_query),
        )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        include_query: bool = False,
        hosts: str | Iterable[str] = DEFAULT_HOSTS,
        clock: Clock = now_ms,
    ) -> KalshiAuth:
        """Build from ``KALSHI_API_KEY_ID`` and ``KALSHI_PRIVATE_KEY`` or ``..._PATH``.

        ``KALSHI_PRIVATE_KEY_PASSWORD`` is read for an encrypted key. `environ`
        replaces ``os.environ`` (for example a dict from a dotenv loader). The
        options are those of the constructor. An error names the variable to fix.
        """
        credentials = read_env(environ)
        try:
            return cls(
                credentials.key_id,
                credentials.private_key,
                password=credentials.password,
                include_query=include_query,
                hosts=hosts,
                clock=clock,
            )
        except KalshiAuthError as exc:
            error = blame_variable(exc, credentials)
        raise error  # outside the handler: no exception chain

    @property
    def key_id(self) -> str:
        """The API key id sent in ``KALSHI-ACCESS-KEY``."""
        return self.core.key_id

    @property
    def key_type(self) -> str:
        """The key's type, e.g. ``RSA-2048`` or ``Ed25519``."""
        return self._key_type

    @property
    def clock_offset_ms(self) -> int:
        """How far Kalshi's clock is ahead of `clock`, as last learned from a rejection.

        0 until Kalshi answers ``header_timestamp_expired``; then every
        timestamp is corrected by it, until the next rejection measures again.
        """
        return self.core.clock.offset_ms

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(key_id={self.key_id!r}, key_type={self._key_type!r}, "
            f"include_query={self.core.include_query!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        # cryptography keys do not pickle; carry the key as DER. The pickle holds the key.
        key: Signer | bytes
        if isinstance(self._key, Signer):
            key = self._key  # an external signer pickles itself, or refuses to
        else:
            key = self._key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        core = self.core
        options = {"include_query": core.include_query, "hosts": core.scope.entries}
        options |= {"clock": core.clock.local}
        return {"key": (core.key_id, key), "options": options, "offset_ms": core.clock.offset_ms}

    def __setstate__(self, state: dict[str, Any]) -> None:
        key_id, key = state["key"]
        if isinstance(key, bytes):
            key = serialization.load_der_private_key(key, None)
        self.__init__(key_id, key, **state["options"])  # type: ignore[misc]
        self.core.clock.offset_ms = state["offset_ms"]

    def headers(
        self, method: str, url_or_path: str, *, timestamp_ms: int | None = None
    ) -> dict[str, str]:
        """The three ``KALSHI-ACCESS-*`` headers for a request made by another client.

        For websockets, curl and the like. `url_or_path` is an absolute URL or a
        path such as ``/trade-api/ws/v2``. It is signed as httpx would send it:
        the path percent-encoded as httpx does, dot segments resolved, the query
        dropped unless ``include_query``. Signs whatever the host: you asked.
        """
        if not isinstance(method, str) or not method.isalpha() or not method.isascii():
            raise ConfigurationError("method must be an HTTP method such as 'GET' or 'POST'")
        return self.core.signed_headers(method, request_target(url_or_path), timestamp_ms)


def _signer_for(
    source: KeySource, password: str | bytes | None
) -> tuple[PrivateKey | Signer, str, MessageSigner]:
    """(the key or signer, its type in words, what the core calls to sign)."""
    if isinstance(source, Signer):
        if password is not None:
            raise ConfigurationError("password= is for key files; a Signer holds its own key")
        external = ExternalSigner(source)
        kind = "RSA" if external.key_type == "rsa" else "Ed25519"
        return source, f"{kind} ({external.name})", external
    key = load_private_key(source, password=password)
    return key, key_kind(key), KeySigner(key)
