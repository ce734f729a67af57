"""The `kalshi-auth` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kalshi_auth", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_verifies_every_client() -> None:
    done = run("demo")
    assert done.returncode == 0, done.stdout + done.stderr
    for client in ("requests.get", "requests.Session", "httpx.Client", "httpx.AsyncClient"):
        assert client in done.stdout
    assert done.stdout.count("200 accepted") == 5
    assert "signed   " in done.stdout
    assert "All 5 requests verified." in done.stdout
    assert "PRIVATE KEY" not in done.stdout + done.stderr


def test_help_and_usage() -> None:
    assert "demo" in run("--help").stdout
    assert "local server" in run("demo", "--help").stdout
    no_command = run()
    assert no_command.returncode == 2
    assert "usage" in no_command.stdout
