"""Plots of ratings, intervals, pairwise tables and histories (matplotlib).

Every function returns a :class:`matplotlib.figure.Figure` built with the object API (no pyplot
state, never ``plt.show()``), so it works under any backend, in notebooks and in the CLI, and
figures can be saved as PNG, SVG or PDF. Design choices:

* *Readable from 2 to 300 models.* Figure size grows with the number of labelled models
  (:data:`INCH_PER_LABEL` per label, within :data:`MIN_SIZE` and :data:`MAX_SIZE`) and the label
  font shrinks towards :data:`MIN_FONT`; ``top`` keeps the best ``k`` models. Heatmaps print
  their numbers up to :data:`MAX_ANNOTATED` models, in cells of at least
  :data:`INCH_PER_ANNOTATED_CELL`, in a font sized to the cell (dropped below
  :data:`MIN_CELL_FONT`), black or white by the luminance of the cell's colour.
* *Never met is not 50 %.* Pairs that never met are left white and crossed (``x``, in grey), a
  mark no colour map uses, and the legend says so; the diagonal is left blank. Battle counts
  use a logarithmic colour scale (a few pairs hold most battles in a real arena).
* *One model order.* Every figure of a board lists the models in the board's order (rating,
  then name): heatmaps take a board, a fit, ratings or a list; distributions take the order of
  the board their result reports. Without one, a Bradley-Terry fit of the battles orders them
  (falling back to win rate when the MLE does not exist).
* *Titles say what the intervals are.* The forest plot names the interval method and level
  (``95% bootstrap percentile intervals (1,000 rounds)``) from the board's settings, in the
  title and, for ``style="paper"`` (no titles), in the axis label.
* *Rank tiers are the board's ranks.* The forest plot shades runs of models that share the
  board's ``rank`` (the one rank rule of :mod:`~arena_stats.inference.ranks`) and labels them
  with it, so the picture and the table cannot disagree. Intervals and ranks are whatever the
  board was built with (``ci``, ``confidence``, ``anchor``, ``scale`` ...).
* ``style="paper"``: serif fonts, small sizes, no top/right spines, thin lines, 300 dpi, and
  colour maps that survive grey-scale printing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._util.renamed import renamed
from .data.aggregate import aggregate, model_totals, pairwise_matrices
from .data.battles import Battles
from .data.readers import as_battles
from .errors import InputError, NoMLEError
from .inference.ranks import board_ranks, tiers

__all__ = ["plot_leaderboard", "plot_win_fraction", "plot_battle_counts", "plot_win_probability",
           "plot_calibration", "plot_ratings_over_time", "plot_bootstrap", "rank_tiers", "interval_label", "STYLES",
           "PLOT_KINDS"]

STYLES = ("default", "paper")
#: Inches per labelled model along a labelled axis.
INCH_PER_LABEL = 0.17
MIN_SIZE = 4.0
MAX_SIZE = 60.0
MIN_FONT = 4.0
MAX_FONT = 10.0
#: Heatmaps print the value in each cell up to this many models.
MAX_ANNOTATED = 20
#: Up to :data:`MAX_ANNOTATED` models a heatmap's cells are at least this wide, so that their
#: numbers stay readable (0.4 inch holds "0.52" in 8-point type).
INCH_PER_ANNOTATED_CELL = 0.4
#: Cell numbers are dropped rather than printed smaller than this (points).
MIN_CELL_FONT = 5.0
MAX_CELL_FONT = 9.0
#: Width of one character of the cell font, in ems (digits of DejaVu Sans / serif).
CHAR_EM = 0.62
#: Cells darker than this luminance (0 black, 1 white) get white numbers.
DARK_CELL = 0.45
#: Where a white-based colour map (paper style: Greys) starts for counts, so one battle is not white.
LOG_MAP_START = 0.15
#: Colour of the cross that marks pairs that never met.
NEVER_MET_COLOR = "0.45"
#: Default number of lines in a ratings-over-time plot.
DEFAULT_TOP_LINES = 10
PAPER_RC = {
    "font.family": "serif", "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8,
    "xtick.labelsize": 7, "ytick.labelsize": 7, "legend.fontsize": 7, "lines.linewidth": 1.0,
    "axes.linewidth": 0.6, "axes.spines.top": False, "axes.spines.right": False,
    "savefig.dpi": 300, "pdf.fonttype": 42, "ps.fonttype": 42,
}
DEFAULT_RC = {"savefig.dpi": 150}
#: Above this many labels the layout is computed from the label lengths instead of by
#: matplotlib's constrained layout, which measures every label several times (seconds at 300).
MAX_AUTO_LAYOUT = 60
CMAPS = {"default": {"diverging": "RdBu", "sequential": "viridis"},
         "paper": {"diverging": "PuOr", "sequential": "Greys"}}

#: The plot kinds of ``arena-stats plot``, with the function drawing each.
PLOT_KINDS = {
    "leaderboard": "plot_leaderboard", "win-fraction": "plot_win_fraction",
    "battle-counts": "plot_battle_counts", "win-probability": "plot_win_probability",
    "calibration": "plot_calibration", "over-time": "plot_ratings_over_time",
    "bootstrap-ratings": "plot_bootstrap", "bootstrap-ranks": "plot_bootstrap",
}


# matplotlib 3.10 replaced vert=False by orientation="horizontal"
_HORIZONTAL: dict[str, Any] = ({"orientation": "horizontal"}
                               if tuple(int(p) for p in mpl.__version__.split(".")[:2]) >= (3, 10)
                               else {"vert": False})


# ------------------------------------------------------------------------------ helpers
@contextlib.contextmanager
def _styled(style: str) -> Iterator[None]:
    if style not in STYLES:
        raise InputError(f"unknown style {style!r}; expected one of {', '.join(STYLES)}")
    rc: Any = PAPER_RC if style == "paper" else DEFAULT_RC
    with mpl.rc_context(rc):
        yield


def _label_font(n: int, style: str) -> float:
    base = float(PAPER_RC["ytick.labelsize"]) if style == "paper" else MAX_FONT  # type: ignore[arg-type]
    return float(np.clip(base * 30 / max(n, 30), MIN_FONT, base))


def _span(n: int, extra: float = 1.5) -> float:
    return float(np.clip(n * INCH_PER_LABEL + extra, MIN_SIZE, MAX_SIZE))


def _check_top(top: int | None) -> None:
    if top is not None and (isinstance(top, bool) or int(top) != top or top < 1):
        raise InputError(f"top must be a positive whole number, got {top!r}")


def _top(top: int | None, top_k: int | None) -> int | None:
    """``top``, or the deprecated ``top_k`` (with a warning)."""
    return renamed("top_k", top_k, "top", top, stacklevel=4)


def _as_board(result: Any) -> pd.DataFrame:
    """A board frame (model, rating, ci_lower, ci_upper, rank ...) from any result or frame.

    A frame without ``rank`` is ranked by the one rank rule; without intervals, a model's
    interval is its rating (the plain order).
    """
    frame = result if isinstance(result, pd.DataFrame) else getattr(result, "to_frame", lambda: None)()
    if frame is None:
        raise InputError(f"cannot plot a {type(result).__name__}; expected a leaderboard DataFrame or a result "
                         "with to_frame()")
    frame = frame.copy()
    if "model" not in frame:
        frame = frame.reset_index().rename(columns={"index": "model"})
    missing = [c for c in ("model", "rating") if c not in frame]
    if missing:
        raise InputError(f"the leaderboard lacks column(s) {', '.join(missing)}")
    for col in ("ci_lower", "ci_upper"):
        if col not in frame:
            frame[col] = np.nan
    rating = frame["rating"].to_numpy(float)
    for col in ("ci_lower", "ci_upper"):
        frame[col] = np.where(np.isfinite(frame[col].to_numpy(float)), frame[col].to_numpy(float), rating)
    if "rank" not in frame:
        frame["rank"] = board_ranks(rating, frame["ci_lower"].to_numpy(float), frame["ci_upper"].to_numpy(float))[0]
    return frame.sort_values(["rating", "model"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _settings_of(result: Any) -> dict[str, Any]:
    """The settings behind a board: the result's, or those a board frame carries in ``attrs``."""
    settings = getattr(result, "settings", None)
    if isinstance(settings, dict):
        return settings
    return dict(getattr(result, "attrs", {}) or {})


#: How each interval method reads in a title.
INTERVAL_NAMES = {"bootstrap": "bootstrap percentile", "sandwich": "sandwich (robust) Wald", "fisher": "Fisher Wald"}


def interval_label(result: Any) -> str:
    """What a board's intervals are, for a title: ``95% bootstrap percentile intervals (1,000
    rounds)``, ``95% sandwich (robust) Wald intervals``, ... or ``no intervals``.

    Examples
    --------
    >>> interval_label(pd.DataFrame({"model": ["a"], "rating": [1.0]}))
    'no intervals'
    """
    s = _settings_of(result)
    frame = result if isinstance(result, pd.DataFrame) else None
    if frame is None and hasattr(result, "to_frame"):
        frame = result.to_frame()
    has = frame is not None and "ci_lower" in frame and np.isfinite(frame["ci_lower"].to_numpy(float)).any()
    if not has:
        return "no intervals"
    ci = s.get("ci") or ("bootstrap" if s.get("rounds") or hasattr(result, "samples") else None)
    level = s.get("confidence", getattr(result, "confidence", None))
    rounds = s.get("rounds") or (len(result.samples) if hasattr(result, "samples") else None)
    name = INTERVAL_NAMES.get(str(ci), "")
    text = (f"{level:.0%} " if isinstance(level, (int, float)) else "") + (f"{name} " if name else "") + "intervals"
    if ci == "bootstrap" and rounds:
        text += f" ({int(rounds):,} rounds" + (f", clustered by {s['cluster']}" if s.get("cluster") else "") + ")"
    elif s.get("cluster"):
        text += f" (clustered by {s['cluster']})"
    return text


def rank_tiers(rating: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Tier of each model (1 = top): the board's ranks (:func:`~arena_stats.inference.ranks.board_ranks`)
    numbered in order, so tiers and the table's ``rank`` agree by construction.

    Examples
    --------
    >>> rank_tiers(np.array([10, 9, 5, 4]), np.array([8, 7, 3, 2]), np.array([12, 11, 7, 6])).tolist()
    [1, 1, 2, 3]
    """
    return tiers(board_ranks(np.asarray(rating, float), lower, upper)[0]) + 1


def _order(battles: Battles | None, ratings: Any) -> list[str]:
    """Models best first: from ratings (Series, result, list) or a BT fit of the battles."""
    if ratings is not None:
        if isinstance(ratings, (list, tuple, pd.Index, np.ndarray)):
            return [str(m) for m in ratings]
        if isinstance(ratings, pd.DataFrame) or (hasattr(ratings, "frame") and hasattr(ratings, "fit")):
            # a board (Leaderboard or its frame): the board's own order
            return [str(m) for m in _as_board(ratings)["model"]]
        series = ratings if isinstance(ratings, pd.Series) else getattr(ratings, "ratings", None)
        if isinstance(series, pd.Series):
            return list(series.sort_values(ascending=False, kind="stable").index)
        raise InputError(f"cannot order models by a {type(ratings).__name__}")
    from .models.bradley_terry import fit_bradley_terry
    assert battles is not None
    try:
        fit = fit_bradley_terry(battles)
        return list(fit.ratings.sort_values(ascending=False, kind="stable").index)
    except NoMLEError:
        rate = model_totals(battles)["win_rate"]
        return list(rate.sort_values(ascending=False, kind="stable").index)


def _cell_text(value: float, fmt: str) -> str:
    """A cell's number: ``fmt``, with counts of 10,000 and more as ``12k``."""
    if fmt == "count":
        return f"{value / 1000:.0f}k" if value >= 10_000 else f"{value:.0f}"
    return format(value, fmt)


def _heatmap(matrix: pd.DataFrame, *, cmap: str, vmin: float | None, vmax: float | None, fmt: str,
             title: str, colorbar: str, style: str, log: bool = False, never_met: np.ndarray | None = None) -> Figure:
    """A model x model heatmap with readable cell numbers, the never-met pairs crossed, and an
    optional logarithmic colour scale."""
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.lines import Line2D
    n = len(matrix)
    annotate = n <= MAX_ANNOTATED
    size = _span(n, extra=2.5)
    if annotate:
        size = max(size, n * INCH_PER_ANNOTATED_CELL + 2.5)
    fig = Figure(figsize=(size + 1.0, size))
    ax = fig.add_subplot()
    ax.set_facecolor("white")
    values = matrix.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    if log:
        top = float(finite.max()) if finite.size else 10.0
        norm: Any = LogNorm(vmin=1.0 if vmin is None else max(vmin, 1.0), vmax=max(top, 10.0) if vmax is None else vmax)
    else:
        norm = Normalize(vmin=vmin, vmax=vmax)
    colors = mpl.colormaps[cmap]
    if log and colors(0.0)[:3] == (1.0, 1.0, 1.0):
        # a map that starts at white (Greys): start it at a light grey, so that a pair with one
        # battle is not as white as the blank diagonal and the never-met cells
        from matplotlib.colors import ListedColormap
        colors = ListedColormap(colors(np.linspace(LOG_MAP_START, 1.0, 256)), name=f"{cmap}_from_grey")
    img = ax.imshow(np.ma.masked_invalid(values), cmap=colors, norm=norm, aspect="equal", interpolation="nearest")
    font = _label_font(n, style)
    ax.set_xticks(np.arange(n), labels=list(matrix.columns), rotation=90, fontsize=font)
    ax.set_yticks(np.arange(n), labels=list(matrix.index), fontsize=font)
    ax.xaxis.tick_top()
    ax.set_xlabel("model B (opponent)")
    ax.set_ylabel("model A")
    handles = []
    if never_met is not None and never_met.any():
        rr, cc = np.nonzero(never_met)
        ax.scatter(cc, rr, marker="x", s=(0.5 * 72 * size / max(n, 1)) ** 2 * 0.5, c=NEVER_MET_COLOR,
                   linewidths=0.8 if n <= 60 else 0.4, zorder=3)
        handles.append(Line2D([], [], ls="", marker="x", color=NEVER_MET_COLOR, label="never met"))
    if annotate:
        # the cell's width in points: the axes span about (size - margins) for n cells
        cell_pt = 72.0 * (size - 2.5) / max(n, 1)
        texts = [[_cell_text(values[r, c], fmt) if np.isfinite(values[r, c]) else "" for c in range(n)]
                 for r in range(n)]
        chars = max((len(t) for row in texts for t in row), default=1)
        cell_font = min(MAX_CELL_FONT, 0.85 * cell_pt / (CHAR_EM * max(chars, 1)))
        if cell_font >= MIN_CELL_FONT:
            rgba = colors(norm(np.ma.masked_invalid(values)))
            lum = 0.299 * rgba[..., 0] + 0.587 * rgba[..., 1] + 0.114 * rgba[..., 2]
            for r in range(n):
                for c in range(n):
                    if texts[r][c]:
                        ax.text(c, r, texts[r][c], ha="center", va="center", fontsize=cell_font,
                                color="white" if lum[r, c] < DARK_CELL else "black")
    if style != "paper":
        # above the rotated labels of the top axis: a figure title, which the layout places
        fig.suptitle(title)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.02), frameon=False,
                  fontsize=max(MIN_FONT, font), handletextpad=0.3)
    _layout(fig, n, list(matrix.index), font, top=True, right=1.2, bottom=0.5 if handles else 0.3)
    fig.colorbar(img, ax=ax, label=colorbar + (" (log scale)" if log else ""), shrink=0.6)
    return fig


def _never_met(count: pd.DataFrame) -> np.ndarray:
    """Off-diagonal cells of pairs without a battle."""
    m = count.to_numpy(dtype=float) <= 0
    np.fill_diagonal(m, False)
    return m


def _spread(values: np.ndarray) -> np.ndarray:
    """A violin needs spread: a constant (e.g. always rank 1) becomes a hair-thin pair."""
    if len(values) == 0:
        return np.array([np.nan, np.nan])
    if np.ptp(values) == 0:
        v = float(values[0])
        return np.array([v - 1e-6 * max(1.0, abs(v)), v + 1e-6 * max(1.0, abs(v))])
    return values


def _layout(fig: Figure, n: int, labels: Sequence[str], font: float, *, left: bool = True, top: bool = False,
            right: float = 0.3, bottom: float = 0.6) -> None:
    """Constrained layout for few labels; margins from the longest label for many."""
    if n <= MAX_AUTO_LAYOUT:
        fig.set_layout_engine("constrained")
        return
    width_in = max((len(str(m)) for m in labels), default=1) * font * 0.6 / 72 + 0.4
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=min(0.6, (width_in if left else 0.6) / w), right=1 - right / w,
                        top=1 - min(0.6 * h, (width_in if top else 0.5) + 0.2) / h, bottom=bottom / h)


def _limit(order: list[str], top: int | None) -> list[str]:
    _check_top(top)
    return order[:top] if top else order


# --------------------------------------------------------------------------------- plots
def plot_leaderboard(result: Any, *, top: int | None = None, top_k: int | None = None,
                     style: str = "default",
                     title: str | None = None) -> Figure:
    """Forest plot: each model's rating and interval, best at the top, shaded by the board's rank.

    Parameters
    ----------
    result : Leaderboard, DataFrame or result
        A board (:func:`~arena_stats.leaderboard`; columns ``model, rating, ci_lower,
        ci_upper``, ``rank``) or anything with ``to_frame()`` giving one (fits, bootstraps, Elo,
        Glicko results). The plot shows the board's own intervals and ranks.
    top : int, optional
        Show only the best ``top`` models.
    style : {"default", "paper"}
    title : str, optional

    Examples
    --------
    >>> import pandas as pd
    >>> board = pd.DataFrame({"model": ["a", "b", "c"], "rating": [1050, 1000, 950],
    ...                       "ci_lower": [1030, 980, 900], "ci_upper": [1070, 1020, 990]})
    >>> fig = plot_leaderboard(board)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['a', 'b', 'c']
    """
    top = _top(top, top_k)
    board = _as_board(result)
    what = interval_label(result)
    _check_top(top)
    if top:
        board = board.head(top)
    n = len(board)
    with _styled(style):
        fig = Figure(figsize=(7.0 if style != "paper" else 3.5 + 0.02 * n, _span(n)))
        ax = fig.add_subplot()
        y = np.arange(n)
        r = board["rating"].to_numpy(float)
        lo, hi = board["ci_lower"].to_numpy(float), board["ci_upper"].to_numpy(float)
        rank = board["rank"].to_numpy()
        # the board's tiers (models sharing a rank; inference.ranks.tiers), every other one shaded
        tier = tiers(rank)
        starts = np.flatnonzero(np.r_[True, rank[1:] != rank[:-1]])
        for k, start in enumerate(starts):
            stop = starts[k + 1] if k + 1 < len(starts) else n
            if tier[start] % 2 == 1:
                ax.axhspan(start - 0.5, stop - 0.5, color="0.92", zorder=0, lw=0)
        # bars drawn around the interval's midpoint: a percentile interval need not contain the
        # point estimate (a skewed or prior-shrunk bootstrap), and errorbar refuses negative lengths
        ax.errorbar((lo + hi) / 2, y, xerr=(hi - lo) / 2, fmt="none", capsize=0 if n > 50 else 2,
                    ecolor="0.4" if style == "paper" else "C0", elinewidth=0.8, zorder=2)
        ax.plot(r, y, "o", ms=3 if n > 50 else 4, color="black" if style == "paper" else "C0", zorder=3)
        font = _label_font(n, style)
        ax.set_yticks(y, labels=[str(m) for m in board["model"]], fontsize=font)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_xlabel("rating" if style != "paper" else f"rating ({what})")
        ax.grid(axis="x", color="0.85", lw=0.5, zorder=0)
        if n <= 60:
            ax2 = ax.secondary_yaxis("right")
            ax2.set_yticks(y, labels=[f"rank {t}" if k == 0 or rank[k - 1] != t else ""
                                      for k, t in enumerate(rank)], fontsize=max(MIN_FONT, font - 1))
            ax2.tick_params(length=0)
        if title or style != "paper":
            ax.set_title(title or f"Ratings with {what}\n{n} models; rank: Rank (UB), shading: models sharing a rank",
                         fontsize=None if n > 8 else 10)
        _layout(fig, n, [str(m) for m in board["model"]], font)
    return fig


def plot_win_fraction(battles: Battles | pd.DataFrame, *, ratings: Any = None, top: int | None = None,
                      top_k: int | None = None,
                      style: str = "default") -> Figure:
    """Observed fraction of battles the row model won against the column model (ties half).

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> fig = plot_win_fraction(simulate_arena(n_models=4, n_battles=500, seed=1).battles)
    >>> len(fig.axes[0].get_yticklabels())
    4
    """
    top = _top(top, top_k)
    battles = as_battles(battles)
    order = _limit(_order(battles, ratings), top)
    frac, count = pairwise_matrices(aggregate(battles), order=order)
    with _styled(style):
        return _heatmap(frac, cmap=CMAPS[style]["diverging"], vmin=0.0, vmax=1.0, fmt=".2f",
                        title="Observed win fraction of A against B (ties count half)",
                        colorbar="win fraction", style=style, never_met=_never_met(count))


def plot_battle_counts(battles: Battles | pd.DataFrame, *, ratings: Any = None, top: int | None = None,
                       top_k: int | None = None,
                       style: str = "default") -> Figure:
    """Number of battles between each pair, models ordered by rating, on a logarithmic colour
    scale (white and crossed: never met).

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> fig = plot_battle_counts(simulate_arena(n_models=5, n_battles=400, seed=1).battles)
    >>> type(fig.axes[0].images[0].norm).__name__
    'LogNorm'
    """
    top = _top(top, top_k)
    battles = as_battles(battles)
    order = _limit(_order(battles, ratings), top)
    _, count = pairwise_matrices(aggregate(battles), order=order)
    with _styled(style):
        return _heatmap(count.where(count > 0), cmap=CMAPS[style]["sequential"], vmin=1.0, vmax=None, fmt="count",
                        title="Battles per pair (log colour scale)", colorbar="battles", style=style, log=True,
                        never_met=_never_met(count))


def plot_win_probability(fit: Any, *, ratings: Any = None, top: int | None = None, top_k: int | None = None,
                         style: str = "default") -> Figure:
    """Predicted probability that the row model beats the column model, from a fitted model.

    ``ratings`` (a board, ratings or a list of models) sets the order, as in the other heatmaps;
    by default the fit's ratings do.
    """
    top = _top(top, top_k)
    order = _limit(_order(None, fit if ratings is None else ratings), top)
    probs = fit.win_probability_matrix().loc[order, order].astype(float)
    values = probs.to_numpy(copy=True)
    np.fill_diagonal(values, np.nan)
    with _styled(style):
        return _heatmap(pd.DataFrame(values, index=order, columns=order), cmap=CMAPS[style]["diverging"],
                        vmin=0.0, vmax=1.0, fmt=".2f",
                        title=f"Predicted P(A beats B) (Bradley-Terry, ties={getattr(fit, 'ties', 'half')})",
                        colorbar="predicted win probability", style=style)


def plot_calibration(fit: Any, *, top: int | None = None, top_k: int | None = None, min_battles: int = 1,
                     style: str = "default"
                     ) -> Figure:
    """Observed vs predicted win fraction per pair: does the fitted model describe the data?

    One point per compared pair (area proportional to its battles), with the identity line.
    The prediction counts a tie as half a win, like the observation.

    Parameters
    ----------
    fit : BTResult
        A fit (its ``counts`` are the observations).
    top : int, optional
        Only pairs among the best ``top`` models.
    min_battles : int
        Only pairs with at least this many battles.
    """
    top = _top(top, top_k)
    pc = getattr(fit, "counts", None)
    if pc is None:
        raise InputError("plot_calibration needs a fit that carries its counts (a BTResult)")
    order = _limit(_order(None, fit), top)
    frac, count = pairwise_matrices(pc, order=order)
    n = len(order)
    iu = np.triu_indices(n, k=1)
    obs = frac.to_numpy()[iu]
    cnt = count.to_numpy()[iu]
    keep = (cnt >= max(min_battles, 1)) & np.isfinite(obs)
    pa, pb = np.asarray(order, dtype=object)[iu[0]][keep], np.asarray(order, dtype=object)[iu[1]][keep]
    proba = np.asarray(fit.predict_proba(list(pa), list(pb)), float).reshape(-1, 3) if keep.any() else \
        np.zeros((0, 3))
    pred = proba[:, 0] + 0.5 * proba[:, 2]
    obs, cnt = obs[keep], cnt[keep]
    with _styled(style):
        fig = Figure(figsize=(4.0, 4.0) if style == "paper" else (6.0, 6.0))
        ax = fig.add_subplot()
        color = "black" if style == "paper" else "C0"
        area = _marker_area(cnt, cnt.max()) if len(cnt) else 10
        ax.scatter(pred, obs, s=area, alpha=0.6, color=color, edgecolors="none", label="model pair")
        if len(cnt):
            from matplotlib.lines import Line2D
            handles = [Line2D([], [], ls="", marker="o", ms=float(np.sqrt(_marker_area(v, cnt.max()))), color=color,
                              alpha=0.6, mec="none", label=f"{v:,.0f}") for v in _size_legend_values(cnt)]
            ax.legend(handles=handles, title="battles per pair", loc="lower right", frameon=False,
                      fontsize=7, title_fontsize=7, labelspacing=1.0, borderpad=0.8)
        ax.plot([0, 1], [0, 1], color="0.5", lw=0.8, ls="--")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("predicted win fraction (ties half)")
        ax.set_ylabel("observed win fraction")
        if len(cnt):
            rmse = float(np.sqrt(np.average((obs - pred) ** 2, weights=cnt)))
            ax.text(0.03, 0.95, f"{len(cnt)} pairs, battle-weighted RMSE {rmse:.3f}", transform=ax.transAxes,
                    va="top", fontsize=8)
        if style != "paper":
            ax.set_title("Calibration: observed vs predicted win fraction per pair (ties half)")
        fig.set_layout_engine("constrained")
    return fig


def _marker_area(count: Any, largest: float) -> Any:
    """Marker area (points^2) of a pair with ``count`` battles: proportional, from 8 to 128."""
    return 8 + 120 * np.asarray(count, dtype=float) / max(float(largest), 1e-300)


def _size_legend_values(count: np.ndarray) -> list[float]:
    """Up to three round numbers spanning the battles per pair, for the marker-size legend."""
    lo, hi = float(count.min()), float(count.max())

    def nice(v: float) -> float:
        if v <= 0:
            return 1.0
        p = 10 ** np.floor(np.log10(v))
        return float(np.round(v / p) * p)
    values = sorted({nice(v) for v in (max(lo, 1.0), np.sqrt(max(lo, 1.0) * hi), hi)})
    return [v for v in values if v <= hi * 1.5] or [hi]


def plot_ratings_over_time(history: Any, *, models: Sequence[str] | None = None,
                           top: int | None = DEFAULT_TOP_LINES, top_k: int | None = None, select: str = "last",
                           bands: bool = True,
                           style: str = "default", title: str | None = None) -> Figure:
    """Ratings over time, one line per model, with interval bands where available.

    Parameters
    ----------
    history : RatingsOverTime or DataFrame
        Tidy ``date, model, rating`` (+ ``ci_lower, ci_upper``): :func:`ratings_over_time`,
        ``compute_elo(..., history="day").history`` or ``glicko2(..., history=True).history``.
    models : list of str, optional
        The models to draw (default: ``top`` of them chosen by ``select``).
    top : int
    select : {"last", "peak"}
        Choose the models with the best rating at the last date, or the best peak rating.
    bands : bool
        Shade ``ci_lower``-``ci_upper`` (or ``rating +- 1.96 rd`` for Glicko histories).

    Ratings flagged ``few_battles`` are drawn faint.
    """
    top = _top(top, top_k)
    frame = history.frame if hasattr(history, "frame") else history
    if not isinstance(frame, pd.DataFrame) or not {"date", "model", "rating"} <= set(frame.columns):
        raise InputError("plot_ratings_over_time needs a tidy frame with date, model and rating columns")
    frame = frame.copy()
    if "ci_lower" not in frame and "rd" in frame:
        frame["ci_lower"] = frame["rating"] - 1.959963984540054 * frame["rd"]
        frame["ci_upper"] = frame["rating"] + 1.959963984540054 * frame["rd"]
    _check_top(top)
    if select not in ("last", "peak"):
        raise InputError(f"select must be 'last' or 'peak', got {select!r}")
    if models is None:
        if select == "peak":
            score = frame.groupby("model", observed=True)["rating"].max()
        else:
            score = frame.sort_values("date").groupby("model", observed=True)["rating"].last()
        models = list(score.sort_values(ascending=False, kind="stable").index[:top or len(score)])
    else:
        unknown = [m for m in models if m not in set(frame["model"])]
        if unknown:
            raise InputError(f"no history for model(s) {', '.join(map(str, unknown))}")
    with _styled(style):
        fig = Figure(figsize=(4.5, 3.0) if style == "paper" else (10.0, 5.5))
        ax = fig.add_subplot()
        colors = mpl.colormaps["tab20" if len(models) > 10 else "tab10"]
        styles = ["-", "--", ":", "-."]
        for k, m in enumerate(models):
            rows = frame[frame["model"] == m].sort_values("date")
            color = colors(k % colors.N)
            ls = styles[(k // 10) % 4] if style == "paper" else "-"
            if "few_battles" in rows and rows["few_battles"].any():
                # ratings from too few battles: drawn faint, the rest solid
                ax.plot(rows["date"], rows["rating"], color=color, ls=ls, alpha=0.35)
                ax.plot(rows["date"], rows["rating"].where(~rows["few_battles"].astype(bool)), color=color,
                        ls=ls, label=str(m))
            else:
                ax.plot(rows["date"], rows["rating"], color=color, ls=ls, label=str(m))
            if bands and "ci_lower" in rows and rows["ci_lower"].notna().any():
                ax.fill_between(rows["date"].to_numpy(), rows["ci_lower"].to_numpy(float),
                                rows["ci_upper"].to_numpy(float), color=color, alpha=0.15, lw=0)
        ax.set_ylabel("rating")
        ax.set_xlabel("date")
        ax.grid(color="0.9", lw=0.5)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                  fontsize=_label_font(len(models), style), ncols=1 if len(models) <= 30 else 2)
        if title or style != "paper":
            ax.set_title(title or "Ratings over time")
        fig.set_layout_engine("constrained")
    return fig


def plot_bootstrap(result: Any, *, what: str = "ratings", kind: str = "box", top: int | None = None,
                   top_k: int | None = None,
                   style: str = "default") -> Figure:
    """Bootstrap distribution of each model's rating or rank, as box or violin plots.

    Parameters
    ----------
    result : BootstrapResult or EloBootstrapResult (anything with ``samples`` and ``ranks``
        frames of rounds x models), a Leaderboard built with the bootstrap, or a rounds x
        models DataFrame of ratings.
    what : {"ratings", "ranks"}
    kind : {"box", "violin"}
    top : int, optional
    """
    top = _top(top, top_k)
    if what not in ("ratings", "ranks"):
        raise InputError(f"what must be 'ratings' or 'ranks', got {what!r}")
    if kind not in ("box", "violin"):
        raise InputError(f"kind must be 'box' or 'violin', got {kind!r}")
    if getattr(result, "bootstrap", None) is not None and not hasattr(result, "samples"):
        result = result.bootstrap  # a Leaderboard built with the bootstrap
    samples = result if isinstance(result, pd.DataFrame) else getattr(result, "samples", None)
    if not isinstance(samples, pd.DataFrame):
        raise InputError(f"cannot plot the bootstrap of a {type(result).__name__} (build the board with "
                         "ci='bootstrap')")
    if what == "ranks":
        from .inference.ranks import round_ranks
        table = pd.DataFrame(round_ranks(samples.to_numpy(float)), columns=samples.columns)
    else:
        table = samples
    ratings = samples
    # the order of the board the result reports (the point fit's ratings; an Elo bootstrap's
    # medians), so this figure lists the models as the table does
    board = result.to_frame() if hasattr(result, "to_frame") and not isinstance(result, pd.DataFrame) else None
    if board is not None and "model" in board and set(board["model"]) == set(samples.columns):
        order = _limit([str(m) for m in board["model"]], top)
    else:
        order = _limit(list(ratings.median(axis=0).sort_values(ascending=False, kind="stable").index), top)
    n = len(order)
    data = [table[m].dropna().to_numpy(float) for m in order]
    with _styled(style):
        fig = Figure(figsize=(7.0 if style != "paper" else 3.5, _span(n)))
        ax = fig.add_subplot()
        pos = np.arange(n)
        if kind == "box":
            ax.boxplot(data, positions=pos, widths=0.6, showfliers=n <= 50, flierprops=dict(ms=2),
                       medianprops=dict(color="black" if style == "paper" else "C1"), **_HORIZONTAL)
        else:
            parts: Any = ax.violinplot([_spread(d) for d in data], positions=pos,
                                  widths=0.8, showmedians=True, **_HORIZONTAL)
            if style == "paper":
                for body in parts["bodies"]:
                    body.set_facecolor("0.6")
        ax.set_yticks(pos, labels=[str(m) for m in order], fontsize=_label_font(n, style))
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_xlabel("rank (1 = best)" if what == "ranks" else "rating")
        ax.grid(axis="x", color="0.9", lw=0.5)
        if style != "paper":
            ax.set_title(f"Bootstrap distribution of {what} ({len(ratings):,} rounds)\n"
                         + ("boxes: quartiles, whiskers: 1.5 IQR" if kind == "box" else "violins, medians marked"),
                         fontsize=10)
        _layout(fig, n, [str(m) for m in order], _label_font(n, style))
    return fig
