"""Which hosts get credentials, and which origin a URL belongs to."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

from ._errors import ConfigurationError

__all__ = ["DEFAULT_HOSTS", "HostScope", "Origin", "origin_of"]

# Kalshi's API domains and loopback (for local testing); nothing else gets credentials.
DEFAULT_HOSTS: tuple[str, ...] = ("kalshi.com", "kalshi.co", "localhost", "127.0.0.0/8", "::1")

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# Names that mean this machine without asking DNS; they match themselves only, no subdomains.
_EXACT_NAMES = frozenset({"localhost"})
_CACHE_LIMIT = 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Origin(NamedTuple):
    """(scheme, host, port) with the scheme's default port filled in, as browsers compare."""

    scheme: str
    host: str
    port: int | None

    @classmethod
    def of(cls, scheme: str, host: str, port: int | None) -> Origin:
        """The origin of a URL already split by a client library."""
        scheme = scheme.lower()
        return cls(scheme, host.lower().strip("[]"), port or _DEFAULT_PORTS.get(scheme))


def origin_of(url: str) -> Origin:
    """The origin of an absolute URL; a URL that cannot be split has an empty one."""
    try:
        parts = urlsplit(url)
        return Origin.of(parts.scheme, parts.hostname or "", parts.port)
    except ValueError:  # a bad port or bracket: an origin that matches nothing
        return Origin("", "", None)


class HostScope:
    """A set of host names (each with its subdomains), IP addresses and networks.

    ``"*"`` matches every host. ``localhost`` matches that name alone. A name
    that DNS would resolve (``api.localhost``, ``127.0.0.1.`` with its dot) is
    not treated as an address.
    """

    __slots__ = ("_any", "_cache", "_domains", "_exact", "_networks", "entries")

    def __init__(self, hosts: str | Iterable[str]) -> None:
        if isinstance(hosts, str):
            entries: tuple[object, ...] = (hosts,)
        elif isinstance(hosts, Iterable):
            entries = tuple(hosts)
        else:
            raise ConfigurationError(
                f"hosts must be a host name or a list of them, not {type(hosts).__name__}; "
                "leave it out for Kalshi's hosts, or pass '*' to sign for any host"
            )
        self._any = False
        self._domains: list[str] = []
        self._exact: set[str] = set()
        self._networks: list[Network] = []
        self._cache: dict[str, bool] = {}
        for entry in entries:
            self._add(entry)
        self.entries: tuple[str, ...] = entries  # type: ignore[assignment] # all str by now

    def _add(self, entry: object) -> None:
        if not isinstance(entry, str) or not entry.strip():
            kind = "an empty string" if isinstance(entry, str) else type(entry).__name__
            raise ConfigurationError(
                f"hosts entries must be host names such as 'kalshi.com', got {kind}"
            )
        text = entry.strip().lower()
        if text == "*":
            self._any = True
            return
        if "://" in text:
            raise ConfigurationError("a hosts entry is a URL; give the host name alone")
        try:
            network = ipaddress.ip_network(text.strip("[]"), strict=False)
        except ValueError:
            network = None
        if network is not None:
            self._networks.append(network)
            return
        name = text.rstrip(".")
        if not name or any(c in name for c in "/: \t[]@?#"):
            raise ConfigurationError(
                f"a hosts entry ({len(entry)} characters) is neither a host name, an IP "
                "address nor a network such as '10.0.0.0/8'"
            )
        if name in _EXACT_NAMES:
            self._exact.add(name)
        else:
            self._domains.append(name.lstrip("."))

    def known(self, host: str) -> bool:
        """True only if `host` was already found in scope: one dict look-up, for hot paths."""
        return self._cache.get(host, False)

    def __contains__(self, host: object) -> bool:
        if not isinstance(host, str):
            return False
        known = self._cache.get(host)
        if known is None:
            known = self._match(host)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[host] = known
        return known

    def _match(self, host: str) -> bool:
        if self._any:
            return True
        host = host.lower()
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            address = None
        if address is not None:
            return any(address in network for network in self._networks)
        if host in self._exact:
            return True
        name = host.rstrip(".")  # a fully qualified name: the same DNS name
        if not name or _is_dotted_address(name):
            return False
        return any(name == d or name.endswith("." + d) for d in self._domains)


def _is_dotted_address(name: str) -> bool:
    """Whether `name` (its final dot removed) reads as an IP address: then it was ``1.2.3.4.``."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
