"""Maximum-likelihood Bradley-Terry fits on pair counts, with four tie conventions.

The model. Each model ``i`` has a strength ``theta_i`` (natural log scale, sum zero); the tie
conventions (``half``, LMSYS's default; ``drop``; ``davidson``; ``rao-kupper``) are defined once
in :mod:`~arena_stats.models.families`. The fit works on
:class:`~arena_stats.data.aggregate.PairCounts`, never on raw rows: the likelihood of a
convention depends on the battles only through each pair's counts per verdict
(:class:`~arena_stats.models.pair_problem.PairProblem`), and the one engine
(:func:`~arena_stats.models.engine.newton`) maximises it under the sum-zero constraint, stopping
when no strength would move by more than 1e-8 (and taking that last step), so ratings are
exact to round-off and the stopping rule does not depend on the scale of the weights.

Existence. The MLE exists iff the comparison graph is strongly connected in the direction of
wins (:mod:`~arena_stats.models.existence`); otherwise :class:`~arena_stats.errors.NoMLEError`
names the models responsible. An L2 prior ``- l2 / 2 * |theta|^2`` keeps every fit finite.

Uncertainty. Model-based and sandwich covariances (:mod:`~arena_stats.models.covariance`), on
first use. Ratings are on the Elo scale (:mod:`~arena_stats.models.elo_scale`):
``rating = init + (scale / ln(base)) * theta``, or shifted so that an ``anchor`` model has a
given rating; a shift changes no interval and no rank.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._util import checks
from ..data.aggregate import PairCounts, aggregate, cluster_cell_matrix
from ..data.battles import Battles
from ..data.readers import as_battles
from ..errors import InputError, NoMLEError
from .covariance import cell_scores as _cell_scores
from .covariance import cluster_meat, pair_meat, sandwich
from .elo_scale import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE, EloScale, elo_transform
from .engine import GRAD_TOL, MAX_ITER, STEP_TOL, newton
from .existence import check_mle_exists
from .families import (
    TIE_PARAM_NAME,
    TIE_START,
    TIES,
    check_ties,
    local_terms,
    outcome_probabilities,
    pair_weights,
    per_battle_scores,
)
from .pair_problem import PairProblem, make_problem, start_point
from .results import RatingFit

__all__ = ["TIES", "BTResult", "fit_bradley_terry", "fit_counts", "cluster_robust_cov", "elo_transform",
           "outcome_probabilities", "local_terms", "pair_weights", "per_battle_scores", "check_mle_exists",
           "make_problem", "start_point", "PairProblem", "DEFAULT_SCALE", "DEFAULT_BASE", "DEFAULT_INIT",
           "GRAD_TOL", "STEP_TOL", "MAX_ITER", "TIE_START", "TIE_PARAM_NAME", "MAX_WEIGHT_SPREAD"]

#: How the Newton systems are solved (the answer does not depend on it).
SOLVERS = ("auto", "dense", "sparse")
#: Kept for old imports: the limit lives with the other argument checks.
MAX_WEIGHT_SPREAD = checks.MAX_WEIGHT_SPREAD


@dataclass(frozen=True, repr=False, eq=False)
class BTResult(RatingFit):
    """A fitted Bradley-Terry model.

    Everything of :class:`~arena_stats.models.results.RatingFit` -- ``models``, ``theta``,
    ``ratings``, ``se``, ``se_robust``, ``cov``, ``cov_robust``, ``params``, ``cov_params``,
    ``tie_param``, ``intervals()``, ``predict_proba()``, ``win_probability()``, ``to_frame()``,
    ``summary()`` -- plus the sufficient statistics it was fitted on.

    Attributes
    ----------
    counts : PairCounts
        The battles as counts per (pair, verdict) cell.
    """

    counts: PairCounts

    def summary(self, top: int | None = 20) -> str:
        """Settings, fit statistics and the top of the board, as text."""
        return "\n".join(self._header("Bradley-Terry maximum-likelihood fit") + ["-" * 64]
                         + self._model_lines(top))


def _check_fit_settings(ties: str, l2: float, tol: float, max_iter: int) -> tuple[float, float, int]:
    check_ties(ties)
    return (checks.non_negative("l2", l2), checks.positive("tol", tol),
            checks.integer("max_iter", max_iter, 1))


def fit_counts(pc: PairCounts, ties: str = "half", *, l2: float = 0.0, scale: float = DEFAULT_SCALE,
               base: float = DEFAULT_BASE, init: float = DEFAULT_INIT,
               anchor: Mapping[str, float] | None = None, tol: float = STEP_TOL,
               max_iter: int = MAX_ITER, x0: np.ndarray | None = None, solver: str = "auto") -> BTResult:
    """:func:`fit_bradley_terry` on already aggregated :class:`PairCounts`.

    ``x0`` (strengths, then the log tie parameter) warm-starts the fit. ``solver`` is
    ``"dense"``, ``"sparse"`` or ``"auto"`` (:func:`~arena_stats.models.sparse.use_sparse`: sparse
    linear algebra for thousands of models compared in few pairs); the answer is the same.
    """
    l2, tol, max_iter = _check_fit_settings(ties, l2, tol, max_iter)
    if solver not in SOLVERS:
        raise InputError(f"unknown solver {solver!r}; expected one of {', '.join(SOLVERS)}")
    elo = EloScale(scale, base, init, anchor)
    if pc.n_models < 2:
        raise InputError("need at least two models to fit")
    if pc.weighted:
        checks.weight_spread(pc.cell_weight)
    if l2 == 0:
        check_mle_exists(pc, ties)
    else:
        try:
            check_mle_exists(pc, ties)
        except NoMLEError as exc:
            warnings.warn(f"without the prior the MLE would not exist ({exc}); the l2={l2:g} prior "
                          "keeps the ratings finite, so they depend on it", stacklevel=3)
    prob = make_problem(pc, ties, l2, sparse=None if solver == "auto" else solver == "sparse")
    start = start_point(pc.n_models, ties) if x0 is None else np.asarray(x0, float).reshape(1, -1)
    if start.shape[1] != prob.dim or not np.isfinite(start).all():
        raise InputError(f"x0 must hold {prob.dim} finite numbers (strengths, then the log tie parameter)")
    res = newton(prob, start, max_iter=max_iter, step_tol=tol, raise_on_failure=True)
    x = res.x[0]
    names = list(pc.models) + ([f"log_{TIE_PARAM_NAME[ties]}"] if prob.has_tie_param else [])
    settings = dict(ties=ties, l2=l2, **elo.as_dict(), tol=tol)
    return BTResult(
        models=list(pc.models), theta=x[: pc.n_models].copy(),
        params=pd.Series(x, index=pd.Index(names, name="parameter"), name="estimate"),
        information=-res.hessian[0], meat=pair_meat(pc, x, ties, float(x[pc.n_models]) if prob.has_tie_param
                                                     else None),
        constraint=prob.constraint, loglik=float(res.loglik[0]), n_iter=res.n_iter,
        grad_norm=float(res.grad_norm[0]), n_battles=pc.n_battles, settings=settings, counts=pc)


def cell_scores(fit: BTResult) -> np.ndarray:
    """Score vector of one battle in each cell of ``fit.counts``, ``(cells, dim)``, natural scale."""
    return _cell_scores(fit.counts, fit.params.to_numpy(), fit.ties, fit.log_tie)


def cluster_robust_cov(fit: BTResult, battles: Battles, cluster: str) -> pd.DataFrame:
    """Cluster-robust (sandwich) covariance of the ratings, Elo points squared.

    The meat sums the per-battle scores within each cluster (voter, prompt, ...) before taking
    outer products, so correlated votes of one cluster count as one piece of evidence; with one
    battle per cluster it equals :attr:`BTResult.cov_robust`. No small-sample correction.
    """
    pc = fit.counts
    kmat = cluster_cell_matrix(battles, pc, cluster)
    meat = cluster_meat(pc, fit.params.to_numpy(), fit.ties, fit.log_tie, kmat)
    cov = sandwich(fit.cov_params.to_numpy(), meat)
    n = pc.n_models
    idx = pd.Index(pc.models, name="model")
    return pd.DataFrame(fit.scale.factor ** 2 * cov[:n, :n], index=idx, columns=idx)


def fit_bradley_terry(battles: Battles | PairCounts | pd.DataFrame, ties: str = "half", *,
                      l2: float = 0.0, scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE,
                      init: float = DEFAULT_INIT, anchor: Mapping[str, float] | None = None,
                      tol: float = STEP_TOL, max_iter: int = MAX_ITER,
                      covariates: Sequence[str] | None = None, position: bool = False,
                      covariate_l2: float = 0.0, solver: str = "auto") -> Any:
    """Fit a Bradley-Terry model by maximum likelihood.

    Parameters
    ----------
    battles : Battles, PairCounts or pandas.DataFrame
        The battles (a DataFrame is passed to :func:`~arena_stats.load_battles`). Per-battle
        weights (``weight`` column / ``weight_col=``) multiply each battle's log-likelihood.
    ties : {"half", "drop", "davidson", "rao-kupper"}
        How ties (``tie`` and ``tie (bothbad)``) enter the likelihood
        (:mod:`~arena_stats.models.families`).
    l2 : float
        Strength of a Gaussian prior on the natural-scale strengths: the objective is
        ``loglik - l2 / 2 * sum(theta ** 2)``. With ``l2 > 0`` the fit also exists when the MLE
        would not (a warning says so).
    scale, base, init : float
        Elo scale: ``P(i beats j) = 1 / (1 + base ** ((R_j - R_i) / scale))``, ratings centred on
        ``init``.
    anchor : dict, optional
        ``{model: rating}``: shift all ratings so that this model has this rating (a pure shift).
    tol : float
        Stop when no parameter's Newton step exceeds ``tol`` (natural log units; that last step
        is still taken).
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
    solver : {"auto", "dense", "sparse"}
        Linear algebra of the Newton steps and covariances: dense LAPACK, or a sparse
        factorisation for thousands of models compared in few pairs ("auto" chooses by the
        arena's shape; the answer is the same).

    Returns
    -------
    BTResult (or ContextualResult with covariates)

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
    >>> fit.grad_norm <= 1e-12
    True
    >>> round(fit.win_probability("x", "y"), 4)
    0.5
    """
    if covariates is not None or position:
        if solver != "auto":
            raise InputError("solver= chooses the algebra of fits without covariates; a fit with covariates "
                             "always uses dense algebra")
        from .contextual import fit_contextual
        return fit_contextual(battles, covariates, ties, position=position, l2=l2, covariate_l2=covariate_l2,
                              scale=scale, base=base, init=init, anchor=anchor, tol=tol, max_iter=max_iter)
    pc = battles if isinstance(battles, PairCounts) else aggregate(as_battles(battles))
    return fit_counts(pc, ties, l2=l2, scale=scale, base=base, init=init, anchor=anchor, tol=tol,
                      max_iter=max_iter, solver=solver)
