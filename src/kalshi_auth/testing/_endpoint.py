"""What Kalshi's API does with a request, independent of how the request arrived."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from ._verifier import KalshiVerifier, Verdict, signed_path

__all__ = ["API_PREFIX", "EXCHANGE_STATUS", "KalshiEndpoint", "RecordedRequest", "balance_answer"]

API_PREFIX = "/trade-api/v2"
# The answers hold every field the newest official SDK's models require (3.34).
EXCHANGE_STATUS: dict[str, Any] = {
    "exchange_active": True,
    "trading_active": True,
    "intra_exchange_transfers_active": True,
}


def balance_answer(now_s: int) -> dict[str, Any]:
    """``GET /portfolio/balance``: $1,000.00 available, in cents and as a dollar string."""
    return {
        "balance": 100_000,
        "balance_dollars": "1000.00",
        "portfolio_value": 0,
        "updated_ts": now_s,
        "balance_breakdown": [{"exchange_index": 0, "balance": "1000.00"}],
    }


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it was received, with its verdict."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    verdict: Verdict


class KalshiEndpoint:
    """Verifies, records and answers requests; the test server and transport are built on it.

    Attributes:
        requests: every request received, in order, as `RecordedRequest` (its
            method, raw target, headers, body and the verifier's `Verdict`).
        verifier: the `KalshiVerifier` that judges them.
    """

    def __init__(
        self, keys: Mapping[str, object] | None = None, *, verifier: KalshiVerifier | None = None
    ) -> None:
        self.verifier = verifier or KalshiVerifier()
        for key_id, key in (keys or {}).items():
            self.verifier.register(key_id, key)
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def register(self, key_id: str, key: object) -> None:
        """Accept signatures by `key_id` made with `key` (public or private key, or PEM)."""
        self.verifier.register(key_id, key)

    @property
    def clock_offset_ms(self) -> int:
        """How far the server's clock is ahead of this machine's (negative: behind)."""
        return self.verifier.clock_offset_ms

    @clock_offset_ms.setter
    def clock_offset_ms(self, value: int) -> None:
        self.verifier.clock_offset_ms = value

    def date_header(self) -> str:
        """The ``Date`` header value: the (possibly shifted) server clock, from which
        clients measure their skew."""
        return formatdate(self.verifier.now_ms() / 1000, usegmt=True)

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Verify and record one request; return the status and JSON body Kalshi would send."""
        verdict = self.verifier.verify(method, target, headers)
        with self._lock:
            self.requests.append(RecordedRequest(method, target, dict(headers), body, verdict))
        if not verdict.accepted:
            return verdict.status, dict(verdict.body or {})
        return 200, self._route(method, target, body, verdict)

    def _route(self, method: str, target: str, body: bytes, verdict: Verdict) -> dict[str, Any]:
        path, _, query = target.partition("?")
        if method == "GET" and path == f"{API_PREFIX}/portfolio/balance":
            return balance_answer(self.verifier.now_ms() // 1000)
        if method == "GET" and path == f"{API_PREFIX}/exchange/status":
            return dict(EXCHANGE_STATUS)
        return {
            "method": method,
            "target": target,
            "path": signed_path(target),
            "query": query,
            "body_bytes": len(body),
            "signed": verdict.message,
            "key_id": verdict.key_id,
        }
