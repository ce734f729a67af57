"""`KalshiAuth`: one auth object for requests and httpx, sync and async."""

from __future__ import annotations

import logging
import os
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import requests.auth

from ._errors import ConfigurationError, InvalidKeyIdError, KalshiAuthError
from ._keys import PrivateKey, describe_key, load_private_key
from ._signing import (
    Signer,
    access_headers,
    now_ms,
    signing_path,
    string_to_sign,
    target_of,
    timestamp_text,
)

if TYPE_CHECKING:
    from requests import PreparedRequest

__all__ = ["KalshiAuth"]

logger = logging.getLogger("kalshi_auth")

ENV_KEY_ID = "KALSHI_API_KEY_ID"
ENV_PRIVATE_KEY = "KALSHI_PRIVATE_KEY"
ENV_PRIVATE_KEY_PATH = "KALSHI_PRIVATE_KEY_PATH"
ENV_PASSWORD = "KALSHI_PRIVATE_KEY_PASSWORD"  # noqa: S105 (a variable name)


class KalshiAuth(requests.auth.AuthBase, httpx.Auth):
    """Signs each request for Kalshi's API with the three ``KALSHI-ACCESS-*`` headers.

    Use it as ``auth=`` on any requests call or ``Session`` and on any httpx
    ``Client`` or ``AsyncClient``. It signs the final request: the method and
    the path exactly as they go on the wire, after ``params`` are merged and a
    ``base_url`` is applied. One instance is safe to share across threads and
    asyncio tasks.

    Args:
        key_id: the API key id Kalshi shows next to the key (a UUID).
        private_key: PEM text (``str`` or ``bytes``), a path to the key file
            (``pathlib.Path``, or a ``str`` naming an existing file), or a
            loaded ``cryptography`` RSA or Ed25519 private key. Parsed once, here.
        password: the password of an encrypted key.
        include_query: also sign ``?`` + the query string. Kalshi's server does
            **not** sign the query and rejects such signatures; this exists only
            for servers that follow the older third-party guides.
    """

    # The body is never signed: httpx need not read it, so streaming uploads stay streamed.
    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        key_id: str,
        private_key: str | bytes | os.PathLike[str] | PrivateKey,
        *,
        password: str | bytes | None = None,
        include_query: bool = False,
    ) -> None:
        self._key_id = _checked_key_id(key_id)
        key = load_private_key(private_key, password=password)
        self._key_type = describe_key(key)
        self._sign = Signer(key)
        self._include_query = include_query

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, include_query: bool = False
    ) -> KalshiAuth:
        """Build from ``KALSHI_API_KEY_ID`` and ``KALSHI_PRIVATE_KEY`` or ``..._PATH``.

        ``KALSHI_PRIVATE_KEY_PASSWORD`` is read for an encrypted key. `environ`
        replaces ``os.environ`` (for example a dict from a dotenv loader).
        """
        env = os.environ if environ is None else environ
        key_id = env.get(ENV_KEY_ID, "").strip()
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
        variable = ENV_PRIVATE_KEY if pem.strip() else ENV_PRIVATE_KEY_PATH
        source: str | os.PathLike[str] = pem if pem.strip() else Path(os.path.expanduser(path))
        try:
            return cls(
                key_id,
                source,
                password=env.get(ENV_PASSWORD) or None,
                include_query=include_query,
            )
        except KalshiAuthError as exc:
            raise type(exc)(f"{variable}: {exc}") from None

    @property
    def key_id(self) -> str:
        """The API key id sent in ``KALSHI-ACCESS-KEY``."""
        return self._key_id

    @property
    def key_type(self) -> str:
        """The key's type, e.g. ``RSA-2048`` or ``Ed25519``."""
        return self._key_type

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(key_id={self._key_id!r}, key_type={self._key_type!r}, "
            f"include_query={self._include_query!r})"
        )

    __str__ = __repr__

    def headers(
        self, method: str, url_or_path: str, *, timestamp_ms: int | None = None
    ) -> dict[str, str]:
        """The three ``KALSHI-ACCESS-*`` headers for a request made by another client.

        For websockets, aiohttp, curl and the like. `url_or_path` is an absolute
        URL or a path such as ``/trade-api/ws/v2``; the query, if any, is
        treated as in every other request.
        """
        timestamp = timestamp_text(now_ms() if timestamp_ms is None else timestamp_ms)
        return self._signed_headers(timestamp, method, target_of(url_or_path))

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        """requests hook: sign the prepared request (``params`` already merged)."""
        r.headers.update(self._signed_headers(str(now_ms()), r.method or "GET", r.path_url))
        return r

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx hook: sign the request from its raw, still percent-encoded target."""
        target = request.url.raw_path.decode("ascii")
        request.headers.update(self._signed_headers(str(now_ms()), request.method, target))
        yield request

    def _signed_headers(self, timestamp: str, method: str, target: str) -> dict[str, str]:
        method = method.upper()
        path = signing_path(target, include_query=self._include_query)
        signature = self._sign(string_to_sign(timestamp, method, path))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("signed %s %s at %s", method, path, timestamp)
        return access_headers(self._key_id, timestamp, signature)


def _checked_key_id(key_id: object) -> str:
    if not isinstance(key_id, str):
        raise InvalidKeyIdError(f"key_id must be a str, not {type(key_id).__name__}")
    if not key_id:
        raise InvalidKeyIdError(
            "key_id is empty; pass the API key id shown in Kalshi's web UI "
            "(Account & Security > API Keys)"
        )
    if "-----" in key_id or len(key_id) > 200:
        # Never echo it: this is probably the private key passed in the wrong position.
        raise InvalidKeyIdError(
            "key_id looks like a private key, not a key id; call KalshiAuth(key_id, private_key) "
            "with the key id first"
        )
    bad = next((c for c in key_id if c.isspace() or not c.isprintable() or ord(c) > 126), None)
    if bad is not None:
        where = "at its start or end" if key_id.strip() != key_id else "inside it"
        raise InvalidKeyIdError(
            f"key_id contains {bad!r} {where}; a key id is a UUID such as "
            "'a952bcbe-ec3b-4b5b-b8f9-11dae589608c': remove whitespace and control "
            "characters (a trailing newline from a file or .env is the usual cause)"
        )
    return key_id
