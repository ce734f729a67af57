"""The httpx adapter: translates httpx's objects to the signing core and back."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Generator

import httpx

from ._core import SigningCore
from ._errors import ConfigurationError
from ._httpx_headers import write_headers
from ._scope import Origin, origin_of
from ._signing import strip_access_headers

__all__ = ["HttpxAdapter", "request_target"]

HttpxHook = Callable[[httpx.Request], None]
AsyncHttpxHook = Callable[[httpx.Request], Awaitable[None]]

# Where a signed request keeps its _Chain; httpx copies the extensions to each redirect hop.
_CHAIN = "kalshi_auth"


class _Chain:
    """What a request signed by the auth flow hands on to its redirect hops."""

    __slots__ = ("first_url", "hooked")

    def __init__(self, first_url: httpx.URL) -> None:
        # The URL, not the request: a request that referred to itself through its own
        # extensions would wait for the cycle collector to be freed.
        self.first_url = first_url  # the URL the user asked for; re-sends keep it
        self.hooked = False  # whether the event hooks saw a request of this chain


class HttpxAdapter(httpx.Auth):
    """The httpx auth flow, mirrored for ``Client`` and ``AsyncClient``.

    httpx runs the flow once per ``send`` and follows redirects inside it, out
    of its sight: the request event hooks from `httpx_event_hooks` see each hop.
    """

    core: SigningCore

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx's generic flow, for code that drives ``auth_flow`` itself, such as
        httpx-auth's ``HeaderApiKey(...) + auth``: sign inline; re-send once if Kalshi
        rejects the clock and whoever drives the flow has read the rejection's body."""
        if not self._sign(request):
            yield request
            return
        response = yield request
        if (
            response is not None  # a composing auth may never send the response back
            and response.status_code == 401
            and self._reads_rejection(request, response)
            and _body_was_read(response)
            and self._resend_wanted(request, response)
        ):
            self._sign(request)
            yield request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx ``Client`` flow: sign; re-send once if Kalshi rejects the clock."""
        if not self._sign(request):
            yield request
            return
        response = yield request
        if response.status_code == 401 and self._reads_rejection(request, response):
            response.read()
            if self._resend_wanted(request, response):
                self._sign(request)
                response = yield request
        if response.history:
            self._check_redirects(request, response)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """httpx ``AsyncClient`` flow: sign; re-send once if Kalshi rejects the clock."""
        if not await self._sign_async(request):
            yield request
            return
        response = yield request
        if response.status_code == 401 and self._reads_rejection(request, response):
            await response.aread()
            if self._resend_wanted(request, response):
                await self._sign_async(request)
                response = yield request
        if response.history:
            self._check_redirects(request, response)

    def httpx_event_hooks(self) -> dict[str, list[HttpxHook]]:
        """``event_hooks=`` for an httpx ``Client`` that follows redirects.

        httpx follows redirects inside the auth flow, out of its sight, and
        copies every custom header to the next hop. This request hook signs
        each hop back on the origin of the request you made, for the hop's own
        method and path, and strips the ``KALSHI-ACCESS-*`` headers from hops
        to any other origin.
        """
        return {"request": [self._on_request]}

    def httpx_async_event_hooks(self) -> dict[str, list[AsyncHttpxHook]]:
        """The same as `httpx_event_hooks`, for an ``AsyncClient``."""

        async def on_request(request: httpx.Request) -> None:
            hop = self._hop_of(request)
            if hop is not None:
                await self.core.sign_hop_async(request.headers, *hop)

        return {"request": [on_request]}

    def _sign(self, request: httpx.Request) -> bool:
        url = request.url
        return _write(request, self.core.headers_for(url.host, request.method, _target(url)))

    async def _sign_async(self, request: httpx.Request) -> bool:
        url = request.url
        signed = await self.core.headers_for_async(url.host, request.method, _target(url))
        return _write(request, signed)

    def _on_request(self, request: httpx.Request) -> None:
        hop = self._hop_of(request)
        if hop is not None:
            self.core.sign_hop(request.headers, *hop)

    def _hop_of(self, request: httpx.Request) -> tuple[Origin, Origin, str, str] | None:
        """(first origin, hop origin, method, target) when `request` is a redirect hop of
        a request this object signed; None for anything else (the first is signed)."""
        chain = request.extensions.get(_CHAIN)
        if not isinstance(chain, _Chain):
            return None  # not a request this object signed
        chain.hooked = True
        first_url = chain.first_url
        if request.url is first_url:
            return None
        url = request.url
        return _origin(first_url), _origin(url), request.method, _target(url)

    def _reads_rejection(self, request: httpx.Request, response: httpx.Response) -> bool:
        return self.core.reads_rejection(
            _origin(request.url),
            _origin(response.request.url),
            response.status_code,
            response.headers.get("Content-Length"),
            # Only a body held in memory can be sent twice; a streamed upload cannot.
            replayable=isinstance(request.stream, httpx.ByteStream),
            body_read_anyway=True,  # httpx reads a response's body unless it streams
        )

    def _resend_wanted(self, request: httpx.Request, response: httpx.Response) -> bool:
        return self.core.should_resend(
            _origin(request.url),
            _origin(response.request.url),
            response.status_code,
            response.headers.get("Date"),
            response.content,
        )

    def _check_redirects(self, request: httpx.Request, response: httpx.Response) -> None:
        chain = request.extensions.get(_CHAIN)
        if not isinstance(chain, _Chain) or chain.first_url is not request.url or chain.hooked:
            return
        if any(hop.is_redirect for hop in response.history):
            self.core.warn_once(
                "httpx-redirects",
                "httpx followed a redirect without KalshiAuth's event hooks: the hop carried "
                "the first request's KALSHI-ACCESS-* headers, whatever its origin. Create the "
                "client with event_hooks=auth.httpx_event_hooks() (httpx_async_event_hooks() "
                "for AsyncClient), or leave follow_redirects off",
            )


def _body_was_read(response: httpx.Response) -> bool:
    try:
        response.content  # noqa: B018 - raises when the body was never read
    except httpx.ResponseNotRead:
        return False
    return True


def _target(url: httpx.URL) -> str:
    return url.raw_path.decode("ascii")


def _write(request: httpx.Request, signed: dict[str, str] | None) -> bool:
    """Write the signed headers and start a chain; or strip stale ones when unsigned."""
    if signed is None:
        strip_access_headers(request.headers)  # stale ones copied from another request
        return False
    write_headers(request.headers, signed)
    # A fresh chain each time: a response.next_request, or a request sent again through
    # another client, carries an old one that saw other hooks.
    request.extensions[_CHAIN] = _Chain(request.url)
    return True


def request_target(url_or_path: str) -> str:
    """The request-target httpx sends for an absolute URL or a path starting with ``/``.

    The path percent-encoded as httpx encodes it, dot segments resolved, the
    query kept (the core drops it when signing) and the fragment dropped. A URL
    that httpx refuses, or whose port is out of range, is a `ConfigurationError`.
    """
    if not isinstance(url_or_path, str):
        raise ConfigurationError(
            f"the URL must be a str, not {type(url_or_path).__name__}: an absolute URL "
            "(https://host/path) or a path starting with '/'"
        )
    plain = _plain_target(url_or_path)
    if plain is not None:
        return plain
    # A path is read as if on some host: then httpx resolves it like any URL's path.
    url = "https://path.invalid" + url_or_path if url_or_path.startswith("/") else url_or_path
    raw: bytes | None = None
    if "://" in url and origin_of(url).host:  # origin_of: empty for a bad port or bracket
        try:
            raw = httpx.URL(url).raw_path
        except (httpx.InvalidURL, UnicodeError, ValueError, TypeError):
            raw = None  # raised below, outside the handler: the error holds the URL
    if raw is None:
        raise ConfigurationError(
            f"the URL ({len(url_or_path)} characters) is neither an absolute URL "
            "(https://host/path) nor a path starting with '/' that httpx can send"
        )
    return raw.decode("ascii")


# Characters httpx sends as they are, in a path and in a query alike.
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/?=&,:")
_HOST = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_MAX_PORT = 65535


def _plain_target(url: str) -> str | None:
    """The request-target of a URL that httpx would send unchanged, without parsing it;
    None when httpx must decide (percent signs, dot segments, other characters)."""
    if url.startswith("/"):
        target = url
    elif url.startswith(("https://", "wss://", "http://", "ws://")):
        authority, _, rest = url.partition("://")[2].partition("/")
        host, colon, port = authority.partition(":")
        if not host or not _HOST.issuperset(host):
            return None
        if colon and not (port.isascii() and port.isdigit() and int(port) <= _MAX_PORT):
            return None
        target = "/" + rest
    else:
        return None
    if target.startswith("//") or "/." in target or not _PLAIN.issuperset(target):
        return None
    return target


def _origin(url: httpx.URL) -> Origin:
    return Origin.of(url.scheme, url.host, url.port)
