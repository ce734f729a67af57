"""PEM armor, found and repaired in linear time: no regular expressions, no re-scans.

Key text reaches us through `.env` files and secret stores that mangle it
(literal ``\\n``, CRLF, one line with spaces, quotes kept). These functions
find the ``-----BEGIN ...-----`` and ``-----END ...-----`` lines in such text
and re-wrap the body the standard way. Each one does work bounded by the
length of its input, whatever the input holds.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

__all__ = [
    "Armor",
    "BeginLine",
    "begin_lines",
    "end_line",
    "is_base64",
    "openssh_cipher",
    "pem_label",
    "split_legacy_headers",
    "unmangle",
]

_DASHES = "-----"
_BEGIN = "BEGIN "
_MAX_LABEL_CHARS = 40
_MAX_SPACES = 16  # tolerated between the dashes and BEGIN/END, and around a label
_MAX_BLOCKS = 16
_LABEL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")
_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


@dataclass(frozen=True)
class BeginLine:
    """A ``-----BEGIN LABEL-----`` line: its label and where it starts and ends."""

    label: str
    start: int
    end: int


@dataclass(frozen=True)
class Armor:
    """One PEM block, split into its parts, ready to be re-wrapped the standard way."""

    label: str
    headers: tuple[tuple[str, str], ...]
    body: str

    @property
    def encrypted(self) -> bool:
        """Whether the block is an encrypted key (PKCS#8, legacy OpenSSL, or OpenSSH)."""
        if self.label == "OPENSSH PRIVATE KEY":
            return openssh_cipher(self.body) not in ("none", None)
        return self.label == "ENCRYPTED PRIVATE KEY" or any(
            name == "Proc-Type" and "ENCRYPTED" in value.upper() for name, value in self.headers
        )

    def der(self) -> bytes:
        """The body decoded: DER, or an OpenSSH key's binary form (or, under legacy OpenSSL
        encryption, ciphertext)."""
        return base64.b64decode(self.body)

    def pem(self, label: str | None = None) -> bytes:
        """Standard PEM: 64-character lines, under `label` (default: its own)."""
        label = label or self.label
        lines = [f"-----BEGIN {label}-----"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.headers:
            lines.append("")
        lines += [self.body[i : i + 64] for i in range(0, len(self.body), 64)]
        lines.append(f"-----END {label}-----")
        return ("\n".join(lines) + "\n").encode("ascii")


def unmangle(text: str) -> str:
    """Undo what `.env` files and secret stores do to multi-line PEM text."""
    text = text.replace("\\r", "").replace("\\n", "\n").replace("\r\n", "\n").replace("\r", "\n")
    text = text.strip()
    for _ in range(2):  # quotes kept by a loader, at most twice ("'...'"): never a loop
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            text = text[1:-1].strip()
    return text


def begin_lines(text: str) -> list[BeginLine]:
    """Every ``-----BEGIN LABEL-----`` line in `text` (the first 16), in order."""
    found: list[BeginLine] = []
    pos = text.find(_BEGIN)
    while pos != -1 and len(found) < _MAX_BLOCKS:
        line = _begin_at(text, pos)
        if line is not None:
            found.append(line)
        pos = text.find(_BEGIN, line.end if line is not None else pos + len(_BEGIN))
    return found


def pem_label(text: str) -> str | None:
    """The label of the first BEGIN line, e.g. ``RSA PRIVATE KEY``, or None."""
    lines = begin_lines(unmangle(text))
    return lines[0].label if lines else None


def end_line(text: str, label: str, start: int) -> tuple[int, int] | None:
    """(start, end) of the first ``-----END LABEL-----`` line at or after `start`."""
    word = "END " + label
    pos = text.find(word, start)
    while pos != -1:
        before = _skip_spaces_back(text, pos)
        after = _skip_spaces(text, pos + len(word))
        dashes_before = before >= start + 5 and text.startswith(_DASHES, before - 5)
        if dashes_before and text.startswith(_DASHES, after):
            return before - 5, after + 5
        pos = text.find(word, pos + 1)
    return None


def split_legacy_headers(inner: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """OpenSSL's ``Proc-Type`` and ``DEK-Info`` lines, and the text after them."""
    rest = inner.lstrip()
    if rest[:10].lower() != "proc-type:":
        return (), inner
    proc, rest = _token(rest[10:])
    rest = rest.lstrip()
    if rest[:9].lower() != "dek-info:":
        return (), inner
    dek, rest = _token(rest[9:])
    if not proc or not dek:
        return (), inner
    return (("Proc-Type", proc), ("DEK-Info", dek)), rest


def is_base64(body: str) -> bool:
    """Whether `body` (whitespace removed) is standard base64 with correct padding."""
    data = body.rstrip("=")
    return (
        bool(data)
        and len(body) - len(data) <= 2
        and len(body) % 4 == 0
        and _BASE64_CHARS.issuperset(data)
    )


_OPENSSH_MAGIC = b"openssh-key-v1\0"


def openssh_cipher(body: str) -> str | None:
    """The cipher named in an OpenSSH private key's base64 body (``none``: not encrypted),
    or None if the body is not an OpenSSH key."""
    try:
        head = base64.b64decode(body[:64])  # magic, then a length-prefixed cipher name
    except ValueError:
        return None
    if not head.startswith(_OPENSSH_MAGIC) or len(head) < len(_OPENSSH_MAGIC) + 4:
        return None
    start = len(_OPENSSH_MAGIC) + 4
    size = int.from_bytes(head[len(_OPENSSH_MAGIC) : start], "big")
    name = head[start : start + size]
    return name.decode("ascii", "replace") if len(name) == size else None


def _begin_at(text: str, pos: int) -> BeginLine | None:
    """The BEGIN line whose word BEGIN starts at `pos`, if dashes frame it."""
    start = _skip_spaces_back(text, pos) - 5
    if start < 0 or not text.startswith(_DASHES, start):
        return None
    first = pos + len(_BEGIN)
    close = text.find(_DASHES, first, first + _MAX_LABEL_CHARS + 2 * _MAX_SPACES)
    if close == -1:
        return None
    label = text[first:close].strip()
    if not label or not _LABEL_CHARS.issuperset(label):
        return None
    return BeginLine(label, start, close + 5)


def _skip_spaces(text: str, i: int) -> int:
    end = min(len(text), i + _MAX_SPACES)
    while i < end and text[i] in " \t\n":
        i += 1
    return i


def _skip_spaces_back(text: str, i: int) -> int:
    stop = max(0, i - _MAX_SPACES)
    while i > stop and text[i - 1] in " \t\n":
        i -= 1
    return i


def _token(text: str) -> tuple[str, str]:
    parts = text.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""
