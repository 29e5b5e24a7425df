"""The one solver engine: constrained Newton steps, covariances, stopping rule, weight scale."""

import numpy as np
import pandas as pd
import pytest

from arena_stats import fit_bradley_terry, load_battles
from arena_stats.data.simulate import simulate_arena
from arena_stats.errors import InputError
from arena_stats.models.engine import (
    CHOLESKY_MIN_DIM,
    _inverse,
    _solve_many,
    constrained_inverse,
    constrained_step,
    newton,
    project,
)


def _basis_of_complement(e):
    """An orthonormal basis of {x : E' x = 0} (independent of the engine's algebra)."""
    q, _ = np.linalg.qr(e, mode="complete")
    return q[:, e.shape[1]:]


def _random_case(rng, dim, k, null):
    """A symmetric A positive definite on E-perp; with ``null`` A E = 0 (the plain model)."""
    e = rng.normal(size=(dim, k))
    t = _basis_of_complement(e)
    b = rng.normal(size=(dim - k, dim - k))
    core = b @ b.T + 0.5 * np.eye(dim - k)
    a = t @ core @ t.T
    if not null:  # a prior or the both-bad model: A moves along the constrained directions too
        c = rng.normal(size=(dim, dim))
        a = a + 0.3 * (c @ c.T)
    return a, e, t


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("null", [True, False])
def test_constrained_step_is_the_newton_step_in_the_feasible_subspace(k, null):
    rng = np.random.default_rng(k + 10 * null)
    dim = 9
    a, e, t = _random_case(rng, dim, k, null)
    g = rng.normal(size=(2, dim))
    step = constrained_step(np.stack([a, 2 * a]), g, e)
    for b, scale in enumerate((1.0, 2.0)):
        expected = t @ np.linalg.solve(t.T @ (scale * a) @ t, t.T @ g[b])
        np.testing.assert_allclose(step[b], expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(e.T @ step[b], 0.0, atol=1e-12)


@pytest.mark.parametrize("null", [True, False])
def test_constrained_inverse_is_the_inverse_on_the_feasible_subspace(null):
    rng = np.random.default_rng(3)
    a, e, t = _random_case(rng, 8, 2, null)
    np.testing.assert_allclose(constrained_inverse(a, e), t @ np.linalg.inv(t.T @ a @ t) @ t.T, rtol=1e-9,
                               atol=1e-12)


def test_large_systems_solved_by_cholesky_agree_with_lu_and_fall_back_when_indefinite():
    """Systems of CHOLESKY_MIN_DIM unknowns and more invert and solve through Cholesky factors."""
    rng = np.random.default_rng(0)
    n = CHOLESKY_MIN_DIM + 5
    b = rng.normal(size=(n, n))
    spd = b @ b.T / n + np.eye(n)
    np.testing.assert_allclose(_inverse(spd), np.linalg.inv(spd), rtol=1e-9, atol=1e-12)
    g = rng.normal(size=(2, n, 1))
    np.testing.assert_allclose(_solve_many(np.stack([spd, 2 * spd]), g),
                               np.stack([np.linalg.solve(spd, g[0]), np.linalg.solve(2 * spd, g[1])]), rtol=1e-9)
    indefinite = spd - 3 * np.eye(n)  # some eigenvalues negative: Cholesky fails, LU answers
    np.testing.assert_allclose(_inverse(indefinite), np.linalg.inv(indefinite), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(_solve_many(indefinite[None], g[:1])[0], np.linalg.solve(indefinite, g[0]),
                               rtol=1e-7, atol=1e-9)


class _Quadratic:
    """``-1/2 (x - c)' A (x - c)``: Newton lands on the constrained optimum in one step."""

    def __init__(self, a, c, e):
        self.a, self.c, self.constraint = a, c, e
        self.dim = len(c)
        self.total = np.ones(1)

    def value(self, x):
        d = x - self.c
        return -0.5 * np.einsum("bi,ij,bj->b", d, self.a, d)

    def derivatives(self, x, hessian=True):
        d = x - self.c
        return self.value(x), -(d @ self.a), np.repeat(-self.a[None], len(x), axis=0)

    def subset(self, rows):
        return self


def test_newton_finds_the_constrained_optimum_of_a_quadratic():
    rng = np.random.default_rng(5)
    a, e, t = _random_case(rng, 6, 1, False)
    c = rng.normal(size=6)
    res = newton(_Quadratic(a, c, e), np.zeros((1, 6)))
    # the optimum over {E'x = 0}: x = T z with T'A T z = T'A c
    expected = t @ np.linalg.solve(t.T @ a @ t, t.T @ a @ c)
    np.testing.assert_allclose(res.x[0], expected, rtol=1e-10, atol=1e-12)
    assert res.converged[0] and res.n_iter <= 2


def test_project_puts_points_on_the_constraints():
    rng = np.random.default_rng(1)
    e = rng.normal(size=(5, 2))
    x = project(rng.normal(size=(3, 5)), e)
    np.testing.assert_allclose(x @ e, 0.0, atol=1e-12)


# ------------------------------------------------------------------ scale of the weights
def _long_double_fit(frame):
    """An independent fit: Newton in 80-bit long double on the logistic likelihood (ties half,
    model 0 fixed at 0), by plain Gauss-Jordan elimination. Returns centred strengths."""
    models = sorted(set(frame.model_a) | set(frame.model_b))
    idx = {m: k for k, m in enumerate(models)}
    a = np.array([idx[m] for m in frame.model_a])
    b = np.array([idx[m] for m in frame.model_b])
    y = frame.winner.map({"model_a": 1.0, "model_b": 0.0, "tie": 0.5}).to_numpy()
    w = frame.w.to_numpy().astype(np.longdouble)
    n = len(models)
    theta = np.zeros(n, dtype=np.longdouble)
    for _ in range(200):
        d = theta[a] - theta[b]
        p = 1 / (1 + np.exp(-d))
        r = w * (np.asarray(y, np.longdouble) - p)
        g = np.zeros(n, np.longdouble)
        np.add.at(g, a, r)
        np.add.at(g, b, -r)
        h = np.zeros((n, n), np.longdouble)
        v = w * p * (1 - p)
        for k in range(len(a)):
            h[a[k], a[k]] += v[k]
            h[b[k], b[k]] += v[k]
            h[a[k], b[k]] -= v[k]
            h[b[k], a[k]] -= v[k]
        m = h[1:, 1:].copy()
        rhs = g[1:].copy()
        size = n - 1
        for col in range(size):  # Gauss-Jordan with partial pivoting
            piv = col + int(np.argmax(np.abs(m[col:, col])))
            m[[col, piv]], rhs[[col, piv]] = m[[piv, col]], rhs[[piv, col]]
            for row in range(size):
                if row != col:
                    f = m[row, col] / m[col, col]
                    m[row] -= f * m[col]
                    rhs[row] -= f * rhs[col]
        step = rhs / np.diag(m)
        theta[1:] += step
        if np.abs(step).max() < 1e-17:
            break
    theta = theta - theta.mean()
    return pd.Series(np.asarray(theta, dtype=np.float64), index=models)


def _weighted_frame(seed=3):
    sim = simulate_arena(5, 400, seed=seed, bothbad_share=0.0)
    frame = sim.battles.to_frame()[["model_a", "model_b", "winner"]]
    return frame.assign(w=np.random.default_rng(seed).uniform(0.5, 2.0, len(frame)))


@pytest.mark.parametrize("change", ["all x 1e-6", "all x 1e6", "one x 1e12"])
def test_fits_are_exact_whatever_the_scale_of_the_weights(change):
    """The stopping rule is the Newton step, which does not depend on the weights' scale: one
    battle weighted 1e12 among ordinary ones used to stop 500 Elo short of the optimum."""
    frame = _weighted_frame()
    if change == "all x 1e-6":
        frame = frame.assign(w=frame.w * 1e-6)
    elif change == "all x 1e6":
        frame = frame.assign(w=frame.w * 1e6)
    else:
        w = frame.w.to_numpy().copy()
        w[7] *= 1e12
        frame = frame.assign(w=w)
    fit = fit_bradley_terry(load_battles(frame, weight_col="w"))
    expected = _long_double_fit(frame)
    k = 400 / np.log(10)
    got = (fit.theta - fit.theta.mean())
    np.testing.assert_allclose(k * got, k * expected.loc[fit.models].to_numpy(), atol=1e-6)
    assert fit.grad_norm < 1e-10


@pytest.mark.parametrize("n_battles", [400, 2000])
@pytest.mark.parametrize("seed", [3, 4])
def test_one_heavy_decisive_battle_fits_exactly(n_battles, seed):
    """A decisive battle weighted 1e12 saturates its pair (p ~ 1 - 1e-10): the gradient must not
    compute 1 - p by subtraction, or it cancels to 1e-4 and no Newton step gets below it."""
    sim = simulate_arena(5, n_battles, seed=seed, bothbad_share=0.0)
    frame = sim.battles.to_frame()[["model_a", "model_b", "winner"]].assign(w=1.0)
    w = frame.w.to_numpy().copy()
    w[int(np.flatnonzero(frame.winner.isin(["model_a", "model_b"]).to_numpy())[0])] = 1e12
    frame = frame.assign(w=w)
    fit = fit_bradley_terry(load_battles(frame, weight_col="w"))
    expected = _long_double_fit(frame)
    k = 400 / np.log(10)
    np.testing.assert_allclose(k * (fit.theta - fit.theta.mean()), k * expected.loc[fit.models].to_numpy(),
                               atol=1e-6)


@pytest.mark.parametrize("ties", ["davidson", "rao-kupper"])
def test_tie_models_with_one_heavy_decisive_battle_converge_and_ignore_the_weights_scale(ties):
    sim = simulate_arena(5, 2000, seed=3, bothbad_share=0.0)
    frame = sim.battles.to_frame()[["model_a", "model_b", "winner"]].assign(w=1.0)
    w = frame.w.to_numpy().copy()
    w[int(np.flatnonzero(frame.winner.isin(["model_a", "model_b"]).to_numpy())[0])] = 1e12
    fit = fit_bradley_terry(load_battles(frame.assign(w=w), weight_col="w"), ties=ties)
    scaled = fit_bradley_terry(load_battles(frame.assign(w=w * 1e-3), weight_col="w"), ties=ties)
    np.testing.assert_allclose(fit.ratings, scaled.ratings, atol=1e-6)
    assert abs(fit.tie_param - scaled.tie_param) < 1e-9


def test_weights_too_spread_for_double_precision_are_refused():
    frame = _weighted_frame()
    w = frame.w.to_numpy().copy()
    w[3] *= 1e15
    with pytest.raises(InputError, match="span a factor"):
        fit_bradley_terry(load_battles(frame.assign(w=w), weight_col="w"))
