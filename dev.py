"""Set up and run the project with nothing but Python and pip.

    python3 dev.py demo   # create .venv, install, run `kalshi-auth demo`
    python3 dev.py test   # create .venv, install dev tools, lint, type-check, docs, test

Each command creates `.venv` beside this file if it is missing and reinstalls
only when `pyproject.toml` changed, so a second run starts at once.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*argv: str | Path) -> None:
    print("+", " ".join(str(a) for a in argv), flush=True)
    done = subprocess.run([str(a) for a in argv], cwd=ROOT, check=False)
    if done.returncode != 0:
        sys.exit(done.returncode)


def ensure_venv(extra: str) -> None:
    """Create `.venv` and install the project (with `extra`) when needed."""
    if not PYTHON.exists():
        print(f"+ creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    spec = f".[{extra}]" if extra else "."
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + spec.encode()).hexdigest()
    stamp = VENV / f".installed-{extra or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--editable", spec)
    stamp.write_text(digest)


def demo() -> None:
    ensure_venv("")
    run(PYTHON, "-m", "kalshi_auth", "demo")


def test() -> None:
    ensure_venv("dev")
    run(PYTHON, "-m", "ruff", "check", "src", "tests", "bench", "dev.py")
    run(PYTHON, "-m", "ruff", "format", "--check", "src", "tests", "bench", "dev.py")
    run(PYTHON, "-m", "mypy", "--strict", "src", "tests", "bench")
    os.environ["NO_MKDOCS_2_WARNING"] = "1"  # mkdocs-material's end-of-life banner
    run(PYTHON, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", VENV / "site")
    run(PYTHON, "-m", "pytest", *sys.argv[2:])


COMMANDS = {"demo": demo, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 {Path(__file__).name} {{{'|'.join(COMMANDS)}}} [pytest args]")
    COMMANDS[sys.argv[1]]()
