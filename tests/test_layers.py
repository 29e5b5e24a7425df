"""The layers are real: every import points down the list, and no module imports itself round a cycle.

The order (``docs/contributing.md``): errors and _util, data, features, models, inference, online,
boards, scale, plots, predictor, cli. A module may import from its own layer or a lower one,
never from a higher one; imports inside a module-level ``__getattr__`` are the forwards that keep
the old import paths of moved names working, and are the only exception.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "arena_stats"
LAYERS = {"errors": 0, "_util": 0, "_compat": 0, "data": 1, "features": 2, "models": 3, "inference": 4,
          "online": 5, "boards": 6, "scale": 7, "plots": 8, "report": 8, "predictor": 9, "cli": 10, "__init__": 11,
          "__main__": 11}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS["__init__"] if len(parts) == 1 else LAYERS[parts[1]]


def _is_package(path: pathlib.Path) -> bool:
    return path.name == "__init__.py"


def _imports(path: pathlib.Path, name: str | None = None) -> list[tuple[str, int, bool]]:
    """``(imported arena_stats module, line, inside a module-level __getattr__)`` of one file."""
    tree = ast.parse(path.read_text())
    name = name or _module_name(path)
    package = name.split(".") if _is_package(path) else name.split(".")[:-1]
    forwards = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            forwards |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                mod = base + (node.module.split(".") if node.module else [])
            else:
                mod = (node.module or "").split(".")
            if mod[0] != "arena_stats":
                continue
            # `from .x import y` may import the submodule y
            for alias in node.names:
                candidate = ".".join(mod + [alias.name])
                targets.append(candidate if _exists(candidate) else ".".join(mod))
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.split(".")[0] == "arena_stats"]
        for t in targets:
            found.append((_resolve(t), node.lineno, id(node) in forwards))
    return found


def _exists(module: str) -> bool:
    rel = pathlib.Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").exists() or (PACKAGE / rel / "__init__.py").exists()


def _resolve(module: str) -> str:
    """The deepest existing module of a dotted name (``a.b.name`` -> ``a.b`` when ``name`` is no module)."""
    parts = module.split(".")
    while len(parts) > 1 and not _exists(".".join(parts)):
        parts = parts[:-1]
    return ".".join(parts)


FILES = sorted(PACKAGE.rglob("*.py"))


def test_the_layer_table_names_every_folder_and_module():
    top = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
           if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    assert top <= set(LAYERS), top - set(LAYERS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(path):
    me = _module_name(path)
    upward = [f"line {line}: {me} (layer {_layer(me)}) imports {target} (layer {_layer(target)})"
              for target, line, forward in _imports(path)
              if not forward and _layer(target) > _layer(me) and target != "arena_stats"]
    assert not upward, "\n".join(upward)


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for path in FILES:
        me = _module_name(path)
        graph[me] = {t for t, _, forward in _imports(path)
                     if not forward and t != me and t != "arena_stats" and not me.startswith(t + ".")}
    # a package's __init__ importing its own submodules is no cycle of modules
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            cycle = visit(node)
            assert cycle is None, " -> ".join(cycle)


def test_the_checker_catches_an_upward_import(tmp_path):
    """The test can fail: a data module importing a board is flagged, a compat forward is not."""
    src = (PACKAGE / "data" / "aggregate.py").read_text()
    bad = tmp_path / "aggregate.py"
    bad.write_text(src + "\nfrom ..boards.leaderboard import leaderboard\n\n\n"
                   "def __getattr__(name):\n    from ..boards import categories\n    return categories\n")
    found = {(t, fwd) for t, _, fwd in _imports(bad, "arena_stats.data.aggregate")}
    assert ("arena_stats.boards.leaderboard", False) in found
    assert ("arena_stats.boards.categories", True) in found
    assert _layer("arena_stats.boards.leaderboard") > _layer("arena_stats.data.aggregate")
