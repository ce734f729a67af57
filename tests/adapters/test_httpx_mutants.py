"""httpx reads a response's body unless it streams, so the httpx adapter reads a 401 of
undeclared length (chunked) to see whether Kalshi rejected the clock, and re-sends once
(docs/quality.md: a mutant of `kalshi_auth._httpx` changed that)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.utils import formatdate

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from kalshi_auth import KalshiAuth

KEY_ID = "0b6f4a2c-3d5e-4f70-8a9b-c1d2e3f4a5b6"
URL = "https://external-api.kalshi.com/trade-api/v2/portfolio/balance"
EXPIRED = json.dumps({"error": {"code": "header_timestamp_expired"}}).encode()


def test_a_chunked_clock_rejection_is_read_and_resent_once(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    seen: list[str] = []

    def chunks() -> Iterator[bytes]:
        yield EXPIRED

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["KALSHI-ACCESS-SIGNATURE"])
        if len(seen) > 1:
            return httpx.Response(200, text="ok")
        return httpx.Response(401, headers={"Date": formatdate(usegmt=True)}, content=chunks())

    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    with httpx.Client(transport=httpx.MockTransport(handle), auth=auth) as client:
        response = client.get(URL)
    assert response.status_code == 200
    assert len(seen) == 2


REDIRECT_WARNING = (
    "httpx followed a redirect without KalshiAuth's event hooks: the hop carried the first "
    "request's KALSHI-ACCESS-* headers, whatever its origin. Create the client with "
    "event_hooks=auth.httpx_event_hooks() (httpx_async_event_hooks() for AsyncClient), or "
    "leave follow_redirects off"
)


def redirecting(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/next"):
        return httpx.Response(200, text="ok")
    return httpx.Response(302, headers={"Location": str(request.url.copy_with(path="/next"))})


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("kalshi_auth")]


def test_a_redirect_followed_without_the_event_hooks_is_warned_of_once(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    transport = httpx.MockTransport(redirecting)
    with httpx.Client(transport=transport, auth=auth, follow_redirects=True) as client:
        assert client.get(URL).status_code == 200
        assert client.get(URL).status_code == 200
    assert warnings_of(caplog) == [REDIRECT_WARNING]


def test_no_warning_with_the_event_hooks_or_outside_the_hosts(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    transport = httpx.MockTransport(redirecting)
    hooks = auth.httpx_event_hooks()
    with httpx.Client(
        transport=transport, auth=auth, follow_redirects=True, event_hooks=hooks
    ) as client:
        assert client.get(URL).status_code == 200
    assert warnings_of(caplog) == []
    with httpx.Client(transport=transport, auth=auth, follow_redirects=True) as client:
        assert client.get("https://example.com/start").status_code == 200
    assert all("redirect" not in message for message in warnings_of(caplog))
