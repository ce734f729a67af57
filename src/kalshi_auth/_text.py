"""Text from outside (a server, an exception) made safe to show in one line."""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: object, limit: int = 120) -> str:
    """`text` made safe for a terminal or a log: control characters replaced by ``?``,
    one line, cut to `limit` characters."""
    shown = "".join(c if c.isprintable() else "?" for c in str(text)[: limit + 1])
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
