"""The package namespace: every public name resolves and heavy modules load only on first use."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import arena_stats

HEAVY = ("matplotlib", "numba", "statsmodels")


def test_every_name_in_all_resolves():
    assert len(arena_stats.__all__) == len(set(arena_stats.__all__))
    for name in arena_stats.__all__:
        assert getattr(arena_stats, name) is not None, name
    assert set(arena_stats.__all__) <= set(dir(arena_stats))


def test_lazy_names_are_the_submodules_objects():
    for name, module in arena_stats._LAZY.items():
        assert getattr(arena_stats, name) is getattr(importlib.import_module(f"arena_stats.{module}"), name)
    for name in ("compute_elo", "elo_bootstrap", "EloResult", "EloBootstrapResult", "glicko2", "GlickoResult",
                 "ratings_over_time", "RatingsOverTime", "stream_pair_counts", "PreferencePredictor"):
        assert name in arena_stats.__all__


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        arena_stats.not_a_name  # noqa: B018
    assert not hasattr(arena_stats, "also_missing")


def test_import_does_not_load_heavy_dependencies():
    code = ("import arena_stats, sys; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules) or 'none')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "none"
    # star-import resolves the lazy names (and only then loads what they need)
    code = "from arena_stats import *; print(compute_elo.__module__, PreferencePredictor.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["arena_stats.online.elo", "PreferencePredictor"]
