"""The BT fitter against published fits, statsmodels and direct scipy optimisation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from arena_stats import NoMLEError, fit_bradley_terry, load_battles
from arena_stats.data.aggregate import aggregate
from arena_stats.data.battles import A_WINS, B_WINS, BOTHBAD, TIE
from arena_stats.data.simulate import simulate_arena
from arena_stats.models.bradley_terry import TIES

K = 400 / np.log(10)  # Elo points per natural-log unit


def _frame(a, b, winner):
    return pd.DataFrame({"model_a": a, "model_b": b, "winner": winner})


def _random_arena(seed: int, n_models: int = 7, n_battles: int = 3000) -> pd.DataFrame:
    return simulate_arena(n_models, n_battles, seed=seed).battles.to_frame()


# ----------------------------------------------------------------------- published results
def test_llmfao_half_ties_equals_evalica_golden_scores(shared_data):
    battles = load_battles(shared_data / "llmfao" / "crowd-comparisons.csv")
    golden = pd.read_csv(shared_data / "llmfao" / "evalica-llmfao-golden.csv")
    golden = golden[golden["algorithm"] == "bradley_terry"].set_index("item")["score"]
    fit = fit_bradley_terry(battles, ties="half")
    # evalica reports strengths exp(theta) normalised to sum to one; ratings map back exactly
    scores = np.exp((fit.ratings - 1000) / K)
    scores = scores / scores.sum()
    rel = (scores / golden.loc[scores.index] - 1).abs()
    assert rel.max() < 1e-6


def test_baseball_matches_bradleyterry2_vignette(shared_data):
    battles = load_battles(shared_data / "bradleyterry2_r_datasets" / "baseball.csv", schema="aggregated",
                           model_a_col="home.team", model_b_col="away.team", wins_a_col="home.wins",
                           wins_b_col="away.wins")
    fit = fit_bradley_terry(battles)
    theta = pd.Series(fit.theta, index=fit.models)
    vignette = {"Boston": (1.1077, 0.3339), "Cleveland": (0.6839, 0.3319), "Detroit": (1.4364, 0.3396),
                "Milwaukee": (1.5814, 0.3433), "New York": (1.2476, 0.3359), "Toronto": (1.2945, 0.3367)}
    cov = fit.cov / K**2
    for team, (coef, se) in vignette.items():
        assert round(theta[team] - theta["Baltimore"], 4) == coef
        var = cov.loc[team, team] + cov.loc["Baltimore", "Baltimore"] - 2 * cov.loc[team, "Baltimore"]
        assert round(float(np.sqrt(var)), 4) == se


def test_citations_matches_bradleyterry2_vignette(shared_data):
    raw = pd.read_csv(shared_data / "bradleyterry2_r_datasets" / "citations.csv")
    raw = raw[raw["cited"] != raw["citing"]]
    agg = pd.DataFrame({"model_a": raw["cited"], "model_b": raw["citing"], "wins_a": raw["count"], "wins_b": 0})
    fit = fit_bradley_terry(load_battles(agg))
    theta = pd.Series(fit.theta, index=fit.models)
    for journal, coef in {"Comm Statist": -2.9491, "JASA": -0.4796, "JRSS-B": 0.2690}.items():
        assert round(theta[journal] - theta["Biometrika"], 4) == coef


# -------------------------------------------------------------- independent direct fits
def _expanded_logit_rows(frame: pd.DataFrame, ties: str):
    """One design row per decisive battle (half: two half-weighted rows per tie)."""
    models = sorted(set(frame.model_a) | set(frame.model_b))
    col = {m: k for k, m in enumerate(models)}
    rows, ys, ws, groups = [], [], [], []
    for g, (a, b, w) in enumerate(zip(frame.model_a, frame.model_b, frame.winner)):
        x = np.zeros(len(models))
        x[col[a]], x[col[b]] = 1.0, -1.0
        if w in ("model_a", "model_b"):
            rows.append(x), ys.append(1.0 if w == "model_a" else 0.0), ws.append(1.0), groups.append(g)
        elif ties == "half":
            rows += [x, x]
            ys += [1.0, 0.0]
            ws += [0.5, 0.5]
            groups += [g, g]
    X = np.array(rows)[:, 1:]  # first model is the reference
    return models, X, np.array(ys), np.array(ws), np.array(groups)


@pytest.mark.parametrize("ties", ["half", "drop"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fit_equals_statsmodels_glm_on_expanded_rows(ties, seed):
    frame = _random_arena(seed)
    models, X, y, w, groups = _expanded_logit_rows(frame, ties)
    glm = sm.GLM(y, X, family=sm.families.Binomial(), var_weights=w).fit(tol=1e-14)
    ref = np.concatenate([[0.0], glm.params])
    ref_elo = K * (ref - ref.mean()) + 1000
    fit = fit_bradley_terry(load_battles(frame), ties=ties)
    assert fit.grad_norm <= 1e-8
    np.testing.assert_allclose(fit.ratings.loc[models].to_numpy(), ref_elo, atol=1e-6)
    # Fisher SEs of differences to the reference model
    cov = fit.cov.loc[models, models].to_numpy() / K**2
    se_diff = np.sqrt(np.diag(cov)[1:] + cov[0, 0] - 2 * cov[0, 1:])
    np.testing.assert_allclose(se_diff, glm.bse, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:cov_type not fully supported")
@pytest.mark.parametrize("ties", ["half", "drop"])
def test_sandwich_equals_statsmodels_battle_clustered_hc0(ties):
    frame = _random_arena(5)
    models, X, y, w, groups = _expanded_logit_rows(frame, ties)
    glm = sm.GLM(y, X, family=sm.families.Binomial(), var_weights=w).fit(
        tol=1e-14, cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
    fit = fit_bradley_terry(load_battles(frame), ties=ties)
    cov = fit.cov_robust.loc[models, models].to_numpy() / K**2
    se_diff = np.sqrt(np.diag(cov)[1:] + cov[0, 0] - 2 * cov[0, 1:])
    np.testing.assert_allclose(se_diff, glm.bse, rtol=1e-6)


def _design(frame: pd.DataFrame):
    models = sorted(set(frame.model_a) | set(frame.model_b))
    col = {m: k for k, m in enumerate(models)}
    a = frame.model_a.map(col).to_numpy()
    b = frame.model_b.map(col).to_numpy()
    # 2: model_a won, 1: tie of either kind, 0: model_b won
    o = frame.winner.map({"model_a": 2, "model_b": 0, "tie": 1, "tie (bothbad)": 1}).to_numpy()
    return models, a, b, o


@pytest.mark.parametrize("seed", [4, 5])
def test_davidson_equals_statsmodels_poisson_loglinear_fit(seed):
    """Davidson is log-linear: a Poisson GLM on (pair, verdict) counts with pair effects."""
    frame = _random_arena(seed, n_models=6, n_battles=3000)
    models, a, b, o = _design(frame)
    n = len(models)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    o_lo = np.where(a > b, 2 - o, o)  # verdict seen from the lower-coded model
    # every verdict of every pair that met, zeros included (the Poisson trick needs them)
    counts = pd.DataFrame({"lo": lo, "hi": hi, "o": o_lo}).value_counts()
    counts = counts.unstack(fill_value=0).stack()
    cells = counts.rename("count").reset_index()
    pairs = {p: k for k, p in enumerate(sorted(set(zip(cells.lo, cells.hi))))}
    X = np.zeros((len(cells), len(pairs) + n + 1))
    for r, (lo, hi, v) in enumerate(zip(cells.lo, cells.hi, cells.o)):
        X[r, pairs[(lo, hi)]] = 1.0
        sign = {2: 0.5, 0: -0.5, 1: 0.0}[v]
        X[r, len(pairs) + lo] += sign
        X[r, len(pairs) + hi] -= sign
        X[r, -1] = float(v == 1)
    X = np.delete(X, len(pairs), axis=1)  # model 0 is the reference
    glm = sm.GLM(cells["count"].to_numpy(), X, family=sm.families.Poisson()).fit(tol=1e-14)
    theta = np.concatenate([[0.0], glm.params[len(pairs):len(pairs) + n - 1]])
    fit = fit_bradley_terry(load_battles(frame), ties="davidson")
    np.testing.assert_allclose(fit.ratings.loc[models].to_numpy(), K * (theta - theta.mean()) + 1000, atol=1e-6)
    assert abs(fit.log_tie - glm.params[-1]) < 1e-9


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("seed", [4, 5])
def test_rao_kupper_equals_statsmodels_ordered_logit(seed):
    """Rao-Kupper is an ordered logit (b wins < tie < a wins) with symmetric cut points.

    Adding every battle a second time with the slots swapped makes the unconstrained ordered
    logit's optimum symmetric, so statsmodels' OrderedModel fits the constrained model.
    """
    from statsmodels.miscmodels.ordinal_model import OrderedModel
    frame = _random_arena(seed, n_models=6, n_battles=3000)
    models, a, b, o = _design(frame)
    n = len(models)
    X = np.zeros((len(a), n))
    X[np.arange(len(a)), a] = 1.0
    X[np.arange(len(a)), b] = -1.0
    model = OrderedModel(np.concatenate([o, 2 - o]), np.vstack([X, -X])[:, 1:], distr="logit")
    res = model.fit(method="bfgs", disp=False, maxiter=300, gtol=1e-8)
    res = model.fit(start_params=res.params, method="newton", disp=False, tol=1e-12, maxiter=8)
    theta = np.concatenate([[0.0], res.params[: n - 1]])
    fit = fit_bradley_terry(load_battles(frame), ties="rao-kupper")
    np.testing.assert_allclose(fit.ratings.loc[models].to_numpy(), K * (theta - theta.mean()) + 1000, atol=1e-6)
    assert abs(np.log(fit.tie_param) + res.params[n - 1]) < 1e-7  # first cut point is -tau


@pytest.mark.parametrize("ties", ["davidson", "rao-kupper"])
def test_tie_model_hessian_matches_finite_differences(ties):
    """Fisher SEs come from the analytic Hessian; check it numerically at the optimum."""
    frame = _random_arena(8, n_models=4, n_battles=800)
    fit = fit_bradley_terry(load_battles(frame), ties=ties)
    from arena_stats.models.pair_problem import make_problem
    pc = aggregate(load_battles(frame))
    prob = make_problem(pc, ties)
    x = np.append(fit.theta, fit.log_tie)[None]
    _, g, h = prob.derivatives(x)
    eps = 1e-6
    num = np.zeros_like(h[0])
    for k in range(x.shape[1]):
        dx = np.zeros_like(x)
        dx[0, k] = eps
        num[:, k] = (prob.derivatives(x + dx, hessian=False)[1][0] - prob.derivatives(x - dx, hessian=False)[1][0]) / (2 * eps)
    np.testing.assert_allclose(h[0], num, atol=1e-4 * np.abs(h).max())
    # and the gradient is the finite difference of the value
    gnum = np.array([(prob.value(x + eps * np.eye(x.shape[1])[k]) - prob.value(x - eps * np.eye(x.shape[1])[k]))[0]
                     / (2 * eps) for k in range(x.shape[1])])
    np.testing.assert_allclose(g[0], gnum, atol=1e-5 * np.abs(g).max() + 1e-6)


def test_simulated_davidson_arena_recovers_planted_ratings_and_nu():
    sim = simulate_arena(6, 60_000, seed=21, bothbad_share=0.0, tie_model="davidson")
    fit = fit_bradley_terry(sim.battles, ties="davidson")
    z = (fit.ratings - sim.true_ratings.loc[fit.models]) / fit.se
    assert np.abs(z).max() < 4
    assert abs(fit.tie_param - sim.nu) < 4 * fit.tie_param_se


# ------------------------------------------------------------------------ properties
def test_predict_proba_rows_sum_to_one_for_every_convention():
    battles = simulate_arena(5, 2000, seed=9).battles
    for ties in TIES:
        fit = fit_bradley_terry(battles, ties=ties)
        p = fit.predict_proba(["model-000", "model-001"], ["model-002", "model-000"])
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
        m = fit.win_probability_matrix()
        np.testing.assert_allclose(m.to_numpy() + m.to_numpy().T, 1.0, atol=1e-12)


def test_ratings_follow_elo_scale_definition():
    fit = fit_bradley_terry(simulate_arena(4, 3000, seed=2).battles)
    r = fit.ratings
    p = fit.predict_proba(["model-000"], ["model-001"]).iloc[0]["winner_model_a"]
    assert fit.win_probability("model-000", "model-001") == pytest.approx(p, abs=1e-15)
    expected = 1 / (1 + 10 ** ((r["model-001"] - r["model-000"]) / 400))
    assert abs(p - expected) < 1e-12
    assert abs(r.mean() - 1000) < 1e-9


def test_anchor_is_a_pure_shift_of_ratings_with_the_same_covariances():
    battles = simulate_arena(5, 3000, seed=2).battles
    plain = fit_bradley_terry(battles)
    anchored = fit_bradley_terry(battles, anchor={"model-003": 1114.0})
    assert anchored.ratings["model-003"] == pytest.approx(1114.0, abs=1e-9)
    diff = anchored.ratings - plain.ratings
    assert np.ptp(diff.to_numpy()) < 1e-9
    # a shift changes no covariance: the anchored model keeps its standard error
    for got, base in ((anchored.cov, plain.cov), (anchored.cov_robust, plain.cov_robust)):
        np.testing.assert_allclose(got.to_numpy(), base.to_numpy(), rtol=1e-12, atol=1e-12)
    assert anchored.se["model-003"] == pytest.approx(plain.se["model-003"], rel=1e-12) and plain.se["model-003"] > 1
    # differences from one model are a separate question: intervals(reference=) answers it with
    # the variance of the difference, T C T' with T = I - 1 e_a' (here on the diagonal)
    a = plain.models.index("model-003")
    t = np.eye(len(plain.models))
    t[:, a] -= 1.0
    lo, hi = plain.intervals(0.95, robust=False, reference="model-003")
    se = (hi - lo).to_numpy() / (2 * 1.959963984540054)
    np.testing.assert_allclose(se, np.sqrt(np.diag(t @ plain.cov.to_numpy() @ t.T)), rtol=1e-9, atol=1e-9)
    assert se[a] == 0.0


def test_base_and_scale_change_units_not_ranking():
    battles = simulate_arena(5, 3000, seed=2).battles
    a = fit_bradley_terry(battles)
    b = fit_bradley_terry(battles, scale=1.0, base=np.e, init=0.0)
    np.testing.assert_allclose(b.ratings.to_numpy(), a.theta, atol=1e-9)


def test_weights_equal_repeated_battles():
    frame = _frame(["x", "y", "z", "x", "y"], ["y", "z", "x", "z", "x"],
                   ["model_a", "model_a", "tie", "model_b", "model_a"])
    weighted = fit_bradley_terry(load_battles(frame.assign(w=[2, 1, 3, 1, 2]), weight_col="w"))
    repeated = fit_bradley_terry(load_battles(frame.loc[frame.index.repeat([2, 1, 3, 1, 2])]))
    np.testing.assert_allclose(weighted.ratings, repeated.ratings, atol=1e-9)


# ------------------------------------------------------------------------ no MLE
def test_disconnected_graph_raises_naming_the_groups():
    frame = _frame(["a", "b", "c", "d"], ["b", "a", "d", "c"], ["model_a", "model_a", "model_a", "model_a"])
    with pytest.raises(NoMLEError, match="2 groups") as info:
        fit_bradley_terry(load_battles(frame))
    assert set(info.value.models) & {"a", "b", "c", "d"}


def test_model_that_never_loses_is_named():
    frame = _frame(["champ", "champ", "x", "y"], ["x", "y", "y", "x"],
                   ["model_a", "model_a", "model_a", "model_a"])
    with pytest.raises(NoMLEError, match="champ.*never lost"):
        fit_bradley_terry(load_battles(frame))


def test_model_that_never_wins_is_named():
    frame = _frame(["x", "y", "x", "y"], ["loser", "loser", "y", "x"],
                   ["model_a", "model_a", "model_a", "model_a"])
    with pytest.raises(NoMLEError, match="loser.*never won"):
        fit_bradley_terry(load_battles(frame))


def test_prior_fits_and_warns_when_mle_does_not_exist():
    frame = _frame(["champ", "champ", "x", "y"], ["x", "y", "y", "x"],
                   ["model_a", "model_a", "model_a", "model_a"])
    with pytest.warns(UserWarning, match="would not exist"):
        fit = fit_bradley_terry(load_battles(frame), l2=0.1)
    assert fit.ratings.idxmax() == "champ" and np.isfinite(fit.ratings).all()


def test_davidson_without_ties_is_an_error():
    frame = _frame(["x", "y", "x"], ["y", "x", "y"], ["model_a", "model_a", "model_b"])
    with pytest.raises(NoMLEError, match="at least one tie"):
        fit_bradley_terry(load_battles(frame), ties="davidson")


def test_l2_objective_is_maximised():
    battles = simulate_arena(5, 500, seed=1).battles
    fit = fit_bradley_terry(battles, l2=2.0)
    pc = aggregate(battles)
    from arena_stats.models.pair_problem import make_problem
    prob = make_problem(pc, "half", 2.0)
    best = prob.value(fit.theta[None])[0]
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert prob.value((fit.theta + 1e-3 * rng.normal(size=fit.theta.size))[None])[0] <= best


def test_bothbad_counts_as_a_tie_by_default():
    f1 = _frame(["x", "y", "x", "y"], ["y", "x", "y", "x"], ["model_a", "model_a", "tie", "model_b"])
    f2 = f1.assign(winner=["model_a", "model_a", "tie (bothbad)", "model_b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r1 = fit_bradley_terry(load_battles(f1)).ratings
        r2 = fit_bradley_terry(load_battles(f2)).ratings
    np.testing.assert_allclose(r1, r2, atol=1e-12)
    assert (A_WINS, B_WINS, TIE, BOTHBAD) == (0, 1, 2, 3)


def test_summary_and_frame_are_readable():
    fit = fit_bradley_terry(simulate_arena(5, 2000, seed=1).battles, ties="davidson")
    text = fit.summary()
    assert "Bradley-Terry" in text and "tie parameter nu" in text
    frame = fit.to_frame()
    assert list(frame.columns) == ["model", "rating", "se", "se_robust", "theta"]
    assert frame["rating"].is_monotonic_decreasing


@pytest.mark.filterwarnings("ignore:cov_type not fully supported")
def test_cluster_robust_sandwich_equals_statsmodels_cluster_covariance():
    from arena_stats.models.bradley_terry import cluster_robust_cov
    frame = _random_arena(6).assign(voter=lambda f: np.arange(len(f)) % 37)
    models, X, y, w, groups = _expanded_logit_rows(frame, "half")
    glm = sm.GLM(y, X, family=sm.families.Binomial(), var_weights=w).fit(
        tol=1e-14, cov_type="cluster", cov_kwds={"groups": frame.voter.to_numpy()[groups], "use_correction": False})
    battles = load_battles(frame)
    fit = fit_bradley_terry(battles)
    cov = cluster_robust_cov(fit, battles, "voter").loc[models, models].to_numpy() / K**2
    se_diff = np.sqrt(np.diag(cov)[1:] + cov[0, 0] - 2 * cov[0, 1:])
    np.testing.assert_allclose(se_diff, glm.bse, rtol=1e-6)
    # one battle per cluster is the ordinary sandwich
    single = cluster_robust_cov(fit, load_battles(frame.assign(voter=np.arange(len(frame)))), "voter")
    np.testing.assert_allclose(single.to_numpy(), fit.cov_robust.to_numpy(), atol=1e-8)


def test_quick_strong_connectivity_check_agrees_with_csgraph():
    """The breadth-first check that spares importing csgraph gives csgraph's verdict."""
    from scipy.sparse import random as sparse_random
    from scipy.sparse.csgraph import connected_components

    from arena_stats.models.existence import _strongly_connected
    rng = np.random.default_rng(0)
    verdicts = set()
    for _trial in range(300):
        n = int(rng.integers(1, 40))
        density = float(rng.uniform(0.0, 0.3))
        g = sparse_random(n, n, density=density, random_state=int(rng.integers(2**31)), format="csr")
        expected = connected_components(g, directed=True, connection="strong")[0] == 1
        assert _strongly_connected(g) == expected, (n, density)
        verdicts.add(expected)
    assert verdicts == {True, False}


@pytest.mark.parametrize("ties", ["half", "drop", "davidson", "rao-kupper"])
def test_predict_proba_is_an_exact_mirror_image_when_the_contestants_swap(small_arena, ties):
    fit = fit_bradley_terry(small_arena.battles, ties=ties)
    names = np.array(fit.models, dtype=object)
    a, b = np.meshgrid(np.arange(len(names)), np.arange(len(names)), indexing="ij")
    a, b = names[a.ravel()], names[b.ravel()]
    p, q = fit.predict_proba(a, b).to_numpy(), fit.predict_proba(b, a).to_numpy()
    assert (p[:, 0] == q[:, 1]).all() and (p[:, 1] == q[:, 0]).all() and (p[:, 2] == q[:, 2]).all()
    assert np.allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    assert (p >= 0).all()
    if ties in ("half", "drop"):
        assert (p[:, 2] == 0).all()
    else:
        assert (p[:, 2] > 0).all()
    same = a == b
    assert (p[same, 0] == p[same, 1]).all()


@pytest.mark.parametrize("ties", ["davidson", "rao-kupper"])
def test_strength_form_tie_scores_equal_the_logistic_form(ties):
    """The bootstrap's per-model-exponential scores agree with local_terms' per-pair ones."""
    from arena_stats.models.families import local_terms, strength_scores
    rng = np.random.default_rng(0)
    n, pairs, rounds = 20, 150, 4
    i = rng.integers(0, n, pairs)
    j = (i + 1 + rng.integers(0, n - 1, pairs)) % n
    theta = rng.normal(0, 2, (rounds, n))
    lam = np.abs(rng.normal(0, 0.5, (rounds, 1))) + 0.1
    wi, wj, wt = (rng.integers(0, 30, (rounds, pairs)).astype(float) for _ in range(3))
    _, g_d, g_l, *_ = local_terms(theta[:, i] - theta[:, j], lam, wi, wj, wt, ties, loglik=False)
    got_d, got_l = strength_scores(theta, lam, wi, wj, wt, i, j, ties)
    np.testing.assert_allclose(got_d, g_d, rtol=1e-11, atol=1e-11 * np.abs(g_d).max())
    np.testing.assert_allclose(got_l, g_l, rtol=1e-11, atol=1e-11 * np.abs(g_l).max())
