"""`kalshi-auth serve`: the verifying server in the foreground, for a bot in any language."""

from __future__ import annotations

import shlex
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ._errors import ConfigurationError, KalshiAuthError
from ._keygen import create_key_file
from ._keys import read_key_file
from ._text import printable
from .testing import KalshiTestServer, KalshiVerifier, generate_rsa_key

__all__ = ["parse_key_option", "run_serve"]

_POLL_S = 0.05


def parse_key_option(value: str) -> tuple[str, bytes]:
    """``KEY_ID=PUBLIC_KEY_FILE`` as (key id, the file's bytes)."""
    key_id, sep, path = value.partition("=")
    if not sep or not key_id or not path:
        raise ConfigurationError(
            "--key takes KEY_ID=PUBLIC_KEY_FILE, e.g. --key a952bcbe-...=kalshi-public.pem"
        )
    return key_id, read_key_file(Path(path))


def run_serve(host: str, port: int, keys: Sequence[str], out: TextIO) -> int:
    """Serve until Ctrl-C, printing one line per request; return the exit code."""
    verifier = KalshiVerifier()
    for option in keys:
        key_id, data = parse_key_option(option)
        if not _registered(verifier, key_id, data):
            raise ConfigurationError(
                f"--key: the file for key id {printable(key_id, 60)} holds no RSA or Ed25519 "
                "public or private key PEM"
            )
    with tempfile.TemporaryDirectory(prefix="kalshi-auth-serve-") as scratch:
        throwaway = None
        if not verifier.keys:
            throwaway = Path(scratch) / "kalshi-key.pem"
            key = generate_rsa_key()
            create_key_file(throwaway, key)
            verifier.register(str(uuid.uuid4()), key)
        with KalshiTestServer(verifier=verifier, host=host, port=port) as server:
            _introduce(server, throwaway, next(iter(verifier.keys)), out)
            shown = 0
            try:
                while True:
                    shown = _report(server, shown, out)
                    time.sleep(_POLL_S)
            except KeyboardInterrupt:
                _report(server, shown, out)  # what arrived since the last look
                out.write("stopped\n")
                out.flush()
    return 0


def _registered(verifier: KalshiVerifier, key_id: str, data: bytes) -> bool:
    try:
        verifier.register(key_id, data)
    except (KalshiAuthError, ValueError, TypeError):
        return False
    return True


def _introduce(server: KalshiTestServer, throwaway: Path | None, key_id: str, out: TextIO) -> None:
    out.write(f"{server.base_url}\n")
    if throwaway is not None:
        out.write(f"key id:      {key_id}\n")
        out.write(f"private key: {throwaway}  (throwaway RSA-2048, deleted when this stops)\n")
        out.write(
            f"try:         KALSHI_API_KEY_ID={key_id} "
            f"KALSHI_PRIVATE_KEY_PATH={shlex.quote(str(throwaway))} "
            f"kalshi-auth check --base-url {server.base_url}\n"
        )
    else:
        out.write(f"keys:        {len(server.verifier.keys)} registered\n")
    out.write("Verifying as Kalshi does; one line per request. Ctrl-C stops.\n")
    out.flush()


def _report(server: KalshiTestServer, shown: int, out: TextIO) -> int:
    """Print a line for each request after the first `shown`; return how many are shown."""
    records = server.requests[shown:]
    for record in records:
        verdict = record.verdict
        word = "accepted" if verdict.accepted else "REJECTED"
        out.write(
            f"{printable(record.method, 10)} {printable(record.target, 200)} -> "
            f"{verdict.status} {word}: {printable(verdict.reason, 200)}\n"
        )
    if records:
        out.flush()
    return shown + len(records)
