"""The benchmark script runs and prints its tables (timings are reported, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs bench/run.py --quick in a subprocess

BENCH = Path(__file__).parent.parent / "bench" / "run.py"


def test_bench_quick_run_prints_every_table() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for heading in ("Per request", "Threads", "asyncio:", "Refusing hostile key input"):
        assert heading in done.stdout
    for row in (
        "floor: bare cryptography sign",
        "auth.headers(url)",
        "requests: auth(prepared)",
        "httpx Client: whole auth flow",
        "httpx AsyncClient: whole auth flow",
        "aiohttp: middleware",
        "external Signer, httpx Client flow (process CPU)",
        "official SDK: create_auth_headers",
        "RSA-2048, on the key's own signing thread (default)",
        "off-loop signing's extra CPU per request",
        "/dev/zero as the path",
    ):
        assert row in done.stdout
