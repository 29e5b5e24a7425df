"""Covariances of fitted parameters and the Wald intervals built on them, one path for every fit.

* **Model-based (Fisher).** The inverse of the observed information ``A = -H`` at the optimum,
  restricted to the constrained subspace (the strengths sum to zero):
  :func:`~arena_stats.models.engine.constrained_inverse`. This is the *bread*.
* **Sandwich (HC0).** ``bread @ meat @ bread`` with ``meat`` the sum over battles of the outer
  products of per-battle scores. It stays valid when the model is misspecified -- ``half``
  counts a tie as half a win each way, which is not a probability model for ties, so its Fisher
  errors overstate the uncertainty -- and under per-battle weights.
* **Cluster-robust.** The same with the scores summed within each cluster (voter, prompt, ...)
  before the outer products, so correlated votes count as one piece of evidence; with one
  battle per cluster it equals the sandwich. No small-sample correction.

Plain fits build the meat from pair counts (:func:`pair_meat`, as sparse as the comparison
graph); contextual fits from their rows or cells (the assembler of
:mod:`~arena_stats.models.contextual`). It is the same quantity in two layouts.

Ratings are ``offset + factor * theta`` (:mod:`~arena_stats.models.elo_scale`), so their
covariance is ``factor^2`` times that of the strengths, whatever the anchor. Intervals of
*differences from a reference model* use :func:`difference_cov`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, issparse
from scipy.special import ndtri

from .._util import checks
from ..data.aggregate import PairCounts
from .families import per_battle_scores

__all__ = ["z_value", "wald_interval", "sandwich", "pair_meat", "cell_scores", "cluster_meat",
           "difference_cov", "difference_se", "standard_errors"]


def z_value(confidence: float) -> float:
    """The two-sided normal quantile of an interval level: 1.96 for 0.95.

    Examples
    --------
    >>> round(z_value(0.95), 4)
    1.96
    """
    return float(ndtri(0.5 + checks.probability("confidence", confidence) / 2))


def wald_interval(center: Any, se: Any, confidence: float) -> tuple[Any, Any]:
    """``center -/+ z * se``: the Wald interval of every estimate."""
    z = z_value(confidence)
    return center - z * se, center + z * se


def standard_errors(cov: np.ndarray) -> np.ndarray:
    """Square roots of the diagonal (tiny negative round-off clipped to zero)."""
    return np.sqrt(np.clip(np.diag(cov), 0.0, None))


def sandwich(bread: np.ndarray, meat: Any) -> np.ndarray:
    """``bread @ meat @ bread`` (``meat`` dense or sparse: one dense product either way)."""
    if issparse(meat):
        return bread @ np.asarray(meat @ bread)
    return bread @ meat @ bread


def pair_meat(pc: PairCounts, x: np.ndarray, ties: str, log_tie: float | None) -> csr_matrix:
    """Sum over battles of the outer product of per-battle scores, from pair counts.

    A battle's score lives on its two models (and the tie parameter), so the meat has the
    comparison graph's sparsity: a sparse ``(dim, dim)`` matrix. Weighted battles contribute
    ``weight^2`` times their outer product (the score of a battle of weight ``w`` is ``w`` times
    the unweighted one).
    """
    n = pc.n_models
    has_tie = log_tie is not None
    dim = n + int(has_tie)
    theta = x[:n]
    d = theta[pc.i] - theta[pc.j]
    g_d, g_l = per_battle_scores(d, log_tie, ties)  # (P, 4)
    cp, co = pc.cell_pair, pc.cell_outcome
    cw = pc.cell_count * pc.cell_weight ** 2
    sd = g_d[cp, co]
    q_dd = np.bincount(cp, weights=cw * sd * sd, minlength=pc.n_pairs)
    rows = [pc.i, pc.j, pc.i, pc.j]
    cols = [pc.i, pc.j, pc.j, pc.i]
    vals = [q_dd, q_dd, -q_dd, -q_dd]
    if has_tie:
        assert g_l is not None
        sl = g_l[cp, co]
        q_dl = np.bincount(cp, weights=cw * sd * sl, minlength=pc.n_pairs)
        col = np.bincount(pc.i, weights=q_dl, minlength=n) - np.bincount(pc.j, weights=q_dl, minlength=n)
        models = np.arange(n)
        rows += [models, np.full(n, n), np.array([n])]
        cols += [np.full(n, n), models, np.array([n])]
        vals += [col, col, np.array([float((cw * sl * sl).sum())])]
    return csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(dim, dim))


def cell_scores(pc: PairCounts, x: np.ndarray, ties: str, log_tie: float | None) -> np.ndarray:
    """Score of one battle in each cell, ``(cells, dim)``, natural scale (weights included)."""
    n = pc.n_models
    d = x[:n][pc.i] - x[:n][pc.j]
    g_d, g_l = per_battle_scores(d, log_tie, ties)
    cp, co = pc.cell_pair, pc.cell_outcome
    sd = g_d[cp, co] * pc.cell_weight
    out = np.zeros((len(cp), n + int(log_tie is not None)))
    rows = np.arange(len(cp))
    out[rows, pc.i[cp]] = sd
    out[rows, pc.j[cp]] = -sd
    if g_l is not None:
        out[:, n] = g_l[cp, co] * pc.cell_weight
    return out


def cluster_meat(pc: PairCounts, x: np.ndarray, ties: str, log_tie: float | None, kmat: Any) -> np.ndarray:
    """The meat with scores summed within clusters: ``S' S`` with ``S = K @ cell_scores``, where
    ``K`` is the sparse (cluster x cell) count matrix."""
    per_cluster = np.asarray(kmat @ cell_scores(pc, x, ties, log_tie))
    return per_cluster.T @ per_cluster


def difference_cov(cov: np.ndarray, a: int) -> np.ndarray:
    """Covariance of ``theta - theta[a]`` from that of ``theta``: ``T C T'`` with ``T = I - 1 e_a'``,
    written out (O(n^2) instead of two dense products)."""
    return cov - cov[a][None, :] - cov[:, a][:, None] + cov[a, a]


def difference_se(cov: np.ndarray, a: int) -> np.ndarray:
    """Standard error of each ``theta_m - theta_a`` (zero for ``a`` itself), from the diagonal
    and one row only: ``C_mm + C_aa - 2 C_ma``."""
    d = np.diag(cov)
    return np.sqrt(np.clip(d + d[a] - 2.0 * cov[a], 0.0, None))
