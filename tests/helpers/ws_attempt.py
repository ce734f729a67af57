"""The headers `kalshi_auth.websockets.connect` sends on one attempt, without a server."""

from __future__ import annotations

import socket

from websockets.asyncio.client import connect as websockets_connect

from kalshi_auth import KalshiAuth
from kalshi_auth.websockets import connect


async def attempt_headers(url: str, auth: KalshiAuth) -> dict[str, str]:
    """The handshake headers of one real attempt at `url`, aimed at a loopback port where
    nothing listens: the attempt is signed as it opens its connection, then fails fast."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    attempt = connect(url, auth, host="127.0.0.1", port=port)
    # websockets 17 opens each attempt's connection in open_tcp_connection, 15 and 16 in
    # create_connection; kalshi_auth's connect signs in whichever the installed one calls.
    newer = hasattr(websockets_connect, "open_tcp_connection")
    opens = attempt.open_tcp_connection if newer else attempt.create_connection
    try:
        await opens()
    except ConnectionRefusedError:
        pass
    else:  # pragma: no cover - nothing listens there
        raise AssertionError("a connection opened to a closed port")
    return dict(attempt.additional_headers.raw_items())
