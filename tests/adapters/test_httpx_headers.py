"""The one private attribute in use, ``httpx.Headers._list``: pinned against the public API
on the installed httpx, with the public path taken whenever the fast one does not apply."""

from __future__ import annotations

import contextlib
import gc
import weakref

import httpx
import pytest

from kalshi_auth import KalshiAuth
from kalshi_auth._httpx_headers import FAST_PATH, write_headers
from kalshi_auth.testing import KalshiVerifier, generate_ed25519_key

SIGNED = {
    "KALSHI-ACCESS-KEY": "a952bcbe-ec3b-4b5b-b8f9-11dae589608c",
    "KALSHI-ACCESS-TIMESTAMP": "1703123456789",
    "KALSHI-ACCESS-SIGNATURE": "c2lnbmF0dXJl+/==",
}


def public(headers: httpx.Headers) -> httpx.Headers:
    for name, value in SIGNED.items():
        headers[name] = value
    return headers


def test_the_fast_path_is_on_for_the_installed_httpx() -> None:
    # If this fails, httpx changed: kalshi-auth still works through the public API,
    # a few microseconds slower. Check the new httpx and update _httpx_headers.py.
    assert FAST_PATH, f"httpx {httpx.__version__}: the Headers._list fast path is off"


@pytest.mark.parametrize(
    "existing",
    [
        {},
        {"Host": "external-api.kalshi.com", "Accept": "*/*", "User-Agent": "bot"},
        {"X-Latin": "caf\u00e9".encode()},  # a header that is not ASCII
    ],
)
def test_fast_writes_equal_public_writes(existing: dict[str, str]) -> None:
    fast = httpx.Headers(existing)
    write_headers(fast, SIGNED)
    expected = public(httpx.Headers(existing))
    assert fast.raw == expected.raw
    assert fast.multi_items() == expected.multi_items()
    assert fast == expected
    for name, value in SIGNED.items():
        assert fast[name] == value
        assert fast[name.lower()] == value


def test_stale_headers_are_replaced_not_duplicated() -> None:
    stale = httpx.Headers({"kalshi-access-signature": "old", "Host": "h"})
    write_headers(stale, SIGNED)
    assert stale.get_list("KALSHI-ACCESS-SIGNATURE") == [SIGNED["KALSHI-ACCESS-SIGNATURE"]]
    assert stale.raw == public(httpx.Headers({"kalshi-access-signature": "old", "Host": "h"})).raw


def test_a_request_signed_through_the_fast_path_verifies_on_the_wire_form() -> None:
    key = generate_ed25519_key()
    auth = KalshiAuth("k", key)
    request = httpx.Request("GET", "https://external-api.kalshi.com/trade-api/v2/x?a=1")
    next(auth.sync_auth_flow(request))
    verifier = KalshiVerifier()
    verifier.register("k", key)
    assert verifier.verify_request(request).accepted
    assert len(request.headers.get_list("KALSHI-ACCESS-KEY")) == 1


def test_a_signed_request_is_freed_without_the_cycle_collector() -> None:
    # The state that travels with a request to its redirect hops must not refer back to
    # the request: a bot making thousands of requests would leave each to the collector.
    auth = KalshiAuth("k", generate_ed25519_key())
    gc.disable()
    try:
        request = httpx.Request("GET", "https://external-api.kalshi.com/trade-api/v2/x")
        steps = auth.sync_auth_flow(request)
        next(steps)
        with contextlib.suppress(StopIteration):
            steps.send(httpx.Response(200))
        alive = weakref.ref(request)
        del request, steps
        assert alive() is None
    finally:
        gc.enable()
