"""Load a Kalshi private key from whatever form users actually hold it in.

Kalshi's web UI hands out RSA keys as PKCS#1 PEM and Ed25519 keys as PKCS#8
PEM. Between that download and this library the text often passes through a
`.env` file or a secret store that mangles it (literal ``\\n``, CRLF, one line
with spaces, quotes kept). We re-armor the PEM before parsing, and every
failure becomes an `InvalidPrivateKeyError` that says what is wrong and how to
fix it, without echoing any of the key.

Loading is bounded like reading: `_keycost` reads what decrypting and checking a key will
cost (KDF parameters, modulus size) before cryptography does either, and every error the
crypto backend raises, a Rust panic included, becomes one of ours.
"""

from __future__ import annotations

import importlib
import os
import stat
import string
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Literal, TypeAlias, TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from ._errors import InvalidPrivateKeyError, PrivateKeyPasswordError
from ._keycost import (
    MAX_MODULUS_BITS,
    check_der,
    check_openssh,
    is_encrypted_der,
    modulus_refusal,
)
from ._pem import Armor, BeginLine, begin_lines, end_line, is_base64, split_legacy_headers, unmangle
from ._text import printable

__all__ = [
    "KEY_FILE_SUFFIXES",
    "MAX_KEY_BYTES",
    "OPENSSH_TO_PKCS8",
    "PrivateKey",
    "has_key_file_name",
    "is_backend_panic",
    "key_kind",
    "load_key_file",
    "load_private_key",
    "open_private_key",
    "path_shown",
    "read_key_file",
]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
# Why one of cryptography's loaders failed; see `_attempt`.
_Failure: TypeAlias = Literal["no password", "needless password", "unsupported", "invalid"]
_T = TypeVar("_T")

MIN_RSA_BITS = 2048
# A key file is a few kilobytes; nothing larger is read or parsed, whatever its source.
MAX_KEY_BYTES = 64 * 1024
_MAX_PATH_CHARS = 4096
_BASE64_TEXT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\n")
# What a file's name ends with when it holds a key (or its public half, or a .env file).
KEY_FILE_SUFFIXES = (
    ".pem", ".key", ".txt", ".p8", ".der", ".pk8", ".pkcs8", ".pub", ".env", ".crt", ".cer",
    ".priv", ".private", ".rsa", ".asc", ".json", ".p12", ".pfx", ".ppk",
)  # fmt: skip
_SSH_KEY_NAMES = frozenset({"id_rsa", "id_ed25519", "id_ecdsa", "id_dsa"})
# The rule of `path_shown`: the longest path named, and what a run of key text looks like.
_MAX_SHOWN_PATH = 260
_RUN_CHARS = frozenset(string.ascii_letters + string.digits + "+=")
_KEY_RUN = 16  # the size of the fragments tests/helpers/keyleak.py looks for
_KEY_STARTS = ("MI", "MC")  # base64 DER of an RSA key (MII...) and an Ed25519 key (MC4C...)
_MIN_KEY_START_RUN = 4

_OPENSSH = "OPENSSH PRIVATE KEY"
_RSA_LABEL = "RSA PRIVATE KEY"
_ENCRYPTED = "ENCRYPTED PRIVATE KEY"
_PRIVATE_LABELS = ("RSA PRIVATE KEY", "PRIVATE KEY", _ENCRYPTED, _OPENSSH)
# What `open_private_key` reads for inspect-key: also the key types Kalshi refuses.
_OPENED_LABELS = (*_PRIVATE_LABELS, "EC PRIVATE KEY", "DSA PRIVATE KEY")
# For tools that need PEM (kalshi-auth loads OpenSSH keys itself): ssh-keygen -m PKCS8
# silently keeps Ed25519 keys in OpenSSH format; cryptography converts both RSA and Ed25519.
OPENSSH_TO_PKCS8 = (
    'python3 -c "import sys; from cryptography.hazmat.primitives import serialization as s; '
    "k = s.load_ssh_private_key(open(sys.argv[1], 'rb').read(), None); "
    "sys.stdout.buffer.write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, "
    's.NoEncryption()))" KEY_FILE > kalshi-key.pem'
)
_WRONG_LABEL_HELP = {
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


def load_private_key(source: object, *, password: str | bytes | None = None) -> PrivateKey:
    """Return the RSA or Ed25519 private key that `source` holds.

    `source` may be PEM text (`str` or `bytes`), DER bytes, a path to a key
    file (`os.PathLike`, or a `str` naming an existing file), or an
    already-loaded `cryptography` private key. Every failure is an
    `InvalidPrivateKeyError` that describes the input and never quotes it.
    """
    pw = _password_bytes(password)
    if isinstance(source, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        return _check_key(source)
    if isinstance(source, os.PathLike):
        path = _path_of(source)
        where = f"private key file {str(path)!r}"
        return _check_key(_load_bytes(read_key_file(path), pw, where=where), where=where)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _check_key(_load_bytes(bytes(source), pw, where="private key"))
    if not isinstance(source, str):
        raise InvalidPrivateKeyError(_wrong_object_message(source))
    if not source.strip():
        raise InvalidPrivateKeyError(
            "private key is empty; pass the PEM text of the key Kalshi gave you, or its path"
        )
    if _looks_like_path(source):
        path = Path(os.path.expanduser(source))
        # Missing, a file's path is still named: read_key_file says what is wrong with it.
        if _exists(path) or _names_a_file(source):
            where = f"private key file {_quoted(source)}"
            return _check_key(_load_bytes(read_key_file(path), pw, where=where), where=where)
    if _is_uuid(source.strip()):
        size = f"{len(source)}-character " + ("UUID" if len(source) == 36 else "string: a UUID")
        raise InvalidPrivateKeyError(
            f"private key looks like a key id, not a key: got a {size}. The arguments may be "
            "swapped: call KalshiAuth(key_id, private_key) with the key id first, then the "
            "PEM text of the private key or the path of its file"
        )
    return _check_key(_load_text(source, pw, where="private key", typed=True))


def load_key_file(data: bytes, *, password: str | bytes | None, where: str) -> PrivateKey:
    """The RSA or Ed25519 key in `data`, the bytes of a key file, as `load_private_key`
    reads them; its errors call the file `where` (inspect-key: its name and size)."""
    pw = _password_bytes(password)
    return _check_key(_load_bytes(data, pw, where=where), where=where)


def path_shown(text: str) -> str | None:
    """How an error may name `text`, a path given or typed: its repr, with control
    characters shown as ``?`` (`printable`); or None if `text` could be key material,
    which is described (its length, what it lacks) and never quoted.

    `text` could be key material, and is never named, when it
      - is longer than 260 characters, spans lines, or holds ``-----`` (PEM armor);
      - is made of base64 characters only (letters, digits, ``+ / =``, spaces and tabs),
        as ``keys/prod`` or ``/home/alice/kalshi`` are;
      - holds a run of 16 or more letters, digits, ``+`` or ``=`` (a run ends at any other
        character: ``/ \\ . - _ ~`` or a space), the length of the fragments the leak
        tests look for; or
      - holds a run of 4 or more that starts as a base64 RSA or Ed25519 key does (``MI``,
        ``MC``).
    What is left is one short line, cut into short words by characters base64 does not
    use, at least one of them: ``kalshi-key.pem``, ``~/keys/kalshi_prod.pem``,
    ``C:\\keys\\kalshi.txt``. Key text passes only if a / falls within every 16 of its
    characters and something no key holds (``.pem``) was added to it.
    """
    if len(text) > _MAX_SHOWN_PATH or "\n" in text or "\r" in text or "-----" in text:
        return None
    if _BASE64_TEXT.issuperset(text):
        return None
    start = 0
    for end, c in enumerate(text + "\0"):
        if c in _RUN_CHARS:
            continue
        size = end - start
        if size >= _KEY_RUN or (size >= _MIN_KEY_START_RUN and text.startswith(_KEY_STARTS, start)):
            return None
        start = end + 1
    return repr(printable(text, _MAX_SHOWN_PATH))


def has_key_file_name(text: str) -> bool:
    """Whether `text` ends as the name of a key file does: ``.pem``, ``.key``, ``.txt``...
    (`KEY_FILE_SUFFIXES`, any case), or ssh-keygen's ``id_rsa`` and ``id_ed25519``."""
    lower = text.lower()
    name = lower.replace("\\", "/").rpartition("/")[2]
    return lower.endswith(KEY_FILE_SUFFIXES) or name in _SSH_KEY_NAMES


def open_private_key(data: bytes, *, password: str | bytes | None) -> PrivateKeyTypes:
    """Any private key `data` holds, EC and DSA keys too, read under the same bounds as
    `load_private_key`: for inspect-key to name the type of a key that signing refuses.

    Raises `InvalidPrivateKeyError` if it does not load.
    """
    pw = _password_bytes(password)
    return _load_bytes(data, pw, where="private key", labels=_OPENED_LABELS)


def is_backend_panic(exc: BaseException) -> bool:
    """Whether `exc` is a Rust panic that pyo3 turned into an exception (cryptography and
    bcrypt are pyo3 extensions): a ``PanicException``, which derives from BaseException
    alone, so ``except Exception`` lets it through."""
    return type(exc).__name__ == "PanicException"


def key_kind(key: object) -> str:
    """A short, secret-free name of a key's type, e.g. ``RSA-2048`` or ``Ed25519``."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"RSA-{key.key_size}"
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "Ed25519"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return f"EC ({key.curve.name})"
    if isinstance(key, (dsa.DSAPrivateKey, dsa.DSAPublicKey)):
        return "DSA"
    return type(key).__name__


def read_key_file(path: Path) -> bytes:
    """The bytes of a regular file of at most `MAX_KEY_BYTES`; FIFOs and devices refused.

    An error names the path if it exists, or else if it can only be a path (`path_shown`),
    and a relative path with the current directory it was looked up from.
    """
    problem = _unreadable(path)
    if problem is None:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            problem = f"{_existing(path)} cannot be opened: {exc.strerror}{_relative(path)}"
        else:
            with os.fdopen(fd, "rb") as file:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    data = file.read(MAX_KEY_BYTES + 1)
                    if len(data) <= MAX_KEY_BYTES:
                        return data
                problem = _too_large_or_special(path)
    raise InvalidPrivateKeyError(problem)


def _unreadable(path: Path) -> str | None:
    """Why `path` cannot be a key file, judged from its metadata; None if it may be."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return _missing(path)
    except PermissionError:
        shown = path_shown(str(path)) or f"(a {len(str(path))}-character path)"
        return (
            f"private key file {shown} is not readable by this user{_relative(path)}; fix its "
            "permissions, or those of the folders above it"
        )
    except (OSError, ValueError):  # a name too long, a NUL, a loop of links
        return (
            f"private key path ({len(str(path))} characters) cannot be looked up: it is too "
            "long or holds a NUL or other invalid character; check the path"
        )
    if stat.S_ISDIR(info.st_mode):
        return (
            f"private key path {_quoted(str(path))} is a directory{_relative(path)}; name the "
            "key file inside it"
        )
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_KEY_BYTES:
        return _too_large_or_special(path)
    return None


def _missing(path: Path) -> str:
    shown = path_shown(str(path))
    if shown is None:
        return (
            "private key file does not exist: no file at the path given "
            f"({len(str(path))} characters, not shown: it could be key text; a relative "
            f"path is resolved from the current directory, {_cwd()}); check the path"
        )
    return f"private key file {shown} does not exist{_relative(path)}; check the path"


def _too_large_or_special(path: Path) -> str:
    return (
        f"{_existing(path)} is not a regular file of at most {MAX_KEY_BYTES} "
        "bytes (a FIFO, device, socket, or a file too large to be a key); pass the key "
        "file Kalshi gave you"
    )


def _existing(path: Path) -> str:
    """A path that exists, named: what exists is a file, not key text."""
    return f"private key file {_quoted(str(path))}"


def _quoted(text: str) -> str:
    return repr(printable(text, _MAX_SHOWN_PATH))


def _relative(path: Path) -> str:
    """For a relative `path`, the directory it was looked up from; else nothing."""
    if path.is_absolute():
        return ""
    return f" (relative to the current directory, {_cwd()})"


def _cwd() -> str:
    try:
        return _quoted(os.getcwd())
    except OSError:  # the directory was removed under the process
        return "which no longer exists"


def _names_a_file(text: str) -> bool:
    """Whether `text` can only be the path of a file: it has a path's marks (a key file's
    name, a / or \\, a leading ~) and could not be key material (`path_shown`)."""
    return _path_marked(text) and path_shown(text) is not None


def _path_marked(text: str) -> bool:
    return has_key_file_name(text) or "/" in text or "\\" in text or text.startswith("~")


def _is_uuid(text: str) -> bool:
    """Whether `text` is a UUID, as a Kalshi key id is: 8-4-4-4-12 hexadecimal digits."""
    parts = text.split("-")
    return [len(part) for part in parts] == [8, 4, 4, 4, 12] and all(
        c in string.hexdigits for part in parts for c in part
    )


def _path_of(source: os.PathLike[str] | os.PathLike[bytes]) -> Path:
    try:
        return Path(os.fsdecode(os.fspath(source)))
    except (TypeError, ValueError):
        pass  # raised below, outside the handler
    raise InvalidPrivateKeyError(
        f"private key path: {type(source).__name__}.__fspath__() returned neither str nor "
        "bytes; pass a pathlib.Path or a str"
    )


def _password_bytes(password: object) -> bytes | None:
    if password is None or password in ("", b""):
        return None
    if isinstance(password, str):
        try:
            return password.encode("utf-8")
        except UnicodeEncodeError:
            pass
        raise PrivateKeyPasswordError(
            "password holds a lone surrogate and cannot be encoded as UTF-8; pass the "
            "password as bytes"
        )
    if isinstance(password, bytes):
        return password
    raise PrivateKeyPasswordError(f"password must be str or bytes, not {type(password).__name__}")


def _looks_like_path(text: str) -> bool:
    return "-----" not in text and "\n" not in text and len(text) <= _MAX_PATH_CHARS


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long, or with a NUL, names nothing
        return False


def _load_bytes(
    data: bytes,
    password: bytes | None,
    *,
    where: str,
    labels: tuple[str, ...] = _PRIVATE_LABELS,
) -> PrivateKeyTypes:
    if len(data) > MAX_KEY_BYTES:
        raise InvalidPrivateKeyError(_too_long(where, len(data), "bytes"))
    if b"-----" not in data and data.startswith(b"\x30"):
        return _load_der(data, password, where)
    text = _decode_text(data)
    if text is None:
        raise InvalidPrivateKeyError(
            f"{where} is neither PEM text nor DER: {len(data)} bytes that are not UTF-8 or "
            "UTF-16 text (binary data); expected a text file that starts with "
            "-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----"
        )
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    return _load_text(text, password, where=where, labels=labels, utf16=utf16)


def _decode_text(data: bytes) -> str | None:
    """`data` as text: UTF-8 (a BOM allowed), or UTF-16 with its BOM (Windows editors)."""
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:  # its .object is the key file: let it go here
        return None


def _load_der(data: bytes, password: bytes | None, where: str) -> PrivateKeyTypes:
    failure: _Failure | None = "invalid"  # what `data` is called if it is not DER we read
    if check_der(data, where=where, decrypting=password is not None):
        key, failure = _attempt(
            partial(
                serialization.load_der_private_key,
                data,
                password,
                unsafe_skip_rsa_key_validation=True,  # checked by _validated, size first
            )
        )
        if key is not None:
            return _validated(key, where)
    if failure in ("no password", "needless password"):
        raise _password_error(where, encrypted=failure == "no password")
    if password is not None and is_encrypted_der(data):
        raise _undecryptable(where)  # as for an encrypted PEM key
    raise InvalidPrivateKeyError(
        f"{where} looks like binary DER ({len(data)} bytes) but does not parse as a "
        "private key; pass the PEM file Kalshi gave you"
    )


def _load_text(
    text: str,
    password: bytes | None,
    *,
    where: str,
    labels: tuple[str, ...] = _PRIVATE_LABELS,
    typed: bool = False,
    utf16: bool = False,
) -> PrivateKeyTypes:
    """The key in `text`: a str given as the key (`typed`: it might have been a path) or
    the bytes of a file decoded (`utf16`: from UTF-16), which a message describes so."""
    if len(text) > MAX_KEY_BYTES:
        raise InvalidPrivateKeyError(_too_long(where, len(text), "characters"))
    cleaned = unmangle(text)
    blocks = begin_lines(cleaned)
    if not blocks:
        raise InvalidPrivateKeyError(
            _no_armor_message(cleaned, where)
            if typed
            else _no_armor_in_file(text, cleaned, where, "UTF-16 text" if utf16 else "text")
        )
    armor = _parse_armor(cleaned, blocks, where, labels)
    if armor.encrypted and password is None:
        raise _password_error(where, encrypted=True)
    if not armor.encrypted and password is not None:
        raise _password_error(where, encrypted=False)
    if armor.label == _OPENSSH:
        return _load_openssh(armor, password, where)
    # What decrypting and loading will cost is read before cryptography does either. Under
    # legacy OpenSSL encryption (Proc-Type headers) the body is ciphertext, which need not
    # parse; its key comes from one MD5.
    decrypting = password is not None and armor.label == _ENCRYPTED
    legacy = bool(armor.headers) and armor.label != _ENCRYPTED
    if legacy and armor.label != _RSA_LABEL:
        # Legacy OpenSSL encryption hides what the block holds until cryptography has
        # decrypted and loaded it in one call; only RSA, whose size is checked before its
        # costly check, is let through. (Kalshi's keys are RSA or Ed25519.)
        raise InvalidPrivateKeyError(
            f"{where} is a {armor.label} block under legacy OpenSSL encryption (Proc-Type "
            "headers), which kalshi-auth opens only for RSA keys; Kalshi's keys are RSA or "
            "Ed25519: use the key file Kalshi gave you"
        )
    readable = check_der(armor.der(), where=where, decrypting=decrypting) or legacy
    tries = [armor.label]
    # A PKCS#1 body under a PKCS#8 header (or the reverse) is a common copy-paste slip.
    if armor.label == "PRIVATE KEY":
        tries.append("RSA PRIVATE KEY")
    elif armor.label == "RSA PRIVATE KEY" and not armor.headers:
        tries.append("PRIVATE KEY")
    unsupported = False
    for label in tries if readable else []:
        key, failure = _attempt(
            partial(
                serialization.load_pem_private_key,
                armor.pem(label),
                password,
                unsafe_skip_rsa_key_validation=True,  # checked by _validated, size first
            )
        )
        if key is not None:
            return _validated(key, where)
        unsupported = unsupported or failure == "unsupported"
    # Raised here, after _attempt's handlers: no exception chain carries cryptography's view.
    if unsupported:
        raise InvalidPrivateKeyError(
            f"{where} holds a key of an algorithm this system's cryptography library cannot "
            "load; Kalshi keys are RSA or Ed25519: create a new API key in Kalshi's web UI"
        )
    if armor.encrypted:
        raise _undecryptable(where)
    raise InvalidPrivateKeyError(
        f"{where} has a valid PEM frame but its body does not decode as a private key: it "
        "was damaged or cut when copied; copy the whole file Kalshi gave you again"
    )


def _load_openssh(armor: Armor, password: bytes | None, where: str) -> PrivateKeyTypes:
    """An OpenSSH private key, as ssh-keygen writes it; an encrypted one needs bcrypt."""
    failure: _Failure | None = "invalid"  # a header cryptography would refuse as well
    if check_openssh(armor.der(), where=where):
        key, failure = _attempt(partial(serialization.load_ssh_private_key, armor.pem(), password))
        if key is not None:
            return key  # cryptography checked it: its size was bounded by check_openssh
    if failure == "unsupported":
        raise InvalidPrivateKeyError(_openssh_unsupported(armor, where))
    if armor.encrypted:
        raise _undecryptable(where)
    raise InvalidPrivateKeyError(
        f"{where} is an OpenSSH private key whose body does not decode: it was damaged "
        "or cut when copied; copy the whole file again"
    )


def _openssh_unsupported(armor: Armor, where: str) -> str:
    """Why cryptography cannot open an OpenSSH key: bcrypt missing, or a cipher or key type
    it does not know (cryptography says which only in words, so bcrypt is looked for)."""
    if not armor.encrypted:
        return (
            f"{where} is an OpenSSH key of a type this system's cryptography cannot load; "
            "Kalshi keys are RSA or Ed25519"
        )
    try:
        importlib.import_module("bcrypt")  # what cryptography imports to open one
    except ImportError:
        return (
            f"{where} is an encrypted OpenSSH key, and opening one needs the bcrypt package: "
            'pip install "kalshi-auth[openssh]"'
        )
    return (
        f"{where} is an encrypted OpenSSH key whose cipher or key type this system's "
        "cryptography cannot open; remove its password with ssh-keygen -p (an empty new "
        "password), or pass the PEM file Kalshi gave you"
    )


def _attempt(load: Callable[[], _T]) -> tuple[_T, None] | tuple[None, _Failure]:
    """Run one of cryptography's loaders: (its result, None), or (None, why it failed).

    Whatever the backend raises becomes one of four reasons and is dropped here, so the
    error the caller then raises chains nothing that saw the key. cryptography raises
    InternalError on some hostile parameters, and panics on others: pyo3's PanicException
    derives from BaseException alone, so it is caught by name, while KeyboardInterrupt,
    SystemExit and every other BaseException (a cancellation) pass through untouched.
    """
    try:
        result = load()
    except TypeError as exc:  # cryptography's word for a password missing or not needed
        return None, "no password" if "not given" in str(exc) else "needless password"
    except UnsupportedAlgorithm:
        return None, "unsupported"
    except Exception:  # ValueError, InternalError, and whatever else a damaged key provokes
        return None, "invalid"
    except BaseException as exc:
        if not is_backend_panic(exc):
            raise
        return None, "invalid"
    return result, None


def _validated(key: PrivateKeyTypes, where: str) -> PrivateKeyTypes:
    """`key`, loaded without cryptography's RSA check, checked now: its size first (the
    check of a 16384-bit key takes half a minute, and an encrypted key shows its size only
    once decrypted), then its numbers, as cryptography checks them on load."""
    if not isinstance(key, rsa.RSAPrivateKey):
        return key
    if key.key_size > MAX_MODULUS_BITS:
        raise InvalidPrivateKeyError(modulus_refusal(where, "RSA", key.key_size))
    checked, _ = _attempt(lambda: key.private_numbers().private_key())
    if checked is None:
        raise InvalidPrivateKeyError(
            f"{where} is damaged: its RSA numbers do not make a valid key (they were changed "
            "when it was copied); copy the whole file Kalshi gave you again"
        )
    return checked


def _parse_armor(
    cleaned: str, blocks: list[BeginLine], where: str, labels: tuple[str, ...]
) -> Armor:
    """The first private key block of `cleaned` (text `unmangle` repaired), whose
    -----BEGIN lines are `blocks` (one at least)."""
    private = [b for b in blocks if b.label in labels]
    if not private:
        label = blocks[0].label
        help_text = _WRONG_LABEL_HELP.get(
            label, f"its PEM label is {label!r}, not a private key Kalshi issues"
        )
        raise InvalidPrivateKeyError(f"{where} cannot be used: {help_text}")
    begin = private[0]
    label = begin.label
    end = end_line(cleaned, label, begin.end)
    if end is None:
        raise InvalidPrivateKeyError(
            f"{where} looks truncated: it has the -----BEGIN {label}----- line but no "
            f"-----END {label}----- line. A .env loader that reads only the first line of a "
            "multi-line value does this; put the key in a file and use its path, or write "
            "it on one line with \\n between lines"
        )
    headers, inner = split_legacy_headers(cleaned[begin.end : end[0]])
    body = "".join(inner.split())
    if not body:
        raise InvalidPrivateKeyError(f"{where} is empty between its BEGIN and END lines")
    if not is_base64(body):
        raise InvalidPrivateKeyError(
            f"{where} is damaged: the text between its BEGIN and END lines is not valid "
            "base64 (characters were changed, added or lost when it was copied); copy the "
            "whole file Kalshi gave you again"
        )
    return Armor(label=label, headers=headers, body=body)


def _no_armor_message(text: str, where: str) -> str:
    """What a str given as the key is, when it has no -----BEGIN line and names no file:
    described by its length, and where a path would have been looked for."""
    known = _known_without_armor(text, where)
    if known is not None:
        return known
    dashes = "" if "-" * 5 in text else "; if it is a key, its dashes may have been changed"
    hidden = ""
    if _path_marked(text):  # a path's marks, but it could be key text: described only
        hidden = (
            " (not shown: it could be key text; if it is a path, no file is there: a relative "
            f"path is resolved from the current directory, {_cwd()})"
        )
    return (
        f"{where} is neither PEM text nor the path of an existing file: got a "
        f"{len(text)}-character string{hidden} with no -----BEGIN ...----- line. Pass the key "
        "file Kalshi gave you, starting with -----BEGIN RSA PRIVATE KEY----- or "
        f"-----BEGIN PRIVATE KEY-----, or the path of that file{dashes} (an editor may "
        "turn ----- into a long dash)"
    )


def _no_armor_in_file(text: str, cleaned: str, where: str, kind: str) -> str:
    """What the bytes of a file (or bytes given as the key) hold, decoded as `text` and
    repaired as `cleaned`, when they have no -----BEGIN line: empty, binary, or `kind` of
    text; never any of it."""
    known = _known_without_armor(cleaned, where)
    if known is not None:
        return known
    expected = (
        "a key file is text that starts with -----BEGIN RSA PRIVATE KEY----- or "
        "-----BEGIN PRIVATE KEY-----: pass the private key file Kalshi gave you"
    )
    if not text.strip():
        return f"{where} is empty{' (whitespace only)' if text else ''}; {expected}"
    if any(not c.isprintable() and c not in "\t\n\r\f\v\ufeff" for c in text):
        return f"{where} is binary data (it holds control characters), not PEM text; {expected}"
    dashes = "" if "-" * 5 in cleaned else " (if it is a key, its dashes may have been changed)"
    return f"{where} is {kind} with no -----BEGIN ...----- line, not PEM{dashes}; {expected}"


def _known_without_armor(text: str, where: str) -> str | None:
    """The message for key text that lost its armor, or is a public key; else None."""
    if text.startswith(("ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-")):
        return f"{where} is an OpenSSH public key; pass the private key Kalshi gave you"
    if len(text) >= 100 and _BASE64_TEXT.issuperset(text):
        return (
            f"{where} looks like a bare base64 key body without its PEM lines; add the "
            "-----BEGIN RSA PRIVATE KEY----- (or -----BEGIN PRIVATE KEY-----) line before it "
            "and the matching -----END ...----- line after it"
        )
    return None


def _too_long(where: str, size: int, unit: str) -> str:
    return (
        f"{where} is {size} {unit}, far more than a key ({MAX_KEY_BYTES} at most); pass the "
        "key file Kalshi gave you"
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


def _undecryptable(where: str) -> PrivateKeyPasswordError:
    """An encrypted key (PEM, DER or OpenSSH) that the password given does not open."""
    return PrivateKeyPasswordError(
        f"{where} could not be decrypted: the password is wrong, or the key is damaged"
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
