"""Credentials from environment variables, and which variable is to blame for an error."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ._errors import (
    ConfigurationError,
    InvalidKeyIdError,
    KalshiAuthError,
    PrivateKeyPasswordError,
)
from ._keys import path_shown
from ._text import printable

__all__ = [
    "ENV_KEY_ID",
    "ENV_PASSWORD",
    "ENV_PRIVATE_KEY",
    "ENV_PRIVATE_KEY_PATH",
    "EnvCredentials",
    "blame_variable",
    "build_from_env",
    "read_env",
]

T = TypeVar("T")

ENV_KEY_ID = "KALSHI_API_KEY_ID"
ENV_PRIVATE_KEY = "KALSHI_PRIVATE_KEY"
ENV_PRIVATE_KEY_PATH = "KALSHI_PRIVATE_KEY_PATH"
ENV_PASSWORD = "KALSHI_PRIVATE_KEY_PASSWORD"  # noqa: S105 (a variable name)


@dataclass(frozen=True)
class EnvCredentials:
    """What the environment holds, and the name of the variable the key came from."""

    key_id: str
    private_key: str | Path
    password: str | None
    key_variable: str

    def __repr__(self) -> str:  # never show the key
        return f"EnvCredentials(key_variable={self.key_variable!r})"


def read_env(environ: Mapping[str, str] | None = None) -> EnvCredentials:
    """Read ``KALSHI_API_KEY_ID``, the key or its path, and the password."""
    env = os.environ if environ is None else environ
    key_id = env.get(ENV_KEY_ID, "").strip().strip("\"'").strip()  # .env quotes kept
    if not key_id:
        raise ConfigurationError(
            f"{ENV_KEY_ID} is not set: set it to the API key id shown in Kalshi's web UI "
            "(Account & Security > API Keys)"
        )
    pem = env.get(ENV_PRIVATE_KEY, "")
    path = env.get(ENV_PRIVATE_KEY_PATH, "").strip()
    if pem.strip() and path:
        raise ConfigurationError(
            f"both {ENV_PRIVATE_KEY} and {ENV_PRIVATE_KEY_PATH} are set; set only one "
            f"({ENV_PRIVATE_KEY} holds the PEM text, {ENV_PRIVATE_KEY_PATH} the file's path)"
        )
    if not pem.strip() and not path:
        raise ConfigurationError(
            f"neither {ENV_PRIVATE_KEY} (the PEM text) nor {ENV_PRIVATE_KEY_PATH} (the path "
            "of the key file) is set; set one of them"
        )
    password = env.get(ENV_PASSWORD) or None
    if pem.strip():
        return EnvCredentials(key_id, pem, password, ENV_PRIVATE_KEY)
    return EnvCredentials(key_id, Path(os.path.expanduser(path)), password, ENV_PRIVATE_KEY_PATH)


def blame_variable(error: KalshiAuthError, credentials: EnvCredentials) -> KalshiAuthError:
    """`error` again, its message prefixed with the variable that caused it."""
    if isinstance(error, InvalidKeyIdError):
        variable = ENV_KEY_ID
    elif isinstance(error, ConfigurationError):
        return error  # an option passed to from_env(), not a variable
    else:
        variable = credentials.key_variable
    if isinstance(error, PrivateKeyPasswordError):
        return PrivateKeyPasswordError(f"{variable}: {_password_advice(str(error), credentials)}")
    path = credentials.private_key
    if isinstance(path, Path) and not _exists(path):
        # Named only when it can only be a path: the PEM text set in the _PATH variable
        # by mistake must never be quoted back.
        shown = path_shown(str(path))
        what = (
            f"no file at {shown}"
            if shown
            else (
                f"no file at the {len(str(path))}-character value (not shown: it could be key "
                f"text; put PEM text in {ENV_PRIVATE_KEY}, a file's path in {ENV_PRIVATE_KEY_PATH})"
            )
        )
        return type(error)(
            f"{variable}: {what} (a relative path is read from the current directory, "
            f"{printable(os.getcwd(), 300)!r}); check the path"
        )
    return type(error)(f"{variable}: {error}")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # too long, or a NUL: names nothing
        return False


def _password_advice(message: str, credentials: EnvCredentials) -> str:
    """The password error in the environment's words: which variable to set or unset."""
    if credentials.password is None:
        return f"the key is encrypted; set {ENV_PASSWORD} to its password"
    if "not encrypted" in message:
        return f"the key is not encrypted, but {ENV_PASSWORD} is set; unset it"
    return f"the key could not be decrypted: {ENV_PASSWORD} is wrong, or the key is damaged"


def build_from_env(
    factory: Callable[..., T], environ: Mapping[str, str] | None, options: dict[str, Any]
) -> T:
    """``factory(key_id, private_key, password=..., **options)`` from the environment; an
    error names the variable to fix, and chains nothing (it may have held key text)."""
    credentials = read_env(environ)
    try:
        return factory(
            credentials.key_id, credentials.private_key, password=credentials.password, **options
        )
    except KalshiAuthError as exc:
        error = blame_variable(exc, credentials)
    raise error  # outside the handler: no exception chain
