"""The leaderboard: ratings, intervals, ranks and per-model tallies in one table.

Ranks follow LMSYS's "Rank (UB)": a model's rank is 1 plus the number of models whose *lower*
confidence bound exceeds its *upper* bound, i.e. the models that are statistically better. Two
models whose intervals overlap therefore share a rank, which is what a defensible leaderboard
should say. With a bootstrap the table also gives each model's rank interval and the share of
rounds in which it came first (``p_top``).

Intervals come either from the percentile bootstrap on counts (:mod:`~arena_stats.bootstrap`)
or, in closed form and much faster, from the sandwich (robust) covariance of the fit:
``rating +- z * se_robust``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ..data.aggregate import aggregate, model_totals
from ..data.battles import Battles
from ..data.readers import as_battles
from ..inference.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_ROUNDS, BootstrapResult, bootstrap
from ..models.bradley_terry import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE, BTResult, cluster_robust_cov, fit_counts
from ..errors import InputError

__all__ = ["leaderboard", "rank_ub", "LEADERBOARD_COLUMNS", "BOOTSTRAP_COLUMNS", "CI_METHODS"]

LEADERBOARD_COLUMNS = ["rank", "model", "rating", "ci_lower", "ci_upper", "battles", "wins", "losses",
                       "ties", "win_rate"]
BOOTSTRAP_COLUMNS = ["rank_lower", "rank_upper", "p_top"]
CI_METHODS = ("bootstrap", "sandwich", "fisher", "none")


def rank_ub(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """LMSYS "Rank (UB)": 1 + number of models whose lower bound exceeds this model's upper bound.

    Examples
    --------
    >>> rank_ub(np.array([10., 5., 0.]), np.array([12., 11., 4.])).tolist()
    [1, 1, 3]
    """
    lower = np.asarray(lower, float)
    upper = np.asarray(upper, float)
    return 1 + (lower[None, :] > upper[:, None]).sum(axis=1)


def leaderboard(battles: Battles | pd.DataFrame, ties: str = "half", *, ci: str = "bootstrap",
                rounds: int = DEFAULT_ROUNDS, confidence: float = DEFAULT_CONFIDENCE, seed: int = 0,
                cluster: str | None = None, l2: float = 0.0, scale: float = DEFAULT_SCALE,
                base: float = DEFAULT_BASE, init: float = DEFAULT_INIT,
                anchor: Mapping[str, float] | None = None, progress: bool = False,
                return_results: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, BTResult, BootstrapResult | None]:
    """Fit Bradley-Terry, attach confidence intervals and rank the models.

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
    ties : {"half", "drop", "davidson", "rao-kupper"}
    ci : {"bootstrap", "sandwich", "fisher", "none"}
        Where the intervals come from: the percentile bootstrap on counts, the sandwich
        (robust) standard errors, the observed Fisher information, or no intervals.
    rounds, confidence, seed
        Bootstrap settings (see :func:`~arena_stats.inference.bootstrap.bootstrap`).
    cluster : str, optional
        Column of correlated groups (voter, prompt): the bootstrap resamples whole clusters and
        the sandwich sums scores within clusters.
    l2, scale, base, init, anchor
        Fit settings (see :func:`~arena_stats.fit_bradley_terry`).
    progress : bool
        Progress bar on stderr for the bootstrap.
    return_results : bool
        Also return the :class:`BTResult` and the :class:`BootstrapResult` (or ``None``).

    Returns
    -------
    pandas.DataFrame
        Columns ``rank, model, rating, ci_lower, ci_upper, battles, wins, losses, ties,
        win_rate`` (plus ``rank_lower, rank_upper, p_top`` with the bootstrap), best first. The
        settings and the filter report are in ``frame.attrs``.

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> from arena_stats import leaderboard
    >>> board = leaderboard(simulate_arena(8, 5000, seed=4).battles, rounds=100)
    >>> list(board.columns)[:5]
    ['rank', 'model', 'rating', 'ci_lower', 'ci_upper']
    """
    if ci not in CI_METHODS:
        raise InputError(f"unknown interval method {ci!r}; expected one of {', '.join(CI_METHODS)}")
    battles = as_battles(battles)
    pc = aggregate(battles)
    fit = fit_counts(pc, ties, l2=l2, scale=scale, base=base, init=init, anchor=anchor)
    boot = None
    tallies = model_totals(pc)
    frame = pd.DataFrame({"model": fit.models, "rating": fit.ratings.to_numpy()})
    if ci == "bootstrap":
        # the counts are reused (aggregating 10M battles twice costs 0.2 s); clusters need rows
        boot = bootstrap(battles if cluster is not None else pc, rounds, ties, seed=seed,
                         confidence=confidence, cluster=cluster, point=fit, progress=progress)
        frame["ci_lower"] = boot.ci_lower.to_numpy()
        frame["ci_upper"] = boot.ci_upper.to_numpy()
    elif ci in ("sandwich", "fisher"):
        z = ndtri(0.5 + confidence / 2)
        if cluster is not None and ci == "sandwich":
            se = np.sqrt(np.clip(np.diag(cluster_robust_cov(fit, battles, cluster).to_numpy()), 0, None))
        elif cluster is not None:
            raise InputError("clustering needs --ci bootstrap or --ci sandwich; Fisher intervals assume "
                             "independent battles")
        else:
            se = (fit.se_robust if ci == "sandwich" else fit.se).to_numpy()
        frame["ci_lower"] = frame["rating"] - z * se
        frame["ci_upper"] = frame["rating"] + z * se
    else:
        frame["ci_lower"] = np.nan
        frame["ci_upper"] = np.nan
    if ci == "none":
        order = np.argsort(-frame["rating"].to_numpy(), kind="stable")
        ranks = np.empty(len(frame), np.int64)
        ranks[order] = np.arange(1, len(frame) + 1)
        frame.insert(0, "rank", ranks)
    else:
        frame.insert(0, "rank", rank_ub(frame["ci_lower"].to_numpy(), frame["ci_upper"].to_numpy()))
    for col in ("battles", "wins", "losses", "ties", "win_rate"):
        frame[col] = tallies[col].to_numpy()
    if boot is not None:
        frame["rank_lower"] = boot.rank_lower.to_numpy()
        frame["rank_upper"] = boot.rank_upper.to_numpy()
        frame["p_top"] = boot.p_top.to_numpy()
    frame = frame.sort_values(["rating", "model"], ascending=[False, True], kind="stable").reset_index(drop=True)
    frame.attrs.update(_settings(fit, ci, rounds if boot is not None else 0, confidence, seed, cluster, battles,
                                 boot))
    if return_results:
        return frame, fit, boot
    return frame


def _settings(fit: BTResult, ci: str, rounds: int, confidence: float, seed: int, cluster: str | None,
              battles: Battles, boot: BootstrapResult | None) -> dict[str, Any]:
    out = dict(fit.settings)
    out.update(ci=ci, rounds=rounds, confidence=confidence, seed=seed, cluster=cluster,
               n_battles=battles.n_battles, n_models=battles.n_models,
               filters=[str(s) for s in battles.steps],
               n_degenerate=boot.n_degenerate if boot is not None else 0,
               tie_param=fit.tie_param)
    return out
