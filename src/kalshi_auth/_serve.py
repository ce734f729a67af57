"""`kalshi-auth serve`: the verifying server in the foreground, for a bot in any language."""

from __future__ import annotations

import queue
import shlex
import signal
import tempfile
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TextIO

from ._errors import ConfigurationError, KalshiAuthError
from ._keygen import create_key_file
from ._keys import read_key_file
from ._text import printable
from .testing import KalshiTestServer, KalshiVerifier, RecordedRequest, generate_rsa_key

__all__ = ["parse_key_option", "run_serve"]

_POLL_S = 0.05
_MAX_WAITING_LINES = 1000


class _SigtermError(BaseException):
    """SIGTERM arrived: stop as Ctrl-C does (a BaseException, as KeyboardInterrupt is)."""


def parse_key_option(value: str) -> tuple[str, bytes]:
    """``KEY_ID=PUBLIC_KEY_FILE`` as (key id, the file's bytes)."""
    key_id, sep, path = value.partition("=")
    if not sep or not key_id or not path:
        raise ConfigurationError(
            "--key takes KEY_ID=PUBLIC_KEY_FILE, e.g. --key a952bcbe-...=kalshi-public.pem"
        )
    return key_id, read_key_file(Path(path))


def run_serve(host: str, port: int, keys: Sequence[str], out: TextIO) -> int:
    """Serve until Ctrl-C or SIGTERM, printing one line per request; return the exit code.

    Nothing is kept per request: each becomes a line, and at most
    `_MAX_WAITING_LINES` lines wait for the terminal (the rest are counted).
    """
    verifier = KalshiVerifier()
    for option in keys:
        key_id, data = parse_key_option(option)
        if not _registered(verifier, key_id, data):
            raise ConfigurationError(
                f"--key: the file for key id {printable(key_id, 60)} holds no RSA or Ed25519 "
                "public or private key PEM"
            )
    lines = _Lines()
    with _sigterm_stops(), tempfile.TemporaryDirectory(prefix="kalshi-auth-serve-") as scratch:
        try:
            throwaway = None
            if not verifier.keys:
                throwaway = Path(scratch) / "kalshi-key.pem"
                key = generate_rsa_key()
                create_key_file(throwaway, key)
                verifier.register(str(uuid.uuid4()), key)
            with KalshiTestServer(
                verifier=verifier, host=host, port=port, max_recorded=0, on_request=lines.add
            ) as server:
                _introduce(server, throwaway, next(iter(verifier.keys)), out)
                while True:
                    lines.show(out, _POLL_S)
        except (KeyboardInterrupt, _SigtermError):
            lines.show(out, 0)  # what arrived since the last look
            out.write("stopped\n")
            out.flush()
    return 0


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    """While inside, SIGTERM stops the server as Ctrl-C does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:  # once: a second SIGTERM does not interrupt the cleanup
            stopping = True
            raise _SigtermError

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


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


class _Lines:
    """A line per request, made on the server's thread and printed on the main thread.

    At most `_MAX_WAITING_LINES` wait; past that, requests are counted, not kept.
    """

    def __init__(self) -> None:
        self._waiting: queue.Queue[str] = queue.Queue(_MAX_WAITING_LINES)
        self._lock = threading.Lock()
        self._missed = 0

    def add(self, record: RecordedRequest) -> None:
        """The server's hook: turn `record` into a line to print."""
        verdict = record.verdict
        word = "accepted" if verdict.accepted else "REJECTED"
        line = (
            f"{printable(record.method, 10)} {printable(record.target, 200)} -> "
            f"{verdict.status} {word}: {printable(verdict.reason, 200)}\n"
        )
        try:
            self._waiting.put_nowait(line)
        except queue.Full:
            with self._lock:
                self._missed += 1

    def show(self, out: TextIO, wait_s: float) -> None:
        """Print the lines waiting, after waiting up to `wait_s` for the first."""
        try:
            lines = [self._waiting.get(block=wait_s > 0, timeout=wait_s)]
        except queue.Empty:
            lines = []
        while len(lines) < _MAX_WAITING_LINES:
            try:
                lines.append(self._waiting.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            missed, self._missed = self._missed, 0
        if missed:
            lines.append(f"({missed} requests not shown: the terminal fell behind)\n")
        if lines:
            out.write("".join(lines))
            out.flush()
