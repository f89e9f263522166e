"""The core's import layering (docs/architecture.md): lower rooms never import higher ones,
the core never imports a plugin distribution, and module imports have no cycles.

Imports are read from the source (every ``import`` statement, inside functions too, since a
lazy import can call back up just the same), except those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "secrets_core"

#: Rooms from the bottom up. A module may import its own room and the rooms below it.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "names", "secret", "fsutil", "lazylog", "defaults", "envfile", "redaction", "clock",
     "macs", "records", "redacted_logs", "arguments"),
    ("plugin",),
    ("config",),
    ("keys", "audit"),
    ("assembly", "builtin", "ledger"),
    ("rotation", "rekey"),
    ("scoped", "manager"),
    ("child_env", "dotenv_import", "references"),
    ("cli", "testing"),
]
PLUGIN_DISTRIBUTIONS = ("secure_secrets_",)  # every plugin in plugins/ and contrib/


def _room(module: str) -> str:
    """``secrets_core.keys._datakeys`` -> ``keys``; the package itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _rank(room: str) -> int:
    for rank, rooms in enumerate(LAYERS):
        if room in rooms:
            return rank
    raise AssertionError(f"secrets_core.{room} is in no layer of tests/test_architecture.py")


def _module_name(path: Path) -> str:
    relative = path.relative_to(CORE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    where = CORE.parent / dotted.replace(".", "/")
    return where.with_suffix(".py").exists() or (where / "__init__.py").exists()


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for each import outside TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = (
        _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    )
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other, top)
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(
                        package.split(".")[: len(package.split(".")) - child.level + 1]
                        + ([base] if base else [])
                    )
                for alias in child.names:
                    candidate = f"{base}.{alias.name}"
                    # `from secrets_core.keys import envelope` imports a module
                    is_module = (CORE.parent / candidate.replace(".", "/")).with_suffix(
                        ".py"
                    ).exists() or (
                        CORE.parent / candidate.replace(".", "/") / "__init__.py"
                    ).exists()
                    found.append((candidate if is_module else base, child.lineno, top))
            else:
                in_function = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                visit(child, top and not in_function)

    visit(tree, True)
    return found


def _core_modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(CORE.rglob("*.py"))}


def test_the_core_never_imports_a_plugin_distribution() -> None:
    offenders = [
        f"{module}:{line} imports {imported}"
        for module, path in _core_modules().items()
        for imported, line, _top in _imports(path)
        if imported.startswith(PLUGIN_DISTRIBUTIONS)
    ]
    assert offenders == []


def test_the_core_never_names_a_plugin_module() -> None:
    """Not even in a string for importlib (the CLI's ``lease`` once loaded
    ``secure_secrets_vault.dynamic`` that way): plugins are found through entry points."""
    offenders = [
        f"{module}:{node.lineno} names {node.value}"
        for module, path in _core_modules().items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and any(f"{prefix}" in node.value for prefix in PLUGIN_DISTRIBUTIONS)
    ]
    assert offenders == []


def test_lower_rooms_never_import_higher_ones() -> None:
    offenders = []
    for module, path in _core_modules().items():
        room = _room(module)
        if room == "__init__":
            continue
        for imported, line, _top in _imports(path):
            if not imported.startswith("secrets_core.") or _room(imported) == "__init__":
                continue
            if _rank(_room(imported)) > _rank(room):
                offenders.append(f"{module}:{line} imports {imported}")
    assert offenders == [], "a lower layer imports a higher one (see docs/architecture.md)"


def test_nothing_below_the_manager_imports_it() -> None:
    offenders = [
        f"{module}:{line}"
        for module, path in _core_modules().items()
        if _rank(_room(module) if _room(module) != "__init__" else "cli") < _rank("manager")
        for imported, line, _top in _imports(path)
        if imported == "secrets_core.manager"
    ]
    assert offenders == []


def _cycles() -> list[list[str]]:
    """Strongly connected components (more than one module) of the import graph among core
    modules (lazy imports inside functions included), counting ``a.b._c`` as an edge to that
    module only."""
    modules = _core_modules()
    graph = {
        module: {
            imported
            for imported, _line, _top in _imports(path)
            if imported in modules and imported != module
        }
        for module, path in modules.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in graph:
        if node not in index:
            connect(node)
    return components


def test_module_imports_have_no_cycles() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("room", sorted({_room(m) for m in _core_modules()} - {"__init__"}))
def test_every_room_is_placed_in_a_layer(room: str) -> None:
    _rank(room)
