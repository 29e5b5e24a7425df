"""Exact multinomial resampling of cell counts, the random half of the bootstrap.

Resampling ``N`` battles with replacement and counting how often each (pair, verdict) cell was
drawn gives cell counts ``Multinomial(N, p)`` with ``p = c / N``, ``c`` the observed counts. We
draw that multinomial exactly with the Poisson construction: ``X_k ~ Poisson(f N p_k)``
independently, so that ``X | sum(X) = S`` is ``Multinomial(S, p)`` whatever ``f``; then, if
``S < N``, add ``N - S`` categorical draws from ``p``, or if ``S > N``, delete ``S - N`` of the
``S`` drawn battles uniformly without replacement. Either correction leaves an i.i.d. sample of
size ``N`` from ``p``, so the result is exactly ``Multinomial(N, p)``. Deleting needs a pass over
the whole row, adding does not, so :class:`MultinomialSampler` shrinks the means by
``f = 1 - DEFICIT_SDS / sqrt(N)``: the sum then falls short (and is topped up) in ~98 % of
rounds, at the price of ~2 sqrt(N) categorical draws (3 sds: 99.9 %, but 1.5x the top-ups and
6 % slower overall).

Both kinds of draw are by table inversion. A bootstrap draws the *same* means round after
round, and they take few distinct values (the observed counts), so :class:`PoissonTable`
tabulates the distribution function of each distinct mean once and draws with one uniform, one
guide-table lookup and about one comparison (~15 ns, against 40-70 ns for numpy's Poisson
sampler); :class:`CategoricalTable` does the same for ``p``. Inversion of a correctly rounded
distribution function is the textbook exact method; tables are cut where the remaining tail is
below the resolution of a double-precision uniform. Means above :data:`TABLE_MAX_MEAN` (rare,
long tables) use numpy's sampler.
"""

from __future__ import annotations

import numpy as np
from scipy.special import pdtr

__all__ = ["CategoricalTable", "MultinomialSampler", "PoissonTable", "multinomial_counts"]

#: Means up to this are drawn by table inversion; larger ones by ``Generator.poisson``.
TABLE_MAX_MEAN = 1000.0
#: A table for mean ``m`` spans ``m -/+ (TAIL_SDS * sqrt(m) + TAIL_PAD)``: the Poisson mass
#: beyond either end is below 1e-17 (Chernoff bounds), under the 2**-53 spacing of the uniforms
#: that index the table.
TAIL_SDS = 9.0
TAIL_PAD = 25
#: The guide table starts each search this far below its bucket, so that a product ``u * length``
#: rounded up across a bucket boundary can never start the search past the answer.
GUIDE_SLACK = 1e-9
#: Linear steps of the table walk before the remaining draws (a few in a thousand) bisect.
WALK_STEPS = 3
#: Poisson means are shrunk so that a round's total falls this many standard deviations short
#: of ``N`` on average; see the module docstring.
DEFICIT_SDS = 2.0
#: Values drawn at a time (rows x cells), so that the temporaries of a block stay in cache.
DRAW_BLOCK_SIZE = 500_000


class PoissonTable:
    """Exact ``Poisson(mean_k)`` draws for a fixed vector of means, by table inversion.

    Parameters
    ----------
    means : array_like of float, shape (K,)
        Non-negative means; whole numbers (observed counts) keep the tables few and short.

    Examples
    --------
    >>> import numpy as np
    >>> table = PoissonTable(np.array([0.0, 3.0, 3.0, 40.0]))
    >>> x = table.draw(np.random.default_rng(0), 20_000)
    >>> x.shape, bool((x[:, 0] == 0).all())
    ((20000, 4), True)
    >>> np.round(x.mean(axis=0), 0).tolist()
    [0.0, 3.0, 3.0, 40.0]
    """

    def __init__(self, means: np.ndarray) -> None:
        means = np.asarray(means, dtype=np.float64)
        if means.ndim != 1 or not np.isfinite(means).all() or (means < 0).any():
            raise ValueError("Poisson means must be a 1-d array of finite non-negative numbers")
        self.means = means
        # every slot gets a table (a large mean a dummy one) so draws need no scatter
        small = means <= TABLE_MAX_MEAN
        self.large = np.flatnonzero(~small)
        values, table_of = np.unique(np.where(small, means, 0.0), return_inverse=True)
        # support lo..hi of each table; the cut tails (< 1e-17 each) go to its end points
        spread = TAIL_SDS * np.sqrt(values) + TAIL_PAD
        lo = np.maximum(np.floor(values - spread), 0).astype(np.int64)
        lengths = np.ceil(values + spread).astype(np.int64) - lo + 1
        lengths[values == 0] = 1
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        total = int(lengths.sum())
        table_id = np.repeat(np.arange(len(values)), lengths)
        support = np.arange(total) - np.repeat(starts - lo, lengths)
        cdf = pdtr(support, values[table_id]) if total else np.empty(0)
        ends = starts + lengths - 1
        cdf[ends] = 1.0
        # pdtr can fall by an ulp from one point to the next; make each table monotone
        drops = np.flatnonzero(np.diff(cdf) < 0) + 1
        for t in np.unique(table_id[drops[~np.isin(drops, starts)]]):
            cdf[starts[t]:ends[t] + 1] = np.maximum.accumulate(cdf[starts[t]:ends[t] + 1])
        # guide[start + k]: the first support point of the table whose cdf exceeds k / length,
        # less a slack. One search for all tables: 2 * table + cdf increases across them, and
        # its rounding (< 1e-12) is far below the slack, so each guide stays a lower bound.
        key = 2.0 * table_id + cdf
        within = np.arange(total) - np.repeat(starts, lengths)
        query = 2.0 * table_id + within / np.repeat(lengths, lengths) - GUIDE_SLACK
        self._cdf = cdf
        self._guide = np.searchsorted(key, query, side="right").astype(np.int32)
        self._start = starts[table_of].astype(np.int32)
        self._offset = (starts - lo)[table_of].astype(np.int32)
        self._length = lengths[table_of].astype(np.float64)
        self._length_max = (lengths[table_of] - 1).astype(np.int32)
        self._last = ends[table_of].astype(np.int32)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws of the whole vector, shape ``(size, K)``, int32."""
        return np.ascontiguousarray(self.draw_columns(rng, size).T)

    def draw_columns(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """The same draws cell-major: shape ``(K, size)``, one column per draw of the vector.

        The bootstrap's native layout: per-cell arrays of a round are then rows, so gathers and
        segment sums over cells move whole rows.
        """
        out = np.empty((len(self.means), size), np.int32)
        block = max(1, DRAW_BLOCK_SIZE // max(size, 1))
        for lo in range(0, len(self.means), block):
            self._draw_block(rng, slice(lo, lo + block), out[lo:lo + block])
        if len(self.large):
            out[self.large] = rng.poisson(self.means[self.large][:, None], size=(len(self.large), size))
        return out

    def _draw_block(self, rng: np.random.Generator, cells: slice, out: np.ndarray) -> None:
        u = rng.random(out.shape)
        k = u * self._length[cells, None]
        k = k.astype(np.int32)
        np.minimum(k, self._length_max[cells, None], out=k)  # u * length may round up to length
        k += self._start[cells, None]
        g = self._guide[k]
        # walk up to the first support point whose cdf exceeds u (about one step on average)
        gf, uf = g.ravel(), u.ravel()
        idx = np.flatnonzero(self._cdf[gf] <= uf)
        for _ in range(WALK_STEPS):
            if not idx.size:
                break
            gf[idx] += 1
            idx = idx[self._cdf[gf[idx]] <= uf[idx]]
        if idx.size:
            # the last bucket of a long table holds its whole upper tail (~200 points at mean
            # 1000): bisect the rest of the table instead of walking it
            gf[idx] = _bisect(self._cdf, uf[idx], gf[idx] + 1, self._last[cells][idx // out.shape[1]])
        np.subtract(g, self._offset[cells, None], out=out)


def _bisect(cdf: np.ndarray, u: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """First index in ``[lo, hi]`` with ``cdf > u``, elementwise (``cdf[hi] > u`` is given)."""
    lo, hi = lo.astype(np.int64), hi.astype(np.int64)
    while True:
        active = np.flatnonzero(lo < hi)
        if not active.size:
            return lo
        mid = (lo[active] + hi[active]) >> 1
        below = cdf[mid] <= u[active]
        lo[active] = np.where(below, mid + 1, lo[active])
        hi[active] = np.where(below, hi[active], mid)


class CategoricalTable:
    """Exact draws of indices ``k`` with probability ``p[k]``, by guide-table inversion.

    Examples
    --------
    >>> import numpy as np
    >>> idx = CategoricalTable(np.array([0.0, 0.25, 0.75])).draw(np.random.default_rng(0), 40_000)
    >>> np.round(np.bincount(idx, minlength=3) / 40_000, 2).tolist()
    [0.0, 0.25, 0.75]
    """

    def __init__(self, p: np.ndarray) -> None:
        p = np.asarray(p, dtype=np.float64)
        cdf = np.cumsum(p / p.sum())
        cdf[-1] = 1.0
        self._cdf = cdf
        self._guide = np.searchsorted(cdf, np.arange(len(cdf)) / len(cdf) - GUIDE_SLACK, side="right")

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        u = rng.random(size)
        k = np.minimum((u * len(self._cdf)).astype(np.int64), len(self._cdf) - 1)
        g = self._guide[k]
        idx = np.flatnonzero(self._cdf[g] <= u)
        while idx.size:
            g[idx] += 1
            idx = idx[self._cdf[g[idx]] <= u[idx]]
        return g


class MultinomialSampler:
    """Exact ``Multinomial(n, p)`` draws for fixed ``n`` and ``p``, many rounds (see module doc).

    Examples
    --------
    >>> import numpy as np
    >>> x = MultinomialSampler(10_000, np.array([1.0, 0.0, 3.0])).draw(np.random.default_rng(0), 3)
    >>> x.sum(axis=1).tolist(), x[:, 1].tolist()
    ([10000, 10000, 10000], [0, 0, 0])
    """

    def __init__(self, n: int, p: np.ndarray) -> None:
        p = np.asarray(p, dtype=np.float64)
        self.n, self.p = int(n), p / p.sum()
        self.shrink = max(0.0, 1.0 - DEFICIT_SDS / np.sqrt(max(self.n, 1)))
        self.poisson = PoissonTable(self.n * self.shrink * self.p)
        self.categorical = CategoricalTable(self.p)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws, shape ``(size, len(p))``, int32."""
        return np.ascontiguousarray(self.draw_columns(rng, size).T)

    def draw_columns(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """The same draws cell-major: shape ``(len(p), size)``, one column per draw."""
        out = self.poisson.draw_columns(rng, size)
        _correct_columns(rng, out, self.n, self.categorical)
        return out


def _correct_columns(rng: np.random.Generator, out: np.ndarray, n: int, categorical: CategoricalTable
                     ) -> None:
    """Top up (or thin out) each column of Poisson draws to a total of exactly ``n``, in place."""
    short = n - out.sum(axis=0, dtype=np.int64)
    need = np.flatnonzero(short > 0)
    if need.size:
        extra = categorical.draw(rng, int(short[need].sum()))
        # flat index cell * size + column: one unbuffered add for every column's top-up (a scalar
        # of the array's own type keeps ufunc.at on its fast path: ~3 ns an index, not ~100)
        np.add.at(out.reshape(-1), extra * out.shape[1] + np.repeat(need, short[need]), out.dtype.type(1))
    for r in np.flatnonzero(short < 0):
        # delete the surplus of the column's battles, uniformly without replacement
        s = n - int(short[r])
        gone = np.sort(rng.choice(s, size=s - n, replace=False))
        cells = np.searchsorted(np.cumsum(out[:, r], dtype=np.int64), gone, side="right")
        out[:, r] -= np.bincount(cells, minlength=out.shape[0]).astype(out.dtype, copy=False)


def multinomial_counts(rng: np.random.Generator, n: int, p: np.ndarray, size: int) -> np.ndarray:
    """Exact ``Multinomial(n, p)`` draws, ``size`` of them, via Poisson + correction.

    For one-off draws (no tables to build); many rounds with the same ``n`` and ``p`` are faster
    with :class:`MultinomialSampler`.

    Examples
    --------
    >>> import numpy as np
    >>> x = multinomial_counts(np.random.default_rng(0), 1000, np.array([0.2, 0.3, 0.5]), 4)
    >>> x.sum(axis=1).tolist()
    [1000, 1000, 1000, 1000]
    """
    p = np.asarray(p, dtype=np.float64)
    p = p / p.sum()
    out = rng.poisson(n * p[:, None], size=(len(p), size))
    _correct_columns(rng, out, n, CategoricalTable(p))
    return np.ascontiguousarray(out.T)
