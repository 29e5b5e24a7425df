"""Maximum-likelihood Bradley-Terry fits on pair counts, with four tie conventions.

The model. Each model ``i`` has a strength ``theta_i`` (natural log scale, sum zero). For a
battle between ``i`` and ``j`` let ``d = theta_i - theta_j``:

* ``half`` (LMSYS's convention, the default): ``P(i beats j) = sigmoid(d)``; a tie counts as half
  a win for each side, i.e. it contributes ``0.5 log p + 0.5 log (1 - p)``.
* ``drop``: the same model fitted on decisive battles only.
* ``davidson`` (Davidson 1970): ``P(i) : P(j) : P(tie) = e^{d/2} : e^{-d/2} : nu``, with the tie
  parameter ``nu = e^lambda`` estimated jointly.
* ``rao-kupper`` (Rao & Kupper 1967): ``P(i) = sigmoid(d - tau)``, ``P(j) = sigmoid(-d - tau)``,
  ``P(tie)`` the rest; ``eta = e^tau >= 1`` is estimated jointly.

``tie (bothbad)`` counts as a tie in all four.

The fit works on :class:`~arena_stats.data.aggregate.PairCounts`, never on raw rows. Each convention
supplies the log-likelihood of one pair as a function of ``d`` (and the tie parameter) with its
first and second derivatives; the engine assembles the full gradient and Hessian (a weighted
graph Laplacian) and runs damped Newton until the gradient norm of the *mean* log-likelihood is
at most :data:`GRAD_TOL`. Everything is vectorised over an optional leading batch axis so the
bootstrap fits all its rounds at once with the same code.

Identifiability: the likelihood is unchanged by adding a constant to every ``theta``, so the
Hessian is singular along ``1``. Newton steps solve ``(-H + e e^T) delta = g`` with
``e = 1/sqrt(n)`` on the strengths; because ``g`` is orthogonal to ``e`` this is the minimum-norm
step, and ``(-H + e e^T)^{-1} - e e^T`` is the Moore-Penrose inverse used for the covariance of
the sum-zero strengths.

Elo scale. ``rating = init + (scale / ln(base)) * theta``, so that
``P(i beats j) = 1 / (1 + base ** ((R_j - R_i) / scale))``; ratings are centred on ``init``
(default 1000) unless an ``anchor`` pins one model.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.special import expit, log_expit

from ..data.aggregate import PairCounts, aggregate
from ..data.battles import Battles
from ..data.readers import as_battles
from ..errors import ConvergenceError, InputError, NoMLEError

__all__ = ["TIES", "BTResult", "fit_bradley_terry", "fit_counts", "elo_transform"]

TIES = ("half", "drop", "davidson", "rao-kupper")
#: Stop when the Euclidean norm of the gradient of the mean log-likelihood is at most this.
GRAD_TOL = 1e-8
MAX_ITER = 100
#: A bootstrap round's chord iterations stop when, besides |grad| <= tol, no strength moves by
#: more than this (natural units; 1e-6 is 1.7e-4 Elo points before the final contraction).
CHORD_STEP_TOL = 1e-6
#: Rounds x pairs iterated together by the chord solvers: 16 rounds x 45,000 pairs of doubles
#: (5.7 MB an array) stay in L3 cache, 50 do not; small arenas take more rounds per block,
#: which saves Python overhead. The bootstrap sizes its chunks the same way.
CHORD_BLOCK_SIZE = 750_000
MAX_HALVINGS = 40
#: Newton systems of at least this many unknowns are solved by Cholesky (see _newton_step).
CHOLESKY_MIN_DIM = 400
#: Breadth-first steps of the quick strong-connectivity check before it defers to csgraph.
REACH_MAX_STEPS = 64
DEFAULT_SCALE = 400.0
DEFAULT_BASE = 10.0
DEFAULT_INIT = 1000.0
#: Where the Davidson / Rao-Kupper tie parameter starts (log nu, tau).
TIE_START = {"davidson": 0.0, "rao-kupper": 0.5}
#: Names of the tie parameters as reported.
TIE_PARAM_NAME = {"davidson": "nu", "rao-kupper": "eta"}


# ------------------------------------------------------------------------ per-pair likelihood
def pair_weights(table: np.ndarray, ties: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split a ``(..., P, 4)`` count table into (i-wins, j-wins, ties) as the convention sees them.

    A ``(..., P, 3)`` table has the two kinds of tie already merged in its last column.
    """
    wi, wj = table[..., 0], table[..., 1]
    wt = table[..., 2] + table[..., 3] if table.shape[-1] == 4 else table[..., 2]
    if ties == "half":
        return wi + 0.5 * wt, wj + 0.5 * wt, np.zeros_like(wt)
    if ties == "drop":
        return wi, wj, np.zeros_like(wt)
    return wi, wj, wt


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return expit(x)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return log_expit(x)


def local_terms(d: np.ndarray, lam: np.ndarray | None, wi: np.ndarray, wj: np.ndarray,
                wt: np.ndarray, ties: str, derivatives: bool = True, loglik: bool = True
                ) -> tuple[Any, ...]:
    """Log-likelihood of each pair and its derivatives in ``d`` and the tie parameter.

    Returns ``(ll, g_d, g_l, h_dd, h_dl, h_ll)``; the tie-parameter terms are ``None`` for
    ``half`` and ``drop``, and ``ll`` is ``None`` when ``loglik=False`` (the gradient-only
    iterations of the bootstrap skip the logarithms). ``lam`` broadcasts against ``d``.
    """
    if ties in ("half", "drop"):
        ll = wi * _log_sigmoid(d) + wj * _log_sigmoid(-d) if loglik else None
        if not derivatives:
            return (ll,)
        p = _sigmoid(d)
        g = wi - (wi + wj) * p
        h = -(wi + wj) * p * (1.0 - p)
        return ll, g, None, h, None, None
    if ties == "davidson":
        # log Z = log(e^{d/2} + e^{-d/2} + e^lam), computed stably
        half = 0.5 * d
        m = np.maximum(np.maximum(half, -half), lam)
        u, v, nu = np.exp(half - m), np.exp(-half - m), np.exp(lam - m)
        z = u + v + nu
        log_z = m + np.log(z)
        w = wi + wj + wt
        ll = (wi - wj) * half + wt * lam - w * log_z
        if not derivatives:
            return (ll,)
        pi, pj, pt = u / z, v / z, nu / z
        diff = pi - pj
        g_d = 0.5 * (wi - wj) - 0.5 * w * diff
        g_l = wt - w * pt
        h_dd = -w * (0.25 * (pi + pj) - 0.25 * diff * diff)
        h_dl = 0.5 * w * diff * pt
        h_ll = -w * pt * (1.0 - pt)
        return ll, g_d, g_l, h_dd, h_dl, h_ll
    if ties == "rao-kupper":
        tau = lam
        a, b = _sigmoid(d - tau), _sigmoid(-d - tau)
        t = np.clip(1.0 - a - b, 1e-300, None)
        ll = wi * _log_sigmoid(d - tau) + wj * _log_sigmoid(-d - tau) + wt * np.log(t)
        if not derivatives:
            return (ll,)
        A, B = a * (1 - a), b * (1 - b)
        Aa, Bb = A * (1 - 2 * a), B * (1 - 2 * b)
        t_d, t_t = B - A, A + B
        t_dd = -(Aa + Bb)
        t_dt = Aa - Bb
        g_d = wi * (1 - a) - wj * (1 - b) + wt * t_d / t
        g_l = -wi * (1 - a) - wj * (1 - b) + wt * t_t / t
        h_dd = -wi * A - wj * B + wt * (t_dd / t - t_d * t_d / (t * t))
        h_ll = -wi * A - wj * B + wt * (t_dd / t - t_t * t_t / (t * t))
        h_dl = wi * A - wj * B + wt * (t_dt / t - t_d * t_t / (t * t))
        return ll, g_d, g_l, h_dd, h_dl, h_ll
    raise InputError(f"unknown tie convention {ties!r}; expected one of {', '.join(TIES)}")


def per_battle_scores(d: np.ndarray, lam: float | None, ties: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Score (derivative of one battle's log-likelihood) in ``d`` and the tie parameter.

    Returns arrays of shape ``(P, 4)`` for the four verdicts (i won, j won, tie, bothbad).
    """
    eye = np.eye(4)
    g_d = np.empty(d.shape + (4,))
    g_l = np.empty(d.shape + (4,)) if ties in ("davidson", "rao-kupper") else None
    for o in range(4):
        cnt = np.broadcast_to(eye[o], d.shape + (4,))
        wi, wj, wt = pair_weights(cnt, ties)
        _, gd, gl, *_ = local_terms(d, None if lam is None else np.asarray(lam), wi, wj, wt, ties)
        g_d[..., o] = gd
        if g_l is not None:
            g_l[..., o] = gl
    return g_d, g_l


# ---------------------------------------------------------------------------- Newton engine
@dataclass
class _Problem:
    """Counts of one fit (or a batch of fits) in the form the Newton engine wants."""

    i: np.ndarray
    j: np.ndarray
    n: int
    wi: np.ndarray  # (B, P)
    wj: np.ndarray
    wt: np.ndarray
    ties: str
    l2: float = 0.0
    total: np.ndarray = field(default_factory=lambda: np.ones(1))  # (B,) total weight

    @property
    def has_tie_param(self) -> bool:
        return self.ties in ("davidson", "rao-kupper")

    @property
    def dim(self) -> int:
        return self.n + int(self.has_tie_param)


def _split(x: np.ndarray, prob: _Problem) -> tuple[np.ndarray, np.ndarray | None]:
    theta = x[:, : prob.n]
    lam = x[:, prob.n:prob.n + 1] if prob.has_tie_param else None
    return theta, lam


def _objective(x: np.ndarray, prob: _Problem) -> np.ndarray:
    theta, lam = _split(x, prob)
    d = theta[:, prob.i] - theta[:, prob.j]
    (ll,) = local_terms(d, lam, prob.wi, prob.wj, prob.wt, prob.ties, derivatives=False)
    out = ll.sum(axis=1)
    if prob.l2:
        out = out - 0.5 * prob.l2 * (theta * theta).sum(axis=1)
    return out


def _grad_hess(x: np.ndarray, prob: _Problem, hessian: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Log-likelihood, gradient ``(B, dim)`` and Hessian ``(B, dim, dim)`` at ``x``."""
    theta, lam = _split(x, prob)
    n, i, j = prob.n, prob.i, prob.j
    d = theta[:, i] - theta[:, j]
    ll, g_d, g_l, h_dd, h_dl, h_ll = local_terms(d, lam, prob.wi, prob.wj, prob.wt, prob.ties)
    nb = x.shape[0]
    g = np.zeros((nb, prob.dim))
    _scatter_signed(g, g_d, i, j)
    if prob.has_tie_param:
        g[:, n] = g_l.sum(axis=1)
    if prob.l2:
        ll = ll.sum(axis=1) - 0.5 * prob.l2 * (theta * theta).sum(axis=1)
        g[:, :n] -= prob.l2 * theta
    else:
        ll = ll.sum(axis=1)
    if not hessian:
        return ll, g, None
    h = np.zeros((nb, prob.dim, prob.dim))
    diag = np.zeros((nb, prob.dim))
    _scatter_unsigned(diag, h_dd, i, j)
    h[:, i, j] = -h_dd
    h[:, j, i] = -h_dd
    idx = np.arange(n)
    h[:, idx, idx] = diag[:, :n]
    if prob.has_tie_param:
        col = np.zeros((nb, prob.dim))
        _scatter_signed(col, h_dl, i, j)
        h[:, :n, n] = col[:, :n]
        h[:, n, :n] = col[:, :n]
        h[:, n, n] = h_ll.sum(axis=1)
    if prob.l2:
        h[:, idx, idx] -= prob.l2
    return ll, g, h


def _incidence(i: np.ndarray, j: np.ndarray, n: int, signed: bool) -> csr_matrix:
    """Sparse (P x n) matrix with +1 at column i and +1 (or -1) at column j of each pair."""
    p = len(i)
    rows = np.concatenate([np.arange(p), np.arange(p)])
    vals = np.concatenate([np.ones(p), -np.ones(p) if signed else np.ones(p)])
    return csr_matrix((vals, (rows, np.concatenate([i, j]))), shape=(p, n))


class _PairScatter:
    """Sums of per-pair values at the pairs' two models, in both layouts of the chord solvers.

    Rounds as rows (``v (B, P)``, :meth:`__call__`): each pair's value added at its ``i`` and
    subtracted at its ``j`` by two segmented sums (``np.add.reduceat``) over the pairs grouped
    by ``i`` and by ``j``. Pairs as rows (``v (P, B)``, the ``rows_at_*`` methods): sparse
    (models x pairs) products that add whole rows of rounds. Both release the GIL, so the
    bootstrap's threads run them in parallel.
    """

    def __init__(self, i: np.ndarray, j: np.ndarray, dim: int) -> None:
        self.dim, self.i, self.j = dim, i, j
        self.n_models = int(max(i.max(initial=-1), j.max(initial=-1)) + 1)
        self.order_i = None if np.all(i[1:] >= i[:-1]) else np.argsort(i, kind="stable")
        self.order_j = np.argsort(j, kind="stable")
        si = i if self.order_i is None else i[self.order_i]
        self.models_i, self.starts_i = np.unique(si, return_index=True)
        self.models_j, self.starts_j = np.unique(j[self.order_j], return_index=True)
        # (models x pairs) 0/1 matrices for the pair-major sums; built here, not on first use,
        # because the bootstrap's threads share one scatter
        p, ones = np.arange(len(i)), np.ones(len(i))
        shape = (self.n_models, len(i))
        self._rows_i = csr_matrix((ones, (i, p)), shape=shape)
        self._rows_j = csr_matrix((ones, (j, p)), shape=shape)
        self._rows_both = (self._rows_i + self._rows_j).tocsr()

    def __call__(self, v: np.ndarray) -> np.ndarray:
        out = np.zeros((v.shape[0], self.dim))
        vi = v if self.order_i is None else np.take(v, self.order_i, axis=1)
        out[:, self.models_i] = np.add.reduceat(vi, self.starts_i, axis=1)
        out[:, self.models_j] -= np.add.reduceat(np.take(v, self.order_j, axis=1), self.starts_j, axis=1)
        return out

    def rows_at_i(self, v: np.ndarray) -> np.ndarray:
        """``v (P, B) -> (n_models, B)``: the sum of ``v`` over the pairs whose ``i`` is each model.

        A sparse product adds whole rows of ``B`` rounds, ~0.35 ns per value against ~1.2 ns
        for ``reduceat`` along the first axis.
        """
        return self._rows_i @ v

    def rows_at_j(self, v: np.ndarray) -> np.ndarray:
        """``v (P, B) -> (n_models, B)``: the sum over the pairs whose ``j`` is each model."""
        return self._rows_j @ v

    def rows_at_both(self, v: np.ndarray) -> np.ndarray:
        """``rows_at_i(v) + rows_at_j(v)`` in one product."""
        return self._rows_both @ v


def _scatter_signed(out: np.ndarray, v: np.ndarray, i: np.ndarray, j: np.ndarray) -> None:
    """out[:, :n] += v at i and -v at j, for every batch row (pairs may repeat an index)."""
    n = out.shape[1]
    out += np.asarray((_incidence(i, j, n, True).T @ v.T).T)


def _scatter_unsigned(out: np.ndarray, v: np.ndarray, i: np.ndarray, j: np.ndarray) -> None:
    n = out.shape[1]
    out += np.asarray((_incidence(i, j, n, False).T @ v.T).T)


def _chord(prob: _Problem, x0: np.ndarray, step_matrix: np.ndarray, tol: float = GRAD_TOL,
           max_iter: int = 50, scatter: _PairScatter | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Chord iterations ``x += M g(x)`` with one fixed matrix ``M`` for a batch of fits.

    With ``M`` the inverse Hessian at the full-data MLE this converges linearly and fast for
    bootstrap resamples, whose Hessians differ from it by a few percent (the gradient shrinks
    ~50-fold per iteration), and each iteration costs one gradient instead of a factorisation
    per round. Rounds are iterated in blocks of :data:`CHORD_BLOCK_SIZE` values so that the
    per-pair arrays stay in cache. ``scatter`` (built from the pairs when not given) lets callers
    that solve many batches on the same pairs build it once. Returns ``(x, converged)``.
    """
    inc = scatter if scatter is not None else _PairScatter(prob.i, prob.j, prob.dim)
    x = x0.copy()
    converged = np.zeros(x.shape[0], bool)
    block = max(1, CHORD_BLOCK_SIZE // max(len(prob.i), 1))
    for lo in range(0, x.shape[0], block):
        rows = slice(lo, lo + block)
        sub = _Problem(prob.i, prob.j, prob.n, prob.wi[rows], prob.wj[rows], prob.wt[rows], prob.ties,
                       prob.l2, prob.total[rows])
        x[rows], converged[rows] = _chord_block(sub, x[rows], step_matrix, inc, tol, max_iter)
    return x, converged


def chord_plain(npair: np.ndarray, wins: np.ndarray, x0: np.ndarray, step_matrix: np.ndarray,
                scatter: _PairScatter, l2: float = 0.0, tol: float = GRAD_TOL, max_iter: int = 50
                ) -> tuple[np.ndarray, np.ndarray]:
    """Chord fits of the plain model (``half``/``drop``) for a batch of rounds, pair-major.

    The plain model's sufficient statistics are each pair's number of (counted) battles and
    each model's wins: ``npair`` is ``(P, B)`` and ``wins`` ``(n, B)``, one column per round;
    every round starts at ``x0`` (the full-data fit). The gradient is taken in the strength form
    ``g_m = W_m - pi_m sum_p n_p / (pi_m + pi_o)`` with ``pi = exp(theta)`` and the sum over the
    pairs of ``m``: per pair and iteration one division instead of a logistic function. With
    pairs as rows the gathers and sparse sums move whole rows: an iteration costs ~2.5 ns per
    pair and round, against ~13 ns for the logistic form with rounds as rows. Columns are
    iterated in blocks of :data:`CHORD_BLOCK_SIZE` values. Returns ``(x (B, n), converged)``.
    """
    n_rounds = npair.shape[1]
    x = np.repeat(x0[None], n_rounds, axis=0)
    converged = np.zeros(n_rounds, bool)
    total = npair.sum(axis=0)
    block = max(1, CHORD_BLOCK_SIZE // max(npair.shape[0], 1))
    for lo in range(0, n_rounds, block):
        cols = slice(lo, lo + block)
        x[cols], converged[cols] = _chord_plain_block(
            np.ascontiguousarray(npair[:, cols]), np.ascontiguousarray(wins[:, cols]), total[cols], x0,
            step_matrix, scatter, l2, tol, max_iter)
    return x, converged


def _chord_plain_block(npair: np.ndarray, wins: np.ndarray, total: np.ndarray, x0: np.ndarray,
                       step_matrix: np.ndarray, inc: _PairScatter, l2: float, tol: float, max_iter: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    n_rounds = npair.shape[1]
    converged = np.zeros(n_rounds, bool)
    rows = np.arange(n_rounds)
    x = np.repeat(x0[None], n_rounds, axis=0)
    wins = wins.T
    # every round starts at x0, so the first strengths are shared
    pi0 = np.exp(x0 - x0.max())
    q = npair * (1.0 / (pi0[inc.i] + pi0[inc.j]))[:, None]
    pi = pi0[:, None]
    prev_x = prev_f = None
    for it in range(max_iter):
        xa = x[rows]
        if it:
            # strengths are defined up to a factor: scaling by the largest keeps exp finite
            pi = np.exp(xa.T - xa.max(axis=1))
            q = np.take(pi, inc.i, axis=0)
            q += np.take(pi, inc.j, axis=0)
            np.divide(npair, q, out=q)
        load = inc.rows_at_both(q)
        load *= pi
        g = wins - load.T
        if l2:
            g -= l2 * xa
        x, done, prev_x, prev_f = _chord_update(x, rows, xa, g, total, step_matrix, tol, len(x0),
                                                 prev_x, prev_f, converged)
        if done is None or done.all():
            break
        keep = ~done
        if not keep.all():
            # drop the converged rounds from the batch (copies, so only when some finished)
            rows, npair, wins, total = rows[keep], npair[:, keep], wins[keep], total[keep]
            prev_x, prev_f = prev_x[keep], prev_f[keep]
    return x, converged


def _chord_update(x: np.ndarray, rows: np.ndarray, xa: np.ndarray, g: np.ndarray, total: np.ndarray,
                  step_matrix: np.ndarray, tol: float, n: int, prev_x: np.ndarray | None,
                  prev_f: np.ndarray | None, converged: np.ndarray) -> tuple[Any, ...]:
    """One accelerated chord step of the active rounds ``rows`` (values ``xa``, gradient ``g``).

    Writes the new points into ``x`` and marks finished rounds in ``converged``; returns
    ``(x, done, prev_x, prev_f)`` with ``done`` None when a gradient was not finite.
    """
    gnorm = np.linalg.norm(g, axis=1) / total
    if not np.isfinite(gnorm).all():
        return x, None, prev_x, prev_f
    # A round is done when |grad| <= tol *and* its chord step moves no strength by more than
    # CHORD_STEP_TOL: the gradient norm alone is loose for sparsely compared models (their
    # Hessian is small, so 1e-8 can still mean 1e-3 Elo). The step is taken by every row,
    # so a finished round ends one ~50-fold contraction past that step (~1e-5 Elo).
    step = g @ step_matrix
    step[:, :n] -= step[:, :n].mean(axis=1, keepdims=True)
    done = (gnorm <= tol) & (np.abs(step).max(axis=1) <= CHORD_STEP_TOL)
    converged[rows[done]] = True
    new = xa + step
    if prev_x is not None:
        # Anderson acceleration of depth 1: the secant through the last two chord steps
        # extrapolates along the slowest-contracting direction (rounds of sparse arenas need
        # ~8 plain chord steps, ~7 accelerated, at most 8 instead of 12). Finished rows keep
        # the plain step.
        df = step - prev_f
        den = np.einsum("ij,ij->i", df, df)
        gamma = np.where(den > 0, np.einsum("ij,ij->i", df, step) / np.where(den > 0, den, 1.0), 0.0)
        gamma[done] = 0.0
        new -= gamma[:, None] * (xa - prev_x + df)
    x[rows] = new
    return x, done, xa, step


def _tie_scores(theta: np.ndarray, lam: np.ndarray, wi: np.ndarray, wj: np.ndarray, wt: np.ndarray,
                i: np.ndarray, j: np.ndarray, ties: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair derivatives in ``d`` and the tie parameter, as :func:`local_terms` gives them, for
    Davidson and Rao-Kupper, computed from per-model strengths: exponentials of the ``n``
    strengths instead of three per pair (~6x faster; the bootstrap's chord iterations use it).

    Davidson, with ``s = exp(theta / 2)``: ``P(i) : P(j) : P(tie) = s_i^2 : s_j^2 : nu s_i s_j``.
    Rao-Kupper, with ``pi = exp(theta)`` and ``eta = exp(tau)``:
    ``P(i) = pi_i / (pi_i + eta pi_j)`` and ``1 - P(i) = eta pi_j / (pi_i + eta pi_j)``.
    Strengths are scaled by the round's largest, which leaves every probability unchanged.
    """
    if ties == "davidson":
        g_d, tie_share = _davidson_scores(theta, lam, 0.5 * (wi + wj + wt), 0.5 * (wi - wj), i, j)
        return g_d, wt - 2.0 * tie_share
    pi = np.exp(theta - theta.max(axis=1, keepdims=True))
    pi_i, pi_j = np.take(pi, i, axis=1), np.take(pi, j, axis=1)
    eta = np.exp(lam)
    e_pj, e_pi = eta * pi_j, eta * pi_i
    d1, d2 = pi_i + e_pj, pi_j + e_pi
    a, b = pi_i / d1, pi_j / d2
    not_a, not_b = e_pj / d1, e_pi / d2  # 1 - a and 1 - b without cancellation
    t = np.clip(1.0 - a - b, 1e-300, None)
    aa, bb = a * not_a, b * not_b
    wt_t = wt / t
    g_d = wi * not_a - wj * not_b + wt_t * (bb - aa)
    g_l = -wi * not_a - wj * not_b + wt_t * (aa + bb)
    return g_d, g_l


def _davidson_scores(theta: np.ndarray, lam: np.ndarray, half_w: np.ndarray, half_diff: np.ndarray,
                     i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Davidson's ``g_d`` per pair and half its expected ties ``w P(tie) / 2``, from the
    round's constants ``half_w = (wi + wj + wt) / 2`` and ``half_diff = (wi - wj) / 2``
    (the chord iterations compute those once; see :func:`_tie_scores`)."""
    half = 0.5 * theta
    s = np.exp(half - half.max(axis=1, keepdims=True))
    si, sj = np.take(s, i, axis=1), np.take(s, j, axis=1)
    a, b = si * si, sj * sj
    c = si * sj
    c *= np.exp(lam)
    z = a + b
    z += c
    r = np.divide(half_w, z, out=z)
    a -= b
    a *= r
    g_d = np.subtract(half_diff, a, out=a)
    c *= r
    return g_d, c


def _chord_block(prob: _Problem, x: np.ndarray, step_matrix: np.ndarray, inc: _PairScatter, tol: float,
                 max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Chord rounds in the logistic form, rounds as rows (any tie convention; the bootstrap uses
    it for models with a tie parameter and :func:`chord_plain` for the others)."""
    n = prob.n
    converged = np.zeros(x.shape[0], bool)
    rows = np.arange(x.shape[0])
    wi, wj, wt, total = prob.wi, prob.wj, prob.wt, prob.total
    davidson = prob.ties == "davidson"
    if davidson:
        # the round's constants, once: the iterations then need one division per pair
        half_w, half_diff, ties_seen = 0.5 * (wi + wj + wt), 0.5 * (wi - wj), wt.sum(axis=1)
    prev_x = prev_f = None
    for _ in range(max_iter):
        xa = x[rows]
        theta = xa[:, :n]
        if davidson:
            g_d, tie_share = _davidson_scores(theta, xa[:, n:n + 1], half_w, half_diff, prob.i, prob.j)
            g_l = None
        elif prob.ties == "rao-kupper":
            g_d, g_l = _tie_scores(theta, xa[:, n:n + 1], wi, wj, wt, prob.i, prob.j, prob.ties)
        else:
            d = np.take(theta, prob.i, axis=1)
            d -= np.take(theta, prob.j, axis=1)
            _, g_d, g_l, *_ = local_terms(d, xa[:, n:n + 1], wi, wj, wt, prob.ties, loglik=False)
        g = inc(g_d)
        if davidson:
            g[:, n] = ties_seen - 2.0 * tie_share.sum(axis=1)
        elif g_l is not None:
            g[:, n] = g_l.sum(axis=1)
        if prob.l2:
            g[:, :n] -= prob.l2 * theta
        x, done, prev_x, prev_f = _chord_update(x, rows, xa, g, total, step_matrix, tol, n,
                                                 prev_x, prev_f, converged)
        if done is None or done.all():
            break
        keep = ~done
        if not keep.all():
            rows, wi, wj, wt, total = rows[keep], wi[keep], wj[keep], wt[keep], total[keep]
            if davidson:
                half_w, half_diff, ties_seen = half_w[keep], half_diff[keep], ties_seen[keep]
            prev_x, prev_f = prev_x[keep], prev_f[keep]
    return x, converged


def _null_vector(prob: _Problem) -> np.ndarray:
    e = np.zeros(prob.dim)
    e[: prob.n] = 1.0 / np.sqrt(prob.n)
    return e


def _newton(prob: _Problem, x0: np.ndarray, tol: float = GRAD_TOL, max_iter: int = MAX_ITER
            ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]:
    """Damped Newton for a batch of fits.

    Returns ``(x, loglik, iterations, grad_norm, hessian, converged)`` where ``grad_norm`` is the
    norm of the gradient of the mean log-likelihood.
    """
    x = x0.copy()
    e = _null_vector(prob)
    ee = np.outer(e, e)
    nb = x.shape[0]
    active = np.ones(nb, bool)
    ll, g, h = _grad_hess(x, prob)
    gnorm = np.linalg.norm(g, axis=1) / prob.total
    it = 0
    while it < max_iter:
        active = gnorm > tol
        if not active.any():
            break
        it += 1
        a = np.flatnonzero(active)
        sub = _subproblem(prob, a)
        step = _newton_step(-h[a] + ee, g[a])
        x_new, ll_new = _line_search(sub, x[a], ll[a], step)
        x[a] = x_new
        ll_a, g_a, h_a = _grad_hess(x[a], sub)
        ll[a], g[a], h[a] = ll_a, g_a, h_a
        gnorm[a] = np.linalg.norm(g_a, axis=1) / sub.total
    converged = gnorm <= tol
    return x, ll, it, gnorm, h, converged


def _newton_step(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve ``a @ step = g`` for a batch of (usually positive definite) matrices ``a``.

    From :data:`CHOLESKY_MIN_DIM` models on, by Cholesky (half the flops of LU: a 2,639-model
    Newton step takes 0.25 s instead of 0.36 s), falling back to LU where ``a`` is not positive
    definite (a Rao-Kupper fit far from its optimum); small systems in one batched LU call.
    """
    if a.shape[-1] < CHOLESKY_MIN_DIM:
        return np.linalg.solve(a, g[..., None])[..., 0]
    from scipy.linalg import LinAlgError, cho_factor, cho_solve  # only large fits pay the import
    out = np.empty_like(g)
    for k in range(a.shape[0]):
        try:
            out[k] = cho_solve(cho_factor(a[k], check_finite=False), g[k], check_finite=False)
        except LinAlgError:
            out[k] = np.linalg.solve(a[k], g[k])
    return out


def _inverse(a: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric (usually positive definite) matrix; from :data:`CHOLESKY_MIN_DIM`
    on through its Cholesky factor (half the flops of LU: 0.6 s instead of 1.3 s at 2,639 models),
    by LU where it is not positive definite."""
    if a.shape[0] < CHOLESKY_MIN_DIM:
        return np.linalg.inv(a)
    from scipy.linalg.lapack import dpotrf, dpotri
    factor, info = dpotrf(a, lower=True)
    if info == 0:
        inv, info = dpotri(factor, lower=True)
        if info == 0:
            lower = np.tril(inv)
            return lower + np.tril(inv, -1).T
    return np.linalg.inv(a)


def _polish(prob: _Problem, x: np.ndarray, ll: np.ndarray, gnorm: np.ndarray, h: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One more full Newton step after convergence, kept only if the gradient shrinks.

    Newton converges quadratically, so from |grad| <= 1e-8 one step lands at round-off level:
    ratings exact to ~1e-9 Elo instead of ~1e-4, for one extra gradient and solve.
    """
    e = _null_vector(prob)
    _, g, _ = _grad_hess(x, prob, hessian=False)
    step = _newton_step(-h + np.outer(e, e), g)
    x_new = x + step
    _recentre(x_new, prob)
    ll_new, g_new, h_new = _grad_hess(x_new, prob)
    gnorm_new = np.linalg.norm(g_new, axis=1) / prob.total
    better = (gnorm_new < gnorm) & (ll_new >= ll - 1e-12 * np.abs(ll))
    if not better.any():
        return x, ll, gnorm, h
    return (np.where(better[:, None], x_new, x), np.where(better, ll_new, ll),
            np.where(better, gnorm_new, gnorm), np.where(better[:, None, None], h_new, h))


def _subproblem(prob: _Problem, rows: np.ndarray) -> _Problem:
    if prob.wi.shape[0] == 1 or len(rows) == prob.wi.shape[0]:
        return prob if len(rows) == prob.wi.shape[0] else _Problem(
            prob.i, prob.j, prob.n, prob.wi[rows], prob.wj[rows], prob.wt[rows], prob.ties, prob.l2,
            prob.total[rows])
    return _Problem(prob.i, prob.j, prob.n, prob.wi[rows], prob.wj[rows], prob.wt[rows], prob.ties,
                    prob.l2, prob.total[rows])


def _line_search(prob: _Problem, x: np.ndarray, ll: np.ndarray, step: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Halve the step of each batch member until its log-likelihood does not decrease."""
    t = np.ones(x.shape[0])
    x_new = x + step
    _recentre(x_new, prob)
    ll_new = _feasible_objective(x_new, prob)
    for _ in range(MAX_HALVINGS):
        # a relative slack absorbs round-off when the step is already at machine precision
        bad = ~(ll_new >= ll - 1e-12 * np.abs(ll))
        if not bad.any():
            break
        t[bad] *= 0.5
        x_new[bad] = x[bad] + t[bad, None] * step[bad]
        _recentre(x_new, prob)
        sub = _subproblem(prob, np.flatnonzero(bad))
        ll_new[bad] = _feasible_objective(x_new[bad], sub)
    return x_new, ll_new


def _feasible_objective(x: np.ndarray, prob: _Problem) -> np.ndarray:
    out = _objective(x, prob)
    if prob.ties == "rao-kupper":
        out = np.where(x[:, prob.n] > 0, out, -np.inf)
    return np.where(np.isfinite(out), out, -np.inf)


def _recentre(x: np.ndarray, prob: _Problem) -> None:
    x[:, : prob.n] -= x[:, : prob.n].mean(axis=1, keepdims=True)


# --------------------------------------------------------------------------- existence check
def check_mle_exists(pc: PairCounts, ties: str, table: np.ndarray | None = None) -> None:
    """Raise :class:`NoMLEError` when the MLE does not exist, naming the models responsible.

    The MLE exists iff the directed graph with an edge ``i -> j`` whenever ``i`` scored against
    ``j`` (a win, or a tie when ties carry information) is strongly connected; Davidson and
    Rao-Kupper also need at least one tie and one decisive battle.
    """
    t = pc.table() if table is None else table
    wi, wj, wt = pair_weights(t, ties)
    n = pc.n_models
    names = pc.models
    beat_ij = (wi + wt) > 0  # i scored against j
    beat_ji = (wj + wt) > 0
    rows = np.concatenate([pc.i[beat_ij], pc.j[beat_ji]])
    cols = np.concatenate([pc.j[beat_ij], pc.i[beat_ji]])
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    played = np.zeros(n, bool)
    played[pc.i[(wi + wj + wt) > 0]] = True
    played[pc.j[(wi + wj + wt) > 0]] = True
    if not played.all():
        missing = [names[k] for k in np.flatnonzero(~played)]
        raise NoMLEError(f"no usable battles for {_list(missing)} (under ties={ties!r}); "
                         "their ratings are not identified", missing)
    if _strongly_connected(graph):
        _check_tie_parameter_data(wi, wj, wt, ties)
        return
    # imported only to explain a failure: scipy.sparse.csgraph pulls in scipy.sparse.linalg and
    # scipy.linalg (~120 ms)
    from scipy.sparse.csgraph import connected_components

    n_weak, weak = connected_components(graph, directed=True, connection="weak")
    if n_weak > 1:
        groups = [[names[k] for k in np.flatnonzero(weak == c)] for c in range(n_weak)]
        groups.sort(key=len)
        desc = "; ".join(_list(g) for g in groups[:4])
        raise NoMLEError(
            f"the comparison graph falls into {n_weak} groups that never met each other ({desc}); "
            "ratings across groups are not comparable. Fit each group separately, or add a prior "
            "(l2 > 0 / --prior)", [m for g in groups[:-1] for m in g])
    n_strong, strong = connected_components(graph, directed=True, connection="strong")
    if n_strong > 1:
        # condensation: components that never lose (no edge into them) or never win
        comp_in = np.zeros(n_strong, bool)
        comp_out = np.zeros(n_strong, bool)
        cr, cc = strong[rows], strong[cols]
        cross = cr != cc
        comp_out[cr[cross]] = True
        comp_in[cc[cross]] = True
        never_lose = [names[k] for k in np.flatnonzero(~comp_in[strong])]
        never_win = [names[k] for k in np.flatnonzero(~comp_out[strong])]
        parts = []
        if never_lose:
            parts.append(f"{_list(never_lose)} never lost against the others")
        if never_win:
            parts.append(f"{_list(never_win)} never won against the others")
        raise NoMLEError("the maximum-likelihood ratings do not exist (they diverge to infinity): "
                         + "; ".join(parts) + ". Add a prior (l2 > 0 / --prior) or more battles",
                         never_lose + never_win)
    _check_tie_parameter_data(wi, wj, wt, ties)


def _strongly_connected(graph: csr_matrix) -> bool:
    """Whether every node reaches node 0 and node 0 reaches every node (breadth-first by sparse
    products; arenas have small diameters). False also when that takes over
    :data:`REACH_MAX_STEPS` steps, leaving the verdict to ``csgraph``."""
    n = graph.shape[0]
    for g in (graph, graph.T.tocsr()):
        reached = np.zeros(n)
        reached[0] = 1.0
        count = 1
        for _ in range(REACH_MAX_STEPS):
            reached = np.minimum(reached + g @ reached, 1.0)
            new_count = int(np.count_nonzero(reached))
            if new_count in (n, count):
                break
            count = new_count
        if np.count_nonzero(reached) < n:
            return False
    return True


def _check_tie_parameter_data(wi: np.ndarray, wj: np.ndarray, wt: np.ndarray, ties: str) -> None:
    if ties in ("davidson", "rao-kupper"):
        total_t = float(wt.sum())
        total_d = float((wi + wj).sum())
        if total_t <= 0:
            raise NoMLEError(f"ties={ties!r} needs at least one tie to estimate the tie parameter; "
                             "these battles have none (use ties='half' or 'drop')")
        if total_d <= 0:
            raise NoMLEError(f"ties={ties!r} needs at least one decisive battle; all are ties")


def _list(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(map(str, names[:limit]))
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# ------------------------------------------------------------------------------- the result
def elo_transform(theta: np.ndarray, models: Sequence[str], scale: float, base: float, init: float,
                  anchor: Mapping[str, float] | None) -> np.ndarray:
    """Map sum-zero strengths (``(..., n)``) to Elo-scale ratings, centred or anchored."""
    k = scale / np.log(base)
    r = init + k * (theta - theta.mean(axis=-1, keepdims=True))
    if anchor:
        if len(anchor) != 1:
            raise InputError("anchor takes exactly one MODEL=RATING")
        (name, value), = anchor.items()
        models = list(models)
        if name not in models:
            from ..errors import suggest
            raise InputError(f"anchor model {name!r} is not among the fitted models{suggest(name, models)}")
        r = r - r[..., [models.index(name)]] + float(value)
    return r


@dataclass(frozen=True)
class BTResult:
    """A fitted Bradley-Terry model.

    Attributes
    ----------
    models : list of str
    theta : ndarray
        Strengths on the natural log scale, summing to zero.
    ratings : pandas.Series
        Elo-scale ratings (``init + scale / ln(base) * theta``, or anchored).
    se, se_robust : pandas.Series
        Standard errors of the ratings from the observed Fisher information and from the
        sandwich (robust) estimator, Elo points.
    cov, cov_robust : pandas.DataFrame
        Covariance matrices of the ratings (Elo points squared), under the sum-zero constraint.
    tie_param, tie_param_se : float or None
        ``nu`` (Davidson) or ``eta`` (Rao-Kupper) and its standard error; ``None`` otherwise.
    loglik : float
        Log-likelihood at the optimum (ties as half-wins for ``half``).
    n_iter : int
    grad_norm : float
        Norm of the gradient of the mean log-likelihood at the optimum.
    n_battles : float
    settings : dict
        ``ties, l2, scale, base, init, anchor, tol``.
    counts : PairCounts
        The sufficient statistics the model was fitted on.
    """

    models: list[str]
    theta: np.ndarray
    ratings: pd.Series
    se: pd.Series
    se_robust: pd.Series
    cov: pd.DataFrame
    cov_robust: pd.DataFrame
    tie_param: float | None
    tie_param_se: float | None
    loglik: float
    n_iter: int
    grad_norm: float
    n_battles: float
    settings: dict[str, Any]
    counts: PairCounts = field(repr=False)
    log_tie: float | None = None

    @property
    def ties(self) -> str:
        return str(self.settings["ties"])

    def _index(self, names: Any) -> np.ndarray:
        lookup = {m: k for k, m in enumerate(self.models)}
        arr = np.atleast_1d(np.asarray(names, dtype=object))
        out = np.empty(len(arr), np.int64)
        for k, nm in enumerate(arr):
            if nm not in lookup:
                from ..errors import suggest
                raise InputError(f"unknown model {nm!r}{suggest(nm, self.models)}")
            out[k] = lookup[nm]
        return out

    def predict_proba(self, model_a: Any, model_b: Any) -> np.ndarray:
        """Outcome probabilities for battles ``model_a`` vs ``model_b``.

        Returns an array of shape ``(n, 3)``: P(a wins), P(b wins), P(tie). Under ``half`` and
        ``drop`` the tie column is 0 and the first two are the BT preference probabilities.

        Examples
        --------
        >>> from arena_stats.data.simulate import simulate_arena
        >>> from arena_stats import fit_bradley_terry
        >>> fit = fit_bradley_terry(simulate_arena(4, 2000, seed=3).battles, ties="davidson")
        >>> p = fit.predict_proba(["model-000"], ["model-001"])
        >>> p.shape, bool(abs(p.sum() - 1) < 1e-12)
        ((1, 3), True)
        """
        a, b = self._index(model_a), self._index(model_b)
        d = self.theta[a] - self.theta[b]
        return outcome_probabilities(d, self.ties, self.log_tie)

    def win_probability(self, model_a: Any, model_b: Any) -> np.ndarray:
        """P(a is preferred to b), a tie counting half."""
        p = self.predict_proba(model_a, model_b)
        return p[:, 0] + 0.5 * p[:, 2]

    def win_probability_matrix(self, order: Sequence[str] | None = None) -> pd.DataFrame:
        """Predicted P(row beats column), ties counting half; diagonal 0.5."""
        d = self.theta[:, None] - self.theta[None, :]
        p = outcome_probabilities(d.ravel(), self.ties, self.log_tie)
        m = (p[:, 0] + 0.5 * p[:, 2]).reshape(d.shape)
        df = pd.DataFrame(m, index=pd.Index(self.models, name="model"),
                          columns=pd.Index(self.models, name="opponent"))
        return df.loc[list(order), list(order)] if order is not None else df

    def to_frame(self) -> pd.DataFrame:
        """One row per model, best first: rating, se, se_robust, theta."""
        df = pd.DataFrame({"model": self.models, "rating": self.ratings.to_numpy(),
                           "se": self.se.to_numpy(), "se_robust": self.se_robust.to_numpy(),
                           "theta": self.theta})
        return df.sort_values("rating", ascending=False, kind="stable").reset_index(drop=True)

    def summary(self, top: int | None = 20) -> str:
        """A readable summary table, like statsmodels' ``summary()``."""
        s = self.settings
        lines = [
            "Bradley-Terry maximum-likelihood fit",
            "=" * 64,
            f"ties: {s['ties']:<14} models: {len(self.models):<8} battles: {self.n_battles:,.0f}",
            f"log-likelihood: {self.loglik:.4f}   iterations: {self.n_iter}   "
            f"|grad| (mean ll): {self.grad_norm:.2e}",
            f"scale: {s['scale']:g}  base: {s['base']:g}  init: {s['init']:g}  l2: {s['l2']:g}"
            + (f"  anchor: {s['anchor']}" if s.get("anchor") else ""),
        ]
        if self.tie_param is not None:
            name = TIE_PARAM_NAME[self.ties]
            lines.append(f"tie parameter {name}: {self.tie_param:.4f} (se {self.tie_param_se:.4f})")
        lines.append("-" * 64)
        frame = self.to_frame()
        if top is not None:
            frame = frame.head(top)
        lines.append(f"{'model':<32} {'rating':>9} {'se':>7} {'se_robust':>9}")
        for row in frame.itertuples(index=False):
            lines.append(f"{str(row.model)[:32]:<32} {row.rating:9.2f} {row.se:7.2f} {row.se_robust:9.2f}")
        if top is not None and len(self.models) > top:
            lines.append(f"... {len(self.models) - top} more models")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def outcome_probabilities(d: np.ndarray, ties: str, log_tie: float | None) -> np.ndarray:
    """P(i), P(j), P(tie) for strength differences ``d`` under a tie convention.

    Exactly swap-symmetric: ``outcome_probabilities(-d)`` is ``outcome_probabilities(d)`` with
    the first two columns exchanged, bit for bit, under every convention (every expression
    below is either the same for ``d`` and ``-d`` or exchanges with its mirror image).
    """
    d = np.asarray(d, dtype=np.float64)
    if ties in ("half", "drop"):
        # the smaller probability from the sigmoid of -|d| (accurate in the tail), the larger as
        # its complement; ``p, 1 - p`` with p = sigmoid(d) is not symmetric: 1 - sigmoid(d)
        # differs from sigmoid(-d) in the last bits
        small = _sigmoid(-np.abs(d))
        large = 1 - small
        win = d >= 0
        return np.stack([np.where(win, large, small), np.where(win, small, large), np.zeros_like(d)], axis=-1)
    if ties == "davidson":
        half = 0.5 * d
        m = np.maximum(np.abs(half), log_tie)
        u, v, nu = np.exp(half - m), np.exp(-half - m), np.exp(log_tie - m)
        z = u + v + nu
        return np.stack([u / z, v / z, nu / z], axis=-1)
    a, b = _sigmoid(d - log_tie), _sigmoid(-d - log_tie)
    # 1 - (a + b), not 1 - a - b: the sum is the same for (a, b) and (b, a), so swapping the two
    # contestants swaps P(i) and P(j) and leaves P(tie) unchanged exactly
    return np.stack([a, b, 1 - (a + b)], axis=-1)


# ------------------------------------------------------------------------------------ fitting
def _validate_settings(ties: str, l2: float, scale: float, base: float) -> None:
    if ties not in TIES:
        raise InputError(f"unknown tie convention {ties!r}; expected one of {', '.join(TIES)}")
    if not (l2 >= 0 and np.isfinite(l2)):
        raise InputError(f"l2 must be a non-negative number, got {l2!r}")
    if not (scale > 0 and base > 1):
        raise InputError(f"need scale > 0 and base > 1, got scale={scale!r}, base={base!r}")


def make_problem(pc: PairCounts, ties: str, l2: float = 0.0, cell_count: np.ndarray | None = None
                 ) -> _Problem:
    """Counts (or a batch of resampled counts) as a Newton problem."""
    table = pc.table(cell_count)
    if table.ndim == 2:
        table = table[None]
    wi, wj, wt = pair_weights(table, ties)
    total = (wi + wj + wt).sum(axis=1)
    return _Problem(pc.i, pc.j, pc.n_models, wi, wj, wt, ties, l2, np.where(total > 0, total, 1.0))


def start_point(n: int, ties: str, batch: int = 1) -> np.ndarray:
    x0 = np.zeros((batch, n + int(ties in TIE_START)))
    if ties in TIE_START:
        x0[:, n] = TIE_START[ties]
    return x0


def fit_counts(pc: PairCounts, ties: str = "half", *, l2: float = 0.0, scale: float = DEFAULT_SCALE,
               base: float = DEFAULT_BASE, init: float = DEFAULT_INIT,
               anchor: Mapping[str, float] | None = None, tol: float = GRAD_TOL,
               max_iter: int = MAX_ITER, x0: np.ndarray | None = None) -> BTResult:
    """:func:`fit_bradley_terry` on already aggregated :class:`PairCounts`."""
    _validate_settings(ties, l2, scale, base)
    if pc.n_models < 2:
        raise InputError("need at least two models to fit")
    if l2 == 0:
        check_mle_exists(pc, ties)
    else:
        try:
            check_mle_exists(pc, ties)
        except NoMLEError as exc:
            warnings.warn(f"without the prior the MLE would not exist ({exc}); the l2={l2:g} prior "
                          "keeps the ratings finite, so they depend on it", stacklevel=3)
    prob = make_problem(pc, ties, l2)
    start = start_point(pc.n_models, ties) if x0 is None else np.asarray(x0, float).reshape(1, -1)
    x, ll, n_iter, gnorm, h, ok = _newton(prob, start, tol=tol, max_iter=max_iter)
    if not ok[0]:
        raise ConvergenceError(f"Newton did not reach |grad| <= {tol:g} in {max_iter} iterations "
                               f"(|grad| = {gnorm[0]:.3g})")
    x, ll, gnorm, h = _polish(prob, x, ll, gnorm, h)
    return _build_result(pc, prob, x[0], float(ll[0]), n_iter, float(gnorm[0]), h[0],
                         dict(ties=ties, l2=float(l2), scale=float(scale), base=float(base),
                              init=float(init), anchor=dict(anchor) if anchor else None, tol=tol))


def _build_result(pc: PairCounts, prob: _Problem, x: np.ndarray, ll: float, n_iter: int, gnorm: float,
                  h: np.ndarray, settings: dict[str, Any]) -> BTResult:
    n = pc.n_models
    e = _null_vector(prob)
    info = -h
    if prob.l2:
        cov_x = _inverse(info)
    else:
        cov_x = _inverse(info + np.outer(e, e)) - np.outer(e, e)
    # the meat is as sparse as the comparison graph: one dense product instead of two
    cov_r = cov_x @ np.asarray(_meat(pc, prob, x) @ cov_x)
    k = settings["scale"] / np.log(settings["base"])
    theta = x[:n]
    ratings = elo_transform(theta, pc.models, settings["scale"], settings["base"], settings["init"],
                            settings["anchor"])
    idx = pd.Index(pc.models, name="model")
    cov_theta = cov_x[:n, :n]
    cov_rob_theta = cov_r[:n, :n]
    if settings["anchor"]:
        # anchoring fixes one model: ratings are differences to it
        a = pc.models.index(next(iter(settings["anchor"])))
        cov_theta = _difference_cov(cov_theta, a)
        cov_rob_theta = _difference_cov(cov_rob_theta, a)
    cov = pd.DataFrame(k * k * cov_theta, index=idx, columns=idx)
    cov_rob = pd.DataFrame(k * k * cov_rob_theta, index=idx, columns=idx)
    tie_param = tie_se = log_tie = None
    if prob.has_tie_param:
        log_tie = float(x[n])
        tie_param = float(np.exp(log_tie))
        tie_se = float(tie_param * np.sqrt(max(cov_x[n, n], 0.0)))
    return BTResult(
        models=list(pc.models), theta=theta.copy(),
        ratings=pd.Series(ratings, index=idx, name="rating"),
        se=pd.Series(np.sqrt(np.clip(np.diag(cov.to_numpy()), 0, None)), index=idx, name="se"),
        se_robust=pd.Series(np.sqrt(np.clip(np.diag(cov_rob.to_numpy()), 0, None)), index=idx,
                            name="se_robust"),
        cov=cov, cov_robust=cov_rob, tie_param=tie_param, tie_param_se=tie_se, loglik=ll,
        n_iter=n_iter, grad_norm=gnorm, n_battles=pc.n_battles, settings=settings, counts=pc,
        log_tie=log_tie)


def _difference_cov(cov: np.ndarray, a: int) -> np.ndarray:
    """Covariance of ``theta - theta[a]`` from that of ``theta``: ``T C T'`` with ``T = I - 1 e_a'``,
    written out (O(n^2) instead of two dense products)."""
    return cov - cov[a][None, :] - cov[:, a][:, None] + cov[a, a]


def cell_scores(fit: BTResult) -> np.ndarray:
    """Score vector of one battle in each cell, shape ``(cells, n_models [+ 1])``, natural scale."""
    pc = fit.counts
    n = pc.n_models
    d = fit.theta[pc.i] - fit.theta[pc.j]
    g_d, g_l = per_battle_scores(d, fit.log_tie, fit.ties)
    cp, co = pc.cell_pair, pc.cell_outcome
    sd = g_d[cp, co] * pc.cell_weight
    out = np.zeros((len(cp), n + int(g_l is not None)))
    rows = np.arange(len(cp))
    out[rows, pc.i[cp]] = sd
    out[rows, pc.j[cp]] = -sd
    if g_l is not None:
        out[:, n] = g_l[cp, co] * pc.cell_weight
    return out


def cluster_robust_cov(fit: BTResult, battles: Battles, cluster: str) -> pd.DataFrame:
    """Cluster-robust (sandwich) covariance of the ratings, Elo points squared.

    The meat sums the per-battle scores within each cluster (voter, prompt, ...) before taking
    outer products, so correlated votes of one cluster count as one piece of evidence; with one
    battle per cluster it equals :attr:`BTResult.cov_robust`. No small-sample correction.
    """
    from ..data.aggregate import cluster_cell_matrix
    pc = fit.counts
    kmat = cluster_cell_matrix(battles, pc, cluster)
    per_cluster = np.asarray(kmat @ cell_scores(fit))
    meat = per_cluster.T @ per_cluster
    prob = make_problem(pc, fit.ties, fit.settings["l2"])
    x = fit.theta if fit.log_tie is None else np.append(fit.theta, fit.log_tie)
    _, _, h = _grad_hess(x[None], prob)
    e = _null_vector(prob)
    bread = np.linalg.inv(-h[0]) if prob.l2 else np.linalg.inv(-h[0] + np.outer(e, e)) - np.outer(e, e)
    cov = (bread @ meat @ bread)[: pc.n_models, : pc.n_models]
    s = fit.settings
    if s["anchor"]:
        a = pc.models.index(next(iter(s["anchor"])))
        tr = np.eye(pc.n_models)
        tr[:, a] -= 1.0
        cov = tr @ cov @ tr.T
    k = s["scale"] / np.log(s["base"])
    idx = pd.Index(pc.models, name="model")
    return pd.DataFrame(k * k * cov, index=idx, columns=idx)


def _meat(pc: PairCounts, prob: _Problem, x: np.ndarray) -> csr_matrix:
    """Sum over battles of the outer product of per-battle scores (the sandwich's meat).

    A battle's score lives on its two models (and the tie parameter), so the meat has the
    comparison graph's sparsity: returned as a sparse ``(dim, dim)`` matrix.
    """
    n = pc.n_models
    theta = x[:n]
    lam = float(x[n]) if prob.has_tie_param else None
    d = theta[pc.i] - theta[pc.j]
    g_d, g_l = per_battle_scores(d, lam, prob.ties)  # (P, 4)
    cp, co = pc.cell_pair, pc.cell_outcome
    cw = pc.cell_count * pc.cell_weight ** 2
    sd = g_d[cp, co]
    q_dd = np.bincount(cp, weights=cw * sd * sd, minlength=pc.n_pairs)
    rows = [pc.i, pc.j, pc.i, pc.j]
    cols = [pc.i, pc.j, pc.j, pc.i]
    vals = [q_dd, q_dd, -q_dd, -q_dd]
    if prob.has_tie_param:
        sl = g_l[cp, co]
        q_dl = np.bincount(cp, weights=cw * sd * sl, minlength=pc.n_pairs)
        col = np.bincount(pc.i, weights=q_dl, minlength=n) - np.bincount(pc.j, weights=q_dl, minlength=n)
        models = np.arange(n)
        rows += [models, np.full(n, n), np.array([n])]
        cols += [np.full(n, n), models, np.array([n])]
        vals += [col, col, np.array([float((cw * sl * sl).sum())])]
    return csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(prob.dim, prob.dim))


def fit_bradley_terry(battles: Battles | PairCounts | pd.DataFrame, ties: str = "half", *,
                      l2: float = 0.0, scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE,
                      init: float = DEFAULT_INIT, anchor: Mapping[str, float] | None = None,
                      tol: float = GRAD_TOL, max_iter: int = MAX_ITER,
                      covariates: Sequence[str] | None = None, position: bool = False,
                      covariate_l2: float = 0.0) -> BTResult:
    """Fit a Bradley-Terry model by maximum likelihood.

    Parameters
    ----------
    battles : Battles, PairCounts or pandas.DataFrame
        The battles (a DataFrame is passed to :func:`~arena_stats.load_battles`). Per-battle
        weights (``weight`` column / ``weight_col=``) multiply each battle's log-likelihood.
    ties : {"half", "drop", "davidson", "rao-kupper"}
        How ties (``tie`` and ``tie (bothbad)``) enter the likelihood; see the module docstring.
    l2 : float
        Strength of a Gaussian prior on the natural-scale strengths: the objective is
        ``loglik - l2 / 2 * sum(theta ** 2)``. With ``l2 > 0`` the fit also exists when the MLE
        would not (a warning says so).
    scale, base, init : float
        Elo scale: ``P(i beats j) = 1 / (1 + base ** ((R_j - R_i) / scale))``, ratings centred on
        ``init``.
    anchor : dict, optional
        ``{model: rating}``: shift all ratings so that this model has this rating.
    tol : float
        Stop when the gradient norm of the mean log-likelihood is at most ``tol``.
    max_iter : int
        Newton iterations at most.
    covariates : list of str, optional
        Battle-level numeric columns ``x_ab`` entering as ``logit = theta_a - theta_b + x_ab . beta``
        (style control); the fit is then :func:`arena_stats.models.contextual.fit_contextual` and the
        result a :class:`~arena_stats.models.contextual.ContextualResult` with ``beta`` and its errors.
    position : bool
        Add a first-slot (home advantage) effect as a covariate.
    covariate_l2 : float
        L2 penalty on ``beta`` (contextual fits only).

    Returns
    -------
    BTResult

    Raises
    ------
    NoMLEError
        The comparison graph is disconnected, or some models never lose / never win (names them).

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats import fit_bradley_terry
    >>> df = pd.DataFrame({"model_a": ["x", "y", "z", "x"], "model_b": ["y", "z", "x", "z"],
    ...                    "winner": ["model_a", "model_a", "model_a", "tie"]})
    >>> fit = fit_bradley_terry(df)
    >>> round(float(fit.ratings.mean()), 6)
    1000.0
    >>> fit.grad_norm <= 1e-8
    True
    """
    if covariates is not None or position:
        if l2:
            raise InputError("l2 on the strengths is not available with covariates; use covariate_l2 "
                             "to penalise the covariate coefficients")
        from .contextual import fit_contextual
        return fit_contextual(battles, covariates, ties, position=position, l2=covariate_l2, scale=scale,
                              base=base, init=init, anchor=anchor, tol=tol, max_iter=max_iter)
    pc = battles if isinstance(battles, PairCounts) else aggregate(as_battles(battles))
    return fit_counts(pc, ties, l2=l2, scale=scale, base=base, init=init, anchor=anchor, tol=tol,
                      max_iter=max_iter)
