"""Bootstrap confidence intervals for Bradley-Terry ratings, computed on counts.

Resampling ``N`` battles with replacement and counting how often each (pair, verdict) cell was
drawn gives cell counts that follow ``Multinomial(N, c / N)``, where ``c`` are the observed cell
counts. So instead of touching the battles, each round draws those counts directly and refits
on them: the result is *distributionally identical* to the row bootstrap, and a round costs
O(cells), independent of the number of battles.

Drawing the multinomial exactly and fast is the job of :mod:`~arena_stats.inference.resample`: Poisson
draws by table inversion plus a correction of ~sqrt(N) battles. The two kinds of tie are merged
first (every convention treats them alike), so a round draws at most three numbers per pair,
straight into a (verdict x pair x round) table: pair-major, one column per round, the layout in
which the refit's gathers and sums move whole rows.

Clusters. With ``cluster="judge"`` (voter, prompt ...) whole clusters are resampled: each round
draws cluster multiplicities ``m ~ Multinomial(C, 1/C)`` (with the same table sampler) and the
cell counts are ``m @ K`` with ``K`` the sparse (cluster x cell) count matrix.

Fitting. All rounds of a chunk are refitted together by chord iterations warm-started at the
full-data MLE (:func:`~arena_stats.models.bradley_terry.chord_plain` for ``half``/``drop``, which
needs only each pair's battles and each model's wins, pairs as rows; rounds as rows for the
models with a tie parameter); a round typically needs 5-7 gradients and no factorisation. Rounds that do not
converge fall back to Newton. A round whose resample leaves a model without a win or without a
loss has no finite MLE (the same happens, silently, to a row bootstrap fitted with L-BFGS);
those rounds are fitted with a tiny ridge :data:`DEGENERATE_L2` and counted in ``n_degenerate``.

Every chunk of :func:`chunk_rounds` rounds (a number fixed by the arena's size, so that a
chunk's arrays stay in cache) gets its own random stream spawned from ``seed``, so results are
identical bit for bit for the same seed, whatever the thread count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..data.aggregate import PairCounts, aggregate, cluster_cell_matrix
from ..data.battles import Battles
from ..data.readers import as_battles
from ..models.bradley_terry import (CHORD_BLOCK_SIZE, DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE, GRAD_TOL,
                            BTResult, _chord, _grad_hess, _inverse, _newton, _null_vector,
                            _PairScatter, _Problem, chord_plain, elo_transform, fit_counts,
                            make_problem)
from ..errors import InputError
from .._util.parallel import THREADS, run_chunks
from .._util.progress import progress as progress_bar
from .resample import MultinomialSampler, multinomial_counts

__all__ = ["BootstrapResult", "bootstrap", "multinomial_counts", "rank_summary"]

DEFAULT_ROUNDS = 1000
DEFAULT_CONFIDENCE = 0.95
#: Rounds per chunk at most (a chunk is the unit of threading and of random streams; the
#: contextual bootstrap uses this many rounds a chunk).
CHUNK = 50
#: Rounds x pairs of one chunk of the plain bootstrap: its draws and chord iterations then stay
#: in cache (50 rounds at 130 models, 16 at 300).
CHUNK_VALUES = CHORD_BLOCK_SIZE
#: ... and at least this many rounds, so that per-chunk overheads stay small on huge arenas.
CHUNK_MIN = 8
#: Ridge used only for bootstrap rounds whose MLE does not exist (see module docstring).
DEGENERATE_L2 = 1e-6
#: Memory for the dense Hessians of rounds refitted by full Newton steps at a time.
NEWTON_BATCH_BYTES = 64 * 2**20


def chunk_rounds(n_pairs: int) -> int:
    """Rounds per chunk for an arena of ``n_pairs`` pairs (fixed by the data, not the machine)."""
    return int(max(CHUNK_MIN, min(CHUNK, CHUNK_VALUES // max(n_pairs, 1))))


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap distribution of Elo-scale ratings and ranks.

    Attributes
    ----------
    ratings : pandas.DataFrame
        One row per round, one column per model (Elo scale, same centring/anchor as ``point``).
    point : BTResult
        The fit on all battles.
    confidence : float
    ci_lower, ci_upper : pandas.Series
        Percentile interval of each model's rating.
    ranks : pandas.DataFrame
        Rank of each model in each round (1 = best; ties in rating share the better rank).
    rank_lower, rank_upper : pandas.Series
        Percentile interval of the rank.
    p_top : pandas.Series
        Share of rounds in which the model ranked first.
    n_degenerate : int
        Rounds whose resample had no finite MLE (fitted with a tiny ridge).
    settings : dict
        ``rounds, seed, cluster, confidence`` and the fit settings.
    """

    ratings: pd.DataFrame
    point: BTResult
    confidence: float
    ci_lower: pd.Series
    ci_upper: pd.Series
    ranks: pd.DataFrame
    rank_lower: pd.Series
    rank_upper: pd.Series
    p_top: pd.Series
    n_degenerate: int
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per model, best first: rating, interval, rank interval, p_top, bootstrap sd."""
        df = pd.DataFrame({
            "model": self.point.models,
            "rating": self.point.ratings.to_numpy(),
            "ci_lower": self.ci_lower.to_numpy(),
            "ci_upper": self.ci_upper.to_numpy(),
            "sd": self.ratings.std(axis=0, ddof=1).to_numpy(),
            "rank_lower": self.rank_lower.to_numpy(),
            "rank_upper": self.rank_upper.to_numpy(),
            "p_top": self.p_top.to_numpy(),
        })
        return df.sort_values("rating", ascending=False, kind="stable").reset_index(drop=True)

    def summary(self, top: int | None = 20) -> str:
        s = self.settings
        lines = [f"Bootstrap of a Bradley-Terry fit: {s['rounds']} rounds, seed {s['seed']}, "
                 f"{self.confidence:.0%} percentile intervals"
                 + (f", clustered by {s['cluster']!r}" if s.get("cluster") else ""),
                 f"ties: {self.point.ties}; degenerate rounds (no finite MLE): {self.n_degenerate}",
                 "-" * 72,
                 f"{'model':<30} {'rating':>8} {'ci_lower':>9} {'ci_upper':>9} {'ranks':>9} {'p_top':>6}"]
        frame = self.to_frame()
        for row in (frame.head(top) if top else frame).itertuples(index=False):
            lines.append(f"{str(row.model)[:30]:<30} {row.rating:8.1f} {row.ci_lower:9.1f} {row.ci_upper:9.1f} "
                         f"{int(row.rank_lower):>4}-{int(row.rank_upper):<4} {row.p_top:6.3f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def rank_summary(ratings: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ranks per round (1 = best), their percentile interval, and P(rank = 1)."""
    # rank = 1 + number of models strictly better in that round
    order = np.sort(ratings, axis=1)
    ranks = np.empty(ratings.shape, np.int64)
    for r in range(ratings.shape[0]):
        ranks[r] = ratings.shape[1] - np.searchsorted(order[r], ratings[r], side="right") + 1
    alpha = 1 - confidence
    lo = np.quantile(ranks, alpha / 2, axis=0, method="lower")
    hi = np.quantile(ranks, 1 - alpha / 2, axis=0, method="higher")
    return ranks, lo, hi, (ranks == 1).mean(axis=0)


def _merge_tie_kinds(pc: PairCounts) -> PairCounts:
    """Fold ``tie (bothbad)`` cells into ``tie`` cells of the same pair and weight.

    Every fit convention treats the two kinds of tie alike, and resampling battles then merging
    their cells is the same as merging then resampling, so this is exact and saves up to a
    quarter of the random draws.
    """
    if not (pc.cell_outcome == 3).any():
        return pc
    outcome = np.where(pc.cell_outcome == 3, 2, pc.cell_outcome)
    key = pc.cell_pair * 4 + outcome
    if pc.weighted:
        return pc
    cells, inverse = np.unique(key, return_inverse=True)
    return replace(pc, cell_pair=cells // 4, cell_outcome=cells % 4,
                   cell_count=np.bincount(inverse, weights=pc.cell_count),
                   cell_weight=np.ones(len(cells)))


class _RoundCounts:
    """Draws the ``(3, P, rounds)`` tables (i won, j won, tie) of resampled battles.

    Cell-major, one column per round: the layout of :func:`chord_plain`. Unweighted,
    unclustered battles are drawn straight into it (one Poisson table for all rounds); weighted
    cells (several cells per slot) and cluster resamples go through the cell counts and
    :meth:`PairCounts.table`.
    """

    def __init__(self, pc: PairCounts, kmat: Any = None) -> None:
        self.pc, self.kmat = pc, kmat
        self.dense = kmat is None and not pc.weighted
        if kmat is not None:
            # cluster multiplicities ~ Multinomial(C, 1/C): the table sampler, as for cells
            self.n_clusters = kmat.shape[0]
            self.sampler = MultinomialSampler(self.n_clusters, np.ones(self.n_clusters))
            self.kmat_t = kmat.T.tocsr()
            return
        if not np.allclose(pc.cell_count, np.round(pc.cell_count)):
            raise InputError("the bootstrap resamples battles, so battle counts must be whole numbers")
        self.n_total = int(round(float(pc.cell_count.sum())))
        if self.dense:
            tab = pc.table()
            slots = np.concatenate([tab[:, 0], tab[:, 1], tab[:, 2] + tab[:, 3]])
            self.sampler = MultinomialSampler(self.n_total, slots)
        else:
            self.sampler = MultinomialSampler(self.n_total, pc.cell_count)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        pc = self.pc
        if self.dense:
            return self.sampler.draw_columns(rng, size).reshape(3, pc.n_pairs, size)
        if self.kmat is None:
            counts = self.sampler.draw(rng, size)
        else:
            counts = np.asarray(self.kmat_t @ self.sampler.draw_columns(rng, size).astype(np.float64)).T
        tab = pc.table(counts.astype(np.float64))
        tab[..., 2] += tab[..., 3]
        return np.ascontiguousarray(tab[..., :3].transpose(2, 1, 0))


class _ChunkSolver:
    """What every chunk's refit shares: the pair structure, built once per bootstrap."""

    def __init__(self, pc: PairCounts, point: BTResult, x0: np.ndarray, tol: float,
                 step_matrix: np.ndarray) -> None:
        self.pc, self.point, self.x0, self.tol, self.step_matrix = pc, point, x0, tol, step_matrix
        dim = pc.n_models + (1 if point.log_tie is not None else 0)
        self.scatter = _PairScatter(pc.i, pc.j, dim)

    def fit(self, counts: np.ndarray) -> tuple[np.ndarray, int]:
        """Fit a chunk of resampled ``(3, P, rounds)`` tables; returns (x per round, degenerate rounds)."""
        x0, tol, inc = self.x0, self.tol, self.scatter
        ties, l2 = self.point.ties, self.point.settings["l2"]
        n_rounds = counts.shape[2]
        w, lose, tie = counts
        plain = ties in ("half", "drop")
        if plain:
            # the plain model sees each pair's counted battles and each model's wins
            npair = np.add(w, lose, dtype=np.float64)
            wi, wj = w, lose
            if ties == "half":
                npair += tie
                wi, wj = w + 0.5 * tie, lose + 0.5 * tie
            win_mass = inc.rows_at_i(wi.astype(np.float64, copy=False)) + inc.rows_at_j(
                wj.astype(np.float64, copy=False))
            loss_mass = inc.rows_at_both(npair) - win_mass
            wt = None
        else:
            wi, wj, wt = (c.astype(np.float64) for c in counts)
            won, lost = wi + wt, wj + wt
            win_mass = inc.rows_at_i(won) + inc.rows_at_j(lost)
            loss_mass = inc.rows_at_i(lost) + inc.rows_at_j(won)
        # a model that never wins or never loses in a round has no finite MLE there (with a prior
        # the estimate is always finite, and no round is degenerate)
        if l2 > 0:
            degenerate = np.zeros(n_rounds, bool)
        else:
            degenerate = (win_mass <= 0).any(axis=0) | (loss_mass <= 0).any(axis=0)
        x = np.repeat(x0[None], n_rounds, axis=0)
        ok = np.flatnonzero(~degenerate)
        if ok.size:
            if plain:
                cols = slice(None) if ok.size == n_rounds else ok
                xs, conv = chord_plain(npair[:, cols], win_mass[:, cols], x0, self.step_matrix, inc, l2=l2,
                                       tol=tol)
            else:
                prob = self._problem(wi, wj, wt, ok)
                xs, conv = _chord(prob, x[ok], self.step_matrix, tol=tol, scatter=inc)
            if not conv.all():
                # far from the full-data fit: fall back to full Newton steps for those rounds
                slow = ok[~conv]
                # from where the chord iterations stopped when they stayed finite: nearer the
                # answer than the full-data fit, so fewer Newton steps (each a dense solve)
                start = xs[~conv]
                bad = ~np.isfinite(start).all(axis=1)
                start[bad] = x0
                xn, conv_n = self._newton(wi, wj, wt, slow, start, l2)
                xs[~conv] = xn
                conv[~conv] = conv_n
            x[ok] = xs
            degenerate[ok[~conv]] = True  # not strongly connected although every model won and lost
        if degenerate.any():
            d = np.flatnonzero(degenerate)
            x[d], _ = self._newton(wi, wj, wt, d, x[d], max(l2, DEGENERATE_L2))
        return x, int(degenerate.sum())

    def _newton(self, wi: np.ndarray, wj: np.ndarray, wt: np.ndarray | None, rounds: np.ndarray,
                x: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
        """Full Newton fits of ``rounds`` from ``x``, a few rounds at a time: each holds a dense
        Hessian, 55 MB at 2,600 models, so the batch is cut to :data:`NEWTON_BATCH_BYTES`."""
        dim = x.shape[1]
        batch = max(1, NEWTON_BATCH_BYTES // (8 * dim * dim))
        out, conv = np.empty_like(x), np.zeros(len(rounds), bool)
        for lo in range(0, len(rounds), batch):
            sl = slice(lo, lo + batch)
            out[sl], _, _, _, _, conv[sl] = _newton(self._problem(wi, wj, wt, rounds[sl], l2=l2), x[sl],
                                                    tol=self.tol)
        return out, conv

    def _problem(self, wi: np.ndarray, wj: np.ndarray, wt: np.ndarray | None, rounds: np.ndarray,
                 l2: float | None = None) -> _Problem:
        """The rounds ``rounds`` of pair-major weights as a (rounds as rows) Newton problem."""
        pc, point = self.pc, self.point
        # rounds as rows (the Newton engine's layout), each array C-contiguous
        wi, wj = (np.ascontiguousarray(v[:, rounds].T, dtype=np.float64) for v in (wi, wj))
        tie = np.zeros_like(wi) if wt is None else np.ascontiguousarray(wt[:, rounds].T)
        total = wi.sum(axis=1) + wj.sum(axis=1) + tie.sum(axis=1)
        return _Problem(pc.i, pc.j, pc.n_models, wi, wj, tie, point.ties,
                        point.settings["l2"] if l2 is None else l2, total)


def bootstrap(battles: Battles | pd.DataFrame, rounds: int = DEFAULT_ROUNDS, ties: str = "half", *,
              seed: int = 0, confidence: float = DEFAULT_CONFIDENCE, cluster: str | None = None,
              l2: float = 0.0, scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE,
              init: float = DEFAULT_INIT, anchor: Mapping[str, float] | None = None,
              tol: float = GRAD_TOL, point: BTResult | None = None, progress: bool = False,
              threads: int = THREADS, executor: Any = None) -> BootstrapResult:
    """Percentile bootstrap of Bradley-Terry ratings, computed on counts.

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
    rounds : int
        Number of bootstrap rounds.
    ties : str
        Tie convention (see :func:`~arena_stats.fit_bradley_terry`).
    seed : int
        Same seed, same numbers, bit for bit.
    confidence : float
        Level of the percentile intervals (e.g. 0.95).
    cluster : str, optional
        Column whose values are resampled as whole clusters (voter, prompt, ...).
    l2, scale, base, init, anchor, tol
        As in :func:`~arena_stats.fit_bradley_terry`.
    point : BTResult, optional
        A fit on the same battles and settings, to skip refitting it.
    progress : bool
        Show a progress bar on stderr (only when stderr is a terminal).
    threads : int
        Worker threads for drawing counts and fitting chunks (results do not depend on it).
    executor : concurrent.futures.Executor, optional
        Runs the chunks of rounds instead of the thread pool (anything with ``map``, such as a
        Dask client's executor); results do not depend on it either.

    Returns
    -------
    BootstrapResult

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> from arena_stats.inference.bootstrap import bootstrap
    >>> bs = bootstrap(simulate_arena(6, 3000, seed=2).battles, rounds=50, seed=1)
    >>> bool((bs.ci_lower <= bs.point.ratings).all() and (bs.point.ratings <= bs.ci_upper).all())
    True
    """
    if not (0 < confidence < 1):
        raise InputError(f"confidence must be between 0 and 1, got {confidence!r}")
    if int(rounds) < 1:
        raise InputError(f"rounds must be at least 1, got {rounds!r}")
    rounds = int(rounds)
    battles = as_battles(battles) if not isinstance(battles, PairCounts) else battles
    pc = battles if isinstance(battles, PairCounts) else aggregate(battles)
    if point is None:
        point = fit_counts(pc, ties, l2=l2, scale=scale, base=base, init=init, anchor=anchor, tol=tol)
    x0 = point.theta if point.log_tie is None else np.append(point.theta, point.log_tie)
    full = make_problem(pc, point.ties, point.settings["l2"])
    _, _, h0 = _grad_hess(x0[None], full)
    e = _null_vector(full)
    step_matrix = _inverse(-h0[0] + np.outer(e, e))
    kmat = None
    if cluster is not None:
        if isinstance(battles, PairCounts):
            raise InputError("a clustered bootstrap needs the battles, not only their counts")
        if pc.weighted:
            raise InputError("the clustered bootstrap does not support per-battle weights yet")
        kmat = cluster_cell_matrix(battles, pc, cluster)
    else:
        pc = _merge_tie_kinds(pc)
    draws = _RoundCounts(pc, kmat)
    chunk = chunk_rounds(pc.n_pairs)
    seeds = np.random.SeedSequence(seed).spawn((rounds + chunk - 1) // chunk)

    solver = _ChunkSolver(pc, point, x0, tol, step_matrix)

    def work(c: int) -> tuple[np.ndarray, int]:
        rng = np.random.default_rng(seeds[c])
        return solver.fit(draws.draw(rng, min(chunk, rounds - c * chunk)))

    results: list[tuple[np.ndarray, int]] = []
    with progress_bar(rounds, "bootstrap", enabled=progress) as bar:
        for res in run_chunks(work, len(seeds), threads=threads, executor=executor):
            results.append(res)
            bar.update(res[0].shape[0])
    x = np.concatenate([r[0] for r in results])
    n_degenerate = sum(r[1] for r in results)
    s = point.settings
    elo = elo_transform(x[:, : pc.n_models], pc.models, s["scale"], s["base"], s["init"], s["anchor"])
    alpha = 1 - confidence
    lo, hi = np.quantile(elo, [alpha / 2, 1 - alpha / 2], axis=0)
    ranks, r_lo, r_hi, p_top = rank_summary(elo, confidence)
    idx = pd.Index(pc.models, name="model")
    return BootstrapResult(
        ratings=pd.DataFrame(elo, columns=idx), point=point, confidence=confidence,
        ci_lower=pd.Series(lo, index=idx, name="ci_lower"), ci_upper=pd.Series(hi, index=idx, name="ci_upper"),
        ranks=pd.DataFrame(ranks, columns=idx), rank_lower=pd.Series(r_lo, index=idx, name="rank_lower"),
        rank_upper=pd.Series(r_hi, index=idx, name="rank_upper"), p_top=pd.Series(p_top, index=idx, name="p_top"),
        n_degenerate=n_degenerate,
        settings=dict(rounds=rounds, seed=seed, cluster=cluster, confidence=confidence, **s))
