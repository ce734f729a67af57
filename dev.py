"""Set up and run the project with nothing but Python and pip.

    python3 dev.py demo       # create .venv, install, run `kalshi-auth demo`
    python3 dev.py test       # create .venv, install dev tools, lint, type-check, docs,
                              # workflows, build and check the release files, test
    python3 dev.py test-all   # the test suite on every other CPython 3.10 to 3.13 found
    python3 dev.py mutate [MODULE ...]   # mutation testing, per module (slow; not in CI)

Each command creates `.venv` beside this file if it is missing and reinstalls
only when `pyproject.toml` changed, so a second run starts at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


SUPPORTED = ("3.10", "3.11", "3.12", "3.13")


def run(*argv: str | Path) -> None:
    print("+", " ".join(str(a) for a in argv), flush=True)
    done = subprocess.run([str(a) for a in argv], cwd=ROOT, check=False)
    if done.returncode != 0:
        sys.exit(done.returncode)


def ensure_venv(extra: str, where: Path = VENV, base_python: str | None = None) -> Path:
    """Create a venv (by default `.venv`, with this Python) and install the project with
    `extra` when needed; return its python."""
    bin_dir = where / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    if not python.exists():
        print(f"+ creating {where}", flush=True)
        if base_python is None:
            venv.EnvBuilder(with_pip=True, clear=True).create(where)
        else:
            run(base_python, "-m", "venv", "--clear", where)
    spec = f".[{extra}]" if extra else "."
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + spec.encode()).hexdigest()
    stamp = where / f".installed-{extra or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return python
    run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(python, "-m", "pip", "install", "--quiet", "--editable", spec)
    stamp.write_text(digest)
    return python


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
    check_release()
    run(PYTHON, "-m", "pytest", *sys.argv[2:])


def check_release() -> None:
    """What a release tag would publish, checked before the tag: the workflows against
    GitHub's workflow schema (shipped inside check-jsonschema, so no network), and the
    sdist and wheel built, into .venv/dist, and checked as PyPI would by twine.

    The build uses the dev venv's hatchling (`--no-isolation`): seconds, and no download;
    release.yml builds the published files in an isolated environment."""
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    if not workflows:
        sys.exit("check_release: no workflows in .github/workflows")
    schema = "vendor.github-workflows"
    run(PYTHON, "-m", "check_jsonschema", "--builtin-schema", schema, *workflows)
    dist = VENV / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    run(PYTHON, "-m", "build", "--quiet", "--no-isolation", "--outdir", dist, ROOT)
    run(PYTHON, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()))


def interpreters() -> dict[str, str]:
    """Each supported CPython this machine has, other than the one running this script:
    `python3.X` on PATH, or else a pyenv install."""
    found: dict[str, str] = {}
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    pyenv = shutil.which("pyenv")
    installed = []
    if pyenv:
        listing = subprocess.run(
            [pyenv, "versions", "--bare"], capture_output=True, text=True, check=False
        )
        installed = listing.stdout.split()
    for version in SUPPORTED:
        if version == current:
            continue
        candidates = [shutil.which(f"python{version}")]
        for name in sorted(installed, reverse=True):  # the newest patch release first
            if name.startswith(version + ".") and name[len(version) + 1 :].isdigit():
                prefix = subprocess.run(
                    [pyenv or "pyenv", "prefix", name], capture_output=True, text=True, check=False
                ).stdout.strip()
                candidates.append(str(Path(prefix) / "bin" / "python3") if prefix else None)
        for candidate in candidates:
            if candidate and _is_cpython(candidate, version):
                found[version] = candidate
                break
    return found


def _is_cpython(python: str, version: str) -> bool:
    check = "import sys, platform; print(platform.python_implementation(), sys.version[:5])"
    done = subprocess.run([python, "-c", check], capture_output=True, text=True, check=False)
    words = done.stdout.split()
    return done.returncode == 0 and words[:1] == ["CPython"] and words[1].startswith(version)


def test_all() -> None:
    """The test suite on every other supported CPython found; lint, types and docs stay
    with `dev.py test`. One summary line per interpreter; fails if any fails."""
    found = interpreters()
    if not found:
        print("test-all: no other CPython 3.10 to 3.13 on this machine; nothing to do")
        return
    results = []
    for version, base in found.items():
        start = time.monotonic()
        python = ensure_venv("dev", ROOT / f".venv-{version}", base)
        done = subprocess.run(
            [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *sys.argv[2:]],
            cwd=ROOT,
            check=False,
        )
        results.append((version, done.returncode, time.monotonic() - start))
    print("\ntest-all summary:")
    for version, code, seconds in results:
        verdict = "passed" if code == 0 else f"FAILED (exit {code})"
        print(f"  CPython {version}: {verdict} in {seconds:.0f} s")
    if any(code for _, code, _ in results):
        sys.exit(1)


# What `dev.py mutate` mutates: module -> its file under src/kalshi_auth ([tool.mutmut]).
MUTATED = {
    "_signing": "_signing.py",
    "_scope": "_scope.py",
    "_clock": "_clock.py",
    "_core": "_core.py",
    "_credentials": "_credentials.py",
    "_keys": "_keys.py",
    "_pem": "_pem.py",
    "_requests": "_requests.py",
    "_httpx": "_httpx.py",
    "aiohttp": "aiohttp.py",
    "websockets": "websockets.py",
    "testing._verifier": "testing/_verifier.py",
}


def mutate() -> None:
    """Mutation testing with mutmut ([tool.mutmut] in pyproject.toml); prints each module's
    score: the share of its mutants the tests kill. Slow, so not part of CI.

        python3 dev.py mutate                 # every module in MUTATED, from scratch
        python3 dev.py mutate _keys aiohttp   # those modules only
    """
    modules = sys.argv[2:] or list(MUTATED)
    unknown = [m for m in modules if m not in MUTATED]
    if unknown:
        sys.exit(f"dev.py mutate: unknown module {unknown[0]!r}; one of {', '.join(MUTATED)}")
    python = ensure_venv("dev,mutation", ROOT / ".venv-mutate")
    # mutmut refreshes only the files it mutates: a kept mutants/ holds stale copies.
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    patterns = [f"kalshi_auth.{module}.*" for module in modules]
    # mutmut runs type_check_command by name: the venv's mypy first on PATH
    os.environ["PATH"] = f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    run(python, "-m", "mutmut", "run", "--max-children", str(os.cpu_count() or 1), *patterns)
    print(
        "\n| module | killed | caught by mypy | survived | no tests | timed out | score |"
        "\n|---|---|---|---|---|---|---|"
    )
    for module in modules:
        print(mutation_row(module))
    print(f"\n`{python} -m mutmut results` lists the survivors; `mutmut show NAME` shows one.")


def mutation_row(module: str) -> str:
    """One module's line of the score table, from mutmut's results in mutants/."""
    meta = ROOT / "mutants" / "src" / "kalshi_auth" / (MUTATED[module] + ".meta")
    codes = list(json.loads(meta.read_text())["exit_code_by_key"].values())
    killed = sum(code in (1, 3) for code in codes)
    typed = codes.count(37)  # refused by mypy --strict, which CI runs: no test needed
    survived = codes.count(0)
    no_tests = sum(code in (5, 33) for code in codes)
    timed_out = sum(code in (36, -24, 24, 152, 255) for code in codes)  # mutmut's timeouts
    judged = len(codes) - codes.count(34) - codes.count(None)
    # A mutant that keeps a test from finishing is caught too (PIT and Stryker count it so).
    score = f"{100 * (killed + typed + timed_out) / judged:.1f}%" if judged else "-"
    return f"| {module} | {killed} | {typed} | {survived} | {no_tests} | {timed_out} | {score} |"


COMMANDS = {"demo": demo, "test": test, "test-all": test_all, "mutate": mutate}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 {Path(__file__).name} {{{'|'.join(COMMANDS)}}} [pytest args]")
    COMMANDS[sys.argv[1]]()
