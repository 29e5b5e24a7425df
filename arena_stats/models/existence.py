"""Does the maximum-likelihood estimate exist? If not, which models are to blame.

The MLE of a Bradley-Terry model exists iff the directed graph with an edge ``i -> j`` whenever
``i`` scored against ``j`` (a win, or a tie when ties carry information) is strongly connected
(Ford 1957; Zermelo 1929); Davidson and Rao-Kupper also need at least one tie and one decisive
battle. The check is a breadth-first search by sparse products (arenas have small diameters);
``scipy.sparse.csgraph``, which costs ~120 ms to import, is used only to explain a failure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix

from ..data.aggregate import PairCounts
from ..errors import NoMLEError
from .families import pair_weights

__all__ = ["check_mle_exists", "REACH_MAX_STEPS"]

#: Breadth-first steps of the quick strong-connectivity check before it defers to csgraph.
REACH_MAX_STEPS = 64


def check_mle_exists(pc: PairCounts, ties: str, table: np.ndarray | None = None) -> None:
    """Raise :class:`NoMLEError` when the MLE does not exist, naming the models responsible.

    The MLE exists iff the directed graph with an edge ``i -> j`` whenever ``i`` scored against
    ``j`` (a win, or a tie when ties carry information) is strongly connected; Davidson and
    Rao-Kupper also need at least one tie and one decisive battle.
    """
    t = pc.table() if table is None else table
    wi, wj, wt = pair_weights(t, ties)
    n = pc.n_models
    names = pc.models
    beat_ij = (wi + wt) > 0  # i scored against j
    beat_ji = (wj + wt) > 0
    rows = np.concatenate([pc.i[beat_ij], pc.j[beat_ji]])
    cols = np.concatenate([pc.j[beat_ij], pc.i[beat_ji]])
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    played = np.zeros(n, bool)
    played[pc.i[(wi + wj + wt) > 0]] = True
    played[pc.j[(wi + wj + wt) > 0]] = True
    if not played.all():
        missing = [names[k] for k in np.flatnonzero(~played)]
        raise NoMLEError(f"no usable battles for {_list(missing)} (under ties={ties!r}); "
                         "their ratings are not identified", missing)
    if _strongly_connected(graph):
        _check_tie_parameter_data(wi, wj, wt, ties)
        return
    # imported only to explain a failure: scipy.sparse.csgraph pulls in scipy.sparse.linalg and
    # scipy.linalg (~120 ms)
    from scipy.sparse.csgraph import connected_components

    n_weak, weak = connected_components(graph, directed=True, connection="weak")
    if n_weak > 1:
        groups = [[names[k] for k in np.flatnonzero(weak == c)] for c in range(n_weak)]
        groups.sort(key=len)
        desc = "; ".join(_list(g) for g in groups[:4])
        raise NoMLEError(
            f"the comparison graph falls into {n_weak} groups that never met each other ({desc}); "
            "ratings across groups are not comparable. Fit each group separately "
            "(component_leaderboards / leaderboard --components), or add a prior (l2 > 0 / --l2)",
            [m for g in groups[:-1] for m in g])
    n_strong, strong = connected_components(graph, directed=True, connection="strong")
    if n_strong > 1:
        # condensation: components that never lose (no edge into them) or never win
        comp_in = np.zeros(n_strong, bool)
        comp_out = np.zeros(n_strong, bool)
        cr, cc = strong[rows], strong[cols]
        cross = cr != cc
        comp_out[cr[cross]] = True
        comp_in[cc[cross]] = True
        never_lose = [names[k] for k in np.flatnonzero(~comp_in[strong])]
        never_win = [names[k] for k in np.flatnonzero(~comp_out[strong])]
        parts = []
        if never_lose:
            parts.append(f"{_list(never_lose)} never lost against the others")
        if never_win:
            parts.append(f"{_list(never_win)} never won against the others")
        raise NoMLEError("the maximum-likelihood ratings do not exist (they diverge to infinity): "
                         + "; ".join(parts) + ". Add a prior (l2 > 0 / --l2) or more battles",
                         never_lose + never_win)
    _check_tie_parameter_data(wi, wj, wt, ties)


def _strongly_connected(graph: csr_matrix) -> bool:
    """Whether every node reaches node 0 and node 0 reaches every node (breadth-first by sparse
    products; arenas have small diameters). False also when that takes over
    :data:`REACH_MAX_STEPS` steps, leaving the verdict to ``csgraph``."""
    n = graph.shape[0]
    for g in (graph, graph.T.tocsr()):
        reached = np.zeros(n)
        reached[0] = 1.0
        count = 1
        for _ in range(REACH_MAX_STEPS):
            reached = np.minimum(reached + g @ reached, 1.0)
            new_count = int(np.count_nonzero(reached))
            if new_count in (n, count):
                break
            count = new_count
        if np.count_nonzero(reached) < n:
            return False
    return True


def _check_tie_parameter_data(wi: np.ndarray, wj: np.ndarray, wt: np.ndarray, ties: str) -> None:
    if ties in ("davidson", "rao-kupper"):
        total_t = float(wt.sum())
        total_d = float((wi + wj).sum())
        if total_t <= 0:
            raise NoMLEError(f"ties={ties!r} needs at least one tie to estimate the tie parameter; "
                             "these battles have none (use ties='half' or 'drop')")
        if total_d <= 0:
            raise NoMLEError(f"ties={ties!r} needs at least one decisive battle; all are ties")


def _list(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(map(str, names[:limit]))
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
