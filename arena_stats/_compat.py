"""The module paths of earlier releases, kept working.

Until 0.2 the package was 26 flat modules (``arena_stats.bradley_terry``, ``arena_stats.bootstrap``
...). They now live in layer folders (``arena_stats.models.bradley_terry`` ...). Code that
imports an old path gets the module at its new home, the same module object, so every name
(public or private, and monkeypatching) behaves exactly as before. A meta-path finder does it,
so that the old names need no files of their own.

Only the standard library is imported here: the finder is installed before anything else.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

__all__ = ["OLD_PATHS", "install"]

#: Old module (under ``arena_stats.``) -> its new home.
OLD_PATHS: dict[str, str] = {
    "progress": "_util.progress",
    "parallel": "_util.parallel",
    "io": "_util.io",
    "battles": "data.battles",
    "aggregate": "data.aggregate",
    "stream": "data.stream",
    "simulate": "data.simulate",
    "reweight": "data.reweight",
    "style": "features.style",
    "text_features": "features.text",
    "bradley_terry": "models.bradley_terry",
    "contextual": "models.contextual",
    "bothbad": "models.bothbad",
    "bootstrap": "inference.bootstrap",
    "resample": "inference.resample",
    "leaderboard": "boards.leaderboard",
    "categories": "boards.categories",
    "over_time": "boards.over_time",
    "elo": "online.elo",
    "glicko": "online.glicko",
    "state": "scale.state",
    "distributed": "scale.distributed",
}

_PACKAGE = __name__.rpartition(".")[0]


class _AliasLoader(importlib.abc.Loader):
    """Loads an old path as the module at its new home (the same object)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system pointed the module's __spec__ at the alias: give it its own back
        module.__spec__ = self._spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != _PACKAGE or name not in OLD_PATHS:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(f"{_PACKAGE}.{OLD_PATHS[name]}"))


def install() -> None:
    """Install the finder once; register already imported modules under their old names too.

    A module registered here never passes through the import system under its old name, so the
    package attribute of the same name (``arena_stats.leaderboard``, the function) stays as it is.
    """
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
    for old, new in OLD_PATHS.items():
        module = sys.modules.get(f"{_PACKAGE}.{new}")
        if module is not None:
            sys.modules.setdefault(f"{_PACKAGE}.{old}", module)
