"""Tie and both-bad models: planted parameters recovered, direct maximisation, LR test, footing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy.special import log_expit, logsumexp
from statsmodels.tools.numdiff import approx_hess

from arena_stats import InputError, fit_bradley_terry, load_battles
from arena_stats.data.battles import A_WINS, B_WINS, BOTHBAD, TIE
from arena_stats.data.simulate import simulate_arena
from arena_stats.models.bothbad import fit_bothbad, tie_model_comparison
from arena_stats.models.contextual import fit_contextual

LABELS = np.array(["model_a", "model_b", "tie", "tie (bothbad)"])


def _pairs(rng: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = rng.integers(0, n, m), rng.integers(0, n - 1, m)
    return a, np.where(b >= a, b + 1, b)


def _draw(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, logp: np.ndarray) -> pd.DataFrame:
    """Battles with verdicts drawn from per-battle log-probabilities ``(m, k)`` over LABELS[:k]."""
    cdf = np.cumsum(np.exp(logp - logsumexp(logp, axis=1, keepdims=True)), axis=1)
    verdict = (rng.random(len(a))[:, None] > cdf).sum(axis=1)
    return pd.DataFrame({"model_a": [f"m{k:02d}" for k in a], "model_b": [f"m{k:02d}" for k in b],
                         "winner": LABELS[verdict]})


def _planted(seed: int, n: int = 10, m: int = 40000):
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 0.6, n)
    theta -= theta.mean()
    a, b = _pairs(rng, n, m)
    return rng, theta, a, b


def _bothbad_data(seed: int, nu: float, delta: float, gamma: float, m: int = 40000) -> tuple[pd.DataFrame, np.ndarray]:
    rng, theta, a, b = _planted(seed, m=m)
    eta, s = theta[a] - theta[b], 0.5 * (theta[a] + theta[b])
    u = np.column_stack([eta / 2, -eta / 2, np.full(len(a), np.log(nu)), delta - gamma * s])
    return _draw(rng, a, b, u), theta


def _within(estimate: float, truth: float, se: float, z: float = 3.5) -> bool:
    return abs(estimate - truth) <= z * se


def test_bothbad_fit_recovers_planted_parameters_and_strengths():
    df, theta = _bothbad_data(1, nu=0.6, delta=-1.2, gamma=0.8)
    res = fit_bothbad(df)
    assert _within(np.log(res.nu), np.log(0.6), res.params_frame().loc["log_nu", "se_robust"])
    assert _within(res.delta, -1.2, res.params_frame().loc["bothbad_delta", "se_robust"])
    assert _within(res.gamma, 0.8, res.gamma_se_robust)
    fitted = res.fit.params[res.models].to_numpy()
    se = res.fit.se_robust.to_numpy() / (400 / np.log(10))
    assert (np.abs(fitted - theta) <= 3.5 * se).all()
    assert res.lr_pvalue < 1e-6


def test_davidson_and_rao_kupper_recover_planted_parameters():
    rng, theta, a, b = _planted(2)
    eta = theta[a] - theta[b]
    nu = 0.8
    dav = _draw(rng, a, b, np.column_stack([eta / 2, -eta / 2, np.full(len(a), np.log(nu))]))
    fit = fit_contextual(dav, ties="davidson")
    assert _within(fit.tie_param, nu, fit.tie_param_se)
    assert (np.abs(fit.theta - theta) <= 3.5 * fit.se_robust.to_numpy() / (400 / np.log(10))).all()
    tau = 0.4
    pa, pb = np.exp(log_expit(eta - tau)), np.exp(log_expit(-eta - tau))
    rk = _draw(rng, a, b, np.log(np.column_stack([pa, pb, 1 - pa - pb])))
    fit = fit_contextual(rk, ties="rao-kupper")
    assert _within(fit.tie_param, np.exp(tau), fit.tie_param_se)
    assert (np.abs(fit.theta - theta) <= 3.5 * fit.se_robust.to_numpy() / (400 / np.log(10))).all()


def test_bothbad_fit_equals_direct_maximisation_and_numerical_hessian():
    df, _ = _bothbad_data(3, nu=0.7, delta=-1.0, gamma=0.5, m=3000)
    res = fit_bothbad(df, tol=1e-12)
    names = res.models
    code = {m: k for k, m in enumerate(names)}
    a, b = df["model_a"].map(code).to_numpy(), df["model_b"].map(code).to_numpy()
    o = pd.Series(df["winner"]).map({lab: k for k, lab in enumerate(LABELS)}).to_numpy()
    n = len(names)

    def nll(v: np.ndarray) -> float:
        # free strengths via the last one = -sum(others), so that the strengths sum to zero
        theta = np.concatenate([v[: n - 1], [-v[: n - 1].sum()]])
        lam, delta, gamma = v[n - 1:]
        eta, s = theta[a] - theta[b], 0.5 * (theta[a] + theta[b])
        u = np.column_stack([eta / 2, -eta / 2, np.full(len(a), lam), delta - gamma * s])
        return -(u[np.arange(len(a)), o] - logsumexp(u, axis=1)).sum()

    best = optimize.minimize(nll, np.zeros(n + 2), method="BFGS", options={"gtol": 1e-9})
    ours = np.concatenate([res.fit.params.to_numpy()[: n - 1], res.fit.params.to_numpy()[n:]])
    assert np.abs(ours - best.x).max() < 1e-5
    assert res.loglik == pytest.approx(-best.fun, abs=1e-6)
    se_num = np.sqrt(np.diag(np.linalg.inv(approx_hess(ours, nll))))
    se_ours = res.params_frame()["se"].to_numpy()
    assert np.allclose(se_ours, se_num[n - 1:], rtol=1e-4)


def test_lr_null_is_davidson_with_a_constant_bothbad_share():
    df, _ = _bothbad_data(4, nu=0.6, delta=-1.0, gamma=0.0, m=20000)
    res = fit_bothbad(df)
    battles = load_battles(df)
    plain = fit_bradley_terry(battles, ties="davidson")
    n_t, n_bb = (battles.outcome == TIE).sum(), (battles.outcome == BOTHBAD).sum()
    pi = n_bb / (n_t + n_bb)
    null = plain.loglik + n_bb * np.log(pi) + n_t * np.log(1 - pi)
    assert res.loglik_plain_tie == pytest.approx(null, abs=1e-6)
    assert res.loglik >= null - 1e-9
    assert res.lr_stat == pytest.approx(2 * (res.loglik - null), abs=1e-6)
    assert res.lr_pvalue > 0.01  # no planted strength dependence: the test does not reject


def _footing_datasets(shared_data) -> dict[str, object]:
    sets = {f"arena-{s}": simulate_arena(8, 8000, seed=s).battles for s in (5, 6)}
    sets["llmfao"] = load_battles(shared_data / "llmfao" / "crowd-comparisons.csv")
    sets["mt-bench"] = load_battles(shared_data / "mt_bench_human_judgments" / "human.jsonl")
    ice = pd.read_csv(shared_data / "bradleyterry2_r_datasets" / "icehockey.csv")
    ice = ice.assign(winner=ice["result"].map({1.0: "model_a", 0.0: "model_b", 0.5: "tie"}))
    sets["icehockey"] = load_battles(ice, model_a_col="visitor", model_b_col="opponent", outcome_col="winner")
    return sets


def test_tie_models_are_never_worse_than_tie_as_half_on_a_common_footing(shared_data):
    for name, battles in _footing_datasets(shared_data).items():
        cmp = tie_model_comparison(battles)
        half = cmp.loc["half", "loglik_3"]
        assert cmp.loc["davidson", "loglik_3"] >= half, name
        assert cmp.loc["rao-kupper", "loglik_3"] >= half, name
        if "bothbad" in cmp.index:
            assert cmp.loc["bothbad", "loglik_4"] >= cmp.loc["davidson", "loglik_4"] - 1e-9, name


def test_half_footing_uses_the_half_ratings_and_the_observed_tie_share():
    battles = simulate_arena(6, 5000, seed=7).battles
    fit = fit_bradley_terry(battles, ties="half")
    d = fit.theta[battles.a] - fit.theta[battles.b]
    o = battles.outcome
    tie = np.isin(o, [TIE, BOTHBAD])
    tau = tie.mean()
    expect = (log_expit(d[o == A_WINS]).sum() + log_expit(-d[o == B_WINS]).sum()
              + (~tie).sum() * np.log(1 - tau) + tie.sum() * np.log(tau))
    assert tie_model_comparison(battles).loc["half", "loglik_3"] == pytest.approx(expect, abs=1e-6)


def test_bothbad_needs_both_kinds_of_tie():
    df = pd.DataFrame({"model_a": ["x", "y", "x"], "model_b": ["y", "x", "y"],
                       "winner": ["model_a", "tie", "model_b"]})
    with pytest.raises(InputError, match="bothbad"):
        fit_bothbad(df)


def test_bothbad_predictions_sum_to_one_and_grow_for_weak_pairs():
    df, theta = _bothbad_data(8, nu=0.6, delta=-1.2, gamma=0.8, m=10000)
    res = fit_bothbad(df)
    order = np.argsort(res.fit.theta)
    weak, strong = [res.models[k] for k in order[:2]], [res.models[k] for k in order[-2:]]
    p = res.predict_proba([weak[0], strong[0]], [weak[1], strong[1]])
    assert list(p.columns) == ["winner_model_a", "winner_model_b", "winner_tie", "winner_bothbad"]
    assert np.allclose(p.sum(axis=1), 1)
    assert p["winner_bothbad"].iloc[0] > p["winner_bothbad"].iloc[1]
    assert "likelihood-ratio" in res.summary()


@pytest.mark.parametrize("heavy", [1e6, 1e9])
def test_one_heavy_decisive_battle_fits_whatever_the_scale_of_the_weights(heavy):
    """Log-probabilities keep their digits for the likely verdict (by subtraction they cancel to
    1e-16 x the weight), and where the both-bad model's information is indefinite the engine's
    Levenberg-Marquardt step still goes uphill: both used to stop Newton short of the optimum.
    (At 1e12 the heavy pair's optimum lies beyond the divergence threshold of 30 natural units.)"""
    df = simulate_arena(5, 3000, seed=8).battles.to_frame()[["model_a", "model_b", "winner"]]
    w = np.ones(len(df))
    w[int(np.flatnonzero(df["winner"].isin(["model_a", "model_b"]).to_numpy())[0])] = heavy
    fits = [fit_bothbad(load_battles(df.assign(w=w * c), weight_col="w")) for c in (1.0, 1e-3)]
    np.testing.assert_allclose(fits[0].fit.ratings, fits[1].fit.ratings, atol=1e-6)
    assert abs(fits[0].gamma - fits[1].gamma) < 1e-9
