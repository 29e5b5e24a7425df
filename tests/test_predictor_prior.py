"""The BT prior: agreement with the core fit, out-of-fold leakage, unknown models, folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arena_stats.data.simulate import simulate_arena
from arena_stats.models.bradley_terry import fit_bradley_terry
from arena_stats.predictor.prior import PRIOR_COLUMNS, BTPrior, fit_prior, grouped_folds, out_of_fold_prior, row_groups
from arena_stats.predictor.simulate import simulate_preferences

WINNER = np.array(["model_a", "model_b", "tie"], dtype=object)


def _rows(n: int = 600, n_models: int = 6, seed: int = 0):
    df = simulate_preferences(n_rows=n, n_models=n_models, seed=seed)
    labels = df[["winner_model_a", "winner_model_b", "winner_tie"]].to_numpy().argmax(axis=1)
    return df["model_a"].to_numpy(), df["model_b"].to_numpy(), labels, df


@pytest.mark.parametrize("ties", ["davidson", "rao-kupper"])
def test_prior_probabilities_equal_the_core_bt_fit(ties):
    a, b, y, _ = _rows()
    prior = fit_prior(a, b, y, ties=ties, l2=0.5)
    core = fit_bradley_terry(pd.DataFrame({"model_a": a, "model_b": b, "winner": WINNER[y]}), ties=ties, l2=0.5)
    f = prior.features(a[:50], b[:50])
    np.testing.assert_allclose(f[["prior_a", "prior_b", "prior_tie"]].to_numpy(), core.predict_proba(a[:50], b[:50]),
                               rtol=0, atol=1e-12)
    # the uncertainty of d is the core fit's covariance, converted to the natural scale
    k = 400 / np.log(10)
    ia, ib = core.models.index(a[0]), core.models.index(b[0])
    c = core.cov.to_numpy() / k ** 2
    assert f["prior_se"][0] == pytest.approx(np.sqrt(c[ia, ia] + c[ib, ib] - 2 * c[ia, ib]), rel=1e-10)


def test_changing_a_rows_label_leaves_its_own_prior_unchanged():
    a, b, y, df = _rows(n=900)
    groups = row_groups(df)
    base = out_of_fold_prior(a, b, y, groups, n_folds=5, seed=3)
    changed_any_other = False
    for row in (0, 17, 450, 899):
        y2 = y.copy()
        y2[row] = (y[row] + 1) % 3
        after = out_of_fold_prior(a, b, y2, groups, n_folds=5, seed=3)
        np.testing.assert_array_equal(after.iloc[row].to_numpy(), base.iloc[row].to_numpy())
        changed_any_other |= not np.array_equal(after.to_numpy(), base.to_numpy())
    # the label does inform other rows' priors, so the test above is not vacuous
    assert changed_any_other
    # ... and an in-sample prior would have moved with the row's own label
    full = fit_prior(a, b, y).features(a[:1], b[:1])
    y3 = y.copy()
    y3[0] = (y[0] + 1) % 3
    assert not np.array_equal(fit_prior(a, b, y3).features(a[:1], b[:1]).to_numpy(), full.to_numpy())


def test_whole_prompts_stay_in_one_fold():
    _, _, _, df = _rows(n=300)
    g = row_groups(df)
    folds = grouped_folds(g, 4, seed=1)
    for grp in np.unique(g):
        assert len(np.unique(folds[g == grp])) == 1
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 3  # groups of 3 rows, placed largest-first into the smallest fold
    assert np.array_equal(folds, grouped_folds(g, 4, seed=1))
    assert not np.array_equal(folds, grouped_folds(g, 4, seed=2))


def test_unknown_models_fall_back_to_the_population_with_an_indicator():
    a, b, y, _ = _rows()
    prior = fit_prior(a, b, y)
    f = prior.features(np.array(["model-000", "nobody", None, "model-001"], dtype=object),
                       np.array(["nobody", None, "nobody-else", "model-002"], dtype=object))
    assert f["prior_unknown"].tolist() == [1.0, 2.0, 2.0, 0.0]
    # both unknown: two average models, P(a) = P(b), the tie rate at equal strengths
    assert f["prior_a"][1] == f["prior_b"][1] == f["prior_a"][2]
    nu = np.exp(prior.log_tie)
    assert f["prior_tie"][1] == pytest.approx(nu / (2 + nu))
    # one unknown: the known model against a model of strength zero, with the population's spread
    k = prior.models.index("model-000")
    assert f["prior_logit"][0] == pytest.approx(prior.theta[k])
    assert f["prior_se"][1] == pytest.approx(np.sqrt(2 * prior.unknown_var))


def test_extra_battles_inform_the_prior():
    sim = simulate_arena(n_models=6, n_battles=3000, seed=4)
    a, b, y, _ = _rows(n=60)
    names = {f"model-{k:03d}": f"model-{k:03d}" for k in range(6)}
    without = fit_prior(a, b, y)
    with_extra = fit_prior(a, b, y, extra=sim.battles)
    assert set(with_extra.models) == set(names)
    assert with_extra.settings["n_battles"] == pytest.approx(len(a) + 3000)
    assert not np.allclose(without.theta, with_extra.theta)


def test_swapping_the_models_swaps_the_prior_exactly():
    a, b, y, _ = _rows()
    for ties in ("davidson", "rao-kupper"):
        prior = fit_prior(a, b, y, ties=ties)
        f, s = prior.features(a, b), prior.features(b, a)
        assert np.array_equal(f["prior_a"], s["prior_b"]) and np.array_equal(f["prior_tie"], s["prior_tie"])
        assert np.array_equal(f["prior_logit"], -s["prior_logit"])
        assert np.array_equal(f["prior_se"], s["prior_se"])


def test_prior_round_trips_through_a_dict_exactly():
    a, b, y, _ = _rows()
    prior = fit_prior(a, b, y)
    back = BTPrior.from_dict(prior.to_dict())
    pd.testing.assert_frame_equal(back.features(a, b), prior.features(a, b), check_exact=True)


def test_no_usable_battles_give_an_empty_population_prior():
    y = np.array([0, 2, 1, 2])
    prior = fit_prior(np.array([None] * 4, dtype=object), np.array([None] * 4, dtype=object), y)
    f = prior.features(["x"], ["y"])
    assert prior.models == [] and f["prior_tie"][0] == pytest.approx(0.5)
    assert list(f.columns) == list(PRIOR_COLUMNS)
