"""The `kalshi-auth` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from kalshi_auth._inspect import public_key_fingerprint
from kalshi_auth.testing import (
    TIMESTAMP_EXPIRED,
    KalshiTestServer,
    KalshiVerifier,
    Verdict,
    generate_rsa_key,
    private_key_pem,
)
from tests.helpers.keys import PASSWORD, assert_no_key_material
from tests.keys.test_keys import self_signed_certificate

pytestmark = pytest.mark.slow  # the command line as subprocesses

KEY_ID = "3f1a2b3c-4d5e-4f60-8172-839405a6b7c8"


def run(
    *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    return subprocess.run(
        [sys.executable, "-m", "kalshi_auth", *args],
        capture_output=True,
        input=stdin.decode() if stdin is not None else None,
        text=True,
        timeout=120,
        check=False,
        env={**clean, **(env or {})},
    )


def creds(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> dict[str, str]:
    return {"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY": private_key_pem(key).decode()}


def assert_one_line_error(done: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert done.returncode == code, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert words in done.stderr


# --- demo and help --------------------------------------------------------------------------


def test_demo_verifies_every_client() -> None:
    done = run("demo")
    assert done.returncode == 0, done.stdout + done.stderr
    for client in ("requests.get", "requests.Session", "httpx.Client", "httpx.AsyncClient"):
        assert client in done.stdout
    assert done.stdout.count("200 accepted") == 5
    assert "signed   " in done.stdout
    assert "All 5 requests verified." in done.stdout
    assert "PRIVATE KEY" not in done.stdout + done.stderr


@pytest.mark.parametrize("command", ["demo", "headers", "check", "inspect-key", "serve", "keygen"])
def test_every_command_has_help(command: str) -> None:
    done = run(command, "--help")
    assert done.returncode == 0
    assert f"kalshi-auth {command}" in done.stdout
    assert "exit codes" in done.stdout


def test_usage_errors_are_one_line() -> None:
    assert "COMMAND" in run("--help").stdout
    assert run().returncode == 2
    assert_one_line_error(run("nonsense"), 2, "invalid choice")
    assert_one_line_error(run("headers", "GET"), 2, "required")
    assert_one_line_error(run("check", "--demo", "--prod"), 2, "not allowed")


# --- headers --------------------------------------------------------------------------------


def test_headers_plain_json_and_curl(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    env = creds(kalshi_rsa_key)
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as server:
        url = f"{server.base_url}/portfolio/balance"
        plain = run("headers", "get", url, env=env)
        assert plain.returncode == 0, plain.stderr
        lines = dict(line.split(": ", 1) for line in plain.stdout.splitlines())
        assert server.verifier.verify("GET", "/trade-api/v2/portfolio/balance", lines).accepted

        as_json = run("headers", "GET", "/trade-api/v2/portfolio/balance", "--json", env=env)
        headers = json.loads(as_json.stdout)
        assert server.verifier.verify("GET", "/trade-api/v2/portfolio/balance", headers).accepted

        curl = run("headers", "GET", url + "?limit=1", "--curl", env=env)
        assert curl.returncode == 0, curl.stderr
        argv = shlex.split(curl.stdout)
        assert argv[0] == "curl"
        if shutil.which("curl"):
            answer = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
            assert json.loads(answer.stdout)["balance"] == 100_000
        assert server.requests[-1].verdict.accepted
    assert_no_key_material(
        plain.stdout + as_json.stdout + curl.stdout, private_key_pem(kalshi_rsa_key)
    )


def test_headers_errors(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    assert_one_line_error(run("headers", "GET", "/x"), 2, "KALSHI_API_KEY_ID is not set")
    env = creds(kalshi_rsa_key)
    assert_one_line_error(run("headers", "G T", "/x", env=env), 2, "METHOD")
    assert_one_line_error(run("headers", "GET", "/x", "--curl", env=env), 2, "absolute URL")
    assert_one_line_error(run("headers", "GET", "x", env=env), 2, "must be a path starting with /")
    bad_key = {**env, "KALSHI_PRIVATE_KEY": env["KALSHI_PRIVATE_KEY"][:60]}
    done = run("headers", "GET", "/x", env=bad_key)
    assert_one_line_error(done, 2, "truncated")
    assert_no_key_material(done.stderr, private_key_pem(kalshi_rsa_key))


# --- check ----------------------------------------------------------------------------------


def test_check_success_prints_balance(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as server:
        done = run("check", "--base-url", server.url, env=creds(kalshi_rsa_key))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK:" in done.stdout
    assert "$1,000.00" in done.stdout
    assert "Warning" not in done.stdout
    assert server.requests[0].target == "/trade-api/v2/portfolio/balance"


def test_check_wrong_key(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    with KalshiTestServer({KEY_ID: generate_rsa_key()}) as server:
        done = run("check", "--base-url", server.base_url, env=creds(kalshi_rsa_key))
    assert done.returncode == 1
    assert "signature does not verify" in done.stdout
    assert "inspect-key" in done.stdout


def test_check_unknown_key_id(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    with KalshiTestServer() as server:
        done = run("check", "--base-url", server.base_url, env=creds(kalshi_rsa_key))
    assert done.returncode == 1
    assert f"does not know key id {KEY_ID}" in done.stdout
    # Not one of Kalshi's hosts: no advice to switch between Kalshi's environments.
    assert "--demo" not in done.stdout
    assert "--prod" not in done.stdout
    assert "public half" in done.stdout


def reported_offset(stdout: str) -> int:
    return int(stdout.split("about ", 1)[1].split(maxsplit=1)[0])


@pytest.mark.parametrize(("offset_s", "side"), [(120, "behind"), (-120, "ahead of")])
def test_check_reports_skew_that_the_resend_rescued(
    kalshi_rsa_key: rsa.RSAPrivateKey, offset_s: int, side: str
) -> None:
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as server:
        server.clock_offset_ms = offset_s * 1000
        done = run("check", "--base-url", server.base_url, env=creds(kalshi_rsa_key))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK:" in done.stdout
    assert "rejected the first attempt's timestamp" in done.stdout
    assert abs(reported_offset(done.stdout) - abs(offset_s)) <= 2, done.stdout
    assert f"s {side} the server's" in done.stdout
    assert "sync the clock" in done.stdout
    assert [r.verdict.accepted for r in server.requests] == [False, True]


class AlwaysExpired(KalshiVerifier):
    """A server whose clock check always fails, whatever the timestamp."""

    def verify(self, method: str, target: str, headers: Mapping[str, str]) -> Verdict:
        return Verdict(False, "always expired", TIMESTAMP_EXPIRED)


def test_check_clock_skew_not_rescued(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = AlwaysExpired(clock_offset_ms=-90_000)
    with KalshiTestServer(verifier=verifier) as server:
        done = run("check", "--base-url", server.base_url, env=creds(kalshi_rsa_key))
    assert done.returncode == 1
    assert "timestamp as expired" in done.stdout
    assert abs(reported_offset(done.stdout) - 90) <= 2, done.stdout
    assert "s ahead of the server's" in done.stdout
    assert "sync this machine's clock" in done.stdout
    assert len(server.requests) == 2  # one re-send, never a loop


def test_check_unreachable(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = run("check", "--base-url", f"http://127.0.0.1:{port}", env=creds(kalshi_rsa_key))
    assert_one_line_error(done, 3, f"cannot reach 127.0.0.1:{port}")


def test_check_without_credentials() -> None:
    assert_one_line_error(run("check", "--demo"), 2, "KALSHI_API_KEY_ID")


# --- inspect-key ----------------------------------------------------------------------------


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def fields(stdout: str) -> dict[str, str]:
    return {
        line.split(":", 1)[0]: line.split(":", 1)[1].strip()
        for line in stdout.splitlines()
        if ":" in line
    }


def test_inspect_usable_keys(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey, tmp_path: Path
) -> None:
    rsa_fp = public_key_fingerprint(kalshi_rsa_key.public_key())
    cases = [
        (
            "pkcs1.pem",
            private_key_pem(kalshi_rsa_key, encoding="pkcs1"),
            "PKCS#1",
            "RSA-2048",
            rsa_fp,
        ),
        ("pkcs8.pem", private_key_pem(kalshi_rsa_key), "PKCS#8", "RSA-2048", rsa_fp),
        (
            "ed.pem",
            private_key_pem(kalshi_ed25519_key),
            "PKCS#8",
            "Ed25519",
            public_key_fingerprint(kalshi_ed25519_key.public_key()),
        ),
    ]
    for name, data, encoding, kind, fingerprint in cases:
        done = run("inspect-key", write(tmp_path, name, data))
        assert done.returncode == 0, done.stdout
        info = fields(done.stdout)
        assert encoding in info["encoding"]
        assert info["type"] == f"{kind} private key"
        assert info["fingerprint"] == fingerprint
        assert info["usable"].startswith("yes")
        assert_no_key_material(done.stdout, data)


def test_inspect_fingerprint_matches_openssl(
    kalshi_rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    path = write(tmp_path, "k.pem", private_key_pem(kalshi_rsa_key))
    der = subprocess.run(
        ["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout
    assert fields(run("inspect-key", path).stdout)["fingerprint"] == (
        "sha256:" + hashlib.sha256(der).hexdigest()
    )


def test_inspect_encrypted_key_and_stdin(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    data = private_key_pem(kalshi_rsa_key, password=PASSWORD)
    locked = run("inspect-key", "-", stdin=data)
    assert locked.returncode == 1
    info = fields(locked.stdout)
    assert info["encoding"].startswith("encrypted PKCS#8")
    assert "KALSHI_PRIVATE_KEY_PASSWORD" in info["fix"]
    unlocked = run("inspect-key", "-", stdin=data, env={"KALSHI_PRIVATE_KEY_PASSWORD": PASSWORD})
    assert unlocked.returncode == 0
    assert fields(unlocked.stdout)["fingerprint"] == public_key_fingerprint(
        kalshi_rsa_key.public_key()
    )


def test_inspect_openssh_key_is_usable_and_gives_a_working_conversion(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, tmp_path: Path
) -> None:
    openssh = kalshi_ed25519_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    path = write(tmp_path, "id_ed25519", openssh)
    done = run("inspect-key", path)
    assert done.returncode == 0, done.stdout
    info = fields(done.stdout)
    assert info["encoding"].startswith("OpenSSH private key")
    assert info["type"] == "Ed25519 private key"
    assert info["usable"].startswith("yes")
    command = info["note"].split("convert it: ", 1)[1]
    command = command.replace("python3", shlex.quote(sys.executable), 1)
    subprocess.run(command, shell=True, cwd=tmp_path, check=True)
    converted = run("inspect-key", str(tmp_path / "kalshi-key.pem"))
    assert converted.returncode == 0, converted.stdout
    assert fields(converted.stdout)["fingerprint"] == info["fingerprint"]


def test_inspect_unusable_files(kalshi_rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pkcs1 = private_key_pem(kalshi_rsa_key, encoding="pkcs1")
    cases = {
        "public key": (
            kalshi_rsa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            "RSA-2048 public key",
            "saved when the API key was created",
        ),
        "certificate": (
            self_signed_certificate(kalshi_rsa_key).public_bytes(serialization.Encoding.PEM),
            "certificate for a RSA-2048 key",
            "saved when the API key was created",
        ),
        "ec key": (
            ec_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ),
            "EC (secp256r1) private key",
            "create a new API key",
        ),
        "truncated": (pkcs1[:200], None, "copy the whole key file"),
    }
    for name, (data, kind, fix) in cases.items():
        done = run("inspect-key", write(tmp_path, name.replace(" ", "_"), data))
        assert done.returncode == 1, name
        info = fields(done.stdout)
        assert info.get("type") == kind, (name, done.stdout)
        assert fix in info["fix"], (name, done.stdout)
        assert info["usable"] == "no"
        assert_no_key_material(done.stdout, pkcs1)
    assert_one_line_error(run("inspect-key", str(tmp_path / "missing.pem")), 2, "cannot read")


def test_inspect_notes_env_style_text(kalshi_rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    data = private_key_pem(kalshi_rsa_key, encoding="pkcs1").replace(b"\n", b"\\n")
    done = run("inspect-key", write(tmp_path, "env.txt", data))
    assert done.returncode == 0
    assert "literal \\n" in fields(done.stdout)["note"]
