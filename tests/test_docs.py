"""Every Python snippet in README.md and docs/*.md runs, as written, in a fresh interpreter,
against local servers: the REST test server (KALSHI_BASE_URL) and a websockets server that
verifies handshakes like Kalshi (KALSHI_WS_URL). The working directory holds
`kalshi-key.pem`, registered under the README's key id, and KALSHI_API_KEY_ID and
KALSHI_PRIVATE_KEY_PATH name them, so snippets that read a key file or the environment run
unchanged. The REST server also stands in for Kalshi's API-keys endpoints, for the key
rotation snippet. Snippets that define pytest tests are run by pytest."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from kalshi_auth.testing import (
    KalshiTestServer,
    KalshiVerifier,
    generate_rsa_key,
    private_key_pem,
)

pytestmark = pytest.mark.slow  # every snippet in a fresh interpreter

ROOT = Path(__file__).resolve().parent.parent
README_KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def snippets() -> Iterator[object]:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            name = f"{path.relative_to(ROOT)}:{line}"
            yield pytest.param(match.group(1), id=name)


def test_every_public_entry_point_is_shown_by_a_snippet_that_runs() -> None:
    # Each of these appears in some snippet that test_snippet_runs_as_written executes, so
    # the docs cannot show a public entry point in a form that no longer works.
    code = "\n".join(str(param.values[0]) for param in snippets())  # type: ignore[attr-defined]
    for entry in (
        "KalshiAuth(",
        "KalshiAuth.from_env(",
        ".rotate(",
        ".headers(",
        "httpx_event_hooks()",
        "httpx_async_event_hooks()",
        "session_options(",
        "kalshi_auth.websockets import connect",
        "HeaderApiKey(",
        "KalshiTestServer(",
        "signer_timeout=",
    ):
        assert entry in code, f"no snippet that runs shows {entry}"


class DocsServer(KalshiTestServer):
    """The test server, also answering Kalshi's API-keys endpoints once a request is
    accepted: ``POST /api_keys/generate`` registers a new RSA key and returns its id and
    PKCS#1 PEM, as Kalshi does; ``DELETE /api_keys/{id}`` answers but keeps the key, which
    the other snippets still sign with."""

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        status, answer = super().handle(method, target, headers, body)
        path = target.partition("?")[0]
        if status != 200 or not path.startswith("/trade-api/v2/api_keys/"):
            return status, answer
        if method == "POST" and path == "/trade-api/v2/api_keys/generate":
            key, key_id = generate_rsa_key(), str(uuid.uuid4())
            self.register(key_id, key)
            pem = private_key_pem(key, encoding="pkcs1").decode()
            return 201, {"api_key_id": key_id, "private_key": pem}
        if method == "DELETE":
            return 200, {}
        return status, answer


@dataclass
class Servers:
    rest: KalshiTestServer
    ws_url: str
    handshakes: list[bool]


@pytest.fixture(scope="module")
def servers(kalshi_rsa_key: rsa.RSAPrivateKey) -> Iterator[Servers]:
    verifier = KalshiVerifier()
    verifier.register(README_KEY_ID, kalshi_rsa_key)
    handshakes: list[bool] = []
    started = threading.Event()
    stop: list[asyncio.AbstractEventLoop] = []
    address: list[str] = []

    def check(connection: ServerConnection, request: Request) -> Response | None:
        verdict = verifier.verify("GET", request.path, dict(request.headers.raw_items()))
        handshakes.append(verdict.accepted)
        return None if verdict.accepted else connection.respond(401, json.dumps(verdict.body))

    async def ticker(ws: ServerConnection) -> None:
        await ws.recv()  # the subscription
        await ws.send('{"type": "ticker", "msg": {"market_ticker": "KXDOCS", "price": 50}}')
        await ws.wait_closed()

    async def run_ws() -> None:
        async with serve(ticker, "127.0.0.1", 0, process_request=check) as server:
            address.append(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}")
            stop.append(asyncio.get_running_loop())
            started.set()
            await asyncio.Future()  # until cancelled

    thread = threading.Thread(target=lambda: asyncio.run(_until_cancelled(run_ws())))
    thread.start()
    assert started.wait(10)
    try:
        with DocsServer(verifier=verifier) as rest:
            yield Servers(rest, address[0] + "/trade-api/ws/v2", handshakes)
    finally:
        loop = stop[0]
        loop.call_soon_threadsafe(lambda: [t.cancel() for t in asyncio.all_tasks(loop)])
        thread.join(10)


async def _until_cancelled(coroutine: object) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await coroutine  # type: ignore[misc]


@pytest.mark.parametrize("code", list(snippets()))
def test_snippet_runs_as_written(
    code: str, servers: Servers, kalshi_rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    (tmp_path / "kalshi-key.pem").write_bytes(private_key_pem(kalshi_rsa_key, encoding="pkcs1"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env = {
        **clean,
        "KALSHI_API_KEY_ID": README_KEY_ID,
        "KALSHI_PRIVATE_KEY_PATH": "kalshi-key.pem",
        "KALSHI_BASE_URL": servers.rest.base_url,
        "KALSHI_WS_URL": servers.ws_url,
    }
    is_test_file = re.search(r"^def test_", code, re.M) is not None
    script = tmp_path / ("test_snippet.py" if is_test_file else "snippet.py")
    script.write_text(code, encoding="utf-8")
    seen_rest, seen_ws = len(servers.rest.requests), len(servers.handshakes)
    argv = ["-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)] if is_test_file else []
    done = subprocess.run(
        [sys.executable, *argv, *([] if is_test_file else [str(script)])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rejected = [
        r.verdict.reason for r in servers.rest.requests[seen_rest:] if not r.verdict.accepted
    ]
    assert rejected == []
    assert all(servers.handshakes[seen_ws:])
    # A snippet that talks to a server did reach it.
    if "KALSHI_WS_URL" in code:
        assert len(servers.handshakes) > seen_ws
    elif "KALSHI_BASE_URL" in code:
        assert len(servers.rest.requests) > seen_rest
