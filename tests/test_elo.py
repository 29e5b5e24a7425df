"""Online Elo and its bootstrap, checked against a plain textbook loop (FastChat's compute_elo)."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import arena_stats.online.elo as elo_module
from arena_stats import load_battles
from arena_stats.data.simulate import simulate_arena
from arena_stats.errors import InputError
from arena_stats.online.elo import (
    BACKENDS,
    VECTOR_MIN_ROUNDS,
    bootstrap_indices,
    compute_elo,
    default_backend,
    elo_bootstrap,
    time_order,
)

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="needs numba (pip install arena-stats[fast])")

AVAILABLE = [b for b in BACKENDS if b != "numba" or HAVE_NUMBA]
LABELS = np.array(["model_a", "model_b", "tie", "tie (bothbad)"], dtype=object)


def plain_elo(model_a, model_b, winner, k=4.0, scale=400.0, base=10.0, init=1000.0, weight=None):
    """FastChat's compute_elo, written out independently: a dict and a loop."""
    rating: dict[str, float] = {}
    for t, (ma, mb, w) in enumerate(zip(model_a, model_b, winner)):
        ra = rating.get(ma, init)
        rb = rating.get(mb, init)
        ea = 1 / (1 + base ** ((rb - ra) / scale))
        eb = 1 / (1 + base ** ((ra - rb) / scale))
        sa = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}[w]
        kk = k * (1.0 if weight is None else weight[t])
        rating[ma] = ra + kk * (sa - ea)
        rating[mb] = rb + kk * (1 - sa - eb)
    return rating


def random_battles(n_battles=3000, n_models=12, seed=0, tstamp=False):
    rng = np.random.default_rng(seed)
    names = [f"m{i:02d}" for i in range(n_models)]
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    df = pd.DataFrame({"model_a": np.array(names, dtype=object)[a], "model_b": np.array(names, dtype=object)[b],
                       "winner": LABELS[rng.choice(4, n_battles, p=[0.35, 0.3, 0.2, 0.15])]})
    if tstamp:
        df["tstamp"] = rng.integers(0, 200, n_battles).astype(float)  # many equal times
    return df


def as_array(rating: dict[str, float], models: list[str]) -> np.ndarray:
    return np.array([rating[m] for m in models])


@pytest.mark.parametrize("backend", AVAILABLE)
def test_online_elo_equals_plain_loop_with_ties(backend):
    df = random_battles()
    res = compute_elo(df, backend=backend)
    ref = plain_elo(df["model_a"], df["model_b"], df["winner"])
    assert res.order == "file"
    np.testing.assert_allclose(res.ratings.to_numpy(), as_array(ref, res.models), rtol=0, atol=1e-9)


@pytest.mark.parametrize("backend", AVAILABLE)
def test_online_elo_equals_plain_loop_with_other_settings(backend):
    df = random_battles(seed=3)
    res = compute_elo(df, k=32, scale=173.7, base=np.e, init=1500, backend=backend)
    ref = plain_elo(df["model_a"], df["model_b"], df["winner"], k=32, scale=173.7, base=np.e, init=1500)
    np.testing.assert_allclose(res.ratings.to_numpy(), as_array(ref, res.models), rtol=0, atol=1e-9)


def test_online_elo_follows_tstamp_with_stable_ties():
    df = random_battles(seed=1, tstamp=True)
    res = compute_elo(df)
    ordered = df.sort_values("tstamp", kind="stable")
    ref = plain_elo(ordered["model_a"], ordered["model_b"], ordered["winner"])
    assert res.order == "tstamp"
    np.testing.assert_allclose(res.ratings.to_numpy(), as_array(ref, res.models), rtol=0, atol=1e-9)
    # and the order matters: file order gives other numbers
    unordered = plain_elo(df["model_a"], df["model_b"], df["winner"])
    assert np.abs(res.ratings.to_numpy() - as_array(unordered, res.models)).max() > 1e-3


def test_time_order_puts_missing_timestamps_last():
    b = load_battles(pd.DataFrame({"model_a": ["x", "y", "x"], "model_b": ["y", "x", "y"],
                                   "winner": ["tie"] * 3, "tstamp": [30.0, np.nan, 10.0]}))
    order, how = time_order(b)
    assert order.tolist() == [2, 0, 1] and how == "tstamp"


@pytest.mark.parametrize("backend", AVAILABLE)
def test_weighted_elo_scales_each_step(backend):
    df = random_battles(n_battles=500, seed=4)
    df["w"] = np.random.default_rng(0).uniform(0.2, 2.0, len(df))
    res = compute_elo(load_battles(df, weight_col="w"), backend=backend)
    ref = plain_elo(df["model_a"], df["model_b"], df["winner"], weight=df["w"].to_numpy())
    np.testing.assert_allclose(res.ratings.to_numpy(), as_array(ref, res.models), rtol=0, atol=1e-9)


def test_aggregated_counts_replay_as_repeated_battles():
    agg = pd.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "z"], "wins_a": [3, 1], "wins_b": [1, 2],
                        "ties": [2, 0]})
    b = load_battles(agg, schema="aggregated")
    res = compute_elo(b)
    rows = b.to_frame()
    reps = rows.loc[rows.index.repeat(b.counts.astype(int))]
    ref = plain_elo(reps["model_a"], reps["model_b"], reps["winner"])
    np.testing.assert_allclose(res.ratings.to_numpy(), as_array(ref, res.models), rtol=0, atol=1e-9)
    assert res.n_battles == 9


def test_battle_history_ends_at_final_ratings_and_has_pre_battle_expectations():
    df = random_battles(n_battles=400, seed=5)
    res = compute_elo(df, history="battle")
    h = res.history
    assert len(h) == 400 and list(h["row"]) == list(range(400))
    last = pd.concat([h[["step", "model_a", "rating_a"]].set_axis(["step", "model", "rating"], axis=1),
                      h[["step", "model_b", "rating_b"]].set_axis(["step", "model", "rating"], axis=1)])
    last = last.astype({"model": object}).sort_values("step").groupby("model")["rating"].last()
    np.testing.assert_allclose(last.reindex(res.models).to_numpy(), res.ratings.to_numpy(), atol=1e-9)
    # expected_a of battle t from the plain loop's ratings after t battles
    t = 250
    before = plain_elo(df["model_a"][:t], df["model_b"][:t], df["winner"][:t])
    ra, rb = before.get(df["model_a"][t], 1000.0), before.get(df["model_b"][t], 1000.0)
    assert h["expected_a"][t] == pytest.approx(1 / (1 + 10 ** ((rb - ra) / 400)), abs=1e-12)


def test_day_history_gives_end_of_day_ratings():
    df = random_battles(n_battles=600, seed=6)
    df["tstamp"] = pd.Timestamp("2024-03-01").timestamp() + np.sort(
        np.random.default_rng(1).uniform(0, 5 * 86400, len(df)))
    res = compute_elo(df, history="day")
    h = res.history
    assert set(h.columns) == {"date", "model", "rating", "battles"}
    day3 = pd.Timestamp("2024-03-03")
    upto = df[pd.to_datetime(df["tstamp"], unit="s") < day3 + pd.Timedelta(days=1)]
    ref = plain_elo(upto["model_a"], upto["model_b"], upto["winner"])
    rows = h[h["date"] == day3].set_index("model")
    for m, r in rows["rating"].items():
        assert r == pytest.approx(ref[m], abs=1e-9)
    final = h.sort_values("date").groupby("model")["rating"].last()
    np.testing.assert_allclose(final.reindex(res.models).to_numpy(), res.ratings.to_numpy(), atol=1e-9)


@pytest.mark.parametrize("rounds", [3, VECTOR_MIN_ROUNDS + 1])
@pytest.mark.parametrize("backend", AVAILABLE)
def test_bootstrap_rounds_replay_as_plain_loops(rounds, backend):
    df = random_battles(n_battles=1500, seed=7, tstamp=True)
    res = elo_bootstrap(df, rounds=rounds, seed=11, backend=backend)
    ordered = df.sort_values("tstamp", kind="stable").reset_index(drop=True)
    for r in (0, rounds - 1):
        idx = bootstrap_indices(len(df), seed=11, round=r)
        sample = ordered.iloc[idx]
        ref = plain_elo(sample["model_a"], sample["model_b"], sample["winner"])
        got = res.samples.iloc[r]
        for m in res.samples.columns:
            if m in ref:
                assert got[m] == pytest.approx(ref[m], abs=1e-9)
            else:
                assert np.isnan(got[m])


def test_bootstrap_is_reproducible_and_seed_dependent():
    sim = simulate_arena(n_models=6, n_battles=2000, seed=2)
    a = elo_bootstrap(sim.battles, rounds=30, seed=5)
    b = elo_bootstrap(sim.battles, rounds=30, seed=5)
    c = elo_bootstrap(sim.battles, rounds=30, seed=6)
    assert np.array_equal(a.samples.to_numpy(), b.samples.to_numpy(), equal_nan=True)
    assert not np.allclose(a.samples.to_numpy(), c.samples.to_numpy())
    # the first rounds do not depend on how many rounds were asked for
    d = elo_bootstrap(sim.battles, rounds=5, seed=5)
    np.testing.assert_allclose(d.samples.to_numpy(), a.samples.to_numpy()[:5], atol=1e-9)
    # and the backends differ only by their exp (libm's against the compiled one, within 1 ulp)
    if HAVE_NUMBA:
        p = elo_bootstrap(sim.battles, rounds=30, seed=5, backend="python")
        np.testing.assert_allclose(p.samples.to_numpy(), a.samples.to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("backend", AVAILABLE)
def test_bootstrap_rounds_do_not_depend_on_round_count_chunks_or_threads(backend, monkeypatch):
    df = random_battles(n_battles=700, seed=9, tstamp=True)
    w = df.assign(w=np.random.default_rng(2).uniform(0.5, 1.5, len(df)))
    for battles in (df, load_battles(w, weight_col="w")):
        rounds = VECTOR_MIN_ROUNDS + 3  # odd: the compiled kernel pairs rounds and pads a scratch one
        ref = elo_bootstrap(battles, rounds=rounds, seed=4, backend=backend).samples.to_numpy()
        fewer = elo_bootstrap(battles, rounds=rounds - 1, seed=4, backend=backend).samples.to_numpy()
        assert np.array_equal(fewer, ref[:-1], equal_nan=True)  # bit for bit
        monkeypatch.setattr(elo_module, "CHUNK_DRAWS", 3 * rounds + 1)  # 3 steps per numpy chunk
        monkeypatch.setattr(elo_module, "NUMBA_CHUNK_STEPS", 100)  # kernel restarted every 100 steps
        chunked = elo_bootstrap(battles, rounds=rounds, seed=4, backend=backend, progress=True)
        assert np.array_equal(chunked.samples.to_numpy(), ref, equal_nan=True)
        monkeypatch.undo()
        if backend == "numba":
            import numba
            threads = numba.get_num_threads()
            try:
                numba.set_num_threads(1)
                one = elo_bootstrap(battles, rounds=rounds, seed=4, backend=backend).samples.to_numpy()
            finally:
                numba.set_num_threads(threads)
            assert np.array_equal(one, ref, equal_nan=True)


def splitmix_draw(key: int, t: int, n: int) -> int:
    """Round ``key``'s draw at step ``t`` in exact integer arithmetic: floor(SplitMix64 * n / 2**64)."""
    mask = (1 << 64) - 1
    z = (key + (t + 1) * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return (z * n) >> 64


@pytest.mark.parametrize("n", [1, 7, 1000, 2**31 + 11, 2**32 - 1])
def test_bootstrap_draws_are_the_exact_scaled_hash(n):
    key = int(np.random.SeedSequence([3, 5]).generate_state(1, np.uint64)[0])
    steps = np.array([0, 1, 2, 99, 12345, 2**40])
    got = elo_module._splitmix_index(np.array([key], np.uint64), steps, n)[:, 0]
    assert got.tolist() == [splitmix_draw(key, int(t), n) for t in steps]
    if n <= 1000:
        first = bootstrap_indices(n, seed=3, round=5)[:3].tolist()
        assert first == [splitmix_draw(key, t, n) for t in range(min(n, 3))]
    with pytest.raises(InputError, match="at most"):
        elo_module._splitmix_index(np.array([key], np.uint64), steps, 2**32)
    if HAVE_NUMBA:  # the compiled twin (its low 32-bit half only matters for n near 2**32)
        elo_module._numba_kernels()
        draw = elo_module._draw
        assert [draw(np.uint64(key), int(t), np.uint64(n)) for t in steps] == got.tolist()


def test_exp_tables_are_correctly_rounded():
    from decimal import Decimal, localcontext
    table, hi, lo = elo_module._exp_tables()
    with localcontext() as ctx:
        ctx.prec = 50
        for i in (0, 1, 37, 64, 127):
            exact = Decimal(2) ** (Decimal(i) / 128)
            got = Decimal(float(table[i:i + 1].view(np.float64)[0]))
            assert abs(got - exact) <= Decimal(math.ulp(float(exact))) / 2
        assert abs(Decimal(hi) + Decimal(lo) - Decimal(2).ln() / 128) <= Decimal(math.ulp(lo))
    assert np.float64(hi).view(np.int64) & 0xFFFFFFFF == 0  # 21 significant bits: k * hi is exact


@needs_numba
def test_compiled_exp_is_within_one_ulp_of_libm():
    elo_module._numba_kernels()
    fast = elo_module._exp  # the compiled function, callable from Python too
    rng = np.random.default_rng(0)
    zs = np.concatenate([rng.normal(0, 1, 3000), rng.uniform(-40, 40, 3000), rng.uniform(-699.9, 699.9, 1000),
                         [0.0, -0.0, 1e-300, 5e-324, np.log(2) / 256, 699.999, -699.999]])
    for z in zs:
        ref = math.exp(z)
        assert abs(fast(z) - ref) <= math.ulp(ref), z
    for z in (700.0, 709.7, -700.0, -745.2, -800.0, -np.inf):  # outside |z| < 700: libm's
        assert fast(z) == math.exp(z)
    assert fast(709.8) == fast(np.inf) == np.inf  # overflow (math.exp raises there)
    assert np.isnan(fast(np.nan))


def test_import_leaves_numba_for_first_use():
    code = ("import sys, arena_stats.online.elo as e; print(sys.modules.get('numba') is not None, e.default_backend()); "
            "e.compute_elo(__import__('pandas').DataFrame({'model_a': ['x'], 'model_b': ['y'], 'winner': ['tie']})); "
            "print(sys.modules.get('numba') is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "numba" if HAVE_NUMBA else "python", str(HAVE_NUMBA)]


@needs_numba
def test_compiled_kernels_load_from_the_disk_cache_in_a_new_process(tmp_path):
    # The old kernels were closures over compiled functions; numba keys its cache on the closure
    # cells, which pickle differently in every process, so every process compiled again.
    code = ("import pandas as pd, arena_stats.online.elo as e; "
            "e.compute_elo(pd.DataFrame({'model_a': ['x'], 'model_b': ['y'], 'winner': ['tie']}), backend='numba'); "
            "s = e._numba_kernels()['single'].stats; print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(2)]
    assert runs == [["0", "1"], ["1", "0"]]


def test_bootstrap_draws_are_uniform_with_replacement():
    n = 1000
    draws = np.concatenate([bootstrap_indices(n, seed=0, round=r) for r in range(50)])
    counts = np.bincount(draws, minlength=n)
    # chi-square with n-1 df: mean 999, sd ~45; 6 sd either way
    chi2 = ((counts - 50.0) ** 2 / 50.0).sum()
    assert 999 - 6 * 45 < chi2 < 999 + 6 * 45
    one = bootstrap_indices(n, seed=0, round=0)
    assert 0.55 < len(np.unique(one)) / n < 0.71  # 1 - 1/e of the battles appear


def test_bootstrap_interval_covers_and_ranks_planted_truth():
    sim = simulate_arena(n_models=5, n_battles=6000, seed=3, spread=150)
    res = elo_bootstrap(sim.battles, rounds=200, seed=0, k=4)
    truth_order = sim.true_ratings.sort_values(ascending=False).index.tolist()
    assert res.rating.sort_values(ascending=False).index.tolist() == truth_order
    frame = res.to_frame()
    assert list(frame.columns[:5]) == ["rank", "model", "rating", "ci_lower", "ci_upper"]
    assert (frame["ci_lower"] <= frame["rating"]).all() and (frame["rating"] <= frame["ci_upper"]).all()
    assert res.p_top.sum() == pytest.approx(1.0)


def test_elo_rejects_bad_input_with_specific_errors():
    df = random_battles(n_battles=50)
    with pytest.raises(InputError, match="k must be"):
        compute_elo(df, k=0)
    with pytest.raises(InputError, match="needs a 'tstamp'"):
        compute_elo(df, history="day")
    with pytest.raises(InputError, match="history must be"):
        compute_elo(df, history="week")
    with pytest.raises(InputError, match="rounds"):
        elo_bootstrap(df, rounds=0)
    with pytest.raises(InputError, match="unknown backend"):
        compute_elo(df, backend="cuda")
    agg = pd.DataFrame({"model_a": ["x"], "model_b": ["y"], "wins_a": [1.5], "wins_b": [1]})
    with pytest.raises(InputError, match="whole battle counts"):
        compute_elo(load_battles(agg, schema="aggregated"))


def test_result_frame_and_summary_echo_settings():
    res = compute_elo(random_battles(n_battles=200), k=8)
    frame = res.to_frame()
    assert frame["rating"].is_monotonic_decreasing and frame["rank"].iloc[0] == 1
    assert {"battles", "wins", "losses", "ties", "win_rate"} <= set(frame.columns)
    assert res.k == 8 and "k=8" in res.summary()
    assert res.backend == default_backend()


def test_elo_cli_prints_the_same_leaderboard_as_the_library(tmp_path, capsys):
    from arena_stats.cli import main
    df = random_battles(n_battles=300, seed=8)
    path = tmp_path / "battles.csv"
    df.to_csv(path, index=False)
    assert main(["elo", str(path), "--format", "csv", "-q", "--k", "8"]) == 0
    out = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    ref = plain_elo(df["model_a"], df["model_b"], df["winner"], k=8)
    assert out["rating"].is_monotonic_decreasing
    for m, r in zip(out["model"], out["rating"]):
        assert r == pytest.approx(ref[m], abs=1e-6)
    assert main(["elo", str(path), "--bootstrap", "30", "--format", "json", "-q"]) == 0
    assert '"ci_lower"' in capsys.readouterr().out
    assert main(["elo", str(path), "--glicko", "--period", "100", "-q"]) == 0
    assert "rd" in capsys.readouterr().out
    assert main(["elo", str(path), "--k", "-1", "-q"]) == 2
    assert "k must be" in capsys.readouterr().err


def test_atp_elo_puts_the_number_ones_on_top(shared_data):
    files = [shared_data / "tennis_atp" / f"atp_matches_{y}.csv.gz" for y in (2014, 2015)]
    df = pd.concat([pd.read_csv(f, usecols=["tourney_date", "winner_name", "loser_name"]) for f in files])
    df = df[(df["winner_name"] != "U Unknown") & (df["loser_name"] != "U Unknown")]
    df["tstamp"] = pd.to_datetime(df["tourney_date"].astype(str), format="%Y%m%d")
    b = load_battles(df, schema="winner-loser", winner_col="winner_name", loser_col="loser_name")
    top = compute_elo(b, k=32, init=1500).to_frame()["model"].head(3).tolist()
    assert top[0] == "Novak Djokovic"  # year-end number one of 2014 and 2015
    assert {"Roger Federer", "Andy Murray", "Rafael Nadal"} & set(top[1:])


def test_elo_bootstrap_ranks_are_the_boards_ranks_by_the_one_rule():
    from arena_stats.inference.ranks import rank_from_intervals
    sim = simulate_arena(8, 3000, seed=1)
    res = elo_bootstrap(sim.battles, rounds=50, seed=2)
    frame = res.to_frame().set_index("model")
    want = rank_from_intervals(res.ci_lower.to_numpy(), res.ci_upper.to_numpy())
    assert res.rank.tolist() == want[0].tolist() and res.rank_upper.tolist() == want[2].tolist()
    for col in ("rank", "rank_lower", "rank_upper"):
        assert getattr(res, col).reindex(frame.index).tolist() == frame[col].tolist()
