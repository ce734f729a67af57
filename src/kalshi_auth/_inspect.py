"""`kalshi-auth inspect-key`: what a key file is, and whether Kalshi signing can use it."""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from ._errors import KalshiAuthError, PrivateKeyPasswordError
from ._keys import OPENSSH_TO_PKCS8, key_kind, load_private_key
from ._pem import pem_label

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


def inspect_key(data: bytes, *, password: str | None, name: str = "KEY_FILE") -> KeyReport:
    """Describe the key in `data` (the bytes of a key file); `name` is used in fix commands."""
    text = data.decode("utf-8", "replace")
    label = pem_label(text)
    report = KeyReport(encoding=_encoding_of(data, text, label))
    if "\\n" in text:
        report.notes.append(
            "the text holds literal \\n sequences (as a .env file stores it); "
            "kalshi-auth repairs this, other tools may not"
        )
    try:
        key = load_private_key(data, password=password)
    except PrivateKeyPasswordError as exc:
        report.problem = str(exc)
        report.fix = (
            "set KALSHI_PRIVATE_KEY_PASSWORD to the key's password"
            if "encrypted" in str(exc) and "not encrypted" not in str(exc)
            else "check KALSHI_PRIVATE_KEY_PASSWORD"
        )
        return report
    except KalshiAuthError as exc:
        report.problem = str(exc)
        _describe_unusable(report, data, label, password)
        return report
    report.usable = True
    report.key_type = f"{key_kind(key)} private key"
    report.fingerprint = public_key_fingerprint(key.public_key())
    if label == "OPENSSH PRIVATE KEY":
        report.notes.append(
            "kalshi-auth reads OpenSSH keys; for tools that need PKCS#8 PEM (Kalshi's own "
            f"SDKs, openssl), convert it: {OPENSSH_TO_PKCS8.replace('KEY_FILE', shlex.quote(name))}"
        )
    return report


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
    """Fill in the type, fingerprint and fix of a key that KalshiAuth refused."""
    pw = password.encode() if password else None
    public: PublicKeyTypes | None = None
    if "bcrypt" in (report.problem or ""):
        report.fix = 'pip install "kalshi-auth[openssh]" (bcrypt opens encrypted OpenSSH keys)'
    try:
        if label == "OPENSSH PRIVATE KEY":
            ssh_key = serialization.load_ssh_private_key(data, pw)
            report.key_type = f"{key_kind(ssh_key)} private key"
            public = ssh_key.public_key()
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
        elif label in ("EC PRIVATE KEY", "DSA PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY"):
            other = serialization.load_pem_private_key(data, pw)
            report.key_type = f"{key_kind(other)} private key"
            public = other.public_key()
    except Exception:  # damaged or unsupported beyond describing: the problem line says why
        public = None
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
