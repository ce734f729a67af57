"""The exceptions kalshi-auth raises. None of their messages holds key material."""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "InvalidKeyIdError",
    "InvalidPrivateKeyError",
    "KalshiAuthError",
    "PrivateKeyPasswordError",
    "SignerError",
]


class KalshiAuthError(ValueError):
    """Base class of every error kalshi-auth raises: bad input, or a failing signer."""


class InvalidPrivateKeyError(KalshiAuthError):
    """The private key cannot be read, is damaged, or is not a key Kalshi accepts."""


class PrivateKeyPasswordError(InvalidPrivateKeyError):
    """The key is encrypted and the password is missing or wrong (or given but not needed)."""


class InvalidKeyIdError(KalshiAuthError):
    """The API key id is empty or would corrupt the `KALSHI-ACCESS-KEY` header."""


class ConfigurationError(KalshiAuthError):
    """An option or environment variable is missing, conflicting or malformed."""


class SignerError(KalshiAuthError):
    """An external `Signer` failed or returned something that is not a signature.

    The message names the signer's class and the reason; ``__cause__`` holds the
    signer's own exception. The request is not sent, and the signer is never retried.
    """
