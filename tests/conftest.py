"""Shared fixtures: the real data directory (skip cleanly when absent) and small arenas."""

from __future__ import annotations

import os

# Single-threaded BLAS before numpy loads: the suite's many small solves are slower with thread
# hand-offs, and the CLI already runs this way (see arena_stats/__init__.py).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import matplotlib  # noqa: E402
import pytest  # noqa: E402

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
    from arena_stats.data.simulate import simulate_arena
    return simulate_arena(n_models=12, n_battles=6000, seed=11)
