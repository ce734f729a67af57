"""The command line against hostile servers, hostile files and closed pipes: a server's
bytes never reach the terminal raw, and nothing ends in a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kalshi_auth._check import diagnose
from kalshi_auth._text import printable
from kalshi_auth.testing import KalshiTestServer, private_key_pem
from tests.cli.test_cli import KEY_ID, assert_one_line_error, creds, run
from tests.helpers.key_corpus import encrypted_openssh_pem, unknown_algorithm_pkcs8
from tests.helpers.loopback import serving

pytestmark = pytest.mark.slow  # the command line as subprocesses

NOT_FOUND = {"error": {"code": "authentication_error", "details": "NOT_FOUND"}}
ESC = "\x1b"


@contextmanager
def answering(status: int, body: bytes, content_type: str = "text/html") -> Iterator[str]:
    """A server that answers every request with `status` and `body`, byte for byte."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler) as url:
        yield url


def assert_terminal_safe(text: str) -> None:
    assert ESC not in text
    assert "\x07" not in text
    assert "\r" not in text
    assert "Traceback" not in text
    for line in text.splitlines():
        assert len(line) < 400, line


EVIL = f"{ESC}]0;pwned{ESC}\\{ESC}[2J\r\nX-Injected: 1\x07" + "A" * 500


@pytest.mark.parametrize(
    ("status", "body", "content_type", "words"),
    [
        (404, f"<html>{EVIL}</html>".encode(), "text/html", "HTTP 404"),
        (200, f"<html>{EVIL}</html>".encode(), "text/html", "not JSON"),
        (500, f"plain {EVIL}".encode(), "text/plain", "not JSON"),
        (401, b'{"error": "' + EVIL.encode("unicode_escape") + b'"}', "application/json", ""),
        (418, b'{"x": "' + EVIL.encode("unicode_escape") + b'"}', "application/json", ""),
        (200, b'{"balance": "' + EVIL.encode("unicode_escape") + b'"}', "application/json", ""),
    ],
)
def test_check_never_prints_a_servers_raw_bytes(
    kalshi_rsa_key: rsa.RSAPrivateKey, status: int, body: bytes, content_type: str, words: str
) -> None:
    with answering(status, body, content_type) as url:
        done = run("check", "--base-url", url, env=creds(kalshi_rsa_key))
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert_terminal_safe(done.stdout + done.stderr)
    assert words in done.stdout
    if words:
        assert "base URL is probably wrong" in done.stdout


def test_printable() -> None:
    assert printable("a\x1b[31mb\nc\u202ed") == "a?[31mb?c?d"
    assert len(printable("x" * 1000)) == 120
    assert printable("x" * 1000).endswith("...")
    assert printable(b"\x00") == "b'\\x00'"  # bytes show as their repr: no raw byte


@pytest.mark.parametrize("base", ["external-api.kalshi.com", "ftp://x/y", "//x", "http://"])
def test_check_base_url_needs_http_or_https(kalshi_rsa_key: rsa.RSAPrivateKey, base: str) -> None:
    done = run("check", "--base-url", base, env=creds(kalshi_rsa_key))
    assert_one_line_error(done, 2, "http:// or https://")


@pytest.mark.parametrize(
    ("host", "advice"),
    [
        ("external-api.kalshi.com", "try --demo"),
        ("api.elections.kalshi.com", "try --demo"),
        ("external-api.demo.kalshi.co", "try --prod"),
        ("demo-api.kalshi.co", "try --demo"),  # not under .demo.: no guess about which
        ("127.0.0.1:8080", None),
        ("kalshi.com.example.net", None),
    ],
)
def test_environment_advice_only_for_kalshis_hosts(host: str, advice: str | None) -> None:
    cause, fix = diagnose(401, NOT_FOUND, key_id=KEY_ID, host=host, offset_ms=None)
    if advice is None:
        assert "--demo" not in cause + fix
        assert "--prod" not in cause + fix
    else:
        assert advice in fix
        assert "demo key fails on production" in cause


def test_the_clock_warning_is_printed_once(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as server:
        server.clock_offset_ms = 75_000
        done = run("check", "--base-url", server.base_url, env=creds(kalshi_rsa_key))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""  # the library's own warning stays quiet
    assert done.stdout.count("Warning:") == 1
    assert done.stdout.count("timestamp") == 1


def test_headers_outside_the_default_scope_warns_on_stderr(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    done = run("headers", "GET", "https://api.example.com/v1/x", env=creds(kalshi_rsa_key))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("KALSHI-ACCESS-") == 3
    assert done.stderr.count("\n") == 1
    assert "warning" in done.stderr
    assert "api.example.com" in done.stderr
    inside = run("headers", "GET", "https://external-api.kalshi.com/x", env=creds(kalshi_rsa_key))
    assert inside.stderr == ""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_a_closed_pipe_is_no_traceback(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        done = subprocess.run(
            [sys.executable, "-m", "kalshi_auth", "headers", "GET", "/x"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, **creds(kalshi_rsa_key)},
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr
    assert done.stderr == ""
    assert done.returncode == 141


# --- inspect-key on anything ----------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_inspect_dev_zero() -> None:
    assert_one_line_error(run("inspect-key", "/dev/zero"), 2, "not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_inspect_a_fifo_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    assert_one_line_error(run("inspect-key", str(fifo)), 2, "FIFO")


def test_inspect_a_missing_file_names_no_path(tmp_path: Path) -> None:
    done = run("inspect-key", str(tmp_path / "MIIEsecret"))
    assert_one_line_error(done, 2, "does not exist")
    assert "MIIEsecret" not in done.stderr


def test_inspect_too_much_stdin() -> None:
    assert_one_line_error(run("inspect-key", "-", stdin=b"A" * 70_000), 2, "not a key")


@pytest.mark.parametrize(
    "content",
    [
        "encrypted-openssh",
        "unknown-algorithm",
        "binary",
        "utf-16",
        "nul-bytes",
        "ed25519-in-utf-16",
    ],
)
def test_inspect_never_tracebacks(
    content: str,
    tmp_path: Path,
    kalshi_rsa_key: rsa.RSAPrivateKey,
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    data = {
        "encrypted-openssh": encrypted_openssh_pem().encode(),
        "unknown-algorithm": unknown_algorithm_pkcs8().encode(),
        "binary": bytes(range(256)) * 40,
        "utf-16": private_key_pem(kalshi_rsa_key, encoding="pkcs1").decode().encode("utf-16"),
        "nul-bytes": b"\x00" * 5000,
        "ed25519-in-utf-16": private_key_pem(kalshi_ed25519_key).decode().encode("utf-16"),
    }[content]
    path = tmp_path / "key"
    path.write_bytes(data)
    done = run("inspect-key", str(path))
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert "usable:" in done.stdout
    if content.endswith("utf-16"):
        assert done.returncode == 0, done.stdout
