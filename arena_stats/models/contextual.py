"""Contextual Bradley-Terry: ratings plus battle-level covariates (style control, home advantage).

The model. Each model ``i`` has a strength ``theta_i`` (natural log scale, sum zero) and each
battle carries a covariate vector ``x`` (answer-length difference, markdown differences, a
first-slot indicator, home advantage ...). The linear predictor of a battle of ``a`` against
``b`` is ::

    eta = theta_a - theta_b + x . beta

and ``eta`` takes the place of the strength difference ``d`` in every tie convention of
:mod:`~arena_stats.models.bradley_terry`: ``half`` (``logit P(a beats b) = eta``, a tie counting half),
``drop``, ``davidson`` (``P(a) : P(b) : P(tie) = e^{eta/2} : e^{-eta/2} : nu``) and
``rao-kupper`` (``P(a) = sigmoid(eta - tau)``). The per-battle log-likelihood and its derivatives
in ``(eta, tie parameter)`` are *those functions* (:func:`~arena_stats.models.bradley_terry.local_terms`),
so the conventions cannot drift apart. ``beta`` may carry an L2 penalty
``- l2 / 2 * |beta|^2``; the strengths are not penalised. On the Elo scale,
``rating = init + scale / ln(base) * theta`` exactly as in the plain fit, so with ``x = 0`` a
style-controlled rating predicts like a plain one.

Covariates are *differences*: a column ``x`` means "``a`` minus ``b``" (the LMSYS style features
are already of that form; home advantage is ``+1`` when ``a`` is at home, ``-1`` when ``b`` is,
``0`` on neutral ground). ``position=True`` adds a constant column ``position`` (the first-slot
effect, or home advantage when ``a`` is always the home side).

Sufficient statistics. The likelihood is symmetric: swapping ``a`` and ``b`` while negating
``x`` and swapping the verdict leaves it unchanged. Every row is first put in that canonical
form (``a < b``); then, when the covariates are discrete (home/away, position, categories),
rows are reduced to unique ``(a, b, x, verdict, weight)`` cells with counts, so the fit costs
nothing per battle. With continuous covariates (style features) the cells would be as many as
the rows, so the fit runs on the rows directly (:data:`CELL_FRACTION` decides).

The fit. Damped Newton on ``(theta, beta, tie parameter)`` under the sum-zero constraint,
enforced exactly by an orthonormal basis of ``{theta : sum(theta) = 0}``. The Hessian is only
``(n_models + p + 1)`` square and is assembled with ``bincount`` from per-row second
derivatives: the strength block is a weighted graph Laplacian, the cross block ``n x p``, the
covariate block ``X^T W X``. Each iteration is a few vectorised passes over the rows (~0.1 s per
million rows), and convergence is declared on the norm of the gradient of the *mean*
log-likelihood, as in the plain fit (:data:`~arena_stats.models.bradley_terry.GRAD_TOL`).

Uncertainty. ``se`` / ``beta_se`` come from the inverse observed information; ``se_robust`` /
``beta_se_robust`` from the sandwich ``A^-1 B A^-1`` with ``B`` the sum over *battles* of the
outer products of per-battle scores (HC0; a cell of ``c`` battles contributes ``c`` times its
battle's outer product, so cells and rows give the same answer). :func:`bootstrap_contextual`
resamples battles (multinomial counts over the cells or rows) or whole clusters (voters,
prompts), refitting each round from the full-data estimate.

The both-bad outcome model of :mod:`arena_stats.models.bothbad` runs on the same engine with its own
per-battle likelihood (:class:`Family`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit, ndtr, ndtri

from ..data.aggregate import PairCounts, aggregate, model_totals
from ..data.battles import A_WINS, B_WINS, Battles
from ..data.readers import as_battles
from ..errors import suggest
from ..inference.bootstrap import CHUNK, DEFAULT_CONFIDENCE, BootstrapResult, rank_summary
from .bradley_terry import (DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE, GRAD_TOL, TIE_PARAM_NAME, BTResult,
                            TIE_START, TIES, check_mle_exists, elo_transform, local_terms,
                            fit_counts, outcome_probabilities, pair_weights)
from .._util.parallel import THREADS, run_chunks
from ..inference.resample import MultinomialSampler
from ..errors import ArenaStatsError, ConvergenceError, InputError, NoMLEError
from ..boards.leaderboard import CI_METHODS, rank_ub
from .._util.progress import progress as progress_bar

__all__ = ["ContextualResult", "ContextualBootstrap", "Design", "Family", "build_design",
           "fit_contextual", "bootstrap_contextual", "contextual_leaderboard", "covariate_matrix",
           "POSITION"]

#: Name of the constant first-slot / home-advantage covariate added by ``position=True``.
POSITION = "position"
#: Reduce rows to cells only when that leaves at most this fraction of the rows.
CELL_FRACTION = 0.5
#: Rows looked at to tell a continuous covariate (no reduction) without factorising it all.
CONTINUITY_SAMPLE = 10_000
MAX_ITER = 100
MAX_HALVINGS = 40
#: Chord iterations a bootstrap round may take before it falls back to Newton steps.
CHORD_ITER = 40
#: Default number of bootstrap rounds (style-control boards are usually bootstrapped 100x).
DEFAULT_ROUNDS = 100
#: Above this, a strength diverging in the fit is taken as a missing MLE (natural log scale).
DIVERGED_THETA = 30.0

_ETA, _SUM = "eta", "s"


# ----------------------------------------------------------------------------------- design
@dataclass(frozen=True)
class Design:
    """Battles in canonical form (``a < b``), optionally reduced to cells with counts.

    Attributes
    ----------
    models : list of str
    a, b : ndarray of int64
        Contestant codes, ``a < b``.
    outcome : ndarray of int8
        Verdict from ``a``'s side (:data:`~arena_stats.data.battles.A_WINS` ...).
    X : ndarray, shape (R, p)
        Covariates, already negated where the row was flipped.
    count, weight : ndarray
        Battles per unit and the weight of each of those battles.
    cluster : ndarray of int64 or None
        Cluster code per unit (for the clustered bootstrap).
    covariates : tuple of str
    reduced : bool
        Whether rows were reduced to cells.
    n_rows : int
        Rows of the input.
    """

    models: list[str]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    X: np.ndarray
    count: np.ndarray
    weight: np.ndarray
    cluster: np.ndarray | None
    covariates: tuple[str, ...]
    reduced: bool
    n_rows: int

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def n_units(self) -> int:
        return len(self.a)

    @property
    def n_battles(self) -> float:
        return float(self.count.sum())

    @property
    def pair(self) -> np.ndarray:
        return self.a * self.n_models + self.b

    def subset(self, keep: np.ndarray) -> Design:
        """The units where ``keep`` is true."""
        return Design(self.models, self.a[keep], self.b[keep], self.outcome[keep], self.X[keep],
                      self.count[keep], self.weight[keep],
                      None if self.cluster is None else self.cluster[keep], self.covariates,
                      self.reduced, self.n_rows)


def covariate_matrix(battles: Battles, covariates: Sequence[str] | pd.DataFrame | np.ndarray | None,
                     position: bool = False) -> tuple[np.ndarray, tuple[str, ...]]:
    """The covariate matrix ``(rows, p)`` and its column names.

    ``covariates`` are column names of ``battles.frame`` (numeric or boolean), or a DataFrame /
    array with one row per battle. ``position=True`` appends the constant column
    :data:`POSITION`.

    Raises
    ------
    InputError
        A missing or non-numeric column, a missing value (row and column named), or a
        wrong-sized matrix.
    """
    n = len(battles)
    names: list[str] = []
    cols: list[np.ndarray] = []
    if covariates is None:
        pass
    elif isinstance(covariates, (pd.DataFrame, np.ndarray)):
        frame = covariates if isinstance(covariates, pd.DataFrame) else pd.DataFrame(
            np.asarray(covariates, dtype=np.float64).reshape(n, -1) if np.ndim(covariates) == 1
            else np.asarray(covariates, dtype=np.float64),
            columns=[f"x{k}" for k in range(np.asarray(covariates).reshape(n, -1).shape[1])])
        if len(frame) != n:
            raise InputError(f"the covariate matrix has {len(frame)} rows but there are {n} battles")
        for c in frame.columns:
            names.append(str(c))
            cols.append(_numeric(frame[c], str(c)))
    else:
        if isinstance(covariates, str):
            covariates = [covariates]
        for c in covariates:
            if c not in battles.frame:
                raise InputError(f"missing covariate column{suggest(c, battles.frame.columns)}", column=c)
            names.append(str(c))
            cols.append(_numeric(battles.frame[c], str(c)))
    if position:
        if POSITION in names:
            raise InputError(f"a covariate is already called {POSITION!r}; rename it or drop position=True")
        names.append(POSITION)
        cols.append(np.ones(n))
    if len(set(names)) != len(names):
        raise InputError(f"covariate names repeat: {names}")
    X = np.column_stack(cols) if cols else np.zeros((n, 0))
    return np.ascontiguousarray(X, dtype=np.float64), tuple(names)


def _numeric(series: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=np.float64)
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"covariate value {series.iloc[row]!r} is not a finite number "
                         f"({int(bad.sum())} such rows; expected numbers for every battle)",
                         row=row + 1, column=name)
    return values


def build_design(battles: Battles, covariates: Sequence[str] | pd.DataFrame | np.ndarray | None = None,
                 *, position: bool = False, reduce: bool | str = "auto",
                 cluster: str | None = None) -> Design:
    """Canonical form of the battles, reduced to cells when that pays.

    Parameters
    ----------
    battles : Battles
    covariates, position
        See :func:`covariate_matrix`.
    reduce : {"auto", True, False}
        ``"auto"`` reduces when the cells are at most :data:`CELL_FRACTION` of the rows.
    cluster : str, optional
        Column whose values the clustered bootstrap resamples; cells never straddle clusters.

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats import load_battles
    >>> b = load_battles(pd.DataFrame({"model_a": ["x", "y", "x"], "model_b": ["y", "x", "y"],
    ...                                "winner": ["model_a", "model_b", "model_a"]}))
    >>> d = build_design(b, position=True, reduce=True)
    >>> d.n_units, d.count.tolist(), d.X[:, 0].tolist()
    (2, [2.0, 1.0], [1.0, -1.0])
    """
    X, names = covariate_matrix(battles, covariates, position)
    n = battles.n_models
    a = battles.a.astype(np.int64)
    b = battles.b.astype(np.int64)
    o = battles.outcome.astype(np.int8)
    swap = a > b
    lo, hi = np.where(swap, b, a), np.where(swap, a, b)
    o = np.where(swap & (o == A_WINS), B_WINS, np.where(swap & (o == B_WINS), A_WINS, o)).astype(np.int8)
    if swap.any() and X.shape[1]:
        X[swap] *= -1.0
    count = battles.counts.astype(np.float64)
    w = battles.weights
    weight = np.ones(len(a)) if w is None else w.astype(np.float64)
    clus = None
    if cluster is not None:
        if cluster not in battles.frame:
            raise InputError(f"cannot cluster on missing column{suggest(cluster, battles.frame.columns)}",
                             column=cluster)
        clus = pd.factorize(battles.frame[cluster], use_na_sentinel=False)[0].astype(np.int64)
    design = Design(battles.models, lo, hi, o, X, count, weight, clus, names, False, len(a))
    if reduce is not False:
        reduced = _reduce(design, force=reduce is True)
        if reduced is not None:
            return reduced
    # the fit sums over each pair's units as contiguous segments
    key = lo * n + hi
    # a 16-bit key is sorted by numpy's radix sort: O(rows) instead of O(rows log rows)
    order = np.argsort(key.astype(np.uint16) if n * n <= 65536 else key, kind="stable")
    return Design(battles.models, lo[order], hi[order], o[order], np.ascontiguousarray(X[order]),
                  count[order], weight[order], None if clus is None else clus[order], names, False,
                  len(a))


def _reduce(d: Design, force: bool) -> Design | None:
    """Merge identical units into cells (sorted by pair); ``None`` when it would not pay."""
    rows = d.n_units
    limit = rows if force else CELL_FRACTION * rows
    key = d.pair * 4 + d.outcome
    span = d.n_models * d.n_models * 4
    extra = [d.weight] + [d.X[:, k] for k in range(d.p)]
    if d.cluster is not None:
        extra.append(d.cluster)
    for col in extra:
        # a continuous column shows itself in a sample, before a full factorisation
        if not force and rows > CONTINUITY_SAMPLE and \
                len(pd.unique(col[:CONTINUITY_SAMPLE])) > CELL_FRACTION * CONTINUITY_SAMPLE:
            return None
        codes, levels = pd.factorize(col)
        if len(levels) > limit:
            return None
        if span * len(levels) >= 2 ** 62:
            # keep the combined key small: re-number the cells seen so far (order kept)
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
            span = int(key.max()) + 1
        key = key * len(levels) + codes
        span *= len(levels)
    # the pair is the key's leading digit, so the cells come out sorted by pair
    cells, first, inv = np.unique(key, return_index=True, return_inverse=True)
    if len(cells) > limit:
        return None
    count = np.bincount(inv, weights=d.count, minlength=len(cells))
    return Design(d.models, d.a[first], d.b[first], d.outcome[first], np.ascontiguousarray(d.X[first]),
                  count, d.weight[first], None if d.cluster is None else d.cluster[first],
                  d.covariates, True, d.n_rows)


# ---------------------------------------------------------------------------------- families
@dataclass(frozen=True)
class Family:
    """The per-battle likelihood of a fit, in terms of local variables.

    The local variables of a battle are the linear predictor ``eta`` (``theta_a - theta_b +
    x . beta``), optionally the strength mean ``s = (theta_a + theta_b) / 2``, and the global
    parameters. ``prepare(design)`` precomputes what the verdicts imply (once per design);
    ``terms(eta, s, g, prepared, mult, derivatives=True, loglik=True)`` returns the per-unit
    log-likelihood ``(R,)``, gradient ``(R, K)`` and Hessian ``(R, K, K)`` in the locals
    ``(eta[, s], g...)`` (the last two ``None`` when ``derivatives`` is false, the first when
    ``loglik`` is false), each unit weighted by ``mult`` (battles x weight); with
    ``mult = weight`` the gradient is the per-battle score.
    """

    name: str
    uses_sum: bool
    global_names: tuple[str, ...]
    prepare: Callable[[Design], Any]
    terms: Callable[..., tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]
    start: Callable[[Design], np.ndarray]
    feasible: Callable[[np.ndarray], bool] = lambda g: True
    keeps: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def n_global(self) -> int:
        return len(self.global_names)

    @property
    def locals(self) -> tuple[Any, ...]:
        return (_ETA,) + ((_SUM,) if self.uses_sum else ()) + tuple(range(self.n_global))


def _outcome_shares(d: Design, ties: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit, the (a-wins, b-wins, tie) mass of one battle under a tie convention."""
    table = np.zeros((d.n_units, 4))
    table[np.arange(d.n_units), d.outcome] = 1.0
    return pair_weights(table, ties)


def _logistic_terms(eta: np.ndarray, s: Any, g: np.ndarray, prep: Any, mult: np.ndarray,
                    derivatives: bool = True, loglik: bool = True):
    """``half`` / ``drop``: a logistic likelihood with fractional responses.

    The same function as :func:`~arena_stats.models.bradley_terry.local_terms` for these conventions,
    written with one ``log_expit`` per unit (``log sigmoid(-eta) = log sigmoid(eta) - eta``):
    at a million rows it is the fit's hot loop.
    """
    fa, fb, _ = prep
    n_ab = fa + fb
    ll = mult * (n_ab * log_expit(eta) - fb * eta) if loglik else None
    if not derivatives:
        return ll, None, None
    p = expit(eta)
    grad = (mult * (fa - n_ab * p))[:, None]
    hess = (-mult * n_ab * p * (1.0 - p))[:, None, None]
    return ll, grad, hess


def _convention_family(ties: str) -> Family:
    """One of the four tie conventions of the plain fit, on the linear predictor ``eta``."""
    has_tie = ties in TIE_START

    def prepare(d: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _outcome_shares(d, ties)

    def terms(eta: np.ndarray, s: Any, g: np.ndarray, prep: Any, mult: np.ndarray,
              derivatives: bool = True, loglik: bool = True):
        wi, wj, wt = (mult * v for v in prep)
        lam = np.float64(g[0])
        if not derivatives:
            return local_terms(eta, lam, wi, wj, wt, ties, derivatives=False)[0], None, None
        ll, g_d, g_l, h_dd, h_dl, h_ll = local_terms(eta, lam, wi, wj, wt, ties, loglik=loglik)
        grad = np.stack([g_d, g_l], axis=1)
        hess = np.stack([np.stack([h_dd, h_dl], 1), np.stack([h_dl, h_ll], 1)], 1)
        return ll, grad, hess

    def start(d: Design) -> np.ndarray:
        return np.array([TIE_START[ties]]) if has_tie else np.zeros(0)

    names = (f"log_{TIE_PARAM_NAME[ties]}",) if has_tie else ()
    keeps = (lambda o: (o == A_WINS) | (o == B_WINS)) if ties == "drop" else None
    feasible = (lambda g: bool(g[0] > 0)) if ties == "rao-kupper" else (lambda g: True)
    return Family(ties, False, names, prepare, terms if has_tie else _logistic_terms, start,
                  feasible, keeps)


# --------------------------------------------------------------------------------- assembly
def _theta_coefs(kind: Any) -> tuple[float, float] | None:
    if kind == _ETA:
        return 1.0, -1.0
    if kind == _SUM:
        return 0.5, 0.5
    return None


class _Assembler:
    """Maps per-unit derivatives in the local variables to the full parameter space.

    Full parameters: ``theta`` (n), ``beta`` (p), globals (m). ``eta`` loads on ``theta_a``
    (+1), ``theta_b`` (-1) and ``beta`` (``x``); ``s`` on ``theta_a``, ``theta_b`` (+1/2); each
    global on itself. Units are sorted by pair, so every sum over the units of a pair is one
    ``np.add.reduceat`` over contiguous segments; the rest works on the few thousand pairs.
    """

    def __init__(self, d: Design, family: Family) -> None:
        self.d, self.family = d, family
        self.n, self.p, self.m = d.n_models, d.p, family.n_global
        self.dim = self.n + self.p + self.m
        self.starts, self.pi, self.pj = _segments(d)

    def _col(self, kind: Any) -> int:
        return self.n + self.p + int(kind)

    def _per_model(self, per_pair: np.ndarray, tc: tuple[float, float]) -> np.ndarray:
        """``tc[0] * (sums over pairs where the model is i) + tc[1] * (... where it is j)``."""
        n = self.n
        if per_pair.ndim == 1:
            return (tc[0] * np.bincount(self.pi, per_pair, n) + tc[1] * np.bincount(self.pj, per_pair, n))
        return np.column_stack([self._per_model(per_pair[:, c], tc) for c in range(per_pair.shape[1])])

    def load(self, kind: Any, v: np.ndarray) -> np.ndarray:
        """``sum_r v_r z_r`` with ``z_r`` the loading vector of local ``kind`` in unit ``r``."""
        out = np.zeros(self.dim)
        tc = _theta_coefs(kind)
        if tc is None:
            out[self._col(kind)] = v.sum()
            return out
        out[: self.n] = self._per_model(np.add.reduceat(v, self.starts), tc)
        if kind == _ETA and self.p:
            out[self.n:self.n + self.p] = v @ self.d.X
        return out

    def gradient(self, grad: np.ndarray) -> np.ndarray:
        return sum(self.load(kind, grad[:, k]) for k, kind in enumerate(self.family.locals))

    def hessian(self, hess: np.ndarray) -> np.ndarray:
        """``sum_r sum_kl hess[r, k, l] z_rk z_rl^T`` with ``z_rk`` the loading of local ``k``."""
        out = np.zeros((self.dim, self.dim))
        kinds = self.family.locals
        for k in range(len(kinds)):
            for l in range(k, len(kinds)):
                block = self._gram(kinds[k], kinds[l], hess[:, k, l])
                out += block if k == l else block + block.T
        return out

    def _gram(self, kk: Any, kl: Any, h: np.ndarray) -> np.ndarray:
        n, p, d = self.n, self.p, self.d
        out = np.zeros((self.dim, self.dim))
        th, be = slice(0, n), slice(n, n + p)
        tk, tl = _theta_coefs(kk), _theta_coefs(kl)
        xk, xl = kk == _ETA and p > 0, kl == _ETA and p > 0
        if tk is not None and tl is not None:
            hx = h[:, None] * d.X if (xk or xl) else None
            seg = np.add.reduceat(h if hx is None else np.column_stack([h, hx]), self.starts, axis=0)
            sh = seg if hx is None else seg[:, 0]
            blk = np.zeros((n, n))
            blk[self.pi, self.pj] = tk[0] * tl[1] * sh
            blk[self.pj, self.pi] = tk[1] * tl[0] * sh
            blk[np.diag_indices(n)] += (tk[0] * tl[0] * np.bincount(self.pi, sh, n)
                                        + tk[1] * tl[1] * np.bincount(self.pj, sh, n))
            out[th, th] = blk
            if xl:
                out[th, be] = self._per_model(seg[:, 1:], tk)
            if xk:
                out[be, th] = self._per_model(seg[:, 1:], tl).T
            if xk and xl:
                out[be, be] = d.X.T @ hx
            return out
        ck = None if tk is not None else self._col(kk)
        cl = None if tl is not None else self._col(kl)
        if ck is None and cl is not None:
            out[:, cl] = self.load(kk, h)
        elif ck is not None and cl is None:
            out[ck, :] = self.load(kl, h)
        else:
            out[ck, cl] = h.sum()
        return out


def _segments(d: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start of each pair's run of units (units sorted by pair) and the pair's two codes."""
    pair = d.pair
    if len(pair) and (np.diff(pair) < 0).any():
        raise AssertionError("design units must be sorted by pair")
    new = np.ones(len(pair), bool)
    new[1:] = pair[1:] != pair[:-1]
    starts = np.flatnonzero(new)
    return starts, d.a[starts], d.b[starts]


# ------------------------------------------------------------------------------------ engine
@dataclass
class _Fit:
    phi: np.ndarray
    loglik: float
    n_iter: int
    grad_norm: float
    converged: bool
    basis: np.ndarray
    hessian: np.ndarray


def _basis(n: int, rest: int, active: np.ndarray | None) -> np.ndarray:
    """Orthonormal basis of ``{theta: sum theta = 0, theta_inactive = 0}`` x (beta, globals)."""
    idx = np.arange(n) if active is None else np.flatnonzero(active)
    k = len(idx)
    # Helmert-type basis of the sum-zero subspace of R^k (orthonormal, O(k^2))
    q = np.zeros((k, k - 1))
    for c in range(1, k):
        q[:c, c - 1] = 1.0 / math.sqrt(c * (c + 1))
        q[c, c - 1] = -c / math.sqrt(c * (c + 1))
    t = np.zeros((n + rest, k - 1 + rest))
    t[idx, : k - 1] = q
    t[n:, k - 1:] = np.eye(rest)
    return t


class _Objective:
    """Penalised log-likelihood of a design under a family, with derivatives."""

    def __init__(self, d: Design, family: Family, l2: float, mult: np.ndarray | None = None,
                 prep: Any = None, assembler: _Assembler | None = None) -> None:
        self.d, self.family, self.l2 = d, family, float(l2)
        self.asm = _Assembler(d, family) if assembler is None else assembler
        self.prep = family.prepare(d) if prep is None else prep
        self.mult = d.count * d.weight if mult is None else mult
        self.total = float(self.mult.sum()) or 1.0

    def _locals(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        n, p, d = self.asm.n, self.asm.p, self.d
        theta, beta, g = phi[:n], phi[n:n + p], phi[n + p:]
        eta = theta[d.a] - theta[d.b]
        if p:
            eta = eta + d.X @ beta
        s = 0.5 * (theta[d.a] + theta[d.b]) if self.family.uses_sum else None
        return eta, s, g

    def _penalty(self, phi: np.ndarray) -> float:
        beta = phi[self.asm.n:self.asm.n + self.asm.p]
        return 0.5 * self.l2 * float(beta @ beta)

    def value(self, phi: np.ndarray) -> float:
        if not self.family.feasible(phi[self.asm.n + self.asm.p:]):
            return -np.inf
        eta, s, g = self._locals(phi)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ll = float(self.family.terms(eta, s, g, self.prep, self.mult, derivatives=False)[0].sum())
        v = ll - self._penalty(phi)
        return v if np.isfinite(v) else -np.inf

    def derivatives(self, phi: np.ndarray, hessian: bool = True
                    ) -> tuple[float, np.ndarray, np.ndarray | None]:
        eta, s, g = self._locals(phi)
        ll, grad, hess = self.family.terms(eta, s, g, self.prep, self.mult)
        n, p = self.asm.n, self.asm.p
        gvec = self.asm.gradient(grad)
        gvec[n:n + p] -= self.l2 * phi[n:n + p]
        h = None
        if hessian:
            h = self.asm.hessian(hess)
            h[np.arange(n, n + p), np.arange(n, n + p)] -= self.l2
        return float(ll.sum()) - self._penalty(phi), gvec, h

    def gradient(self, phi: np.ndarray) -> np.ndarray:
        """Gradient of the penalised log-likelihood (no logarithms, no Hessian)."""
        eta, s, g = self._locals(phi)
        _, grad, _ = self.family.terms(eta, s, g, self.prep, self.mult, loglik=False)
        out = self.asm.gradient(grad)
        n, p = self.asm.n, self.asm.p
        out[n:n + p] -= self.l2 * phi[n:n + p]
        return out

    def meat(self, phi: np.ndarray) -> np.ndarray:
        """Sum over battles of score score^T (each unit: count x its battle's outer product)."""
        eta, s, g = self._locals(phi)
        _, score, _ = self.family.terms(eta, s, g, self.prep, self.d.weight)
        outer = score[:, :, None] * score[:, None, :] * self.d.count[:, None, None]
        return self.asm.hessian(outer)


def _solve_step(h_red: np.ndarray, g_red: np.ndarray) -> np.ndarray:
    """Newton step ``(-H) z = g``; a ridge makes ``-H`` positive definite when it is not."""
    a = -h_red
    try:
        c = np.linalg.cholesky(a)
        return np.linalg.solve(c.T, np.linalg.solve(c, g_red))
    except np.linalg.LinAlgError:
        w = np.linalg.eigvalsh(a)
        ridge = max(1e-10 * max(abs(w).max(), 1.0), -w.min() * 1.5 + 1e-8)
        return np.linalg.solve(a + ridge * np.eye(len(a)), g_red)


def _newton(obj: _Objective, phi0: np.ndarray, basis: np.ndarray, tol: float, max_iter: int) -> _Fit:
    """Damped Newton under the constraints spanned by ``basis``.

    A full step is tried with all derivatives at once (their log-likelihood decides whether it is
    accepted), so an accepted step costs one pass over the units; halvings cost a value each.
    """
    phi = phi0.copy()
    ll, g, h = obj.derivatives(phi)
    g_red = basis.T @ g
    gnorm = float(np.linalg.norm(g_red)) / obj.total
    it = 0
    while gnorm > tol and it < max_iter:
        it += 1
        step = basis @ _solve_step(basis.T @ h @ basis, g_red)
        trial = phi + step
        # a relative slack absorbs round-off once the step is at machine precision
        slack = ll - 1e-12 * abs(ll)
        new = obj.derivatives(trial) if obj.family.feasible(trial[obj.asm.n + obj.asm.p:]) else None
        if new is None or not new[0] >= slack:
            t = 1.0
            for _ in range(MAX_HALVINGS):
                t *= 0.5
                if obj.value(phi + t * step) >= slack:
                    break
            else:
                break
            trial = phi + t * step
            new = obj.derivatives(trial)
        phi, (ll, g, h) = trial, new
        g_red = basis.T @ g
        gnorm = float(np.linalg.norm(g_red)) / obj.total
    return _Fit(phi, ll, it, gnorm, gnorm <= tol, basis, h)


def _start(d: Design, family: Family, counts: PairCounts | None = None) -> np.ndarray:
    """Zero coefficients; strengths (and the tie parameter) of the plain fit when counts are given.

    The plain fit on the pair counts costs milliseconds and saves a pass or two over the rows.
    """
    start = np.concatenate([np.zeros(d.n_models + d.p), family.start(d)])
    if counts is None:
        return start
    ties = family.name if family.name in TIES else "davidson"
    try:
        plain = fit_counts(counts, ties)
    except ArenaStatsError:
        return start
    start[: d.n_models] = plain.theta
    if family.name in TIE_START:
        start[-1] = plain.log_tie
    return start


def _active(d: Design, mult: np.ndarray) -> np.ndarray:
    used = np.bincount(d.a, weights=mult, minlength=d.n_models) + \
        np.bincount(d.b, weights=mult, minlength=d.n_models)
    return used > 0


def _check_exists(d: Design, ties: str) -> PairCounts:
    """The strength part must have an MLE (covariates cannot rescue a model that never loses).

    Returns the pair counts, which also give the fit its starting point.
    """
    frame = pd.DataFrame({
        "model_a": pd.Categorical.from_codes(d.a.astype(np.int32), categories=d.models),
        "model_b": pd.Categorical.from_codes(d.b.astype(np.int32), categories=d.models),
        "outcome": d.outcome, "count": d.count})
    counts = aggregate(Battles(frame))
    check_mle_exists(counts, ties)
    return counts


def run_fit(d: Design, family: Family, l2: float = 0.0, *, tol: float = GRAD_TOL,
            max_iter: int = MAX_ITER, counts: PairCounts | None = None) -> tuple[_Fit, _Objective]:
    """Fit ``family`` on a design; raise on non-convergence or diverging strengths.

    ``counts`` (the design's pair counts) seed the strengths with the plain fit.
    """
    if family.keeps is not None:
        d = d.subset(family.keeps(d.outcome))
    obj = _Objective(d, family, l2)
    basis = _basis(d.n_models, d.p + family.n_global, None)
    fit = _newton(obj, _start(d, family, counts), basis, tol, max_iter)
    theta = fit.phi[: d.n_models]
    if np.abs(theta).max() > DIVERGED_THETA:
        far = [d.models[k] for k in np.flatnonzero(np.abs(theta) > DIVERGED_THETA)]
        raise NoMLEError(f"the strengths of {', '.join(far[:8])} diverge: with these covariates "
                         "the maximum-likelihood ratings do not exist", far)
    if not fit.converged:
        beta = fit.phi[d.n_models:d.n_models + d.p]
        hint = " (a covariate separates the outcomes? try l2 > 0)" if d.p and np.abs(beta).max() > 20 else ""
        raise ConvergenceError(f"Newton did not reach |grad| <= {tol:g} in {max_iter} iterations "
                               f"(|grad| = {fit.grad_norm:.3g}){hint}")
    return fit, obj


def covariances(fit: _Fit, obj: _Objective) -> tuple[np.ndarray, np.ndarray]:
    """Model-based (inverse observed information) and sandwich (HC0) covariance, full space."""
    t = fit.basis
    a = -(t.T @ fit.hessian @ t)
    a_inv = np.linalg.inv(a)
    cov = t @ a_inv @ t.T
    b = t.T @ obj.meat(fit.phi) @ t
    cov_r = t @ (a_inv @ b @ a_inv) @ t.T
    return cov, cov_r


# ------------------------------------------------------------------------------------ result
@dataclass(frozen=True)
class ContextualResult:
    """A fitted contextual Bradley-Terry model.

    Attributes
    ----------
    models : list of str
    theta : ndarray
        Strengths, natural log scale, sum zero.
    ratings : pandas.Series
        Elo-scale ratings, ``init + scale / ln(base) * theta`` (or anchored), as in the plain fit.
    se, se_robust : pandas.Series
        Standard errors of the ratings (Elo points): inverse observed information / sandwich.
    cov, cov_robust : pandas.DataFrame
        Covariance of the ratings (Elo points squared).
    beta, beta_se, beta_se_robust : pandas.Series
        Covariate coefficients on the natural (log-odds) scale and their standard errors.
    params : pandas.Series
        Every parameter on the natural scale: strengths, coefficients, then the global
        parameters (``log_nu`` / ``log_eta`` for the tie conventions).
    cov_params, cov_params_robust : pandas.DataFrame
        Their covariance matrices (natural scale).
    tie_param, tie_param_se : float or None
        ``nu`` (Davidson) or ``eta = e^tau`` (Rao-Kupper), as in :class:`~arena_stats.BTResult`.
    loglik : float
        Penalised log-likelihood at the optimum (ties as half-wins under ``half``).
    n_iter : int
    grad_norm : float
    n_battles : float
    n_units : int
        Rows or cells the fit ran on.
    settings : dict
        ``ties, covariates, position, l2, scale, base, init, anchor, tol, reduced``.
    """

    models: list[str]
    theta: np.ndarray
    ratings: pd.Series
    se: pd.Series
    se_robust: pd.Series
    cov: pd.DataFrame
    cov_robust: pd.DataFrame
    beta: pd.Series
    beta_se: pd.Series
    beta_se_robust: pd.Series
    params: pd.Series
    cov_params: pd.DataFrame
    cov_params_robust: pd.DataFrame
    tie_param: float | None
    tie_param_se: float | None
    loglik: float
    n_iter: int
    grad_norm: float
    n_battles: float
    n_units: int
    settings: dict[str, Any]

    @property
    def ties(self) -> str:
        return str(self.settings["ties"])

    @property
    def covariates(self) -> tuple[str, ...]:
        return tuple(self.beta.index)

    @property
    def log_tie(self) -> float | None:
        return None if self.tie_param is None else float(self.params.iloc[-1])

    # the plain result's helpers only read models, theta, ratings, se, ties and log_tie
    _index = BTResult._index
    to_frame = BTResult.to_frame
    win_probability_matrix = BTResult.win_probability_matrix

    def linear_predictor(self, model_a: Any, model_b: Any, covariates: Any = None) -> np.ndarray:
        """``theta_a - theta_b + x . beta`` (``x = 0``, the covariate-neutral battle, by default)."""
        a, b = self._index(model_a), self._index(model_b)
        eta = self.theta[a] - self.theta[b]
        if covariates is not None:
            x = np.asarray(covariates, dtype=np.float64).reshape(-1, len(self.beta))
            eta = eta + x @ self.beta.to_numpy()
        return eta

    def predict_proba(self, model_a: Any, model_b: Any, covariates: Any = None) -> np.ndarray:
        """P(a wins), P(b wins), P(tie), shape ``(n, 3)``; the tie column is 0 for half / drop.

        Examples
        --------
        >>> from arena_stats.data.simulate import simulate_arena
        >>> sim = simulate_arena(4, 3000, seed=2)
        >>> fit = fit_contextual(sim.battles, position=True)
        >>> fit.predict_proba(["model-000"], ["model-001"], [[1.0]]).shape
        (1, 3)
        """
        eta = self.linear_predictor(model_a, model_b, covariates)
        return outcome_probabilities(eta, self.ties, self.log_tie)

    def coef_table(self, confidence: float = DEFAULT_CONFIDENCE, robust: bool = True) -> pd.DataFrame:
        """Covariate coefficients with standard errors, z, p-value and a Wald interval."""
        se = self.beta_se_robust if robust else self.beta_se
        z = ndtri(0.5 + confidence / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            zval = self.beta / se
        return pd.DataFrame({
            "coef": self.beta, "se": self.beta_se, "se_robust": self.beta_se_robust, "z": zval,
            "p_value": 2 * ndtr(-np.abs(zval)),
            "ci_lower": self.beta - z * se, "ci_upper": self.beta + z * se,
        }, index=pd.Index(self.beta.index, name="covariate"))

    def intervals(self, confidence: float = DEFAULT_CONFIDENCE, robust: bool = True
                  ) -> tuple[pd.Series, pd.Series]:
        """Wald intervals of the ratings (sandwich by default)."""
        se = self.se_robust if robust else self.se
        z = ndtri(0.5 + confidence / 2)
        return (self.ratings - z * se).rename("ci_lower"), (self.ratings + z * se).rename("ci_upper")

    def summary(self, top: int | None = 20) -> str:
        """Settings, coefficient table and the top of the board, as text."""
        s = self.settings
        lines = [
            "Contextual Bradley-Terry fit",
            "=" * 72,
            f"ties: {s['ties']:<12} models: {len(self.models):<6} battles: {self.n_battles:,.0f}   "
            f"fitted on {self.n_units:,} {'cells' if s['reduced'] else 'rows'}",
            f"log-likelihood: {self.loglik:.4f}   iterations: {self.n_iter}   "
            f"|grad| (mean ll): {self.grad_norm:.2e}   l2 on beta: {s['l2']:g}",
        ]
        if self.tie_param is not None:
            lines.append(f"tie parameter {TIE_PARAM_NAME[self.ties]}: {self.tie_param:.4f} "
                         f"(se {self.tie_param_se:.4f})")
        if len(self.beta):
            lines += ["-" * 72, f"{'covariate':<24} {'coef':>9} {'se':>8} {'se_robust':>9} {'z':>7} {'p':>9}"]
            for name, row in self.coef_table().iterrows():
                lines.append(f"{str(name)[:24]:<24} {row.coef:9.4f} {row.se:8.4f} {row.se_robust:9.4f} "
                             f"{row.z:7.2f} {row.p_value:9.2g}")
        lines += ["-" * 72, f"{'model':<32} {'rating':>9} {'se':>7} {'se_robust':>9}"]
        frame = self.to_frame()
        for row in (frame.head(top) if top else frame).itertuples(index=False):
            lines.append(f"{str(row.model)[:32]:<32} {row.rating:9.2f} {row.se:7.2f} {row.se_robust:9.2f}")
        if top is not None and len(self.models) > top:
            lines.append(f"... {len(self.models) - top} more models")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _elo_cov(cov_theta: np.ndarray, models: list[str], k: float, anchor: Mapping[str, float] | None
             ) -> np.ndarray:
    """Covariance of the Elo ratings from that of the sum-zero strengths."""
    if anchor:
        # an anchored board reports differences to the anchor model
        a = models.index(next(iter(anchor)))
        tr = np.eye(len(models))
        tr[:, a] -= 1.0
        cov_theta = tr @ cov_theta @ tr.T
    return k * k * cov_theta


def make_result(fit: _Fit, obj: _Objective, family: Family, settings: dict[str, Any],
                n_battles: float) -> ContextualResult:
    """Assemble the public result (Elo scale, standard errors) from a converged fit."""
    d = obj.d
    n, p = d.n_models, d.p
    cov, cov_r = covariances(fit, obj)
    names = list(d.models) + list(d.covariates) + list(family.global_names)
    k = settings["scale"] / np.log(settings["base"])
    theta = fit.phi[:n].copy()
    idx = pd.Index(d.models, name="model")
    ratings = elo_transform(theta, d.models, settings["scale"], settings["base"], settings["init"],
                            settings["anchor"])
    c_elo = _elo_cov(cov[:n, :n], d.models, k, settings["anchor"])
    c_elo_r = _elo_cov(cov_r[:n, :n], d.models, k, settings["anchor"])
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    sd_r = np.sqrt(np.clip(np.diag(cov_r), 0, None))
    bidx = pd.Index(d.covariates, name="covariate")
    tie_param = tie_se = None
    if family.name in TIE_START:
        tie_param = float(np.exp(fit.phi[-1]))
        tie_se = float(tie_param * sd[-1])
    return ContextualResult(
        models=list(d.models), theta=theta,
        ratings=pd.Series(ratings, index=idx, name="rating"),
        se=pd.Series(np.sqrt(np.clip(np.diag(c_elo), 0, None)), index=idx, name="se"),
        se_robust=pd.Series(np.sqrt(np.clip(np.diag(c_elo_r), 0, None)), index=idx, name="se_robust"),
        cov=pd.DataFrame(c_elo, index=idx, columns=idx),
        cov_robust=pd.DataFrame(c_elo_r, index=idx, columns=idx),
        beta=pd.Series(fit.phi[n:n + p], index=bidx, name="beta"),
        beta_se=pd.Series(sd[n:n + p], index=bidx, name="se"),
        beta_se_robust=pd.Series(sd_r[n:n + p], index=bidx, name="se_robust"),
        params=pd.Series(fit.phi, index=names, name="estimate"),
        cov_params=pd.DataFrame(cov, index=names, columns=names),
        cov_params_robust=pd.DataFrame(cov_r, index=names, columns=names),
        tie_param=tie_param, tie_param_se=tie_se, loglik=fit.loglik, n_iter=fit.n_iter,
        grad_norm=fit.grad_norm, n_battles=n_battles, n_units=d.n_units, settings=settings)


def _settings(ties: str, names: tuple[str, ...], position: bool, l2: float, scale: float, base: float,
              init: float, anchor: Mapping[str, float] | None, tol: float, reduced: bool) -> dict[str, Any]:
    if not (l2 >= 0 and np.isfinite(l2)):
        raise InputError(f"l2 must be a non-negative number, got {l2!r}")
    if not (scale > 0 and base > 1):
        raise InputError(f"need scale > 0 and base > 1, got scale={scale!r}, base={base!r}")
    return dict(ties=ties, covariates=names, position=position, l2=float(l2), scale=float(scale),
                base=float(base), init=float(init), anchor=dict(anchor) if anchor else None, tol=tol,
                reduced=reduced)


def _prepare(battles: Battles | pd.DataFrame, covariates: Any, ties: str, position: bool, l2: float,
             scale: float, base: float, init: float, anchor: Mapping[str, float] | None, tol: float, *,
             reduce: bool | str = "auto", cluster: str | None = None
             ) -> tuple[Design, Family, dict[str, Any], PairCounts]:
    """Validate the settings and build the design and family of a tie convention."""
    if ties not in TIES:
        raise InputError(f"unknown tie convention {ties!r}; expected one of {', '.join(TIES)}")
    d = build_design(as_battles(battles), covariates, position=position, reduce=reduce, cluster=cluster)
    counts = _check_exists(d, ties)
    settings = _settings(ties, d.covariates, position, l2, scale, base, init, anchor, tol, d.reduced)
    return d, _convention_family(ties), settings, counts


def fit_contextual(battles: Battles | pd.DataFrame,
                   covariates: Sequence[str] | pd.DataFrame | np.ndarray | None = None,
                   ties: str = "half", *, position: bool = False, l2: float = 0.0,
                   scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE, init: float = DEFAULT_INIT,
                   anchor: Mapping[str, float] | None = None, reduce: bool | str = "auto",
                   tol: float = GRAD_TOL, max_iter: int = MAX_ITER) -> ContextualResult:
    """Fit a Bradley-Terry model with battle-level covariates by maximum likelihood.

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
        The battles; per-battle weights (``weight`` column) multiply each log-likelihood term.
    covariates : list of str, DataFrame or array, optional
        Battle-level covariates, each a difference "``a`` minus ``b``" (see
        :func:`covariate_matrix`). Style features come from :func:`arena_stats.features.style.add_style_features`.
    ties : {"half", "drop", "davidson", "rao-kupper"}
        Tie convention, as in :func:`~arena_stats.fit_bradley_terry`.
    position : bool
        Add the constant covariate ``position`` (first-slot advantage / home advantage).
    l2 : float
        Ridge penalty ``l2 / 2 * |beta|^2`` on the covariate coefficients (not the strengths).
    scale, base, init, anchor
        Elo scale, as in :func:`~arena_stats.fit_bradley_terry`.
    reduce : {"auto", True, False}
        Reduce rows to cells (see :func:`build_design`).
    tol, max_iter
        Convergence: gradient norm of the mean log-likelihood at most ``tol``.

    Returns
    -------
    ContextualResult

    Raises
    ------
    NoMLEError
        Disconnected comparisons, models that never win / lose, or diverging strengths.
    InputError
        Unknown columns, non-numeric or missing covariates.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"model_a": ["x", "y", "x", "z", "y", "z"],
    ...                    "model_b": ["y", "x", "z", "x", "z", "y"],
    ...                    "winner": ["model_a", "model_a", "model_b", "model_a", "tie", "model_b"]})
    >>> fit = fit_contextual(df, position=True)
    >>> round(float(fit.ratings.mean()), 6), fit.covariates
    (1000.0, ('position',))
    """
    d, family, settings, counts = _prepare(battles, covariates, ties, position, l2, scale, base, init, anchor,
                                           tol, reduce=reduce)
    fit, obj = run_fit(d, family, l2, tol=tol, max_iter=max_iter, counts=counts)
    return make_result(fit, obj, family, settings, d.n_battles)


# --------------------------------------------------------------------------------- bootstrap
@dataclass(frozen=True)
class ContextualBootstrap(BootstrapResult):
    """Bootstrap distribution of contextual ratings and coefficients.

    A :class:`~arena_stats.inference.bootstrap.BootstrapResult` (``ratings``, ``ci_lower``, ``ci_upper``,
    ``ranks``, ``rank_lower``, ``rank_upper``, ``p_top``, ``to_frame()``) whose ``point`` is a
    :class:`ContextualResult`, plus:

    Attributes
    ----------
    beta : pandas.DataFrame
        Rounds x covariates, natural scale.
    beta_ci_lower, beta_ci_upper : pandas.Series
        Percentile intervals of the coefficients.

    ``ratings`` is NaN where a model drew no battle in a round. ``n_degenerate`` counts rounds
    whose resample had no finite MLE (a model that never scored or never conceded; kept, with
    large finite strengths, as in the core's bootstrap) plus rounds whose refit failed (NaN,
    left out of the intervals).
    """

    beta: pd.DataFrame = field(default_factory=pd.DataFrame)
    beta_ci_lower: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    beta_ci_upper: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))

    def coef_frame(self) -> pd.DataFrame:
        """Covariate coefficients with their bootstrap sd and percentile interval."""
        return pd.DataFrame({"coef": self.point.beta, "sd": self.beta.std(axis=0, ddof=1),
                             "ci_lower": self.beta_ci_lower, "ci_upper": self.beta_ci_upper})

    def summary(self, top: int | None = 20) -> str:
        """The plain bootstrap summary with the coefficients' intervals after its header."""
        lines = super().summary(top).split("\n")
        if len(self.point.beta):
            coef = self.coef_frame().to_string(float_format=lambda v: f"{v:.4f}")
            lines[2:2] = ["-" * 72, coef]
        return "\n".join(lines)


def _chord(obj: _Objective, phi0: np.ndarray, basis: np.ndarray, step: np.ndarray, tol: float,
           max_iter: int = CHORD_ITER) -> tuple[np.ndarray, bool]:
    """Iterate ``phi += T M T^T g(phi)`` with the full-data inverse information ``M`` fixed.

    A resample's information differs from the full data's by a few percent, so this converges
    linearly and fast while each iteration costs one gradient (no Hessian, no logarithms).
    """
    phi = phi0.copy()
    for _ in range(max_iter):
        g_red = basis.T @ obj.gradient(phi)
        if not np.isfinite(g_red).all():
            return phi, False
        if np.linalg.norm(g_red) / obj.total <= tol:
            return phi, True
        phi = phi + basis @ (step @ g_red)
    return phi, False


def _degenerate(asm: _Assembler, prep: Any, mult: np.ndarray, active: np.ndarray) -> bool:
    """Whether some model in the resample never scored, or never conceded (no finite MLE).

    A tie scores both ways, as in :func:`~arena_stats.models.bradley_terry.check_mle_exists`.
    """
    if isinstance(prep, tuple):
        fa, fb, ft = prep
    else:  # one-hot verdicts (a, b, tie, both bad)
        fa, fb, ft = prep[:, 0], prep[:, 1], prep[:, 2] + prep[:, 3]
    score_i = np.add.reduceat(mult * (fa + ft), asm.starts)
    score_j = np.add.reduceat(mult * (fb + ft), asm.starts)
    n = asm.n
    scored = np.bincount(asm.pi, score_i, n) + np.bincount(asm.pj, score_j, n)
    conceded = np.bincount(asm.pi, score_j, n) + np.bincount(asm.pj, score_i, n)
    return bool(((scored <= 0) | (conceded <= 0))[active].any())


def _round_fit(d: Design, family: Family, l2: float, counts: np.ndarray, point: _Fit, prep: Any,
               asm: _Assembler, step: np.ndarray, tol: float) -> tuple[np.ndarray, bool]:
    """Refit one resample (unit multiplicities ``counts``) from the full-data fit.

    Returns the parameters (NaN when the refit failed) and whether the resample has no finite
    MLE. Such rounds are kept, as the core's bootstrap keeps them: the iterations stop where the
    gradient is negligible, at a large but finite strength, which says "unbounded" honestly.
    """
    mult = counts * d.weight
    active = _active(d, mult)
    degenerate = _degenerate(asm, prep, mult, active)
    obj = _Objective(d, family, l2, mult, prep, asm)
    n = d.n_models
    ok = False
    if active.all():
        phi, ok = _chord(obj, point.phi, point.basis, step, tol)
    if not ok:
        # a model drew no battle, or the resample is far from the full data: Newton steps
        basis = _basis(n, d.p + family.n_global, active)
        start = point.phi.copy()
        start[:n][~active] = 0.0
        start[:n][active] -= start[:n][active].mean()
        fit = _newton(obj, start, basis, tol, MAX_ITER)
        phi, ok = fit.phi, fit.converged
    if not ok or np.abs(phi[:n]).max() > DIVERGED_THETA:
        return np.full_like(phi, np.nan), True
    out = phi.copy()
    out[:n][~active] = np.nan
    return out, degenerate


def bootstrap_contextual(battles: Battles | pd.DataFrame,
                         covariates: Sequence[str] | pd.DataFrame | np.ndarray | None = None,
                         ties: str = "half", *, rounds: int = DEFAULT_ROUNDS, seed: int = 0,
                         confidence: float = DEFAULT_CONFIDENCE, cluster: str | None = None,
                         position: bool = False, l2: float = 0.0, scale: float = DEFAULT_SCALE,
                         base: float = DEFAULT_BASE, init: float = DEFAULT_INIT,
                         anchor: Mapping[str, float] | None = None, tol: float = GRAD_TOL,
                         threads: int = THREADS, progress: bool = False) -> ContextualBootstrap:
    """Percentile bootstrap of a contextual fit: battles or whole clusters resampled.

    Each round draws how often each unit (cell or row) is resampled — ``Multinomial(N, c/N)``
    over the units for the battle bootstrap, or the units' cluster multiplicities
    ``Multinomial(C, 1/C)`` for ``cluster=`` — and refits by Newton from the full-data estimate
    (2-3 iterations). Every chunk of rounds has its own random stream spawned from ``seed``, so
    the numbers do not depend on ``threads``.

    Parameters
    ----------
    battles, covariates, ties, position, l2, scale, base, init, anchor, tol
        As in :func:`fit_contextual`.
    rounds : int
    seed : int
    confidence : float
    cluster : str, optional
        Column whose values are resampled as whole clusters (voter, prompt ...).
    threads : int
        Worker threads (numpy releases the GIL in the heavy loops).
    progress : bool
        Progress bar on stderr (when it is a terminal).

    Returns
    -------
    ContextualBootstrap

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> sim = simulate_arena(5, 4000, seed=1)
    >>> boot = bootstrap_contextual(sim.battles, position=True, rounds=20, seed=3)
    >>> boot.beta.shape, bool((boot.ci_lower <= boot.point.ratings).all())
    ((20, 1), True)
    """
    if rounds < 1:
        raise InputError(f"rounds must be at least 1, got {rounds}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence}")
    d, family, settings, counts = _prepare(battles, covariates, ties, position, l2, scale, base, init, anchor,
                                           tol, cluster=cluster)
    fit, obj = run_fit(d, family, l2, tol=tol, counts=counts)
    point = make_result(fit, obj, family, settings, d.n_battles)
    phis, n_degenerate = resample_fits(obj.d, family, l2, fit, rounds=rounds, seed=seed, tol=tol,
                                       threads=threads, progress=progress)
    return _summarise_bootstrap(point, phis, confidence, n_degenerate,
                                dict(settings, rounds=rounds, seed=seed, cluster=cluster,
                                     confidence=confidence))


def resample_fits(d: Design, family: Family, l2: float, point: _Fit, *, rounds: int, seed: int,
                  tol: float = GRAD_TOL, threads: int = THREADS, progress: bool = False
                  ) -> tuple[np.ndarray, int]:
    """Parameter vectors ``(rounds, dim)`` of refits on bootstrap resamples of ``d``.

    ``d`` is the design the point fit ran on and ``point`` that fit. Also returns how many
    rounds had no finite MLE or failed (NaN rows).
    """
    prep = family.prepare(d)
    asm = _Assembler(d, family)
    step = np.linalg.inv(-(point.basis.T @ point.hessian @ point.basis))
    clusters = None
    if d.cluster is not None:
        clusters = pd.factorize(d.cluster)[0]
        n_clusters = int(clusters.max()) + 1
    n_chunks = -(-rounds // CHUNK)
    streams = np.random.SeedSequence(seed).spawn(n_chunks)
    n_total = int(round(d.n_battles))
    if clusters is None and not np.allclose(d.count, np.round(d.count)):
        raise InputError("the battle bootstrap needs whole-number battle counts; use cluster=")

    # built once: the rows' counts take few distinct values (mostly 1), so the tables are tiny
    sampler = (MultinomialSampler(n_clusters, np.ones(n_clusters)) if clusters is not None
               else MultinomialSampler(n_total, d.count))

    def chunk(c: int) -> tuple[np.ndarray, int]:
        rng = np.random.default_rng(streams[c])
        size = min(CHUNK, rounds - c * CHUNK)
        rows, flags = [], []
        for _ in range(size):
            # one draw at a time: a chunk of row-level draws would not fit in memory
            if clusters is not None:
                draw = sampler.draw(rng, 1)[0][clusters] * d.count
            else:
                draw = sampler.draw(rng, 1)[0].astype(np.float64)
            phi, flag = _round_fit(d, family, l2, draw, point, prep, asm, step, tol)
            rows.append(phi)
            flags.append(flag)
        return np.vstack(rows), int(sum(flags))

    out, n_degenerate = [], 0
    with progress_bar(rounds, "bootstrap", enabled=progress) as bar:
        for phis, deg in run_chunks(chunk, n_chunks, threads=threads):
            out.append(phis)
            n_degenerate += deg
            bar.update(len(phis))
    return np.vstack(out), n_degenerate


def _summarise_bootstrap(point: ContextualResult, phis: np.ndarray, confidence: float, n_degenerate: int,
                         settings: dict[str, Any]) -> ContextualBootstrap:
    n, p = len(point.models), len(point.beta)
    ok = np.isfinite(phis[:, n:]).all(axis=1) & np.isfinite(phis[:, :n]).any(axis=1)
    s = point.settings
    theta = phis[ok, :n]
    k = s["scale"] / np.log(s["base"])
    # centre over the models present in each round, as the point fit does
    ratings = s["init"] + k * (theta - np.nanmean(theta, axis=1, keepdims=True))
    if s["anchor"]:
        (name, value), = s["anchor"].items()
        ratings = ratings - ratings[:, [point.models.index(name)]] + float(value)
    alpha = 1 - confidence
    idx = pd.Index(point.models, name="model")
    rdf = pd.DataFrame(ratings, columns=idx)
    bdf = pd.DataFrame(phis[ok, n:n + p], columns=point.beta.index)
    lo = rdf.quantile(alpha / 2).rename("ci_lower")
    hi = rdf.quantile(1 - alpha / 2).rename("ci_upper")
    filled = np.where(np.isfinite(ratings), ratings, -np.inf)
    ranks, r_lo, r_hi, p_top = rank_summary(filled, confidence)
    return ContextualBootstrap(
        ratings=rdf, beta=bdf, point=point, confidence=confidence, ci_lower=lo, ci_upper=hi,
        beta_ci_lower=bdf.quantile(alpha / 2).rename("ci_lower"),
        beta_ci_upper=bdf.quantile(1 - alpha / 2).rename("ci_upper"),
        ranks=pd.DataFrame(ranks, columns=idx), rank_lower=pd.Series(r_lo, index=idx, name="rank_lower"),
        rank_upper=pd.Series(r_hi, index=idx, name="rank_upper"),
        p_top=pd.Series(p_top, index=idx, name="p_top"), n_degenerate=n_degenerate, settings=settings)


# ------------------------------------------------------------------------------ leaderboard
def contextual_leaderboard(battles: Battles | pd.DataFrame,
                           covariates: Sequence[str] | pd.DataFrame | np.ndarray | None = None,
                           ties: str = "half", *, ci: str = "sandwich", rounds: int = DEFAULT_ROUNDS,
                           seed: int = 0, confidence: float = DEFAULT_CONFIDENCE,
                           cluster: str | None = None, position: bool = False, l2: float = 0.0,
                           scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE,
                           init: float = DEFAULT_INIT, anchor: Mapping[str, float] | None = None,
                           threads: int = THREADS, progress: bool = False
                           ) -> tuple[pd.DataFrame, ContextualResult | ContextualBootstrap]:
    """A leaderboard with the core's columns from a contextual fit.

    Columns: ``rank, model, rating, ci_lower, ci_upper, battles, wins, losses, ties, win_rate``
    (plus ``rank_lower, rank_upper, p_top`` with ``ci="bootstrap"``). ``rank`` is LMSYS's
    "Rank (UB)" (:func:`~arena_stats.boards.leaderboard.rank_ub`), as on the core's board.

    Parameters
    ----------
    ci : {"sandwich", "fisher", "bootstrap", "none"}
        Wald intervals from the robust or model-based standard errors, percentile intervals, or
        none (ranks then follow the ratings).
    Other parameters
        As in :func:`fit_contextual` and :func:`bootstrap_contextual`.

    Returns
    -------
    (pandas.DataFrame, ContextualResult or ContextualBootstrap)

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> board, fit = contextual_leaderboard(simulate_arena(5, 3000, seed=4).battles, position=True)
    >>> board.columns.tolist()[:5]
    ['rank', 'model', 'rating', 'ci_lower', 'ci_upper']
    """
    battles = as_battles(battles)
    if ci not in CI_METHODS:
        raise InputError(f"unknown interval method {ci!r}; expected one of {', '.join(CI_METHODS)}")
    common = dict(position=position, l2=l2, scale=scale, base=base, init=init, anchor=anchor)
    extra: dict[str, pd.Series] = {}
    if ci == "bootstrap":
        res: ContextualResult | ContextualBootstrap = bootstrap_contextual(
            battles, covariates, ties, rounds=rounds, seed=seed, confidence=confidence, cluster=cluster,
            threads=threads, progress=progress, **common)
        point = res.point
        lo, hi = res.ci_lower, res.ci_upper
        extra = {"rank_lower": res.rank_lower, "rank_upper": res.rank_upper, "p_top": res.p_top}
    else:
        res = point = fit_contextual(battles, covariates, ties, **common)
        lo, hi = point.intervals(confidence, robust=ci == "sandwich") if ci != "none" else (None, None)
    return board_frame(point.ratings, lo, hi, battles, extra), res


def board_frame(ratings: pd.Series, lower: pd.Series | None, upper: pd.Series | None, battles: Battles,
                extra: Mapping[str, pd.Series] | None = None) -> pd.DataFrame:
    """The core's leaderboard columns (best first) from ratings and interval bounds.

    Without bounds the intervals are NaN and the rank is the plain order, as in
    :func:`~arena_stats.boards.leaderboard.leaderboard` with ``ci="none"``.
    """
    totals = model_totals(battles).reindex(ratings.index)
    nan = pd.Series(np.nan, index=ratings.index)
    lo = (nan if lower is None else lower).reindex(ratings.index).to_numpy()
    hi = (nan if upper is None else upper).reindex(ratings.index).to_numpy()
    df = pd.DataFrame({"model": ratings.index, "rating": ratings.to_numpy(), "ci_lower": lo, "ci_upper": hi})
    if lower is None:
        rank = np.empty(len(df), np.int64)
        rank[np.argsort(-df["rating"].to_numpy(), kind="stable")] = np.arange(1, len(df) + 1)
    else:
        rank = rank_ub(lo, hi)
    df.insert(0, "rank", rank)
    for c in ("battles", "wins", "losses", "ties", "win_rate"):
        values = totals[c].to_numpy()
        if c != "win_rate" and np.all(values == np.round(values)):
            values = values.astype(np.int64)
        df[c] = values
    for name, series in (extra or {}).items():
        df[name] = series.reindex(ratings.index).to_numpy()
    return df.sort_values(["rating", "model"], ascending=[False, True], kind="stable").reset_index(drop=True)
