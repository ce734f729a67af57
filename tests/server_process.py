"""The verifying server in a process of its own, so that it and the clients under test
do not share one GIL: in one process, ~100 server threads starve a client's event loop
for seconds, which no real deployment does."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_SERVE = """
import json, sys
from kalshi_auth.testing import KalshiTestServer, KalshiVerifier
verifier = KalshiVerifier(max_past_ms=int(sys.argv[1]))
with KalshiTestServer(json.loads(sys.stdin.readline()), verifier=verifier) as server:
    print(server.url, flush=True)
    sys.stdin.readline()
    verdicts = [r.verdict for r in server.requests]
    rejected = [v.reason for v in verdicts if not v.accepted]
    print(json.dumps({"total": len(verdicts), "rejected": rejected[:20]}), flush=True)
"""


@dataclass
class ServerProcess:
    url: str
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.url + "/trade-api/v2"


@contextmanager
def server_process(
    public_keys: dict[str, str], *, max_past_ms: int = 10_000
) -> Iterator[ServerProcess]:
    """Run a KalshiTestServer knowing `public_keys` (key id -> PEM) in a subprocess."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(max_past_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(public_keys) + "\n")
        proc.stdin.flush()
        handle = ServerProcess(proc.stdout.readline().strip())
        assert handle.url.startswith("http://127.0.0.1:"), handle.url
        yield handle
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        handle.summary = json.loads(proc.stdout.readline())
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()
