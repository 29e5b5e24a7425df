"""A deterministic arena simulator: realistic battles with a known truth.

Used for the bundled example (``arena-stats leaderboard --example``), for tests that must recover
a planted truth, and for benchmarks. The generative model:

* True ratings on the Elo scale, normal around 1000 with a spread like the public Chatbot Arena
  leaderboard (:data:`RATING_SPREAD`).
* Skewed pair frequencies: each model has a log-normal popularity and a pair is drawn with
  probability proportional to the product of the two popularities, so a few pairs dominate and
  many are rare, as in a real arena. Models also enter at staggered dates.
* Verdicts drawn so that the ties-as-half BT fit is consistent for the planted ratings (or from
  a Davidson model, ``tie_model="davidson"``), with ~30 % ties by default; a share of ties are
  ``tie (bothbad)``, more often when both contestants are weak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .battles import A_WINS, B_WINS, BOTHBAD, TIE, Battles, drop_unused_models

__all__ = ["SimulatedArena", "simulate_arena", "EXAMPLE_SEED"]

RATING_MEAN = 1000.0
RATING_SPREAD = 100.0
POPULARITY_SIGMA = 1.0
#: How fast the chance that a tie is "both bad" grows as the pair gets weaker (logit per unit).
BOTHBAD_WEAKNESS = 1.5
EXAMPLE_SEED = 20240813
LANGUAGES = ("English", "Chinese", "German", "Spanish", "Russian", "French", "Japanese")
LANGUAGE_P = (0.70, 0.09, 0.05, 0.05, 0.04, 0.04, 0.03)
CATEGORIES = ("coding", "math", "creative_writing", "hard_prompts", "other")
CATEGORY_P = (0.2, 0.1, 0.15, 0.25, 0.3)


@dataclass(frozen=True)
class SimulatedArena:
    """Simulated battles with the ratings that generated them.

    Attributes
    ----------
    battles : Battles
        The battles, with ``tstamp`` (Unix seconds), ``language``, ``category``, ``anony`` and
        ``judge`` columns.
    true_ratings : pandas.Series
        The planted ratings on the Elo scale (scale 400, base 10), mean 1000.
    nu : float
        The tie parameter used: Davidson's ``nu``, or ``c`` of the ``half`` tie model.
    """

    battles: Battles
    true_ratings: pd.Series
    nu: float


def _tie_nu(tie_rate: float) -> float:
    # P(tie) = nu / (2 + nu) for equal strengths; spread lowers it a little, so aim slightly high.
    t = min(max(tie_rate, 0.0), 0.95) * 1.08
    return 2 * t / (1 - t) if t < 1 else 50.0


def simulate_arena(n_models: int = 50, n_battles: int = 100_000, *, tie_rate: float = 0.3,
                   bothbad_share: float = 0.25, seed: int = EXAMPLE_SEED, spread: float = RATING_SPREAD,
                   scale: float = 400.0, base: float = 10.0, start: str = "2024-01-01",
                   days: int = 365, n_judges: int = 2000, tie_model: str = "half") -> SimulatedArena:
    """Simulate an arena of ``n_models`` models and ``n_battles`` battles.

    Parameters
    ----------
    n_models, n_battles : int
        Size of the arena.
    tie_rate : float
        Approximate share of ties (both kinds together).
    bothbad_share : float
        Approximate share of ties that are ``tie (bothbad)``.
    seed : int
        Seed; the same seed gives the same battles, bit for bit.
    spread : float
        Standard deviation of the true ratings (Elo points).
    scale, base : float
        Elo scale of the true ratings: P(i beats j) = 1 / (1 + base ** ((R_j - R_i) / scale)).
    start, days : str, int
        Time span of the ``tstamp`` column.
    n_judges : int
        Number of distinct voters in the ``judge`` column (for clustered bootstraps).
    tie_model : {"half", "davidson"}
        How verdicts are drawn. ``half``: ``P(a) + P(tie) / 2 = sigmoid(d)`` with
        ``P(tie) = 4 c s (1 - s)``, so the ties-as-half BT fit (LMSYS's) is consistent for the
        planted ratings. ``davidson``: a Davidson model with tie parameter ``nu``, consistent for
        ``fit_bradley_terry(..., ties="davidson")``. The planted ratings are what the matching fit
        estimates; the other fit estimates a monotone but compressed transform of them.

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> sim = simulate_arena(n_models=5, n_battles=1000, seed=1)
    >>> len(sim.battles), sim.battles.n_models
    (1000, 5)
    """
    if n_models < 2:
        raise ValueError("n_models must be at least 2")
    rng = np.random.default_rng(seed)
    names = [f"model-{k:03d}" for k in range(n_models)]
    ratings = rng.normal(0.0, spread, n_models)
    ratings += RATING_MEAN - ratings.mean()
    theta = (ratings - RATING_MEAN) * np.log(base) / scale
    popularity = rng.lognormal(0.0, POPULARITY_SIGMA, n_models)
    # Pairs with probability proportional to popularity_i * popularity_j (i != j).
    pop = popularity / popularity.sum()
    a = rng.choice(n_models, size=n_battles, p=pop)
    # draw b from the same popularity, redrawing the rows where it collides with a
    b = rng.choice(n_models, size=n_battles, p=pop)
    clash = a == b
    while clash.any():
        b[clash] = rng.choice(n_models, size=int(clash.sum()), p=pop)
        clash = a == b
    d = theta[a] - theta[b]
    r = rng.random(n_battles)
    if tie_model == "davidson":
        nu = _tie_nu(tie_rate)
        u, v = np.exp(d / 2), np.exp(-d / 2)
        z = u + v + nu
        p_a, p_b = u / z, v / z
    elif tie_model == "half":
        # P(tie) = 4 c s (1 - s) with s = sigmoid(d), and P(a) = s - P(tie) / 2: then
        # P(a) + P(tie) / 2 = sigmoid(d), so the ties-as-half BT fit is consistent for theta.
        nu = min(max(tie_rate, 0.0), 1.0) * 1.08
        s_ = 1 / (1 + np.exp(-d))
        p_t = 4 * nu * s_ * (1 - s_)
        p_a = s_ - p_t / 2
        p_b = 1 - s_ - p_t / 2
    else:
        raise ValueError(f"tie_model must be 'half' or 'davidson', got {tie_model!r}")
    outcome = np.where(r < p_a, A_WINS, np.where(r < p_a + p_b, B_WINS, TIE)).astype(np.int8)
    # bothbad: more likely when both are weak; logistic in the pair's mean strength
    weak = -(theta[a] + theta[b]) / 2
    share = min(max(bothbad_share, 1e-12), 1 - 1e-12)
    p_bb = 1 / (1 + np.exp(-(np.log(share / (1 - share)) + BOTHBAD_WEAKNESS * weak)))
    draw = rng.random(n_battles)
    if bothbad_share > 0:
        outcome[(outcome == TIE) & (draw < p_bb)] = BOTHBAD
    # staggered entry: each model enters at a random day; a battle happens after both entered
    entry = np.sort(rng.uniform(0, 0.8 * days, n_models))
    rng.shuffle(entry)
    t0 = np.maximum(entry[a], entry[b])
    t_days = t0 + rng.random(n_battles) * (days - t0)
    tstamp = pd.Timestamp(start).timestamp() + t_days * 86400.0
    order = np.argsort(tstamp, kind="stable")
    cats = pd.Index(names)
    frame = pd.DataFrame({
        "model_a": pd.Categorical.from_codes(a[order].astype(np.int32), categories=cats),
        "model_b": pd.Categorical.from_codes(b[order].astype(np.int32), categories=cats),
        "outcome": outcome[order],
        "tstamp": np.round(tstamp[order], 3),
        "language": pd.Categorical.from_codes(
            rng.choice(len(LANGUAGES), size=n_battles, p=LANGUAGE_P).astype(np.int8), categories=list(LANGUAGES)),
        "category": pd.Categorical.from_codes(
            rng.choice(len(CATEGORIES), size=n_battles, p=CATEGORY_P).astype(np.int8), categories=list(CATEGORIES)),
        "anony": rng.random(n_battles) < 0.9,
        "judge": rng.integers(0, n_judges, n_battles).astype(np.int32),
    })
    # a model that never got a battle would break the shared-categories invariant
    battles = Battles(frame=drop_unused_models(frame), steps=(), sources=(f"<simulated seed={seed}>",),
                      schema="arena")
    return SimulatedArena(battles=battles, true_ratings=pd.Series(ratings, index=cats, name="true_rating"), nu=nu)
