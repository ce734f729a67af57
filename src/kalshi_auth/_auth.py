"""`KalshiAuth`: one auth object for requests and httpx, sync and async."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._clock import ServerClock
from ._core import SigningCore, checked_key_id, checked_method
from ._credentials import Credentials, KeySource
from ._env import build_from_env
from ._errors import ConfigurationError
from ._httpx import HttpxAdapter, request_target
from ._keys import load_private_key
from ._requests import RequestsAdapter
from ._scope import DEFAULT_HOSTS, HostScope
from ._signing import now_ms

__all__ = ["KalshiAuth"]

Clock = Callable[[], int]


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
        signer_timeout: for a `Signer`, the seconds a request waits for its
            signature before it fails with `SignerError` (default 30).

    `rotate` swaps in a new key id and key while requests are in flight.

    In an ``AsyncClient``, aiohttp and websockets, RSA keys and a `Signer` sign on
    threads of their own, so the event loop never waits on a signature; Ed25519
    keys sign inline (30 µs). A `Signer` runs on its own threads in sync code
    too, so that `signer_timeout` holds there. Its `core` holds every signing
    policy on plain values.
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
        signer_timeout: float = 30.0,
    ) -> None:
        key_id = checked_key_id(key_id)
        if not callable(clock):
            raise ConfigurationError("clock must be a callable returning epoch milliseconds")
        self._signer_timeout = _checked_timeout(signer_timeout)
        self.core = SigningCore(
            Credentials.load(key_id, private_key, password, self._signer_timeout),
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
        options = {"include_query": include_query, "hosts": hosts, "clock": clock}
        return build_from_env(cls, environ, options)

    def rotate(
        self, key_id: str, private_key: KeySource, *, password: str | bytes | None = None
    ) -> None:
        """Sign with a new key id and key (or `Signer`) from now on, without a restart.

        Atomic: every signature is made with the old pair or the new one, never a
        mix, across threads and event loops; one already being made finishes with
        the old pair. Bad input raises what the constructor raises and keeps the
        old pair. The learned clock, `hosts` and every other option are kept.
        """
        credentials = Credentials.load(
            checked_key_id(key_id), private_key, password, self._signer_timeout
        )
        self.core.credentials = credentials  # one assignment: the swap

    @property
    def key_id(self) -> str:
        """The API key id sent in ``KALSHI-ACCESS-KEY``."""
        return self.core.credentials.key_id

    @property
    def key_type(self) -> str:
        """The key's type, e.g. ``RSA-2048`` or ``Ed25519``."""
        return self.core.credentials.key_type

    @property
    def clock_offset_ms(self) -> int:
        """How far Kalshi's clock is ahead of `clock`, as last learned from a rejection.

        0 until Kalshi answers ``header_timestamp_expired``; then every
        timestamp is corrected by it, until the next rejection measures again.
        """
        return self.core.clock.offset_ms

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(key_id={self.key_id!r}, key_type={self.key_type!r}, "
            f"include_query={self.core.include_query!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        core = self.core
        options = {"include_query": core.include_query, "hosts": core.scope.entries}
        options |= {"clock": core.clock.local, "signer_timeout": self._signer_timeout}
        key = core.credentials.portable()  # one read: a rotation meanwhile changes nothing
        return {"key": key, "options": options, "offset_ms": core.clock.offset_ms}

    def __setstate__(self, state: object) -> None:
        # A pickle is input like any other: every field goes through the constructor's
        # checks, the learned offset through the clock's bounds.
        key_id, key, options, offset_ms = _unpickled(state)
        self.__init__(key_id, key, **options)  # type: ignore[misc]
        self.core.clock.restore(offset_ms)

    def headers(
        self, method: str, url_or_path: str, *, timestamp_ms: int | None = None
    ) -> dict[str, str]:
        """The three ``KALSHI-ACCESS-*`` headers for a request made by another client.

        For websockets, curl and the like. `url_or_path` is an absolute URL or a
        path such as ``/trade-api/ws/v2``. It is signed as httpx would send it:
        the path percent-encoded as httpx does, dot segments resolved, the query
        dropped unless ``include_query``. Signs whatever the host: you asked.
        """
        method = checked_method(method)
        return self.core.signed_headers(method, request_target(url_or_path), timestamp_ms)


_MAX_SIGNER_TIMEOUT_S = 3600.0


def _checked_timeout(value: object) -> float:
    """`signer_timeout` as float seconds: more than 0, at most an hour."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if math.isfinite(seconds) and 0 < seconds <= _MAX_SIGNER_TIMEOUT_S:
            return seconds
    raise ConfigurationError(
        "signer_timeout must be a number of seconds, more than 0 and at most 3600 "
        "(default 30): how long a request waits for an external signer"
    )


_PICKLED_OPTIONS = frozenset({"include_query", "hosts", "clock", "signer_timeout"})


def _unpickled(state: object) -> tuple[Any, Any, dict[str, Any], Any]:
    """(key id, key, options, offset) from a pickled state, its shape checked; the values
    are checked where they are used, as a constructor's arguments are."""
    if isinstance(state, dict) and state.keys() == {"key", "options", "offset_ms"}:
        pair, options = state["key"], state["options"]
        if (
            isinstance(pair, tuple)
            and len(pair) == 2
            and isinstance(options, dict)
            and _PICKLED_OPTIONS.issuperset(options)
        ):
            key = pair[1]
            if isinstance(key, bytes):
                key = load_private_key(key)  # typed errors, key bytes never quoted
            return pair[0], key, options, state["offset_ms"]
    raise ConfigurationError(
        "this pickled KalshiAuth is damaged or from an incompatible version; "
        "create the KalshiAuth again from its key"
    )
