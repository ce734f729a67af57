"""Writing the three headers into an ``httpx.Headers`` at the cost of a list append.

``Headers.__setitem__`` encodes, lower-cases and rescans the whole list on
every call: three calls cost about 3 µs, a sixth of an Ed25519 signature.
httpx keeps a request's headers in ``Headers._list`` as ``(raw name, lower-case
name, value)`` byte triples; appending there is what ``__setitem__`` does for
a name not present yet. That is a private attribute, so it is used only when a
probe at import shows that it behaves exactly as the public API does on the
installed httpx, and only when none of the three names is present; otherwise
the public ``__setitem__`` runs. tests/adapters/test_httpx_headers.py pins both.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter

import httpx

from ._signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

__all__ = ["FAST_PATH", "write_headers"]

_LOWER_NAME = itemgetter(1)  # the second item of each (raw name, lower-case name, value)
# (raw name, lower-case name) of the three headers, encoded once.
_ENCODED = {
    name: (name.encode("ascii"), name.lower().encode("ascii"))
    for name in (KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
}
_LOWER_NAMES = frozenset(lower for _, lower in _ENCODED.values())


def write_headers(headers: httpx.Headers, signed: Mapping[str, str]) -> None:
    """Set the three ``KALSHI-ACCESS-*`` headers (`signed`, ASCII values) in `headers`,
    replacing any of them already there."""
    raw = getattr(headers, "_list", None) if FAST_PATH else None
    # None of the three present (checked in C, no Python loop per header), only ours to set.
    if (
        type(raw) is list
        and _LOWER_NAMES.isdisjoint(map(_LOWER_NAME, raw))
        and _ENCODED.keys() >= signed.keys()
    ):
        for name, value in signed.items():
            raw_name, lower_name = _ENCODED[name]
            raw.append((raw_name, lower_name, value.encode()))
    else:
        _public_write(headers, signed)


def _public_write(headers: httpx.Headers, signed: Mapping[str, str]) -> None:
    for name, value in signed.items():
        headers[name] = value


def _fast_path_matches_public_api() -> bool:
    """Whether appending to ``Headers._list`` gives what ``__setitem__`` gives, here."""
    probe = {
        "KALSHI-ACCESS-KEY": "k",
        "KALSHI-ACCESS-TIMESTAMP": "1",
        "KALSHI-ACCESS-SIGNATURE": "s=",
    }
    try:
        fast = httpx.Headers({"Host": "example.com", "Accept": "*/*"})
        public = httpx.Headers({"Host": "example.com", "Accept": "*/*"})
        raw = fast._list  # the point of the probe
        if type(raw) is not list or not all(type(t) is tuple and len(t) == 3 for t in raw):
            return False
        for name, value in probe.items():
            key = name.encode("ascii")
            raw.append((key, key.lower(), value.encode("ascii")))
        _public_write(public, probe)
        return (
            fast.raw == public.raw
            and fast.multi_items() == public.multi_items()
            and all(fast[name] == value for name, value in probe.items())
            and fast == public
        )
    except Exception:  # any change in httpx: use the public API
        return False


FAST_PATH = _fast_path_matches_public_api()
