"""The package's imports, read from the source: no cycles, and the core never reaches for Airflow.

Every ``import`` counts — at module level, inside functions (lazy) and under ``TYPE_CHECKING`` — because
a lazy import is still a dependency: it only hides the cycle from the interpreter, not from the reader.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import airflow_provider_lightning

PACKAGE = "airflow_provider_lightning"
ROOT = Path(airflow_provider_lightning.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str | None = None) -> Iterator[str]:
    """Every module ``path`` (the module named ``module``) imports, absolute, lazy and TYPE_CHECKING
    imports included."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            # ``from pkg import module`` imports a module too.
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {target for target in _imports(path) if target in modules and target != name}
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_reader_sees_lazy_and_type_checking_imports(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from airflow_provider_lightning.core import errors\n"
        "def f():\n    import airflow_provider_lightning.core.storage\n"
        "    from ..mydump import values\n"
    )
    seen = set(_imports(source, f"{PACKAGE}.core.importer.sample"))
    assert f"{PACKAGE}.core.errors" in seen
    assert f"{PACKAGE}.core.storage" in seen
    assert f"{PACKAGE}.core.mydump.values" in seen


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_of_the_package_takes_part_in_an_import_cycle():
    graph = _graph()
    assert f"{PACKAGE}.core.importer.steps" in graph
    assert _cycles(graph) == []


def test_the_core_imports_nothing_from_airflow_hooks_or_operators():
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for target in _imports(path):
            top = target.split(".")
            if top[0] == "airflow" or target.startswith((f"{PACKAGE}.hooks", f"{PACKAGE}.operators")):
                offenders.append(f"{_module_name(path)} imports {target}")
    assert offenders == []
