"""Online Elo, as Chatbot Arena first ran it, and its vectorised bootstrap.

The online (sequential) Elo rating processes battles one at a time, in time order. For a battle
of ``a`` against ``b`` with score ``S`` (1 if ``a`` won, 0 if ``b`` won, 1/2 for either kind of
tie)::

    E = 1 / (1 + base ** ((R_b - R_a) / scale))
    R_a += k * (S - E)
    R_b -= k * (S - E)

with FastChat's defaults ``k=4, scale=400, base=10, init=1000``. Unlike the Bradley-Terry fit,
the result depends on the order of the battles and on ``k``; a small ``k`` makes it a slow,
noisy approximation of the BT maximum-likelihood ratings, which is why LMSYS moved to BT. It
stays useful to compare with old numbers and to watch ratings move.

Design
------
*Speed of one ordering.* The recurrence is serial: each update reads the ratings the previous
one wrote. Whole-array numpy cannot express it without one Python-level step per battle; we
tried a block-Jacobi formulation (guess the ratings of a block of battles, recompute every
update in the block at once, repeat until the guesses stop changing -- exact after at most the
block's dependency depth, usually 6-20 sweeps) and it ran at 0.4-1.4 M updates/s, *slower* than
a tight Python loop over plain floats (~4 M/s). So there are two backends:

* ``"numba"`` (used when the optional ``numba`` package is installed, ``pip install
  arena-stats[fast]``): a compiled loop, ~100 M updates/s for one ordering.
* ``"python"``: the plain loop for one ordering, and for the bootstrap a numpy pass that is
  vectorised across rounds (below). No extra dependency.

Both work in natural units ``q = R * ln(base) / scale`` (one multiplication less per update) and
agree with the textbook loop to ~1e-12 Elo points.

*The bootstrap.* LMSYS's ``get_bootstrap_result`` draws, each round, ``N`` battles with
replacement (``battles.sample(frac=1.0, replace=True)``) -- a resample whose order is itself
random -- and runs online Elo over it; the rating is the median over rounds and the interval
the percentiles. Here all rounds advance together: one pass over the ``N`` steps updates a
``(rounds, models)`` array, each step touching one battle per round (numpy backend), or every
round runs its own compiled loop in parallel (numba backend). A model that a round never drew
has no rating in that round (NaN), as in LMSYS's data frame.

*Reproducible randomness.* The battle drawn by round ``r`` at step ``t`` is a pure function of
``(seed, r, t)``: a SplitMix64 hash of a per-round key (from ``numpy.random.SeedSequence([seed,
r])``) plus ``t``, mapped to ``[0, N)`` with 53-bit precision. Both backends compute the same
integers, any round can be replayed on its own (:func:`bootstrap_indices`), and results do not
depend on chunk sizes or thread counts.

Aggregated input (a ``count`` column) is expanded to that many identical battles; a per-battle
``weight`` multiplies that battle's step (``k * w * (S - E)``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .aggregate import model_totals
from .battles import A_WINS, B_WINS, Battles, as_battles, timestamps
from .errors import InputError
from .progress import progress as progress_bar

try:  # optional compiled backend
    import numba as _numba
except ImportError:  # pragma: no cover - depends on the environment
    _numba = None

__all__ = ["summary_lines", "leaderboard_frame", "EloResult", "EloBootstrapResult", "compute_elo", "elo_bootstrap", "bootstrap_indices",
           "time_order", "BACKENDS", "default_backend", "DEFAULT_K", "DEFAULT_SCALE", "DEFAULT_BASE",
           "DEFAULT_INIT"]

#: FastChat's online-Elo defaults.
DEFAULT_K = 4.0
DEFAULT_SCALE = 400.0
DEFAULT_BASE = 10.0
DEFAULT_INIT = 1000.0
DEFAULT_ROUNDS = 1000
DEFAULT_CONFIDENCE = 0.95
HISTORY_MODES = (None, "battle", "day")
BACKENDS = ("numba", "python")

#: Steps per chunk of the numpy bootstrap (memory: ~40 bytes x CHUNK_STEPS x rounds).
CHUNK_STEPS = 2048
#: With fewer rounds than this the numpy backend runs one plain loop per round instead of the
#: round-vectorised pass (whose per-step overhead only pays off across many rounds).
VECTOR_MIN_ROUNDS = 24
#: Draws the compiled bootstrap gathers before applying them (hides the random-load latency:
#: 31 -> 19 ns per update on one core of this machine).
NUMBA_GATHER = 256
#: Battles per round of the compiled bootstrap between two progress-bar updates.
NUMBA_CHUNK_STEPS = 1 << 18

# SplitMix64 constants (Steele, Lea & Flood 2014).
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TWO_M53 = 1.0 / 9007199254740992.0
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


def summary_lines(title: list[str], frame: pd.DataFrame, columns: list[tuple[str, str, str]],
                  top: int | None) -> str:
    """A text table: title lines, a rule, a header and one line per row of ``frame`` (best first).

    ``columns`` holds ``(column, header, format spec)``; strings are cut to the header's width.
    """
    widths = [max(len(h), int(re.match(r"[<>]?(\d*)", spec).group(1) or 0)) for _, h, spec in columns]
    head = " ".join(f"{h:>{w}}" if spec[0] != "<" else f"{h:<{w}}" for (_, h, spec), w in zip(columns, widths))
    lines = [*title, "-" * len(head), head]
    for _, row in (frame.head(top) if top else frame).iterrows():
        cells = []
        for (col, _, spec), w in zip(columns, widths):
            v = row[col]
            cells.append(f"{str(v)[:w]:{spec}}" if spec.startswith("<") else f"{v:{spec}}")
        lines.append(" ".join(cells))
    return "\n".join(lines)


def leaderboard_frame(rating: pd.Series, lower: pd.Series | None, upper: pd.Series | None,
                      totals: pd.DataFrame, extra: dict[str, pd.Series] | None = None) -> pd.DataFrame:
    """A leaderboard in :data:`~arena_stats.leaderboard.LEADERBOARD_COLUMNS` order, best first.

    ``rank`` is LMSYS's Rank (UB) on the intervals, or the plain rank by rating without them;
    ``extra`` columns (indexed by model) follow.
    """
    from .leaderboard import LEADERBOARD_COLUMNS, rank_ub
    models = rating.index
    lo = rating.to_numpy(float) if lower is None else lower.reindex(models).to_numpy(float)
    hi = rating.to_numpy(float) if upper is None else upper.reindex(models).to_numpy(float)
    df = pd.DataFrame({"model": list(models), "rating": rating.to_numpy(float),
                       "ci_lower": np.nan if lower is None else lo, "ci_upper": np.nan if upper is None else hi})
    df = pd.concat([df, totals.reindex(models).reset_index(drop=True)], axis=1)
    df.insert(0, "rank", rank_ub(np.where(np.isnan(lo), -np.inf, lo), np.where(np.isnan(hi), -np.inf, hi)))
    df = df[LEADERBOARD_COLUMNS + [c for c in df.columns if c not in LEADERBOARD_COLUMNS]]
    for name, col in (extra or {}).items():
        df[name] = col.reindex(models).to_numpy()
    return df.sort_values("rating", ascending=False, kind="stable").reset_index(drop=True)


def default_backend() -> str:
    """``"numba"`` when numba is importable, else ``"python"``."""
    return "numba" if _numba is not None else "python"


def _check_backend(backend: str | None) -> str:
    if backend is None:
        return default_backend()
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "numba" and _numba is None:
        raise InputError("backend 'numba' needs the numba package (pip install arena-stats[fast])")
    return backend


def _check_settings(k: float, scale: float, base: float, init: float) -> None:
    if not (np.isfinite(k) and k > 0):
        raise InputError(f"k must be a positive number, got {k!r}")
    if not (np.isfinite(scale) and scale > 0 and np.isfinite(base) and base > 1):
        raise InputError(f"need scale > 0 and base > 1, got scale={scale!r}, base={base!r}")
    if not np.isfinite(init):
        raise InputError(f"init must be a finite number, got {init!r}")


# ------------------------------------------------------------------------------ time order
def time_order(battles: Battles) -> tuple[np.ndarray, str]:
    """Row order for online updates: by ``tstamp`` (stable) when there is one, else file order.

    Rows whose timestamp is missing go last, in file order. Returns the order and ``"tstamp"``
    or ``"file"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats import load_battles
    >>> b = load_battles(pd.DataFrame({"model_a": ["x", "y", "x"], "model_b": ["y", "x", "y"],
    ...                                "winner": ["tie"] * 3, "tstamp": [30, 10, 10]}))
    >>> order, how = time_order(b)
    >>> order.tolist(), how
    ([1, 2, 0], 'tstamp')
    """
    n = len(battles)
    if "tstamp" not in battles.frame:
        return np.arange(n), "file"
    ts = timestamps(battles.frame["tstamp"])
    vals = ts.to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
    vals[ts.isna().to_numpy()] = np.iinfo(np.int64).max
    return np.argsort(vals, kind="stable"), "tstamp"


def _expand(battles: Battles, order: np.ndarray) -> np.ndarray:
    """Row indices in processing order, each row repeated ``count`` times (aggregated input)."""
    if "count" not in battles.frame:
        return order
    counts = battles.counts[order]
    if not np.all(counts == np.round(counts)):
        bad = int(order[np.flatnonzero(counts != np.round(counts))[0]])
        raise InputError("online Elo needs whole battle counts to replay them one by one",
                         row=bad + 1, column="count")
    return np.repeat(order, counts.astype(np.int64))


def _scores(outcome: np.ndarray) -> np.ndarray:
    """Score of contestant A: 1, 0, or 1/2 for both kinds of tie."""
    return np.where(outcome == A_WINS, 1.0, np.where(outcome == B_WINS, 0.0, 0.5))


# ----------------------------------------------------------------------------- the kernels
def _pass_python(a: np.ndarray, b: np.ndarray, xs: np.ndarray, gain: np.ndarray | float, q: np.ndarray,
                 record: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """One ordering, plain loop. ``xs = gain * S``; ``q`` (natural units) is updated in place."""
    r = q.tolist()
    exp = math.exp
    out_a: list[float] = []
    out_b: list[float] = []
    if np.ndim(gain) == 0 and not record:
        g = float(gain)
        for i, j, x in zip(a.tolist(), b.tolist(), xs.tolist()):
            ri = r[i]
            rj = r[j]
            d = x - g / (1.0 + exp(rj - ri))
            r[i] = ri + d
            r[j] = rj - d
    else:
        gains = np.broadcast_to(np.asarray(gain, float), xs.shape).tolist()
        push_a, push_b = out_a.append, out_b.append
        for i, j, x, g in zip(a.tolist(), b.tolist(), xs.tolist(), gains):
            ri = r[i]
            rj = r[j]
            d = x - g / (1.0 + exp(rj - ri))
            r[i] = ri + d
            r[j] = rj - d
            if record:
                push_a(ri + d)
                push_b(rj - d)
    q[:] = r
    return (np.asarray(out_a), np.asarray(out_b)) if record else None


_NUMBA_KERNELS: dict[str, Any] = {}


def _numba_kernels() -> dict[str, Any]:
    """Compile (once per process, cached on disk by numba) the compiled kernels."""
    if _NUMBA_KERNELS:
        return _NUMBA_KERNELS
    nb = _numba
    gamma, mix1, mix2, two_m53, block = _GAMMA, _MIX1, _MIX2, _TWO_M53, NUMBA_GATHER
    s30, s27, s31, s11 = _S30, _S27, _S31, _S11

    @nb.njit(cache=True, nogil=True, inline="always")
    def step(q, i, j, x, g):  # pragma: no cover - compiled
        ri = q[i]
        rj = q[j]
        d = x - g / (1.0 + math.exp(rj - ri))
        q[i] = ri + d
        q[j] = rj - d
        return d

    @nb.njit(cache=True, nogil=True)
    def single(a, b, xs, gains, q, rec_a, rec_b, record):  # pragma: no cover - compiled
        stride = 1 if gains.shape[0] > 1 else 0
        for t in range(a.shape[0]):
            step(q, a[t], b[t], xs[t], gains[t * stride])
            if record:
                rec_a[t] = q[a[t]]
                rec_b[t] = q[b[t]]

    @nb.njit(cache=True, nogil=True, parallel=True)
    def boot(keys, start, stop, n_battles, packed, bits, table, xs, gains, q, seen):  # pragma: no cover
        # packed[k] = a << (bits + 2) | b << 2 | verdict: one random load per draw instead of four.
        # Unweighted: the step's gain * S comes from the 4-entry ``table`` and the gain is
        # gains[0]; weighted: per-battle ``xs`` and ``gains``. Draws are gathered a block at a
        # time before the updates, so the random loads overlap instead of waiting behind exp().
        weighted = gains.shape[0] > 1
        mask = (1 << bits) - 1
        for r in nb.prange(keys.shape[0]):
            key = keys[r]
            qr = q[r]
            sr = seen[r]
            codes = np.empty(block, np.int64)
            bx = np.empty(block if weighted else 1)
            bg = np.empty(block if weighted else 1)
            for t0 in range(start, stop, block):
                m = min(block, stop - t0)
                for u in range(m):
                    z = key + np.uint64(t0 + u + 1) * gamma
                    z = (z ^ (z >> s30)) * mix1
                    z = (z ^ (z >> s27)) * mix2
                    z = z ^ (z >> s31)
                    k = min(np.int64(np.float64(z >> s11) * two_m53 * n_battles), n_battles - 1)
                    codes[u] = packed[k]
                    if weighted:
                        bx[u] = xs[k]
                        bg[u] = gains[k]
                for u in range(m):
                    code = codes[u]
                    i = code >> (bits + 2)
                    j = (code >> 2) & mask
                    if weighted:
                        step(qr, i, j, bx[u], bg[u])
                    else:
                        step(qr, i, j, table[code & 3], gains[0])
                    sr[i] = True
                    sr[j] = True

    _NUMBA_KERNELS.update(single=single, boot=boot)
    return _NUMBA_KERNELS


def _splitmix_index(keys: np.ndarray, steps: np.ndarray, n_battles: int) -> np.ndarray:
    """Battle index for each (step, round): shape ``(len(steps), len(keys))``."""
    z = (steps.astype(np.uint64)[:, None] + np.uint64(1)) * _GAMMA + keys[None, :]
    z ^= z >> _S30
    z *= _MIX1
    z ^= z >> _S27
    z *= _MIX2
    z ^= z >> _S31
    k = ((z >> _S11).astype(np.float64) * _TWO_M53 * n_battles).astype(np.int64)
    np.minimum(k, n_battles - 1, out=k)
    return k


def _round_keys(seed: int, rounds: int, first: int = 0) -> np.ndarray:
    return np.array([np.random.SeedSequence([int(seed), r]).generate_state(1, np.uint64)[0]
                     for r in range(first, first + rounds)], dtype=np.uint64)


def bootstrap_indices(n_battles: int, seed: int, round: int) -> np.ndarray:
    """The battles that bootstrap round ``round`` draws, in the order it processes them.

    Indices refer to the battles in processing order (time order, counts expanded), exactly as
    :func:`elo_bootstrap` uses them, so any round can be replayed on its own.

    Examples
    --------
    >>> idx = bootstrap_indices(10, seed=0, round=3)
    >>> len(idx), bool(idx.min() >= 0 and idx.max() < 10)
    (10, True)
    >>> bool((idx == bootstrap_indices(10, seed=0, round=3)).all())
    True
    """
    if n_battles < 1:
        raise InputError("need at least one battle")
    return _splitmix_index(_round_keys(seed, 1, round), np.arange(n_battles), n_battles)[:, 0]


# ------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class EloResult:
    """Online Elo ratings after one pass over the battles.

    Attributes
    ----------
    models : list of str
    ratings : pandas.Series
        Final rating of each model (index: model names, sorted).
    totals : pandas.DataFrame
        Per model: battles, wins, losses, ties, win_rate.
    history : pandas.DataFrame or None
        ``history="battle"``: one row per battle in processing order with ``step, row, model_a,
        model_b, outcome, expected_a, rating_a, rating_b`` (ratings *after* the battle; ``row``
        is the 0-based row of the input, ``expected_a`` the Elo expectation before it).
        ``history="day"``: tidy ``date, model, rating, battles`` -- each model's rating at the end
        of each day it played (cumulative battles so far).
    k, scale, base, init : float
        The Elo settings used.
    history_mode : str or None
    order : str
        ``"tstamp"`` (sorted by timestamp, stable) or ``"file"`` (input order).
    backend : str
        ``"numba"`` or ``"python"``.
    n_battles : int
    """

    models: list[str]
    ratings: pd.Series
    totals: pd.DataFrame
    history: pd.DataFrame | None
    k: float
    scale: float
    base: float
    init: float
    history_mode: str | None
    order: str
    backend: str
    n_battles: int

    def to_frame(self) -> pd.DataFrame:
        """Leaderboard, best first, in the columns of :func:`~arena_stats.leaderboard`.

        ``rank, model, rating, ci_lower, ci_upper, battles, wins, losses, ties, win_rate``; one
        pass has no interval (NaN), so ``rank`` is the plain rank by rating.
        """
        return leaderboard_frame(self.ratings, None, None, self.totals)

    def summary(self, top: int | None = 20) -> str:
        """A short text report."""
        title = [f"Online Elo (k={self.k:g}, scale={self.scale:g}, base={self.base:g}, init={self.init:g}) "
                 f"over {self.n_battles:,} battles in {self.order} order; backend {self.backend}"]
        return summary_lines(title, self.to_frame(), [("rank", "rank", ">4"), ("model", "model", "<30"),
                                                      ("rating", "rating", "8.1f"), ("battles", "battles", "8,.0f")],
                             top)

    def __str__(self) -> str:
        return self.summary()


@dataclass(frozen=True)
class EloBootstrapResult:
    """Bootstrap distribution of online Elo ratings (LMSYS style).

    Attributes
    ----------
    ratings : pandas.DataFrame
        One row per round, one column per model; NaN where a round never drew the model.
    rating : pandas.Series
        Median over rounds (what LMSYS reported as the rating).
    ci_lower, ci_upper : pandas.Series
        Percentile interval at ``confidence``.
    ranks : pandas.DataFrame
        Rank per round (1 = best; a model absent from a round ranks last).
    rank_lower, rank_upper : pandas.Series
    p_top : pandas.Series
        Share of rounds in which the model ranked first.
    point : EloResult
        One pass over the battles in time order.
    rounds, seed : int
    confidence : float
    backend : str
    """

    ratings: pd.DataFrame
    rating: pd.Series
    ci_lower: pd.Series
    ci_upper: pd.Series
    ranks: pd.DataFrame
    rank_lower: pd.Series
    rank_upper: pd.Series
    p_top: pd.Series
    point: EloResult
    rounds: int
    seed: int
    confidence: float
    backend: str
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Leaderboard, best first, in the columns of :func:`~arena_stats.leaderboard` (with the
        bootstrap's ``rank_lower, rank_upper, p_top``); ``rank`` is Rank (UB)."""
        return leaderboard_frame(self.rating, self.ci_lower, self.ci_upper, self.point.totals,
                                 {"rank_lower": self.rank_lower, "rank_upper": self.rank_upper, "p_top": self.p_top})

    def summary(self, top: int | None = 20) -> str:
        title = [f"Online Elo bootstrap: {self.rounds} rounds, seed {self.seed}, {self.confidence:.0%} "
                 f"percentile intervals (k={self.point.k:g}); backend {self.backend}"]
        return summary_lines(title, self.to_frame(), [("rank", "rank", ">4"), ("model", "model", "<30"),
                                                      ("rating", "rating", "8.1f"), ("ci_lower", "ci_lower", "9.1f"),
                                                      ("ci_upper", "ci_upper", "9.1f")], top)

    def __str__(self) -> str:
        return self.summary()


# ------------------------------------------------------------------------------ the passes
@dataclass(frozen=True)
class _Prepared:
    """Battles in processing order as the kernels want them."""

    rows: np.ndarray      # input row of each step
    a: np.ndarray         # int64 model codes
    b: np.ndarray
    xs: np.ndarray        # gain * score, natural units
    gains: np.ndarray     # per-battle gain (length 1 when unweighted)
    c: float              # ln(base) / scale
    order: str


def _prepare(battles: Battles, k: float, scale: float, base: float) -> _Prepared:
    if len(battles) == 0:
        raise InputError("no battles to rate")
    order, how = time_order(battles)
    rows = _expand(battles, order)
    c = math.log(base) / scale
    gain = k * c
    a = battles.a.astype(np.int64)[rows]
    b = battles.b.astype(np.int64)[rows]
    s = _scores(battles.outcome[rows])
    w = battles.weights
    gains = np.array([gain]) if w is None else gain * w[rows]
    return _Prepared(rows, a, b, gains * s if w is not None else gain * s, gains, c, how)


def compute_elo(battles: Battles | pd.DataFrame, k: float = DEFAULT_K, scale: float = DEFAULT_SCALE,
                base: float = DEFAULT_BASE, init: float = DEFAULT_INIT, *, history: str | None = None,
                backend: str | None = None) -> EloResult:
    """Online Elo ratings, one pass over the battles in time order.

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
        Processed in ``tstamp`` order when that column exists (stable sort: equal times keep
        file order), else in file order. Ties of both kinds score 1/2.
    k, scale, base, init : float
        Step size, Elo scale, base and starting rating (FastChat: 4, 400, 10, 1000).
    history : {None, "battle", "day"}
        Also return the rating history per battle, or per day (needs ``tstamp``).
    backend : {"numba", "python"}, optional
        Default: numba when installed.

    Returns
    -------
    EloResult

    Raises
    ------
    InputError
        Bad settings, ``history="day"`` without timestamps, fractional counts.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"model_a": ["x", "x"], "model_b": ["y", "y"],
    ...                    "winner": ["model_a", "tie"]})
    >>> res = compute_elo(df)
    >>> [round(v, 4) for v in res.ratings]
    [1001.977, 998.023]
    """
    battles = as_battles(battles)
    _check_settings(k, scale, base, init)
    if history not in HISTORY_MODES:
        raise InputError(f"history must be None, 'battle' or 'day', got {history!r}")
    if history == "day" and "tstamp" not in battles.frame:
        raise InputError("history='day' needs a 'tstamp' column, and these battles have none",
                         column="tstamp")
    backend = _check_backend(backend)
    prep = _prepare(battles, k, scale, base)
    n = battles.n_models
    q = np.full(n, init * prep.c)
    record = history is not None
    if backend == "numba":
        steps = len(prep.a)
        rec_a = np.empty(steps if record else 0)
        rec_b = np.empty(steps if record else 0)
        _numba_kernels()["single"](prep.a, prep.b, prep.xs, prep.gains, q, rec_a, rec_b, record)
    else:
        gains: np.ndarray | float = prep.gains[0] if len(prep.gains) == 1 else prep.gains
        rec = _pass_python(prep.a, prep.b, prep.xs, gains, q, record)
        rec_a, rec_b = rec if rec is not None else (None, None)
    models = battles.models
    ratings = pd.Series(q / prep.c, index=pd.Index(models, name="model"), name="rating")
    hist = None
    if record:
        hist = _history(battles, prep, rec_a / prep.c, rec_b / prep.c, init, history)
    return EloResult(models=models, ratings=ratings, totals=model_totals(battles), history=hist,
                     k=float(k), scale=float(scale), base=float(base), init=float(init),
                     history_mode=history, order=prep.order, backend=backend, n_battles=len(prep.a))


def _history(battles: Battles, prep: _Prepared, after_a: np.ndarray, after_b: np.ndarray, init: float,
             mode: str) -> pd.DataFrame:
    models = np.asarray(battles.models, dtype=object)
    steps = len(prep.a)
    if mode == "battle":
        before_a, before_b = _previous_ratings(prep.a, prep.b, after_a, after_b, init)
        expected = 1.0 / (1.0 + np.exp((before_b - before_a) * prep.c))
        return pd.DataFrame({
            "step": np.arange(steps), "row": prep.rows,
            "model_a": pd.Categorical.from_codes(prep.a, categories=battles.models),
            "model_b": pd.Categorical.from_codes(prep.b, categories=battles.models),
            "outcome": battles.outcome[prep.rows], "expected_a": expected,
            "rating_a": after_a, "rating_b": after_b})
    # per day: each model's last rating of every day it played
    ts = timestamps(battles.frame["tstamp"]).to_numpy()[prep.rows]
    day = pd.DatetimeIndex(ts).normalize().to_numpy()
    slot_model = np.concatenate([prep.a, prep.b])
    slot_step = np.concatenate([np.arange(steps), np.arange(steps)])
    slot_rating = np.concatenate([after_a, after_b])
    slot_day = np.concatenate([day, day])
    frame = pd.DataFrame({"date": slot_day, "model_code": slot_model, "step": slot_step,
                          "rating": slot_rating})
    frame = frame[pd.notna(frame["date"])].sort_values(["step"], kind="stable")
    frame["battles"] = frame.groupby("model_code").cumcount() + 1
    last = frame.groupby(["date", "model_code"], sort=True).tail(1)
    last = last.sort_values(["date", "rating"], ascending=[True, False], kind="stable")
    return pd.DataFrame({"date": last["date"].to_numpy(), "model": models[last["model_code"].to_numpy()],
                         "rating": last["rating"].to_numpy(),
                         "battles": last["battles"].to_numpy(np.int64)}).reset_index(drop=True)


def _previous_ratings(a: np.ndarray, b: np.ndarray, after_a: np.ndarray, after_b: np.ndarray,
                      init: float) -> tuple[np.ndarray, np.ndarray]:
    """Each battle's pre-battle ratings: the same model's previous post-battle rating, or init."""
    steps = len(a)
    model = np.concatenate([a, b])
    after = np.concatenate([after_a, after_b])
    slot_step = np.concatenate([np.arange(steps), np.arange(steps)])
    order = np.lexsort((slot_step, model))
    prev = np.empty_like(after)
    prev_sorted = np.empty(len(order))
    prev_sorted[1:] = after[order][:-1]
    first = np.ones(len(order), bool)
    first[1:] = model[order][1:] != model[order][:-1]
    prev_sorted[first] = init
    prev[order] = prev_sorted
    return prev[:steps], prev[steps:]


# ------------------------------------------------------------------------------ bootstrap
def elo_bootstrap(battles: Battles | pd.DataFrame, rounds: int = DEFAULT_ROUNDS, *, seed: int = 0,
                  k: float = DEFAULT_K, scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE,
                  init: float = DEFAULT_INIT, confidence: float = DEFAULT_CONFIDENCE,
                  backend: str | None = None, progress: bool = False) -> EloBootstrapResult:
    """LMSYS's online-Elo bootstrap, all rounds in one vectorised pass.

    Each round draws ``N`` battles with replacement, in random order, and runs online Elo over
    them (FastChat's ``get_bootstrap_result(battles, compute_elo)``). Round ``r``'s draws are
    :func:`bootstrap_indices` ``(N, seed, r)`` into the battles in processing order.

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
    rounds : int
        Bootstrap rounds (LMSYS: 1000).
    seed : int
        Same seed, same numbers (bit for bit on one backend; the backends agree to ~1e-12).
    k, scale, base, init : float
        As in :func:`compute_elo`.
    confidence : float
        Level of the percentile intervals.
    backend : {"numba", "python"}, optional
    progress : bool
        Progress bar on stderr (when it is a terminal).

    Returns
    -------
    EloBootstrapResult

    Examples
    --------
    >>> from arena_stats.simulate import simulate_arena
    >>> sim = simulate_arena(n_models=4, n_battles=400, seed=1)
    >>> res = elo_bootstrap(sim.battles, rounds=50, seed=0)
    >>> res.ratings.shape
    (50, 4)
    >>> bool((res.ci_lower <= res.rating).all() and (res.rating <= res.ci_upper).all())
    True
    """
    battles = as_battles(battles)
    _check_settings(k, scale, base, init)
    if int(rounds) != rounds or rounds < 1:
        raise InputError(f"rounds must be a positive whole number, got {rounds!r}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, got {confidence!r}")
    rounds = int(rounds)
    backend = _check_backend(backend)
    point = compute_elo(battles, k, scale, base, init, backend=backend)
    prep = _prepare(battles, k, scale, base)
    n, steps = battles.n_models, len(prep.a)
    keys = _round_keys(seed, rounds)
    q = np.full((rounds, n), init * prep.c)
    seen = np.zeros((rounds, n), bool)
    with progress_bar(steps if backend == "numba" or rounds >= VECTOR_MIN_ROUNDS else rounds,
                      "Elo bootstrap", enabled=progress) as bar:
        if backend == "numba":
            boot = _numba_kernels()["boot"]
            bits = max(1, int(n - 1).bit_length())
            packed = (prep.a << (bits + 2)) | (prep.b << 2) | battles.outcome[prep.rows].astype(np.int64)
            packed = packed.astype(np.int32 if 2 * bits + 2 <= 31 else np.int64)
            table = prep.gains[0] * np.array([1.0, 0.0, 0.5, 0.5])  # gain * S per verdict code
            for start in range(0, steps, NUMBA_CHUNK_STEPS):
                stop = min(start + NUMBA_CHUNK_STEPS, steps)
                boot(keys, start, stop, steps, packed, bits, table, prep.xs, prep.gains, q, seen)
                bar.update(stop - start)
        elif rounds < VECTOR_MIN_ROUNDS:
            for r in range(rounds):
                idx = _splitmix_index(keys[r:r + 1], np.arange(steps), steps)[:, 0]
                gains = prep.gains[0] if len(prep.gains) == 1 else prep.gains[idx]
                _pass_python(prep.a[idx], prep.b[idx], prep.xs[idx], gains, q[r], False)
                seen[r, prep.a[idx]] = True
                seen[r, prep.b[idx]] = True
                bar.update(1)
        else:
            _boot_numpy(keys, prep, q, seen, bar)
    values = q / prep.c
    values[~seen] = np.nan
    return _bootstrap_result(values, point, battles.models, rounds, seed, confidence, backend)


def _boot_numpy(keys: np.ndarray, prep: _Prepared, q: np.ndarray, seen: np.ndarray, bar: Any) -> None:
    """All rounds advance one step at a time; ``q`` (rounds x models) is updated in place."""
    rounds, n = q.shape
    steps = len(prep.a)
    flat = q.reshape(-1)  # a view: q is C-contiguous
    seen_flat = seen.reshape(-1)
    offset = np.arange(rounds, dtype=np.int64) * n
    weighted = len(prep.gains) > 1
    gain = prep.gains[0]
    with np.errstate(over="ignore"):
        for start in range(0, steps, CHUNK_STEPS):
            idx = _splitmix_index(keys, np.arange(start, min(start + CHUNK_STEPS, steps)), steps)
            fa = prep.a[idx] + offset
            fb = prep.b[idx] + offset
            xs = prep.xs[idx]
            gains = prep.gains[idx] if weighted else None
            seen_flat[fa.ravel()] = True
            seen_flat[fb.ravel()] = True
            for t in range(idx.shape[0]):
                ia, ib = fa[t], fb[t]
                ra = flat.take(ia)
                rb = flat.take(ib)
                z = rb - ra
                np.exp(z, out=z)
                z += 1.0
                np.divide(gains[t] if weighted else gain, z, out=z)
                np.subtract(xs[t], z, out=z)
                ra += z
                rb -= z
                flat[ia] = ra
                flat[ib] = rb
            bar.update(idx.shape[0])


def _bootstrap_result(values: np.ndarray, point: EloResult, models: list[str], rounds: int, seed: int,
                      confidence: float, backend: str) -> EloBootstrapResult:
    from .bootstrap import rank_summary
    idx = pd.Index(models, name="model")
    alpha = 1 - confidence
    with np.errstate(all="ignore"), _quiet_nan_warnings():
        median = np.nanmedian(values, axis=0)
        lo = np.nanquantile(values, alpha / 2, axis=0)
        hi = np.nanquantile(values, 1 - alpha / 2, axis=0)
    filled = np.where(np.isnan(values), -np.inf, values)
    ranks, r_lo, r_hi, p_top = rank_summary(filled, confidence)
    return EloBootstrapResult(
        ratings=pd.DataFrame(values, columns=idx),
        rating=pd.Series(median, index=idx, name="rating"),
        ci_lower=pd.Series(lo, index=idx, name="ci_lower"),
        ci_upper=pd.Series(hi, index=idx, name="ci_upper"),
        ranks=pd.DataFrame(ranks, columns=idx),
        rank_lower=pd.Series(r_lo, index=idx, name="rank_lower"),
        rank_upper=pd.Series(r_hi, index=idx, name="rank_upper"),
        p_top=pd.Series(p_top, index=idx, name="p_top"),
        point=point, rounds=rounds, seed=int(seed), confidence=float(confidence), backend=backend,
        settings=dict(k=point.k, scale=point.scale, base=point.base, init=point.init))


def _quiet_nan_warnings() -> Any:
    import warnings
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore", RuntimeWarning)

    class _Exit:
        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc: object) -> None:
            ctx.__exit__(*exc)
    return _Exit()
