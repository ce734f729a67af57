"""The `kalshi-auth` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._demo import run_demo
from ._version import __version__

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return its exit code."""
    parser = argparse.ArgumentParser(
        prog="kalshi-auth", description="Sign and check requests to Kalshi's trading API."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "demo",
        help="sign requests through requests and httpx against a local verifying server",
        description="With no account and no network: make throwaway keys, start a local "
        "server that verifies signatures as Kalshi does, and send signed requests through "
        "requests and httpx. Exits 1 if any request is rejected.",
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        return run_demo(sys.stdout)
    parser.print_help()
    return 2
