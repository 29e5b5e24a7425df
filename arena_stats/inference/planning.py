"""What to sample next: power for a pair or the board, and active sampling of pairs.

**Information.** A Bradley-Terry fit's uncertainty is the inverse of its Fisher information on
the sum-zero strengths. A battle between ``a`` and ``b`` adds ``c_ab u u'`` to it, with
``u = e_a - e_b`` and ``c_ab`` the expected information of one battle about ``theta_a - theta_b``
at the fitted strengths (``pi (1 - pi)`` for ties as half, times the decisive share when ties
are dropped, the Davidson / Rao-Kupper curvature otherwise: :func:`pair_information`). So
``m`` more battles of one pair change the covariance ``V`` by a rank-one update
(Sherman-Morrison), in closed form::

    V' = V - (m c / (1 + m c s)) (V u)(V u)',   s = u' V u.

In particular the variance of that pair's own difference goes from ``s`` to
``s / (1 + m c s)``: to bring it to ``t``, ``m = (1 / t - 1 / s) / c`` direct battles
(:func:`battles_needed` with ``pair=``). The intervals are Wald intervals ``-/+ z sd`` on the Elo
scale; *to separate* two models at power ``1 - beta`` means, with the fitted difference ``d``
taken as true, ``|d| / sd >= z_{1 - alpha / 2} + z_{1 - beta}``.

**Targets.** ``board``: the widest rating interval on the board. ``top``: the order of the
best ``top`` models against everyone, measured by the expected number of misordered pairs,
``sum Phi(-|d_q| / sd_q)`` over those pairs (a pair whose interval of the difference excludes 0
contributes almost nothing; rank intervals of the top models narrow exactly as that sum falls).
``pair``: the interval of one difference.

**Active sampling** (the Chatbot Arena paper, Chiang et al. 2024, sec. 5: sample the pairs that
shrink the uncertainty fastest) is greedy: the budget is spent in at most :data:`GREEDY_STEPS`
steps; each step gives its battles to the pair whose closed-form update lowers the target most
(a weighted sum of variances of the target's contrasts, with the weights the target's
derivative: ``(V_ii / max V)^(BOARD_FOCUS - 1)`` for the widest interval, the density of a
misordering for ``top``), then updates ``V``. Each step costs ``O(n^2 + pairs x contrasts)``.

**Uniform** sampling spreads battles evenly over all pairs; **current** repeats the arena's
present pair frequencies. :func:`simulate_policies` runs all three on a simulated arena with a
planted truth (outcomes drawn from the truth, the fit refitted after every batch) and counts the
battles each needs to reach a target: the measured margin is in ``docs/audit.md``.

Planning uses the model-based (Fisher) information at the fitted strengths, held fixed while a
plan is built; the tie parameter of Davidson / Rao-Kupper fits is profiled out of the current
information (a Schur complement) and held fixed for the new battles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from .._util import checks
from .._util.progress import progress as progress_bar
from ..data.aggregate import PairCounts, counts_from_table
from ..errors import InputError, NoMLEError
from ..models.bradley_terry import BTResult, fit_counts
from ..models.covariance import z_value
from ..models.engine import constrained_inverse
from ..models.families import local_terms, outcome_probabilities, pair_weights
from ..models.results import Result, model_index
from .bootstrap import DEFAULT_CONFIDENCE
from .simultaneous import pair_index

__all__ = ["SamplingPlan", "next_pairs", "battles_needed", "pair_information", "simulate_policies", "TARGETS",
           "POLICIES", "GREEDY_STEPS", "DEFAULT_POWER", "PLAN_COLUMNS"]

TARGETS = ("board", "top", "pair")
POLICIES = ("active", "uniform", "current")
#: A plan spends its budget in at most this many greedy steps (each an O(n^2) update).
GREEDY_STEPS = 200
#: Exponent of the soft maximum behind the ``board`` target: the greedy weights are
#: ``(V_ii / max V)^(BOARD_FOCUS - 1)``, so the widest intervals get nearly all the attention
#: while models of similar width still share it. Measured with simulate_policies (12 models,
#: goal 0.5, seeds 0-13): 1 (the trace, A-optimal) needed 12,800 battles in all, 4 needed
#: 11,300, 16 needed 10,200, 32 the same.
BOARD_FOCUS = 16
#: Default ``top`` of the ``top`` target.
DEFAULT_TOP = 5
DEFAULT_POWER = 0.8
#: :func:`battles_needed` resolves its answer to this share of the battles (greedy steps of 1 %).
ACTIVE_RESOLUTION = 0.01
#: Columns of :attr:`SamplingPlan.pairs`.
PLAN_COLUMNS = ["model_a", "model_b", "battles", "current_battles", "p_a"]


def _strength_information(fit: BTResult) -> np.ndarray:
    """The information on the strengths, with a tie parameter profiled out (Schur complement)."""
    info = np.asarray(fit.information, dtype=np.float64)
    n = len(fit.models)
    if info.shape[0] == n:
        return info.copy()
    a, b, c = info[:n, :n], info[:n, n:], info[n:, n:]
    return a - b @ np.linalg.solve(c, b.T)


def pair_information(fit: BTResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a, b, c)``: every pair ``a < b`` of ``fit.models`` and the expected Fisher information
    of one battle of that pair about ``theta_a - theta_b`` (natural scale).

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats import fit_bradley_terry
    >>> fit = fit_bradley_terry(pd.DataFrame({"model_a": ["x", "y", "z"], "model_b": ["y", "z", "x"],
    ...                                        "winner": ["model_a", "model_a", "model_a"]}))
    >>> pair_information(fit)[2].round(3).tolist()  # equal strengths: pi (1 - pi) = 1/4
    [0.25, 0.25, 0.25]
    """
    n = len(fit.models)
    a, b = pair_index(n)
    d = fit.theta[a] - fit.theta[b]
    ties = fit.ties
    probs = outcome_probabilities(d, ties, fit.log_tie)
    table = np.stack([probs[:, 0], probs[:, 1], probs[:, 2], np.zeros(len(d))], axis=-1)
    wi, wj, wt = pair_weights(table, ties)
    lam = None if fit.log_tie is None else np.asarray(fit.log_tie)
    h = local_terms(d, lam, wi, wj, wt, ties, loglik=False)[3]
    c = -np.asarray(h, dtype=np.float64)
    if ties == "drop":
        # dropped ties carry no information: only the decisive share of new battles counts
        tab = fit.counts.table()
        total = float(tab.sum())
        c = c * (float(tab[:, :2].sum()) / total if total > 0 else 1.0)
    return a, b, c


class _Design:
    """The covariance of the strengths under a growing design (natural scale)."""

    def __init__(self, fit: BTResult) -> None:
        self.fit = fit
        self.n = len(fit.models)
        self.a, self.b, self.c = pair_information(fit)
        self.v = constrained_inverse(_strength_information(fit), np.ones((self.n, 1)))
        self.factor = fit.scale.factor

    def pair_var(self) -> np.ndarray:
        v, a, b = self.v, self.a, self.b
        d = np.diag(v)
        return np.clip(d[a] + d[b] - 2 * v[a, b], 0.0, None)

    def add(self, p: int, m: float) -> None:
        """``m`` more battles of pair ``p`` (Sherman-Morrison)."""
        if m <= 0:
            return
        vu = self.v[:, self.a[p]] - self.v[:, self.b[p]]
        s = vu[self.a[p]] - vu[self.b[p]]
        k = m * self.c[p]
        self.v -= (k / (1 + k * s)) * np.outer(vu, vu)

    def add_many(self, battles: np.ndarray) -> None:
        """Battles for several pairs at once: the information update and one inverse."""
        info = _strength_information(self.fit).copy()
        extra = battles * self.c
        np.add.at(info, (self.a, self.a), extra)
        np.add.at(info, (self.b, self.b), extra)
        np.add.at(info, (self.a, self.b), -extra)
        np.add.at(info, (self.b, self.a), -extra)
        self.v = constrained_inverse(info, np.ones((self.n, 1)))


@dataclass(frozen=True)
class _Target:
    kind: str
    contrasts: tuple[np.ndarray, np.ndarray] | None  # (i, j) index arrays of theta_i - theta_j; None: ratings
    z: float

    def weights(self, design: _Design) -> np.ndarray:
        var = self._var(design)
        if self.kind == "board":
            return (var / var.max()) ** (BOARD_FOCUS - 1)
        if self.kind == "pair":
            return np.ones(1)
        i, j = self.contrasts  # type: ignore[misc]
        d = np.abs(design.fit.theta[i] - design.fit.theta[j])
        sd = np.sqrt(np.maximum(var, 1e-300))
        # derivative of Phi(-|d| / sd) in the variance
        return np.exp(-0.5 * (d / sd) ** 2) / np.sqrt(2 * np.pi) * d / (2 * sd ** 3)

    def _var(self, design: _Design) -> np.ndarray:
        if self.contrasts is None:
            return np.diag(design.v).copy()
        i, j = self.contrasts
        v = design.v
        return np.clip(np.diag(v)[i] + np.diag(v)[j] - 2 * v[i, j], 0.0, None)

    def rows(self, design: _Design) -> np.ndarray:
        """``C V`` for the target's contrasts ``C``."""
        if self.contrasts is None:
            return design.v
        i, j = self.contrasts
        return design.v[i] - design.v[j]

    def value(self, design: _Design) -> float:
        """The measured target: widest interval or pair interval width (Elo), or the expected
        number of misordered top pairs."""
        var = self._var(design)
        if self.kind == "top":
            i, j = self.contrasts  # type: ignore[misc]
            d = np.abs(design.fit.theta[i] - design.fit.theta[j])
            return float(ndtr(-d / np.sqrt(np.maximum(var, 1e-300))).sum())
        return float(2 * self.z * design.factor * np.sqrt(var.max()))


def _target(fit: BTResult, target: str, top: int | None, pair: Sequence[str] | None, confidence: float) -> _Target:
    if target not in TARGETS:
        raise InputError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    z = z_value(confidence)
    n = len(fit.models)
    if target == "board":
        return _Target("board", None, z)
    if target == "pair":
        if pair is None or len(pair) != 2:
            raise InputError("target 'pair' needs pair=(model_a, model_b)")
        i, j = model_index(fit.models, list(pair))
        if i == j:
            raise InputError("the two models of a pair must differ")
        return _Target("pair", (np.array([i]), np.array([j])), z)
    k = DEFAULT_TOP if top is None else checks.integer("top", top, 1)
    k = min(k, n - 1)
    best = np.argsort(-fit.theta, kind="stable")[:k]
    a, b = pair_index(n)
    keep = np.isin(a, best) | np.isin(b, best)
    return _Target("top", (a[keep], b[keep]), z)


def _greedy(design: _Design, target: _Target, budget: int, steps: int) -> np.ndarray:
    """Battles per pair, spent greedily in ``steps`` steps."""
    alloc = np.zeros(len(design.a))
    steps = max(1, min(steps, budget))
    sizes = np.full(steps, budget // steps)
    sizes[: budget % steps] += 1
    for m in sizes:
        w = target.weights(design)
        cv = target.rows(design)  # (Q, n)
        g = cv[:, design.a] - cv[:, design.b]  # (Q, P): c_q' V u_p
        s = design.pair_var()
        k = m * design.c
        gain = k / (1 + k * s) * (w @ (g * g))
        p = int(np.argmax(gain))
        alloc[p] += m
        design.add(p, float(m))
    return alloc


@dataclass(frozen=True, repr=False, eq=False)
class SamplingPlan(Result):
    """Where the next battles should go, and what they are expected to buy.

    Attributes
    ----------
    pairs : pandas.DataFrame
        The pairs given battles, most first (:data:`PLAN_COLUMNS`): ``battles`` planned,
        ``current_battles`` so far, ``p_a`` = predicted P(model_a wins, ties half).
    models : list of str
    before, after : float
        The target now and after the plan: the widest rating interval (``board``) or the pair's
        interval width (``pair``), Elo points; the expected number of misordered top pairs
        (``top``).
    se_before, se_after : pandas.Series
        Each model's rating standard error now and after the plan (Fisher, Elo points).
    settings : dict
        ``target, budget, policy, top, pair, confidence``.
    """

    pairs: pd.DataFrame
    models: list[str]
    before: float
    after: float
    se_before: pd.Series
    se_after: pd.Series
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per model, best first: rating, battles so far, planned battles, standard
        error now and after the plan."""
        fit_order = list(self.se_before.index)
        planned = pd.concat([self.pairs.groupby("model_a")["battles"].sum(),
                             self.pairs.groupby("model_b")["battles"].sum()]).groupby(level=0).sum()
        out = pd.DataFrame({"model": fit_order, "planned_battles": planned.reindex(fit_order).fillna(0).to_numpy(),
                            "se": self.se_before.to_numpy(), "se_after": self.se_after.reindex(fit_order).to_numpy()})
        return out

    def _describe(self) -> str:
        s = self.settings
        return f"{s.get('policy')} plan of {s.get('budget')} battles for target {s.get('target')!r}"

    def summary(self) -> str:
        s = self.settings
        unit = "expected misordered pairs" if s.get("target") == "top" else "Elo (interval width)"
        lines = [f"{s.get('policy')} plan: {s.get('budget'):,} battles for target {s.get('target')!r}; "
                 f"{unit}: {self.before:.2f} -> {self.after:.2f}", "-" * 64,
                 self.pairs.head(20).to_string(index=False)]
        return "\n".join(lines)


def _as_fit(source: Any) -> BTResult:
    fit = getattr(source, "fit", source)
    if not isinstance(fit, BTResult):
        raise InputError("planning needs a plain Bradley-Terry fit (a board or fit without covariates)")
    return fit


def _pair_counts(fit: BTResult) -> np.ndarray:
    """Battles so far for every pair ``a < b`` of ``fit.models`` (pair_index order)."""
    pc = fit.counts
    n = pc.n_models
    tab = pc.table()
    m = np.zeros((n, n))
    m[pc.i, pc.j] = tab.sum(axis=1) if len(tab) else 0.0
    a, b = pair_index(n)
    return m[a, b] + m[b, a]


def _allocation(design: _Design, target: _Target, budget: int, policy: str, steps: int,
                rng: np.random.Generator | None = None) -> np.ndarray:
    if policy == "active":
        return _greedy(design, target, budget, steps)
    if policy == "uniform":
        share = np.ones(len(design.a))
    elif policy == "current":
        share = _pair_counts(design.fit)
        if share.sum() <= 0:
            share = np.ones(len(design.a))
    else:
        raise InputError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    share = share / share.sum()
    alloc = rng.multinomial(budget, share).astype(np.float64) if rng is not None else budget * share
    design.add_many(alloc)
    return alloc


def next_pairs(source: Any, budget: int, *, target: str = "board", top: int | None = None,
               pair: Sequence[str] | None = None, confidence: float = DEFAULT_CONFIDENCE, policy: str = "active",
               steps: int = GREEDY_STEPS) -> SamplingPlan:
    """The next ``budget`` battles: which pairs, how many each, and what they buy.

    Parameters
    ----------
    source : Leaderboard or BTResult
        The current board (its plain Bradley-Terry fit and counts).
    budget : int
        Battles to plan.
    target : {"board", "top", "pair"}
        What to shrink: the widest rating interval, the order of the ``top`` best models, or
        the interval of the difference of ``pair``.
    top : int, optional
        For ``target="top"`` (default :data:`DEFAULT_TOP`).
    pair : (str, str), optional
        For ``target="pair"``.
    confidence : float
        Level of the intervals measured.
    policy : {"active", "uniform", "current"}
        Greedy active sampling, or the expected effect of uniform / current-frequency sampling.
    steps : int
        Greedy steps at most.

    Returns
    -------
    SamplingPlan

    Examples
    --------
    >>> from arena_stats import fit_bradley_terry
    >>> from arena_stats.data.simulate import simulate_arena
    >>> fit = fit_bradley_terry(simulate_arena(8, 3000, seed=2).battles)
    >>> plan = next_pairs(fit, 500)
    >>> int(plan.pairs.battles.sum()), plan.after < plan.before
    (500, True)
    """
    fit = _as_fit(source)
    budget = checks.integer("budget", budget, 1)
    steps = checks.integer("steps", steps, 1)
    confidence = checks.probability("confidence", confidence)
    tgt = _target(fit, target, top, pair, confidence)
    design = _Design(fit)
    before = tgt.value(design)
    se_before = design.factor * np.sqrt(np.clip(np.diag(design.v), 0, None))
    alloc = _allocation(design, tgt, budget, policy, steps)
    after = tgt.value(design)
    se_after = design.factor * np.sqrt(np.clip(np.diag(design.v), 0, None))
    names = np.asarray(fit.models, dtype=object)
    current = _pair_counts(fit)
    d = fit.theta[design.a] - fit.theta[design.b]
    p = outcome_probabilities(d, fit.ties, fit.log_tie)
    chosen = np.flatnonzero(alloc > 0)
    pairs = pd.DataFrame({"model_a": names[design.a[chosen]], "model_b": names[design.b[chosen]],
                          "battles": alloc[chosen], "current_battles": current[chosen],
                          "p_a": p[chosen, 0] + 0.5 * p[chosen, 2]})
    if np.allclose(pairs["battles"], np.round(pairs["battles"])):
        pairs["battles"] = pairs["battles"].round().astype(np.int64)
    if np.allclose(pairs["current_battles"], np.round(pairs["current_battles"])):
        pairs["current_battles"] = pairs["current_battles"].round().astype(np.int64)
    pairs = pairs.sort_values(["battles", "model_a", "model_b"], ascending=[False, True, True],
                              kind="stable").reset_index(drop=True)
    order = list(fit.ratings.sort_values(ascending=False, kind="stable").index)
    idx = pd.Index(fit.models, name="model")
    settings = dict(target=target, budget=budget, policy=policy, top=top, pair=list(pair) if pair else None,
                    confidence=confidence, steps=steps, ties=fit.ties)
    return SamplingPlan(pairs=pairs, models=order, before=before, after=after,
                        se_before=pd.Series(se_before, index=idx, name="se").reindex(order),
                        se_after=pd.Series(se_after, index=idx, name="se_after").reindex(order), settings=settings)


def battles_needed(source: Any, *, width: float | None = None, pair: Sequence[str] | None = None,
                   separate: bool = False, target: str | None = None, top: int | None = None,
                   confidence: float = DEFAULT_CONFIDENCE, power: float = DEFAULT_POWER, policy: str = "active",
                   goal: float | None = None, max_battles: float = 1e9) -> float:
    """How many more battles until an interval reaches a width, or two models separate.

    * ``pair=(a, b), width=W``: direct battles of that pair until the interval of its
      difference is ``W`` Elo wide (closed form, see the module docstring).
    * ``pair=(a, b), separate=True``: direct battles until the difference's interval excludes 0
      with probability ``power``, taking the fitted difference as true (``inf`` when the fitted
      difference is 0).
    * ``width=W`` without a pair (``target="board"``): battles, spent by ``policy``, until the
      widest rating interval is ``W`` Elo wide.
    * ``target="top", goal=g``: battles until the expected number of misordered top pairs is
      ``g``.

    Examples
    --------
    >>> from arena_stats import fit_bradley_terry
    >>> from arena_stats.data.simulate import simulate_arena
    >>> fit = fit_bradley_terry(simulate_arena(6, 3000, seed=5).battles)
    >>> m = battles_needed(fit, pair=("model-000", "model-001"), width=20.0)
    >>> m > 0
    True
    """
    fit = _as_fit(source)
    confidence = checks.probability("confidence", confidence)
    z = z_value(confidence)
    design = _Design(fit)
    if pair is not None:
        tgt = _target(fit, "pair", None, pair, confidence)
        i, j = tgt.contrasts  # type: ignore[misc]
        p = int(np.flatnonzero((design.a == min(i[0], j[0])) & (design.b == max(i[0], j[0])))[0])
        s = float(design.pair_var()[p])
        if separate:
            power = checks.probability("power", power)
            d = abs(float(fit.theta[i[0]] - fit.theta[j[0]]))
            if d == 0:
                return float("inf")
            t = (d / (z + float(ndtri(power)))) ** 2
        else:
            if width is None:
                raise InputError("give width= or separate=True")
            width = checks.positive("width", width)
            t = (width / (2 * z * design.factor)) ** 2
        return float(max(0.0, (1 / t - 1 / s) / design.c[p])) if s > 0 else 0.0
    kind = target or "board"
    tgt = _target(fit, kind, top, None, confidence)
    if kind == "board":
        if width is None:
            raise InputError("give width= (the widest rating interval to reach, Elo points)")
        goal = checks.positive("width", width)
    elif goal is None:
        raise InputError("target 'top' needs goal= (expected number of misordered top pairs)")
    if tgt.value(design) <= goal:
        return 0.0
    return _battles_until(fit, tgt, float(goal), policy, max_battles)


def _battles_until(fit: BTResult, tgt: _Target, goal: float, policy: str, max_battles: float) -> float:
    """Battles spent by ``policy`` until the target reaches ``goal`` (``inf`` beyond ``max_battles``)."""
    design = _Design(fit)
    if policy == "active":
        # greedy steps of 1 % of the battles so far: the answer is resolved to about 1 %
        spent = 0.0
        while spent < max_battles:
            step = max(1, int(ACTIVE_RESOLUTION * (fit.n_battles + spent)))
            _greedy(design, tgt, step, 1)
            spent += step
            if tgt.value(design) <= goal:
                return spent
        return float("inf")
    if policy == "uniform":
        share = np.ones(len(design.a))
    elif policy == "current":
        share = _pair_counts(fit)
    else:
        raise InputError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    share = share / share.sum()
    base = _strength_information(fit)

    def value(m: float) -> float:
        extra = m * share * design.c
        info = base.copy()
        np.add.at(info, (design.a, design.a), extra)
        np.add.at(info, (design.b, design.b), extra)
        np.add.at(info, (design.a, design.b), -extra)
        np.add.at(info, (design.b, design.a), -extra)
        design.v = constrained_inverse(info, np.ones((design.n, 1)))
        return tgt.value(design)

    hi = max(1.0, fit.n_battles / 10)
    while value(hi) > goal:
        hi *= 2
        if hi > max_battles:
            return float("inf")
    lo = 0.0
    while hi - lo > max(1.0, ACTIVE_RESOLUTION * hi):  # to 1 %, like the active answer
        mid = (lo + hi) / 2
        if value(mid) <= goal:
            hi = mid
        else:
            lo = mid
    return float(np.ceil(hi))


# ------------------------------------------------------------------------------ simulation
def _draw(rng: np.random.Generator, battles: np.ndarray, theta: np.ndarray, a: np.ndarray, b: np.ndarray,
          tie_c: float) -> np.ndarray:
    """Outcomes of ``battles`` per pair under the simulator's ``half`` model (see simulate_arena)."""
    s = 1 / (1 + np.exp(-(theta[a] - theta[b])))
    p_t = 4 * tie_c * s * (1 - s)
    p = np.stack([s - p_t / 2, 1 - s - p_t / 2, p_t], axis=-1)
    p = np.clip(p, 0, None)
    p /= p.sum(axis=1, keepdims=True)
    return rng.multinomial(battles.astype(np.int64), p).astype(np.float64)


def simulate_policies(n_models: int = 12, initial: int = 3000, *, batch: int = 300, target: str = "board",
                      goal: float = 0.5, top: int | None = None, policies: Sequence[str] = POLICIES, seed: int = 0,
                      max_battles: int = 200_000, progress: bool = False) -> pd.DataFrame:
    """Battles each sampling policy needs to reach a target, on a simulated arena.

    A simulated arena (:func:`~arena_stats.data.simulate.simulate_arena`: skewed pair
    frequencies, ~30 % ties, a planted truth) gives the first ``initial`` battles. Then each
    policy, from the same start, adds ``batch`` battles at a time -- chosen by
    :func:`next_pairs` (``active``), uniformly over all pairs, or in proportion to the current
    pair counts -- with outcomes drawn from the planted truth, refits, and stops when the
    target has fallen to ``goal`` times its starting value (``board``: the widest rating
    interval; ``top``: the expected number of misordered top pairs).

    Returns
    -------
    pandas.DataFrame
        One row per policy: ``policy, battles`` (added until the goal; ``inf`` if not reached
        within ``max_battles``), ``start`` and ``end`` (the target).

    Examples
    --------
    >>> out = simulate_policies(8, 1500, batch=400, goal=0.7, seed=1).set_index("policy")
    >>> bool(out.loc["active", "battles"] <= out.loc["uniform", "battles"])
    True
    """
    from ..data.simulate import simulate_arena
    if target not in ("board", "top"):
        raise InputError("simulate_policies measures target 'board' or 'top'")
    seed = checks.seed(seed)
    sim = simulate_arena(n_models, initial, seed=seed)
    fit0 = fit_counts(_counts_of(sim.battles))
    models = fit0.models
    truth = (sim.true_ratings.reindex(models).to_numpy() - 1000.0) * np.log(10) / 400
    a, b = pair_index(len(models))
    start_table = np.zeros((len(a), 3))
    tab = fit0.counts.table()
    lookup = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(a, b))}
    for k, (i, j) in enumerate(zip(fit0.counts.i, fit0.counts.j)):
        start_table[lookup[(int(i), int(j))]] += [tab[k, 0], tab[k, 1], tab[k, 2] + tab[k, 3]]
    rows = []
    with progress_bar(len(policies), "policies", enabled=progress) as bar:
        for k, policy in enumerate(policies):
            rng = np.random.default_rng(np.random.SeedSequence([seed, k]))
            table = start_table.copy()
            fit = fit0
            tgt = _target(fit, target, top, None, DEFAULT_CONFIDENCE)
            start = tgt.value(_Design(fit))
            value, spent = start, 0
            while value > goal * start and spent < max_battles:
                design = _Design(fit)
                alloc = _allocation(design, tgt, batch, policy, min(GREEDY_STEPS, batch), rng)
                table += _draw(rng, alloc, truth, a, b, sim.nu)
                spent += batch
                try:
                    fit = fit_counts(counts_from_table(models, a, b, table), x0=fit.params.to_numpy())
                except NoMLEError:  # pragma: no cover - the start already has a finite MLE
                    continue
                tgt = _target(fit, target, top, None, DEFAULT_CONFIDENCE)
                value = tgt.value(_Design(fit))
            rows.append({"policy": policy, "battles": float(spent) if value <= goal * start else float("inf"),
                         "start": start, "end": value})
            bar.update(1)
    return pd.DataFrame(rows)


def _counts_of(battles: Any) -> PairCounts:
    from ..data.aggregate import aggregate
    return aggregate(battles)
