"""`KalshiAuth`: one auth object for requests and httpx, sync and async."""

from __future__ import annotations

import logging
import os
import string
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Mapping,
    MutableMapping,
)
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import httpx
import requests
import requests.auth
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ._clock import date_header_ms, is_timestamp_expired
from ._errors import ConfigurationError, InvalidKeyIdError, KalshiAuthError
from ._keys import PrivateKey, describe_key, load_private_key
from ._redirects import planned_redirect, strip_access_headers
from ._scope import DEFAULT_HOSTS, DEFAULT_PORTS, HostScope, origin_of
from ._signing import (
    KEY_HEADER,
    Signer,
    access_headers,
    now_ms,
    signing_path,
    string_to_sign,
    target_of,
    timestamp_text,
)

__all__ = ["KalshiAuth"]

logger = logging.getLogger("kalshi_auth")

ENV_KEY_ID = "KALSHI_API_KEY_ID"
ENV_PRIVATE_KEY = "KALSHI_PRIVATE_KEY"
ENV_PRIVATE_KEY_PATH = "KALSHI_PRIVATE_KEY_PATH"
ENV_PASSWORD = "KALSHI_PRIVATE_KEY_PASSWORD"  # noqa: S105 (a variable name)

# Kalshi key ids are UUIDs; anything outside these would corrupt or misstate the header.
_KEY_ID_CHARS = frozenset(string.ascii_letters + string.digits + "-._~")
# Per-request state that httpx carries from a request to its redirect hops.
_HTTPX_STATE = "kalshi_auth"
_WARNED_LIMIT = 1024
_CLOCKS_AGREE_MS = 2_000

Clock = Callable[[], int]
HttpxHook = Callable[[httpx.Request], None]
AsyncHttpxHook = Callable[[httpx.Request], Awaitable[None]]


class KalshiAuth(requests.auth.AuthBase, httpx.Auth):
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
            loaded ``cryptography`` RSA or Ed25519 private key. Parsed once, here.
        password: the password of an encrypted key.
        include_query: also sign ``?`` + the query string. Kalshi's server does
            **not** sign the query and rejects such signatures; this exists only
            for servers that follow the older third-party guides.
        hosts: the hosts to sign for: names (each with its subdomains), IP
            addresses or networks, or ``"*"`` for any. Requests to other hosts
            go out unsigned, with a warning logged once per host. The default is
            Kalshi's API domains and loopback.
        clock: returns the time in epoch milliseconds (default: the system
            clock). An offset learned from Kalshi's ``Date`` header is added.
        offload_signing: in an ``AsyncClient``, sign RSA keys in a worker
            thread instead of on the event loop. Off by default: measured on 2
            cores it gained neither throughput nor a shorter loop stall (see
            docs/performance.md). Ed25519 keys always sign inline.
    """

    # The body is never signed: httpx need not read it, so streaming uploads stay streamed.
    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        key_id: str,
        private_key: str | bytes | os.PathLike[str] | PrivateKey,
        *,
        password: str | bytes | None = None,
        include_query: bool = False,
        hosts: str | Iterable[str] = DEFAULT_HOSTS,
        clock: Clock = now_ms,
        offload_signing: bool = False,
    ) -> None:
        self._key_id = _checked_key_id(key_id)
        self._key = load_private_key(private_key, password=password)
        # Ed25519 signs in ~30 us: handing it to a thread would cost more than it saves.
        self._offload = offload_signing and isinstance(self._key, rsa.RSAPrivateKey)
        self._key_type = describe_key(self._key)
        self._sign = Signer(self._key)
        self._include_query = include_query
        self._hosts = HostScope(hosts)
        if not callable(clock):
            raise ConfigurationError("clock must be a callable returning epoch milliseconds")
        self._clock = clock
        self._offset_ms = 0
        self._warned: set[str] = set()

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
        options are those of the constructor.
        """
        env = os.environ if environ is None else environ
        key_id = env.get(ENV_KEY_ID, "").strip().strip("\"'").strip()  # .env quotes kept
        if not key_id:
            raise ConfigurationError(
                f"{ENV_KEY_ID} is not set: set it to the API key id shown in Kalshi's web UI "
                "(Account & Security > API Keys)"
            )
        pem = env.get(ENV_PRIVATE_KEY, "")
        path = env.get(ENV_PRIVATE_KEY_PATH, "").strip()
        if pem.strip() and path:
            raise ConfigurationError(
                f"both {ENV_PRIVATE_KEY} and {ENV_PRIVATE_KEY_PATH} are set; set only one "
                f"({ENV_PRIVATE_KEY} holds the PEM text, {ENV_PRIVATE_KEY_PATH} the file's path)"
            )
        if not pem.strip() and not path:
            raise ConfigurationError(
                f"neither {ENV_PRIVATE_KEY} (the PEM text) nor {ENV_PRIVATE_KEY_PATH} (the path "
                "of the key file) is set; set one of them"
            )
        variable = ENV_PRIVATE_KEY if pem.strip() else ENV_PRIVATE_KEY_PATH
        source: str | os.PathLike[str] = pem if pem.strip() else Path(os.path.expanduser(path))
        try:
            return cls(
                key_id,
                source,
                password=env.get(ENV_PASSWORD) or None,
                include_query=include_query,
                hosts=hosts,
                clock=clock,
            )
        except KalshiAuthError as exc:
            raise type(exc)(f"{variable}: {exc}") from None

    @property
    def key_id(self) -> str:
        """The API key id sent in ``KALSHI-ACCESS-KEY``."""
        return self._key_id

    @property
    def key_type(self) -> str:
        """The key's type, e.g. ``RSA-2048`` or ``Ed25519``."""
        return self._key_type

    @property
    def clock_offset_ms(self) -> int:
        """How far Kalshi's clock is ahead of `clock`, as learned from a rejected timestamp.

        0 until Kalshi answers ``header_timestamp_expired``; then every
        timestamp is corrected by it.
        """
        return self._offset_ms

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(key_id={self._key_id!r}, key_type={self._key_type!r}, "
            f"include_query={self._include_query!r})"
        )

    __str__ = __repr__

    def __getstate__(self) -> dict[str, Any]:
        # cryptography keys do not pickle; carry the key as DER. The pickle holds the key.
        der = self._key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {
            "key_id": self._key_id,
            "key_der": der,
            "include_query": self._include_query,
            "hosts": self._hosts.entries,
            "clock": self._clock,
            "offset_ms": self._offset_ms,
            "offload_signing": self._offload,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["key_id"],
            serialization.load_der_private_key(state["key_der"], None),
            include_query=state["include_query"],
            hosts=state["hosts"],
            clock=state["clock"],
            offload_signing=state["offload_signing"],
        )
        self._offset_ms = state["offset_ms"]

    def headers(
        self, method: str, url_or_path: str, *, timestamp_ms: int | None = None
    ) -> dict[str, str]:
        """The three ``KALSHI-ACCESS-*`` headers for a request made by another client.

        For websockets, aiohttp, curl and the like. `url_or_path` is an absolute
        URL or a path such as ``/trade-api/ws/v2``; the query, if any, is
        treated as in every other request. Signs whatever the host: you asked.
        """
        ms = self._now() if timestamp_ms is None else timestamp_ms
        return self._signed_headers(timestamp_text(ms), method, target_of(url_or_path))

    # --- requests ---------------------------------------------------------------------------

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """requests hook: sign the prepared request (``params`` already merged)."""
        hooks = r.hooks["response"]
        if self._sign_requests(r) and self._on_requests_response not in hooks:
            hooks.append(self._on_requests_response)
        return r

    def _sign_requests(self, r: requests.PreparedRequest) -> bool:
        parts = urlsplit(r.url or "")
        # PreparedRequest.path_url, which requests sends, without parsing the URL twice.
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return self._sign_into(r.headers, parts.hostname or "", r.method or "GET", target)

    def _on_requests_response(self, r: requests.Response, **kwargs: Any) -> requests.Response:
        """requests response hook: sign or strip redirect hops; re-send once on clock skew."""
        request = r.request
        if request.headers.get(KEY_HEADER) != self._key_id:
            return r
        if r.is_redirect:
            self._prepare_requests_redirect(r)
            return r
        if (
            r.status_code == 401
            and isinstance(request.body, (bytes, str, type(None)))
            and self._learn_clock(r.headers.get("Date"), r.content)
        ):
            r.close()
            self._sign_requests(request)
            retry: requests.Response = r.connection.send(request, **kwargs)
            retry.history.append(r)
            retry.request = request
            if retry.is_redirect:
                self._prepare_requests_redirect(retry)
            return retry
        return r

    def _prepare_requests_redirect(self, r: requests.Response) -> None:
        # requests builds the next hop by copying r.request, headers included: leave there
        # the headers that hop needs, signed for its own method and path, or none at all.
        hop = planned_redirect(r)
        if hop is None:
            return
        origin = origin_of(str(hop.url))
        if origin == origin_of(str(r.request.url)):
            self._sign_into(r.request.headers, origin[1], hop.method or "GET", hop.path_url)
        else:
            strip_access_headers(r.request.headers)

    # --- httpx ------------------------------------------------------------------------------

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx hook: sign the request from its raw, still percent-encoded target."""
        self._sign_httpx(request)
        yield request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx ``Client`` flow: sign; re-send once if Kalshi rejects the clock."""
        if not self._sign_httpx(request):
            yield request
            return
        response = yield request
        if self._may_resend_httpx(request, response):
            response.read()
            if self._learn_clock(response.headers.get("Date"), response.content):
                self._sign_httpx(request)
                response = yield request
        self._check_httpx_redirects(request, response)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """httpx ``AsyncClient`` flow: sign; re-send once if Kalshi rejects the clock."""
        if not await self._sign_httpx_async(request):
            yield request
            return
        response = yield request
        if self._may_resend_httpx(request, response):
            await response.aread()
            if self._learn_clock(response.headers.get("Date"), response.content):
                await self._sign_httpx_async(request)
                response = yield request
        self._check_httpx_redirects(request, response)

    def httpx_event_hooks(self) -> dict[str, list[HttpxHook]]:
        """``event_hooks=`` for an httpx ``Client`` that follows redirects.

        httpx follows redirects inside the auth flow, out of its sight, and
        copies every custom header to the next hop. This request hook signs
        each same-origin hop for its own method and path and strips the
        ``KALSHI-ACCESS-*`` headers from hops to any other origin.
        """
        return {"request": [self._on_httpx_hop]}

    def httpx_async_event_hooks(self) -> dict[str, list[AsyncHttpxHook]]:
        """The same as `httpx_event_hooks`, for an ``AsyncClient``."""

        async def on_hop(request: httpx.Request) -> None:
            self._on_httpx_hop(request)

        return {"request": [on_hop]}

    def _sign_httpx(self, request: httpx.Request) -> bool:
        target = request.url.raw_path.decode("ascii")
        if not self._sign_into(request.headers, request.url.host, request.method, target):
            return False
        self._remember_httpx(request, target)
        return True

    async def _sign_httpx_async(self, request: httpx.Request) -> bool:
        if not self._offload:
            return self._sign_httpx(request)
        if not self._scope_allows(request.headers, request.url.host):
            return False
        target = request.url.raw_path.decode("ascii")
        # The private-key operation releases the GIL: in a worker thread it runs while the
        # event loop serves other requests, and on a second core.
        signed = await anyio.to_thread.run_sync(
            self._signed_headers, str(self._now()), request.method, target
        )
        _set_headers(request.headers, signed)
        self._remember_httpx(request, target)
        return True

    def _remember_httpx(self, request: httpx.Request, target: str) -> None:
        # Read only on redirect hops, where the origin is worked out.
        request.extensions[_HTTPX_STATE] = {"url": request.url, "signed": (request.method, target)}

    def _on_httpx_hop(self, request: httpx.Request) -> None:
        state = request.extensions.get(_HTTPX_STATE)
        if state is None:
            return  # not a request this object signed
        state["hooked"] = True
        if _httpx_origin(request.url) != _httpx_origin(state["url"]):
            strip_access_headers(request.headers)
        elif (request.method, request.url.raw_path.decode("ascii")) != state["signed"]:
            self._sign_httpx(request)

    def _may_resend_httpx(self, request: httpx.Request, response: httpx.Response) -> bool:
        # Only a body held in memory can be sent twice; a streamed upload cannot.
        return response.status_code == 401 and isinstance(request.stream, httpx.ByteStream)

    def _check_httpx_redirects(self, request: httpx.Request, response: httpx.Response) -> None:
        state = request.extensions.get(_HTTPX_STATE)
        redirected = any(hop.is_redirect for hop in response.history)
        if redirected and state is not None and not state.get("hooked"):
            self._warn_once(
                "httpx-redirects",
                "httpx followed a redirect without KalshiAuth's event hooks: the hop carried "
                "the first request's KALSHI-ACCESS-* headers, whatever its origin. Create the "
                "client with event_hooks=auth.httpx_event_hooks() (httpx_async_event_hooks() "
                "for AsyncClient), or leave follow_redirects off",
            )

    # --- shared -----------------------------------------------------------------------------

    def _now(self) -> int:
        return self._clock() + self._offset_ms

    def _sign_into(
        self, headers: MutableMapping[str, str], host: str, method: str, target: str
    ) -> bool:
        """Set the three headers for this request, or remove them if `host` is out of scope."""
        if not self._scope_allows(headers, host):
            return False
        _set_headers(headers, self._signed_headers(str(self._now()), method, target))
        return True

    def _scope_allows(self, headers: MutableMapping[str, str], host: str) -> bool:
        if self._in_scope(host):
            return True
        strip_access_headers(headers)  # stale ones copied from an earlier request
        return False

    def _in_scope(self, host: str) -> bool:
        if host in self._hosts:
            return True
        self._warn_once(
            host,
            f"not signing a request to {host!r}: it is outside KalshiAuth(hosts=...), which "
            f"is {list(self._hosts.entries)!r}; add the host to hosts= to sign for it",
        )
        return False

    def _warn_once(self, topic: str, message: str) -> None:
        # A set without a lock: a rare duplicate warning beats a lock held across fork().
        if topic not in self._warned and len(self._warned) < _WARNED_LIMIT:
            self._warned.add(topic)
            logger.warning("%s", message)

    def _learn_clock(self, date: str | None, body: bytes) -> bool:
        """On Kalshi's ``header_timestamp_expired``, adopt the server's clock; True if learned."""
        if not is_timestamp_expired(body):
            return False
        server_ms = date_header_ms(date)
        if server_ms is None:
            logger.warning("Kalshi rejected the timestamp, and sent no Date header to correct it")
            return False
        offset_ms = server_ms - self._clock()
        if abs(offset_ms) < _CLOCKS_AGREE_MS:
            # The Date header has one-second resolution: the clocks agree, so the request
            # was delayed between signing and arrival. A fresh signature is the remedy.
            logger.warning(
                "Kalshi rejected the timestamp although the clocks agree: the request was "
                "delayed after it was signed (a slow connection or a long queue). Re-sending "
                "once with a fresh signature."
            )
            return True
        self._offset_ms = offset_ms
        side = "behind" if offset_ms > 0 else "ahead of"
        logger.warning(
            "Kalshi rejected the timestamp: this machine's clock is about %.0f s %s Kalshi's. "
            "Signing with Kalshi's time from now on and re-sending once; sync the clock.",
            abs(offset_ms) / 1000,
            side,
        )
        return True

    def _signed_headers(self, timestamp: str, method: str, target: str) -> dict[str, str]:
        method = method.upper()
        path = signing_path(target, include_query=self._include_query)
        signature = self._sign(string_to_sign(timestamp, method, path))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("signed %s %s at %s", method, path, timestamp)
        return access_headers(self._key_id, timestamp, signature)


def _set_headers(headers: MutableMapping[str, str], signed: dict[str, str]) -> None:
    # Item by item: httpx's Headers.update() copies and rescans, three times the cost.
    for name, value in signed.items():
        headers[name] = value


def _httpx_origin(url: httpx.URL) -> tuple[str, str, int | None]:
    scheme = url.scheme
    return scheme, url.host, url.port or DEFAULT_PORTS.get(scheme)


def _checked_key_id(key_id: object) -> str:
    if not isinstance(key_id, str):
        raise InvalidKeyIdError(f"key_id must be a str, not {type(key_id).__name__}")
    if not key_id:
        raise InvalidKeyIdError(
            "key_id is empty; pass the API key id shown in Kalshi's web UI "
            "(Account & Security > API Keys)"
        )
    if "-----" in key_id or len(key_id) > 200:
        # Never echo it: this is probably the private key passed in the wrong position.
        raise InvalidKeyIdError(
            "key_id looks like a private key, not a key id; call KalshiAuth(key_id, private_key) "
            "with the key id first"
        )
    bad = next((c for c in key_id if c not in _KEY_ID_CHARS), None)
    if bad is not None:
        where = "at its start or end" if bad in (key_id[0], key_id[-1]) else "inside it"
        raise InvalidKeyIdError(
            f"key_id contains {bad!r} {where}; a key id is a UUID such as "
            "'a952bcbe-ec3b-4b5b-b8f9-11dae589608c': remove whitespace, quotes and control "
            "characters (a trailing newline or quotes from a file or .env are the usual cause)"
        )
    return key_id
