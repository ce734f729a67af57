"""One corpus of key inputs as they arrive from real .env files, secret stores, editors and
copy-paste, and of key ids with what .env files leave on them: each either loads and signs
verifiably, or raises its own KalshiAuthError, with words its message must hold."""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kalshi_auth import (
    InvalidKeyIdError,
    InvalidPrivateKeyError,
    KalshiAuthError,
    PrivateKeyPasswordError,
)
from kalshi_auth.testing import private_key_pem

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
EM, EN = "\u2014", "\u2013"


@dataclass(frozen=True)
class Case:
    name: str
    source: object
    expected: type[KalshiAuthError] | None  # None: it loads and signs
    key: str = "rsa"  # which key signs it ("rsa" or "ed"), and whose body must not leak
    password: str | None = None
    key_id: str = KEY_ID
    words: str = ""  # what the error's message must hold


def body_of(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


def one_line(pem: str) -> str:
    return " ".join(pem.strip().splitlines())


def encrypted_openssh_pem() -> str:
    """An encrypted OpenSSH Ed25519 key as ssh-keygen writes it, built by hand: loading
    it needs bcrypt for the KDF, so cryptography refuses before decrypting anything."""

    def string(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    blob = (
        b"openssh-key-v1\0"
        + string(b"aes256-ctr")
        + string(b"bcrypt")
        + string(string(os.urandom(16)) + struct.pack(">I", 16))
        + struct.pack(">I", 1)
        + string(string(b"ssh-ed25519") + string(raw))
        + string(os.urandom(160))
    )
    text = base64.b64encode(blob).decode()
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    return "\n".join(
        ["-----BEGIN OPENSSH PRIVATE KEY-----", *lines, "-----END OPENSSH PRIVATE KEY-----", ""]
    )


def unknown_algorithm_pkcs8() -> str:
    # PrivateKeyInfo { version 0, AlgorithmIdentifier { OID 1.2.3.4 }, OCTET STRING }
    der = bytes.fromhex("3010020100300506032a0304040401020304")
    return (
        "-----BEGIN PRIVATE KEY-----\n"
        + base64.b64encode(der).decode()
        + "\n-----END PRIVATE KEY-----\n"
    )


def damaged_forms(label: str, pem: str, key: str) -> list[Case]:
    lines = pem.strip().splitlines()
    return [
        Case(f"{label}: as downloaded", pem, None, key),
        Case(f"{label}: literal \\n", pem.replace("\n", "\\n"), None, key),
        Case(f"{label}: literal \\r\\n", pem.replace("\n", "\\r\\n"), None, key),
        Case(f"{label}: CRLF", pem.replace("\n", "\r\n"), None, key),
        Case(f"{label}: one line, spaces (the seed guide's .env)", " ".join(lines), None, key),
        Case(f"{label}: one line, nothing between", "".join(lines), None, key),
        Case(f"{label}: double quotes kept", f'"{pem}"', None, key),
        Case(f"{label}: single quotes kept", f"'{pem}'", None, key),
        Case(f"{label}: quoted and literal \\n", '"' + pem.replace("\n", "\\n") + '"', None, key),
        Case(f"{label}: no final newline", pem.rstrip("\n"), None, key),
        Case(f"{label}: indented", "\n".join("    " + line for line in lines), None, key),
        Case(f"{label}: blank lines around", f"\n\n{pem}\n\n", None, key),
        Case(f"{label}: tabs", pem.replace("\n", "\t\n"), None, key),
        Case(
            f"{label}: first line only (dotenv)",
            lines[0],
            InvalidPrivateKeyError,
            key,
            words="truncated",
        ),
        Case(
            f"{label}: END line lost",
            "\n".join(lines[:-1]),
            InvalidPrivateKeyError,
            key,
            words="truncated",
        ),
        Case(
            f"{label}: middle lines lost",
            "\n".join([lines[0], *lines[1:3], lines[-1]]),
            InvalidPrivateKeyError,
            key,
        ),
        Case(
            f"{label}: a character changed",
            pem.replace(lines[1], "#" + lines[1][1:]),
            InvalidPrivateKeyError,
            key,
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
    cases: list[Case] = [
        *damaged_forms("PKCS#1", pkcs1, "rsa"),
        *damaged_forms("PKCS#8", pkcs8, "rsa"),
        *damaged_forms("Ed25519", ed, "ed")[:8],
        Case("PKCS#1 body, PKCS#8 header", pkcs1.replace("RSA PRIVATE KEY", "PRIVATE KEY"), None),
        Case("PKCS#8 body, PKCS#1 header", pkcs8.replace("PRIVATE KEY", "RSA PRIVATE KEY"), None),
        Case("OpenSSH", openssh, None),
        Case("OpenSSH, literal \\n", openssh.replace("\n", "\\n"), None),
        Case("OpenSSH, one line", " ".join(openssh.strip().splitlines()), None),
        Case("empty", "", InvalidPrivateKeyError, words="empty"),
        Case("just quotes", '""', InvalidPrivateKeyError),
        Case("placeholder text", "your-private-key-here", InvalidPrivateKeyError),
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
        Case(f"key id {i}: {words}", pkcs1, InvalidKeyIdError, key_id=key_id, words=words)
        for i, (key_id, words) in enumerate(key_ids)
    ]
    der = kalshi_rsa_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    encrypted = private_key_pem(kalshi_rsa_key, password="pw").decode()
    bad = InvalidPrivateKeyError
    for label, pem, key in (("PKCS#1", pkcs1, "rsa"), ("Ed25519", ed, "ed")):
        cases += [
            Case(f"{label}: em dashes, one line", one_line(pem).replace("-", EM), bad, key),
            Case(f"{label}: em dashes", pem.replace("-----", EM * 2), bad, key),
            Case(f"{label}: en dashes", pem.replace("-", EN), bad, key),
            Case(f"{label}: dashes lost", pem.replace("-----", ""), bad, key),
            # The armor is found inside whatever surrounds it: these load.
            Case(f"{label}: smart quotes kept", f"\u201c{one_line(pem)}\u201d", None, key),
            Case(f"{label}: .env line whole", f'KALSHI_PRIVATE_KEY="{one_line(pem)}"', None, key),
            Case(f"{label}: export line", f"export KEY='{pem}'", None, key),
            Case(f"{label}: first line only", pem.splitlines()[0], bad, key),
            Case(f"{label}: cut at -----END", pem.rsplit("-----END", 1)[0], bad, key),
            Case(f"{label}: cut in the middle", pem[: len(pem) // 2], bad, key),
            Case(f"{label}: last character lost", pem.rstrip()[:-1], bad, key),
            Case(f"{label}: body char changed", pem.replace(body_of(pem)[5], "#", 1), bad, key),
            Case(f"{label}: nbsp one line", one_line(pem).replace(" ", "\u00a0"), bad, key),
            Case(f"{label}: as a Path", Path(one_line(pem)), bad, key),
            Case(f"{label}: latin-1 byte", pem.encode() + b"\xe9\n", bad, key),
            Case(f"{label}: UTF-16, no BOM", pem.encode("utf-16-le"), bad, key),
            Case(f"{label}: UTF-16 with BOM", pem.encode("utf-16"), None, key),
            Case(f"{label}: bare body", body_of(pem), bad, key),
        ]
    cases += [
        Case("PKCS#8 truncated by a dotenv loader", pkcs8.splitlines()[0] + "\n", bad),
        Case("PKCS#8 body cut to 100 chars", pkcs8[:100] + "\n-----END PRIVATE KEY-----", bad),
        Case("DER truncated", der[: len(der) // 2], bad),
        Case("DER with junk", der[:40] + b"\x00" * 40, bad),
        Case("encrypted, no password", encrypted, PrivateKeyPasswordError),
        Case("encrypted, wrong password", encrypted, PrivateKeyPasswordError, password="no"),
        Case("not encrypted, password given", pkcs1, PrivateKeyPasswordError, password="pw"),
        Case("encrypted OpenSSH (bcrypt absent)", encrypted_openssh_pem(), bad),
        Case("PKCS#8 of an unknown algorithm", unknown_algorithm_pkcs8(), bad),
        Case("key id where the key goes", KEY_ID, bad),
        Case("placeholder", "<your private key>", bad),
        Case("a short string", "abc", bad),
        Case("NUL in a path string", "/tmp/kalshi\x00key.pem", bad),
        Case("NUL in a Path", Path("/tmp/kalshi\x00key.pem"), bad),
        Case("missing file", Path("/nonexistent/kalshi-key.pem"), bad),
    ]
    return cases
