"""One leaderboard per connected component of the comparison graph.

Real logs often hold several arenas in one file: tasks whose models never met, a tennis
circuit's satellites, an old and a new batch of checkpoints. Models in different components
were never compared, directly or through others, so no data says how their ratings relate: the
maximum-likelihood ratings of the whole file do not exist, and a prior (``l2``) would only
invent the relation by pulling every component's mean to the same value. The defensible board
is one board per component, each on its own scale.

Choices:

* Components are those of the undirected comparison graph (models joined when they battled,
  whatever the verdict), numbered 1, 2, ... by battles, most first (ties by the first model's
  name), so the main arena is component 1.
* Each component is fitted by :func:`~arena_stats.boards.leaderboard.leaderboard` on its own
  battles with the same settings, so its board is exactly the board a user would get from a file
  holding only that component (tested). Ratings of different components are **not comparable**:
  each is centred by the same ``init`` (or ``anchor``, where the anchor's model is).
* A component smaller than ``min_models``, or whose ratings do not exist even alone (a model that
  never lost there, with ``l2 = 0``), gets no board and is reported in
  :attr:`ComponentBoards.skipped` with its reason: never dropped silently.
* :meth:`ComponentBoards.to_frame` is one tidy table, every board stacked under a first column
  ``component``, as the category boards are under their ``by`` column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data.aggregate import PairCounts, aggregate
from ..data.battles import Battles
from ..data.readers import as_battles
from ..errors import InputError, NoMLEError
from ..models.results import Result
from .leaderboard import Leaderboard, leaderboard

__all__ = ["ComponentBoards", "comparison_components", "component_leaderboards", "COMPONENT"]

#: Name of the column that holds the component number, in the tidy table and the CLI.
COMPONENT = "component"


def comparison_components(data: Battles | PairCounts | pd.DataFrame) -> pd.Series:
    """Component of each model in the comparison graph, numbered by battles (most first).

    Examples
    --------
    >>> frame = pd.DataFrame({"model_a": ["a", "b", "x", "a"], "model_b": ["b", "c", "y", "c"],
    ...                       "winner": ["model_a", "model_b", "tie", "model_a"]})
    >>> comparison_components(frame).to_dict()
    {'a': 1, 'b': 1, 'c': 1, 'x': 2, 'y': 2}
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    pc = data if isinstance(data, PairCounts) else aggregate(as_battles(data))
    n = pc.n_models
    graph = csr_matrix((np.ones(len(pc.i)), (pc.i, pc.j)), shape=(n, n))
    n_comp, labels = connected_components(graph, directed=False)
    battles = np.bincount(labels, weights=pc.model_battles(), minlength=n_comp)  # each battle twice
    first = np.full(n_comp, n, np.int64)
    np.minimum.at(first, labels, np.arange(n))  # models are sorted: the smallest index is the first name
    order = np.lexsort((first, -battles))
    number = np.empty(n_comp, np.int64)
    number[order] = np.arange(1, n_comp + 1)
    return pd.Series(number[labels], index=pd.Index(pc.models, name="model"), name=COMPONENT)


@dataclass(repr=False)
class ComponentBoards(Result):
    """Boards of the components of one set of battles (see the module docstring).

    Attributes
    ----------
    components : pandas.Series
        Component number of every model.
    boards : dict of int to Leaderboard
        The board of each component that has one.
    skipped : pandas.DataFrame
        Components without a board: ``component, models, battles, reason``.
    """

    components: pd.Series
    boards: dict[int, Leaderboard]
    skipped: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Every board stacked, tidy: ``component`` first, then the board's columns."""
        frames = [b.to_frame().assign(**{COMPONENT: c}) for c, b in self.boards.items()]
        out = pd.concat(frames, ignore_index=True)
        return out[[COMPONENT] + [c for c in out.columns if c != COMPONENT]]

    def skipped_report(self) -> str:
        """One line per skipped component (empty when none was skipped)."""
        return "\n".join(f"component {r.component} ({r.models} models, {r.battles:,} battles) has no board: "
                         f"{r.reason}" for r in self.skipped.itertuples())

    def _describe(self) -> str:
        return f"{len(self.boards)} boards, {self.components.max()} components"

    def summary(self, top: int = 5) -> str:
        """Each component's size and its best models; the skipped components and why."""
        lines = [f"{self.components.max()} components of the comparison graph; ratings of different "
                 "components are not comparable"]
        for c, board in self.boards.items():
            frame = board.to_frame()
            best = ", ".join(f"{m} ({r:.0f})" for m, r in zip(frame["model"].head(top), frame["rating"].head(top)))
            lines.append(f"component {c}: {len(frame)} models; best: {best}")
        report = self.skipped_report()
        return "\n".join(lines + ([report] if report else []))


def component_leaderboards(battles: Battles | PairCounts | pd.DataFrame, ties: str = "half", *,
                           min_models: int = 2, **options: Any) -> ComponentBoards:
    """One leaderboard per connected component of the comparison graph.

    Parameters
    ----------
    battles : Battles, PairCounts or pandas.DataFrame
    ties : str
        Tie convention (see :func:`~arena_stats.fit_bradley_terry`).
    min_models : int
        Components with fewer models get no board (they are reported in ``skipped``).
    **options
        Any keyword of :func:`~arena_stats.leaderboard` (``ci``, ``rounds``, ``seed``, ``l2``,
        ``cluster``, ``anchor`` ...), used for every component.

    Returns
    -------
    ComponentBoards

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> one = simulate_arena(4, 2000, seed=1).battles.to_frame()
    >>> two = simulate_arena(3, 1000, seed=2).battles.to_frame()
    >>> two[["model_a", "model_b"]] = "other-" + two[["model_a", "model_b"]]
    >>> boards = component_leaderboards(pd.concat([one, two]), ci="sandwich")
    >>> boards.to_frame().groupby("component")["model"].count().to_dict()
    {1: 4, 2: 3}
    """
    from .._util import checks
    min_models = checks.integer("min_models", min_models, 1)
    data: Battles | PairCounts = battles if isinstance(battles, PairCounts) else as_battles(battles)
    pc = data if isinstance(data, PairCounts) else aggregate(data)
    components = comparison_components(pc)
    anchor = options.pop("anchor", None)
    anchor = {_model(m, components, "anchor"): v for m, v in anchor.items()} if anchor else None
    reference = options.pop("reference", None)
    reference = _model(reference, components, "reference") if reference is not None else None
    boards: dict[int, Leaderboard] = {}
    skipped = []
    for c in range(1, int(components.max()) + 1):
        models = components.index[components.to_numpy() == c]
        sub = _restrict(data, pc, set(models), c)
        n_battles = int(round(sub.n_battles))
        if len(models) < min_models:
            skipped.append((c, len(models), n_battles, f"fewer than {min_models} models"))
            continue
        # an anchor or a reference applies in the component that holds its model: the others
        # keep the default centring and plain intervals
        own = {m: v for m, v in (anchor or {}).items() if m in set(models)} or None
        ref = reference if reference in set(models) else None
        try:
            boards[c] = leaderboard(sub, ties, anchor=own, reference=ref, **options)
        except NoMLEError as exc:
            skipped.append((c, len(models), n_battles, str(exc)))
    if not boards:
        raise InputError("no component of the comparison graph has a board: "
                         + "; ".join(f"component {c}: {why}" for c, _, _, why in skipped))
    skipped_frame = pd.DataFrame(skipped, columns=[COMPONENT, "models", "battles", "reason"])
    settings = dict(ties=ties, min_models=min_models, anchor=anchor, reference=reference, **options)
    return ComponentBoards(components=components, boards=boards, skipped=skipped_frame, settings=settings)


def _model(name: Any, components: pd.Series, what: str) -> str:
    """A model named by the user (anchor, reference), as the battles' names were read."""
    from ..data.names import canonical_name
    from ..errors import shorten, suggest
    key = str(name) if str(name) in components.index else canonical_name(name)
    if key not in components.index:
        raise InputError(f"{what} model {shorten(str(name))} is not among the models"
                         f"{suggest(str(name), list(components.index))}")
    return key


def _restrict(data: Battles | PairCounts, pc: PairCounts, models: set[str], number: int) -> Battles | PairCounts:
    """The battles (or counts) of one component."""
    step_reason = f"battles outside component {number}"
    if isinstance(data, PairCounts):
        inside = np.array([pc.models[i] in models for i in pc.i])[pc.cell_pair]
        return data.keep_cells(inside)
    mask = data.frame["model_a"].astype(str).isin(models).to_numpy()
    return data.keep_rows(mask, "component", step_reason)
