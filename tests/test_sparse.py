"""Sparse and dense linear algebra give the same fits, covariances and bootstraps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arena_stats import bootstrap, fit_bradley_terry, leaderboard
from arena_stats.data.aggregate import aggregate
from arena_stats.data.battles import Battles
from arena_stats.models.sparse import KKTFactor, use_sparse

K = 400 / np.log(10)


def _arena(shape: str, n: int = 60, m: int = 4000, seed: int = 0, tie: float = 0.15) -> Battles:
    """Battles on a comparison graph of one shape, outcomes from planted strengths."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, n)
    if shape == "dense":
        a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    elif shape == "sparse":  # each model meets a few random others
        partners = [rng.choice(n, 4, replace=False) for _ in range(n)]
        a = rng.integers(0, n, m)
        b = np.array([partners[k][rng.integers(0, 4)] for k in a])
    elif shape == "chain":  # neighbours only: the longest paths a graph can have
        a = rng.integers(0, n - 1, m)
        b = a + 1
    elif shape == "star":  # everyone meets the hub, the hub meets everyone
        a = np.zeros(m, int)
        b = rng.integers(1, n, m)
    else:
        raise ValueError(shape)
    keep = a != b
    a, b = a[keep], b[keep]
    p = 1 / (1 + np.exp(-(theta[a] - theta[b])))
    u = rng.random(len(a))
    out = np.where(u < tie, 2, np.where(rng.random(len(a)) < p, 0, 1)).astype(np.int8)
    names = pd.Index([f"m{k:03d}" for k in range(n)])
    flip = rng.random(len(a)) < 0.5  # either slot
    a, b = np.where(flip, b, a), np.where(flip, a, b)
    out = np.where(flip & (out < 2), 1 - out, out).astype(np.int8)
    frame = pd.DataFrame({"model_a": pd.Categorical.from_codes(a, categories=names),
                          "model_b": pd.Categorical.from_codes(b, categories=names), "outcome": out})
    return Battles(frame)


@pytest.mark.parametrize("shape", ["dense", "sparse", "chain", "star"])
@pytest.mark.parametrize("ties,l2", [("half", 0.0), ("davidson", 0.0), ("rao-kupper", 0.0), ("half", 0.3)])
def test_sparse_and_dense_solvers_agree_to_1e9_elo(shape, ties, l2):
    battles = _arena(shape)
    dense = fit_bradley_terry(battles, ties, l2=l2, solver="dense")
    sparse = fit_bradley_terry(battles, ties, l2=l2, solver="sparse")
    np.testing.assert_allclose(sparse.ratings.to_numpy(), dense.ratings.to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(sparse.cov.to_numpy(), dense.cov.to_numpy(), rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(sparse.cov_robust.to_numpy(), dense.cov_robust.to_numpy(), rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(sparse.se_robust.to_numpy(), dense.se_robust.to_numpy(), rtol=1e-9)
    if dense.tie_param is not None:
        assert sparse.tie_param_se == pytest.approx(dense.tie_param_se, rel=1e-9)


def test_variances_by_block_solves_equal_the_dense_matrices(monkeypatch):
    """Above DENSE_COV_MAX parameters the variances come from block solves, never a dense matrix."""
    import arena_stats.models.results as results
    battles = _arena("sparse", n=80, m=5000, seed=3)
    dense = fit_bradley_terry(battles, "davidson", solver="dense")
    monkeypatch.setattr(results, "DENSE_COV_MAX", 10)
    sparse = fit_bradley_terry(battles, "davidson", solver="sparse")
    np.testing.assert_allclose(sparse.se.to_numpy(), dense.se.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(sparse.se_robust.to_numpy(), dense.se_robust.to_numpy(), rtol=1e-9)
    assert "cov_params" not in sparse.__dict__  # no dense matrix was formed
    for robust in (False, True):
        for got, want in zip(sparse.intervals(0.9, robust, reference="m007"), dense.intervals(0.9, robust,
                                                                                               reference="m007")):
            np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=0, atol=1e-8)
    assert sparse.tie_param_se == pytest.approx(dense.tie_param_se, rel=1e-9)


def test_sparse_bootstrap_rounds_equal_dense_rounds():
    battles = _arena("sparse", n=70, m=6000, seed=5)
    pc = aggregate(battles)
    a = bootstrap(pc, 40, seed=2, point=fit_bradley_terry(pc, solver="dense"))
    b = bootstrap(pc, 40, seed=2, point=fit_bradley_terry(pc, solver="sparse"))
    np.testing.assert_allclose(b.samples.to_numpy(), a.samples.to_numpy(), rtol=0, atol=1e-4)


def test_a_sparse_board_equals_a_dense_board():
    battles = _arena("chain", n=50, m=3000, seed=8)
    from arena_stats.boards.leaderboard import board_from_fit
    for ci in ("sandwich", "fisher"):
        dense = board_from_fit(fit_bradley_terry(battles, solver="dense"), ci=ci, reference="m010").to_frame()
        sparse = board_from_fit(fit_bradley_terry(battles, solver="sparse"), ci=ci, reference="m010").to_frame()
        pd.testing.assert_frame_equal(sparse.drop(columns=["rating", "ci_lower", "ci_upper", "diff", "diff_ci_lower",
                                                          "diff_ci_upper"]),
                                      dense.drop(columns=["rating", "ci_lower", "ci_upper", "diff", "diff_ci_lower",
                                                         "diff_ci_upper"]))
        for col in ("rating", "ci_lower", "ci_upper", "diff", "diff_ci_lower", "diff_ci_upper"):
            np.testing.assert_allclose(sparse[col], dense[col], rtol=0, atol=1e-8)
    assert leaderboard(battles, ci="none").to_frame()["model"].tolist() == dense["model"].tolist()


def test_the_kkt_factor_applies_the_constrained_inverse():
    from scipy import sparse

    from arena_stats.models.engine import constrained_inverse
    rng = np.random.default_rng(0)
    n = 30
    w = rng.uniform(0.1, 2.0, (n, n)) * (rng.random((n, n)) < 0.2)
    w = np.triu(w, 1)
    w = w + w.T
    w[np.arange(n - 1), np.arange(1, n)] += 0.5  # connected
    w[np.arange(1, n), np.arange(n - 1)] += 0.5
    a = np.diag(w.sum(axis=1)) - w
    e = np.full((n, 1), 1 / np.sqrt(n))
    f = KKTFactor(sparse.csc_matrix(a), e)
    np.testing.assert_allclose(f.dense(), constrained_inverse(a, e), rtol=1e-9, atol=1e-12)
    fisher, robust = f.diagonals(sparse.csr_matrix(np.eye(n)))
    c = constrained_inverse(a, e)
    np.testing.assert_allclose(fisher, np.diag(c), rtol=1e-9)
    np.testing.assert_allclose(robust, np.diag(c @ c), rtol=1e-9)


@pytest.mark.parametrize("backend", ["superlu", "levels"])
def test_a_factorisation_in_an_earlier_ones_order_solves_the_same_systems(backend, monkeypatch):
    """A later factorisation of the same pattern (or a part of it: a round without some pairs)
    takes the first one's elimination order (SuperLU's, or the plan of levels) and gives the
    same constrained solutions."""
    from scipy import sparse

    import arena_stats.models.sparse as sparse_module
    from arena_stats.models.engine import constrained_inverse
    if backend == "superlu":
        monkeypatch.setattr(sparse_module, "MIN_MARGIN", np.inf)
    rng = np.random.default_rng(1)
    n = 40
    mask = np.triu(rng.random((n, n)) < 0.15, 1)
    mask[np.arange(n - 1), np.arange(1, n)] = True  # connected
    e = np.full((n, 1), 1 / np.sqrt(n))

    def laplacian(keep: float) -> np.ndarray:
        w = np.where(mask & (rng.random((n, n)) < keep), rng.uniform(0.1, 2.0, (n, n)), 0.0)
        w[np.arange(n - 1), np.arange(1, n)] += 0.3
        w = w + w.T
        return np.diag(w.sum(axis=1)) - w + 0.01 * np.eye(n)

    first = KKTFactor(sparse.csc_matrix(laplacian(1.0)), e)
    assert first.by_levels == (backend == "levels")
    if backend == "superlu":  # the bordered system's order
        assert sorted(first.order.tolist()) == list(range(n + 1))
    else:
        assert sorted(first.order.perm.tolist()) == list(range(n)) and first.order.levels
    g = rng.normal(size=(n, 3))
    for keep in (1.0, 0.7):  # the same pattern, then a part of it
        a = laplacian(keep)
        again = KKTFactor(sparse.csc_matrix(a), e, first.order)
        assert again.order is first.order  # it was used, not searched again
        np.testing.assert_allclose(again.solve(g), constrained_inverse(a, e) @ g, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(again.solve(g), KKTFactor(sparse.csc_matrix(a), e).solve(g), rtol=1e-10,
                                   atol=1e-13)


def test_the_sparse_hessian_equals_the_dense_one_and_the_gradient_alone_equals_the_full_one():
    from arena_stats.models.pair_problem import make_problem
    for ties in ("half", "davidson", "rao-kupper"):
        pc = aggregate(_arena("sparse", 50, 3000, seed=2))
        dense, sparse_ = make_problem(pc, ties, l2=0.2, sparse=False), make_problem(pc, ties, l2=0.2, sparse=True)
        x = np.random.default_rng(3).normal(0, 0.5, (1, dense.dim))
        x[0, -1] = abs(x[0, -1]) + 0.2  # a feasible tie parameter
        _, g_d, h_d = dense.derivatives(x)
        _, g_s, h_s = sparse_.derivatives(x)
        np.testing.assert_allclose(g_s, g_d, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(sparse_.gradient(x), g_s)
        np.testing.assert_allclose(h_s[0].toarray(), h_d[0], rtol=1e-12, atol=1e-12)


def test_auto_uses_sparse_only_for_large_sparse_arenas():
    assert not use_sparse(300, 44_000) and not use_sparse(900, 100)
    assert use_sparse(2_639, 40_000) and not use_sparse(2_000, 1_500_000)


def test_auto_solver_takes_dense_algebra_for_graphs_whose_factor_fills_in():
    """Random partners make an expander: sparse by density, but its factor fills in (measured:
    10,000 x 40 random partners, sparse factorisation 5x slower than dense). Neighbour partners,
    chains and stars stay sparse."""
    from arena_stats.models.sparse import envelope_ratio, use_sparse
    rng = np.random.default_rng(0)
    n = 1500
    a = np.repeat(np.arange(n), 30)
    b = rng.integers(0, n, len(a))
    keep = a != b
    pairs = np.unique(np.sort(np.c_[a[keep], b[keep]], axis=1), axis=0)
    assert len(pairs) <= 0.05 * n * (n - 1) / 2  # sparse by density
    assert envelope_ratio(pairs[:, 0], pairs[:, 1], n) > 0.8
    assert not use_sparse(n, len(pairs), pairs[:, 0], pairs[:, 1])
    near = np.arange(n - 5)
    i, j = np.r_[near, near], np.r_[near + 3, near + 5]
    assert use_sparse(n, len(i), i, j)
    chain = np.arange(n - 1)
    assert use_sparse(n, n - 1, chain, chain + 1)
    assert use_sparse(n, n - 1, np.zeros(n - 1, dtype=int), np.arange(1, n))


@pytest.mark.filterwarnings("ignore:without the prior the MLE would not exist")
@pytest.mark.parametrize("ties,l2", [("half", 0.01), ("drop", 0.05), ("davidson", 0.01), ("half", 0.0)])
def test_sparse_refits_of_far_rounds_equal_newton_per_round(ties, l2):
    """Few battles per contestant and a weak prior: resampled rounds sit far from the point fit,
    the chord gives up and refit_sparse fits them; each equals the engine's Newton fit."""
    from arena_stats.inference.bootstrap import _ChunkSolver, _merge_tie_kinds, _RoundCounts
    from arena_stats.models.engine import newton
    from arena_stats.models.kernels import refit_sparse
    battles = _arena("sparse", n=300, m=1500, seed=11, tie=0.2)  # five battles per contestant
    pc = aggregate(battles)
    fit = fit_bradley_terry(pc, ties=ties, l2=l2 if l2 else 0.01, solver="sparse")
    pcm = _merge_tie_kinds(pc) if ties in ("half", "drop") else pc
    solver = _ChunkSolver(pcm, fit, fit.params.to_numpy(), 1e-8, fit.constrained_solver())
    w, lose, tie = _RoundCounts(pcm, None).draw(np.random.default_rng(4), 6)
    if ties == "half":
        wi, wj, wt = w + 0.5 * tie, lose + 0.5 * tie, None
    elif ties == "drop":
        wi, wj, wt = w, lose, None
    else:
        wi, wj, wt = (c.astype(float) for c in (w, lose, tie))
    prob = solver._problem(wi.astype(float), wj.astype(float), wt, np.arange(6), l2=max(l2, 0.01))
    start = np.repeat(fit.params.to_numpy()[None], 6, axis=0)
    x, converged = refit_sparse(prob, start, 1e-8)
    reference = newton(prob, start, step_tol=1e-10)
    assert converged.all() and reference.converged.all()
    np.testing.assert_allclose(K * x, K * reference.x, rtol=0, atol=1e-6)


def test_a_secant_step_that_lowers_the_value_falls_back_to_the_plain_step():
    """The refit's line search tries the secant through a round's last two steps first; where
    that lowers the log-likelihood it takes the plain step (and, where that too lowers it, half)."""
    from arena_stats.models.engine import project
    from arena_stats.models.kernels import _line_search
    from arena_stats.models.pair_problem import make_problem
    pc = aggregate(_arena("sparse", n=80, m=800, seed=3))
    prob = make_problem(pc, "half", l2=0.1, sparse=True)
    e = prob.constraint
    fit = fit_bradley_terry(pc, l2=0.1, solver="sparse").params.to_numpy()[None]
    here = project(fit + np.random.default_rng(0).normal(0, 0.05, fit.shape), e)
    step = prob.subset([0]).gradient(here) * 1e-3  # a short ascent step
    far = project(here + 50.0, e) - 50.0 * np.cos(np.arange(fit.shape[1]))[None]  # a poor point
    xa, lla = here.copy(), prob.value(here)
    moving, active = np.array([0]), np.array([0])
    # history: previous point ``far`` and previous step 0 make the secant land on ``far`` itself
    stale, last = np.zeros(1, bool), np.array([1.0])
    prev_x, prev_d, has_prev = far.copy(), np.zeros_like(here), np.ones(1, bool)
    assert prob.value(far)[0] < lla[0]
    _line_search(prob, moving, active, xa, lla, step, np.array([np.abs(step).max()]), e, stale, last,
                 prev_x, prev_d, has_prev)
    np.testing.assert_allclose(xa, project(here + step, e), rtol=0, atol=1e-15)
    assert lla[0] > prob.value(here)[0] and not stale[0] and has_prev[0]
    np.testing.assert_array_equal(prev_x, here)  # the history moves on


@pytest.mark.filterwarnings("ignore:without the prior the MLE would not exist")
def test_a_weak_prior_sparse_bootstrap_equals_the_engines_rounds(monkeypatch):
    battles = _arena("sparse", n=1100, m=5000, seed=12)
    pc = aggregate(battles)
    fit = fit_bradley_terry(pc, l2=0.01)
    assert use_sparse(pc.n_models, pc.n_pairs, pc.i, pc.j)
    fast = bootstrap(pc, 12, seed=5, l2=0.01, point=fit).samples.to_numpy()
    import arena_stats.inference.bootstrap as bootstrap_module
    from arena_stats.models.engine import newton

    def engine(prob, x0, tol, order=None):
        res = newton(prob, x0, step_tol=tol)
        return res.x, res.converged
    monkeypatch.setattr(bootstrap_module, "refit_sparse", engine)
    slow = bootstrap(pc, 12, seed=5, l2=0.01, point=fit).samples.to_numpy()
    np.testing.assert_allclose(fast, slow, rtol=0, atol=2e-5)
