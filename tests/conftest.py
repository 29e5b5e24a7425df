"""Shared fixtures: the real data directory (skip cleanly when absent) and small arenas."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` next to the project; tests using it skip when it is absent."""
    if not (SHARED_DATA / "PROVENANCE.md").exists():
        pytest.skip(f"shared data not found at {SHARED_DATA} (real-data tests need ../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_arena():
    from arena_stats.simulate import simulate_arena
    return simulate_arena(n_models=12, n_battles=6000, seed=11)
