"""`kalshi-auth check`: one signed request to Kalshi, and the cause of a failure in words.

Whatever the server sends is shown only through `printable`: one line, no
control characters, cut short. A server's raw bytes never reach the terminal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

from ._auth import KalshiAuth
from ._clock import date_header_ms, describe_offset
from ._scope import HostScope, origin_of
from ._text import printable

__all__ = [
    "DEMO_BASE_URL",
    "PROD_BASE_URL",
    "diagnose",
    "is_kalshi_host",
    "rest_base_url",
    "run_check",
]

PROD_BASE_URL = "https://external-api.kalshi.com/trade-api/v2"
DEMO_BASE_URL = "https://external-api.demo.kalshi.co/trade-api/v2"
BALANCE_PATH = "/portfolio/balance"
_SKEW_WORTH_NOTING_MS = 2_000
_SYNC_CLOCK = "for example `sudo timedatectl set-ntp true`, or `sudo chronyc makestep`"
_SERVER = "the server's"


_KALSHI_DOMAINS = HostScope(("kalshi.com", "kalshi.co"))


def is_kalshi_host(netloc: str) -> bool:
    """Whether `netloc` (``host`` or ``host:port``) is on one of Kalshi's own domains."""
    return origin_of("//" + netloc).host in _KALSHI_DOMAINS


def rest_base_url(url: str) -> str:
    """`url` as a REST base: Kalshi's ``/trade-api/v2`` prefix added to a bare origin."""
    url = url.rstrip("/")
    return url if urlsplit(url).path else url + "/trade-api/v2"


def diagnose(  # noqa: PLR0911 (one return per cause reads best)
    status: int, body: Any, *, key_id: str, host: str, offset_ms: int | None
) -> tuple[str, str]:
    """(cause, fix) in words for a failed response; `body` is parsed JSON or None."""
    if status == 404 or not isinstance(body, dict):
        what = "HTTP 404" if status == 404 else "an answer that is not JSON"
        return (
            f"{host} sent {what}: the base URL is probably wrong (it is not Kalshi's REST "
            "API, or lacks /trade-api/v2).",
            f"use --prod or --demo, or a --base-url such as {PROD_BASE_URL}",
        )
    error = body.get("error")
    code = str(error.get("code", "")) if isinstance(error, dict) else ""
    details = str(error.get("details", "")) if isinstance(error, dict) else ""
    if status == 401 and "INCORRECT_API_KEY_SIGNATURE" in details:
        return (
            f"{host} knows key id {key_id} but the signature does not verify: the private key "
            "is not the one created with this key id, or it was altered when copied.",
            "use the private key file downloaded when this key id was created; "
            "`kalshi-auth inspect-key FILE` shows what a file holds",
        )
    if status == 401 and "NOT_FOUND" in details:
        return _unknown_key(key_id, host)
    if status == 401 and code == "header_timestamp_expired":
        measured = (
            f"{describe_offset(offset_ms, _SERVER)} (from its Date header)"
            if offset_ms is not None
            else "the offset could not be measured (no Date header)"
        )
        return (
            f"the server rejected the timestamp as expired: {measured}. Kalshi accepts only a "
            "few seconds of difference.",
            f"sync this machine's clock ({_SYNC_CLOCK})",
        )
    if status == 401 and code == "signature_is_missing_from_headers":
        return (
            "the request reached the server without a signature (a proxy may strip headers).",
            "send the request directly, or let the proxy pass KALSHI-ACCESS-* headers",
        )
    if status == 403:
        return (
            f"key id {key_id} may not read the portfolio.",
            "give the key the read scope, or use a key that has it",
        )
    if status == 429:
        return ("the rate limit was hit.", "wait a few seconds and try again")
    return (f"unexpected answer HTTP {status}: {printable(body)}", "see docs/troubleshooting.md")


def _unknown_key(key_id: str, host: str) -> tuple[str, str]:
    if not is_kalshi_host(host):
        return (
            f"{host} does not know key id {key_id}.",
            "check KALSHI_API_KEY_ID, and that this server has the key's public half",
        )
    other = "--prod" if ".demo." in f".{host}" else "--demo"
    return (
        f"{host} does not know key id {key_id}. Keys belong to one environment: a demo "
        "key fails on production and a production key fails on demo.",
        f"check KALSHI_API_KEY_ID, or try {other}",
    )


def run_check(auth: KalshiAuth, base_url: str, out: TextIO, err: TextIO) -> int:
    """GET the balance with `auth`; report; return 0 if accepted, 1 if not, 3 if unreachable."""
    url = rest_base_url(base_url) + BALANCE_PATH
    host = printable(urlsplit(url).netloc)
    out.write(f"Checking key {auth.key_id} ({auth.key_type}) with GET {printable(url, 300)}\n")
    try:
        # This command reports the clock itself, once: the library's own warning stays quiet.
        with _library_quiet(), httpx.Client(timeout=10.0) as client:
            sent = time.time()
            response = client.get(url, auth=auth)
            local_ms = int((sent + time.time()) * 500)
    except httpx.TimeoutException:
        err.write(f"kalshi-auth: error: {host} did not answer within 10 s\n")
        return 3
    except httpx.HTTPError as exc:
        err.write(f"kalshi-auth: error: cannot reach {host}: {printable(exc or type(exc))}\n")
        return 3
    server_ms = date_header_ms(response.headers.get("Date"))
    offset_ms = None if server_ms is None else server_ms - local_ms
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict):
        _report_success(
            auth=auth, response=response, body=body, offset_ms=offset_ms, host=host, out=out
        )
        return 0
    cause, fix = diagnose(
        response.status_code, body, key_id=auth.key_id, host=host, offset_ms=offset_ms
    )
    out.write(f"FAILED: HTTP {response.status_code}: {cause}\nFix: {fix}\n")
    return 1


def _report_success(
    *,
    auth: KalshiAuth,
    response: httpx.Response,
    body: dict[str, Any],
    offset_ms: int | None,
    host: str,
    out: TextIO,
) -> None:
    cents = body.get("balance")
    balance = f"${cents / 100:,.2f}" if isinstance(cents, int) else printable(cents, 40)
    out.write(f"OK: {host} accepted the signature. Balance: {balance}\n")
    if any(hop.status_code == 401 for hop in response.history):
        out.write(
            "Warning: the server rejected the first attempt's timestamp: "
            f"{describe_offset(auth.clock_offset_ms, _SERVER)}. kalshi-auth re-sent it with "
            f"the server's time, but sync the clock: {_SYNC_CLOCK}.\n"
        )
    elif offset_ms is not None and abs(offset_ms) >= _SKEW_WORTH_NOTING_MS:
        out.write(
            f"Warning: {describe_offset(offset_ms, _SERVER)}; sync it before it causes 401s.\n"
        )


@contextmanager
def _library_quiet() -> Iterator[None]:
    """Hold back the kalshi_auth logger's warnings for the duration."""
    library = logging.getLogger("kalshi_auth")
    was = library.disabled
    library.disabled = True
    try:
        yield
    finally:
        library.disabled = was
