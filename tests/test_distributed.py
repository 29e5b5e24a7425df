"""Dask: per-partition reduction and bootstrap on a LocalCluster of worker processes equal the local path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe", reason="dask is not installed: pip install 'arena-stats[dask]'")
distributed = pytest.importorskip("distributed", reason="distributed is not installed: pip install 'arena-stats[dask]'")

from arena_stats import load_battles  # noqa: E402
from arena_stats.data.aggregate import aggregate  # noqa: E402
from arena_stats.data.simulate import simulate_arena  # noqa: E402
from arena_stats.errors import InputError  # noqa: E402
from arena_stats.inference.bootstrap import bootstrap  # noqa: E402
from arena_stats.models.bradley_terry import fit_bradley_terry  # noqa: E402
from arena_stats.scale.distributed import bootstrap_dask, fit_contextual_dask, fit_dask, pair_counts_dask  # noqa: E402

FIELDS = ("i", "j", "cell_pair", "cell_outcome", "cell_count", "cell_weight")


@pytest.fixture(scope="module")
def client():
    # several worker *processes*, as on a real cluster: tasks and results cross process boundaries
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    f = simulate_arena(n_models=14, n_battles=6000, seed=8).battles.to_frame()
    return f[["model_a", "model_b", "winner", "judge"]]


def assert_same_counts(got, want) -> None:
    assert got.models == want.models
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f), err_msg=f)


def test_dask_dataframe_reduces_to_the_local_counts(client, frame):
    ddf = dd.from_pandas(frame, npartitions=7)
    assert_same_counts(pair_counts_dask(ddf, fan_in=2), aggregate(load_battles(frame)))


def test_parquet_glob_reduces_file_by_file_to_the_local_counts(client, frame, tmp_path):
    for k in range(5):
        frame.iloc[k::5].to_parquet(tmp_path / f"part-{k}.parquet")
    got = pair_counts_dask(str(tmp_path / "part-*.parquet"))
    assert_same_counts(got, aggregate(load_battles(sorted(map(str, tmp_path.glob("part-*.parquet"))))))
    with pytest.raises(InputError, match="no file matches"):
        pair_counts_dask(str(tmp_path / "nothing-*.parquet"))


def test_distributed_fit_equals_local_fit(client, frame):
    ddf = dd.from_pandas(frame, npartitions=4)
    for ties in ("half", "davidson"):
        got = fit_dask(ddf, ties)
        want = fit_bradley_terry(frame, ties)
        np.testing.assert_allclose(got.ratings.to_numpy(), want.ratings.to_numpy(), rtol=0, atol=1e-9)


def test_bootstrap_on_workers_equals_local_bootstrap_bit_for_bit(client, frame):
    counts = aggregate(load_battles(frame))
    local = bootstrap(counts, rounds=120, seed=3)
    remote = bootstrap_dask(counts, rounds=120, seed=3, client=client)
    np.testing.assert_array_equal(remote.samples.to_numpy(), local.samples.to_numpy())
    np.testing.assert_array_equal(remote.ci_lower.to_numpy(), local.ci_lower.to_numpy())
    # and the Dask DataFrame goes through the cluster reduction first
    via_dask = bootstrap_dask(dd.from_pandas(frame, npartitions=3), rounds=60, seed=3, client=client)
    np.testing.assert_array_equal(via_dask.samples.to_numpy(), bootstrap(counts, rounds=60, seed=3).samples.to_numpy())


def test_bad_partition_names_the_partition_and_row(client, frame):
    bad = frame.copy()
    bad.loc[4000, "winner"] = "nobody"
    ddf = dd.from_pandas(bad, npartitions=3)  # rows 4000.. start partition 2
    with pytest.raises(InputError) as err:
        pair_counts_dask(ddf)
    assert err.value.file == "<partition 2>" and err.value.column == "winner"
    assert err.value.row == 4000 - ddf.divisions[2] + 1


def test_empty_partitions_are_skipped(client, frame):
    ddf = dd.from_pandas(frame, npartitions=4)
    filtered = ddf[ddf["judge"] < 1000]  # some rows only; partitions stay
    want = aggregate(load_battles(frame[frame["judge"] < 1000]))
    assert_same_counts(pair_counts_dask(filtered), want)
    nothing = ddf[ddf["judge"] < 0]
    with pytest.raises(InputError, match="every partition was empty"):
        pair_counts_dask(nothing)


def test_module_examples_run():
    import doctest

    import arena_stats.scale.distributed as module
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("ties", ["half", "davidson"])
def test_contextual_fit_sums_gradient_and_hessian_per_partition_like_the_local_fit(client, frame, ties):
    from arena_stats.models.contextual import fit_contextual
    rng = np.random.default_rng(4)
    styled = frame.assign(length=rng.normal(size=len(frame)), lists=rng.normal(size=len(frame)))
    local = fit_contextual(styled, ["length", "lists"], ties, position=True, l2=0.3, covariate_l2=0.5)
    remote = fit_contextual_dask(dd.from_pandas(styled, npartitions=5), ["length", "lists"], ties,
                                 position=True, l2=0.3, covariate_l2=0.5)
    np.testing.assert_allclose(remote.ratings.to_numpy(), local.ratings.to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(remote.beta.to_numpy(), local.beta.to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(remote.se_robust.to_numpy(), local.se_robust.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(remote.beta_se.to_numpy(), local.beta_se.to_numpy(), rtol=1e-9)
    assert remote.covariates == local.covariates


def test_lookalike_names_split_across_partitions_warn_once_and_invalid_rows_report_once():
    import warnings

    import dask

    from arena_stats.errors import LookalikeNameWarning
    frame = pd.DataFrame({"model_a": ["gpt-4", "x", "x", "y", "GPT-4", "y"],
                          "model_b": ["x", "y", "y", "x", "y", "y"],
                          "winner": ["model_a", "tie", "model_b", "oops", "model_a", "model_a"]})
    with dask.config.set(scheduler="sync"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        counts = pair_counts_dask(dd.from_pandas(frame, npartitions=3, sort=False), drop_invalid=True)
    lookalike = [w for w in caught if issubclass(w.category, LookalikeNameWarning)]
    assert len(lookalike) == 1 and "GPT-4" in str(lookalike[0].message)
    steps = [s for s in counts.steps if s.name == "drop-invalid"]
    assert len(steps) == 1 and steps[0].removed == 2  # one unknown verdict, one self-battle
