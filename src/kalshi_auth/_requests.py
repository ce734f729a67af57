"""The requests adapter: translates requests' objects to the signing core and back."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
import requests.auth

from ._core import SigningCore
from ._errors import ConfigurationError
from ._scope import Origin, origin_of
from ._signing import path_and_query

__all__ = ["RequestsAdapter"]


class RequestsAdapter(requests.auth.AuthBase):
    """The ``auth=`` hook of requests: signs the prepared request (``params`` merged).

    requests runs an auth object once per request, in ``prepare``. What follows
    the first response, redirect hops and one re-send on a rejected clock, is
    done by a response hook that remembers which origin the user asked for.
    """

    core: SigningCore

    def __call__(self, r: requests.PreparedRequest, *misused: object) -> requests.PreparedRequest:
        """requests hook: sign the prepared request."""
        if misused:  # aiohttp calls a middleware as (request, handler)
            raise ConfigurationError(
                "KalshiAuth is requests' and httpx's auth, not an aiohttp middleware (a "
                "KalshiAuthMiddleware): create the session with "
                "aiohttp.ClientSession(**session_options(auth)), after "
                "from kalshi_auth.aiohttp import session_options"
            )
        url = r.url or ""
        if _sign(self.core, r):
            hooks = r.hooks["response"]
            if hooks:  # prepared twice: one chain hook is enough
                hooks[:] = [h for h in hooks if not isinstance(h, _RequestChain)]
            # First, so the caller's hooks (raise_for_status, say) see the re-sent answer.
            hooks.insert(0, _RequestChain(self.core, url))
        return r


def _sign(core: SigningCore, r: requests.PreparedRequest) -> bool:
    parts = urlsplit(r.url or "")
    # PreparedRequest.path_url, which requests sends, without parsing the URL twice.
    return core.sign_into(r.headers, parts.hostname or "", r.method or "GET", path_and_query(parts))


class _RequestChain:
    """The response hook of one request and every redirect hop requests makes from it."""

    __slots__ = ("core", "first_url")

    def __init__(self, core: SigningCore, first_url: str) -> None:
        self.core = core
        self.first_url = first_url

    def __call__(self, r: requests.Response, **kwargs: Any) -> requests.Response:
        if r.is_redirect:
            self._prepare_hop(r)
            return r
        if r.status_code == 401 and self._resend_wanted(r, kwargs):
            r.close()
            _sign(self.core, r.request)
            retry: requests.Response = r.connection.send(r.request, **kwargs)
            retry.history.append(r)
            retry.request = r.request
            if retry.is_redirect:
                self._prepare_hop(retry)
            return retry
        return r

    def _prepare_hop(self, r: requests.Response) -> None:
        # requests builds the next hop by copying r.request, headers included: leave there
        # the headers that hop needs, signed for its own method and path, or none at all.
        hop = _planned_redirect(r)
        if hop is not None:
            self.core.sign_hop(
                r.request.headers,
                origin_of(self.first_url),
                origin_of(hop.url or ""),
                hop.method or "GET",
                hop.path_url,
            )

    def _resend_wanted(self, r: requests.Response, kwargs: dict[str, Any]) -> bool:
        first: Origin = origin_of(self.first_url)
        answered_by: Origin = origin_of(r.request.url or "")
        core = self.core
        return core.reads_rejection(
            first,
            answered_by,
            r.status_code,
            r.headers.get("Content-Length"),
            replayable=_replayable(r.request),
            body_read_anyway=not kwargs.get("stream"),  # requests reads it next, unless streaming
        ) and core.should_resend(
            first, answered_by, r.status_code, r.headers.get("Date"), r.content
        )


def _replayable(request: requests.PreparedRequest) -> bool:
    # Only a body held in memory can be sent twice; a generator or file cannot.
    return isinstance(request.body, (bytes, str, type(None)))


def _planned_redirect(response: requests.Response) -> requests.PreparedRequest | None:
    """The next hop requests will send for a redirect response, or None.

    requests copies the sent request, headers included, for the next hop and
    gives an auth object no hook before sending it. Running requests' own
    `resolve_redirects(..., yield_requests=True)` on a throwaway session gives
    the exact method and URL of that hop without sending anything. (It reads
    the redirect's body, which requests reads anyway.)
    """
    with requests.Session() as planner:
        planner.trust_env = False  # no netrc or proxy look-ups: only method and URL matter
        hops = planner.resolve_redirects(response, response.request, yield_requests=True)
        return next(iter(hops), None)
