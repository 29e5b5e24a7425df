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

The fit. The one engine (:func:`~arena_stats.models.engine.newton`) on ``(theta, beta, tie
parameter)`` under the sum-zero constraint, with the same stopping rule as the plain fit (no
parameter's Newton step above 1e-8, and that last step taken), so a contextual fit is as exact
as a plain one. ``l2`` penalises the strengths (as everywhere in the package) and
``covariate_l2`` the coefficients. The Hessian is only
``(n_models + p + 1)`` square and is assembled with ``bincount`` from per-row second
derivatives: the strength block is a weighted graph Laplacian, the cross block ``n x p``, the
covariate block ``X^T W X``. Each iteration is a few vectorised passes over the rows (~0.1 s per
million rows), and convergence is declared on the norm of the gradient of the *mean*
log-likelihood is reported as in the plain fit.

Uncertainty. ``se`` / ``beta_se`` come from the inverse observed information; ``se_robust`` /
``beta_se_robust`` from the sandwich ``A^-1 B A^-1`` with ``B`` the sum over *battles* of the
outer products of per-battle scores (HC0; a cell of ``c`` battles contributes ``c`` times its
battle's outer product, so cells and rows give the same answer), both through
:mod:`~arena_stats.models.covariance` as for the plain fit.
:func:`~arena_stats.inference.contextual_bootstrap.bootstrap_contextual` resamples battles or
whole clusters (voters, prompts), refitting each round from the full-data estimate.

The both-bad outcome model of :mod:`arena_stats.models.bothbad` runs on the same engine with its own
per-battle likelihood (:class:`Family`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from .._util import checks
from ..data.aggregate import PairCounts, aggregate
from ..data.battles import A_WINS, B_WINS, Battles
from ..data.readers import as_battles
from ..errors import InputError, NoMLEError, suggest
from .covariance import standard_errors, wald_interval
from .elo_scale import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE, EloScale
from .engine import MAX_ITER, STEP_TOL, newton
from .existence import check_mle_exists
from .families import (
    TIE_PARAM_NAME,
    TIE_START,
    TIES,
    check_ties,
    local_terms,
    log_sigmoids,
    outcome_probabilities,
    pair_weights,
)
from .pair_problem import make_problem, start_point
from .results import RatingFit

__all__ = ["ContextualResult", "Design", "Family", "DesignTerms", "ContextualObjective", "build_design",
           "fit_contextual", "covariate_matrix", "constraint_matrix", "POSITION"]

#: Name of the constant first-slot / home-advantage covariate added by ``position=True``.
POSITION = "position"
#: Reduce rows to cells only when that leaves at most this fraction of the rows.
CELL_FRACTION = 0.5
#: Rows looked at to tell a continuous covariate (no reduction) without factorising it all.
CONTINUITY_SAMPLE = 10_000
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
    with ``1 - p`` from its own logistic, never by subtraction: a unit weighted 1e12 at
    ``p = 1 - 1e-10`` would otherwise cancel to 1e-4 in the gradient (and in the value, which the
    line search compares), and no Newton step would get below it.
    """
    fa, fb, _ = prep
    n_ab = fa + fb
    if loglik:
        up, down = log_sigmoids(eta)
        ll = mult * (fa * up + fb * down)
    else:
        ll = None
    if not derivatives:
        return ll, None, None
    p, q = expit(eta), expit(-eta)
    grad = (mult * (fa * q - fb * p))[:, None]
    hess = (-mult * n_ab * p * q)[:, None, None]
    return ll, grad, hess


def convention_family(ties: str) -> Family:
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


class Assembler:
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
        out = np.zeros(self.dim)
        for k, kind in enumerate(self.family.locals):
            out += self.load(kind, grad[:, k])
        return out

    def hessian(self, hess: np.ndarray) -> np.ndarray:
        """``sum_r sum_kl hess[r, k, l] z_rk z_rl^T`` with ``z_rk`` the loading of local ``k``."""
        out = np.zeros((self.dim, self.dim))
        kinds = self.family.locals
        for k in range(len(kinds)):
            for m in range(k, len(kinds)):
                block = self._gram(kinds[k], kinds[m], hess[:, k, m])
                out += block if k == m else block + block.T
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


# ------------------------------------------------------------------------------ objective
def constraint_matrix(n: int, dim: int, active: np.ndarray | None = None) -> np.ndarray:
    """``E (dim, k)``: the active strengths sum to zero, inactive ones (no battle) are zero."""
    idx = np.arange(n) if active is None else np.flatnonzero(active)
    cols = [np.zeros(dim)]
    cols[0][idx] = 1.0 / np.sqrt(len(idx))
    if active is not None:
        for k in np.flatnonzero(~active):
            c = np.zeros(dim)
            c[k] = 1.0
            cols.append(c)
    return np.column_stack(cols)


class DesignTerms:
    """The unpenalised log-likelihood of a design under a family, and its sums.

    ``mult`` (default: battles x weight of each unit) multiplies each unit's terms; the
    bootstrap passes resampled multiplicities. ``prep`` and ``assembler`` may be shared by the
    objectives of many resamples of one design.
    """

    def __init__(self, d: Design, family: Family, mult: np.ndarray | None = None, prep: Any = None,
                 assembler: Assembler | None = None) -> None:
        self.d, self.family = d, family
        self.asm = Assembler(d, family) if assembler is None else assembler
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

    def value(self, phi: np.ndarray) -> float:
        eta, s, g = self._locals(phi)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return float(self.family.terms(eta, s, g, self.prep, self.mult, derivatives=False)[0].sum())

    def derivatives(self, phi: np.ndarray, hessian: bool = True) -> tuple[float, np.ndarray, np.ndarray | None]:
        eta, s, g = self._locals(phi)
        ll, grad, hess = self.family.terms(eta, s, g, self.prep, self.mult)
        assert ll is not None and grad is not None and hess is not None
        return float(ll.sum()), self.asm.gradient(grad), (self.asm.hessian(hess) if hessian else None)

    def gradient(self, phi: np.ndarray) -> np.ndarray:
        """The gradient only (no logarithms, no Hessian): the bootstrap's chord iterations."""
        eta, s, g = self._locals(phi)
        _, grad, _ = self.family.terms(eta, s, g, self.prep, self.mult, loglik=False)
        assert grad is not None
        return self.asm.gradient(grad)

    def meat(self, phi: np.ndarray) -> np.ndarray:
        """Sum over battles of score score^T (each unit: count x its battle's outer product)."""
        eta, s, g = self._locals(phi)
        _, score, _ = self.family.terms(eta, s, g, self.prep, self.d.weight)
        assert score is not None
        outer = score[:, :, None] * score[:, None, :] * self.d.count[:, None, None]
        return self.asm.hessian(outer)

    def cluster_meat(self, phi: np.ndarray) -> np.ndarray:
        """The meat with the battles' scores summed within clusters (``d.cluster``) first.

        Each unit's full score is its local scores times their loadings (``eta``: +1 at ``a``,
        -1 at ``b`` and ``x`` on ``beta``; ``s``: +1/2 at both; globals: themselves), so the
        per-cluster sums are sparse (cluster x model) products plus dense (cluster x rest) sums.
        """
        from scipy.sparse import csr_matrix
        d = self.d
        if d.cluster is None:
            raise ValueError("the design has no clusters")
        eta, s, g = self._locals(phi)
        _, score, _ = self.family.terms(eta, s, g, self.prep, d.weight)
        assert score is not None
        score = score * d.count[:, None]
        n, p = self.asm.n, self.asm.p
        n_clusters = int(d.cluster.max()) + 1
        rest = np.zeros((n_clusters, self.asm.dim - n))
        theta = csr_matrix((n_clusters, n))
        for k, kind in enumerate(self.family.locals):
            v = score[:, k]
            tc = _theta_coefs(kind)
            if tc is None:
                rest[:, p + int(kind)] += np.bincount(d.cluster, v, n_clusters)
                continue
            theta = theta + csr_matrix((tc[0] * v, (d.cluster, d.a)), shape=(n_clusters, n)) \
                + csr_matrix((tc[1] * v, (d.cluster, d.b)), shape=(n_clusters, n))
            if kind == _ETA:
                for c in range(p):
                    rest[:, c] += np.bincount(d.cluster, v * d.X[:, c], n_clusters)
        out = np.zeros((self.asm.dim, self.asm.dim))
        out[:n, :n] = (theta.T @ theta).toarray()
        cross = np.asarray(theta.T @ rest)
        out[:n, n:], out[n:, :n] = cross, cross.T
        out[n:, n:] = rest.T @ rest
        return out


class ContextualObjective:
    """The penalised log-likelihood of :class:`DesignTerms` (or of any object with their
    ``value``, ``derivatives`` and ``meat``, such as the Dask sums over partitions) as an
    objective of the engine (a batch of one).

    Penalties: ``l2 / 2 * |theta|^2`` on the strengths, ``covariate_l2 / 2 * |beta|^2`` on the
    coefficients.
    """

    def __init__(self, terms: Any, family: Family, n: int, p: int, l2: float = 0.0,
                 covariate_l2: float = 0.0, constraint: np.ndarray | None = None,
                 total: float | None = None) -> None:
        self.terms, self.family, self.n, self.p = terms, family, n, p
        self.l2, self.covariate_l2 = float(l2), float(covariate_l2)
        self.dim = n + p + family.n_global
        self.constraint = constraint_matrix(n, self.dim) if constraint is None else constraint
        self.total = np.array([float(terms.total if total is None else total)])
        pen = np.zeros(self.dim)
        pen[:n], pen[n:n + p] = self.l2, self.covariate_l2
        self._pen = pen

    def subset(self, rows: np.ndarray) -> ContextualObjective:
        return self

    def _feasible(self, phi: np.ndarray) -> bool:
        return bool(self.family.feasible(phi[self.n + self.p:]))

    def value(self, x: np.ndarray) -> np.ndarray:
        phi = x[0]
        if not self._feasible(phi):
            return np.array([-np.inf])
        v = self.terms.value(phi) - 0.5 * float(self._pen @ (phi * phi))
        return np.array([v if np.isfinite(v) else -np.inf])

    def derivatives(self, x: np.ndarray, hessian: bool = True
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        phi = x[0]
        ll, g, h = self.terms.derivatives(phi, hessian)
        ll = ll - 0.5 * float(self._pen @ (phi * phi))
        g = np.asarray(g, dtype=np.float64) - self._pen * phi
        if h is not None:
            h = np.asarray(h, dtype=np.float64).copy()
            h[np.diag_indices(self.dim)] -= self._pen
            h = h[None]
        return np.array([ll]), g[None], h

    def gradient(self, phi: np.ndarray) -> np.ndarray:
        return self.terms.gradient(phi) - self._pen * phi

    def meat(self, phi: np.ndarray) -> np.ndarray:
        return self.terms.meat(phi)


def _start(d: Design, family: Family, counts: PairCounts | None = None) -> np.ndarray:
    """Zero coefficients; strengths (and the tie parameter) of the plain fit when counts are given.

    The plain fit on the pair counts costs milliseconds and saves a pass or two over the rows.
    """
    start = np.concatenate([np.zeros(d.n_models + d.p), family.start(d)])
    if counts is None:
        return start
    ties = family.name if family.name in TIES else "davidson"
    prob = make_problem(counts, ties)
    res = newton(prob, start_point(counts.n_models, ties))
    if not (res.converged[0] and np.isfinite(res.x).all()):
        return start
    start[: d.n_models] = res.x[0, : d.n_models]
    if family.name in TIE_START:
        start[-1] = res.x[0, -1]
    return start


def active_models(d: Design, mult: np.ndarray) -> np.ndarray:
    """Which models have at least one battle (of positive multiplicity) in the design."""
    used = np.bincount(d.a, weights=mult, minlength=d.n_models) + \
        np.bincount(d.b, weights=mult, minlength=d.n_models)
    return used > 0


def check_existence(counts: PairCounts, ties: str, l2: float) -> None:
    """The MLE must exist without a prior; with one, say that the ratings depend on it."""
    if not l2:
        check_mle_exists(counts, ties)
        return
    try:
        check_mle_exists(counts, ties)
    except NoMLEError as exc:
        warnings.warn(f"without the prior the MLE would not exist ({exc}); the l2={l2:g} prior keeps the "
                      "ratings finite, so they depend on it", stacklevel=3)


def design_counts(d: Design) -> PairCounts:
    """The design's battles as pair counts (for the existence check and the starting point)."""
    frame = pd.DataFrame({
        "model_a": pd.Categorical.from_codes(d.a.astype(np.int32), categories=d.models),
        "model_b": pd.Categorical.from_codes(d.b.astype(np.int32), categories=d.models),
        "outcome": d.outcome, "count": d.count})
    return aggregate(Battles(frame))


def run_fit(d: Design, family: Family, *, l2: float = 0.0, covariate_l2: float = 0.0,
            tol: float = STEP_TOL, max_iter: int = MAX_ITER, counts: PairCounts | None = None
            ) -> tuple[Any, ContextualObjective]:
    """Fit ``family`` on a design with the engine; raise on non-convergence or diverging strengths.

    ``counts`` (the design's pair counts) seed the strengths with the plain fit. Returns the
    engine's result and the objective (whose design drops what the family ignores).
    """
    if family.keeps is not None:
        d = d.subset(family.keeps(d.outcome))
    obj = ContextualObjective(DesignTerms(d, family), family, d.n_models, d.p, l2, covariate_l2)
    return _solve(obj, _start(d, family, counts), d.models, d.p, tol, max_iter), obj


def _solve(obj: ContextualObjective, start: np.ndarray, models: Sequence[str], p: int, tol: float,
           max_iter: int) -> Any:
    """The engine on one contextual objective, with the checks every contextual fit needs."""
    res = newton(obj, start[None], max_iter=max_iter, step_tol=tol)
    phi = res.x[0]
    n = len(models)
    theta = phi[:n]
    if np.abs(theta).max() > DIVERGED_THETA:
        far = [models[k] for k in np.flatnonzero(np.abs(theta) > DIVERGED_THETA).tolist()]
        raise NoMLEError(f"the strengths of {', '.join(far[:8])} diverge: with these covariates "
                         "the maximum-likelihood ratings do not exist", far)
    if not res.converged[0]:
        from ..errors import ConvergenceError
        beta = phi[n:n + p]
        hint = " (a covariate separates the outcomes? try covariate_l2 > 0)" if p and np.abs(beta).max() > 20 else ""
        raise ConvergenceError(f"Newton did not converge in {max_iter} iterations "
                               f"(|grad| of the mean log-likelihood = {res.grad_norm[0]:.3g}){hint}")
    return res


# ------------------------------------------------------------------------------------ result
@dataclass(frozen=True, repr=False, eq=False)
class ContextualResult(RatingFit):
    """A fitted contextual Bradley-Terry model.

    Everything of :class:`~arena_stats.models.results.RatingFit` (``models``, ``theta``,
    ``ratings``, ``se``, ``se_robust``, ``cov``, ``params``, ``cov_params``, ``tie_param``,
    ``intervals()``, ``to_frame()`` ...), plus the covariate coefficients.

    Attributes
    ----------
    covariates : tuple of str
    n_units : int
        Rows or cells the fit ran on.
    beta, beta_se, beta_se_robust : pandas.Series
        Covariate coefficients on the natural (log-odds) scale and their standard errors.
    settings : dict
        ``ties, covariates, position, l2, covariate_l2, scale, base, init, anchor, tol, reduced``.
    """

    covariates: tuple[str, ...]
    n_units: int

    @property
    def _p(self) -> int:
        return len(self.covariates)

    @cached_property
    def beta(self) -> pd.Series:
        n = len(self.models)
        return pd.Series(self.params.to_numpy()[n:n + self._p], index=pd.Index(self.covariates, name="covariate"),
                         name="beta")

    def _beta_se(self, cov: pd.DataFrame, name: str) -> pd.Series:
        n = len(self.models)
        se = standard_errors(cov.to_numpy())[n:n + self._p]
        return pd.Series(se, index=pd.Index(self.covariates, name="covariate"), name=name)

    @property
    def beta_se(self) -> pd.Series:
        return self._beta_se(self.cov_params, "se")

    @property
    def beta_se_robust(self) -> pd.Series:
        return self._beta_se(self.cov_params_robust, "se_robust")

    @property
    def log_tie(self) -> float | None:
        return float(self.params.iloc[-1]) if self.ties in TIE_START else None

    @property
    def _tie_name(self) -> str | None:
        return str(self.params.index[-1]) if self.ties in TIE_START else None

    def linear_predictor(self, model_a: Any, model_b: Any, covariates: Any = None) -> np.ndarray:
        """``theta_a - theta_b + x . beta`` (``x = 0``, the covariate-neutral battle, by default)."""
        eta = super().linear_predictor(model_a, model_b)
        if covariates is not None:
            x = np.asarray(covariates, dtype=np.float64).reshape(-1, self._p)
            eta = eta + x @ self.beta.to_numpy()
        return eta

    def predict_proba(self, model_a: Any, model_b: Any, covariates: Any = None) -> pd.DataFrame:
        """P(a wins), P(b wins), P(tie), one row per pair; the tie column is 0 for half / drop.

        Examples
        --------
        >>> from arena_stats.data.simulate import simulate_arena
        >>> sim = simulate_arena(4, 3000, seed=2)
        >>> fit = fit_contextual(sim.battles, position=True)
        >>> fit.predict_proba(["model-000"], ["model-001"], [[1.0]]).shape
        (1, 3)
        """
        eta = self.linear_predictor(model_a, model_b, covariates)
        return self._proba_frame(model_a, model_b, outcome_probabilities(eta, self.ties, self.log_tie))

    def coef_table(self, confidence: float = 0.95, robust: bool = True) -> pd.DataFrame:
        """Covariate coefficients with standard errors, z, p-value and a Wald interval."""
        se = self.beta_se_robust if robust else self.beta_se
        with np.errstate(divide="ignore", invalid="ignore"):
            zval = self.beta / se
        lo, hi = wald_interval(self.beta, se, confidence)
        return pd.DataFrame({
            "coef": self.beta, "se": self.beta_se, "se_robust": self.beta_se_robust, "z": zval,
            "p_value": 2 * ndtr(-np.abs(zval)), "ci_lower": lo, "ci_upper": hi,
        }, index=pd.Index(self.beta.index, name="covariate"))

    def _describe(self) -> str:
        return super()._describe() + f", covariates={list(self.covariates)}"

    def summary(self, top: int | None = 20) -> str:
        """Settings, coefficient table and the top of the board, as text."""
        s = self.settings
        lines = self._header("Contextual Bradley-Terry fit", 72)
        lines.insert(3, f"fitted on {self.n_units:,} {'cells' if s['reduced'] else 'rows'}; "
                        f"l2 on theta: {s['l2']:g}, on beta: {s['covariate_l2']:g}")
        if len(self.beta):
            lines += ["-" * 72, f"{'covariate':<24} {'coef':>9} {'se':>8} {'se_robust':>9} {'z':>7} {'p':>9}"]
            for name, row in self.coef_table().iterrows():
                lines.append(f"{str(name)[:24]:<24} {row.coef:9.4f} {row.se:8.4f} {row.se_robust:9.4f} "
                             f"{row.z:7.2f} {row.p_value:9.2g}")
        return "\n".join(lines + ["-" * 72] + self._model_lines(top))


def make_result(res: Any, obj: ContextualObjective, family: Family, settings: dict[str, Any],
                n_battles: float, models: Sequence[str], covariates: Sequence[str], n_units: int
                ) -> ContextualResult:
    """The public result of a converged engine run."""
    phi = res.x[0]
    n = len(models)
    names = list(models) + list(covariates) + list(family.global_names)
    return ContextualResult(
        models=list(models), theta=phi[:n].copy(),
        params=pd.Series(phi, index=pd.Index(names, name="parameter"), name="estimate"),
        information=-res.hessian[0], meat=obj.meat(phi), constraint=obj.constraint,
        loglik=float(res.loglik[0]), n_iter=res.n_iter, grad_norm=float(res.grad_norm[0]),
        n_battles=n_battles, settings=settings, covariates=tuple(covariates), n_units=int(n_units))


def contextual_cluster_cov(fit: ContextualResult, battles: Battles | pd.DataFrame, covariates: Any,
                           cluster: str) -> np.ndarray:
    """Cluster-robust covariance of a contextual fit's ratings (Elo points squared).

    The meat sums each cluster's battle scores before the outer products (as for the plain fit,
    :func:`~arena_stats.models.bradley_terry.cluster_robust_cov`), at the fit's parameters, on a
    design whose cells never straddle clusters.
    """
    s = fit.settings
    d = build_design(as_battles(battles), covariates, position=s["position"], cluster=cluster)
    family = convention_family(s["ties"])
    if family.keeps is not None:
        d = d.subset(family.keeps(d.outcome))
    meat = DesignTerms(d, family).cluster_meat(fit.params.to_numpy())
    bread = fit.cov_params.to_numpy()
    n = len(fit.models)
    return fit.scale.factor ** 2 * (bread @ meat @ bread)[:n, :n]


def fit_settings(ties: str, names: Sequence[str], position: bool, l2: float, covariate_l2: float,
                 scale: float, base: float, init: float, anchor: Mapping[str, float] | None, tol: float,
                 reduced: bool) -> dict[str, Any]:
    """Validated settings of a contextual fit, as its result reports them."""
    elo = EloScale(scale, base, init, anchor)
    return dict(ties=ties, covariates=tuple(names), position=bool(position), l2=checks.non_negative("l2", l2),
                covariate_l2=checks.non_negative("covariate_l2", covariate_l2), **elo.as_dict(),
                tol=checks.positive("tol", tol), reduced=bool(reduced))


def resolve_covariate_l2(l2: float, covariate_l2: float | None, where: str) -> tuple[float, float]:
    """``(l2, covariate_l2)`` from a call that may use the old meaning of ``l2``.

    Until 0.2, ``l2`` of the contextual functions penalised the covariate coefficients. It now
    penalises the strengths, as everywhere in the package; a call that gives ``l2`` but not
    ``covariate_l2`` still gets the old meaning for one release, with a warning.
    """
    if covariate_l2 is None:
        if l2:
            warnings.warn(f"{where}(l2=...) penalised the covariate coefficients until 0.2; that is now "
                          "covariate_l2=, and l2= penalises the strengths as everywhere in the package. "
                          "Pass covariate_l2= (and l2= for the strengths) to silence this",
                          DeprecationWarning, stacklevel=3)
            return 0.0, l2
        return 0.0, 0.0
    return l2, covariate_l2


def prepare(battles: Battles | pd.DataFrame, covariates: Any, ties: str, position: bool, *,
            reduce: bool | str = "auto", cluster: str | None = None) -> tuple[Design, Family, PairCounts]:
    """Validate the tie convention; build the design, its family and its pair counts (the
    strength part must have an MLE: covariates cannot rescue a model that never loses)."""
    check_ties(ties)
    d = build_design(as_battles(battles), covariates, position=position, reduce=reduce, cluster=cluster)
    if (d.weight != 1.0).any():
        checks.weight_spread(d.weight)
    counts = design_counts(d)
    return d, convention_family(ties), counts


def fit_contextual(battles: Battles | pd.DataFrame,
                   covariates: Sequence[str] | pd.DataFrame | np.ndarray | None = None,
                   ties: str = "half", *, position: bool = False, l2: float = 0.0,
                   covariate_l2: float | None = None, scale: float = DEFAULT_SCALE,
                   base: float = DEFAULT_BASE, init: float = DEFAULT_INIT,
                   anchor: Mapping[str, float] | None = None, reduce: bool | str = "auto",
                   tol: float = STEP_TOL, max_iter: int = MAX_ITER) -> ContextualResult:
    """Fit a Bradley-Terry model with battle-level covariates by maximum likelihood.

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
        The battles; per-battle weights (``weight`` column) multiply each log-likelihood term.
    covariates : list of str, DataFrame or array, optional
        Battle-level covariates, each a difference "``a`` minus ``b``" (see
        :func:`covariate_matrix`). Style features come from
        :func:`arena_stats.features.style.add_style_features`.
    ties : {"half", "drop", "davidson", "rao-kupper"}
        Tie convention, as in :func:`~arena_stats.fit_bradley_terry`.
    position : bool
        Add the constant covariate ``position`` (first-slot advantage / home advantage).
    l2 : float
        Gaussian prior ``l2 / 2 * |theta|^2`` on the strengths, as in
        :func:`~arena_stats.fit_bradley_terry`.
    covariate_l2 : float
        Ridge penalty ``covariate_l2 / 2 * |beta|^2`` on the covariate coefficients.
    scale, base, init, anchor
        Elo scale, as in :func:`~arena_stats.fit_bradley_terry`.
    reduce : {"auto", True, False}
        Reduce rows to cells (see :func:`build_design`).
    tol, max_iter
        Stop when no parameter's Newton step exceeds ``tol``; at most ``max_iter`` iterations.

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
    l2, covariate_l2 = resolve_covariate_l2(l2, covariate_l2, "fit_contextual")
    d, family, counts = prepare(battles, covariates, ties, position, reduce=reduce)
    settings = fit_settings(ties, d.covariates, position, l2, covariate_l2, scale, base, init, anchor, tol,
                            d.reduced)
    check_existence(counts, ties, settings["l2"])
    max_iter = checks.integer("max_iter", max_iter, 1)
    res, obj = run_fit(d, family, l2=settings["l2"], covariate_l2=settings["covariate_l2"], tol=settings["tol"],
                       max_iter=max_iter, counts=counts)
    return make_result(res, obj, family, settings, d.n_battles, d.models, d.covariates, obj.terms.d.n_units)


#: Names that lived in this module until 0.2, and their new homes (old imports keep working).
_MOVED = {"bootstrap_contextual": "..inference.contextual_bootstrap",
          "ContextualBootstrap": "..inference.contextual_bootstrap",
          "resample_fits": "..inference.contextual_bootstrap",
          "contextual_leaderboard": "..boards.leaderboard"}


def __getattr__(name: str) -> Any:
    """Old imports (``from arena_stats.contextual import bootstrap_contextual``) keep working."""
    if name in _MOVED:
        import importlib
        return getattr(importlib.import_module(_MOVED[name], __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
