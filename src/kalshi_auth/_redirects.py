"""Where requests will send a redirect, worked out by requests itself."""

from __future__ import annotations

from collections.abc import MutableMapping

import requests

from ._signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

__all__ = ["planned_redirect", "strip_access_headers"]


def planned_redirect(response: requests.Response) -> requests.PreparedRequest | None:
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


def strip_access_headers(headers: MutableMapping[str, str]) -> None:
    """Remove the three ``KALSHI-ACCESS-*`` headers."""
    for name in (KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER):
        headers.pop(name, None)
