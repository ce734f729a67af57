"""The layout docs/architecture.md describes, checked on the source: the core imports no
HTTP library, no module reaches into another's private names, and classes stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "kalshi_auth"
CORE_MODULES = [
    "_core",
    "_clock",
    "_scope",
    "_signing",
    "_keys",
    "_pem",
    "_env",
    "_errors",
    "_external",
    "_text",
    "_credentials",
    "_offload",
    "_keycost",
]
# The one private attribute of another library in use: pinned by
# tests/adapters/test_httpx_headers.py,
# probed at import, with the public API as the fallback.
ALLOWED_PRIVATE = {("_httpx_headers.py", "_list")}
# anyio is not here: it is the async runtime the core's one signing decision needs to hand
# a signature to a thread under trio as under asyncio (_credentials.py); it does no HTTP.
HTTP_LIBRARIES = {"requests", "httpx", "aiohttp", "yarl", "websockets", "httpcore", "h11"}
MAX_CLASS_LINES = 150


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_modules(module: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", CORE_MODULES)
def test_the_core_imports_no_http_library(name: str) -> None:
    assert imported_modules(tree(SRC / f"{name}.py")) & HTTP_LIBRARIES == set()


def sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_module_imports_another_modules_private_names() -> None:
    found = []
    for path in sources():
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.ImportFrom):
                found += [
                    f"{path.name}: {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    assert found == []


def test_no_private_attribute_of_another_object() -> None:
    # self._x and cls._x are the object's own; anything else reaches in.
    found = []
    for path in sources():
        for node in ast.walk(tree(path)):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                and (path.name, node.attr) not in ALLOWED_PRIVATE
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno} .{node.attr}")
    assert found == []


def test_classes_stay_small() -> None:
    big = [
        f"{path.name}:{node.lineno} {node.name}"
        for path in sources()
        for node in ast.walk(tree(path))
        if isinstance(node, ast.ClassDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_CLASS_LINES
    ]
    assert big == []


# The testing kit is an oracle: it judges the signer by Kalshi's rule, written again, and
# shares none of the signer's code, so a mistake there cannot be repeated here.
ORACLE_MODULES = ["_verifier", "_endpoint", "_server", "_transport", "_subprocess", "_keypairs"]
SIGNING_SIDE = [
    "_signing", "_core", "_credentials", "_auth", "_keys", "_pem", "_httpx", "_httpx_headers",
    "_requests", "aiohttp", "websockets", "_external", "_offload",
]  # fmt: skip
# Outside the testing package the oracle may use these, which hold no signing logic (it
# uses none of them today).
NEUTRAL = {"_errors", "_clock", "_text", "_version"}


def absolute_imports(module: ast.Module, package: str) -> set[str]:
    """What `module`, in `package`, imports: ``import a.b`` as ``a.b``, ``from .x import y``
    as ``package.x.y`` (y may be a submodule or a name), and ``import_module("a.b")``."""
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            source = ".".join(p for p in (base, node.module or "") if p)
            names |= {f"{source}.{alias.name}" for alias in node.names}
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and ast.unparse(node.func).split(".")[-1] in ("import_module", "__import__")
        ):
            names.add(node.args[0].value)
    return names


def signing_side_imports(module: ast.Module, package: str = "kalshi_auth.testing") -> list[str]:
    """The imports of `module` that reach into kalshi-auth beyond its testing kit and the
    `NEUTRAL` helpers: the signer's modules, the package itself (which exports the signer),
    and the pytest plugin (which builds a `KalshiAuth`)."""
    found = []
    for name in sorted(absolute_imports(module, package)):
        top, _, rest = name.partition(".")
        first, _, deeper = rest.partition(".")
        if top != "kalshi_auth" or first in NEUTRAL:
            continue
        if first != "testing" or deeper.partition(".")[0] == "pytest_plugin":
            found.append(name)
    return found


@pytest.mark.parametrize("name", ORACLE_MODULES)
def test_the_testing_kit_imports_nothing_from_the_signer(name: str) -> None:
    assert signing_side_imports(tree(SRC / "testing" / f"{name}.py")) == []


@pytest.mark.parametrize(
    "source",
    [
        *(f"from ..{name} import anything" for name in SIGNING_SIDE),
        *(f"from .. import {name}" for name in SIGNING_SIDE),
        *(f"import kalshi_auth.{name}" for name in SIGNING_SIDE),
        "from kalshi_auth._signing import signing_path",
        "from .. import KalshiAuth",
        "import kalshi_auth",
        "from .pytest_plugin import kalshi_auth",
        "def f():\n    from .._core import SigningCore",
        "importlib.import_module('kalshi_auth._signing')",
    ],
)
def test_the_import_check_sees_a_signing_side_import(source: str) -> None:
    assert signing_side_imports(ast.parse(source)) != []


@pytest.mark.parametrize(
    "source",
    ["from ._verifier import KalshiVerifier", "from .._errors import ConfigurationError",
     "import httpx", "from cryptography.hazmat.primitives import hashes"],
)  # fmt: skip
def test_the_import_check_lets_the_kit_use_itself_and_third_parties(source: str) -> None:
    assert signing_side_imports(ast.parse(source)) == []
