"""The module paths and names of earlier releases keep working."""

import importlib
import subprocess
import sys

import pytest

from arena_stats._compat import OLD_PATHS


@pytest.mark.parametrize("old", sorted(OLD_PATHS))
def test_old_module_path_is_the_new_module(old):
    module = importlib.import_module(f"arena_stats.{old}")
    assert module is importlib.import_module(f"arena_stats.{OLD_PATHS[old]}")
    # the alias leaves the module's own identity alone
    assert module.__spec__.name == f"arena_stats.{OLD_PATHS[old]}"


def test_old_imports_of_public_names_work_in_a_fresh_interpreter():
    code = ("from arena_stats.battles import load_battles, read_table, Battles\n"
            "from arena_stats.bradley_terry import fit_bradley_terry\n"
            "from arena_stats.bootstrap import bootstrap\n"
            "from arena_stats.elo import compute_elo\n"
            "import arena_stats, arena_stats.leaderboard\n"
            "assert callable(arena_stats.leaderboard), 'the package attribute stays the function'\n"
            "print(load_battles.__module__, compute_elo.__module__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["arena_stats.data.readers", "arena_stats.online.elo"]
