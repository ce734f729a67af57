"""Which hosts a `KalshiAuth` signs for, and which origin a URL belongs to."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from ._errors import ConfigurationError

__all__ = ["DEFAULT_HOSTS", "DEFAULT_PORTS", "HostScope", "origin_of"]

# Kalshi's API domains and loopback (for local testing); nothing else gets credentials.
DEFAULT_HOSTS: tuple[str, ...] = ("kalshi.com", "kalshi.co", "localhost", "127.0.0.0/8", "::1")

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_CACHE_LIMIT = 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").rstrip("."), parts.port or DEFAULT_PORTS.get(scheme)


class HostScope:
    """A set of host names (each with its subdomains), IP addresses and networks.

    ``"*"`` matches every host.
    """

    __slots__ = ("_any", "_cache", "_domains", "_networks", "entries")

    def __init__(self, hosts: str | Iterable[str]) -> None:
        entries = (hosts,) if isinstance(hosts, str) else tuple(hosts)
        self.entries = entries
        self._any = False
        self._domains: list[str] = []
        self._networks: list[Network] = []
        self._cache: dict[str, bool] = {}
        for entry in entries:
            self._add(entry)

    def _add(self, entry: object) -> None:
        if not isinstance(entry, str) or not entry.strip():
            raise ConfigurationError(f"hosts entries must be non-empty host names, got {entry!r}")
        text = entry.strip().lower().rstrip(".")
        if text == "*":
            self._any = True
            return
        if "://" in text:
            raise ConfigurationError(
                f"hosts entry {entry!r} is a URL; give the host name alone, e.g. 'kalshi.com'"
            )
        try:
            network = ipaddress.ip_network(text.strip("[]"), strict=False)
        except ValueError:
            network = None
        if network is not None:
            self._networks.append(network)
            return
        if "/" in text or ":" in text or " " in text:
            raise ConfigurationError(
                f"hosts entry {entry!r} is neither a host name, an IP address nor a network "
                "such as '10.0.0.0/8'"
            )
        self._domains.append(text.lstrip("."))

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
        name = host.lower().rstrip(".").strip("[]")
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return any(name == d or name.endswith("." + d) for d in self._domains)
        return any(address in network for network in self._networks)
