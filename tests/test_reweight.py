"""Inverse pair-frequency weights: definition, balance, composition and the weighted fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from arena_stats import InputError, load_battles
from arena_stats.data.battles import A_WINS, B_WINS, Battles
from arena_stats.data.reweight import pair_weights, reweight_pairs
from arena_stats.data.simulate import simulate_arena
from arena_stats.models.contextual import fit_contextual


def test_weights_are_inverse_pair_counts_floored_at_m_and_average_one():
    b = simulate_arena(8, 5000, seed=1).battles
    frame = b.to_frame()
    pair = frame.apply(lambda r: tuple(sorted((r["model_a"], r["model_b"]))), axis=1)
    n_pair = pair.map(pair.value_counts())
    raw = 1.0 / np.maximum(n_pair.to_numpy(), 30)
    w = pair_weights(b, m=30)
    assert np.allclose(w, raw * len(raw) / raw.sum())
    assert w.mean() == pytest.approx(1.0)
    assert np.allclose(pair_weights(b, m=30, normalise=False), raw)


def test_every_pair_with_at_least_m_battles_carries_the_same_total_weight():
    b = simulate_arena(10, 20000, seed=2).battles
    w = pair_weights(b, m=25)
    key = np.minimum(b.a, b.b) * b.n_models + np.maximum(b.a, b.b)
    totals = pd.Series(w).groupby(key).sum()
    sizes = pd.Series(1, index=key).groupby(level=0).sum()
    big = totals[sizes >= 25]
    assert len(big) > 5 and np.allclose(big, big.iloc[0])
    small = totals[sizes < 25]
    assert (small < big.iloc[0]).all()


def test_existing_weights_multiply_and_aggregated_counts_count_as_battles():
    df = pd.DataFrame({"model_a": ["x", "x", "y"], "model_b": ["y", "z", "z"], "wins_a": [6, 1, 2],
                       "wins_b": [2, 1, 0]})
    agg = load_battles(df, schema="aggregated")
    w = pair_weights(agg, m=1, normalise=False)
    expect = {("x", "y"): 1 / 8, ("x", "z"): 1 / 2, ("y", "z"): 1 / 2}
    got = {(a, b): v for a, b, v in zip(agg.frame["model_a"], agg.frame["model_b"], w)}
    assert all(got[k] == pytest.approx(v) for k, v in expect.items())
    weighted = Battles(agg.frame.assign(weight=2.0))
    assert np.allclose(pair_weights(weighted, m=1, normalise=False), 2 * w)


def test_reweighted_fit_equals_statsmodels_weighted_glm():
    b = simulate_arena(6, 3000, seed=3).battles
    rb = reweight_pairs(b, m=40)
    fit = fit_contextual(rb, ties="drop", tol=1e-12)
    keep = np.isin(b.outcome, [A_WINS, B_WINS])
    n = b.n_models
    x = np.zeros((len(b), n))
    x[np.arange(len(b)), b.a] = 1.0
    x[np.arange(len(b)), b.b] = -1.0
    y = (b.outcome == A_WINS).astype(float)
    res = sm.GLM(y[keep], x[keep][:, 1:], family=sm.families.Binomial(),
                 var_weights=rb.weights[keep]).fit(tol=1e-13)
    theta = fit.theta
    assert np.abs((theta[1:] - theta[0]) - res.params).max() < 1e-6
    assert rb.steps[-1].name == "reweight-pairs"


def test_floor_below_one_is_an_error():
    with pytest.raises(InputError, match="floor"):
        pair_weights(simulate_arena(4, 100, seed=1).battles, m=0.5)
