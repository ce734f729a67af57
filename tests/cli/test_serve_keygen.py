"""`kalshi-auth serve` and `kalshi-auth keygen`, run as a user runs them: subprocesses,
with requests sent from other processes (curl, Node, the CLI itself)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kalshi_auth import KalshiAuth
from kalshi_auth.testing import generate_rsa_key, private_key_pem
from tests.cli.test_cli import assert_one_line_error, run
from tests.helpers.keys import signs_verifiably

pytestmark = pytest.mark.slow  # kalshi-auth serve and keygen as subprocesses

DOCS = Path(__file__).resolve().parents[2] / "docs"


@dataclass
class Serving:
    process: subprocess.Popen[str]
    base_url: str
    intro: list[str]

    def env(self) -> dict[str, str]:
        key_id = self.intro[1].split()[2]
        key_path = self.intro[2].split()[2]
        return {
            "KALSHI_API_KEY_ID": key_id,
            "KALSHI_PRIVATE_KEY_PATH": key_path,
            "KALSHI_BASE_URL": self.base_url,
        }

    def stop(self) -> str:
        """Ctrl-C, then everything it printed after its introduction."""
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=30)
        assert "Traceback" not in err, err
        assert self.process.returncode == 0, err
        return out


def start_serve(*args: str) -> Serving:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "kalshi_auth", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean,
    )
    assert process.stdout is not None
    intro = []
    for line in process.stdout:
        intro.append(line.rstrip("\n"))
        if "Ctrl-C stops" in line:
            break
    assert intro, process.stderr.read() if process.stderr else ""
    return Serving(process, intro[0], intro)


@pytest.fixture
def serving() -> Iterator[Serving]:
    s = start_serve()
    yield s
    if s.process.poll() is None:
        s.process.kill()
        s.process.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child")
def test_serve_with_a_throwaway_key(serving: Serving) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/trade-api/v2", serving.base_url)
    env = serving.env()
    key_path = Path(env["KALSHI_PRIVATE_KEY_PATH"])
    assert key_path.exists()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    # Another process, the CLI itself, checks against it.
    check = run("check", "--base-url", serving.base_url, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    # A raw request whose target holds control characters is not HTTP: refused with 400
    # before it reaches the verifier, and none of it printed.
    host, port = serving.base_url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /trade-api/v2/x\x1b[31m\x07 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    printed = serving.stop()
    lines = printed.splitlines()
    assert lines == [
        "GET /trade-api/v2/portfolio/balance -> 200 accepted: signature verified",
        "stopped",
    ]
    assert "\x1b" not in printed
    assert not key_path.exists()  # the throwaway key is gone with the server


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to a child")
def test_sigterm_stops_serve_and_deletes_its_throwaway_key(serving: Serving) -> None:
    key_path = Path(serving.env()["KALSHI_PRIVATE_KEY_PATH"])
    assert key_path.exists()
    serving.process.send_signal(signal.SIGTERM)
    out, err = serving.process.communicate(timeout=30)
    assert serving.process.returncode == 0, err
    assert "Traceback" not in err, err
    assert out.splitlines()[-1] == "stopped"
    assert not key_path.exists()
    assert not key_path.parent.exists()  # its scratch directory too


def doc_block(marker: str) -> str:
    text = (DOCS / "testing.md").read_text()
    after = text.split(f"<!-- {marker} -->", 1)[1]
    return after.split("```", 2)[1].split("\n", 1)[1]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_documented_curl_command_verifies(serving: Serving) -> None:
    env = {**os.environ, **serving.env()}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # kalshi-auth
    done = subprocess.run(
        ["bash", "-c", doc_block("serve-curl")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"balance": 100000' in done.stdout
    assert "200 accepted" in serving.stop()


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_the_documented_node_example_verifies(serving: Serving, tmp_path: Path) -> None:
    script = tmp_path / "kalshi-sign.mjs"
    script.write_text(doc_block("serve-node"))
    done = subprocess.run(
        ["node", str(script)],
        env={**os.environ, **serving.env()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("200 "), done.stdout
    printed = serving.stop()
    assert "GET /trade-api/v2/portfolio/fills?limit=5 -> 200 accepted" in printed


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child")
def test_serve_with_your_own_keys(tmp_path: Path) -> None:
    mine, other = generate_rsa_key(), generate_rsa_key()
    public = tmp_path / "public.pem"
    public.write_bytes(
        mine.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    private = tmp_path / "private.pem"
    private.write_bytes(private_key_pem(other))
    serving = start_serve("--key", f"mine={public}", "--key", f"other={private}")
    try:
        assert serving.intro[1] == "keys:        2 registered"
        env = {"KALSHI_API_KEY_ID": "mine", "KALSHI_PRIVATE_KEY": private_key_pem(mine).decode()}
        assert run("check", "--base-url", serving.base_url, env=env).returncode == 0
        env["KALSHI_PRIVATE_KEY"] = private_key_pem(other).decode()  # the wrong key for "mine"
        assert run("check", "--base-url", serving.base_url, env=env).returncode == 1
    finally:
        printed = serving.stop()
    assert "200 accepted" in printed
    assert "401 REJECTED: signature does not verify" in printed


def test_serve_usage_errors(tmp_path: Path) -> None:
    assert_one_line_error(run("serve", "--key", "no-equals-sign"), 2, "KEY_ID=PUBLIC_KEY_FILE")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    assert_one_line_error(run("serve", "--key", f"k={junk}"), 2, "holds no RSA or Ed25519")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert_one_line_error(run("serve", "--port", port), 2, "cannot listen")


# --- keygen ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["ed25519", "rsa"])
def test_keygen_writes_a_private_file_and_prints_the_public_key(
    tmp_path: Path, key_type: str
) -> None:
    out = tmp_path / "new-key.pem"
    done = run("keygen", "--type", key_type, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    public_pem = re.search(
        r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", done.stdout, re.S
    )
    assert public_pem is not None
    public = serialization.load_pem_public_key(public_pem.group(0).encode())
    expected = ed25519.Ed25519PublicKey if key_type == "ed25519" else rsa.RSAPublicKey
    assert isinstance(public, expected)
    assert isinstance(public, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey))
    assert signs_verifiably(KalshiAuth("k", out), public)
    assert f"KALSHI_PRIVATE_KEY_PATH={out}" in done.stdout
    assert "kalshi-auth check" in done.stdout
    assert ("ten times faster" in done.stdout) is (key_type == "ed25519")
    assert "PRIVATE KEY" not in done.stdout


def test_keygen_defaults_to_ed25519_and_never_overwrites(tmp_path: Path) -> None:
    first = subprocess.run(
        [sys.executable, "-m", "kalshi_auth", "keygen"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "kalshi-key.pem"
    before = key_file.read_bytes()
    assert b"BEGIN PRIVATE KEY" in before
    assert KalshiAuth("k", key_file).key_type == "Ed25519"
    again = run("keygen", "--out", str(key_file))
    assert_one_line_error(again, 2, "never overwrites")
    assert key_file.read_bytes() == before
