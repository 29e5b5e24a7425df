"""Sparse linear algebra for arenas with many contestants and few comparisons each.

The observed information of a Bradley-Terry fit is a weighted graph Laplacian: one off-diagonal
entry per compared pair. Chatbot arenas compare most pairs of a few hundred models, so dense
LAPACK is right there. Tennis, chess, per-checkpoint or per-prompt contestants compare each
contestant with a handful of others among thousands: 10,000 contestants with 425,000 compared
pairs fill 0.85 % of the dense matrix, which would take 800 MB and 3e11 flops to factor. There
the constrained Newton step and the covariances go through one sparse factorisation of the
bordered (KKT) system

    [ A   E ] [ d  ]   [ g ]
    [ E'  0 ] [ mu ] = [ 0 ]

with ``A`` the information and ``E`` the constraints (the strengths sum to zero): ``d = C g``
with ``C`` the constrained inverse, exactly what the dense path computes
(:func:`~arena_stats.models.engine.constrained_inverse`), with no ``n x n`` matrix formed.
SuperLU with a minimum-degree ordering of ``A + A'`` keeps the factor sparse on graphs whose
contestants meet neighbours (measured: 10,000 contestants, 1 M battles, 425,000 pairs: factor
0.2 s, 1.4 M non-zeros, one solve 4 ms, 1.4 ms a right-hand side in blocks of 64).

Where the information is positive definite by construction (every Bradley-Terry fit with an L2
prior: each row's diagonal exceeds its off-diagonals by ``l2``, :func:`dominance_margin`) and
the graph has a periphery around a dense core (tennis: 1,343 of ATP's 2,639 players have a few
opponents each), the factorisation goes by levels of independent unknowns and a dense Cholesky
of the core instead (:mod:`~arena_stats.models.elimination`): ~8 ms against SuperLU's 16 ms,
and it runs on two bootstrap threads at once. The constraint then costs one more solve per
factorisation. Graphs whose rest stays large and sparse (neighbour-partner arenas) keep SuperLU.

Covariances. The board needs only each rating's variance (and, for ``reference=``, one column):
:meth:`KKTFactor.diagonals` gets the diagonals of the model-based and sandwich covariances by
solving for blocks of unit vectors, in bounded memory; the dense matrices are formed only when
asked for, and only up to :data:`DENSE_COV_MAX` unknowns without being asked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from .elimination import EliminationPlan, LevelCholesky, elimination_plan

__all__ = ["KKTFactor", "use_sparse", "envelope_ratio", "SPARSE_MIN_MODELS", "SPARSE_MAX_DENSITY",
           "SPARSE_MAX_ENVELOPE", "DENSE_COV_MAX", "SOLVE_BLOCK", "MIN_MARGIN", "dominance_margin"]

#: Below this many models dense LAPACK beats the sparse factorisation whatever the density
#: (a 1,000-model Cholesky takes ~20 ms).
SPARSE_MIN_MODELS = 1000
#: Above this share of compared pairs the factor fills in and dense wins.
SPARSE_MAX_DENSITY = 0.05
#: A sparse graph can still fill its factor: random partners make an expander, whose
#: elimination fills almost everything (10,000 contestants x 40 random partners: one sparse
#: factorisation 68 s against 12 s dense). The cost of Cholesky within the envelope of the
#: reverse Cuthill-McKee ordering (``sum of squared row widths``, an upper bound on what the
#: minimum-degree ordering fills) relative to dense Cholesky's ``n^3 / 3`` separates them
#: (measured ratios: neighbour-partner arenas 0.000, ATP tennis 0.20, random 3,000 x 10 0.71 --
#: all sparse 3-6x faster -- and random 10,000 x 40 0.91, dense 5x faster).
SPARSE_MAX_ENVELOPE = 0.8
#: Dense covariance matrices are formed up to this many parameters (200 MB each); beyond, the
#: diagonals come from block solves unless the full matrix is asked for.
DENSE_COV_MAX = 5000
#: Right-hand sides solved at once: SuperLU's per-column cost falls ~3x from 1 to 64 columns.
SOLVE_BLOCK = 256
#: SuperLU in symmetric mode takes a diagonal pivot unless it is below this fraction of its
#: column's largest entry. The information is symmetric and positive semi-definite, the border
#: pivots late: threshold pivoting by rows (SuperLU's default, 1.0) spent 3-4x longer on the
#: same fill (5,000 contestants: 104 ms against 28 ms a factorisation, measured).
KKT_PIVOT_THRESH = 0.01
#: A factorisation whose backward error on a test system (``|K x - b| / |b|``, largest entries)
#: exceeds this is redone with SuperLU's full threshold pivoting.
KKT_RESIDUAL_TOL = 1e-10


def use_sparse(n_models: int, n_pairs: int, i: np.ndarray | None = None, j: np.ndarray | None = None) -> bool:
    """Whether a fit of ``n_models`` on ``n_pairs`` compared pairs should use sparse algebra.

    With the pairs (``i``, ``j``) the graph's fill is estimated too (:data:`SPARSE_MAX_ENVELOPE`;
    a few milliseconds at 400,000 pairs).

    Examples
    --------
    >>> use_sparse(300, 40_000), use_sparse(10_000, 425_000)
    (False, True)
    >>> chain = np.arange(1999)
    >>> use_sparse(2000, 1999, chain, chain + 1)
    True
    """
    if n_models < SPARSE_MIN_MODELS:
        return False
    if n_pairs > SPARSE_MAX_DENSITY * n_models * (n_models - 1) / 2:
        return False
    if i is None or j is None:
        return True
    return envelope_ratio(np.asarray(i), np.asarray(j), n_models) <= SPARSE_MAX_ENVELOPE


def envelope_ratio(i: np.ndarray, j: np.ndarray, n: int) -> float:
    """Cost of Cholesky within the envelope of the reverse Cuthill-McKee ordering of the graph
    with edges ``(i, j)``, relative to dense Cholesky (``n^3 / 3``).

    Examples
    --------
    >>> star = np.zeros(999, dtype=int), np.arange(1, 1000)
    >>> round(envelope_ratio(*star, 1000), 3) < 0.01
    True
    """
    from scipy.sparse.csgraph import reverse_cuthill_mckee
    graph = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    order = reverse_cuthill_mckee((graph + graph.T).tocsr(), symmetric_mode=True)
    position = np.empty(n, np.int64)
    position[order] = np.arange(n)
    a, b = position[i], position[j]
    first = np.arange(n)
    np.minimum.at(first, np.maximum(a, b), np.minimum(a, b))  # each row's first column in the envelope
    width = (np.arange(n) - first).astype(np.float64)
    return float((width * width).sum() / (n ** 3 / 3))


class KKTFactor:
    """One sparse factorisation of the bordered system of ``A`` (sparse ``(d, d)``) and ``E``.

    Examples
    --------
    >>> a = sparse.csc_matrix(np.array([[1.0, -1.0, 0.0], [-1.0, 2.0, -1.0], [0.0, -1.0, 1.0]]))
    >>> e = np.full((3, 1), 1 / np.sqrt(3))
    >>> f = KKTFactor(a, e)
    >>> np.round(f.solve(np.array([1.0, 0.0, -1.0])), 6).tolist()
    [1.0, 0.0, -1.0]
    """

    def __init__(self, a: Any, e: np.ndarray, order: Any = None) -> None:
        self.dim, self.k = a.shape[0], e.shape[1]
        #: how the matrix was factored (an elimination order for SuperLU, or an
        #: :class:`~arena_stats.models.elimination.EliminationPlan`), for a later factorisation
        #: of the same pattern (``order=``)
        self.order: Any = None
        self._permuted: np.ndarray | None = None  # the order the factored matrix was permuted by
        self._levels: LevelCholesky | None = None
        if not isinstance(order, np.ndarray) and self._eliminate(a, e, order):
            return
        self._superlu(a, e, order if isinstance(order, np.ndarray) else None)

    def _eliminate(self, a: Any, e: np.ndarray, plan: EliminationPlan | None) -> bool:
        """Factor a dominant ``a`` by levels and a dense core where its pattern allows
        (:mod:`~arena_stats.models.elimination`). The constraint then costs one more solve per
        factorisation: ``C g = y - Z (E'Z)^-1 E'y`` with ``y = A^-1 g`` and ``Z = A^-1 E``."""
        if dominance_margin(a) < MIN_MARGIN:
            return False
        plan = plan if plan is not None else elimination_plan(a)
        if plan is None:
            return False
        try:
            self._levels = LevelCholesky(a, plan)
        except (np.linalg.LinAlgError, ValueError):
            self._levels = None
            return False
        self.order, self._e = plan, np.asarray(e, dtype=np.float64)
        if self.k:
            self._z = self._levels.solve(self._e)
            self._gram = self._e.T @ self._z
        return True

    def _superlu(self, a: Any, e: np.ndarray, order: np.ndarray | None) -> None:
        from scipy.sparse.linalg import splu
        kkt = _Bordered(a, e)
        rhs = np.cos(np.arange(self.dim + self.k, dtype=np.float64))  # deterministic, no zero entries
        if order is not None:
            # SuperLU's minimum-degree search is most of a factorisation on these graphs (ATP
            # 2000-2024, 2,639 players, 41,701 pairs: 60 ms with it, 15 ms on the matrix
            # permuted beforehand, the same 424,000 non-zeros); a bootstrap's rounds and a
            # fit's iterations keep one pattern (or a part of it), so one search serves them all
            order = np.asarray(order)
            permuted = _permuted_kkt(a, e, order, kkt)
            self._lu = splu(permuted, permc_spec="NATURAL", diag_pivot_thresh=KKT_PIVOT_THRESH,
                            options=dict(SymmetricMode=True))
            if np.abs(permuted @ self._lu.solve(rhs) - rhs).max() <= KKT_RESIDUAL_TOL * np.abs(rhs).max():
                self.order = self._permuted = order
                return
        kkt = kkt.matrix()
        self._lu = splu(kkt, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=KKT_PIVOT_THRESH,
                        options=dict(SymmetricMode=True))
        residual = np.abs(kkt @ self._lu.solve(rhs) - rhs).max()
        if residual <= KKT_RESIDUAL_TOL * np.abs(rhs).max():
            # SuperLU moves column i to position perm_c[i]; with diagonal pivots, the order
            self.order = np.argsort(self._lu.perm_c)
        else:
            self._lu = splu(kkt, permc_spec="MMD_AT_PLUS_A")

    @property
    def by_levels(self) -> bool:
        """Whether the matrix was factored by levels and a dense core (else by SuperLU)."""
        return self._levels is not None

    @property
    def nbytes(self) -> int:
        """Memory of the factors (values and row indices of ``L`` and ``U``, or the levels and
        the dense core)."""
        if self._levels is not None:
            return self._levels.nbytes
        return int(self._lu.nnz) * 12

    def _solve_kkt(self, rhs: np.ndarray) -> np.ndarray:
        if self._permuted is None:
            return self._lu.solve(rhs)
        out = np.empty_like(rhs)
        out[self._permuted] = self._lu.solve(np.ascontiguousarray(rhs[self._permuted]))
        return out

    def solve(self, g: np.ndarray) -> np.ndarray:
        """``C g``: the constrained solution for a right-hand side ``(d,)`` or ``(d, r)``."""
        g = np.asarray(g, dtype=np.float64)
        if self._levels is not None:
            y = self._levels.solve(g)
            if not self.k:
                return y
            return y - self._z @ np.linalg.solve(self._gram, self._e.T @ y)
        pad = np.zeros((self.k,) + g.shape[1:])
        return self._solve_kkt(np.concatenate([g, pad]))[: self.dim]

    def columns(self, index: np.ndarray) -> np.ndarray:
        """Columns ``C[:, index]`` of the constrained inverse, ``(d, len(index))``."""
        rhs = np.zeros((self.dim, len(index)))
        rhs[np.asarray(index), np.arange(len(index))] = 1.0
        return self.solve(rhs)

    def dense(self) -> np.ndarray:
        """The whole constrained inverse (``d x d``: only when it is asked for)."""
        out = np.empty((self.dim, self.dim))
        for lo in range(0, self.dim, SOLVE_BLOCK):
            idx = np.arange(lo, min(lo + SOLVE_BLOCK, self.dim))
            out[:, idx] = self.columns(idx)
        return out

    def diagonals(self, meat: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
        """``diag(C)`` and, with ``meat``, ``diag(C M C)``, from blocks of solves (memory
        ``d x SOLVE_BLOCK``)."""
        fisher = np.empty(self.dim)
        robust = None if meat is None else np.empty(self.dim)
        for lo in range(0, self.dim, SOLVE_BLOCK):
            idx = np.arange(lo, min(lo + SOLVE_BLOCK, self.dim))
            cols = self.columns(idx)
            fisher[idx] = cols[idx, np.arange(len(idx))]
            if robust is not None:
                robust[idx] = np.einsum("ij,ij->j", cols, np.asarray(meat @ cols))
        return fisher, robust


class _Bordered:
    """The bordered matrix ``[[A, E], [E', 0]]``, built when first asked for."""

    def __init__(self, a: Any, e: np.ndarray) -> None:
        self.a, self.e = a, e
        self._matrix: Any = None

    def matrix(self) -> Any:
        if self._matrix is None:
            border = sparse.csc_matrix(self.e)
            self._matrix = sparse.bmat([[sparse.csc_matrix(self.a), border], [border.T, None]], format="csc")
        return self._matrix


#: Elimination without pivoting (:mod:`~arena_stats.models.elimination`) needs a positive
#: definite matrix: it is used when every row's diagonal exceeds the sum of its off-diagonal
#: magnitudes by at least this share of the largest diagonal (the condition number is then
#: below ``2 / MIN_MARGIN``). A Bradley-Terry information with an L2 prior is dominant by ``l2``
#: in every row (ATP 2000-2024 at l2 = 0.01: 4.5e-5).
MIN_MARGIN = 1e-7


def dominance_margin(a: Any) -> float:
    """``min_i (a_ii - sum_j |a_ij|)`` over the largest diagonal (negative: not dominant).

    Examples
    --------
    >>> dominance_margin(sparse.csr_matrix(np.array([[2.0, -1.0], [-1.0, 3.0]])))
    0.3333333333333333
    """
    a = sparse.csr_matrix(a)
    diag = a.diagonal()
    off = np.asarray(abs(a).sum(axis=1)).ravel() - np.abs(diag)
    top = float(diag.max(initial=0.0))
    return float((diag - off).min(initial=np.inf)) / top if top > 0 else -1.0


#: Recent permuted patterns (:func:`_permuted_kkt`), by the identity of their order.
_LAYOUTS: dict[int, tuple[Any, ...]] = {}
_LAYOUTS_KEPT = 4


def _permuted_kkt(a: Any, e: np.ndarray, order: np.ndarray, kkt: _Bordered) -> Any:
    """The bordered matrix permuted by ``order`` (CSC, sorted indices, as SuperLU needs).

    A bootstrap's rounds and a fit's iterations build their matrices on one layout (equal index
    arrays, compared in ~20 us): for those the permuted matrix is one gather of the values,
    found once by permuting a matrix of entry numbers. ATP 2000-2024 (86,000 entries): 0.2 ms against 2.5 ms
    for building, permuting and sorting it each time (a factorisation is 15 ms).
    """
    canonical = sparse.issparse(a) and a.format in ("csr", "csc") and a.has_canonical_format
    if not canonical:
        # through CSR and back: sorted row indices by a counting pass
        return kkt.matrix()[order][:, order].tocsr().tocsc()
    border = sparse.csc_matrix(e)
    known = _LAYOUTS.get(id(order))
    if (known is None or known[0] is not order or known[3] != a.format or not np.array_equal(known[1], a.indptr)
            or not np.array_equal(known[2], a.indices) or not np.array_equal(known[4], e)):
        nnz, nb = a.nnz, border.nnz
        number = type(a)((1.0 + np.arange(nnz, dtype=np.float64), a.indices, a.indptr), shape=a.shape)
        right = sparse.csc_matrix((1.0 + nnz + np.arange(nb, dtype=np.float64), border.indices, border.indptr),
                                  shape=border.shape)
        below = sparse.csc_matrix((1.0 + nnz + nb + np.arange(nb, dtype=np.float64), border.indices, border.indptr),
                                  shape=border.shape).T
        probe = sparse.bmat([[sparse.csc_matrix(number), right], [below, None]], format="csc")
        # entry numbers from 1: an explicit zero could be dropped on the way
        moved = probe[order][:, order].tocsr().tocsc()
        known = (order, a.indptr.copy(), a.indices.copy(), a.format, np.array(e), moved.data.astype(np.int64) - 1,
                 moved.indices, moved.indptr)
        if len(_LAYOUTS) >= _LAYOUTS_KEPT:
            _LAYOUTS.pop(next(iter(_LAYOUTS)), None)
        _LAYOUTS[id(order)] = known
    values = np.concatenate([a.data, border.data, border.data])
    n = a.shape[0] + e.shape[1]
    return sparse.csc_matrix((values[known[5]], known[6], known[7]), shape=(n, n))
