"""The `kalshi-auth` command.

Exit codes: 0 success; 1 Kalshi (or the local demo server) rejected the
request, or the key cannot be used; 2 usage or configuration error (bad
arguments, missing environment variables, unreadable key); 3 the server
could not be reached; 141 the output pipe was closed (as after SIGPIPE).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from ._auth import KalshiAuth
from ._check import DEMO_BASE_URL, PROD_BASE_URL, run_check
from ._core import checked_method
from ._demo import run_demo
from ._env import ENV_PASSWORD
from ._errors import KalshiAuthError
from ._inspect import inspect_key
from ._keygen import DEFAULT_KEY_FILE, run_keygen
from ._keys import MAX_KEY_BYTES, is_backend_panic, read_key_file
from ._scope import origin_of
from ._serve import run_serve
from ._text import printable
from ._version import __version__

__all__ = ["main"]

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 141  # what a shell reports for a process killed by SIGPIPE

_ENV_HELP = (
    "Credentials come from the environment: KALSHI_API_KEY_ID, and KALSHI_PRIVATE_KEY "
    "(the PEM text) or KALSHI_PRIVATE_KEY_PATH, plus KALSHI_PRIVATE_KEY_PASSWORD for an "
    "encrypted key."
)
_EXIT_HELP = (
    "exit codes: 0 success, 1 rejected or key unusable, 2 usage or configuration error, "
    "3 server unreachable"
)


class _Parser(argparse.ArgumentParser):
    """argparse, with errors on one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


class _UsageError(Exception):
    """A mistake in the command line or environment, reported in one line."""


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kalshi-auth",
        description="Sign and check requests to Kalshi's trading API.",
        epilog=_EXIT_HELP,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    commands.add_parser(
        "demo",
        help="sign requests through requests and httpx against a local verifying server",
        description="With no account and no network: make throwaway keys, start a local "
        "server that verifies signatures as Kalshi does, and send signed requests through "
        "requests and httpx. Prints what was signed and the verdict.",
        epilog="exit codes: 0 every request verified, 1 one was rejected",
    )

    headers = commands.add_parser(
        "headers",
        help="print the KALSHI-ACCESS-* headers for one request",
        description="Print the three KALSHI-ACCESS-* headers for METHOD and URL, signed now "
        f"(valid for a few seconds). {_ENV_HELP}",
        epilog=_EXIT_HELP,
    )
    headers.add_argument("method", metavar="METHOD", help="GET, POST, DELETE, ...")
    headers.add_argument(
        "url",
        metavar="URL",
        help="an absolute URL, or a path such as /trade-api/v2/portfolio/balance",
    )
    style = headers.add_mutually_exclusive_group()
    style.add_argument("--curl", action="store_true", help="print a ready-to-run curl command")
    style.add_argument("--json", action="store_true", help="print the headers as JSON")

    check = commands.add_parser(
        "check",
        help="make one signed request to Kalshi and explain any failure",
        description="GET /trade-api/v2/portfolio/balance with the environment's credentials. "
        "On success prints the balance; on failure, the cause and the fix. " + _ENV_HELP,
        epilog=_EXIT_HELP,
    )
    target = check.add_mutually_exclusive_group()
    target.add_argument("--prod", action="store_true", help=f"{PROD_BASE_URL} (the default)")
    target.add_argument("--demo", action="store_true", help=DEMO_BASE_URL)
    target.add_argument(
        "--base-url",
        metavar="URL",
        help="another REST base URL; /trade-api/v2 is added to a bare origin",
    )

    inspect = commands.add_parser(
        "inspect-key",
        help="tell what a key file holds and whether it can sign for Kalshi",
        description="Print the key's encoding, type and size, the SHA-256 fingerprint of its "
        "public key, and whether KalshiAuth can sign with it; for a key that will not load, "
        "why and the command that fixes it. Never prints key material. An encrypted key is "
        f"opened with {ENV_PASSWORD}.",
        epilog="exit codes: 0 usable, 1 not usable, 2 file unreadable",
    )
    inspect.add_argument("path", metavar="PATH", help="the key file, or - for standard input")

    serve = commands.add_parser(
        "serve",
        help="run a local server that verifies signatures as Kalshi does, for any language",
        description="Serve Kalshi's REST paths on HOST:PORT, verifying every request's "
        "KALSHI-ACCESS-* headers by Kalshi's rules, so a bot in Node, Go, Rust or curl can "
        "test its signing without an account. The first line printed is the base URL; then "
        "one line per request with the verdict. Ctrl-C stops it.",
        epilog="exit codes: 0 stopped with Ctrl-C, 2 usage error or port in use",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=0, help="port to listen on (default: any free port)"
    )
    serve.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="KEY_ID=PUBLIC_KEY_FILE",
        help="accept signatures by KEY_ID made with this key (public or private PEM); "
        "repeatable. Without it, a throwaway RSA key pair is made and its files printed",
    )

    keygen = commands.add_parser(
        "keygen",
        help="create a new private key to register with Kalshi",
        description="Write a new private key (PKCS#8 PEM, mode 0600; an existing file is "
        "never overwritten) and print its public key to register with Kalshi when you "
        "create an API key with your own public key. Ed25519, the default, signs about ten "
        "times faster than RSA.",
        epilog=_EXIT_HELP,
    )
    keygen.add_argument("--type", choices=["ed25519", "rsa"], default="ed25519")
    keygen.add_argument(
        "--out", metavar="FILE", help=f"where to write the private key ({DEFAULT_KEY_FILE})"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return its exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except (_UsageError, KalshiAuthError) as exc:
        print(f"kalshi-auth: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`| head`): no traceback, and no second error at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "demo": lambda _: run_demo(sys.stdout),
        "headers": _headers,
        "check": lambda a: run_check(KalshiAuth.from_env(), _check_base(a), sys.stdout, sys.stderr),
        "inspect-key": lambda a: _inspect(a.path),
        "serve": _serve,
        "keygen": lambda a: run_keygen(a.type, a.out, sys.stdout),
    }
    command = commands.get(args.command)
    if command is None:
        parser.print_help()
        return EXIT_USAGE
    return command(args)


def _serve(args: argparse.Namespace) -> int:
    try:
        return run_serve(args.host, args.port, args.key, sys.stdout)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        problem = f"cannot listen on {printable(args.host)}:{args.port}: {exc.strerror}"
    raise _UsageError(problem)


def _check_base(args: argparse.Namespace) -> str:
    if args.demo:
        return DEMO_BASE_URL
    if args.base_url is None:
        return PROD_BASE_URL
    if not _is_http_url(args.base_url):
        raise _UsageError(
            f"--base-url must be an absolute http:// or https:// URL, such as {PROD_BASE_URL}"
        )
    return str(args.base_url)


def _is_http_url(url: str) -> bool:
    return url.lower().startswith(("http://", "https://")) and bool(origin_of(url).host)


def _headers(args: argparse.Namespace) -> int:
    try:
        method = checked_method(args.method).upper()
    except KalshiAuthError:
        method = ""
    if not method:  # outside the handler: nothing chained
        raise _UsageError("METHOD must be an HTTP method such as GET, POST or M-SEARCH")
    _check_target(args.url)
    if args.curl and not _is_http_url(args.url):
        raise _UsageError(
            "--curl needs an absolute URL such as https://external-api.kalshi.com/..."
        )
    auth = KalshiAuth.from_env()
    headers = auth.headers(method, args.url)
    host = origin_of(args.url).host
    if host and host not in auth.core.scope:
        print(
            f"kalshi-auth: warning: {printable(host)} is not one of Kalshi's hosts; "
            "these headers sign for it anyway, so send them only where you mean to",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(headers, indent=2))
    elif args.curl:
        parts = ["curl", "-sS", "-X", method]
        for name, value in headers.items():
            parts += ["-H", f"{name}: {value}"]
        print(" ".join(shlex.quote(part) for part in [*parts, args.url]))
    else:
        for name, value in headers.items():
            print(f"{name}: {value}")
    return EXIT_OK


_SCHEMES = ("https://", "http://", "wss://", "ws://")


def _check_target(url: str) -> None:
    """Refuse what is neither a path nor a URL Kalshi serves, saying what was meant."""
    if url.startswith("/") or url.lower().startswith(_SCHEMES):
        return
    scheme, sep, _ = url.partition("://")
    if sep:
        raise _UsageError(
            f"URL: the scheme {printable(scheme, 20)!r} is not one Kalshi serves; "
            "use https:// (wss:// for WebSockets)"
        )
    host = url.partition("/")[0]
    if "." in host or host.lower().startswith("localhost"):
        raise _UsageError(f"URL has no scheme; did you mean {printable('https://' + url, 200)} ?")
    raise _UsageError(
        "URL must be a path starting with / or an absolute https:// URL, such as "
        f"{PROD_BASE_URL}/portfolio/balance"
    )


def _inspect(path: str) -> int:
    if path == "-":
        data = sys.stdin.buffer.read(MAX_KEY_BYTES + 1)
        if len(data) > MAX_KEY_BYTES:
            raise _UsageError(f"standard input holds more than {MAX_KEY_BYTES} bytes: not a key")
    else:
        try:
            data = read_key_file(Path(path))
        except KalshiAuthError as exc:
            raise _UsageError(f"cannot read the key file: {exc}") from None
    report, failure = None, "an unexpected error"
    try:
        report = inspect_key(data, password=os.environ.get(ENV_PASSWORD) or None, name=path)
    except Exception as exc:  # whatever the file holds, a one-line answer, never a traceback
        failure = type(exc).__name__
    except BaseException as exc:  # a Rust panic (pyo3's PanicException); interrupts pass
        if not is_backend_panic(exc):
            raise
        failure = "a crash in the cryptography library"
    if report is None:  # raised here, outside the handlers: nothing chained
        raise _UsageError(f"cannot inspect the file ({failure}); kalshi-auth cannot read it")
    print("\n".join(report.lines()))
    return EXIT_OK if report.usable else EXIT_REJECTED
