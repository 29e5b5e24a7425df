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
full-data MLE (:mod:`~arena_stats.models.kernels`: :func:`~arena_stats.models.kernels.chord_plain`
for ``half``/``drop``, which needs only each pair's battles and each model's wins, pairs as rows;
rounds as rows for the models with a tie parameter), with the constrained inverse information
of the point fit as the fixed step matrix; a round typically needs 5-7 gradients and no
factorisation. Rounds that do not converge fall back to the engine's Newton steps. A round whose
resample leaves a model without a win or without a loss has no finite MLE (the same happens,
silently, to a row bootstrap fitted with L-BFGS); those rounds are fitted with a tiny ridge
:data:`DEGENERATE_L2` and counted in ``n_degenerate``.

Reporting. Each round's strengths are put on the Elo scale with the *point fit's* offset, so an
anchor is a pure shift of every round (intervals and ranks never depend on which model
anchors); percentile intervals and the rank distribution come from :func:`summarise`, which the
contextual bootstrap shares.

Every chunk of :func:`chunk_rounds` rounds (a number fixed by the arena's size, so that a
chunk's arrays stay in cache) gets its own random stream spawned from ``seed``, so results are
identical bit for bit for the same seed, whatever the thread count.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import issparse

from .._util import checks
from .._util.heap import release_heap
from .._util.parallel import THREADS, run_chunks
from .._util.progress import progress as progress_bar
from ..data.aggregate import PairCounts, aggregate, cluster_cell_matrix
from ..data.battles import Battles
from ..data.readers import as_battles
from ..errors import InputError
from ..models.bradley_terry import BTResult, fit_counts
from ..models.elo_scale import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE
from ..models.engine import GRAD_TOL, STEP_TOL, newton
from ..models.kernels import CHORD_BLOCK_SIZE, SOLVE_MIN_ROUNDS, PairScatter, chord, chord_plain, refit_sparse
from ..models.pair_problem import PairProblem
from ..models.results import RatingFit, Result
from .ranks import IntervalRanks, rank_distribution
from .resample import MultinomialSampler, multinomial_counts
from .samples import SampleStore, plan_memory

__all__ = ["BootstrapResult", "bootstrap", "summarise", "percentile_interval", "multinomial_counts",
           "rank_summary", "DEFAULT_ROUNDS", "DEFAULT_CONFIDENCE"]

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
#: Memory for the Hessians (dense) or factorisations (sparse) that rounds refitted by Newton
#: steps hold at a time. Sparse rounds keep theirs until they converge: without the cut, a
#: bootstrap of 5,000 contestants at l2 = 0.01 peaked at 3.1 GB (measured), with it (and the
#: freed factorisations handed back, :func:`~arena_stats._util.heap.release_heap`) at 0.8-1.1 GB,
#: at the same speed.
NEWTON_BATCH_BYTES = 64 * 2**20


def chunk_rounds(n_pairs: int, sparse: bool = False) -> int:
    """Rounds per chunk for an arena of ``n_pairs`` pairs (fixed by the data, not the machine):
    with a sparse factorisation at least :data:`~arena_stats.models.kernels.SOLVE_MIN_ROUNDS`,
    so each chord step is one multi-column solve."""
    least = max(CHUNK_MIN, SOLVE_MIN_ROUNDS) if sparse else CHUNK_MIN
    return int(max(least, min(CHUNK, CHUNK_VALUES // max(n_pairs, 1))))


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of each column of ``samples (rounds, n)`` (NaN rounds left out)."""
    alpha = 1 - checks.probability("confidence", confidence)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column of NaN (no battles): NaN bounds
        lo, hi = np.nanquantile(samples, [alpha / 2, 1 - alpha / 2], axis=0)
    return lo, hi


@dataclass(frozen=True, repr=False, eq=False)
class BootstrapResult(IntervalRanks, Result):
    """Bootstrap distribution of Elo-scale ratings and ranks.

    Attributes
    ----------
    samples : pandas.DataFrame
        One row per round, one column per model (Elo scale: the point fit's offset, so an
        anchor shifts every round alike). A round whose MLE does not exist (a model drew no
        battle there, or never won or lost) is fitted with a tiny ridge
        (:data:`DEGENERATE_L2`, as LMSYS's logistic regression does) and counted in
        ``n_degenerate``: such a model's rating in that round sits near the mean.
    point : RatingFit
        The fit on all battles.
    confidence : float
    ci_lower, ci_upper : pandas.Series
        Percentile interval of each model's rating.
    ranks : pandas.DataFrame
        Rank of each model in each round (1 = best; equal ratings share the better rank).
    rank_ci_lower, rank_ci_upper : pandas.Series
        Percentile interval of each model's round ranks.
    p_top : pandas.Series
        Share of rounds in which the model ranked first.
    n_degenerate : int
        Rounds whose resample had no finite MLE (fitted with a tiny ridge).
    settings : dict
        ``rounds, seed, cluster, confidence`` and the fit settings.

    ``rank``, ``rank_lower`` and ``rank_upper`` are those of the one rank rule
    (:func:`~arena_stats.inference.ranks.rank_from_intervals`) on the percentile intervals, as
    on every board.
    """

    samples: pd.DataFrame
    point: RatingFit
    confidence: float
    ci_lower: pd.Series
    ci_upper: pd.Series
    ranks: pd.DataFrame
    rank_ci_lower: pd.Series
    rank_ci_upper: pd.Series
    p_top: pd.Series
    n_degenerate: int
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def ratings(self) -> pd.DataFrame:
        """Deprecated: the rounds x models table is :attr:`samples` (``ratings`` means the point
        fit's ratings everywhere else)."""
        warnings.warn("BootstrapResult.ratings (rounds x models) is now BootstrapResult.samples; "
                      "the point ratings are BootstrapResult.point.ratings", DeprecationWarning, stacklevel=2)
        return self.samples

    def _reported_rating(self) -> pd.Series:
        return self.point.ratings

    def to_frame(self) -> pd.DataFrame:
        """One row per model, best first: rating, interval, bootstrap sd, ranks, rank
        percentile interval, p_top."""
        idx = self.ci_lower.index
        df = pd.DataFrame({
            "model": list(idx),
            "rating": self.point.ratings.reindex(idx).to_numpy(),
            "ci_lower": self.ci_lower.to_numpy(),
            "ci_upper": self.ci_upper.to_numpy(),
            "sd": self.samples.std(axis=0, ddof=1).to_numpy(),
            "rank": self.rank.to_numpy(),
            "rank_lower": self.rank_lower.to_numpy(),
            "rank_upper": self.rank_upper.to_numpy(),
            "rank_ci_lower": self.rank_ci_lower.to_numpy(),
            "rank_ci_upper": self.rank_ci_upper.to_numpy(),
            "p_top": self.p_top.to_numpy(),
        })
        return df.sort_values(["rating", "model"], ascending=[False, True], kind="stable").reset_index(drop=True)

    def _describe(self) -> str:
        s = self.settings
        return (f"{s.get('rounds', len(self.samples))} rounds, seed={s.get('seed')}, "
                f"confidence={self.confidence:g}, {len(self.ci_lower)} models")

    def summary(self, top: int | None = 20) -> str:
        s = self.settings
        lines = [f"Bootstrap of a Bradley-Terry fit: {s.get('rounds')} rounds, seed {s.get('seed')}, "
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


def store_rounds(point: RatingFit, store: SampleStore, start: int, theta: np.ndarray) -> None:
    """Put rounds of natural-scale strengths ``theta`` into ``store`` on the point fit's Elo
    scale and offset (an anchor shifts every round by the same constant)."""
    store.put(start, point.scale.ratings(theta, point.models, point.offset))


def summarise(point: RatingFit, samples: SampleStore | np.ndarray, confidence: float, n_degenerate: int,
              settings: dict[str, Any], result: type[BootstrapResult] = BootstrapResult,
              **extra: Any) -> Any:
    """A bootstrap result from its rounds: a filled :class:`~arena_stats.inference.samples.SampleStore`,
    or the natural-scale strengths of every round ``(rounds, n)`` (NaN where a model drew no
    battle). Percentile intervals and the rank distribution; every bootstrap of a rating fit
    ends here."""
    if not isinstance(samples, SampleStore):
        theta = np.asarray(samples, dtype=np.float64)
        samples = SampleStore(theta.shape[0], len(point.models))
        store_rounds(point, samples, 0, theta)
    store = samples
    lo, hi = store.intervals(confidence)
    r_lo, r_hi = store.rank_intervals(confidence)
    idx = pd.Index(point.models, name="model")
    return result(
        samples=pd.DataFrame(store.samples, columns=idx, copy=False), point=point, confidence=confidence,
        ci_lower=pd.Series(lo, index=idx, name="ci_lower"), ci_upper=pd.Series(hi, index=idx, name="ci_upper"),
        ranks=pd.DataFrame(store.ranks, columns=idx, copy=False),
        rank_ci_lower=pd.Series(r_lo, index=idx, name="rank_ci_lower"),
        rank_ci_upper=pd.Series(r_hi, index=idx, name="rank_ci_upper"),
        p_top=pd.Series(store.p_top(), index=idx, name="p_top"), n_degenerate=int(n_degenerate),
        settings=settings, **extra)


def rank_summary(ratings: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ranks per round, their percentile interval and P(rank = 1).

    The same as :func:`~arena_stats.inference.ranks.rank_distribution` (kept for old imports).
    """
    return rank_distribution(ratings, confidence)


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
                 step_matrix: Any) -> None:
        self.pc, self.point, self.x0, self.tol, self.step_matrix = pc, point, x0, tol, step_matrix
        dim = pc.n_models + (1 if point.log_tie is not None else 0)
        self.scatter = PairScatter(pc.i, pc.j, dim)
        self.sparse = issparse(point.information)

    def fit(self, counts: np.ndarray) -> tuple[np.ndarray, int]:
        """Fit a chunk of resampled ``(3, P, rounds)`` tables; returns (x per round, degenerate rounds)."""
        x0, inc = self.x0, self.scatter
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
                                       tol=GRAD_TOL)
            else:
                prob = self._problem(wi, wj, wt, ok)
                xs, conv = chord(prob, x[ok], self.step_matrix, tol=GRAD_TOL, scatter=inc)
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
        Hessian, 55 MB at 2,600 models, so the batch is cut to :data:`NEWTON_BATCH_BYTES`.
        Sparse problems go through :func:`~arena_stats.models.kernels.refit_sparse` from ``x`` too
        (one-parameter sweeps and a factorisation kept while it contracts: ~2 factorisations a
        round where Newton takes ~8), as many rounds at a time as their factorisations (the size
        of the point fit's) fit in the same bytes. Starting where the chord stopped rather than
        at the point fit: ATP 2000-2024 at l2 = 0.01, 102 -> 76 ms a round (the chord has moved
        most contestants; the refit finishes the few it could not)."""
        dim = x.shape[1]
        out, conv = np.empty_like(x), np.zeros(len(rounds), bool)
        if self.sparse:
            # the point fit's factorisation: its size, and an elimination order for every round
            batch = max(1, NEWTON_BATCH_BYTES // self.step_matrix.nbytes)
            for lo in range(0, len(rounds), batch):
                sl = slice(lo, lo + batch)
                out[sl], conv[sl] = refit_sparse(self._problem(wi, wj, wt, rounds[sl], l2=l2), x[sl],
                                                 self.tol, order=self.step_matrix.order)
                if not self.step_matrix.by_levels:
                    # SuperLU's factorisations, freed (see the module); the level factorisations
                    # are numpy arrays glibc reuses: handing them back cost ~1 ms a round in
                    # page faults (ATP 2000-2024, l2 = 0.01, two threads) for the same peak
                    release_heap()
            return out, conv
        batch = max(1, NEWTON_BATCH_BYTES // (8 * dim * dim))
        for lo in range(0, len(rounds), batch):
            sl = slice(lo, lo + batch)
            res = newton(self._problem(wi, wj, wt, rounds[sl], l2=l2), x[sl], step_tol=self.tol)
            out[sl], conv[sl] = res.x, res.converged
        return out, conv

    def _problem(self, wi: np.ndarray, wj: np.ndarray, wt: np.ndarray | None, rounds: np.ndarray,
                 l2: float | None = None) -> PairProblem:
        """The rounds ``rounds`` of pair-major weights as a (rounds as rows) Newton problem."""
        pc, point = self.pc, self.point
        # rounds as rows (the Newton engine's layout), each array C-contiguous
        wi, wj = (np.ascontiguousarray(v[:, rounds].T, dtype=np.float64) for v in (wi, wj))
        tie = np.zeros_like(wi) if wt is None else np.ascontiguousarray(wt[:, rounds].T)
        total = wi.sum(axis=1) + wj.sum(axis=1) + tie.sum(axis=1)
        return PairProblem(pc.i, pc.j, pc.n_models, wi, wj, tie, point.ties,
                           point.settings["l2"] if l2 is None else l2, total, sparse=self.sparse)


def bootstrap(battles: Battles | PairCounts | pd.DataFrame, rounds: int = DEFAULT_ROUNDS, ties: str = "half", *,
              seed: int = 0, confidence: float = DEFAULT_CONFIDENCE, cluster: str | None = None,
              l2: float = 0.0, scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE,
              init: float = DEFAULT_INIT, anchor: Mapping[str, float] | None = None,
              tol: float = STEP_TOL, point: BTResult | None = None, progress: bool = False,
              threads: int = THREADS, executor: Any = None, memory: Any = None) -> BootstrapResult:
    """Percentile bootstrap of Bradley-Terry ratings, computed on counts.

    Parameters
    ----------
    battles : Battles, PairCounts or pandas.DataFrame
    rounds : int
        Number of bootstrap rounds (at most :data:`~arena_stats._util.checks.MAX_ROUNDS`).
    ties : str
        Tie convention (see :func:`~arena_stats.fit_bradley_terry`).
    seed : int
        Same seed, same numbers, bit for bit.
    confidence : float
        Level of the percentile intervals (e.g. 0.95).
    cluster : str, optional
        Column whose values are resampled as whole clusters (voter, prompt, ...).
    l2, scale, base, init, anchor, tol
        As in :func:`~arena_stats.fit_bradley_terry` (the anchor is a pure shift of every round).
    point : BTResult, optional
        A fit on the same battles and settings, to skip refitting it.
    progress : bool
        Show a progress bar on stderr (only when stderr is a terminal).
    threads : int
        Worker threads for drawing counts and fitting chunks (results do not depend on it).
    executor : concurrent.futures.Executor, optional
        Runs the chunks of rounds instead of the thread pool (anything with ``map``, such as a
        Dask client's executor); results do not depend on it either.
    memory : int or str, optional
        Memory budget in bytes (or ``"2G"``, ``"500M"``); default half the memory available.
        It sets how many chunks run at once and whether the samples live in memory or in a
        temporary file; a request that cannot fit is refused before it starts
        (:mod:`~arena_stats.inference.samples`). Results do not depend on it.

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
    confidence = checks.probability("confidence", confidence)
    rounds = checks.integer("rounds", rounds, 1, checks.MAX_ROUNDS)
    seed = checks.seed(seed)
    battles = as_battles(battles) if not isinstance(battles, PairCounts) else battles
    pc = battles if isinstance(battles, PairCounts) else aggregate(battles)
    if point is None:
        point = fit_counts(pc, ties, l2=l2, scale=scale, base=base, init=init, anchor=anchor, tol=tol)
    x0 = point.params.to_numpy()
    # the chord iterations' fixed step: the point fit's constrained inverse information (dense,
    # or for thousands of sparsely compared models its sparse factorisation)
    step_matrix = point.constrained_solver()
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
    chunk = chunk_rounds(pc.n_pairs, sparse=not isinstance(step_matrix, np.ndarray))
    seeds = np.random.SeedSequence(seed).spawn((rounds + chunk - 1) // chunk)
    plan = plan_memory(rounds, pc.n_models, chunk * pc.n_pairs, threads if executor is None else 1, memory)
    store = SampleStore(rounds, pc.n_models, plan.on_disk)

    solver = _ChunkSolver(pc, point, x0, point.settings["tol"], step_matrix)

    def work(c: int) -> tuple[np.ndarray, int]:
        rng = np.random.default_rng(seeds[c])
        return solver.fit(draws.draw(rng, min(chunk, rounds - c * chunk)))

    n_degenerate, start = 0, 0
    with progress_bar(rounds, "bootstrap", enabled=progress) as bar:
        for x, degenerate in run_chunks(work, len(seeds), threads=plan.threads, executor=executor):
            store_rounds(point, store, start, x[:, : pc.n_models])
            start += len(x)
            n_degenerate += degenerate
            bar.update(len(x))
    settings = dict(point.settings, rounds=rounds, seed=seed, cluster=cluster, confidence=confidence)
    return summarise(point, store, confidence, n_degenerate, settings)
