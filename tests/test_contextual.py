"""The contextual BT fit against statsmodels, a published fit and direct scipy maximisation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize
from statsmodels.tools.numdiff import approx_hess

from arena_stats import InputError, NoMLEError, fit_bradley_terry, load_battles
from arena_stats.boards.leaderboard import LEADERBOARD_COLUMNS, contextual_leaderboard, leaderboard
from arena_stats.data.battles import A_WINS, B_WINS, Battles
from arena_stats.data.simulate import simulate_arena
from arena_stats.inference.contextual_bootstrap import bootstrap_contextual
from arena_stats.models.bradley_terry import TIES
from arena_stats.models.contextual import POSITION, build_design, fit_contextual

K = 400 / np.log(10)


def _with_covariates(seed: int, n_models: int = 6, n_battles: int = 3000) -> Battles:
    """A simulated arena plus one continuous and one discrete covariate (both 'a minus b')."""
    b = simulate_arena(n_models, n_battles, seed=seed).battles
    rng = np.random.default_rng(seed + 100)
    return Battles(b.frame.assign(length=rng.normal(size=len(b)), headers=rng.integers(-2, 3, len(b)) * 1.0))


def _expanded(b: Battles, cols: list[str], position: bool) -> tuple[np.ndarray, np.ndarray]:
    """Design matrix with model 0 as reference (columns models 1.., covariates) and y (tie = 0.5)."""
    n, rows = b.n_models, np.arange(len(b))
    d = np.zeros((len(b), n))
    d[rows, b.a] = 1.0
    d[rows, b.b] = -1.0
    parts = [d[:, 1:]] + [b.frame[c].to_numpy(float)[:, None] for c in cols]
    if position:
        parts.append(np.ones((len(b), 1)))
    y = np.where(b.outcome == A_WINS, 1.0, np.where(b.outcome == B_WINS, 0.0, 0.5))
    return np.hstack(parts), y


def _assert_equals_statsmodels(fit, plain, robust) -> None:
    """Coefficients, model-based and HC0 standard errors agree to 1e-6."""
    coef, se = _reference_coded(fit, fit.cov_params)
    _, se_r = _reference_coded(fit, fit.cov_params_robust)
    assert np.abs(coef - plain.params).max() < 1e-6
    assert np.abs(se - plain.bse).max() < 1e-6
    assert np.abs(se_r - robust.bse).max() < 1e-6


def _glm(x: np.ndarray, y: np.ndarray, **kwargs):
    model = sm.GLM(y, x, family=sm.families.Binomial(), **kwargs)
    return model.fit(tol=1e-13), model.fit(cov_type="HC0", tol=1e-13)


def _reference_coded(fit, cov: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Our estimates and standard errors mapped to model-0-reference coding."""
    n, p = len(fit.models), len(fit.beta)
    lin = np.zeros((n - 1 + p, n + p))
    for k in range(1, n):
        lin[k - 1, k], lin[k - 1, 0] = 1.0, -1.0
    lin[n - 1:, n:n + p] = np.eye(p)
    full = fit.params.to_numpy()[: n + p]
    c = cov.to_numpy()[: n + p, : n + p]
    return lin @ full, np.sqrt(np.diag(lin @ c @ lin.T))


@pytest.mark.parametrize("seed", [1, 2])
def test_half_ties_fit_equals_statsmodels_glm_in_coefficients_and_both_standard_errors(seed):
    b = _with_covariates(seed)
    fit = fit_contextual(b, ["length", "headers"], position=True, tol=1e-12)
    x, y = _expanded(b, ["length", "headers"], position=True)
    _assert_equals_statsmodels(fit, *_glm(x, y))


def test_drop_ties_fit_equals_statsmodels_logit_with_hc0():
    b = _with_covariates(3)
    fit = fit_contextual(b, ["length"], ties="drop", position=True, tol=1e-12)
    x, y = _expanded(b, ["length"], position=True)
    keep = np.isin(b.outcome, [A_WINS, B_WINS])
    logit = sm.Logit(y[keep], x[keep])
    _assert_equals_statsmodels(fit, logit.fit(disp=0, tol=1e-12), logit.fit(disp=0, cov_type="HC0", tol=1e-12))


def test_weighted_fit_equals_statsmodels_glm_with_variance_weights():
    b = _with_covariates(4)
    w = np.random.default_rng(0).uniform(0.2, 3.0, len(b))
    bw = Battles(b.frame.assign(weight=w))
    fit = fit_contextual(bw, ["length"], tol=1e-12)
    x, y = _expanded(b, ["length"], position=False)
    _assert_equals_statsmodels(fit, *_glm(x, y, var_weights=w))


def test_cells_and_rows_give_the_same_fit_and_standard_errors():
    b = _with_covariates(5, n_battles=4000)
    cells = fit_contextual(b, ["headers"], ties="davidson", position=True, reduce=True, tol=1e-12)
    rows = fit_contextual(b, ["headers"], ties="davidson", position=True, reduce=False, tol=1e-12)
    assert cells.n_units < rows.n_units == len(b)
    for attr in ("params", "se", "se_robust", "beta_se_robust"):
        assert np.abs(getattr(cells, attr) - getattr(rows, attr)).max() < 1e-8
    assert abs(cells.loglik - rows.loglik) < 1e-7


@pytest.mark.parametrize("ties", TIES)
def test_without_covariates_the_fit_equals_the_plain_fit(ties):
    b = simulate_arena(7, 4000, seed=6).battles
    ours, plain = fit_contextual(b, ties=ties), fit_bradley_terry(b, ties=ties)
    assert np.abs(ours.ratings - plain.ratings).max() < 1e-6
    assert np.abs(ours.se - plain.se).max() < 1e-6
    assert np.abs(ours.se_robust - plain.se_robust).max() < 1e-6
    assert abs(ours.loglik - plain.loglik) < 1e-6
    assert ours.tie_param == pytest.approx(plain.tie_param, abs=1e-8) if plain.tie_param else ours.tie_param is None


def test_baseball_home_advantage_matches_the_bradleyterry2_vignette(shared_data):
    battles = load_battles(shared_data / "bradleyterry2_r_datasets" / "baseball.csv", schema="aggregated",
                           model_a_col="home.team", model_b_col="away.team", wins_a_col="home.wins",
                           wins_b_col="away.wins")
    fit = fit_contextual(battles, position=True)
    assert round(float(fit.beta[POSITION]), 4) == 0.3023
    assert round(float(fit.beta_se[POSITION]), 4) == 0.1309
    # summary(baseballModel2) of the vignette: team coefficients (Baltimore = 0) and standard errors
    vignette = {"Boston": (1.1438, 0.3378), "Cleveland": (0.7047, 0.3350), "Detroit": (1.4754, 0.3446),
                "Milwaukee": (1.6196, 0.3474), "New York": (1.2813, 0.3404), "Toronto": (1.3271, 0.3403)}
    theta, cov = fit.params, fit.cov_params
    for team, (coef, se) in vignette.items():
        assert round(float(theta[team] - theta["Baltimore"]), 4) == coef
        var = cov.loc[team, team] + cov.loc["Baltimore", "Baltimore"] - 2 * cov.loc[team, "Baltimore"]
        assert round(float(np.sqrt(var)), 4) == se


def _icehockey(shared_data) -> Battles:
    raw = pd.read_csv(shared_data / "bradleyterry2_r_datasets" / "icehockey.csv")
    # home.ice is the opponent's (slot b's) home ice, so "a minus b" is -home.ice
    raw = raw.assign(winner=raw["result"].map({1.0: "model_a", 0.0: "model_b", 0.5: "tie"}),
                     home=-raw["home.ice"].astype(float))
    return load_battles(raw, model_a_col="visitor", model_b_col="opponent", outcome_col="winner")


def test_icehockey_home_ice_with_half_ties_equals_statsmodels_glm(shared_data):
    b = _icehockey(shared_data)
    fit = fit_contextual(b, ["home"], tol=1e-12)
    x, y = _expanded(b, ["home"], position=False)
    _assert_equals_statsmodels(fit, *_glm(x, y))
    assert fit.beta["home"] > 0  # home ice helps


def _direct_negloglik(ties: str, b: Battles, cols: list[str], l2: float = 0.0):
    """The likelihood written out from the model's definition, on free parameters (model 0 = 0)."""
    n = b.n_models
    x = np.column_stack([b.frame[c].to_numpy(float) for c in cols])
    o, a, bb = b.outcome, b.a, b.b

    def nll(v: np.ndarray) -> float:
        theta = np.concatenate([[0.0], v[: n - 1]])
        beta, lam = v[n - 1:n - 1 + x.shape[1]], v[-1]
        eta = theta[a] - theta[bb] + x @ beta
        if ties == "davidson":
            z = np.exp(eta / 2) + np.exp(-eta / 2) + np.exp(lam)
            p = np.where(o == A_WINS, np.exp(eta / 2), np.where(o == B_WINS, np.exp(-eta / 2), np.exp(lam))) / z
        else:  # rao-kupper: P(a) = sigmoid(eta - tau), P(b) = sigmoid(-eta - tau)
            pa, pb = 1 / (1 + np.exp(-(eta - lam))), 1 / (1 + np.exp(eta + lam))
            p = np.where(o == A_WINS, pa, np.where(o == B_WINS, pb, 1 - pa - pb))
        return -np.log(p).sum() + 0.5 * l2 * beta @ beta

    return nll


@pytest.mark.parametrize("ties", ["davidson", "rao-kupper"])
def test_tie_models_with_covariates_equal_direct_maximisation_and_numerical_hessian(ties):
    b = _with_covariates(7, n_models=5, n_battles=2500)
    cols = ["length", "headers"]
    fit = fit_contextual(b, cols, ties=ties, tol=1e-12)
    nll = _direct_negloglik(ties, b, cols)
    n = b.n_models
    start = np.concatenate([np.zeros(n - 1 + len(cols)), [0.5]])
    best = optimize.minimize(nll, start, method="BFGS", options={"gtol": 1e-9})
    theta = fit.params.to_numpy()[:n]
    ours = np.concatenate([theta[1:] - theta[0], fit.beta.to_numpy(), [fit.params.iloc[-1]]])
    assert np.abs(ours - best.x).max() < 1e-5
    assert fit.loglik == pytest.approx(-best.fun, abs=1e-6)
    cov = np.linalg.inv(approx_hess(ours, nll))
    se_num = np.sqrt(np.diag(cov))
    n_b = len(cols)
    assert np.allclose(fit.beta_se.to_numpy(), se_num[n - 1:n - 1 + n_b], rtol=1e-4)


def test_l2_penalty_on_beta_is_maximised():
    b = _with_covariates(8, n_models=4, n_battles=600)
    fit = fit_contextual(b, ["length", "headers"], ties="davidson", covariate_l2=25.0, tol=1e-12)
    nll = _direct_negloglik("davidson", b, ["length", "headers"], l2=25.0)
    best = optimize.minimize(nll, np.concatenate([np.zeros(5), [0.0]]), method="BFGS", options={"gtol": 1e-9})
    n = b.n_models
    assert np.abs(fit.beta.to_numpy() - best.x[n - 1:n + 1]).max() < 1e-5
    unpenalised = fit_contextual(b, ["length", "headers"], ties="davidson")
    assert np.abs(fit.beta).sum() < np.abs(unpenalised.beta).sum()
    # l2= of the contextual fit penalised the coefficients until 0.2: it still does, with a warning
    with pytest.warns(DeprecationWarning, match="covariate_l2"):
        old = fit_contextual(b, ["length", "headers"], ties="davidson", l2=25.0, tol=1e-12)
    np.testing.assert_allclose(old.beta.to_numpy(), fit.beta.to_numpy(), atol=1e-10)


def test_l2_penalty_on_strengths_equals_the_plain_prior_fit_without_covariates():
    b = _with_covariates(9, n_models=5, n_battles=800)
    for ties in TIES:
        ctx = fit_contextual(b, [], ties, l2=0.7, covariate_l2=0.0)
        plain = fit_bradley_terry(b, ties, l2=0.7)
        np.testing.assert_allclose(ctx.ratings.to_numpy(), plain.ratings.to_numpy(), atol=1e-8)
        np.testing.assert_allclose(ctx.se.to_numpy(), plain.se.to_numpy(), rtol=1e-8)


def test_bootstrap_is_reproducible_bit_for_bit_whatever_the_threads():
    b = _with_covariates(9, n_models=5, n_battles=2000)
    one = bootstrap_contextual(b, ["length"], rounds=60, seed=11, threads=1)
    two = bootstrap_contextual(b, ["length"], rounds=60, seed=11, threads=2)
    other = bootstrap_contextual(b, ["length"], rounds=60, seed=12, threads=1)
    assert one.samples.equals(two.samples) and one.beta.equals(two.beta)
    assert not one.samples.equals(other.samples)
    assert one.n_degenerate == 0


def test_bootstrap_sd_agrees_with_the_sandwich_standard_errors():
    b = _with_covariates(10, n_models=5, n_battles=5000)
    boot = bootstrap_contextual(b, ["length"], position=True, rounds=300, seed=1)
    sd = boot.samples.std(ddof=1)
    ratio = sd / boot.point.se_robust
    assert ratio.between(0.8, 1.25).all()
    beta_ratio = boot.beta.std(ddof=1) / boot.point.beta_se_robust
    assert beta_ratio.between(0.8, 1.25).all()


def test_bootstrap_counts_resamples_without_a_finite_mle_and_keeps_them():
    b = simulate_arena(4, 800, seed=3).battles
    rare = pd.DataFrame({"model_a": ["newbie"] * 4, "model_b": ["model-000", "model-001", "model-002", "model-003"],
                         "winner": ["model_a", "model_a", "tie", "model_a"]})
    frame = pd.concat([b.to_frame(), rare], ignore_index=True)
    boot = bootstrap_contextual(frame, rounds=100, seed=4)
    # "newbie" never lost: whenever its one tie is not drawn, it has no finite MLE
    assert 5 < boot.n_degenerate < 60
    assert boot.samples["newbie"].notna().mean() > 0.9
    assert boot.ci_upper["newbie"] - boot.point.ratings["newbie"] > 500


def test_cluster_bootstrap_widens_intervals_when_votes_are_duplicated_within_clusters():
    b = simulate_arena(5, 1500, seed=12).battles
    # every vote cast four times by the same voter: the battle bootstrap sees 4x the data
    frame = pd.concat([b.frame.assign(voter=np.arange(len(b)))] * 4, ignore_index=True)
    dup = Battles(frame)
    battle = bootstrap_contextual(dup, position=True, rounds=200, seed=2)
    clustered = bootstrap_contextual(dup, position=True, rounds=200, seed=2, cluster="voter")
    widen = (clustered.samples.std() / battle.samples.std()).median()
    assert 1.6 < widen < 2.5  # sqrt(4) = 2


def test_leaderboard_has_the_core_columns_for_every_interval_method():
    b = _with_covariates(13, n_models=5, n_battles=2000)
    for ci in ("sandwich", "fisher", "none"):
        board = leaderboard(b, covariates=["length"], ci=ci).to_frame()
        assert list(board.columns) == LEADERBOARD_COLUMNS
        assert board["rating"].is_monotonic_decreasing
    result = leaderboard(b, covariates=["length"], ci="bootstrap", rounds=40, seed=0)
    board = result.to_frame()
    assert list(board.columns) == LEADERBOARD_COLUMNS + ["p_top"]
    assert result.bootstrap.beta.shape == (40, 1)
    with pytest.warns(DeprecationWarning, match="contextual_leaderboard"):
        old, boot = contextual_leaderboard(b, ["length"], ci="bootstrap", rounds=40, seed=0)
    pd.testing.assert_frame_equal(old, board)
    assert (board["ci_lower"] <= board["rating"]).all() and (board["rating"] <= board["ci_upper"]).all()
    assert board["battles"].sum() == 2 * len(b)


def test_position_covariate_recovers_a_planted_first_slot_advantage():
    rng = np.random.default_rng(14)
    n, m = 6, 30000
    theta = rng.normal(0, 0.5, n)
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = a != b
    a, b = a[keep], b[keep]
    p = 1 / (1 + np.exp(-(theta[a] - theta[b] + 0.25)))
    win = rng.random(len(a)) < p
    df = pd.DataFrame({"model_a": [f"m{k}" for k in a], "model_b": [f"m{k}" for k in b],
                       "winner": np.where(win, "model_a", "model_b")})
    fit = fit_contextual(df, position=True)
    lo, hi = fit.coef_table().loc[POSITION, ["ci_lower", "ci_upper"]]
    assert lo < 0.25 < hi


def test_missing_or_bad_covariates_name_the_column_and_row():
    b = simulate_arena(4, 200, seed=1).battles
    with pytest.raises(InputError, match="length"):
        fit_contextual(b, ["length"])
    bad = Battles(b.frame.assign(length=np.where(np.arange(len(b)) == 7, np.nan, 1.0)))
    with pytest.raises(InputError, match="row 8"):
        fit_contextual(bad, ["length"])


def test_disconnected_battles_raise_no_mle_error():
    df = pd.DataFrame({"model_a": ["a", "b", "c", "d"], "model_b": ["b", "a", "d", "c"],
                       "winner": ["model_a", "model_a", "model_a", "model_a"], "x": [1.0, -1.0, 0.5, 0.2]})
    with pytest.raises(NoMLEError):
        fit_contextual(df, ["x"])


def test_design_reduces_discrete_covariates_to_cells_sorted_by_pair():
    b = _with_covariates(15)
    d = build_design(b, ["headers"], position=True)
    assert d.reduced and d.n_units < len(b) and d.n_battles == len(b)
    assert (np.diff(d.pair) >= 0).all() and (d.a < d.b).all()
    continuous = build_design(b, ["length"])
    assert not continuous.reduced and (np.diff(continuous.pair) >= 0).all()


def test_predictions_use_the_covariates_and_sum_to_one():
    b = _with_covariates(16)
    for ties in TIES:
        fit = fit_contextual(b, ["length"], ties=ties)
        p0 = fit.predict_proba(["model-000"], ["model-001"])
        p1 = fit.predict_proba(["model-000"], ["model-001"], [[2.0]])
        assert np.allclose(p0.sum(axis=1), 1) and np.allclose(p1.sum(axis=1), 1)
        assert (p1.iloc[0, 0] > p0.iloc[0, 0]) == (fit.beta["length"] > 0)
        assert "length" in fit.summary()


# ------------------------------------------------------------- real data, independent fits
def _team_design(home, away, teams):
    """Team indicators home minus away (the first team is the reference) and an intercept."""
    idx = {t: k for k, t in enumerate(teams)}
    x = np.zeros((len(home), len(teams)))
    x[np.arange(len(home)), [idx[t] for t in home]] += 1.0
    x[np.arange(len(home)), [idx[t] for t in away]] -= 1.0
    return np.column_stack([x[:, 1:], np.ones(len(home))])


def test_home_advantage_fit_equals_statsmodels_glm_and_the_published_fit_on_baseball(shared_data):
    """BradleyTerry2's baseball data (1987 AL East): ratings to 1e-6 Elo of a statsmodels GLM,
    and the vignette's printed estimates (Agresti 2002, p. 438)."""
    raw = pd.read_csv(shared_data / "bradleyterry2_r_datasets" / "baseball.csv")
    battles = load_battles(raw, schema="aggregated", model_a_col="home.team", model_b_col="away.team",
                           wins_a_col="home.wins", wins_b_col="away.wins")
    fit = fit_contextual(battles, position=True)
    teams = sorted(set(raw["home.team"]) | set(raw["away.team"]))
    glm = sm.GLM(raw[["home.wins", "away.wins"]].to_numpy(float), _team_design(raw["home.team"], raw["away.team"], teams),
                 family=sm.families.Binomial()).fit(tol=1e-14)
    theta = np.concatenate([[0.0], glm.params[:-1]])
    k = 400 / np.log(10)
    np.testing.assert_allclose(fit.ratings.loc[teams].to_numpy(), 1000 + k * (theta - theta.mean()), rtol=0,
                               atol=1e-6)
    assert fit.beta[POSITION] == pytest.approx(glm.params[-1], abs=1e-9)
    assert fit.beta_se[POSITION] == pytest.approx(glm.bse[-1], rel=1e-6)
    published = {"Boston": 1.1438, "Cleveland": 0.7047, "Detroit": 1.4754, "Milwaukee": 1.6196,
                 "New York": 1.2813, "Toronto": 1.3271}
    base = fit.theta[fit.models.index("Baltimore")]
    for team, value in published.items():
        assert fit.theta[fit.models.index(team)] - base == pytest.approx(value, abs=6e-5)
    assert fit.beta[POSITION] == pytest.approx(0.3023, abs=6e-5)
    assert fit.beta_se[POSITION] == pytest.approx(0.1309, abs=6e-5)


def test_home_advantage_with_draws_equals_a_fractional_logit_on_football(shared_data):
    """Five Premier League seasons with draws as half a win (ties="half"): the same optimum as a
    binomial GLM on 1 / 0.5 / 0 responses, to 1e-6 Elo, with the sandwich errors of that GLM."""
    raw = pd.read_csv(shared_data / "bradleyterry2_r_datasets" / "football.csv")
    winner = raw["result"].map({1.0: "model_a", 0.0: "tie", -1.0: "model_b"})
    battles = load_battles(pd.DataFrame({"model_a": raw["home"], "model_b": raw["away"], "winner": winner}))
    fit = fit_contextual(battles, position=True, ties="half")
    teams = fit.models
    y = raw["result"].map({1.0: 1.0, 0.0: 0.5, -1.0: 0.0}).to_numpy()
    glm = sm.GLM(y, _team_design(raw["home"], raw["away"], teams), family=sm.families.Binomial()).fit(
        tol=1e-14, cov_type="HC0")
    theta = np.concatenate([[0.0], glm.params[:-1]])
    k = 400 / np.log(10)
    np.testing.assert_allclose(fit.ratings.loc[teams].to_numpy(), 1000 + k * (theta - theta.mean()), rtol=0,
                               atol=1e-6)
    assert fit.beta[POSITION] == pytest.approx(glm.params[-1], abs=1e-9)
    assert fit.beta_se_robust[POSITION] == pytest.approx(glm.bse[-1], rel=1e-6)


@pytest.mark.parametrize("ties", ["half", "davidson"])
def test_one_heavy_decisive_battle_fits_exactly_whatever_the_scale_of_the_weights(ties):
    """A decisive battle weighted 1e12 saturates its pair; the gradient must not cancel there,
    or Newton never gets below 1e-4 and either fails or stops off the optimum."""
    b = _with_covariates(6)
    w = np.ones(len(b))
    w[int(np.flatnonzero(np.isin(b.outcome, [0, 1]))[0])] = 1e12
    fits = [fit_contextual(Battles(b.frame.assign(weight=w * c)), ["length"], ties=ties) for c in (1.0, 1e-3)]
    np.testing.assert_allclose(fits[0].ratings, fits[1].ratings, atol=1e-6)
    np.testing.assert_allclose(fits[0].beta, fits[1].beta, atol=1e-9)
