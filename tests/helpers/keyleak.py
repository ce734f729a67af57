"""Where an exception could carry key material, and a check that it carries none."""

from __future__ import annotations

import traceback


def exception_texts(exc: BaseException) -> list[str]:
    """Everything a user could see of `exc`: message, repr, the formatted traceback, and
    the same for each exception in its __cause__/__context__ chain, with their args and a
    UnicodeDecodeError's .object decoded every way a terminal might show it."""
    texts = ["".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), *(repr(a) for a in current.args)]
        obj = getattr(current, "object", None)
        if isinstance(obj, (bytes, bytearray)):
            texts += [bytes(obj).decode(codec, "replace") for codec in ("latin-1", "utf-16")]
        current = current.__cause__ or current.__context__
    return texts


def key_fragments(body: str, size: int = 16) -> list[str]:
    """Every `size`-character run of a key's base64 body, overlapping by half."""
    body = "".join(body.split())
    return [body[i : i + size] for i in range(0, max(len(body) - size, 1), size // 2)]


def leaked(exc: BaseException, bodies: list[str]) -> list[str]:
    """The fragments of any of `bodies` found anywhere in what `exc` shows."""
    shown = "\n".join(exception_texts(exc))
    return [f for body in bodies for f in key_fragments(body) if f in shown]
