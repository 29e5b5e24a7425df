"""Sufficient statistics: battles reduced once to counts per (pair, verdict) cell.

For every model in this package that is symmetric in the two slots (Bradley-Terry with ties as
half, dropped, Davidson or Rao-Kupper) the likelihood depends on the battles only through how
often each unordered pair ``{i, j}`` produced each verdict. So the battles are reduced once, in
O(rows), to at most ``4 * n_models * (n_models - 1) / 2`` numbers, and every fit and every
bootstrap round afterwards costs nothing per battle.

Pairs are stored with ``i < j``; a battle whose A slot holds the higher code is flipped
(A-wins becomes j-wins). Per-battle weights are kept exact: cells are keyed by
(pair, verdict, weight), so the bootstrap can still resample *battles* — with the usual
unweighted or per-pair-constant weights this adds no cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from ..errors import InputError, shorten, suggest
from .battles import BOTHBAD, TIE, Battles, FilterStep, check_min_battles, whole
from .readers import as_battles

__all__ = ["PairCounts", "aggregate", "counts_from_table", "filter_counts", "model_totals", "pairwise_matrices"]

#: Above this many (pair, verdict) slots a dense bincount is replaced by a sort.
DENSE_CELL_LIMIT = 50_000_000
#: ... and at most this many cells per battle: a counting pass over every possible cell costs
#: ~2 ns a cell whatever the battles, sorting ~10 ns a battle x log. ATP 2000-2024 (75,000
#: matches, 2,639 players: 28 M cells) took 0.48 s and 223 MB by counting, 5 ms by sorting;
#: arenas of hundreds of models and millions of votes keep the counting pass.
DENSE_CELLS_PER_BATTLE = 16

I_WINS, J_WINS = 0, 1  # columns of PairCounts.table, then TIE (2) and BOTHBAD (3)


@dataclass(frozen=True)
class PairCounts:
    """Battles reduced to counts per unordered pair and verdict.

    Attributes
    ----------
    models : list of str
        Model names; ``i`` and ``j`` index this list.
    i, j : ndarray of int, shape (P,)
        The compared pairs, ``i < j``, each pair once.
    cell_pair : ndarray of int, shape (C,)
        For each cell, the index of its pair in ``i``/``j``.
    cell_outcome : ndarray of int, shape (C,)
        0: ``i`` won, 1: ``j`` won, 2: tie, 3: tie (bothbad).
    cell_count : ndarray of float, shape (C,)
        Number of battles in the cell.
    cell_weight : ndarray of float, shape (C,)
        Weight of each battle in the cell (1 unless weights were given).
    steps : tuple of FilterStep
        What was removed on the way (the filters of the battles, the readers' ``drop_invalid``).
    fold_case : bool
        Whether the names were read with ``fold_case`` (look-alike names as one contestant);
        :func:`~arena_stats.data.stream.merge_pair_counts` then folds the merged names too, so
        counts reduced in parts (Dask, a saved state) are named as one pass would name them.
    """

    models: list[str]
    i: np.ndarray
    j: np.ndarray
    cell_pair: np.ndarray
    cell_outcome: np.ndarray
    cell_count: np.ndarray
    cell_weight: np.ndarray
    steps: tuple[FilterStep, ...] = field(default=(), compare=False)
    fold_case: bool = False

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def n_pairs(self) -> int:
        return len(self.i)

    @property
    def n_battles(self) -> int | float:
        """Total number of battles: an int, unless counts are fractional."""
        return whole(float(self.cell_count.sum()))

    @property
    def weighted(self) -> bool:
        return bool(np.any(self.cell_weight != 1.0))

    def table(self, cell_count: np.ndarray | None = None) -> np.ndarray:
        """Weighted counts per pair, shape ``(P, 4)`` (or ``(B, P, 4)`` for a batch of counts).

        Columns: ``i`` won, ``j`` won, tie, tie (bothbad).
        """
        counts = self.cell_count if cell_count is None else cell_count
        w = counts * self.cell_weight
        slot = self.cell_pair * 4 + self.cell_outcome
        size = self.n_pairs * 4
        if w.ndim == 1:
            return np.bincount(slot, weights=w, minlength=size).reshape(self.n_pairs, 4)
        out = np.zeros((w.shape[0], size))
        if _cells_unique(slot, size):
            out[:, slot] = w
        else:
            for r in range(w.shape[0]):
                out[r] = np.bincount(slot, weights=w[r], minlength=size)
        return out.reshape(w.shape[0], self.n_pairs, 4)


    def keep_cells(self, mask: np.ndarray, step: FilterStep | None = None) -> PairCounts:
        """The counts of the cells where ``mask`` holds; pairs and models left without a cell go
        (the model list stays sorted, as :func:`aggregate` builds it). ``step`` is recorded."""
        mask = np.asarray(mask, dtype=bool)
        steps = self.steps + ((step,) if step is not None else ())
        if mask.all():
            return replace(self, steps=steps)
        cp = self.cell_pair[mask]
        pairs_used = np.unique(cp)
        pair_map = np.full(self.n_pairs, -1, np.int64)
        pair_map[pairs_used] = np.arange(len(pairs_used))
        i, j = self.i[pairs_used], self.j[pairs_used]
        used = np.zeros(self.n_models, bool)
        used[i] = True
        used[j] = True
        model_map = np.cumsum(used) - 1
        return PairCounts(models=[m for m, u in zip(self.models, used) if u], i=model_map[i], j=model_map[j],
                          cell_pair=pair_map[cp], cell_outcome=self.cell_outcome[mask],
                          cell_count=self.cell_count[mask], cell_weight=self.cell_weight[mask], steps=steps,
                          fold_case=self.fold_case)

    def model_battles(self) -> np.ndarray:
        """Battles of each model (unweighted counts), as :meth:`Battles.min_battles` counts them."""
        per_pair = np.bincount(self.cell_pair, weights=self.cell_count, minlength=self.n_pairs)
        return np.bincount(self.i, weights=per_pair, minlength=self.n_models) + \
            np.bincount(self.j, weights=per_pair, minlength=self.n_models)


def counts_from_table(models: Sequence[str], i: np.ndarray, j: np.ndarray, table: np.ndarray) -> PairCounts:
    """Counts of a ``(pairs, 3)`` table over pairs ``(i, j)``: ``i`` won, ``j`` won, tie (simulated
    arenas, refits of a planned or simulated table). Pairs whose row is all zero are left out.

    Examples
    --------
    >>> pc = counts_from_table(["a", "b", "c"], np.array([0, 1]), np.array([1, 2]),
    ...                        np.array([[3.0, 1.0, 0.0], [0.0, 0.0, 0.0]]))
    >>> pc.n_pairs, pc.n_battles
    (1, 4)
    """
    rows, outcome = np.nonzero(table > 0)
    used, cell_pair = np.unique(rows, return_inverse=True)
    return PairCounts(models=list(models), i=i[used], j=j[used], cell_pair=cell_pair.astype(np.int64),
                      cell_outcome=outcome.astype(np.int64), cell_count=table[rows, outcome].astype(np.float64),
                      cell_weight=np.ones(len(rows)))


def filter_counts(pc: PairCounts, *, exclude: Sequence[str] = (), drop_ties: bool = False,
                  min_battles: int = 0) -> PairCounts:
    """The filters of :func:`~arena_stats.data.battles.filter_battles` that need no rows, on counts.

    Excluded models, ties and the minimum number of battles per model are properties of the
    (pair, verdict) cells, so they apply to counts -- a streamed directory, a saved state -- in
    the same order and with the same result as on the battles. Each step is recorded in
    ``steps``, counting battles.

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats import load_battles
    >>> b = load_battles(pd.DataFrame({"model_a": ["x", "x", "y"], "model_b": ["y", "z", "z"],
    ...                                "winner": ["model_a", "tie", "model_b"]}))
    >>> filter_counts(aggregate(b), exclude=["z"]).models
    ['x', 'y']
    """
    from .names import canonical_name
    out = pc
    if exclude:
        names = [canonical_name(m) for m in exclude]
        known = set(out.models)
        for m in names:
            if m not in known:
                raise InputError(f"cannot exclude unknown model {shorten(m)}{suggest(m, known)}")
        gone = np.isin(np.asarray(out.models, dtype=object), names)
        mask = ~(gone[out.i] | gone[out.j])[out.cell_pair]
        out = out.keep_cells(mask, _count_step(out, mask, "exclude", f"battles involving {', '.join(names)}"))
    if drop_ties:
        mask = out.cell_outcome < TIE
        out = out.keep_cells(mask, _count_step(out, mask, "drop-ties", "ties"))
    if min_battles:
        n = check_min_battles(min_battles)
        low = out.model_battles() < n
        if not low.any():
            out = out.keep_cells(np.ones(len(out.cell_count), bool),
                                 _count_step(out, np.ones(len(out.cell_count), bool), "min-battles",
                                             f"no model below {n} battles"))
        else:
            names = [m for m, lo in zip(out.models, low) if lo]
            mask = ~(low[out.i] | low[out.j])[out.cell_pair]
            shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
            out = out.keep_cells(mask, _count_step(out, mask, "min-battles",
                                                   f"{len(names)} models with fewer than {n} battles: {shown}"))
    if out.n_pairs == 0:
        # one line, as every message (and as Battles' filters say it)
        raise InputError("no battles left after filtering: " + "; ".join(map(str, out.steps)))
    return out


def _count_step(pc: PairCounts, mask: np.ndarray, name: str, reason: str) -> FilterStep:
    """A filter step of counts: battles removed and left (rounded: battles are counted whole)."""
    removed, left = float(pc.cell_count[~mask].sum()), float(pc.cell_count[mask].sum())
    return FilterStep(name, int(round(removed)), int(round(left)), reason)


def _cells_unique(slot: np.ndarray, size: int) -> bool:
    return len(slot) == len(np.unique(slot)) if len(slot) <= size else False


def cell_keys(a: np.ndarray, b: np.ndarray, outcome: np.ndarray, n_models: int) -> np.ndarray:
    """Cell key ``((lo * n + hi) * 4 + verdict)`` of each battle, verdict seen from ``lo``.

    Works in 32-bit integers while the keys fit (fewer than ~23,000 models), which halves the
    memory traffic on logs of tens of millions of battles.
    """
    dtype = np.int32 if 4 * n_models * n_models < 2**31 else np.int64
    a = a.astype(dtype, copy=False)
    b = b.astype(dtype, copy=False)
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    o = outcome.astype(dtype)
    # swapping the slots turns an A win (0) into a B win (1) and back: xor 1 on decisive verdicts
    o ^= (a > b) & (o < 2)
    lo *= n_models
    lo += hi
    lo <<= 2
    lo |= o
    return lo


def aggregate(battles: Battles | pd.DataFrame) -> PairCounts:
    """Reduce battles to :class:`PairCounts` in one pass.

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats import load_battles
    >>> from arena_stats.data.aggregate import aggregate
    >>> b = load_battles(pd.DataFrame({"model_a": ["x", "y", "x"], "model_b": ["y", "x", "y"],
    ...                                "winner": ["model_a", "model_a", "tie"]}))
    >>> aggregate(b).table()
    array([[1., 1., 1., 0.]])
    """
    battles = as_battles(battles)
    n = battles.n_models
    key = cell_keys(battles.a, battles.b, battles.outcome, n)
    counts = battles.counts
    weights = battles.weights
    if weights is None and n * n * 4 <= min(DENSE_CELL_LIMIT, DENSE_CELLS_PER_BATTLE * max(len(key), 1)):
        dense = np.bincount(key, weights=counts if "count" in battles.frame else None, minlength=n * n * 4)
        cells = np.flatnonzero(dense)
        cell_count = dense[cells].astype(np.float64)
        cell_weight = np.ones(len(cells))
    elif weights is None:
        cells, inv = np.unique(key, return_inverse=True)
        cell_count = np.bincount(inv, weights=counts).astype(np.float64)
        cell_weight = np.ones(len(cells))
    else:
        order = np.lexsort((weights, key))
        k_sorted, w_sorted = key[order], weights[order]
        new = np.ones(len(order), bool)
        new[1:] = (k_sorted[1:] != k_sorted[:-1]) | (w_sorted[1:] != w_sorted[:-1])
        group = np.cumsum(new) - 1
        cells = k_sorted[new]
        cell_weight = w_sorted[new]
        cell_count = np.bincount(group, weights=counts[order]).astype(np.float64)
    keep = cell_count > 0
    cells, cell_count, cell_weight = cells[keep], cell_count[keep], cell_weight[keep]
    pair_key = cells // 4
    pairs, cell_pair = np.unique(pair_key, return_inverse=True)
    return PairCounts(
        models=battles.models,
        i=(pairs // n).astype(np.int64),
        j=(pairs % n).astype(np.int64),
        cell_pair=cell_pair.astype(np.int64),
        cell_outcome=(cells % 4).astype(np.int64),
        cell_count=cell_count,
        cell_weight=cell_weight,
        steps=battles.steps,
    )


def cluster_cell_matrix(battles: Battles, pc: PairCounts, column: str) -> csr_matrix:
    """Sparse (cluster x cell) matrix: how many battles of each cluster fall in each cell.

    ``pc`` must be ``aggregate(battles)``. Used by the clustered bootstrap (resample rows of
    this matrix) and the cluster-robust sandwich (sum scores within rows).
    """
    if column not in battles.frame:
        from ..errors import suggest
        raise InputError(f"cannot cluster on missing column{suggest(column, battles.frame.columns)}",
                         column=column)
    n = battles.n_models
    key = cell_keys(battles.a, battles.b, battles.outcome, n).astype(np.int64)
    cell_key = ((pc.i * n + pc.j)[pc.cell_pair] * 4 + pc.cell_outcome).astype(np.int64)
    if pc.weighted:
        # cells are keyed by weight too: match on (key, weight)
        order = np.lexsort((pc.cell_weight, cell_key))
        w = battles.weights
        pos = np.searchsorted(cell_key[order], key, side="left")
        col = order[pos]
        while True:  # step over cells of the same key with another weight
            wrong = pc.cell_weight[col] != w
            if not wrong.any():
                break
            pos[wrong] += 1
            col = order[pos]
    else:
        col = np.searchsorted(cell_key, key)
    codes, _ = pd.factorize(battles.frame[column], use_na_sentinel=False)
    return csr_matrix((battles.counts, (codes, col)), shape=(int(codes.max()) + 1, len(cell_key)))


def model_totals(battles: Battles | PairCounts) -> pd.DataFrame:
    """Per-model battles, wins, losses, ties (``tie (bothbad)`` included) and win rate.

    ``win_rate`` counts a tie as half a win. Unweighted counts of battles.
    """
    pc = battles if isinstance(battles, PairCounts) else aggregate(battles)
    t = np.bincount(pc.cell_pair * 4 + pc.cell_outcome, weights=pc.cell_count,
                    minlength=pc.n_pairs * 4).reshape(pc.n_pairs, 4)
    n = pc.n_models
    wins = np.bincount(pc.i, weights=t[:, I_WINS], minlength=n) + np.bincount(pc.j, weights=t[:, J_WINS], minlength=n)
    losses = np.bincount(pc.i, weights=t[:, J_WINS], minlength=n) + np.bincount(pc.j, weights=t[:, I_WINS], minlength=n)
    ties = t[:, TIE] + t[:, BOTHBAD]
    ties_m = np.bincount(pc.i, weights=ties, minlength=n) + np.bincount(pc.j, weights=ties, minlength=n)
    total = wins + losses + ties_m
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(total > 0, (wins + 0.5 * ties_m) / np.where(total > 0, total, 1), np.nan)
    counts = {"battles": total, "wins": wins, "losses": losses, "ties": ties_m}
    # whole battles (no fractional weights) stay integers, in every output format
    counts = {k: v.astype(np.int64) if np.array_equal(v, np.round(v)) else v for k, v in counts.items()}
    return pd.DataFrame({**counts, "win_rate": rate}, index=pd.Index(pc.models, name="model"))


def pairwise_matrices(battles: Battles | PairCounts, order: list[str] | None = None
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Observed win-fraction and battle-count matrices.

    Entry ``[r, c]`` of the first is the fraction of battles between models ``r`` and ``c`` that
    ``r`` won, ties counting half (NaN where they never met); the second holds how many battles
    they fought. Rows and columns follow ``order`` (default: the sorted model names).

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats import load_battles
    >>> from arena_stats.data.aggregate import pairwise_matrices
    >>> b = load_battles(pd.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "x"],
    ...                                "winner": ["model_a", "tie"]}))
    >>> frac, count = pairwise_matrices(b)
    >>> float(frac.loc["x", "y"]), float(count.loc["x", "y"])
    (0.75, 2.0)
    """
    pc = battles if isinstance(battles, PairCounts) else aggregate(battles)
    n = pc.n_models
    t = np.bincount(pc.cell_pair * 4 + pc.cell_outcome, weights=pc.cell_count,
                    minlength=pc.n_pairs * 4).reshape(pc.n_pairs, 4)
    score_i = t[:, I_WINS] + 0.5 * (t[:, TIE] + t[:, BOTHBAD])
    total = t.sum(axis=1)
    count = np.zeros((n, n))
    score = np.zeros((n, n))
    count[pc.i, pc.j] = total
    count[pc.j, pc.i] = total
    score[pc.i, pc.j] = score_i
    score[pc.j, pc.i] = total - score_i
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(count > 0, score / np.where(count > 0, count, 1), np.nan)
    idx = pd.Index(pc.models, name="model")
    frac_df = pd.DataFrame(frac, index=idx, columns=pd.Index(pc.models, name="opponent"))
    count_df = pd.DataFrame(count, index=idx, columns=pd.Index(pc.models, name="opponent"))
    if order is not None:
        frac_df = frac_df.loc[order, order]
        count_df = count_df.loc[order, order]
    return frac_df, count_df
