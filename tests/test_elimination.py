"""Elimination by levels and a dense core solves exactly what a dense solver solves."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

import arena_stats.models.sparse as sparse_module
from arena_stats.models import elimination
from arena_stats.models.elimination import LevelCholesky, elimination_plan
from arena_stats.models.engine import constrained_inverse
from arena_stats.models.sparse import KKTFactor, dominance_margin


def _tour(n: int = 400, core: int = 60, seed: int = 0, l2: float = 0.01) -> np.ndarray:
    """A tennis-like information: regulars who met most of each other, a periphery who met a
    few regulars (and now and then each other), weights as a fit's ``n p (1 - p)``, plus ``l2``."""
    rng = np.random.default_rng(seed)
    w = np.zeros((n, n))
    regulars = np.arange(core)
    met = np.triu(rng.random((core, core)) < 0.7, 1)
    w[:core, :core] = met * rng.uniform(0.2, 8.0, (core, core))
    for p in range(core, n):
        for q in rng.choice(regulars, rng.integers(1, 6), replace=False):
            w[p, q] = rng.uniform(0.1, 2.0)
        if rng.random() < 0.3:  # a periphery match
            w[p, rng.integers(core, n)] = rng.uniform(0.1, 1.0)
    np.fill_diagonal(w, 0.0)
    w = np.maximum(w, w.T)
    return np.diag(w.sum(axis=1) + l2) - w


def _shapes() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 300
    chain = np.zeros((n, n))
    chain[np.arange(n - 1), np.arange(1, n)] = rng.uniform(0.5, 2.0, n - 1)
    star = np.zeros((n, n))
    star[0, 1:] = rng.uniform(0.5, 2.0, n - 1)
    out = {}
    for name, w in (("chain", chain), ("star", star)):
        w = w + w.T
        out[name] = np.diag(w.sum(axis=1) + 0.05) - w
    out["tour"] = _tour()
    out["tour-weak-prior"] = _tour(seed=4, l2=1e-5)
    return out


@pytest.mark.parametrize("name", ["chain", "star", "tour", "tour-weak-prior"])
def test_level_cholesky_solves_as_a_dense_solve(name):
    a = _shapes()[name]
    plan = elimination_plan(sparse.csr_matrix(a))
    assert plan is not None and plan.levels  # something was eliminated by levels
    f = LevelCholesky(sparse.csc_matrix(a), plan)
    rhs = np.random.default_rng(0).standard_normal((a.shape[0], 5))
    want = np.linalg.solve(a, rhs)
    np.testing.assert_allclose(f.solve(rhs), want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
    np.testing.assert_allclose(f.solve(rhs[:, 2]), want[:, 2], rtol=1e-9, atol=1e-9 * np.abs(want).max())


def test_a_tour_leaves_a_small_dense_core():
    plan = elimination_plan(sparse.csr_matrix(_tour()))
    assert plan.core <= 80 < 400 - plan.core  # the periphery went by levels, the regulars stay
    assert sorted(plan.perm.tolist()) == list(range(400))


def test_one_plan_serves_other_values_and_sub_patterns_of_its_pattern():
    a = _tour(seed=1)
    plan = elimination_plan(sparse.csr_matrix(a))
    rng = np.random.default_rng(2)
    # other weights on the same pairs, some pairs not met at all (a bootstrap round)
    w = -np.triu(a, 1) * rng.uniform(0.0, 3.0, a.shape) * (rng.random(a.shape) < 0.8)
    w = w + w.T
    b = np.diag(w.sum(axis=1) + 0.02) - w
    f = LevelCholesky(sparse.csr_matrix(b), plan)
    rhs = rng.standard_normal(a.shape[0])
    np.testing.assert_allclose(f.solve(rhs), np.linalg.solve(b, rhs), rtol=1e-9, atol=1e-12)


def test_an_entry_outside_the_plan_is_refused_and_the_factor_falls_back_to_superlu():
    a = _tour(seed=5)
    plan = elimination_plan(sparse.csr_matrix(a))
    b = a.copy()
    far = plan.perm[0], plan.perm[1]  # two level-one players who never met
    assert a[far] == 0
    b[far] = b[far[::-1]] = -0.1
    b[far[0], far[0]] += 0.1
    b[far[1], far[1]] += 0.1
    with pytest.raises(ValueError, match="outside the plan"):
        LevelCholesky(sparse.csr_matrix(b), plan)
    e = np.full((len(a), 1), 1 / np.sqrt(len(a)))
    f = KKTFactor(sparse.csc_matrix(b), e, plan)
    assert not f.by_levels
    np.testing.assert_allclose(f.dense(), constrained_inverse(b, e), rtol=1e-8, atol=1e-10)


def test_a_matrix_that_is_not_positive_definite_raises():
    a = np.array([[1.0, -2.0, 0.0], [-2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    plan = elimination_plan(sparse.csr_matrix(a))
    with pytest.raises(np.linalg.LinAlgError):
        LevelCholesky(sparse.csr_matrix(a), plan)


def test_a_graph_whose_rest_stays_sparse_and_large_gets_no_plan(monkeypatch):
    monkeypatch.setattr(elimination, "CORE_MAX", 100)
    side = 30  # a grid: levels halve it, but its rest stays a sparse grid
    idx = np.arange(side * side).reshape(side, side)
    rows = np.concatenate([idx[:, :-1].ravel(), idx[:-1].ravel()])
    cols = np.concatenate([idx[:, 1:].ravel(), idx[1:].ravel()])
    g = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(side * side,) * 2)
    assert elimination_plan(g + g.T + 5 * sparse.eye(side * side)) is None


def test_one_pattern_is_planned_once():
    a = sparse.csc_matrix(_tour(seed=6))
    b = a.copy()
    b.data = b.data * 1.5
    assert elimination_plan(a) is elimination_plan(b)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_the_kkt_factor_by_levels_applies_the_constrained_inverse(k):
    a = _tour(seed=7)
    n = len(a)
    e = np.zeros((n, k))
    if k:
        e[:, 0] = 1 / np.sqrt(n)
    if k > 1:  # a second constraint on the first half
        e[: n // 2, 1] = 1 / np.sqrt(n // 2)
    f = KKTFactor(sparse.csc_matrix(a), e)
    assert f.by_levels
    want = constrained_inverse(a, e) if k else np.linalg.inv(a)
    np.testing.assert_allclose(f.dense(), want, rtol=1e-8, atol=1e-10 * np.abs(want).max())
    fisher, _ = f.diagonals()
    np.testing.assert_allclose(fisher, np.diag(want), rtol=1e-8)


def test_an_information_without_a_prior_goes_to_superlu():
    a = _tour(seed=8, l2=0.0)  # a Laplacian: singular, not strictly dominant
    assert dominance_margin(sparse.csr_matrix(a)) < sparse_module.MIN_MARGIN
    e = np.full((len(a), 1), 1 / np.sqrt(len(a)))
    f = KKTFactor(sparse.csc_matrix(a), e)
    assert not f.by_levels
    np.testing.assert_allclose(f.dense(), constrained_inverse(a, e), rtol=1e-8, atol=1e-10)


@pytest.mark.filterwarnings("ignore:without the prior the MLE would not exist")
def test_levels_and_superlu_give_the_same_bootstrap(monkeypatch):
    """A sparse arena with a weak prior: every round of the bootstrap, refits included, equal
    through either factorisation (round-off apart)."""
    from arena_stats import bootstrap, fit_bradley_terry
    from arena_stats.data.simulate import simulate_arena
    battles = simulate_arena(1100, 6000, seed=11).battles
    fits = {}
    for backend in ("levels", "superlu"):
        if backend == "superlu":
            monkeypatch.setattr(sparse_module, "MIN_MARGIN", np.inf)
        point = fit_bradley_terry(battles, l2=0.01, solver="sparse")
        assert point.constrained_solver().by_levels == (backend == "levels")
        fits[backend] = bootstrap(battles, 24, l2=0.01, seed=3, point=point, threads=1)
    np.testing.assert_allclose(fits["levels"].point.ratings, fits["superlu"].point.ratings, rtol=0, atol=1e-8)
    np.testing.assert_allclose(fits["levels"].samples.to_numpy(), fits["superlu"].samples.to_numpy(),
                               rtol=0, atol=1e-6)


def test_levels_too_costly_to_keep_get_no_plan(monkeypatch):
    a = sparse.csr_matrix(_tour(seed=9))
    assert elimination_plan(a) is not None
    monkeypatch.setattr(elimination, "MAX_PRODUCTS", 100)
    monkeypatch.setattr(elimination, "_PLANS", {})
    assert elimination_plan(a) is None
