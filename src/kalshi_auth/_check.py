"""`kalshi-auth check`: one signed request to Kalshi, and the cause of a failure in words."""

from __future__ import annotations

import time
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

from ._auth import KalshiAuth
from ._clock import date_header_ms

__all__ = ["DEMO_BASE_URL", "PROD_BASE_URL", "clock_offset_s", "diagnose", "run_check"]

PROD_BASE_URL = "https://external-api.kalshi.com/trade-api/v2"
DEMO_BASE_URL = "https://external-api.demo.kalshi.co/trade-api/v2"
BALANCE_PATH = "/portfolio/balance"
_SKEW_WORTH_NOTING_S = 2.0
_SYNC_CLOCK = "for example `sudo timedatectl set-ntp true`, or `sudo chronyc makestep`"


def rest_base_url(url: str) -> str:
    """`url` as a REST base: Kalshi's ``/trade-api/v2`` prefix added to a bare origin."""
    url = url.rstrip("/")
    return url if urlsplit(url).path else url + "/trade-api/v2"


def clock_offset_s(response: httpx.Response, local_time: float) -> float | None:
    """Seconds the server's clock is ahead of ours, from its ``Date`` header (1 s resolution)."""
    server_ms = date_header_ms(response.headers.get("Date"))
    return None if server_ms is None else server_ms / 1000 - local_time


def describe_offset(offset: float) -> str:
    """e.g. ``this machine's clock is about 62 s behind the server's``."""
    side = "behind" if offset > 0 else "ahead of"
    return f"this machine's clock is about {abs(offset):.0f} s {side} the server's"


def diagnose(  # noqa: PLR0911 (one return per cause reads best)
    status: int, body: Any, *, key_id: str, host: str, offset: float | None
) -> tuple[str, str]:
    """(cause, fix) in words for a failed response."""
    error = body.get("error") if isinstance(body, dict) else None
    code = str(error.get("code", "")) if isinstance(error, dict) else ""
    details = str(error.get("details", "")) if isinstance(error, dict) else ""
    if status == 401 and "INCORRECT_API_KEY_SIGNATURE" in details:
        return (
            f"Kalshi knows key id {key_id} but the signature does not verify: the private key "
            "is not the one created with this key id, or it was altered when copied.",
            "use the private key file downloaded when this key id was created; "
            "`kalshi-auth inspect-key FILE` shows what a file holds",
        )
    if status == 401 and "NOT_FOUND" in details:
        other = "--demo" if "demo" not in host else "--prod"
        return (
            f"{host} does not know key id {key_id}. Keys belong to one environment: a demo "
            "key fails on production and a production key fails on demo.",
            f"check KALSHI_API_KEY_ID, or try {other}",
        )
    if status == 401 and code == "header_timestamp_expired":
        measured = (
            f"{describe_offset(offset)} (from its Date header)"
            if offset is not None
            else ("the offset could not be measured (no Date header)")
        )
        return (
            f"Kalshi rejected the timestamp as expired: {measured}. Kalshi accepts only a few "
            "seconds of difference.",
            f"sync this machine's clock ({_SYNC_CLOCK})",
        )
    if status == 401 and code == "signature_is_missing_from_headers":
        return (
            "the request reached Kalshi without a signature (a proxy may strip headers).",
            "send the request directly, or let the proxy pass KALSHI-ACCESS-* headers",
        )
    if status == 403:
        return (
            f"key id {key_id} may not read the portfolio.",
            "give the key the read scope, or use a key that has it",
        )
    if status == 429:
        return ("Kalshi's rate limit was hit.", "wait a few seconds and try again")
    text = str(body)[:200]
    return (f"unexpected answer HTTP {status}: {text}", "see docs/troubleshooting.md")


def run_check(auth: KalshiAuth, base_url: str, out: TextIO, err: TextIO) -> int:
    """GET the balance with `auth`; report; return 0 if accepted, 1 if not, 3 if unreachable."""
    url = rest_base_url(base_url) + BALANCE_PATH
    host = urlsplit(url).netloc
    out.write(f"Checking key {auth.key_id} ({auth.key_type}) with GET {url}\n")
    try:
        with httpx.Client(timeout=10.0) as client:
            sent = time.time()
            response = client.get(url, auth=auth)
            local_time = (sent + time.time()) / 2
    except httpx.TimeoutException:
        err.write(f"kalshi-auth: error: {host} did not answer within 10 s\n")
        return 3
    except httpx.HTTPError as exc:
        err.write(f"kalshi-auth: error: cannot reach {host}: {exc or type(exc).__name__}\n")
        return 3
    offset = clock_offset_s(response, local_time)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.status_code == 200 and isinstance(body, dict):
        cents = body.get("balance")
        balance = f"${cents / 100:,.2f}" if isinstance(cents, int) else repr(cents)
        out.write(f"OK: {host} accepted the signature. Balance: {balance}\n")
        rescued = any(hop.status_code == 401 for hop in response.history)
        if rescued:
            offset = auth.clock_offset_ms / 1000
            out.write(
                f"Warning: Kalshi rejected the first attempt's timestamp: {describe_offset(offset)}"
                ". kalshi-auth re-sent it with Kalshi's time, but sync the clock: "
                f"{_SYNC_CLOCK}.\n"
            )
        elif offset is not None and abs(offset) >= _SKEW_WORTH_NOTING_S:
            out.write(f"Warning: {describe_offset(offset)}; sync it before it causes 401s.\n")
        return 0
    cause, fix = diagnose(response.status_code, body, key_id=auth.key_id, host=host, offset=offset)
    out.write(f"FAILED: HTTP {response.status_code}: {cause}\nFix: {fix}\n")
    return 1
