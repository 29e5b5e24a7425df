"""The leaderboard: ratings, intervals, ranks and per-model tallies, for every kind of fit.

:func:`leaderboard` is the one board of the package. It fits Bradley-Terry -- plain on pair
counts, or contextual when covariates (style control, position) are given -- attaches
intervals by one of four methods, and builds the table with
:func:`~arena_stats.inference.table.board_table`, so every board has the same columns and the
same rank rule (:mod:`~arena_stats.inference.ranks`): ``rank`` is LMSYS's "Rank (UB)", and
``rank_lower <= rank <= rank_upper`` by construction. The command line, category boards,
incremental updates and plots all build their boards here.

Intervals (``ci``):

* ``bootstrap`` (default): percentile intervals of the bootstrap on counts
  (:mod:`~arena_stats.inference.bootstrap`), or of the contextual bootstrap; adds ``p_top``.
* ``sandwich``: Wald intervals ``rating -/+ z * se_robust`` in closed form (cluster-robust with
  ``cluster=``).
* ``fisher``: Wald intervals from the observed information (independent battles only).
* ``none``: no intervals; ranks follow the ratings.

An ``anchor`` shifts every rating and bound by one constant: ranks and widths never depend on
it. ``reference="model"`` adds the separate question "how far is each model from that one?":
``diff`` (rating minus the reference's) and its interval ``diff_ci_lower``/``diff_ci_upper``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._util import checks
from .._util.parallel import THREADS
from ..data.aggregate import PairCounts, aggregate, model_totals
from ..data.battles import Battles
from ..data.readers import as_battles
from ..errors import InputError
from ..inference.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_ROUNDS, BootstrapResult, bootstrap, percentile_interval
from ..inference.ranks import rank_ub
from ..inference.table import BOARD_COLUMNS, board_table
from ..models.bradley_terry import BTResult, cluster_robust_cov, fit_counts
from ..models.covariance import difference_se, wald_interval
from ..models.elo_scale import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE
from ..models.results import RatingFit, Result, model_index

__all__ = ["Leaderboard", "leaderboard", "board_from_fit", "contextual_leaderboard", "rank_ub",
           "LEADERBOARD_COLUMNS", "BOOTSTRAP_COLUMNS", "REFERENCE_COLUMNS", "CI_METHODS"]

#: The columns of every board, in order.
LEADERBOARD_COLUMNS = list(BOARD_COLUMNS)
#: What a bootstrap adds: the share of rounds in which each model came first.
BOOTSTRAP_COLUMNS = ["p_top"]
#: What ``reference=`` adds.
REFERENCE_COLUMNS = ["diff", "diff_ci_lower", "diff_ci_upper"]
CI_METHODS = ("bootstrap", "sandwich", "fisher", "none")


@dataclass(frozen=True, repr=False, eq=False)
class Leaderboard(Result):
    """A leaderboard and what it was built from.

    Attributes
    ----------
    frame : pandas.DataFrame
        The board, best first (:data:`LEADERBOARD_COLUMNS`, then ``p_top`` with the bootstrap and
        the :data:`REFERENCE_COLUMNS` with ``reference=``).
    fit : RatingFit
        The point fit (``BTResult`` or ``ContextualResult``).
    bootstrap : BootstrapResult or None
        The bootstrap, with ``ci="bootstrap"``.
    settings : dict
        Fit settings and ``ci, rounds, confidence, seed, cluster, reference, n_battles,
        n_models, filters, n_degenerate``.
    """

    frame: pd.DataFrame
    fit: RatingFit
    bootstrap: BootstrapResult | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The board, best first (a copy; the settings are in its ``attrs``)."""
        out = self.frame.copy()
        out.attrs.update(self.settings)
        return out

    def __len__(self) -> int:
        return len(self.frame)

    def _describe(self) -> str:
        s = self.settings
        return (f"{len(self.frame)} models, {s.get('n_battles', 0):,.0f} battles, ties={s.get('ties')!r}, "
                f"ci={s.get('ci')!r}")

    def summary(self, top: int | None = 20) -> str:
        """Settings and the top of the board, as text."""
        s = self.settings
        ci = s.get("ci")
        how = {"bootstrap": f"{s.get('rounds'):,} bootstrap rounds (seed {s.get('seed')})",
               "sandwich": "sandwich (robust) standard errors", "fisher": "observed-information standard errors",
               "none": "no intervals"}.get(str(ci), str(ci))
        lines = [f"Leaderboard: {len(self.frame)} models, {s.get('n_battles', 0):,.0f} battles, ties={s.get('ties')}"
                 + (f", covariates {list(s['covariates'])}" if s.get("covariates") else ""),
                 f"intervals: {s.get('confidence', 0.95):.0%} from {how}"
                 + (f", clustered by {s['cluster']!r}" if s.get("cluster") else "")
                 + (f"; anchor {s['anchor']}" if s.get("anchor") else ""),
                 *[f"filter {f}" for f in s.get("filters", [])],
                 "-" * 78]
        shown = self.frame if top is None else self.frame.head(top)
        cols = [c for c in ("rank", "model", "rating", "ci_lower", "ci_upper", "rank_upper", "battles", "p_top")
                if c in shown.columns]
        formats = {c: (lambda v: f"{v:.1f}") for c in cols if c != "p_top"}
        formats["p_top"] = lambda v: f"{v:.3f}"  # a probability: one decimal would show 0.0 for 4 %
        lines.append(shown[cols].to_string(index=False, formatters={c: formats[c] for c in cols
                                                                    if shown[c].dtype.kind == "f"}))
        if top is not None and len(self.frame) > top:
            lines.append(f"... {len(self.frame) - top} more models")
        return "\n".join(lines)


def _tallies(counts: PairCounts | None, battles: Battles | None) -> pd.DataFrame | None:
    if counts is not None:
        return model_totals(counts)
    return model_totals(battles) if battles is not None else None


def board_from_fit(fit: RatingFit, *, ci: str = "bootstrap", rounds: int = DEFAULT_ROUNDS,
                   confidence: float = DEFAULT_CONFIDENCE, seed: int = 0, cluster: str | None = None,
                   reference: str | None = None, battles: Battles | None = None,
                   counts: PairCounts | None = None, progress: bool = False, threads: int = THREADS,
                   boot: BootstrapResult | None = None, rating_cov: np.ndarray | None = None,
                   memory: Any = None) -> Leaderboard:
    """The board of an existing fit (the incremental update and the contextual path use it).

    ``battles`` are needed for a clustered interval; ``counts`` (or ``battles``) give the
    tallies. ``boot`` is a bootstrap already run on this fit (required for a contextual fit
    with ``ci="bootstrap"``); ``rating_cov`` a covariance of the ratings (Elo points squared)
    to use for Wald intervals instead of the fit's own.
    """
    if ci not in CI_METHODS:
        raise InputError(f"unknown interval method {ci!r}; expected one of {', '.join(CI_METHODS)}")
    confidence = checks.probability("confidence", confidence)
    if isinstance(fit, BTResult) and counts is None:
        counts = fit.counts
    lo = hi = None
    extra: dict[str, Any] = {}
    diff_lo = diff_hi = None
    models = fit.models
    ref = None if reference is None else int(model_index(models, reference)[0])
    if ci == "bootstrap":
        if boot is None:
            boot = _bootstrap_of(fit, rounds=rounds, confidence=confidence, seed=seed, cluster=cluster,
                                 battles=battles, counts=counts, progress=progress, threads=threads, memory=memory)
        lo, hi = boot.ci_lower, boot.ci_upper
        extra["p_top"] = boot.p_top
        if ref is not None:
            samples = boot.samples.to_numpy()
            diffs = samples - samples[:, [ref]]
            d_lo, d_hi = percentile_interval(diffs, confidence)
            diff_lo, diff_hi = d_lo, d_hi
    elif ci in ("sandwich", "fisher"):
        if cluster is not None and ci == "fisher":
            raise InputError("clustering needs ci='bootstrap' or ci='sandwich'; Fisher intervals assume "
                             "independent battles")
        cov = rating_cov if rating_cov is not None else _cluster_cov(fit, cluster, battles)
        if cov is None:
            # the fit's own variances: no dense matrix for arenas of thousands of models
            lo, hi = fit.intervals(confidence, robust=ci == "sandwich")
            if ref is not None:
                r_lo, r_hi = fit.intervals(confidence, robust=ci == "sandwich", reference=models[ref])
                at = float(fit.ratings.iloc[ref])
                diff_lo, diff_hi = r_lo.to_numpy() - at, r_hi.to_numpy() - at
        else:
            lo, hi = wald_interval(fit.ratings.to_numpy(), np.sqrt(np.clip(np.diag(cov), 0, None)), confidence)
            if ref is not None:
                diff = fit.ratings.to_numpy() - fit.ratings.to_numpy()[ref]
                diff_lo, diff_hi = wald_interval(diff, difference_se(cov, ref), confidence)
    if ref is not None:
        extra["diff"] = fit.ratings.to_numpy() - fit.ratings.to_numpy()[ref]
        nan = np.full(len(models), np.nan)
        extra["diff_ci_lower"] = nan if diff_lo is None else diff_lo
        extra["diff_ci_upper"] = nan if diff_hi is None else diff_hi
    frame = board_table(models, fit.ratings, lo, hi, _tallies(counts, battles), extra)
    settings = dict(fit.settings)
    settings.update(ci=ci, rounds=int(rounds) if boot is not None else 0, confidence=confidence,
                    seed=seed, cluster=cluster, reference=reference, n_battles=fit.n_battles,
                    n_models=len(models),
                    filters=[str(s) for s in (battles.steps if battles is not None else
                                              counts.steps if counts is not None else ())],
                    n_degenerate=boot.n_degenerate if boot is not None else 0, tie_param=fit.tie_param)
    return Leaderboard(frame=frame, fit=fit, bootstrap=boot, settings=settings)


def _cluster_cov(fit: RatingFit, cluster: str | None, battles: Battles | None) -> np.ndarray | None:
    """The cluster-robust covariance of the ratings (Elo points squared), or None without clusters."""
    if cluster is None:
        return None
    if battles is None:
        raise InputError("a clustered interval needs the battles, not only their counts")
    if not isinstance(fit, BTResult):
        raise InputError("the clustered sandwich of a contextual fit is computed by leaderboard(covariates=...)")
    return cluster_robust_cov(fit, battles, cluster).to_numpy()


def _bootstrap_of(fit: RatingFit, *, rounds: int, confidence: float, seed: int, cluster: str | None,
                  battles: Battles | None, counts: PairCounts | None, progress: bool, threads: int,
                  memory: Any = None) -> BootstrapResult:
    if not isinstance(fit, BTResult):
        raise InputError("the bootstrap of a contextual fit is run by leaderboard(covariates=...) or "
                         "bootstrap_contextual()")
    data: Any = battles if cluster is not None else (counts if counts is not None else battles)
    if data is None:
        raise InputError("a bootstrap needs the battles or their counts")
    return bootstrap(data, rounds, fit.ties, seed=seed, confidence=confidence, cluster=cluster, point=fit,
                     progress=progress, threads=threads, memory=memory)


def leaderboard(battles: Battles | PairCounts | pd.DataFrame, ties: str = "half", *,
                covariates: Sequence[str] | pd.DataFrame | np.ndarray | None = None, position: bool = False,
                ci: str = "bootstrap", rounds: int = DEFAULT_ROUNDS, confidence: float = DEFAULT_CONFIDENCE,
                seed: int = 0, cluster: str | None = None, l2: float = 0.0, covariate_l2: float = 0.0,
                scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE, init: float = DEFAULT_INIT,
                anchor: Mapping[str, float] | None = None, reference: str | None = None,
                progress: bool = False, threads: int = THREADS, memory: Any = None,
                return_results: bool | None = None) -> Any:
    """Fit Bradley-Terry, attach confidence intervals and rank the models.

    Parameters
    ----------
    battles : Battles, PairCounts or pandas.DataFrame
    ties : {"half", "drop", "davidson", "rao-kupper"}
    covariates : list of str, DataFrame or array, optional
        Battle-level covariates (style control, home advantage): the board of a contextual fit
        (:func:`~arena_stats.models.contextual.fit_contextual`).
    position : bool
        Add the first-slot covariate ``position``.
    ci : {"bootstrap", "sandwich", "fisher", "none"}
        Where the intervals come from (see the module docstring).
    rounds, confidence, seed
        Bootstrap rounds, interval level, random seed.
    cluster : str, optional
        Column of correlated groups (voter, prompt): the bootstrap resamples whole clusters and
        the sandwich sums scores within clusters.
    l2, covariate_l2
        L2 penalties on the strengths and on the covariate coefficients.
    scale, base, init, anchor
        Elo scale (see :func:`~arena_stats.fit_bradley_terry`); the anchor is a pure shift.
    reference : str, optional
        Add ``diff``, ``diff_ci_lower``, ``diff_ci_upper``: each model's rating minus this
        model's, with the interval of that difference.
    progress : bool
        Progress bar on stderr for the bootstrap.
    threads : int
        Bootstrap worker threads (results do not depend on it).
    memory : int or str, optional
        Memory budget of the bootstrap (bytes, or ``"2G"``); default half the available memory
        (:mod:`~arena_stats.inference.samples`). Results do not depend on it.
    return_results : bool, optional
        Deprecated: the result object carries the fit (``.fit``) and bootstrap (``.bootstrap``).

    Returns
    -------
    Leaderboard
        ``to_frame()`` is the board: ``rank, model, rating, ci_lower, ci_upper, rank_lower,
        rank_upper, battles, wins, losses, ties, win_rate`` (plus ``p_top`` with the bootstrap),
        best first.

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> from arena_stats import leaderboard
    >>> board = leaderboard(simulate_arena(8, 5000, seed=4).battles, rounds=100)
    >>> list(board.to_frame().columns)[:5]
    ['rank', 'model', 'rating', 'ci_lower', 'ci_upper']
    >>> bool((board.frame.rank_lower <= board.frame["rank"]).all() and
    ...      (board.frame["rank"] <= board.frame.rank_upper).all())
    True
    """
    if ci not in CI_METHODS:
        raise InputError(f"unknown interval method {ci!r}; expected one of {', '.join(CI_METHODS)}")
    if ci == "bootstrap":
        rounds = checks.integer("rounds", rounds, 1, checks.MAX_ROUNDS)
    seed = checks.seed(seed)
    confidence = checks.probability("confidence", confidence)
    # no covariate at all is the plain model, whose likelihood is the same: one path, one answer
    contextual = position or (covariates is not None and np.shape(covariates)[-1 if not isinstance(
        covariates, (list, tuple)) else 0] > 0)
    counts: PairCounts | None = None
    data: Battles | None = None
    if isinstance(battles, PairCounts):
        if contextual or cluster is not None:
            raise InputError("covariates and clusters need the battles, not only their counts")
        counts = battles
    else:
        data = as_battles(battles)
        counts = aggregate(data)
    fit: RatingFit
    boot: BootstrapResult | None = None
    rating_cov = None
    if contextual:
        common: dict[str, Any] = dict(position=position, l2=l2, covariate_l2=covariate_l2, scale=scale, base=base,
                                      init=init, anchor=anchor)
        if ci == "bootstrap":
            from ..inference.contextual_bootstrap import bootstrap_contextual
            boot = bootstrap_contextual(data, covariates, ties, rounds=rounds, seed=seed, confidence=confidence,
                                        cluster=cluster, threads=threads, progress=progress, memory=memory,
                                        **common)
            fit = boot.point
        else:
            from ..models.contextual import contextual_cluster_cov, fit_contextual
            fit = fit_contextual(data, covariates, ties, **common)
            if cluster is not None and ci == "sandwich":
                rating_cov = contextual_cluster_cov(fit, data, covariates, cluster)
    else:
        fit = fit_counts(counts, ties, l2=l2, scale=scale, base=base, init=init, anchor=anchor)
    board = board_from_fit(fit, ci=ci, rounds=rounds, confidence=confidence, seed=seed, cluster=cluster,
                           reference=reference, battles=data, counts=counts, progress=progress, threads=threads,
                           boot=boot, rating_cov=rating_cov, memory=memory)
    if return_results is not None:
        warnings.warn("leaderboard(return_results=...) is deprecated: leaderboard() returns a Leaderboard whose "
                      ".to_frame() is the board, .fit the fit and .bootstrap the bootstrap", DeprecationWarning,
                      stacklevel=2)
        if return_results:
            return board.to_frame(), board.fit, board.bootstrap
        return board.to_frame()
    return board


def contextual_leaderboard(battles: Battles | pd.DataFrame,
                           covariates: Sequence[str] | pd.DataFrame | np.ndarray | None = None,
                           ties: str = "half", *, ci: str = "sandwich", rounds: int = DEFAULT_ROUNDS,
                           seed: int = 0, confidence: float = DEFAULT_CONFIDENCE, cluster: str | None = None,
                           position: bool = False, l2: float = 0.0, covariate_l2: float | None = None,
                           scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE, init: float = DEFAULT_INIT,
                           anchor: Mapping[str, float] | None = None, threads: int = THREADS,
                           progress: bool = False) -> tuple[pd.DataFrame, Any]:
    """Deprecated: ``leaderboard(battles, covariates=...)``, which returns one result object.

    Returns the old ``(board frame, fit or bootstrap)`` pair, with a ``DeprecationWarning``.
    """
    warnings.warn("contextual_leaderboard() is deprecated: use leaderboard(battles, covariates=..., "
                  "position=...), which returns a Leaderboard (.to_frame(), .fit, .bootstrap)",
                  DeprecationWarning, stacklevel=2)
    from ..models.contextual import resolve_covariate_l2
    l2, covariate_l2 = resolve_covariate_l2(l2, covariate_l2, "contextual_leaderboard")
    board = leaderboard(battles, ties, covariates=covariates if covariates is not None else [], position=position,
                        ci=ci, rounds=rounds, confidence=confidence, seed=seed, cluster=cluster, l2=l2,
                        covariate_l2=covariate_l2, scale=scale, base=base, init=init, anchor=anchor,
                        threads=threads, progress=progress)
    frame = board.to_frame()
    return frame, (board.bootstrap if board.bootstrap is not None else board.fit)
