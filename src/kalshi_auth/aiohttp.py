"""aiohttp client middleware (aiohttp >= 3.12): ``pip install "kalshi-auth[aiohttp]"``.

from kalshi_auth import KalshiAuth
from kalshi_auth.aiohttp import session_options

auth = KalshiAuth(key_id, "kalshi-key.pem")
async with aiohttp.ClientSession(**session_options(auth)) as session:
    await session.get("https://external-api.kalshi.com/trade-api/v2/portfolio/balance")
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import SimpleNamespace
from typing import TypedDict

try:
    from aiohttp import (
        ClientRequest,
        ClientResponse,
        ClientSession,
        TraceConfig,
        TraceRequestEndParams,
        TraceRequestExceptionParams,
        TraceRequestRedirectParams,
        TraceRequestStartParams,
        hdrs,
        payload,
    )
    from aiohttp.client_middlewares import ClientHandlerType, ClientMiddlewareType
    from yarl import URL
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'kalshi_auth.aiohttp needs aiohttp 3.12 or newer: pip install "kalshi-auth[aiohttp]"'
    ) from exc

from ._auth import KalshiAuth
from ._errors import ConfigurationError
from ._scope import Origin

__all__ = ["KalshiAuthMiddleware", "SessionOptions", "session_options"]

_REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))


class SessionOptions(TypedDict):
    """Keyword arguments for ``aiohttp.ClientSession``: ``ClientSession(**options)``."""

    middlewares: tuple[ClientMiddlewareType, ...]
    trace_configs: list[TraceConfig]


def session_options(auth: KalshiAuth) -> SessionOptions:
    """A new `KalshiAuthMiddleware` for `auth` and its trace config, as ``ClientSession``'s
    ``middlewares=`` and ``trace_configs=``: ``aiohttp.ClientSession(**session_options(auth))``.
    """
    middleware = KalshiAuthMiddleware(auth)
    return {"middlewares": (middleware,), "trace_configs": [middleware.trace_config]}


class KalshiAuthMiddleware:
    """Signs each request an aiohttp ``ClientSession`` sends, and its redirect hops.

    Like the requests and httpx adapters it signs the final request: the
    method and the request-target aiohttp puts on the wire (``url.raw_path_qs``),
    skips hosts outside the auth object's ``hosts``, signs a redirect hop only
    when it returns to the origin of the request you made, and re-sends once,
    with Kalshi's time, on ``401 header_timestamp_expired`` when the body is in
    memory.

    aiohttp runs a middleware alike for the request you made, for each redirect
    hop and for each second try. Which one it is, the middleware learns from its
    `trace_config`, which must be in the session's ``trace_configs``
    (`session_options` passes both). Without it, the middleware signs each
    request as one you made and, as it cannot tell a hop from a request, refuses
    a redirect response with `ConfigurationError`, so that no hop is sent.
    """

    def __init__(self, auth: KalshiAuth) -> None:
        self.auth = auth
        self._chains = _Chains()
        #: For ``ClientSession(trace_configs=[...])``: it tells this middleware which
        #: requests are redirect hops. A request's own ``middlewares=`` must hold this
        #: same middleware object.
        self.trace_config: TraceConfig = self._chains.trace_config

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """aiohttp hook: sign `request`, send it, and handle a redirect or a rejected clock."""
        core = self.auth.core
        here = _origin(request.url)
        chain = self._chains.of(request)
        # After aiohttp has followed a redirect, every request in the call is a hop (or
        # aiohttp's second try of one); before, it is the request the user made.
        first = chain.first if chain is not None and chain.redirected else here
        if not await self._sign(request, first, here):
            response = await handler(request)
        else:
            response = await handler(request)
            length = response.headers.get("Content-Length")
            if core.reads_rejection(
                first,
                here,
                response.status,
                length,
                replayable=_replayable(request),
                body_read_anyway=True,  # the caller reads the body next, and it is small
            ):
                body = await response.read()
                date = response.headers.get("Date")
                if core.should_resend(first, here, response.status, date, body):
                    response.release()
                    await self._sign(request, first, here)
                    response = await handler(request)
        if chain is None and _may_follow(response):
            response.close()
            raise ConfigurationError(
                f"KalshiAuthMiddleware got a {response.status} redirect and cannot tell "
                "whether aiohttp will follow it: the session lacks this middleware's trace "
                "config. Create the session with aiohttp.ClientSession(**session_options(auth)) "
                "(from kalshi_auth.aiohttp import session_options), or pass both "
                "middlewares=(middleware,) and trace_configs=[middleware.trace_config]; a "
                "request's own middlewares= must hold that same middleware object"
            )
        return response

    async def _sign(self, request: ClientRequest, first: Origin, here: Origin) -> bool:
        target = request.url.raw_path_qs
        return await self.auth.core.sign_hop_async(
            request.headers, first, here, request.method, target
        )


class _Chain:
    """One ``session.request()`` call: its session, the origin of the URL the user asked
    for, and whether aiohttp has followed a redirect in it."""

    __slots__ = ("first", "redirected", "session", "token")

    def __init__(self, session: ClientSession, first: Origin) -> None:
        self.session = session
        self.first = first
        self.redirected = False
        self.token: Token[_Chain | None] | None = None


class _Chains:
    """The facts aiohttp's tracing gives: a ``session.request()`` call begins (before any
    middleware runs), follows a redirect (after that every middleware call in it is a hop),
    ends. The callbacks run in that call's task and context, so `current` holds the call
    running here; a call made inside another, by a middleware, has its own until it ends."""

    __slots__ = ("current", "trace_config")

    def __init__(self) -> None:
        self.current: ContextVar[_Chain | None] = ContextVar("kalshi_auth_chain", default=None)
        self.trace_config = TraceConfig()
        self.trace_config.on_request_start.append(self._start)
        self.trace_config.on_request_redirect.append(self._redirect)
        self.trace_config.on_request_end.append(self._end)
        self.trace_config.on_request_exception.append(self._end)

    def of(self, request: ClientRequest) -> _Chain | None:
        """The call `request` is part of, or None when its session does not trace for us
        (a call running around it may be another session's)."""
        chain = self.current.get()
        return chain if chain is not None and chain.session is request.session else None

    async def _start(
        self, session: ClientSession, context: SimpleNamespace, params: TraceRequestStartParams
    ) -> None:
        chain = _Chain(session, _origin(params.url))
        chain.token = self.current.set(chain)
        context.kalshi_auth_chain = chain

    async def _redirect(
        self, session: ClientSession, context: SimpleNamespace, params: TraceRequestRedirectParams
    ) -> None:
        chain: _Chain | None = getattr(context, "kalshi_auth_chain", None)
        if chain is not None:
            chain.redirected = True

    async def _end(
        self,
        session: ClientSession,
        context: SimpleNamespace,
        params: TraceRequestEndParams | TraceRequestExceptionParams,
    ) -> None:
        chain: _Chain | None = getattr(context, "kalshi_auth_chain", None)
        if chain is None:  # never began (another trace's start failed first), or ended
            return
        context.kalshi_auth_chain = None
        if chain.token is not None:
            self.current.reset(chain.token)


def _may_follow(response: ClientResponse) -> bool:
    """Whether aiohttp, if allowed to, follows `response` (aiohttp's ``_request`` takes a
    ``URI`` header when there is no ``Location``)."""
    headers = response.headers
    return response.status in _REDIRECT_STATUSES and (
        hdrs.LOCATION in headers or hdrs.URI in headers
    )


def _origin(url: URL) -> Origin:
    return Origin.of(url.scheme, url.host or "", url.port)


def _replayable(request: ClientRequest) -> bool:
    body = request.body
    return isinstance(body, payload.BytesPayload) or not body
