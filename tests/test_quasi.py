"""Quasi-variances: their definition checked by a direct least-squares fit, exact cases, the
published BradleyTerry2 figure, and independence from the parametrisation."""

from __future__ import annotations

import base64
import gzip
import io
import re

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import least_squares

from arena_stats import fit_bradley_terry, leaderboard, load_battles
from arena_stats.data.simulate import simulate_arena
from arena_stats.errors import InputError
from arena_stats.inference.quasi import quasi_from_cov, quasi_variances
from arena_stats.inference.simultaneous import pair_index
from arena_stats.models.contextual import fit_contextual


def _direct(cov: np.ndarray) -> np.ndarray:
    """The definition, minimised by scipy: sum over pairs of (log v_ab - log(q_a + q_b))^2."""
    n = cov.shape[0]
    a, b = pair_index(n)
    d = np.diag(cov)
    y = np.log(d[a] + d[b] - 2 * cov[a, b])
    res = least_squares(lambda q: np.log(np.clip(q[a] + q[b], 1e-300, None)) - y, np.full(n, np.exp(y).mean() / 2),
                        xtol=1e-15, ftol=1e-15, gtol=1e-15)
    return res.x


def test_quasi_variances_minimise_their_definition_like_a_direct_scipy_fit():
    fit = fit_bradley_terry(simulate_arena(12, 6000, seed=3).battles)
    for cov in (fit.cov_params.to_numpy(), fit.cov_params_robust.to_numpy()):
        np.testing.assert_allclose(quasi_from_cov(cov), _direct(cov), rtol=1e-6)


def test_quasi_variances_are_exact_when_the_covariance_is_independent_plus_a_reference_shift():
    rng = np.random.default_rng(1)
    q = rng.uniform(0.5, 3.0, 7)
    a = rng.normal(0, 0.3, 7)
    cov = np.diag(q) + a[:, None] + a[None, :]
    np.testing.assert_allclose(quasi_from_cov(cov), q, rtol=1e-10)


def test_quasi_variances_do_not_depend_on_the_parametrisation_or_the_anchor():
    battles = simulate_arena(8, 4000, seed=5).battles
    fit = fit_bradley_terry(battles)
    anchored = fit_bradley_terry(battles, anchor={"model-003": 1500.0})
    v = fit.cov_params.to_numpy()
    # reference-category parametrisation (model 0 fixed at 0), as BTabilities reports it
    t = np.eye(8) - np.eye(8)[[0]]
    ref = t @ v @ t.T
    np.testing.assert_allclose(quasi_from_cov(ref), quasi_from_cov(v), rtol=1e-9)
    a, b = quasi_variances(fit, robust=False), quasi_variances(anchored, robust=False)
    np.testing.assert_allclose(a.quasi_se.to_numpy(), b.quasi_se.reindex(a.models).to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(b.ratings - a.ratings.reindex(b.models), 1500.0 - float(a.ratings["model-003"]))


def _vignette_figure(shared_data) -> np.ndarray:
    """Figure 1 of the BradleyTerry2 vignette (qvcalc on the baseball model with home advantage),
    as grey levels: the first PNG embedded in the built vignette."""
    import matplotlib.image as mpimg
    path = shared_data / "bradleyterry2_r_datasets" / "original" / "BradleyTerry_vignette_with_outputs.html.gz"
    page = gzip.decompress(path.read_bytes()).decode("utf-8")
    png = re.findall(r'<img[^>]*src="data:image/png;base64,([^"]+)"', page)[0]
    return mpimg.imread(io.BytesIO(base64.b64decode(png)), format="png")[..., :3].mean(axis=2)


def test_quasi_standard_errors_match_the_bradleyterry2_vignette_figure(shared_data):
    """The vignette plots estimate -/+ 2 quasi-SE for the seven teams (Bal ... Tor) but prints no
    numbers; the segments are read off its PNG: their centres calibrate the axis against the
    printed abilities, their lengths give the quasi-SEs, to about 0.002 (one pixel)."""
    raw = pd.read_csv(shared_data / "bradleyterry2_r_datasets" / "baseball.csv")
    battles = load_battles(raw, schema="aggregated", model_a_col="home.team", model_b_col="away.team",
                           wins_a_col="home.wins", wins_b_col="away.wins")
    fit = fit_contextual(battles, position=True)
    teams = ["Baltimore", "Boston", "Cleveland", "Detroit", "Milwaukee", "New York", "Toronto"]
    idx = [fit.models.index(t) for t in teams]
    n = len(fit.models)
    cov = fit.cov_params.to_numpy()[:n, :n][np.ix_(idx, idx)]
    qse = np.sqrt(quasi_from_cov(cov))
    est = fit.theta[idx] - fit.theta[idx[0]]
    grey = _vignette_figure(shared_data)
    dark = grey < 0.5
    # the seven vertical segments: the columns with long dark runs inside the plot frame
    inner = dark[150:1070]
    cols = np.flatnonzero(inner.sum(axis=0) > 100)
    cols = cols[(cols > 200) & (cols < 1150)]
    starts = cols[np.r_[True, np.diff(cols) > 3]]
    assert len(starts) == 7
    tops, bottoms = [], []
    for c in starts:
        rows = np.flatnonzero(inner[:, c:c + 2].any(axis=1)) + 150
        tops.append(rows.min())
        bottoms.append(rows.max())
    top, bottom = np.asarray(tops, float), np.asarray(bottoms, float)
    slope, _ = np.polyfit((top + bottom) / 2, est, 1)
    published = -slope * (bottom - top + 1) / 4
    np.testing.assert_allclose(qse, published, atol=0.003)
    # and not the ordinary standard errors (relative to Baltimore, as summary() prints them)
    assert not np.allclose(np.sqrt(np.diag(cov) + cov[0, 0] - 2 * cov[0])[1:], published[1:], atol=0.05)


def test_relative_errors_lie_within_the_worst_errors_over_all_contrasts():
    board = leaderboard(simulate_arena(10, 5000, seed=8).battles, rounds=300)
    qv = quasi_variances(board)
    rel = qv.relative_errors
    lo, hi = qv.worst_errors()
    assert lo - 1e-9 <= rel.min() and rel.max() <= hi + 1e-9
    assert qv.settings["source"] == "bootstrap"
    # the bootstrap source is the covariance of the rounds
    cov = board.bootstrap.samples.cov().loc[qv.models, qv.models]
    np.testing.assert_allclose(qv.quasi_var, quasi_from_cov(cov.to_numpy()))
    frame = qv.to_frame()
    assert list(frame.columns) == ["model", "rating", "se", "quasi_se", "quasi_var", "ci_lower", "ci_upper"]
    assert (frame.ci_upper - frame.ci_lower).round(6).equals((2 * 1.959963984540054 * frame.quasi_se).round(6))


def test_two_models_or_a_singular_contrast_are_refused():
    with pytest.raises(InputError, match="three"):
        quasi_from_cov(np.eye(2))
    with pytest.raises(InputError, match="positive variance"):
        quasi_from_cov(np.ones((3, 3)))
    with pytest.raises(InputError, match="quasi-variances"):
        quasi_variances("board")
