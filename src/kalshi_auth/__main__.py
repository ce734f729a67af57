"""`python -m kalshi_auth`: the same as the `kalshi-auth` command."""

from ._cli import main

raise SystemExit(main())
