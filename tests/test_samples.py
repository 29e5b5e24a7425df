"""The bootstrap under a memory budget: same numbers, bounded memory, impossible requests refused."""

from __future__ import annotations

import glob
import os
import tempfile

import numpy as np
import pytest

from arena_stats import bootstrap
from arena_stats.errors import InputError
from arena_stats.inference import samples as samples_module
from arena_stats.inference.samples import SampleStore, parse_memory, plan_memory


def test_a_bootstrap_under_a_small_budget_equals_the_unbudgeted_run_bit_for_bit(small_arena):
    free = bootstrap(small_arena.battles, 3000, seed=3, threads=2)
    plan = plan_memory(3000, small_arena.battles.n_models, 50 * 66, 2, "800K")
    assert plan.on_disk and plan.threads == 1  # the budget forces both: one chunk at a time, samples on disk
    tight = bootstrap(small_arena.battles, 3000, seed=3, threads=2, memory="800K")
    assert isinstance(tight.samples.to_numpy().base, np.memmap) or tight.samples.to_numpy().base is not None
    np.testing.assert_array_equal(tight.samples.to_numpy(), free.samples.to_numpy())
    np.testing.assert_array_equal(tight.ranks.to_numpy(), free.ranks.to_numpy())
    for name in ("ci_lower", "ci_upper", "rank_ci_lower", "rank_ci_upper", "p_top"):
        np.testing.assert_array_equal(getattr(tight, name).to_numpy(), getattr(free, name).to_numpy())


def test_spilled_samples_leave_no_file_behind(small_arena):
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "arena-stats-bootstrap-*")))
    result = bootstrap(small_arena.battles, 3000, seed=1, memory="800K")
    del result
    after = set(glob.glob(os.path.join(tempfile.gettempdir(), "arena-stats-bootstrap-*")))
    assert after <= before


def test_a_chunk_larger_than_the_budget_is_refused_before_it_starts(small_arena):
    with pytest.raises(InputError, match="one chunk of bootstrap rounds needs about"):
        bootstrap(small_arena.battles, 10, seed=1, memory=1000)


def test_samples_too_large_for_memory_and_disk_are_refused_with_the_estimate(monkeypatch):
    class Usage:
        free = 10 * 2**20
    monkeypatch.setattr(samples_module.shutil, "disk_usage", lambda path: Usage())
    with pytest.raises(InputError, match=r"1,000,000 bootstrap rounds of 3,000 models need about 33\.5 GB"):
        plan_memory(1_000_000, 3000, 10_000, 2, "1G")


def test_the_store_ranks_rounds_and_reads_intervals_by_column_blocks(monkeypatch):
    monkeypatch.setattr(samples_module, "COLUMN_BLOCK", 2)
    rng = np.random.default_rng(0)
    table = rng.normal(size=(50, 5))
    table[3, 1] = np.nan  # a model without battles in a round
    store = SampleStore(50, 5, on_disk=True)
    store.put(0, table[:20])
    store.put(20, table[20:])
    lo, hi = store.intervals(0.9)
    np.testing.assert_allclose(lo, np.nanquantile(table, 0.05, axis=0))
    np.testing.assert_allclose(hi, np.nanquantile(table, 0.95, axis=0))
    from arena_stats.inference.ranks import rank_distribution
    ranks, r_lo, r_hi, p_top = rank_distribution(table, 0.9)
    np.testing.assert_array_equal(store.ranks, ranks)
    np.testing.assert_array_equal(store.rank_intervals(0.9)[0], r_lo)
    np.testing.assert_array_equal(store.p_top(), p_top)


def test_memory_sizes_parse_and_nonsense_is_refused():
    assert parse_memory("1.5G") == int(1.5 * 2**30) and parse_memory("64k") == 65536
    for bad in ("lots", "-1G", "0", "1e400"):
        with pytest.raises(InputError, match="memory"):
            parse_memory(bad)
