"""Ratings over time: the leaderboard as it stood at each date.

For Bradley-Terry the likelihood depends on the battles only through the counts per (pair,
verdict) cell (:mod:`~arena_stats.data.aggregate`), and counts add up. So the battles are reduced
*once* to counts per (period, pair, verdict, weight); the statistics at a date are the sum of
its periods' counts (all periods so far, or the last ``window`` of them), and each date's fit
is warm-started from the previous date's strengths, so it typically takes 2-4 Newton steps. No
battle is read twice. Intervals are Wald intervals ``rating +- z * se`` from the robust
(sandwich) standard errors of each date's fit; a full bootstrap per date would cost
``rounds x dates`` fits.

For online Elo (``method="elo"``) one pass over the battles in time order is replayed and each
model's rating after its last battle before the date is read off (cumulative); with a window
the Elo pass restarts at each date on the window's battles. Elo has no intervals (NaN).

Early dates often have no finite maximum-likelihood estimate (a new model that has only won, a
comparison graph in pieces). Such a date is fitted with a ridge :data:`FALLBACK_L2` and
flagged (``regularised``), never dropped. A model appears from the first date after its first
battle; one with fewer than ``min_battles`` battles at a date is flagged ``few_battles``.

Dates. ``freq="D" | "W" | "M" | "Q" | "Y"`` labels each calendar period by its last day and
includes every battle up to the end of that day; an explicit list of dates ``d`` gives the
leaderboard at the start of each ``d`` (battles with ``tstamp < d``, as in
:meth:`Battles.date_range`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._util import checks
from .._util.progress import progress as progress_bar
from ..data.aggregate import PairCounts
from ..data.battles import A_WINS, B_WINS, Battles, timestamps
from ..data.readers import as_battles
from ..errors import InputError, NoMLEError
from ..inference.ranks import board_ranks
from ..models.covariance import z_value
from ..models.elo_scale import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE, EloScale
from ..models.results import Result

__all__ = ["RatingsOverTime", "ratings_over_time", "period_cuts", "FALLBACK_L2", "DEFAULT_MIN_BATTLES",
           "OVER_TIME_COLUMNS"]

#: Ridge used at dates whose counts have no finite MLE (flagged ``regularised``): a Gaussian prior
#: with sd 1 on the natural scale (~174 Elo points), the spread of a typical arena, so a new model
#: with three wins and no loss gets a large but finite rating.
FALLBACK_L2 = 1.0
#: Below this many battles a model's rating at a date is flagged ``few_battles``.
DEFAULT_MIN_BATTLES = 30
OVER_TIME_COLUMNS = ["date", "model", "rating", "ci_lower", "ci_upper", "battles", "rank", "few_battles",
                     "regularised"]
METHODS = ("bt", "elo")
# pandas offset aliases that users type, mapped to period aliases
_PERIOD_ALIAS = {"ME": "M", "MS": "M", "QE": "Q", "QS": "Q", "YE": "Y", "YS": "Y", "A": "Y", "W-SUN": "W"}


@dataclass(frozen=True, repr=False, eq=False)
class RatingsOverTime(Result):
    """The leaderboard at each date, tidy.

    Attributes
    ----------
    frame : pandas.DataFrame
        Columns :data:`OVER_TIME_COLUMNS`: ``date, model, rating, ci_lower, ci_upper, battles,
        rank, few_battles, regularised``; one row per date and model that had played by then,
        best first within a date. ``rank`` is LMSYS's Rank (UB) on the intervals (plain rank
        for Elo).
    method : str
    cumulative : bool
    window : int or None
        Periods per window when not cumulative.
    min_battles : int
    confidence : float
    settings : dict
        The remaining settings (ties, l2, k, scale, base, init, freq).
    """

    frame: pd.DataFrame
    method: str
    cumulative: bool
    window: int | None
    min_battles: int
    confidence: float
    settings: dict[str, Any]

    @property
    def dates(self) -> list[pd.Timestamp]:
        return [pd.Timestamp(d) for d in pd.unique(self.frame["date"])]

    def to_frame(self) -> pd.DataFrame:
        """The tidy table: one row per date and model (the per-model table of each date)."""
        return self.frame.copy()

    def _describe(self) -> str:
        return (f"{self.method}, {len(self.dates)} dates, {self.frame['model'].nunique()} models, "
                + ("cumulative" if self.cumulative else f"window of {self.window}"))

    def wide(self, value: str = "rating") -> pd.DataFrame:
        """``value`` as a date x model table (NaN before a model's first battle)."""
        return self.frame.pivot(index="date", columns="model", values=value)

    def at(self, date: Any) -> pd.DataFrame:
        """The leaderboard at one of the dates."""
        return self.frame[self.frame["date"] == pd.Timestamp(date)].reset_index(drop=True)

    def summary(self, top: int = 5) -> str:
        span = "cumulative" if self.cumulative else f"window of {self.window} periods"
        lines = [f"Ratings over time ({self.method}, {span}): {len(self.dates)} dates, "
                 f"{self.frame['model'].nunique()} models"]
        for d in self.dates:
            board = self.at(d).head(top)
            leaders = ", ".join(f"{m} {r:.0f}" for m, r in zip(board["model"], board["rating"]))
            lines.append(f"{pd.Timestamp(d).date()}: {leaders}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------- dates
def period_cuts(ts: pd.Series, freq: str | Sequence[Any]) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """Date labels and exclusive upper time bounds of each date's battles.

    Examples
    --------
    >>> ts = pd.Series(pd.to_datetime(["2024-01-03", "2024-01-20", "2024-02-10"]))
    >>> labels, cuts = period_cuts(ts, "M")
    >>> [str(d.date()) for d in labels], [str(d.date()) for d in cuts]
    (['2024-01-31', '2024-02-29'], ['2024-02-01', '2024-03-01'])
    """
    if isinstance(freq, str):
        alias = _PERIOD_ALIAS.get(freq.upper(), freq.upper())
        try:
            periods = ts.dropna().dt.to_period(alias)
        except (ValueError, TypeError):
            raise InputError(f"unknown frequency {freq!r}; expected D, W, M, Q, Y or a list of dates") from None
        first, last = periods.min(), periods.max()
        rng = pd.period_range(first, last, freq=first.freq)
        labels = pd.DatetimeIndex([p.end_time.normalize() for p in rng])
        return labels, labels + pd.Timedelta(days=1)
    try:
        labels = pd.DatetimeIndex(pd.to_datetime(list(freq)))
    except (ValueError, TypeError) as exc:
        raise InputError(f"could not read the dates: {exc}") from None
    if len(labels) == 0:
        raise InputError("no dates given")
    if labels.has_duplicates or not labels.is_monotonic_increasing:
        raise InputError("dates must be strictly increasing")
    return labels, labels


# --------------------------------------------------------------------------- sufficient stats
@dataclass
class _Cells:
    """Counts per (pair key, weight): key = (lo * n + hi) * 4 + verdict in lo/hi orientation."""

    key: np.ndarray
    weight: np.ndarray
    count: np.ndarray

    @staticmethod
    def merge(parts: Sequence[_Cells]) -> _Cells:
        key = np.concatenate([p.key for p in parts])
        weight = np.concatenate([p.weight for p in parts])
        count = np.concatenate([p.count for p in parts])
        return _Cells.group(key, weight, count)

    @staticmethod
    def group(key: np.ndarray, weight: np.ndarray, count: np.ndarray) -> _Cells:
        if len(key) == 0:
            return _Cells(key, weight, count)
        order = np.lexsort((weight, key))
        k, w = key[order], weight[order]
        new = np.ones(len(k), bool)
        new[1:] = (k[1:] != k[:-1]) | (w[1:] != w[:-1])
        group = np.cumsum(new) - 1
        return _Cells(k[new], w[new], np.bincount(group, weights=count[order]))


def _battle_keys(battles: Battles) -> np.ndarray:
    n = battles.n_models
    a = battles.a.astype(np.int64)
    b = battles.b.astype(np.int64)
    o = battles.outcome.astype(np.int64)
    swap = a > b
    lo, hi = np.where(swap, b, a), np.where(swap, a, b)
    o = np.where(swap & (o == A_WINS), B_WINS, np.where(swap & (o == B_WINS), A_WINS, o))
    return (lo * n + hi) * 4 + o


def _period_cells(battles: Battles, pid: np.ndarray, n_periods: int) -> list[_Cells]:
    """Counts per (pair, verdict, weight) for each period, from one sort of the battles."""
    key = _battle_keys(battles)
    w = battles.weights if battles.weights is not None else np.ones(len(key))
    counts = battles.counts
    keep = pid < n_periods
    key, w, counts, p = key[keep], w[keep], counts[keep], pid[keep]
    order = np.argsort(p, kind="stable")
    bounds = np.searchsorted(p[order], np.arange(n_periods + 1))
    out = []
    for k in range(n_periods):
        sl = order[bounds[k]:bounds[k + 1]]
        out.append(_Cells.group(key[sl], w[sl], counts[sl]))
    return out


def _pair_counts(cells: _Cells, names: list[str]) -> tuple[PairCounts, np.ndarray]:
    """PairCounts over the models present in ``cells``; also their codes in ``names``."""
    n = len(names)
    pair = cells.key // 4
    lo, hi = pair // n, pair % n
    present = np.unique(np.concatenate([lo, hi]))
    compact = np.full(n, -1, np.int64)
    compact[present] = np.arange(len(present))
    pairs, cell_pair = np.unique(pair, return_inverse=True)
    pc = PairCounts(models=[names[k] for k in present], i=compact[pairs // n], j=compact[pairs % n],
                    cell_pair=cell_pair.astype(np.int64), cell_outcome=(cells.key % 4).astype(np.int64),
                    cell_count=cells.count.astype(np.float64), cell_weight=cells.weight.astype(np.float64))
    return pc, present


# ---------------------------------------------------------------------------------- the API
def ratings_over_time(battles: Battles | pd.DataFrame, freq: str | Sequence[Any] = "W", *, method: str = "bt",
                      cumulative: bool = True, window: int | None = None,
                      min_battles: int = DEFAULT_MIN_BATTLES, ties: str = "half", l2: float = 0.0,
                      confidence: float = 0.95, k: float = 4.0, scale: float = DEFAULT_SCALE,
                      base: float = DEFAULT_BASE, init: float = DEFAULT_INIT, progress: bool = False
                      ) -> RatingsOverTime:
    """The BT (with intervals) or online-Elo leaderboard as it stood at each date.

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
        Must have a ``tstamp`` column.
    freq : {"D", "W", "M", "Q", "Y"} or list of dates
        Calendar periods (labelled by their last day, battles up to the end of it), or explicit
        dates (battles strictly before each date).
    method : {"bt", "elo"}
    cumulative : bool
        All battles so far (default), or only the last ``window`` periods.
    window : int, optional
        Periods per window; implies ``cumulative=False``.
    min_battles : int
        Flag (``few_battles``) models with fewer battles at a date.
    ties, l2 : str, float
        Bradley-Terry settings (see :func:`~arena_stats.fit_bradley_terry`).
    confidence : float
        Level of the Wald intervals (BT).
    k, scale, base, init : float
        Elo settings (``k`` for ``method="elo"`` only).
    progress : bool
        Progress bar over the dates.

    Returns
    -------
    RatingsOverTime

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> sim = simulate_arena(n_models=6, n_battles=3000, seed=2, days=90)
    >>> rot = ratings_over_time(sim.battles, "M")
    >>> len(rot.dates), list(rot.frame.columns[:4])
    (3, ['date', 'model', 'rating', 'ci_lower'])
    """
    battles = as_battles(battles)
    if method not in METHODS:
        raise InputError(f"method must be 'bt' or 'elo', got {method!r}")
    if "tstamp" not in battles.frame:
        raise InputError("ratings over time need a 'tstamp' column, and these battles have none",
                         column="tstamp")
    if window is not None:
        if int(window) != window or window < 1:
            raise InputError(f"window must be a positive number of periods, got {window!r}")
        window, cumulative = int(window), False
    elif not cumulative:
        raise InputError("cumulative=False needs window= (the number of periods per window)")
    confidence = checks.probability("confidence", confidence)
    min_battles = checks.integer("min_battles", min_battles, 0)
    EloScale(scale, base, init)
    ts = timestamps(battles.frame["tstamp"])
    if ts.isna().any():
        missing = int(ts.isna().sum())
        raise InputError(f"{missing} battles have no timestamp; drop them first "
                         f"(e.g. battles.date_range(since=...))", column="tstamp")
    labels, cuts = period_cuts(ts, freq)
    pid = np.searchsorted(cuts.to_numpy(), ts.to_numpy(), side="right")
    settings = dict(freq=freq if isinstance(freq, str) else "dates", ties=ties, l2=float(l2), k=float(k),
                    scale=float(scale), base=float(base), init=float(init))
    if method == "bt":
        frame = _over_time_bt(battles, pid, labels, cumulative, window, ties, l2, confidence, scale, base, init,
                              progress)
    else:
        frame = _over_time_elo(battles, ts, labels, cuts, cumulative, window, k, scale, base, init, progress)
    frame["few_battles"] = frame["battles"] < min_battles
    frame = frame[OVER_TIME_COLUMNS]
    return RatingsOverTime(frame=frame.reset_index(drop=True), method=method, cumulative=cumulative,
                           window=window, min_battles=int(min_battles), confidence=float(confidence),
                           settings=settings)


def _board(date: pd.Timestamp, models: list[str], rating: np.ndarray, lower: np.ndarray, upper: np.ndarray,
           n_battles: np.ndarray, regularised: bool) -> pd.DataFrame:
    """One date's board, ranked by the one rank rule (the plain order without intervals)."""
    df = pd.DataFrame({"date": date, "model": list(models), "rating": rating, "ci_lower": lower, "ci_upper": upper,
                       "battles": n_battles, "rank": board_ranks(rating, lower, upper)[0],
                       "regularised": regularised})
    return df.sort_values(["rating", "model"], ascending=[False, True], kind="stable")


def _over_time_bt(battles: Battles, pid: np.ndarray, labels: pd.DatetimeIndex, cumulative: bool,
                  window: int | None, ties: str, l2: float, confidence: float, scale: float, base: float,
                  init: float, progress: bool) -> pd.DataFrame:
    from ..models.bradley_terry import fit_counts
    names = battles.models
    per_period = _period_cells(battles, pid, len(labels))
    z = z_value(confidence)
    boards = []
    running: _Cells | None = None
    warm: dict[str, float] = {}
    tie_start: float | None = None
    with progress_bar(len(labels), "ratings over time", enabled=progress) as bar:
        for d, label in enumerate(labels):
            if cumulative:
                running = per_period[d] if running is None else _Cells.merge([running, per_period[d]])
                cells = running
            else:
                assert window is not None
                cells = _Cells.merge(per_period[max(0, d - window + 1):d + 1])
            bar.update(1)
            if len(cells.key) == 0:
                continue
            pc, _ = _pair_counts(cells, names)
            x0: np.ndarray | None = np.array([warm.get(m, 0.0) for m in pc.models])
            assert x0 is not None
            x0 -= x0.mean()
            if tie_start is not None:
                x0 = np.r_[x0, tie_start]
            elif ties in ("davidson", "rao-kupper"):
                x0 = None
            regularised = False
            try:
                fit = fit_counts(pc, ties, l2=l2, scale=scale, base=base, init=init, x0=x0)
            except NoMLEError:
                fit = _fit_quietly(fit_counts, pc, ties, max(l2, FALLBACK_L2), scale, base, init, x0)
                regularised = True
            warm.update(zip(fit.models, fit.theta))
            if fit.log_tie is not None:
                tie_start = fit.log_tie
            per_pair = np.bincount(pc.cell_pair, weights=pc.cell_count, minlength=pc.n_pairs)
            n_battles = np.bincount(pc.i, weights=per_pair, minlength=pc.n_models) + \
                np.bincount(pc.j, weights=per_pair, minlength=pc.n_models)
            r = fit.ratings.to_numpy()
            se = fit.se_robust.to_numpy()
            boards.append(_board(label, fit.models, r, r - z * se, r + z * se, n_battles, regularised))
    if not boards:
        raise InputError("no battles before the first date")
    return pd.concat(boards, ignore_index=True)


def _fit_quietly(fit_counts: Any, pc: PairCounts, ties: str, l2: float, scale: float, base: float, init: float,
                 x0: np.ndarray | None) -> Any:
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the "MLE would not exist" warning: recorded as `regularised`
        return fit_counts(pc, ties, l2=l2, scale=scale, base=base, init=init, x0=x0)


def _over_time_elo(battles: Battles, ts: pd.Series, labels: pd.DatetimeIndex, cuts: pd.DatetimeIndex,
                   cumulative: bool, window: int | None, k: float, scale: float, base: float, init: float,
                   progress: bool) -> pd.DataFrame:
    from ..online.elo import compute_elo
    names = np.asarray(battles.models, dtype=object)
    boards = []
    if cumulative:
        res = compute_elo(battles, k, scale, base, init, history="battle")
        h = res.history
        assert h is not None
        step_ts = ts.to_numpy()[h["row"].to_numpy()]
        ends = np.searchsorted(step_ts, cuts.to_numpy(), side="left")  # steps before each cut
        codes = np.concatenate([h["model_a"].cat.codes.to_numpy(), h["model_b"].cat.codes.to_numpy()])
        after = np.concatenate([h["rating_a"].to_numpy(), h["rating_b"].to_numpy()])
        steps = np.concatenate([h["step"].to_numpy(), h["step"].to_numpy()])
        order = np.lexsort((steps, codes))
        codes, after, steps = codes[order], after[order], steps[order]
        starts = np.searchsorted(codes, np.arange(len(names) + 1))
        last = np.full((len(labels), len(names)), -1)
        for m in range(len(names)):
            s = steps[starts[m]:starts[m + 1]]
            last[:, m] = np.searchsorted(s, ends, side="left")  # battles of m before the cut
        for d, label in enumerate(labels):
            played = np.flatnonzero(last[d] > 0)
            if len(played) == 0:
                continue
            rating = after[starts[played] + last[d, played] - 1]
            nan = np.full(len(played), np.nan)
            boards.append(_elo_board(label, names[played], rating, nan, last[d, played]))
        if not boards:
            raise InputError("no battles before the first date")
        return pd.concat(boards, ignore_index=True)
    assert window is not None
    with progress_bar(len(labels), "ratings over time", enabled=progress) as bar:
        for d, label in enumerate(labels):
            lo = cuts[d - window] if d - window >= 0 else None
            bar.update(1)
            sub = battles.date_range(lo, cuts[d])
            if len(sub) == 0:
                continue
            res = compute_elo(sub, k, scale, base, init)
            nan = np.full(len(res.models), np.nan)
            boards.append(_elo_board(label, res.models, res.ratings.to_numpy(), nan,
                                     res.totals["battles"].to_numpy()))
    if not boards:
        raise InputError("no battles in any window")
    return pd.concat(boards, ignore_index=True)


def _elo_board(label: pd.Timestamp, models: Any, rating: np.ndarray, nan: np.ndarray, n_battles: np.ndarray
               ) -> pd.DataFrame:
    return _board(label, list(models), rating, nan, nan, n_battles, False)
