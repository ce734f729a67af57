"""`kalshi-auth demo`: sign requests through every client against a local verifying server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import TextIO

import httpx
import requests

from ._auth import KalshiAuth
from .testing import KalshiTestServer, generate_ed25519_key, generate_rsa_key, private_key_pem

__all__ = ["run_demo"]


def run_demo(out: TextIO) -> int:
    """Run the demo, writing to `out`; return 0 if the server accepted every request."""
    rsa_key, ed_key = generate_rsa_key(), generate_ed25519_key()
    rsa_id, ed_id = str(uuid.uuid4()), str(uuid.uuid4())
    # Loaded from PEM text in PKCS#1, exactly what Kalshi's web UI downloads.
    auth = KalshiAuth(rsa_id, private_key_pem(rsa_key, encoding="pkcs1").decode())
    ed_auth = KalshiAuth(ed_id, private_key_pem(ed_key).decode())

    with KalshiTestServer({rsa_id: rsa_key, ed_id: ed_key}) as server:
        base = server.base_url

        def with_requests() -> None:
            requests.get(f"{base}/markets", params={"limit": 5}, auth=auth, timeout=10)

        def with_session() -> None:
            with requests.Session() as session:
                session.auth = auth
                session.params = {"status": "open"}
                session.get(f"{base}/portfolio/orders", params={"limit": 5}, timeout=10)

        def with_httpx() -> None:
            with httpx.Client(base_url=base, auth=auth) as client:
                client.get("/portfolio/balance")

        def with_httpx_async() -> None:
            async def go() -> None:
                async with httpx.AsyncClient(base_url=base, auth=auth) as client:
                    await client.post("/portfolio/orders", json={"ticker": "DEMO", "count": 1})

            asyncio.run(go())

        def with_ed25519() -> None:
            with httpx.Client(base_url=base, auth=ed_auth) as client:
                client.get("/exchange/status")

        cases: list[tuple[str, Callable[[], None]]] = [
            ("requests.get(params=...)", with_requests),
            ("requests.Session + params", with_session),
            ("httpx.Client(base_url=...)", with_httpx),
            ("httpx.AsyncClient, POST json", with_httpx_async),
            ("httpx.Client, Ed25519 key", with_ed25519),
        ]
        out.write(
            f"kalshi-auth demo: throwaway {auth.key_type} and Ed25519 keys, and a local server "
            f"at {server.url} that verifies signatures as Kalshi does\n"
            "(query string not signed, timestamp within 10 s past / 30 s ahead).\n\n"
        )
        rejected = 0
        for name, send in cases:
            seen = len(server.requests)
            try:
                send()
            except (requests.RequestException, httpx.HTTPError) as exc:
                out.write(f"{name}\n  error    {type(exc).__name__}: {exc}\n\n")
                rejected += 1
                continue
            for record in server.requests[seen:]:
                verdict = record.verdict
                status = "accepted" if verdict.accepted else "REJECTED"
                out.write(f"{name}\n  sent     {record.method} {record.target}\n")
                out.write(f"  signed   {verdict.message}\n")
                out.write(f"  server   {verdict.status} {status}: {verdict.reason}\n\n")
                rejected += not verdict.accepted
        total = len(cases)
        if rejected:
            out.write(f"{rejected} of {total} requests were rejected.\n")
            return 1
        out.write(f"All {total} requests verified.\n")
        return 0
