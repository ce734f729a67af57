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
]
# The one private attribute of another library in use: pinned by tests/test_httpx_headers.py,
# probed at import, with the public API as the fallback.
ALLOWED_PRIVATE = {("_httpx_headers.py", "_list")}
HTTP_LIBRARIES = {"requests", "httpx", "aiohttp", "yarl", "anyio", "websockets", "httpcore"}
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
