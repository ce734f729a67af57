"""Load a Kalshi private key from whatever form users actually hold it in.

Kalshi's web UI hands out RSA keys as PKCS#1 PEM and Ed25519 keys as PKCS#8
PEM. Between that download and this library the text often passes through a
`.env` file or a secret store that mangles it (literal ``\\n``, CRLF, one line
with spaces, quotes kept). We re-armor the PEM before parsing, and every
failure becomes an `InvalidPrivateKeyError` that says what is wrong and how to
fix it, without echoing any of the key.
"""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

from ._errors import InvalidPrivateKeyError, PrivateKeyPasswordError

__all__ = ["OPENSSH_TO_PKCS8", "PrivateKey", "describe_key", "load_private_key"]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

MIN_RSA_BITS = 2048
_MAX_KEY_FILE_BYTES = 1 << 20
_MAX_PATH_CHARS = 4096

_BEGIN = re.compile(r"-----\s*BEGIN ([A-Z0-9 ]+?)\s*-----")
_LEGACY_HEADERS = re.compile(r"Proc-Type:\s*(\S+)\s+DEK-Info:\s*(\S+)\s*", re.IGNORECASE)
_BASE64_RUN = re.compile(r"^[A-Za-z0-9+/=\s]+$")

_PRIVATE_LABELS = ("RSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY")
# ssh-keygen -m PKCS8 silently keeps Ed25519 keys in OpenSSH format, and openssl cannot
# read that format; cryptography converts both RSA and Ed25519.
OPENSSH_TO_PKCS8 = (
    'python3 -c "import sys; from cryptography.hazmat.primitives import serialization as s; '
    "k = s.load_ssh_private_key(open(sys.argv[1], 'rb').read(), None); "
    "sys.stdout.buffer.write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, "
    's.NoEncryption()))" KEY_FILE > kalshi-key.pem'
)
_WRONG_LABEL_HELP = {
    "OPENSSH PRIVATE KEY": (
        "it is an OpenSSH-format private key, which Kalshi does not issue; convert it to "
        f"PKCS#8 PEM with: {OPENSSH_TO_PKCS8}"
    ),
    "EC PRIVATE KEY": (
        "it is an elliptic-curve (EC) key; Kalshi accepts only RSA (2048 bits or more) and "
        "Ed25519 keys: create a new API key in Kalshi's web UI"
    ),
    "DSA PRIVATE KEY": (
        "it is a DSA key; Kalshi accepts only RSA (2048 bits or more) and Ed25519 keys: "
        "create a new API key in Kalshi's web UI"
    ),
    "PUBLIC KEY": (
        "it is a public key; signing needs the private key file Kalshi gave you when the "
        "API key was created (-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)"
    ),
    "RSA PUBLIC KEY": (
        "it is a public key; signing needs the private key file Kalshi gave you when the "
        "API key was created (-----BEGIN RSA PRIVATE KEY-----)"
    ),
    "CERTIFICATE": (
        "it is a certificate, not a private key; pass the private key file Kalshi gave you "
        "when the API key was created"
    ),
}


@dataclass(frozen=True)
class _Armor:
    """One PEM block, split into its parts and re-wrapped the standard way."""

    label: str
    headers: tuple[tuple[str, str], ...]
    body: str

    @property
    def encrypted(self) -> bool:
        return self.label == "ENCRYPTED PRIVATE KEY" or any(
            name.lower() == "proc-type" and "ENCRYPTED" in value.upper()
            for name, value in self.headers
        )

    def pem(self, label: str | None = None) -> bytes:
        label = label or self.label
        lines = [f"-----BEGIN {label}-----"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.headers:
            lines.append("")
        lines += textwrap.wrap(self.body, 64)
        lines.append(f"-----END {label}-----")
        return ("\n".join(lines) + "\n").encode("ascii")


def load_private_key(source: object, *, password: str | bytes | None = None) -> PrivateKey:
    """Return the RSA or Ed25519 private key that `source` holds.

    `source` may be PEM text (`str` or `bytes`), DER bytes, a path to a key
    file (`os.PathLike`, or a `str` naming an existing file), or an
    already-loaded `cryptography` private key.
    """
    pw = _password_bytes(password)
    if isinstance(source, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        return _check_key(source)
    if isinstance(source, os.PathLike):
        return _load_bytes(_read_key_file(Path(os.fspath(source))), pw, origin=str(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _load_bytes(bytes(source), pw, origin=None)
    if isinstance(source, str):
        if not source.strip():
            raise InvalidPrivateKeyError(
                "private key is empty; pass the PEM text of the key Kalshi gave you, or its path"
            )
        if _looks_like_path(source):
            path = Path(os.path.expanduser(source))
            if _is_file(path):
                return _load_bytes(_read_key_file(path), pw, origin=source)
            if _safe_to_show(source):
                raise InvalidPrivateKeyError(
                    f"private key: {source!r} is neither PEM text nor an existing file; "
                    "pass the PEM text itself or the path of the key file Kalshi gave you"
                )
        return _load_text(source, pw)
    raise InvalidPrivateKeyError(_wrong_object_message(source))


def describe_key(key: PrivateKey) -> str:
    """A short, secret-free name of the key type, e.g. ``RSA-2048`` or ``Ed25519``."""
    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA-{key.key_size}"
    return "Ed25519"


def _password_bytes(password: object) -> bytes | None:
    if password is None or password in ("", b""):
        return None
    if isinstance(password, str):
        return password.encode("utf-8")
    if isinstance(password, bytes):
        return password
    raise PrivateKeyPasswordError(f"password must be str or bytes, not {type(password).__name__}")


def _looks_like_path(text: str) -> bool:
    return "-----" not in text and "\n" not in text and len(text) <= _MAX_PATH_CHARS


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL, is no file
        return False


def _safe_to_show(text: str) -> bool:
    """Whether `text` can appear in an error: short and not a base64 blob that may be key."""
    return len(text) <= 256 and not (len(text) >= 40 and _BASE64_RUN.match(text))


def _read_key_file(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > _MAX_KEY_FILE_BYTES:
            raise InvalidPrivateKeyError(
                f"private key file {str(path)!r} is {size} bytes: too large to be a key file"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidPrivateKeyError(
            f"private key file {str(path)!r} does not exist; check the path "
            "(relative paths are resolved from the current directory, "
            f"{os.getcwd()!r})"
        ) from None
    except IsADirectoryError:
        raise InvalidPrivateKeyError(
            f"private key path {str(path)!r} is a directory; name the key file inside it"
        ) from None
    except PermissionError:
        raise InvalidPrivateKeyError(
            f"private key file {str(path)!r} is not readable by this user; fix its permissions"
        ) from None
    except OSError as exc:
        raise InvalidPrivateKeyError(
            f"private key file {str(path)!r} cannot be read: {exc.strerror}"
        ) from None


def _load_bytes(data: bytes, password: bytes | None, *, origin: str | None) -> PrivateKey:
    where = f"private key file {origin!r}" if origin else "private key"
    if b"-----" in data or not data.startswith(b"\x30"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidPrivateKeyError(
                f"{where} is neither PEM text nor DER: expected a text file that starts with "
                "-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----"
            ) from None
        return _load_text(text, password, where=where)
    try:
        key = serialization.load_der_private_key(data, password)
    except TypeError as exc:
        raise _password_error(where, encrypted="not given" in str(exc)) from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidPrivateKeyError(
            f"{where} looks like binary DER but does not parse as a private key; "
            "pass the PEM file Kalshi gave you"
        ) from None
    return _check_key(key, where=where)


def _load_text(text: str, password: bytes | None, *, where: str = "private key") -> PrivateKey:
    armor = _parse_armor(text, where)
    if armor.encrypted and password is None:
        raise _password_error(where, encrypted=True)
    if not armor.encrypted and password is not None:
        raise _password_error(where, encrypted=False)
    labels = [armor.label]
    # A PKCS#1 body under a PKCS#8 header (or the reverse) is a common copy-paste slip.
    if armor.label == "PRIVATE KEY":
        labels.append("RSA PRIVATE KEY")
    elif armor.label == "RSA PRIVATE KEY" and not armor.headers:
        labels.append("PRIVATE KEY")
    for label in labels:
        try:
            key = serialization.load_pem_private_key(armor.pem(label), password)
        except UnsupportedAlgorithm:
            raise InvalidPrivateKeyError(
                f"{where} uses an algorithm this system's cryptography library cannot load; "
                "Kalshi keys are RSA or Ed25519"
            ) from None
        except (ValueError, TypeError):
            continue
        return _check_key(key, where=where)
    if armor.encrypted:
        raise PrivateKeyPasswordError(
            f"{where} could not be decrypted: the password is wrong, or the key is damaged"
        )
    raise InvalidPrivateKeyError(
        f"{where} has a valid PEM frame but its body does not decode as a private key: it "
        "was damaged or cut when copied; copy the whole file Kalshi gave you again"
    )


def _parse_armor(text: str, where: str) -> _Armor:
    cleaned = _unmangle(text)
    blocks = list(_BEGIN.finditer(cleaned))
    if not blocks:
        raise InvalidPrivateKeyError(_no_armor_message(cleaned, where))
    private = [b for b in blocks if b.group(1) in _PRIVATE_LABELS]
    if not private:
        label = blocks[0].group(1)
        help_text = _WRONG_LABEL_HELP.get(
            label, f"its PEM label is {label!r}, not a private key Kalshi issues"
        )
        raise InvalidPrivateKeyError(f"{where} cannot be used: {help_text}")
    begin = private[0]
    label = begin.group(1)
    end = re.compile(r"-----\s*END " + re.escape(label) + r"\s*-----").search(cleaned, begin.end())
    if end is None:
        raise InvalidPrivateKeyError(
            f"{where} looks truncated: it has the -----BEGIN {label}----- line but no "
            f"-----END {label}----- line. A .env loader that reads only the first line of a "
            "multi-line value does this; put the key in a file and use its path, or write "
            "it on one line with \\n between lines"
        )
    inner = cleaned[begin.end() : end.start()]
    headers: tuple[tuple[str, str], ...] = ()
    legacy = _LEGACY_HEADERS.search(inner)
    if legacy:
        headers = (("Proc-Type", legacy.group(1)), ("DEK-Info", legacy.group(2)))
        inner = inner[legacy.end() :]
    body = "".join(inner.split())
    if not body:
        raise InvalidPrivateKeyError(f"{where} is empty between its BEGIN and END lines")
    if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", body) or len(body) % 4:
        raise InvalidPrivateKeyError(
            f"{where} is damaged: the text between its BEGIN and END lines is not valid "
            "base64 (characters were changed, added or lost when it was copied); copy the "
            "whole file Kalshi gave you again"
        )
    return _Armor(label=label, headers=headers, body=body)


def _unmangle(text: str) -> str:
    """Undo what `.env` files and secret stores do to multi-line PEM text."""
    text = text.replace("\\r", "").replace("\\n", "\n").replace("\r\n", "\n").replace("\r", "\n")
    text = text.strip()
    while len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def _no_armor_message(text: str, where: str) -> str:
    if text.startswith(("ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-")):
        return f"{where} is an OpenSSH public key; pass the private key Kalshi gave you"
    if len(text) >= 100 and _BASE64_RUN.match(text):
        return (
            f"{where} looks like a bare base64 key body without its PEM lines; add the "
            "-----BEGIN RSA PRIVATE KEY----- (or -----BEGIN PRIVATE KEY-----) line before it "
            "and the matching -----END ...----- line after it"
        )
    return (
        f"{where} is not PEM text: expected the key file Kalshi gave you, starting with "
        "-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----, or the path of that file"
    )


def _password_error(where: str, *, encrypted: bool) -> PrivateKeyPasswordError:
    if encrypted:
        return PrivateKeyPasswordError(
            f"{where} is encrypted; pass password=... (or set KALSHI_PRIVATE_KEY_PASSWORD)"
        )
    return PrivateKeyPasswordError(
        f"{where} is not encrypted but a password was given; drop the password "
        "(or unset KALSHI_PRIVATE_KEY_PASSWORD)"
    )


def _check_key(key: object, *, where: str = "private key") -> PrivateKey:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidPrivateKeyError(
                f"{where} is RSA-{key.key_size}; Kalshi requires RSA keys of at least "
                f"{MIN_RSA_BITS} bits: create a new API key in Kalshi's web UI"
            )
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise InvalidPrivateKeyError(f"{where} cannot be used: {_wrong_object_message(key)}")


def _wrong_object_message(obj: object) -> str:
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (ec.EllipticCurvePrivateKey, "an elliptic-curve (EC) private key"),
        (dsa.DSAPrivateKey, "a DSA private key"),
        (
            (ed448.Ed448PrivateKey, x25519.X25519PrivateKey, x448.X448PrivateKey),
            "a private key of a type Kalshi does not use",
        ),
        (
            (
                rsa.RSAPublicKey,
                ed25519.Ed25519PublicKey,
                ec.EllipticCurvePublicKey,
                dsa.DSAPublicKey,
            ),
            "a public key; signing needs the private key",
        ),
    ]
    if isinstance(obj, x509.Certificate):
        return (
            "got a certificate, not a private key; pass the private key file Kalshi gave you "
            "when the API key was created"
        )
    for kind, name in kinds:
        if isinstance(obj, kind):
            return f"got {name}; Kalshi accepts RSA (2048 bits or more) and Ed25519 private keys"
    return (
        "private key must be PEM text (str or bytes), a path to a key file, or a cryptography "
        f"RSA or Ed25519 private key object; got {type(obj).__name__}"
    )
