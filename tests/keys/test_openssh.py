"""OpenSSH private keys (what ssh-keygen writes) load directly, encrypted ones with
password=, and inspect-key calls them usable."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import ssh

from kalshi_auth import InvalidPrivateKeyError, KalshiAuth, PrivateKeyPasswordError
from tests.cli.test_cli import fields, run
from tests.helpers.keys import signs_verifiably

KEY_ID = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"


def openssh_pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, password: str = "") -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
    ).decode()


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_openssh_keys_load_and_sign(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey, kind: str
) -> None:
    key = kalshi_rsa_key if kind == "rsa" else kalshi_ed25519_key
    plain = openssh_pem(key)
    assert plain.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    for form in (plain, plain.replace("\n", "\\n"), " ".join(plain.split("\n"))):
        assert signs_verifiably(KalshiAuth(KEY_ID, form), key)
    locked = openssh_pem(key, password="hunter2")
    assert signs_verifiably(KalshiAuth(KEY_ID, locked, password="hunter2"), key)
    with pytest.raises(PrivateKeyPasswordError, match="is encrypted"):
        KalshiAuth(KEY_ID, locked)
    with pytest.raises(PrivateKeyPasswordError, match="password is wrong"):
        KalshiAuth(KEY_ID, locked, password="wrong")
    with pytest.raises(PrivateKeyPasswordError, match="not encrypted"):
        KalshiAuth(KEY_ID, plain, password="hunter2")


@pytest.mark.slow  # runs ssh-keygen
@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
@pytest.mark.parametrize(("kind", "extra"), [("ed25519", []), ("rsa", ["-b", "2048"])])
@pytest.mark.parametrize("password", ["", "s3cret"])
def test_keys_from_ssh_keygen(tmp_path: Path, kind: str, extra: list[str], password: str) -> None:
    path = tmp_path / f"id_{kind}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *extra, "-N", password, "-C", "", "-f", str(path)],
        check=True,
        timeout=60,
    )
    auth = KalshiAuth(KEY_ID, path, password=password or None)
    public = serialization.load_ssh_public_key(path.with_suffix(".pub").read_bytes())
    assert isinstance(public, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey))
    assert signs_verifiably(auth, public)
    done = run("inspect-key", str(path), env={"KALSHI_PRIVATE_KEY_PASSWORD": password})
    assert done.returncode == 0, done.stdout + done.stderr
    info = fields(done.stdout)
    assert info["usable"].startswith("yes")
    assert info["encoding"].startswith("OpenSSH private key")


def test_without_bcrypt_the_error_names_the_extra(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    # cryptography opens encrypted OpenSSH keys with bcrypt; here it is made unimportable.
    code = (
        "import sys; sys.modules['bcrypt'] = None\n"
        "from kalshi_auth import KalshiAuth, InvalidPrivateKeyError\n"
        "try:\n"
        "    KalshiAuth('k', sys.stdin.read(), password='pw')\n"
        "except InvalidPrivateKeyError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=openssh_pem(kalshi_rsa_key, password="pw"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.startswith("InvalidPrivateKeyError ")
    assert 'pip install "kalshi-auth[openssh]"' in done.stdout
    assert "Traceback" not in done.stderr


def test_an_openssh_key_of_another_type_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(InvalidPrivateKeyError, match="elliptic-curve"):
        KalshiAuth(KEY_ID, pem)


def test_an_encrypted_openssh_key_of_an_unknown_cipher_is_not_blamed_on_bcrypt(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    text = openssh_pem(kalshi_ed25519_key, "pw")
    blob = base64.b64decode("".join(text.strip().splitlines()[1:-1]))
    assert b"aes256-ctr" in blob  # ciphername, as cryptography writes it
    unknown = blob.replace(b"aes256-ctr", b"aes999-ctr", 1)  # same length: offsets hold
    lines = textwrap.wrap(base64.b64encode(unknown).decode(), 70)
    damaged = "\n".join(
        ["-----BEGIN OPENSSH PRIVATE KEY-----", *lines, text.strip().splitlines()[-1]]
    )
    with pytest.raises(InvalidPrivateKeyError) as caught:
        KalshiAuth("id", damaged, password="pw")
    message = str(caught.value)
    assert "cipher" in message
    assert "ssh-keygen -p" in message  # the fix: take the password off
    assert "bcrypt" not in message  # installed here: not the cause


def test_an_encrypted_openssh_key_without_bcrypt_says_to_install_it(
    monkeypatch: pytest.MonkeyPatch, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    # As on a machine without bcrypt: cryptography's stand-in for its KDF (a private name,
    # pinned here: the test fails if cryptography renames it) and no module to import.
    def no_bcrypt(*args: object) -> bytes:
        raise UnsupportedAlgorithm("Need bcrypt module")

    encrypted = openssh_pem(kalshi_ed25519_key, "pw")  # made with bcrypt, opened without
    monkeypatch.setattr(ssh, "_bcrypt_kdf", no_bcrypt)
    monkeypatch.setitem(sys.modules, "bcrypt", None)
    with pytest.raises(InvalidPrivateKeyError) as caught:
        KalshiAuth("id", encrypted, password="pw")
    assert 'pip install "kalshi-auth[openssh]"' in str(caught.value)
