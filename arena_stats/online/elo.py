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
a tight Python loop over plain floats (~5 M/s). Exact wavefronts (all battles whose models'
previous battles are done, updated at once) are no better: on an arena-like million battles there
are 136,000 of them, ~7 battles each, so numpy's per-call cost dominates. So there are two
backends:

* ``"numba"`` (used when the optional ``numba`` package is installed, ``pip install
  arena-stats[fast]``; imported on first use, not with this module): a compiled loop, ~115 M
  updates/s for one ordering (~40 M/s end to end, with the sorting and the result frames).
* ``"python"``: the plain loop for one ordering, and for the bootstrap a numpy pass that is
  vectorised across rounds (below). No extra dependency.

Both work in natural units ``q = R * ln(base) / scale`` (one multiplication less per update),
form the same products, and differ only in ``exp``: libm's in the Python loop and numpy, an
inlined table-and-polynomial one (within 1 ulp of libm) in the compiled kernels. They agree with
the textbook loop, and with each other, to ~1e-12 Elo points.

*The bootstrap.* LMSYS's ``get_bootstrap_result`` draws, each round, ``N`` battles with
replacement (``battles.sample(frac=1.0, replace=True)``) -- a resample whose order is itself
random -- and runs online Elo over it; the rating is the median over rounds and the interval
the percentiles. Here all rounds advance together: one pass over the ``N`` steps updates a
``(rounds, models)`` array, each step touching one battle per round (numpy backend), or each
thread runs its rounds' compiled loops, two rounds interleaved, with a round's ratings (a few
hundred bytes) in cache throughout (numba backend). A model that a round never drew has no
rating in that round (NaN), as in LMSYS's data frame.

*Reproducible randomness.* The battle drawn by round ``r`` at step ``t`` is a pure function of
``(seed, r, t)``: a SplitMix64 hash ``z`` of a per-round key (from
``numpy.random.SeedSequence([seed, r])``) plus ``t``, mapped to ``floor(z * N / 2**64)`` in exact
integer arithmetic -- one hash per draw, nothing of size rounds x N is stored. Both backends
compute the same integers, any round can be replayed on its own (:func:`bootstrap_indices`), and
results do not depend on chunk sizes or thread counts, bit for bit.

Aggregated input (a ``count`` column) is expanded to that many identical battles; a per-battle
``weight`` multiplies that battle's step (``k * w * (S - E)``).
"""

from __future__ import annotations

import importlib.util
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._util import checks
from .._util.progress import progress as progress_bar
from ..data.aggregate import model_totals
from ..data.battles import A_WINS, B_WINS, Battles, timestamps
from ..data.readers import as_battles
from ..errors import InputError
from ..inference.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_ROUNDS
from ..inference.ranks import IntervalRanks, rank_distribution
from ..inference.table import board_table
from ..models.elo_scale import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE, EloScale
from ..models.results import Result

__all__ = ["summary_lines", "leaderboard_frame", "EloResult", "EloBootstrapResult", "compute_elo",
           "elo_bootstrap", "bootstrap_indices", "time_order", "BACKENDS", "default_backend", "DEFAULT_K",
           "DEFAULT_SCALE", "DEFAULT_BASE", "DEFAULT_INIT"]

#: FastChat's online-Elo step size (its scale, base and initial rating are the rating scale's
#: defaults, :mod:`arena_stats.models.elo_scale`).
DEFAULT_K = 4.0
HISTORY_MODES = (None, "battle", "day")
BACKENDS = ("numba", "python")

#: Draws (steps x rounds) per chunk of the numpy bootstrap: a chunk's index, code and step
#: arrays (~40 bytes a draw, 10 MB at 2**18) then stay in the 16 MB L3 cache. 2**16 to 2**18
#: measured the same; 2**20, and the old 2048 steps x 1000 rounds (2**21), 20 % slower.
CHUNK_DRAWS = 1 << 18
#: With fewer rounds than this the numpy backend runs one plain loop per round instead of the
#: round-vectorised pass (whose per-step overhead only pays off across many rounds).
VECTOR_MIN_ROUNDS = 24
#: Draws the compiled bootstrap gathers (per round) before applying them: the random loads of a
#: block overlap instead of each waiting behind the previous update; the blocks (2 x 256 codes and
#: gains, 6 KB) stay in L1. 64 was 20 % slower, 1024 the same. Compiled in as a constant: numba's
#: cache does not see a change made at run time, only an edit of this file.
NUMBA_GATHER = 256
#: Battles per round of the compiled bootstrap between two progress-bar updates (only with
#: ``progress=True``; without a bar the kernel runs once over all battles).
NUMBA_CHUNK_STEPS = 1 << 18

# SplitMix64 constants (Steele, Lea & Flood 2014).
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
#: The draw maps a 64-bit hash z to floor(z * N / 2**64) in 32-bit halves; N must fit 32 bits.
MAX_BOOTSTRAP_BATTLES = (1 << 32) - 1

#: Score of contestant A by verdict code: 1 if A won, 0 if B won, 1/2 for either kind of tie.
_SCORE_BY_CODE = np.full(4, 0.5)
_SCORE_BY_CODE[[A_WINS, B_WINS]] = 1.0, 0.0


def summary_lines(title: list[str], frame: pd.DataFrame, columns: list[tuple[str, str, str]],
                  top: int | None) -> str:
    """A text table: title lines, a rule, a header and one line per row of ``frame`` (best first).

    ``columns`` holds ``(column, header, format spec)``; strings are cut to the header's width.
    """
    widths = [max(len(h), int(re.sub(r"^[<>]?(\d*).*$", r"\1", spec) or 0)) for _, h, spec in columns]
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
    """The board of online ratings: :func:`~arena_stats.inference.table.board_table`, as every board."""
    return board_table(list(rating.index), rating, lower, upper, totals, extra)


# numba is looked up without importing it (``import numba`` takes ~0.16 s, more than the rest of
# this module); it is imported when the compiled backend is first used.
_numba: Any = None
_numba_found: bool | None = None


def _numba_installed() -> bool:
    global _numba_found
    if _numba_found is None:
        _numba_found = importlib.util.find_spec("numba") is not None
    return _numba_found


def _import_numba() -> Any:
    """The numba module, imported on first use; InputError when it is missing or broken."""
    global _numba, _numba_found
    if _numba is None:
        if not _numba_installed():
            raise InputError("backend 'numba' needs the numba package (pip install arena-stats[fast])")
        try:
            import numba
        except ImportError as exc:  # pragma: no cover - a broken installation
            _numba_found = False
            raise InputError(f"backend 'numba' needs a working numba package: {exc}") from exc
        _numba = numba
    return _numba


def default_backend() -> str:
    """``"numba"`` when numba is installed, else ``"python"`` (looked up without importing numba)."""
    return "numba" if _numba_installed() else "python"


def _check_backend(backend: str | None) -> str:
    if backend is None:
        if _numba_installed():
            try:
                _import_numba()
            except InputError:  # pragma: no cover - installed but cannot be imported
                return "python"
            return "numba"
        return "python"
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "numba":
        _import_numba()
    return backend


def _check_settings(k: float, scale: float, base: float, init: float) -> None:
    checks.positive("k", k)
    EloScale(scale, base, init)


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


def expand_counts(battles: Battles, order: np.ndarray) -> np.ndarray:
    """Row indices in processing order, each row repeated ``count`` times (aggregated input)."""
    if "count" not in battles.frame:
        return order
    counts = battles.counts[order]
    if not np.all(counts == np.round(counts)):
        bad = int(order[np.flatnonzero(counts != np.round(counts))[0]])
        raise InputError("online Elo needs whole battle counts to replay them one by one",
                         row=bad + 1, column="count")
    return np.repeat(order, counts.astype(np.int64))


def verdict_scores(outcome: np.ndarray) -> np.ndarray:
    """Score of contestant A: 1, 0, or 1/2 for both kinds of tie."""
    return _SCORE_BY_CODE.take(outcome)


# ----------------------------------------------------------------------------- the kernels
def _pass_python(a: np.ndarray, b: np.ndarray, code: np.ndarray, xtab: np.ndarray, gains: np.ndarray, weighted: bool,
                 q: np.ndarray, record: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """One ordering, plain loop over Python floats; ``q`` (natural units) is updated in place.

    Arguments as in :class:`_Prepared` (``gains`` per step when ``weighted``, else ``[gain]``).
    """
    r = q.tolist()
    exp = math.exp
    out_a: list[float] = []
    out_b: list[float] = []
    if not weighted and not record:
        g = float(gains[0])
        xt = xtab.tolist()  # gain * S by verdict: a list lookup is cheaper than a list of floats
        for i, j, c in zip(a.tolist(), b.tolist(), code.tolist()):
            ri = r[i]
            rj = r[j]
            d = xt[c] - g / (1.0 + exp(rj - ri))
            r[i] = ri + d
            r[j] = rj - d
    else:
        xs = xtab.take(code)
        if weighted:
            xs *= gains
        gl = gains.tolist() if weighted else [float(gains[0])] * len(xs)
        push_a, push_b = out_a.append, out_b.append
        for i, j, x, g in zip(a.tolist(), b.tolist(), xs.tolist(), gl):
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


# The compiled backend. The functions below are plain Python; _numba_kernels() compiles them on
# first use (``cache=True``: later processes load the machine code from __pycache__ instead of
# compiling again). They refer to each other and to their constants as module globals, never
# through closures: numba keys its on-disk cache on the values of closure cells, and a cell holding
# a compiled function pickles differently in every process, so such a cache is never hit (the old
# kernels recompiled, ~1.8 s, in every process and added a cache file each time).

#: ``exp`` inside the kernels: 2**(i/128) from a table times a degree-5 polynomial (glibc's
#: method, written out so that numba inlines it instead of calling libm: 15 % faster for one
#: ordering, 20 % for the bootstrap). Within 1 ulp of libm's exp and independent of the
#: platform's libm; outside |z| < _EXP_LIMIT (no overflow inside) it calls libm.
_EXP_BITS = 7
_EXP_LIMIT = 700.0
_EXP_SHIFT = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer in the low bits
_EXP_SHIFT_BITS = 0x4338000000000000
_EXP_TABLE = np.zeros(1 << _EXP_BITS, np.int64)  # bits of 2**(i/128), filled by _numba_kernels()
_EXP_INV_LN2N = (1 << _EXP_BITS) / math.log(2.0)
_EXP_LN2N_HI = 0.0  # ln(2) / 128 in two parts, the first with 21 significant bits (so that
_EXP_LN2N_LO = 0.0  # k * hi is exact for every |k| < 2**32); filled by _numba_kernels()
_prange = range  # numba.prange once numba is imported


def _exp_tables() -> tuple[np.ndarray, float, float]:
    """Bits of 2**(i/128) (integer square roots: exact before the final rounding) and ln2/128."""
    from decimal import Decimal, localcontext
    guard = 64
    table = []
    for i in range(1 << _EXP_BITS):
        x = 1 << (i + (guard << _EXP_BITS))
        for _ in range(_EXP_BITS):
            x = math.isqrt(x)
        table.append(x / (1 << guard))  # int / int is correctly rounded
    with localcontext() as ctx:
        ctx.prec = 40
        ln2n = Decimal(2).ln() / (1 << _EXP_BITS)
        hi = float(np.int64(np.float64(float(ln2n)).view(np.int64) & ~((1 << 32) - 1)).view(np.float64))
        lo = float(ln2n - Decimal(hi))
    return np.array(table).view(np.int64), hi, lo


def _exp(z):  # pragma: no cover - compiled (and inlined) by numba
    if not -_EXP_LIMIT < z < _EXP_LIMIT:
        return math.exp(z)  # overflow, underflow, inf and nan as libm has them
    kd = z * _EXP_INV_LN2N + _EXP_SHIFT
    k = np.float64(kd).view(np.int64) - _EXP_SHIFT_BITS
    kd -= _EXP_SHIFT
    r = (z - kd * _EXP_LN2N_HI) - kd * _EXP_LN2N_LO
    scale = np.int64(_EXP_TABLE[k & ((1 << _EXP_BITS) - 1)] + ((k >> _EXP_BITS) << 52)).view(np.float64)
    r2 = r * r  # |r| <= ln2/256: the Taylor terms past r**5/120 are below 1e-18
    return scale + scale * (r + r2 * (0.5 + r * (1.0 / 6.0)) + r2 * r2 * (1.0 / 24.0 + r * (1.0 / 120.0)))


def _step(q, i, j, x, g):  # pragma: no cover - compiled
    """One Elo update in natural units; returns the change of ``q[i]``."""
    ri = q[i]
    rj = q[j]
    d = x - g / (1.0 + _exp(rj - ri))
    q[i] = ri + d
    q[j] = rj - d
    return d


def _single_kernel(a, b, code, scores, gains, weighted, q, rec_a, rec_b):  # pragma: no cover - compiled
    """One ordering. ``a, b``: int32 model codes; ``code``: int8 verdicts; ``scores``: S by verdict.
    The step's gain is ``gains[t]`` (weighted) or ``gains[0]``, and its ``gain * S`` the same product
    the numpy backend forms. ``rec_a, rec_b`` (empty unless recording) get the ratings after each step."""
    record = rec_a.shape[0] > 0
    g = gains[0]
    for t in range(a.shape[0]):
        i = a[t]
        j = b[t]
        if weighted:
            g = gains[t]
        _step(q, i, j, g * scores[code[t]], g)
        if record:
            rec_a[t] = q[i]
            rec_b[t] = q[j]


def _draw(key, t, n):  # pragma: no cover - compiled
    """Battle drawn at step ``t`` by the round with ``key``: floor(SplitMix64(key, t) * n / 2**64)."""
    z = key + np.uint64(t + 1) * _GAMMA
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return np.int64(((z >> _S32) * n + (((z & _LOW32) * n) >> _S32)) >> _S32)


def _gather(key, t0, m, n, packed, gains, weighted, codes, ws):  # pragma: no cover - compiled
    """Steps ``t0 .. t0+m-1`` of one round: packed battles into ``codes``, their gains into ``ws``."""
    for u in range(m):
        k = _draw(key, t0 + u, n)
        codes[u] = packed[k]
        if weighted:
            ws[u] = gains[k]


def _apply(q, seen, code, g, shift, mask, scores):  # pragma: no cover - compiled
    i = code >> shift
    j = (code >> 2) & mask
    _step(q, i, j, g * scores[code & 3], g)
    seen[i] = True
    seen[j] = True


def _boot_kernel(keys, start, stop, n_battles, packed, shift, mask, scores, gains, weighted, q,
                 seen):  # pragma: no cover - compiled
    """Steps ``start .. stop-1`` of every round; round ``r`` owns ``q[r]`` and ``seen[r]``.

    ``packed[k] = a << shift | b << 2 | verdict``: one random load per draw instead of four. A
    thread runs two rounds side by side (``len(keys)`` is even; their updates are independent, so
    the core overlaps them: 8 % faster than one at a time) and draws a block of steps before
    applying it, so that the random loads overlap instead of waiting behind exp().
    """
    n = np.uint64(n_battles)
    gain = gains[0]
    for p in _prange(keys.shape[0] // 2):
        r0 = 2 * p
        q0, s0, q1, s1 = q[r0], seen[r0], q[r0 + 1], seen[r0 + 1]
        c0 = np.empty(NUMBA_GATHER, packed.dtype)
        c1 = np.empty(NUMBA_GATHER, packed.dtype)
        w0 = np.empty(NUMBA_GATHER)
        w1 = np.empty(NUMBA_GATHER)
        for t0 in range(start, stop, NUMBA_GATHER):
            m = min(NUMBA_GATHER, stop - t0)
            _gather(keys[r0], t0, m, n, packed, gains, weighted, c0, w0)
            _gather(keys[r0 + 1], t0, m, n, packed, gains, weighted, c1, w1)
            for u in range(m):
                _apply(q0, s0, c0[u], w0[u] if weighted else gain, shift, mask, scores)
                _apply(q1, s1, c1[u], w1[u] if weighted else gain, shift, mask, scores)


_NUMBA_KERNELS: dict[str, Any] = {}


def _numba_kernels() -> dict[str, Any]:
    """Import numba and compile the kernels (once per process; cached on disk by numba)."""
    if _NUMBA_KERNELS:
        return _NUMBA_KERNELS
    nb = _import_numba()
    g = globals()
    g["_EXP_TABLE"], g["_EXP_LN2N_HI"], g["_EXP_LN2N_LO"] = _exp_tables()
    g["_prange"] = nb.prange
    # inlined into the kernels by numba (as separate compiled functions the bootstrap took 2x as long)
    for name in ("_exp", "_step", "_draw", "_gather", "_apply"):
        g[name] = nb.njit(inline="always", nogil=True)(getattr(g[name], "py_func", g[name]))
    _NUMBA_KERNELS.update(
        single=nb.njit(cache=True, nogil=True)(_single_kernel),
        boot=nb.njit(cache=True, nogil=True, parallel=True)(_boot_kernel))
    return _NUMBA_KERNELS


def _splitmix_index(keys: np.ndarray, steps: np.ndarray, n_battles: int) -> np.ndarray:
    """Battle index for each (step, round): shape ``(len(steps), len(keys))``, int64.

    The numpy twin of the compiled ``_draw``: ``floor(z * N / 2**64)`` for the SplitMix64 hash
    ``z``, computed in 32-bit halves (exact, unlike a float product), in place.
    """
    if n_battles > MAX_BOOTSTRAP_BATTLES:
        raise InputError(f"the bootstrap draws from at most {MAX_BOOTSTRAP_BATTLES:,} battles")
    n = np.uint64(n_battles)
    z = ((steps.astype(np.uint64) + np.uint64(1)) * _GAMMA)[:, None] + keys[None, :]
    tmp = np.empty_like(z)
    for shift, mult in ((_S30, _MIX1), (_S27, _MIX2), (_S31, None)):
        np.right_shift(z, shift, out=tmp)
        z ^= tmp
        if mult is not None:
            z *= mult
    np.right_shift(z, _S32, out=tmp)
    tmp *= n
    z &= _LOW32
    z *= n
    z >>= _S32
    z += tmp
    z >>= _S32
    return z.view(np.int64)


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
@dataclass(frozen=True, repr=False, eq=False)
class EloResult(Result):
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
    settings : dict
        ``k, scale, base, init, order, backend``.
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
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Leaderboard, best first, in the columns of every board
        (:data:`~arena_stats.inference.table.BOARD_COLUMNS`); one pass has no interval (NaN),
        so ``rank`` is the plain rank by rating (equal ratings share the better rank)."""
        return leaderboard_frame(self.ratings, None, None, self.totals)

    def _describe(self) -> str:
        return f"k={self.k:g}, {len(self.models)} models, {self.n_battles:,} battles, {self.order} order"

    def summary(self, top: int | None = 20) -> str:
        """A short text report."""
        title = [f"Online Elo (k={self.k:g}, scale={self.scale:g}, base={self.base:g}, init={self.init:g}) "
                 f"over {self.n_battles:,} battles in {self.order} order; backend {self.backend}"]
        return summary_lines(title, self.to_frame(), [("rank", "rank", ">4"), ("model", "model", "<30"),
                                                      ("rating", "rating", "8.1f"), ("battles", "battles", "8,.0f")],
                             top)


@dataclass(frozen=True, repr=False, eq=False)
class EloBootstrapResult(IntervalRanks, Result):
    """Bootstrap distribution of online Elo ratings (LMSYS style).

    Attributes
    ----------
    samples : pandas.DataFrame
        One row per round, one column per model; NaN where a round never drew the model.
    rating : pandas.Series
        Median over rounds (what LMSYS reported as the rating).
    ci_lower, ci_upper : pandas.Series
        Percentile interval at ``confidence``.
    ranks : pandas.DataFrame
        Rank per round (1 = best; a model absent from a round ranks last).
    rank_ci_lower, rank_ci_upper : pandas.Series
        Percentile interval of the round ranks.
    rank, rank_lower, rank_upper : pandas.Series
        Rank (UB) and the rank interval from the rating intervals (the one rank rule, as every
        board and :class:`~arena_stats.BootstrapResult`).
    p_top : pandas.Series
        Share of rounds in which the model ranked first.
    point : EloResult
        One pass over the battles in time order.
    rounds, seed : int
    confidence : float
    backend : str
    """

    samples: pd.DataFrame
    rating: pd.Series
    ci_lower: pd.Series
    ci_upper: pd.Series
    ranks: pd.DataFrame
    rank_ci_lower: pd.Series
    rank_ci_upper: pd.Series
    p_top: pd.Series
    point: EloResult
    rounds: int
    seed: int
    confidence: float
    backend: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def ratings(self) -> pd.DataFrame:
        """Deprecated: the rounds x models table is :attr:`samples`."""
        import warnings
        warnings.warn("EloBootstrapResult.ratings (rounds x models) is now EloBootstrapResult.samples; the "
                      "reported ratings are EloBootstrapResult.rating", DeprecationWarning, stacklevel=2)
        return self.samples

    def _reported_rating(self) -> pd.Series:
        return self.rating

    def to_frame(self) -> pd.DataFrame:
        """Leaderboard, best first, in the columns of every board, plus ``p_top``; ``rank`` is
        Rank (UB) on the percentile intervals."""
        return leaderboard_frame(self.rating, self.ci_lower, self.ci_upper, self.point.totals,
                                 {"p_top": self.p_top})

    def _describe(self) -> str:
        return f"{self.rounds} rounds, seed={self.seed}, k={self.point.k:g}, {len(self.rating)} models"

    def summary(self, top: int | None = 20) -> str:
        title = [f"Online Elo bootstrap: {self.rounds} rounds, seed {self.seed}, {self.confidence:.0%} "
                 f"percentile intervals (k={self.point.k:g}); backend {self.backend}"]
        return summary_lines(title, self.to_frame(), [("rank", "rank", ">4"), ("model", "model", "<30"),
                                                      ("rating", "rating", "8.1f"), ("ci_lower", "ci_lower", "9.1f"),
                                                      ("ci_upper", "ci_upper", "9.1f")], top)


# ------------------------------------------------------------------------------ the passes
@dataclass(frozen=True)
class _Prepared:
    """Battles in processing order as the kernels want them."""

    rows: np.ndarray      # input row of each step
    a: np.ndarray         # int32 model codes
    b: np.ndarray
    code: np.ndarray      # int8 verdict codes
    gains: np.ndarray     # per-battle gain k * w * c (length 1 when unweighted)
    weighted: bool
    c: float              # ln(base) / scale
    order: str

    @property
    def xtab(self) -> np.ndarray:
        """``gain * S`` by verdict code (unweighted), or ``S`` (weighted: each step multiplies it by
        its battle's gain; every backend forms the same products, so they agree bit for bit up to exp)."""
        return _SCORE_BY_CODE if self.weighted else self.gains[0] * _SCORE_BY_CODE

    def packed(self, n_models: int) -> tuple[np.ndarray, int, int]:
        """``a << shift | b << 2 | verdict`` per step (int32 when it fits), ``shift`` and ``b``'s mask."""
        bits = max(1, int(n_models - 1).bit_length())
        packed = (self.a.astype(np.int64) << (bits + 2)) | (self.b.astype(np.int64) << 2) | self.code
        return packed.astype(np.int32 if 2 * bits + 2 <= 31 else np.int64), bits + 2, (1 << bits) - 1


def _prepare(battles: Battles, k: float, scale: float, base: float) -> _Prepared:
    if len(battles) == 0:
        raise InputError("no battles to rate")
    order, how = time_order(battles)
    rows = expand_counts(battles, order)
    c = math.log(base) / scale
    gain = k * c
    w = battles.weights
    if how == "file" and "count" not in battles.frame:  # rows == arange: no gathers
        a, b, code = battles.a, battles.b, battles.outcome
        gains = np.array([gain]) if w is None else gain * w
    else:
        a, b, code = battles.a[rows], battles.b[rows], battles.outcome[rows]
        gains = np.array([gain]) if w is None else gain * w[rows]
    return _Prepared(rows, a.astype(np.int32, copy=False), b.astype(np.int32, copy=False),
                     code.astype(np.int8, copy=False), gains, w is not None, c, how)


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
    return _compute_elo(battles, _prepare(battles, k, scale, base), k, scale, base, init, history, backend)


def _compute_elo(battles: Battles, prep: _Prepared, k: float, scale: float, base: float, init: float,
                 history: str | None, backend: str) -> EloResult:
    q = np.full(battles.n_models, init * prep.c)
    record = history is not None
    if backend == "numba":
        steps = len(prep.a)
        rec_a = np.empty(steps if record else 0)
        rec_b = np.empty(steps if record else 0)
        _numba_kernels()["single"](prep.a, prep.b, prep.code, _SCORE_BY_CODE, prep.gains, prep.weighted, q,
                                   rec_a, rec_b)
    else:
        rec = _pass_python(prep.a, prep.b, prep.code, prep.xtab, prep.gains, prep.weighted, q, record)
        rec_a, rec_b = rec if rec is not None else (np.empty(0), np.empty(0))
    models = battles.models
    ratings = pd.Series(q / prep.c, index=pd.Index(models, name="model"), name="rating")
    hist = None
    if history is not None:
        hist = _history(battles, prep, rec_a / prep.c, rec_b / prep.c, init, history)
    return EloResult(models=models, ratings=ratings, totals=model_totals(battles), history=hist,
                     k=float(k), scale=float(scale), base=float(base), init=float(init),
                     history_mode=history, order=prep.order, backend=backend, n_battles=len(prep.a),
                     settings=dict(k=float(k), scale=float(scale), base=float(base), init=float(init),
                                   order=prep.order, backend=backend))


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
    >>> from arena_stats.data.simulate import simulate_arena
    >>> sim = simulate_arena(n_models=4, n_battles=400, seed=1)
    >>> res = elo_bootstrap(sim.battles, rounds=50, seed=0)
    >>> res.samples.shape
    (50, 4)
    >>> bool((res.ci_lower <= res.rating).all() and (res.rating <= res.ci_upper).all())
    True
    """
    battles = as_battles(battles)
    _check_settings(k, scale, base, init)
    rounds = checks.integer("rounds", rounds, 1, checks.MAX_ROUNDS)
    confidence = checks.probability("confidence", confidence)
    seed = checks.seed(seed)
    backend = _check_backend(backend)
    prep = _prepare(battles, k, scale, base)
    point = _compute_elo(battles, prep, k, scale, base, init, None, backend)
    n, steps = battles.n_models, len(prep.a)
    if steps > MAX_BOOTSTRAP_BATTLES:
        raise InputError(f"the bootstrap draws from at most {MAX_BOOTSTRAP_BATTLES:,} battles, got {steps:,}")
    # the compiled kernel runs rounds in pairs: an odd count gets a scratch round, dropped below
    padded = rounds + rounds % 2 if backend == "numba" else rounds
    keys = _round_keys(seed, padded)
    q = np.full((padded, n), init * prep.c)
    seen = np.zeros((padded, n), bool)
    with progress_bar(steps if backend == "numba" or rounds >= VECTOR_MIN_ROUNDS else rounds,
                      "Elo bootstrap", enabled=progress) as bar:
        if backend == "numba":
            boot = _numba_kernels()["boot"]
            packed, shift, mask = prep.packed(n)
            chunk = NUMBA_CHUNK_STEPS if progress else steps
            for start in range(0, steps, chunk):
                stop = min(start + chunk, steps)
                boot(keys, start, stop, steps, packed, shift, mask, _SCORE_BY_CODE, prep.gains, prep.weighted, q, seen)
                bar.update(stop - start)
        elif rounds < VECTOR_MIN_ROUNDS:
            for r in range(rounds):
                idx = _splitmix_index(keys[r:r + 1], np.arange(steps), steps)[:, 0]
                gains = prep.gains[idx] if prep.weighted else prep.gains
                _pass_python(prep.a[idx], prep.b[idx], prep.code[idx], prep.xtab, gains, prep.weighted, q[r], False)
                seen[r, prep.a[idx]] = True
                seen[r, prep.b[idx]] = True
                bar.update(1)
        else:
            _boot_numpy(keys, prep, q, seen, bar)
    values = q[:rounds] / prep.c
    values[~seen[:rounds]] = np.nan
    return _bootstrap_result(values, point, battles.models, rounds, seed, confidence, backend)


def _boot_numpy(keys: np.ndarray, prep: _Prepared, q: np.ndarray, seen: np.ndarray, bar: Any) -> None:
    """All rounds advance one step at a time; ``q`` (rounds x models) is updated in place."""
    rounds, n = q.shape
    steps = len(prep.a)
    flat = q.reshape(-1)  # a view: q is C-contiguous
    seen_flat = seen.reshape(-1)
    offset = np.arange(rounds, dtype=np.intp) * n
    packed, shift, mask = prep.packed(n)
    xtab, gain = prep.xtab, prep.gains[0]
    chunk = max(1, CHUNK_DRAWS // rounds)
    with np.errstate(over="ignore"):
        for start in range(0, steps, chunk):
            idx = _splitmix_index(keys, np.arange(start, min(start + chunk, steps)), steps)
            codes = packed.take(idx)
            fa = (codes >> shift).astype(np.intp)
            fa += offset
            fb = ((codes >> 2) & mask).astype(np.intp)
            fb += offset
            codes &= 3
            xs = xtab.take(codes)
            if prep.weighted:
                gains = prep.gains.take(idx)
                xs *= gains  # S * gains[k]: the product every backend forms
            seen_flat[fa.ravel()] = True
            seen_flat[fb.ravel()] = True
            for t in range(idx.shape[0]):
                ia, ib = fa[t], fb[t]
                ra = flat.take(ia)
                rb = flat.take(ib)
                z = rb - ra
                np.exp(z, out=z)
                z += 1.0
                np.divide(gains[t] if prep.weighted else gain, z, out=z)
                np.subtract(xs[t], z, out=z)
                ra += z
                rb -= z
                flat[ia] = ra
                flat[ib] = rb
            bar.update(idx.shape[0])


def _bootstrap_result(values: np.ndarray, point: EloResult, models: list[str], rounds: int, seed: int,
                      confidence: float, backend: str) -> EloBootstrapResult:
    idx = pd.Index(models, name="model")
    alpha = 1 - confidence
    with np.errstate(all="ignore"), _quiet_nan_warnings():
        median = np.nanmedian(values, axis=0)
        lo = np.nanquantile(values, alpha / 2, axis=0)
        hi = np.nanquantile(values, 1 - alpha / 2, axis=0)
    ranks, r_lo, r_hi, p_top = rank_distribution(values, confidence)
    return EloBootstrapResult(
        samples=pd.DataFrame(values, columns=idx),
        rating=pd.Series(median, index=idx, name="rating"),
        ci_lower=pd.Series(lo, index=idx, name="ci_lower"),
        ci_upper=pd.Series(hi, index=idx, name="ci_upper"),
        ranks=pd.DataFrame(ranks, columns=idx),
        rank_ci_lower=pd.Series(r_lo, index=idx, name="rank_ci_lower"),
        rank_ci_upper=pd.Series(r_hi, index=idx, name="rank_ci_upper"),
        p_top=pd.Series(p_top, index=idx, name="p_top"),
        point=point, rounds=rounds, seed=int(seed), confidence=float(confidence), backend=backend,
        settings=dict(point.settings, rounds=rounds, seed=int(seed), confidence=float(confidence)))


def _quiet_nan_warnings() -> Any:
    """A context in which RuntimeWarnings (all-NaN columns of absent models) are ignored."""
    import warnings
    ctx = warnings.catch_warnings()

    class _Quiet:
        def __enter__(self) -> None:
            ctx.__enter__()
            warnings.simplefilter("ignore", RuntimeWarning)

        def __exit__(self, *exc: Any) -> None:
            ctx.__exit__(*exc)
    return _Quiet()
