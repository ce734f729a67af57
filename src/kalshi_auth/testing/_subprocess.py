"""The verifying server in a process of its own, for load tests and benchmarks.

In the test process, the server's threads and your client's threads share one
GIL: under load each slows the other and delays requests by seconds. Kalshi's
server runs elsewhere; so does this one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization

from ._endpoint import API_PREFIX
from ._verifier import public_key_of

__all__ = ["ServerProcess", "server_process"]

_SERVE = """
import json, sys
from kalshi_auth.testing import KalshiTestServer, KalshiVerifier
verifier = KalshiVerifier(max_past_ms=int(sys.argv[1]), max_future_ms=int(sys.argv[2]))
rejected = []
def note(record):
    if not record.verdict.accepted and len(rejected) < 20:
        rejected.append(record.verdict.reason)
keys = json.loads(sys.stdin.readline())
with KalshiTestServer(keys, verifier=verifier, max_recorded=0, on_request=note) as server:
    print(server.url, flush=True)
    sys.stdin.readline()
    total = server.requests.total
print(json.dumps({"total": total, "rejected": rejected}), flush=True)
"""


@dataclass
class ServerProcess:
    """A running `server_process`; `summary` is filled in when it stops."""

    url: str
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """The origin plus Kalshi's REST prefix, ``/trade-api/v2``."""
        return self.url + API_PREFIX


@contextmanager
def server_process(
    keys: Mapping[str, object], *, max_past_ms: int = 10_000, max_future_ms: int = 30_000
) -> Iterator[ServerProcess]:
    """Run a `KalshiTestServer` that knows `keys` in a subprocess.

    `keys` maps key ids to keys (public or private key objects, or PEM); only
    the public keys cross to the subprocess. On exit, ``summary`` holds
    ``total`` (requests seen) and ``rejected`` (the first 20 reasons).
    """
    public = {
        key_id: public_key_of(key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
        for key_id, key in keys.items()
    }
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", _SERVE, str(max_past_ms), str(max_future_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    stdin, stdout = proc.stdin, proc.stdout
    if stdin is None or stdout is None:  # pragma: no cover - PIPE always gives both
        raise RuntimeError("could not talk to the server process")
    try:
        stdin.write(json.dumps(public) + "\n")
        stdin.flush()
        handle = ServerProcess(stdout.readline().strip())
        if not handle.url.startswith("http://"):
            raise RuntimeError(f"the server process did not start: {handle.url!r}")
        yield handle
        stdin.write("stop\n")
        stdin.flush()
        handle.summary = json.loads(stdout.readline())
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stdin.close()
        stdout.close()
