"""`kalshi-auth inspect-key`: what a key file is, and whether Kalshi signing can use it."""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from ._errors import KalshiAuthError, PrivateKeyPasswordError
from ._keycost import cap_fix
from ._keys import OPENSSH_TO_PKCS8, is_backend_panic, key_kind, load_key_file, open_private_key
from ._pem import pem_label
from ._text import printable

__all__ = ["KeyReport", "inspect_key", "public_key_fingerprint"]

_ENCODINGS = {
    "RSA PRIVATE KEY": "PKCS#1 PEM (BEGIN RSA PRIVATE KEY), as Kalshi's web UI downloads it",
    "PRIVATE KEY": "PKCS#8 PEM (BEGIN PRIVATE KEY)",
    "ENCRYPTED PRIVATE KEY": "encrypted PKCS#8 PEM (BEGIN ENCRYPTED PRIVATE KEY)",
    "OPENSSH PRIVATE KEY": "OpenSSH private key (BEGIN OPENSSH PRIVATE KEY)",
    "EC PRIVATE KEY": "SEC1 EC private key PEM (BEGIN EC PRIVATE KEY)",
    "DSA PRIVATE KEY": "DSA private key PEM (BEGIN DSA PRIVATE KEY)",
    "PUBLIC KEY": "public key PEM (BEGIN PUBLIC KEY)",
    "RSA PUBLIC KEY": "PKCS#1 public key PEM (BEGIN RSA PUBLIC KEY)",
    "CERTIFICATE": "X.509 certificate PEM (BEGIN CERTIFICATE)",
}
_NEW_KEY = "create a new API key in Kalshi's web UI (Account & Security > API Keys)"
# Private keys whose type is named when signing refuses them (read by open_private_key).
_OPENED = (
    "OPENSSH PRIVATE KEY",
    "EC PRIVATE KEY",
    "DSA PRIVATE KEY",
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
)


@dataclass
class KeyReport:
    """What `inspect_key` found. Holds no key material."""

    encoding: str
    key_type: str | None = None
    fingerprint: str | None = None
    usable: bool = False
    problem: str | None = None
    fix: str | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report as `name: value` lines for a terminal."""
        rows = [("encoding", self.encoding)]
        if self.key_type:
            rows.append(("type", self.key_type))
        if self.fingerprint:
            rows.append(("fingerprint", self.fingerprint))
        rows.append(("usable", "yes: KalshiAuth can sign with it" if self.usable else "no"))
        if self.problem:
            rows.append(("problem", self.problem))
        if self.fix:
            rows.append(("fix", self.fix))
        rows += [("note", note) for note in self.notes]
        return [f"{name + ':':<13}{value}" for name, value in rows]


def public_key_fingerprint(public: PublicKeyTypes) -> str:
    """``sha256:`` + hex SHA-256 of the public key's DER SubjectPublicKeyInfo.

    The same as ``openssl pkey -in KEY -pubout -outform DER | sha256sum``.
    """
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def inspect_key(data: bytes, *, password: str | None, name: str | None = None) -> KeyReport:
    """Describe the key in `data`, the bytes of a key file named `name` (``-``: standard
    input). A problem names the file and its size and says what it holds (empty, text
    without a -----BEGIN line, a public key, binary...), never any of its content; fix
    commands name the file (``KEY_FILE`` when it has no name)."""
    text = data.decode("utf-8", "replace")
    label = pem_label(text)
    report = KeyReport(encoding=_encoding_of(data, text, label))
    if "\\n" in text:
        report.notes.append(
            "the text holds literal \\n sequences (as a .env file stores it); "
            "kalshi-auth repairs this, other tools may not"
        )
    where = _file_words(name, len(data))
    command_name = "KEY_FILE" if name in (None, "-") else shlex.quote(str(name))
    try:
        key = load_key_file(data, password=password, where=where)
    except PrivateKeyPasswordError as exc:
        report.problem = str(exc)
        # Read from after the file's name, which may hold any word.
        report.fix = (
            "set KALSHI_PRIVATE_KEY_PASSWORD to the key's password"
            if str(exc).startswith(f"{where} is encrypted;")
            else "check KALSHI_PRIVATE_KEY_PASSWORD"
        )
        return report
    except KalshiAuthError as exc:
        report.problem = str(exc)
        _describe_unusable(report, data, label, password)
        if report.fix:
            report.fix = report.fix.replace("KEY_FILE", command_name)
        return report
    report.usable = True
    report.key_type = f"{key_kind(key)} private key"
    report.fingerprint = public_key_fingerprint(key.public_key())
    if label == "OPENSSH PRIVATE KEY":
        report.notes.append(
            "kalshi-auth reads OpenSSH keys; for tools that need PKCS#8 PEM (Kalshi's own "
            f"SDKs, openssl), convert it: {OPENSSH_TO_PKCS8.replace('KEY_FILE', command_name)}"
        )
    return report


def _file_words(name: str | None, size: int) -> str:
    """How a problem names the file inspected: by its name (it exists: a file, not key
    text), control characters shown as ``?``, and its size."""
    if name == "-":
        return f"standard input ({size} bytes)"
    if name is None:
        return f"key file ({size} bytes)"
    return f"key file {printable(name, 260)!r} ({size} bytes)"


def _encoding_of(data: bytes, text: str, label: str | None) -> str:
    if label is not None:
        encoding = _ENCODINGS.get(label, f"PEM ({label})")
        if label == "RSA PRIVATE KEY" and "Proc-Type: 4,ENCRYPTED" in text:
            encoding = "encrypted PKCS#1 PEM (Proc-Type: 4,ENCRYPTED)"
        return encoding
    if text.startswith(("ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-")):
        return "OpenSSH public key"
    if data.startswith(b"\x30"):
        return "DER (binary)"
    return "unrecognized: not PEM, DER or OpenSSH"


def _describe_unusable(
    report: KeyReport, data: bytes, label: str | None, password: str | None
) -> None:
    """Fill in the type, fingerprint and fix of a key that KalshiAuth refused.

    A key refused for what loading it would cost (its KDF parameters, its size) is not
    loaded again here: the problem names the cap, and the fix says how to get under it.
    """
    problem = report.problem or ""
    report.fix = cap_fix(problem)
    if 'pip install "kalshi-auth[openssh]"' in problem:
        report.fix = 'pip install "kalshi-auth[openssh]" (bcrypt opens encrypted OpenSSH keys)'
    public = None if report.fix else _public_key(report, data, label, password)
    if public is not None:
        report.fingerprint = public_key_fingerprint(public)
    if report.fix is None:
        if report.key_type and (
            "public key" in report.key_type or "certificate" in report.key_type
        ):
            report.fix = (
                "use the private key file saved when the API key was created; Kalshi cannot "
                f"show it again, so if it is lost, {_NEW_KEY}"
            )
        elif report.key_type:
            report.fix = _NEW_KEY
        else:
            report.fix = "copy the whole key file Kalshi gave you again, from BEGIN to END"


def _public_key(
    report: KeyReport, data: bytes, label: str | None, password: str | None
) -> PublicKeyTypes | None:
    """The public half of what `data` holds, its type noted in `report`; None if it does
    not load. Private keys load through `open_private_key`, under the loader's bounds."""
    public: PublicKeyTypes | None = None
    try:
        if label in _OPENED:
            private = open_private_key(data, password=password)
            report.key_type = f"{key_kind(private)} private key"
            public = private.public_key()
        elif label in ("PUBLIC KEY", "RSA PUBLIC KEY") or (label is None and data[:4] == b"ssh-"):
            public = (
                serialization.load_ssh_public_key(data)
                if label is None
                else serialization.load_pem_public_key(data)
            )
            report.key_type = f"{key_kind(public)} public key"
        elif label == "CERTIFICATE":
            public = x509.load_pem_x509_certificate(data).public_key()
            report.key_type = f"certificate for a {key_kind(public)} key"
    except Exception:  # damaged or unsupported beyond describing: the problem line says why
        return None
    except BaseException as exc:  # a Rust panic in cryptography; interrupts pass through
        if not is_backend_panic(exc):
            raise
        return None
    return public
