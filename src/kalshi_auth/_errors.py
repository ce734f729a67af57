"""The exceptions kalshi-auth raises. None of their messages holds key material."""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "InvalidKeyIdError",
    "InvalidPrivateKeyError",
    "KalshiAuthError",
    "PrivateKeyPasswordError",
]


class KalshiAuthError(ValueError):
    """Base class of every error kalshi-auth raises for bad input."""


class InvalidPrivateKeyError(KalshiAuthError):
    """The private key cannot be read, is damaged, or is not a key Kalshi accepts."""


class PrivateKeyPasswordError(InvalidPrivateKeyError):
    """The key is encrypted and the password is missing or wrong (or given but not needed)."""


class InvalidKeyIdError(KalshiAuthError):
    """The API key id is empty or would corrupt the `KALSHI-ACCESS-KEY` header."""


class ConfigurationError(KalshiAuthError):
    """An option or environment variable is missing, conflicting or malformed."""
