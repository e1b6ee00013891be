"""The folder layout is the architecture: imports run one way, and the module graph is a tree.

shared pieces (common) <- relay, uro_shim, app; relay and uro_shim never import the host's front
end (app); app reaches the relay only through its client SDK and its admin client. Imports under
``if TYPE_CHECKING:`` are for the type checker and are left out, as at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"common": "common", "relay": "relay", "uro_shim": "uro-shim", "app": "app"}
# What each package may import from the others.
ALLOWED: dict[str, set[str]] = {
    "common": set(),
    "relay": {"common"},
    "uro_shim": {"common"},
    "app": {"common", "relay"},
}
APP_MAY_USE = {"relay.client", "relay.admin_client"}  # the relay's SDK and admin client


def _module_name(package: str, path: Path) -> str:
    rel = path.relative_to(ROOT / PACKAGES[package]).with_suffix("")
    parts = [package, *rel.parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_imports(tree: ast.AST) -> list[str]:
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append(child.module)
                found.extend(f"{child.module}.{alias.name}" for alias in child.names)
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    modules: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            modules[_module_name(package, path)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if imported in modules and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


GRAPH = _graph()


def test_the_graph_covers_every_package() -> None:
    packages = {name.split(".")[0] for name in GRAPH}
    assert packages == set(PACKAGES)
    assert "relay.core" in GRAPH and "common.identity" in GRAPH and "uro_shim.app" in GRAPH


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_imports_run_one_way(package: str) -> None:
    wrong = []
    for name, targets in GRAPH.items():
        if name.split(".")[0] != package:
            continue
        for target in targets:
            other = target.split(".")[0]
            if other == package:
                continue
            if other not in ALLOWED[package] or (
                package == "app" and other == "relay" and target not in APP_MAY_USE
            ):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_module_graph_has_no_cycle() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(GRAPH.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target, [*path, target])
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            walk(node, [node])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


# The relay's core is a state machine without I/O: clocks, randomness, sockets, files and the
# environment are the server's, handed in. Its modules import none of these, and reach no module
# of the project outside the relay but the pure half of identity.
RELAY_CORE = (
    "relay.core",
    "relay.interest",
    "relay.protocol",
    "relay.room",
    "relay.session",
    "relay.settings",
    "relay.view",
    "relay.wsframes",
)
NOT_IN_THE_CORE = {"os", "time", "secrets", "random", "socket", "trio", "httpx", "psycopg", "pathlib"}
CORE_MAY_REACH = {"common.identity"}


def _reached(start: tuple[str, ...]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(GRAPH[name])
    return seen


def test_the_relay_core_does_no_io() -> None:
    reached = _reached(RELAY_CORE)
    outside = sorted(m for m in reached if m.split(".")[0] != "relay" and m not in CORE_MAY_REACH)
    assert not outside, f"the relay core reaches {outside}"
    wrong = []
    for name in sorted(reached):
        package = name.split(".")[0]
        path = ROOT / PACKAGES[package] / Path(*name.split(".")[1:]).with_suffix(".py")
        for imported in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if imported.split(".")[0] in NOT_IN_THE_CORE:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(wrong)
