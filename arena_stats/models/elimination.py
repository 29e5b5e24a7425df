"""Exact sparse Cholesky by levels of independent unknowns and a dense core.

Sparse arenas such as tennis (ATP 2000-2024: 2,639 players, 41,701 compared pairs) have a
periphery of contestants with a handful of opponents each around a core of regulars who have met
most of each other. Eliminating the periphery fills little; what remains is a dense matrix, best
left to LAPACK. SuperLU does both with one general (and single-threaded, pivot-checking)
supernodal code: 15 ms a factorisation on ATP, the bootstrap's largest cost.

Here a *plan*, made once from the pattern (:func:`elimination_plan`), takes levels of unknowns of
which no two share an entry (an independent set of low degree, as minimum-degree orderings pick
them), so that each level's block is diagonal and its elimination ``A_RR - B D^-1 B'`` is a list
of products ``b_rp b_sp / d_p`` added at positions known in advance. The numeric factorisation
(:class:`LevelCholesky`) is then a few gathers and one weighted count per level, and a dense
Cholesky of the core (numpy's, which lets other threads run). ATP: 10 levels of 1,343, 257, 90
... 22 players leave a 763-player core; a factorisation takes ~8 ms against SuperLU's 16 ms, two
bootstrap threads run two factorisations at once (scipy's Cholesky would hold the interpreter
lock: no faster on two threads than on one), and the 1,000-round bootstrap at l2 = 0.01 went
from 32-36 s to 25-27 s with half the peak memory.

Without pivoting this needs a positive definite matrix: :class:`~arena_stats.models.sparse.KKTFactor`
uses it for a diagonally dominant information (any Bradley-Terry fit with an L2 prior) and keeps
SuperLU for the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

__all__ = ["EliminationPlan", "LevelCholesky", "elimination_plan", "LEVEL_MAX_DEGREE", "LEVEL_MIN_SIZE",
           "MAX_LEVELS", "MAX_PRODUCTS", "CORE_MAX", "CORE_MIN_DENSITY"]

#: A level takes unknowns with at most this many neighbours (eliminating one adds up to its
#: degree squared entries to the rest).
LEVEL_MAX_DEGREE = 64
#: Levels stop when one would take fewer unknowns than this: a level costs ~0.1 ms, about what
#: 8 fewer rows save the dense Cholesky of an 800 core.
LEVEL_MIN_SIZE = 8
#: At most this many levels: each costs two sparse products per solve (~15 us each) and a few
#: gathers per factorisation. ATP takes 10; the 5,000 x 20,000 neighbour arena would take 94 at a
#: higher degree cap and factor in 48 ms against SuperLU's 18 ms (measured), so it stops here
#: and its large sparse rest goes to SuperLU.
MAX_LEVELS = 16
#: At most this many products ``b_rp b_sp`` in all levels (the plan keeps three indices for
#: each: ~50 MB, and a factorisation ~20 ms): ATP takes 264,000; beyond, SuperLU.
MAX_PRODUCTS = 2_000_000
#: The core is factored densely when it has at most this many unknowns (an 11.5 MB matrix,
#: ~0.4 GFlop) and, beyond 300, fills at least this share of its square; otherwise its own
#: elimination is sparse (long chains, grids, "nearby" arenas) and SuperLU's is used.
CORE_MAX = 1200
CORE_MIN_DENSITY = 0.1
_SMALL_CORE = 300


def _pattern(a: Any) -> sparse.csr_matrix:
    """The symmetric pattern of ``a`` with its diagonal, as a 0/1 CSR matrix."""
    g = sparse.csr_matrix(a, copy=True)
    g.data[:] = 1.0
    g = (g + g.T + sparse.eye(g.shape[0], format="csr")).tocsr()
    g.data[:] = 1.0
    g.sort_indices()
    return g


def _levels(graph: sparse.csr_matrix) -> tuple[list[np.ndarray], np.ndarray, sparse.csr_matrix]:
    """Independent sets of low degree, level by level, and the remaining unknowns with their pattern."""
    ids = np.arange(graph.shape[0])
    levels: list[np.ndarray] = []
    never = np.iinfo(np.int64).max
    g = graph.copy()
    g.setdiag(0.0)
    g.eliminate_zeros()
    while g.shape[0] > LEVEL_MIN_SIZE and len(levels) < MAX_LEVELS:
        r = g.shape[0]
        degree = np.diff(g.indptr)
        # ties broken by a fixed shuffle, not the numbering: along a numbered chain every
        # interior unknown has a lower-numbered neighbour, and only the ends would be taken
        tiebreak = np.random.default_rng(r).permutation(r)
        key = np.where(degree <= LEVEL_MAX_DEGREE, degree.astype(np.int64) * r + tiebreak, never)
        lowest = np.full(r, never)
        has = degree > 0
        lowest[has] = np.minimum.reduceat(key[g.indices], g.indptr[:-1][has])
        pick = key < lowest
        if pick.sum() < LEVEL_MIN_SIZE:
            break
        level, rest = np.flatnonzero(pick), np.flatnonzero(~pick)
        levels.append(ids[level])
        ids = ids[rest]
        link = g[rest][:, level]
        g = (g[rest][:, rest] + link @ link.T).tocsr()
        g.data[:] = 1.0
        g.setdiag(0.0)
        g.eliminate_zeros()
    return levels, ids, g


@dataclass(eq=False)
class _Level:
    """One level of a plan: where its pivots, links and products sit in the filled values."""

    start: int
    size: int
    pivot_pos: np.ndarray      # positions of the pivots in the filled values
    link_pos: np.ndarray       # positions of the links (r, p), r after the level, in row-p order
    owner: np.ndarray          # the level column (0..size-1) of each link
    u1: np.ndarray             # products b[u1] b[u2] / d[owner[u1]] ...
    u2: np.ndarray
    targets: np.ndarray        # ... added at these positions (unique)
    target_of: np.ndarray      # each product's index into ``targets``
    t_indptr: np.ndarray       # links as a (size x rest) CSR matrix: values in row-p order
    t_indices: np.ndarray
    r_indptr: np.ndarray       # and as (rest x size), values ``b[r_order]``
    r_indices: np.ndarray
    r_order: np.ndarray


@dataclass(frozen=True, eq=False)
class EliminationPlan:
    """How to factor a pattern (made by :func:`elimination_plan`; serves every matrix whose
    pattern is within it: a bootstrap's rounds, a fit's iterations).

    ``perm`` lists the unknowns in elimination order (the levels', then the core's).
    """

    perm: np.ndarray
    n_filled: int
    levels: tuple[_Level, ...]
    core_start: int
    core_pos: np.ndarray
    core_flat: np.ndarray
    _keys: np.ndarray = field(repr=False)
    #: the last layout placed and where its values go (rounds share one layout)
    _placed: list[Any] = field(default_factory=list, compare=False, repr=False)

    @property
    def core(self) -> int:
        return len(self.perm) - self.core_start

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(level.size for level in self.levels)

    def positions(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Where entries ``(rows, cols)`` (permuted numbering) sit in the filled values."""
        keys = rows.astype(np.int64) * len(self.perm) + cols
        pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        if (self._keys[pos] != keys).any():
            raise ValueError("the matrix has entries outside the plan's pattern")
        return pos

    def place(self, a: Any) -> np.ndarray:
        """The values of ``a`` at their filled positions (zeros where fill will go)."""
        a = a if sparse.issparse(a) and a.format in ("csr", "csc") else sparse.csr_matrix(a)
        known = self._placed[0] if self._placed else None
        if (known is None or known[0] != a.format or not np.array_equal(known[1], a.indptr)
                or not np.array_equal(known[2], a.indices)):
            major = np.repeat(np.arange(a.shape[0]), np.diff(a.indptr))
            rows, cols = (major, a.indices) if a.format == "csr" else (a.indices, major)
            inverse = np.empty(len(self.perm), np.int64)
            inverse[self.perm] = np.arange(len(self.perm))
            known = (a.format, a.indptr.copy(), a.indices.copy(), self.positions(inverse[rows], inverse[cols]))
            self._placed[:] = [known]
        vals = np.zeros(self.n_filled)
        if a.has_canonical_format:
            vals[known[3]] = a.data
        else:  # duplicate entries add up
            np.add.at(vals, known[3], a.data)
        return vals


#: Plans of recent patterns: a fit's Newton iterations factor one pattern ten times or more,
#: and a plan takes ~60 ms on ATP's (a factorisation ~8 ms).
_PLANS: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray, EliminationPlan | None]] = {}
_PLANS_KEPT = 4


def elimination_plan(a: Any) -> EliminationPlan | None:
    """A plan to factor matrices of ``a``'s pattern by levels and a dense core, or None when the
    core would be too large or too sparse (:data:`CORE_MAX`, :data:`CORE_MIN_DENSITY`) or the
    levels too costly (:data:`MAX_PRODUCTS`).

    Examples
    --------
    >>> leaves = np.arange(1, 41)
    >>> star = sparse.coo_matrix((np.ones(40), (np.zeros(40, int), leaves)), shape=(41, 41))
    >>> plan = elimination_plan(star + star.T)
    >>> plan.sizes, plan.core
    ((40,), 1)
    """
    if not (sparse.issparse(a) and a.format in ("csr", "csc")):
        return _make_plan(a)
    key = (a.format, a.shape, hash(a.indptr.tobytes()), hash(a.indices.tobytes()))
    known = _PLANS.get(key)
    if known is not None and np.array_equal(known[0], a.indptr) and np.array_equal(known[1], a.indices):
        return known[2]
    plan = _make_plan(a)
    if len(_PLANS) >= _PLANS_KEPT:
        _PLANS.pop(next(iter(_PLANS)), None)
    _PLANS[key] = (a.indptr.copy(), a.indices.copy(), plan)
    return plan


def _make_plan(a: Any) -> EliminationPlan | None:
    graph = _pattern(a)
    n = graph.shape[0]
    levels, core, rest = _levels(graph)
    m = len(core)
    if m > CORE_MAX or (m > _SMALL_CORE and rest.nnz + m < CORE_MIN_DENSITY * m * m):
        return None
    perm = np.concatenate(levels + [core]).astype(np.int64)
    inverse = np.empty(n, np.int64)
    inverse[perm] = np.arange(n)
    # the filled pattern in the permuted numbering: the matrix's, then each level's products
    filled = graph[perm][:, perm].tocsr()
    start = 0
    for level in levels:
        stop = start + len(level)
        link = filled[stop:, start:stop]
        fill = (link @ link.T).tocoo()
        filled = (filled + sparse.csr_matrix((np.ones(fill.nnz), (fill.row + stop, fill.col + stop)),
                                             shape=(n, n))).tocsr()
        filled.data[:] = 1.0
        start = stop
    filled.sort_indices()
    row_of = np.repeat(np.arange(n), np.diff(filled.indptr)).astype(np.int64)
    keys = row_of * n + filled.indices
    plan_levels, start, products = [], 0, 0
    for level in levels:
        size, stop = len(level), start + len(level)
        lo, hi = filled.indptr[start], filled.indptr[stop]
        owner_all, cols = row_of[lo:hi] - start, filled.indices[lo:hi]
        after = cols >= stop
        link_pos = np.arange(lo, hi)[after]
        owner, r = owner_all[after], cols[after]
        counts = np.bincount(owner, minlength=size)
        products += int((counts.astype(np.int64) ** 2).sum())
        if products > MAX_PRODUCTS:
            return None
        first = np.concatenate([[0], np.cumsum(counts)])
        # every ordered pair of one pivot's links
        reps = counts[owner]
        u1 = np.repeat(np.arange(len(owner)), reps)
        within = np.arange(len(u1)) - np.repeat(np.cumsum(reps) - reps, reps)
        u2 = first[owner[u1]] + within
        target_keys = r[u1].astype(np.int64) * n + r[u2]
        targets, target_of = np.unique(np.searchsorted(keys, target_keys), return_inverse=True)
        pivot_pos = np.searchsorted(keys, np.arange(start, stop, dtype=np.int64) * (n + 1))
        r_order = np.lexsort((owner, r))
        r_indptr = np.concatenate([[0], np.cumsum(np.bincount(r - stop, minlength=n - stop))])
        plan_levels.append(_Level(start, size, pivot_pos, link_pos, owner, u1, u2, targets, target_of,
                                  first, r - stop, r_indptr, owner[r_order], r_order))
        start = stop
    core_start = start
    lo = filled.indptr[core_start]
    rows, cols = row_of[lo:] - core_start, filled.indices[lo:] - core_start
    inside = cols >= 0
    core_pos = np.arange(lo, filled.nnz)[inside]
    core_flat = rows[inside] * m + cols[inside]
    return EliminationPlan(perm, filled.nnz, tuple(plan_levels), core_start, core_pos, core_flat, keys)


class LevelCholesky:
    """``A = L L'`` of a positive definite ``A`` by an :class:`EliminationPlan`.

    Raises ``numpy.linalg.LinAlgError`` where a pivot is not positive.

    Examples
    --------
    >>> a = sparse.csr_matrix(np.array([[2.0, -1.0, 0.0], [-1.0, 3.0, -1.0], [0.0, -1.0, 2.0]]))
    >>> f = LevelCholesky(a, elimination_plan(a))
    >>> np.allclose(a @ f.solve(np.ones(3)), 1.0)
    True
    """

    def __init__(self, a: Any, plan: EliminationPlan) -> None:
        self.plan = plan
        vals = plan.place(a)
        self.pivots: list[np.ndarray] = []
        self.links: list[np.ndarray] = []
        for level in plan.levels:
            d = vals[level.pivot_pos]
            if not (d > 0).all():
                raise np.linalg.LinAlgError("a pivot is not positive")
            b = vals[level.link_pos]
            scaled = b / d[level.owner]
            vals[level.targets] -= np.bincount(level.target_of, scaled[level.u1] * b[level.u2],
                                               minlength=len(level.targets))
            self.pivots.append(d)
            self.links.append(b)
        n = len(plan.perm)
        # each level's links as the two sparse matrices the solves multiply by, built once
        self._below = [sparse.csr_matrix((b[lv.r_order], lv.r_indices, lv.r_indptr),
                                         shape=(n - lv.start - lv.size, lv.size))
                       for lv, b in zip(plan.levels, self.links)]
        self._above = [sparse.csr_matrix((b, lv.t_indices, lv.t_indptr), shape=(lv.size, n - lv.start - lv.size))
                       for lv, b in zip(plan.levels, self.links)]
        m = plan.core
        core = np.zeros(m * m)
        core[plan.core_flat] = vals[plan.core_pos]
        # numpy's Cholesky lets other threads run (scipy's holds the interpreter lock)
        self.core = np.linalg.cholesky(core.reshape(m, m)) if m else np.zeros((0, 0))
        self.nbytes = int(self.core.nbytes + sum(16 * len(b) + 8 * len(d) for b, d in zip(self.links, self.pivots)))

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``A^-1 rhs`` for ``rhs`` ``(d,)`` or ``(d, r)`` in the matrix's own numbering."""
        from scipy.linalg import solve_triangular
        plan = self.plan
        work = np.array(rhs, dtype=np.float64)[plan.perm]
        column = work.ndim == 1
        for level, d, below in zip(plan.levels, self.pivots, self._below):
            stop = level.start + level.size
            y = work[level.start:stop] / (d if column else d[:, None])
            work[stop:] -= below @ y
        x = np.empty_like(work)
        c = plan.core_start
        if plan.core:
            half = solve_triangular(self.core, work[c:], lower=True, check_finite=False)
            x[c:] = solve_triangular(self.core, half, lower=True, trans="T", check_finite=False)
        for level, d, above in zip(reversed(plan.levels), reversed(self.pivots), reversed(self._above)):
            stop = level.start + level.size
            top = work[level.start:stop] - above @ x[stop:]
            x[level.start:stop] = top / (d if column else d[:, None])
        out = np.empty_like(x)
        out[plan.perm] = x
        return out
