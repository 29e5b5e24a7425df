"""The plain Bradley-Terry log-likelihood on pair counts, as an objective of the engine.

For the four tie conventions the likelihood depends on the battles only through each pair's
(weighted) ``i``-wins, ``j``-wins and ties (:class:`~arena_stats.data.aggregate.PairCounts`), so
one fit costs nothing per battle. :class:`PairProblem` holds those per-pair weights for a batch
of ``B`` fits on the same pairs (the point fit is ``B = 1``; the bootstrap's Newton fallbacks
are rounds) and gives :func:`~arena_stats.models.engine.newton` the value, gradient and Hessian.

The Hessian in the strengths is a weighted graph Laplacian: ``-h_dd`` of each pair off the
diagonal, the sums on it. Sums over each model's pairs are sparse products with the pairs'
incidence matrix, built once per problem (shared by its subsets). A problem with ``sparse=True``
(thousands of models, few pairs each: :func:`~arena_stats.models.sparse.use_sparse`) returns
its Hessian as one sparse matrix per batch member, never a dense ``n x n`` array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import csc_matrix, csr_matrix

from ..data.aggregate import PairCounts
from .families import TIE_START, local_terms, pair_weights
from .sparse import use_sparse

__all__ = ["PairProblem", "make_problem", "start_point", "sum_zero_constraint"]


def sum_zero_constraint(n: int, dim: int) -> np.ndarray:
    """``E (dim, 1)``: the strengths (the first ``n`` parameters) sum to zero."""
    e = np.zeros((dim, 1))
    e[:n, 0] = 1.0 / np.sqrt(n)
    return e


def _incidence(i: np.ndarray, j: np.ndarray, n: int) -> tuple[csr_matrix, csr_matrix]:
    """Sparse ``(n, P)`` matrices summing per-pair values at the models: ``+i -j`` and ``+i +j``."""
    p = np.arange(len(i))
    ones = np.ones(len(i))
    at_i = csr_matrix((ones, (i, p)), shape=(n, len(i)))
    at_j = csr_matrix((ones, (j, p)), shape=(n, len(i)))
    return (at_i - at_j).tocsr(), (at_i + at_j).tocsr()


@dataclass
class PairProblem:
    """Counts of a batch of fits on the same pairs, as the engine's objective.

    ``wi, wj, wt`` are ``(B, P)``: each pair's ``i``-wins, ``j``-wins and ties as the tie
    convention counts them (:func:`~arena_stats.models.families.pair_weights`); ``l2`` is the
    Gaussian prior ``- l2 / 2 * |theta|^2`` on the strengths; ``total`` is ``(B,)``.
    """

    i: np.ndarray
    j: np.ndarray
    n: int
    wi: np.ndarray
    wj: np.ndarray
    wt: np.ndarray
    ties: str
    l2: float = 0.0
    total: np.ndarray = field(default_factory=lambda: np.ones(1))
    sparse: bool = False
    _signed: csr_matrix | None = None
    _unsigned: csr_matrix | None = None
    _layout: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self._signed is None:
            self._signed, self._unsigned = _incidence(self.i, self.j, self.n)
        if self.sparse and self._layout is None:
            self._layout = self._csc_layout()

    @property
    def has_tie_param(self) -> bool:
        return self.ties in TIE_START

    @property
    def dim(self) -> int:
        return self.n + int(self.has_tie_param)

    @property
    def constraint(self) -> np.ndarray:
        return sum_zero_constraint(self.n, self.dim)

    def subset(self, rows: np.ndarray | slice) -> PairProblem:
        """The problem of some batch members (pairs and incidence shared)."""
        return PairProblem(self.i, self.j, self.n, self.wi[rows], self.wj[rows], self.wt[rows], self.ties,
                           self.l2, self.total[rows], self.sparse, self._signed, self._unsigned, self._layout)

    def _split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return x[:, : self.n], (x[:, self.n:self.n + 1] if self.has_tie_param else None)

    def value(self, x: np.ndarray) -> np.ndarray:
        """Penalised log-likelihood ``(B,)``; ``-inf`` where infeasible (Rao-Kupper needs ``tau > 0``)."""
        theta, lam = self._split(x)
        d = theta[:, self.i] - theta[:, self.j]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            (ll,) = local_terms(d, lam, self.wi, self.wj, self.wt, self.ties, derivatives=False)
            out = ll.sum(axis=1)
        if self.l2:
            out = out - 0.5 * self.l2 * (theta * theta).sum(axis=1)
        if self.ties == "rao-kupper":
            out = np.where(x[:, self.n] > 0, out, -np.inf)
        return np.where(np.isfinite(out), out, -np.inf)

    def derivatives(self, x: np.ndarray, hessian: bool = True) -> tuple[np.ndarray, np.ndarray, Any]:
        """Log-likelihood ``(B,)``, gradient ``(B, dim)`` and Hessian ``(B, dim, dim)`` at ``x``
        (a list of ``B`` sparse matrices when the problem is sparse)."""
        theta, lam = self._split(x)
        n, i, j = self.n, self.i, self.j
        d = theta[:, i] - theta[:, j]
        ll, g_d, g_l, h_dd, h_dl, h_ll = local_terms(d, lam, self.wi, self.wj, self.wt, self.ties)
        nb = x.shape[0]
        g = np.zeros((nb, self.dim))
        g[:, :n] = (self._signed @ g_d.T).T
        if self.has_tie_param:
            g[:, n] = g_l.sum(axis=1)
        ll = ll.sum(axis=1)
        if self.l2:
            ll = ll - 0.5 * self.l2 * (theta * theta).sum(axis=1)
            g[:, :n] -= self.l2 * theta
        if not hessian:
            return ll, g, None
        if self.sparse:
            return ll, g, [self._sparse_hessian(h_dd[b], None if h_dl is None else h_dl[b],
                                                None if h_ll is None else h_ll[b]) for b in range(nb)]
        h = np.zeros((nb, self.dim, self.dim))
        h[:, i, j] = -h_dd
        h[:, j, i] = -h_dd
        idx = np.arange(n)
        h[:, idx, idx] = (self._unsigned @ h_dd.T).T
        if self.has_tie_param:
            col = (self._signed @ h_dl.T).T
            h[:, :n, n] = col
            h[:, n, :n] = col
            h[:, n, n] = h_ll.sum(axis=1)
        if self.l2:
            h[:, idx, idx] -= self.l2
        return ll, g, h

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """The gradient ``(B, dim)`` alone (no logarithms: the refits' chord steps need no value)."""
        theta, lam = self._split(x)
        d = theta[:, self.i] - theta[:, self.j]
        _, g_d, g_l, _, _, _ = local_terms(d, lam, self.wi, self.wj, self.wt, self.ties, loglik=False)
        g = np.zeros((x.shape[0], self.dim))
        g[:, :self.n] = (self._signed @ g_d.T).T - self.l2 * theta
        if self.has_tie_param:
            g[:, self.n] = g_l.sum(axis=1)
        return g

    def diagonal_step(self, x: np.ndarray) -> np.ndarray:
        """Each parameter's own Newton step, the others held: ``g_k / -H_kk`` for every ``k``,
        ``(B, dim)``. Cheap (no solve): it moves a contestant whose few battles all went one way
        in a resample most of the way to its estimate, where a full Newton step moves it about
        one unit (the logistic saturates)."""
        theta, lam = self._split(x)
        d = theta[:, self.i] - theta[:, self.j]
        _, g_d, g_l, h_dd, _, h_ll = local_terms(d, lam, self.wi, self.wj, self.wt, self.ties, loglik=False)
        n = self.n
        grad = np.zeros((x.shape[0], self.dim))
        curv = np.zeros((x.shape[0], self.dim))
        grad[:, :n] = (self._signed @ g_d.T).T - self.l2 * theta
        curv[:, :n] = (self._unsigned @ (-h_dd).T).T + self.l2
        if self.has_tie_param:
            grad[:, n] = g_l.sum(axis=1)
            curv[:, n] = -h_ll.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(curv > 0, grad / curv, 0.0)

    def _csc_layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where each Hessian entry (in :meth:`_hessian_entries`' order) goes in CSC storage:
        ``(order, indices, indptr)``, one sort per problem instead of one per Hessian (a
        bootstrap builds a Hessian per round and iteration on the same pattern)."""
        n, i, j = self.n, self.i, self.j
        rows, cols = [i, j, np.arange(n)], [j, i, np.arange(n)]
        if self.has_tie_param:
            models = np.arange(n)
            rows += [models, np.full(n, n), np.array([n])]
            cols += [np.full(n, n), models, np.array([n])]
        r, c = np.concatenate(rows), np.concatenate(cols)
        order = np.lexsort((r, c))  # by column, then row; the pairs are distinct, so no duplicates
        indptr = np.concatenate([[0], np.cumsum(np.bincount(c, minlength=self.dim))])
        return order, r[order].astype(np.int32), indptr.astype(np.int32)

    def _sparse_hessian(self, h_dd: np.ndarray, h_dl: np.ndarray | None, h_ll: np.ndarray | None) -> Any:
        """One member's Hessian as a sparse ``(dim, dim)`` matrix (CSC)."""
        assert self._layout is not None
        vals = [-h_dd, -h_dd, self._unsigned @ h_dd - self.l2]
        if self.has_tie_param:
            assert h_dl is not None and h_ll is not None
            col = self._signed @ h_dl
            vals += [col, col, np.array([h_ll.sum()])]
        order, indices, indptr = self._layout
        return csc_matrix((np.concatenate(vals)[order], indices, indptr), shape=(self.dim, self.dim))


def make_problem(pc: PairCounts, ties: str, l2: float = 0.0, cell_count: np.ndarray | None = None,
                 sparse: bool | None = None) -> PairProblem:
    """Counts (or a batch of resampled cell counts ``(B, C)``) as a :class:`PairProblem`.

    ``sparse`` (default: :func:`~arena_stats.models.sparse.use_sparse` of the arena's shape)
    chooses sparse Hessians."""
    table = pc.table(cell_count)
    if table.ndim == 2:
        table = table[None]
    wi, wj, wt = pair_weights(table, ties)
    total = (wi + wj + wt).sum(axis=1)
    if sparse is None:
        sparse = use_sparse(pc.n_models, pc.n_pairs, pc.i, pc.j)
    return PairProblem(pc.i, pc.j, pc.n_models, wi, wj, wt, ties, float(l2), np.where(total > 0, total, 1.0),
                       bool(sparse))


def start_point(n: int, ties: str, batch: int = 1) -> np.ndarray:
    """Zero strengths and the convention's starting tie parameter, ``(batch, dim)``."""
    x0 = np.zeros((batch, n + int(ties in TIE_START)))
    if ties in TIE_START:
        x0[:, n] = TIE_START[ties]
    return x0
