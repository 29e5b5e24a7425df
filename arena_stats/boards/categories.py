"""Per-category leaderboards and LMSYS's overview of ranks across categories.

``category_leaderboards(battles, by="language")`` splits the battles by the values of one column
(language, category, turn, judge type ...), fits one leaderboard per value and puts the ranks
side by side: the overview tab of the LMSYS leaderboard, a model x category table of ranks with
each rank's change against the overall board.

Choices:

* A value with fewer than ``min_battles`` battles gets no board: a leaderboard on a few hundred
  battles is mostly noise. Skipped values are reported with their battle counts and the
  threshold (:attr:`CategoryBoards.skipped`), never dropped silently. So is a value whose
  battles have no finite maximum-likelihood ratings (a model that never lost there).
* A column holding lists (``["coding", "math"]``) puts a battle in each listed category; a
  missing value puts it in none.
* Each category board is fitted on its own battles only, with the same settings as the overall
  board, by :func:`~arena_stats.boards.leaderboard.leaderboard` (covariates and all) or by any
  function of the battles that returns a board. Ranks are those boards' ``rank`` column (the
  one rank rule: LMSYS "Rank (UB)").
* :meth:`CategoryBoards.to_frame` is one tidy table, every board stacked with its category in
  a first column named after ``by`` (the overall board labelled :data:`OVERALL`), which pandas
  and JSON read back as they read any board.
* Rank change is ``overall rank - category rank``: positive when the model ranks *better* in
  the category than overall (the same sign as the style-control board's ``rank_change``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._util.renamed import renamed
from ..data.battles import Battles
from ..data.readers import as_battles
from ..errors import ArenaStatsError, InputError, suggest
from ..models.results import Result
from .leaderboard import leaderboard

__all__ = ["CategoryBoards", "category_leaderboards", "rank_change", "DEFAULT_MIN_CATEGORY_BATTLES",
           "OVERALL"]

#: Default minimum number of battles for a category to get its own board.
DEFAULT_MIN_CATEGORY_BATTLES = 300
#: Column name of the overall board's rank in the overview, and the category label of the
#: overall board's rows in the tidy table.
OVERALL = "overall"


def rank_change(board: pd.DataFrame, reference: pd.DataFrame, prefix: str = "plain") -> pd.DataFrame:
    """``board`` with the reference board's rank and rating and ``rank_change = ref - board``.

    Positive ``rank_change``: the model ranks better on ``board`` than on ``reference``.

    Examples
    --------
    >>> import pandas as pd
    >>> new = pd.DataFrame({"rank": [1, 2], "model": ["x", "y"], "rating": [1010.0, 990.0]})
    >>> old = pd.DataFrame({"rank": [1, 2], "model": ["y", "x"], "rating": [1005.0, 995.0]})
    >>> rank_change(new, old)[["model", "plain_rank", "rank_change"]].values.tolist()
    [['x', 2, 1], ['y', 1, -1]]
    """
    ref = reference.set_index("model")
    out = board.copy()
    out[f"{prefix}_rank"] = out["model"].map(ref["rank"]).astype("Int64")
    out[f"{prefix}_rating"] = out["model"].map(ref["rating"])
    out["rank_change"] = (out[f"{prefix}_rank"] - out["rank"].astype("Int64")).astype("Int64")
    return out


def _frame(board: Any) -> pd.DataFrame:
    """A board frame from what a board function returned (a Leaderboard or a frame)."""
    return board.to_frame() if hasattr(board, "to_frame") else board


@dataclass(frozen=True, repr=False, eq=False)
class CategoryBoards(Result):
    """One leaderboard per value of a column, and the overview of ranks.

    Attributes
    ----------
    by : str
        The column.
    overall : pandas.DataFrame
        The board on all battles.
    boards : dict of str to pandas.DataFrame
        The board of each value with enough battles, in order of decreasing battle count.
    n_battles : dict of str to float
        Battles per value (every value, skipped or not).
    skipped : dict of str to str
        Values without a board and why.
    min_battles : int
        The threshold.
    """

    by: str
    overall: pd.DataFrame
    boards: dict[str, pd.DataFrame]
    n_battles: dict[str, float]
    skipped: dict[str, str]
    min_battles: int
    settings: dict[str, Any] = field(default_factory=dict)

    def overview(self, changes: bool = True) -> pd.DataFrame:
        """Model x category ranks (``overall`` first), best overall first.

        With ``changes`` each category column ``c`` is followed by ``c_change`` (overall rank
        minus the rank in ``c``; positive = better in that category). NaN where a model has no
        battles in a category.
        """
        base = self.overall[["model", "rank"]].rename(columns={"rank": OVERALL})
        out = base.set_index("model")
        for name, board in self.boards.items():
            ranks = board.set_index("model")["rank"].reindex(out.index).astype("Int64")
            out[name] = ranks
            if changes:
                out[f"{name}_change"] = (out[OVERALL].astype("Int64") - ranks).astype("Int64")
        return out.reset_index()

    def to_frame(self, overall: bool = True) -> pd.DataFrame:
        """One tidy table: every board stacked, its category in a first column named ``by``.

        The overall board comes first (labelled :data:`OVERALL`) unless ``overall=False``.
        """
        boards = ({OVERALL: self.overall} if overall else {}) | self.boards
        parts = [b.assign(**{self.by: name})[[self.by] + list(b.columns)] for name, b in boards.items()]
        if not parts:
            return pd.DataFrame(columns=[self.by] + list(self.overall.columns))
        return pd.concat(parts, ignore_index=True)

    def _describe(self) -> str:
        return f"by={self.by!r}, {len(self.boards)} boards, {len(self.skipped)} skipped"

    def skipped_report(self) -> str:
        """One line on the values without a board and the threshold."""
        if not self.skipped:
            return f"every value of {self.by!r} has at least {self.min_battles:,} battles"
        items = ", ".join(f"{k} ({v})" for k, v in list(self.skipped.items())[:12])
        more = f" and {len(self.skipped) - 12} more" if len(self.skipped) > 12 else ""
        return (f"{len(self.skipped)} value(s) of {self.by!r} got no board (threshold: "
                f"{self.min_battles:,} battles): {items}{more}")

    def summary(self, top: int = 10) -> str:
        lines = [f"Leaderboards by {self.by!r}: {len(self.boards)} boards, {len(self.skipped)} skipped",
                 self.skipped_report(), "-" * 72]
        ov = self.overview(changes=False).head(top)
        lines.append(ov.to_string(index=False))
        return "\n".join(lines)


def _memberships(series: pd.Series) -> tuple[list[str], list[np.ndarray]]:
    """The distinct values (as strings, most frequent first) and each value's row mask."""
    values = series.to_numpy(dtype=object)
    is_list = np.fromiter((isinstance(v, (list, tuple, set, np.ndarray)) for v in values), bool, len(values))
    rows: list[np.ndarray] = []
    labels: list[str] = []
    if is_list.any():
        exploded = pd.Series(list(values), index=np.arange(len(values)), dtype=object).explode()
    else:
        exploded = pd.Series(values, index=np.arange(len(values)), dtype=object)
    exploded = exploded[exploded.notna()]
    key = exploded.map(str)
    for label, idx in key.groupby(key, sort=False).groups.items():
        mask = np.zeros(len(values), bool)
        mask[np.asarray(idx, dtype=np.int64)] = True
        labels.append(str(label))
        rows.append(mask)
    return labels, rows


def category_leaderboards(battles: Battles | pd.DataFrame, by: str, *,
                          min_category_battles: int = DEFAULT_MIN_CATEGORY_BATTLES,
                          board: Callable[[Battles], Any] | None = None,
                          overall: Any = None, min_battles: int | None = None,
                          **leaderboard_kwargs: Any) -> CategoryBoards:
    """Fit one leaderboard per value of ``by`` (values with too few battles are skipped).

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
    by : str
        The column to split on.
    min_category_battles : int
        Values with fewer battles get no board (reported in ``skipped``); the CLI's
        ``--min-category-battles`` (``min_battles`` is its old name).
    board : callable, optional
        ``board(battles) -> Leaderboard`` (or a board frame); default
        :func:`~arena_stats.boards.leaderboard.leaderboard` with ``leaderboard_kwargs``.
    overall : Leaderboard or pandas.DataFrame, optional
        The board on all battles, if already computed.
    **leaderboard_kwargs
        Passed to :func:`~arena_stats.boards.leaderboard.leaderboard` when ``board`` is not given.

    Returns
    -------
    CategoryBoards

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> boards = category_leaderboards(simulate_arena(6, 6000, seed=5).battles, "category",
    ...                                min_category_battles=700, ci="sandwich")
    >>> sorted(boards.boards), list(boards.skipped)
    (['coding', 'creative_writing', 'hard_prompts', 'other'], ['math'])
    """
    if min_battles is not None:
        min_category_battles = renamed("min_battles", min_battles, "min_category_battles",
                                       None if min_category_battles == DEFAULT_MIN_CATEGORY_BATTLES
                                       else min_category_battles, where="category_leaderboards")
    min_battles = min_category_battles
    battles = as_battles(battles)
    if by not in battles.frame:
        raise InputError(f"cannot split on missing column{suggest(by, battles.frame.columns)}", column=by)
    if min_battles < 1:
        raise InputError(f"min_category_battles must be at least 1, got {min_battles}")
    fit_board = board if board is not None else (lambda b: leaderboard(b, **leaderboard_kwargs))
    overall_board = _frame(fit_board(battles) if overall is None else overall)
    labels, masks = _memberships(battles.frame[by])
    counts = battles.counts
    sizes = {lab: float(counts[m].sum()) for lab, m in zip(labels, masks)}
    boards: dict[str, pd.DataFrame] = {}
    skipped: dict[str, str] = {}
    if OVERALL in labels:
        raise InputError(f"a value of {by!r} is called {OVERALL!r}, the label of the overall board; rename it",
                         column=by)
    for lab in sorted(labels, key=lambda v: -sizes[v]):
        mask = masks[labels.index(lab)]
        if sizes[lab] < min_battles:
            skipped[lab] = f"{sizes[lab]:,.0f} battles"
            continue
        sub = battles.keep_rows(mask, f"{by}={lab}", f"{by} != {lab}")
        try:
            boards[lab] = _frame(fit_board(sub))
        except ArenaStatsError as exc:
            skipped[lab] = f"{sizes[lab]:,.0f} battles; no fit: {str(exc).splitlines()[0][:120]}"
    return CategoryBoards(by=by, overall=overall_board, boards=boards, n_battles=sizes, skipped=skipped,
                          min_battles=int(min_battles), settings=dict(leaderboard_kwargs))
