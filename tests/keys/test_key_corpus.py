"""A corpus of keys and key ids as they arrive from real .env files, secret stores and
copy-paste: each one either loads and signs verifiably, or raises its own KalshiAuthError
with a message that holds no key material."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kalshi_auth import (
    InvalidKeyIdError,
    InvalidPrivateKeyError,
    KalshiAuth,
    KalshiAuthError,
    PrivateKeyPasswordError,
)
from kalshi_auth.testing import KalshiVerifier, private_key_pem
from tests.helpers.keys import assert_no_key_material, signs_verifiably

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"


@dataclass(frozen=True)
class Case:
    name: str
    private_key: str
    expected: type[KalshiAuthError] | None  # None: it loads and signs
    key_id: str = KEY_ID
    words: str = ""


def damaged_forms(label: str, pem: str) -> list[Case]:
    lines = pem.strip().splitlines()
    return [
        Case(f"{label}: as downloaded", pem, None),
        Case(f"{label}: literal \\n", pem.replace("\n", "\\n"), None),
        Case(f"{label}: literal \\r\\n", pem.replace("\n", "\\r\\n"), None),
        Case(f"{label}: CRLF", pem.replace("\n", "\r\n"), None),
        Case(f"{label}: one line, spaces (the seed guide's .env)", " ".join(lines), None),
        Case(f"{label}: one line, nothing between", "".join(lines), None),
        Case(f"{label}: double quotes kept", f'"{pem}"', None),
        Case(f"{label}: single quotes kept", f"'{pem}'", None),
        Case(f"{label}: quoted and literal \\n", '"' + pem.replace("\n", "\\n") + '"', None),
        Case(f"{label}: no final newline", pem.rstrip("\n"), None),
        Case(f"{label}: indented", "\n".join("    " + line for line in lines), None),
        Case(f"{label}: blank lines around", f"\n\n{pem}\n\n", None),
        Case(f"{label}: tabs", pem.replace("\n", "\t\n"), None),
        Case(
            f"{label}: first line only (dotenv)",
            lines[0],
            InvalidPrivateKeyError,
            words="truncated",
        ),
        Case(
            f"{label}: END line lost",
            "\n".join(lines[:-1]),
            InvalidPrivateKeyError,
            words="truncated",
        ),
        Case(
            f"{label}: middle lines lost",
            "\n".join([lines[0], *lines[1:3], lines[-1]]),
            InvalidPrivateKeyError,
        ),
        Case(
            f"{label}: a character changed",
            pem.replace(lines[1], "#" + lines[1][1:]),
            InvalidPrivateKeyError,
            words="damaged",
        ),
    ]


def corpus(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> list[Case]:
    pkcs1 = private_key_pem(kalshi_rsa_key, encoding="pkcs1").decode()
    pkcs8 = private_key_pem(kalshi_rsa_key).decode()
    ed = private_key_pem(kalshi_ed25519_key).decode()
    openssh = kalshi_rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    encrypted = private_key_pem(kalshi_rsa_key, password="pw").decode()
    cases = [
        *damaged_forms("PKCS#1", pkcs1),
        *damaged_forms("PKCS#8", pkcs8),
        *damaged_forms("Ed25519", ed)[:8],
        Case("PKCS#1 body, PKCS#8 header", pkcs1.replace("RSA PRIVATE KEY", "PRIVATE KEY"), None),
        Case("PKCS#8 body, PKCS#1 header", pkcs8.replace("PRIVATE KEY", "RSA PRIVATE KEY"), None),
        Case("OpenSSH", openssh, None),
        Case("OpenSSH, literal \\n", openssh.replace("\n", "\\n"), None),
        Case("OpenSSH, one line", " ".join(openssh.strip().splitlines()), None),
        Case("encrypted, no password", encrypted, PrivateKeyPasswordError, words="encrypted"),
        Case("empty", "", InvalidPrivateKeyError, words="empty"),
        Case("just quotes", '""', InvalidPrivateKeyError),
        Case("placeholder", "your-private-key-here", InvalidPrivateKeyError),
        Case(
            "BEGIN/END, no body",
            "-----BEGIN PRIVATE KEY----------END PRIVATE KEY-----",
            InvalidPrivateKeyError,
            words="empty",
        ),
        Case(
            "public key",
            kalshi_rsa_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode(),
            InvalidPrivateKeyError,
            words="public key",
        ),
    ]
    key_ids = [
        ("", "empty"),
        (KEY_ID + "\n", "trailing newline"),
        (KEY_ID + "\r", "control"),
        ('"' + KEY_ID, "UUID"),
        (" " + KEY_ID, "start or end"),
        (KEY_ID + "\r\nX-Evil: 1", "control"),
        ("a952bcbe ec3b", "inside it"),
        ("a952bcbe\tec3b", "inside it"),
        (KEY_ID + "\x00", "control"),
        (KEY_ID + "\u200b", "UUID"),
        (pkcs1, "looks like a private key"),
    ]
    cases += [
        Case(f"key id {key_id[:12]!r}", pkcs1, InvalidKeyIdError, key_id=key_id, words=words)
        for key_id, words in key_ids
    ]
    return cases


def test_corpus_is_large_enough(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    assert len(corpus(kalshi_rsa_key, kalshi_ed25519_key)) >= 30


def test_each_input_loads_and_signs_or_raises_its_error(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    secrets = [
        private_key_pem(kalshi_rsa_key, encoding="pkcs1"),
        private_key_pem(kalshi_ed25519_key),
    ]
    failures = []
    for case in corpus(kalshi_rsa_key, kalshi_ed25519_key):
        public = (
            kalshi_ed25519_key if case.name.startswith("Ed25519") else kalshi_rsa_key
        ).public_key()
        try:
            auth = KalshiAuth(case.key_id, case.private_key, password=None)
        except KalshiAuthError as exc:
            message = str(exc)
            for secret in secrets:
                assert_no_key_material(message, secret)
            assert exc.__cause__ is None, case.name
            if case.expected is None or not isinstance(exc, case.expected):
                failures.append(f"{case.name}: raised {type(exc).__name__}: {message}")
            elif case.words not in message:
                failures.append(f"{case.name}: message lacks {case.words!r}: {message}")
            continue
        if case.expected is not None:
            failures.append(f"{case.name}: loaded, expected {case.expected.__name__}")
            continue
        if not signs_verifiably(auth, public):
            failures.append(f"{case.name}: loaded a key that does not verify")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("variable", ["KALSHI_PRIVATE_KEY"])
def test_env_file_text_through_from_env(kalshi_rsa_key: rsa.RSAPrivateKey, variable: str) -> None:
    # Exactly what the seed guide's .env example produces once a loader reads it.
    pem = private_key_pem(kalshi_rsa_key).decode()
    one_line = " ".join(pem.strip().splitlines())
    env = {"KALSHI_API_KEY_ID": f'"{KEY_ID}"\n', variable: f'"{one_line}"'}
    auth = KalshiAuth.from_env(env)
    assert auth.key_id == KEY_ID
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_rsa_key)
    assert verifier.verify("GET", "/x", auth.headers("GET", "/x")).accepted
