"""Glicko-2 ratings: online ratings with a per-model rating deviation (RD) and volatility.

Glickman's Glicko-2 system ("Example of the Glicko-2 system", 2012) groups games into *rating
periods*. Within a period every model is rated against its opponents' ratings *at the start of
the period*; the update is the closed form of one approximate-Bayesian step:

* on the internal scale ``mu = (r - 1500) / 173.7178``, ``phi = RD / 173.7178``, each opponent's
  result is damped by ``g(phi_j) = 1 / sqrt(1 + 3 phi_j^2 / pi^2)`` (an uncertain opponent tells
  less), with expectation ``E = 1 / (1 + exp(-g(phi_j) (mu - mu_j)))``;
* ``v`` (the estimated variance from the period's games) and ``Delta`` (the improvement) follow;
* the new volatility ``sigma'`` solves Glickman's equation ``f(x) = 0`` with the Illinois
  (regula falsi) iteration, constrained by the system constant ``tau``;
* ``phi* = sqrt(phi^2 + sigma'^2)``, ``phi' = 1 / sqrt(1 / phi*^2 + 1 / v)`` and
  ``mu' = mu + phi'^2 sum g(phi_j) (s_j - E_j)``.

A model that sits a period out keeps its rating and its RD grows to ``sqrt(phi^2 + sigma^2)``;
a model that has not entered yet is not in the pool and does not accumulate uncertainty. Ties
score 1/2. Everything in a period is vectorised over games (``bincount``) and over models (the
Illinois iteration runs on all models of the period at once), so the cost is O(games) per
period plus a few dozen array steps.

Rating periods come from ``tstamp`` (``"day"``, ``"week"``, ``"month"``) or are fixed-size
batches of battles in time order (an int). Unlike Elo, Glicko-2 starts new models at 1500 (RD
350, volatility 0.06) by default. The reported scale is the package's one Elo scale:
``rating = init + (scale / ln(base)) * mu``, so ``scale`` and ``base`` mean what they mean
everywhere (400 and 10 give Glickman's 173.7178) and the default RD scales with them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._util import checks
from .._util.renamed import renamed
from ..data.aggregate import model_totals
from ..data.battles import Battles, timestamps
from ..data.readers import as_battles
from ..errors import ConvergenceError, InputError, suggest
from ..models.covariance import z_value
from ..models.elo_scale import DEFAULT_BASE, DEFAULT_SCALE, EloScale
from ..models.results import Result
from .elo import expand_counts, leaderboard_frame, summary_lines, time_order, verdict_scores

__all__ = ["GlickoResult", "glicko2", "glicko2_update", "GLICKO_SCALE", "DEFAULT_RATING", "DEFAULT_RD",
           "DEFAULT_VOLATILITY", "DEFAULT_TAU", "PERIODS"]

#: Factor between the Glicko (1500-centred) scale and the internal Glicko-2 scale: Glickman's
#: 173.7178 is ``400 / ln(10)`` rounded; the exact value is the package's one Elo scale.
GLICKO_SCALE = 400.0 / math.log(10.0)
DEFAULT_RATING = 1500.0
DEFAULT_RD = 350.0
DEFAULT_VOLATILITY = 0.06
#: System constant: how much the volatility may change (Glickman suggests 0.3-1.2).
DEFAULT_TAU = 0.5
#: Convergence tolerance of the volatility iteration (Glickman's epsilon).
VOLATILITY_TOL = 1e-6
MAX_ILLINOIS = 200
PERIODS = ("day", "week", "month")
#: Battles per rating period when there are no timestamps and no period was given.
DEFAULT_BATCH = 1000
_FREQ = {"day": "D", "week": "W", "month": "M"}


@dataclass(frozen=True, repr=False, eq=False)
class GlickoResult(Result):
    """Glicko-2 ratings after the last rating period.

    Attributes
    ----------
    models : list of str
    ratings, rd, volatility : pandas.Series
        Glicko scale (1500-centred); ``rd`` is the rating deviation (a standard deviation).
    ci_lower, ci_upper : pandas.Series
        ``rating -/+ z * rd`` at ``confidence``.
    totals : pandas.DataFrame
        Per model: battles, wins, losses, ties, win_rate.
    n_periods : int
    history : pandas.DataFrame or None
        With ``history=True``: tidy ``period, date, model, rating, rd, volatility`` after every
        period, for the models that had entered by then (``date``: the period's last battle).
    tau, init_rating, init_rd, init_volatility, confidence : float
    period : str or int
        The rating periods used.
    settings : dict
        ``tau, init, rd, volatility, scale, base, confidence, period``.
    """

    models: list[str]
    ratings: pd.Series
    rd: pd.Series
    volatility: pd.Series
    ci_lower: pd.Series
    ci_upper: pd.Series
    totals: pd.DataFrame
    n_periods: int
    history: pd.DataFrame | None
    tau: float
    init_rating: float
    init_rd: float
    init_volatility: float
    confidence: float
    period: str | int
    settings: dict[str, Any] = field(default_factory=dict)

    def _describe(self) -> str:
        return f"{len(self.models)} models, {self.n_periods} periods ({self.period}), tau={self.tau:g}"

    def to_frame(self) -> pd.DataFrame:
        """Best first, in the leaderboard's columns plus ``rd`` and ``volatility``.

        ``rank`` is LMSYS's Rank (UB) on the ``rating +- z * RD`` intervals.
        """
        return leaderboard_frame(self.ratings, self.ci_lower, self.ci_upper, self.totals,
                                 {"rd": self.rd, "volatility": self.volatility})

    def summary(self, top: int | None = 20) -> str:
        title = [f"Glicko-2 over {self.n_periods} rating periods ({self.period}), tau={self.tau:g}; "
                 f"{self.confidence:.0%} intervals rating +- z*RD"]
        return summary_lines(title, self.to_frame(), [("rank", "rank", ">4"), ("model", "model", "<30"),
                                                      ("rating", "rating", "8.1f"), ("rd", "RD", "6.1f"),
                                                      ("battles", "battles", "8,.0f")], top)

    def __str__(self) -> str:
        return self.summary()


# ------------------------------------------------------------------------------ one period
def _g(phi: np.ndarray) -> np.ndarray:
    return 1.0 / np.sqrt(1.0 + 3.0 * phi * phi / (math.pi * math.pi))


def _new_volatility(phi: np.ndarray, sigma: np.ndarray, delta: np.ndarray, v: np.ndarray, tau: float,
                    tol: float = VOLATILITY_TOL) -> np.ndarray:
    """Glickman's step 5 (Illinois iteration), for many players at once."""
    a = np.log(sigma * sigma)
    d2, p2 = delta * delta, phi * phi

    def f(x: np.ndarray) -> np.ndarray:
        ex = np.exp(x)
        return ex * (d2 - p2 - v - ex) / (2.0 * (p2 + v + ex) ** 2) - (x - a) / (tau * tau)

    big = d2 > p2 + v
    lo = a.copy()
    hi = np.where(big, np.log(np.where(big, d2 - p2 - v, 1.0)), a - tau)
    # when Delta^2 <= phi^2 + v, step down by tau until f turns non-negative
    need = ~big
    k = 1
    while need.any():
        fh = f(hi)
        need = need & (fh < 0)
        k += 1
        hi = np.where(need, a - k * tau, hi)
        if k > MAX_ILLINOIS:
            raise ConvergenceError("Glicko-2 volatility bracket not found")
    f_lo, f_hi = f(lo), f(hi)
    for _ in range(MAX_ILLINOIS):
        active = np.abs(hi - lo) > tol
        if not active.any():
            break
        c = lo + (lo - hi) * f_lo / (f_hi - f_lo)
        fc = f(c)
        swap = fc * f_hi <= 0
        lo = np.where(active & swap, hi, lo)
        f_lo = np.where(active & swap, f_hi, np.where(active, f_lo / 2.0, f_lo))
        hi = np.where(active, c, hi)
        f_hi = np.where(active, fc, f_hi)
    else:
        raise ConvergenceError("Glicko-2 volatility iteration did not converge")
    return np.exp(lo / 2.0)


def _period(mu: np.ndarray, phi: np.ndarray, sigma: np.ndarray, i: np.ndarray, j: np.ndarray, s: np.ndarray,
            tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One rating period for all players: games ``i`` vs ``j`` with ``i``'s score ``s``.

    Returns new ``mu, phi, sigma`` (players without games: RD grows, nothing else changes).
    """
    n = len(mu)
    p = np.concatenate([i, j])
    o = np.concatenate([j, i])
    sc = np.concatenate([s, 1.0 - s])
    gg = _g(phi[o])
    e = 1.0 / (1.0 + np.exp(-gg * (mu[p] - mu[o])))
    vinv = np.bincount(p, weights=gg * gg * e * (1.0 - e), minlength=n)
    dsum = np.bincount(p, weights=gg * (sc - e), minlength=n)
    played = np.bincount(p, minlength=n) > 0
    new_mu, new_sigma = mu.copy(), sigma.copy()
    new_phi = np.sqrt(phi * phi + sigma * sigma)
    if played.any():
        v = 1.0 / vinv[played]
        delta = v * dsum[played]
        sig = _new_volatility(phi[played], sigma[played], delta, v, tau)
        phi_star = np.sqrt(phi[played] ** 2 + sig * sig)
        phi_new = 1.0 / np.sqrt(1.0 / phi_star ** 2 + 1.0 / v)
        new_mu[played] = mu[played] + phi_new ** 2 * dsum[played]
        new_phi[played] = phi_new
        new_sigma[played] = sig
    return new_mu, new_phi, new_sigma


def glicko2_update(rating: float, rd: float, volatility: float, opponent_ratings: Any, opponent_rds: Any,
                   scores: Any, tau: float = DEFAULT_TAU) -> tuple[float, float, float]:
    """One Glicko-2 rating period for one player (Glickman's worked example is the test).

    Parameters
    ----------
    rating, rd, volatility : float
        The player's values at the start of the period (Glicko scale).
    opponent_ratings, opponent_rds : array-like
        Each opponent's rating and RD at the start of the period.
    scores : array-like
        1 win, 0 loss, 0.5 draw, one per game.
    tau : float

    Returns
    -------
    (rating, rd, volatility) after the period.

    Examples
    --------
    >>> r, rd, vol = glicko2_update(1500, 200, 0.06, [1400, 1550, 1700], [30, 100, 300], [1, 0, 0])
    >>> round(r, 2), round(rd, 2), round(vol, 5)
    (1464.05, 151.52, 0.06)
    """
    opp_r = np.atleast_1d(np.asarray(opponent_ratings, float))
    opp_rd = np.atleast_1d(np.asarray(opponent_rds, float))
    s = np.atleast_1d(np.asarray(scores, float))
    if not (len(opp_r) == len(opp_rd) == len(s)):
        raise InputError("opponent_ratings, opponent_rds and scores must have the same length")
    m = len(s)
    mu = np.concatenate([[(rating - DEFAULT_RATING) / GLICKO_SCALE], (opp_r - DEFAULT_RATING) / GLICKO_SCALE])
    phi = np.concatenate([[rd / GLICKO_SCALE], opp_rd / GLICKO_SCALE])
    sigma = np.full(m + 1, float(volatility))
    # only player 0's update is wanted; opponents are separate entries, updated but ignored
    mu2, phi2, sigma2 = _period(mu, phi, sigma, np.zeros(m, np.int64), np.arange(1, m + 1), s, tau)
    return (float(mu2[0] * GLICKO_SCALE + DEFAULT_RATING), float(phi2[0] * GLICKO_SCALE), float(sigma2[0]))


# ------------------------------------------------------------------------------- the system
def _period_ids(battles: Battles, rows: np.ndarray, period: str | int) -> tuple[np.ndarray, np.ndarray]:
    """Period id per processed battle (non-decreasing) and each period's last timestamp."""
    if isinstance(period, (int, np.integer)) and not isinstance(period, bool):
        if period < 1:
            raise InputError(f"period must be a positive number of battles, got {period}")
        pid = np.arange(len(rows)) // int(period)
        return pid, np.full(pid.max() + 1 if len(pid) else 0, np.datetime64("NaT"), dtype="datetime64[ns]")
    if period not in PERIODS:
        raise InputError(f"period must be one of {', '.join(PERIODS)} or a number of battles, got {period!r}")
    if "tstamp" not in battles.frame:
        raise InputError(f"period={period!r} needs a 'tstamp' column; without one pass a number of "
                         "battles per period (e.g. period=1000)", column="tstamp")
    ts = timestamps(battles.frame["tstamp"]).iloc[rows]
    if ts.isna().any():
        raise InputError(f"{int(ts.isna().sum())} battles have no timestamp; drop them or use "
                         "fixed-size periods", column="tstamp")
    per = ts.dt.to_period(_FREQ[period]).to_numpy()
    change = np.ones(len(per), bool)
    change[1:] = per[1:] != per[:-1]
    pid = np.cumsum(change) - 1
    last_ts = ts.to_numpy()[np.r_[np.flatnonzero(change)[1:] - 1, len(per) - 1]]
    return pid, last_ts


def glicko2(battles: Battles | pd.DataFrame, period: str | int | None = None, *, tau: float = DEFAULT_TAU,
            init: float = DEFAULT_RATING, rd: float | None = None, volatility: float = DEFAULT_VOLATILITY,
            scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE,
            initial: Mapping[str, tuple[float, float, float]] | None = None, confidence: float = 0.95,
            history: bool = False, rating: float | None = None) -> GlickoResult:
    """Glicko-2 ratings with per-model rating deviations.

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
        Processed in time order (``tstamp``, stable) or file order; ties score 1/2.
    period : {"day", "week", "month"} or int, optional
        Rating periods by calendar (needs ``tstamp``) or fixed batches of this many battles.
        Default: ``"week"`` with timestamps, else batches of :data:`DEFAULT_BATCH`.
    tau : float
        System constant limiting volatility changes.
    init, rd, volatility : float
        Starting rating, rating deviation (default 350 at scale 400, base 10; proportional
        otherwise) and volatility of a new model.
    scale, base : float
        The Elo scale of the reported ratings: ``rating = init + scale / ln(base) * mu``.
    initial : dict, optional
        ``{model: (rating, rd, volatility)}`` starting values for some models.
    confidence : float
        Level of ``rating +- z * RD``.
    history : bool
        Also return every model's values after every period.
    rating : float, optional
        Deprecated spelling of ``init``.

    Returns
    -------
    GlickoResult

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"model_a": ["p", "p", "p"], "model_b": ["x", "y", "z"],
    ...                    "winner": ["model_a", "model_b", "model_b"]})
    >>> res = glicko2(df, period=3, initial={"p": (1500, 200, 0.06), "x": (1400, 30, 0.06),
    ...               "y": (1550, 100, 0.06), "z": (1700, 300, 0.06)})
    >>> round(float(res.ratings["p"]), 2), round(float(res.rd["p"]), 2)
    (1464.05, 151.52)
    """
    init = renamed("rating", rating, "init", None, where="glicko2") if rating is not None else init
    elo = EloScale(scale, base, init)
    factor = elo.factor
    if rd is None:
        rd = DEFAULT_RD * factor / GLICKO_SCALE
    tau, rd, volatility = (checks.positive(name, v) for name, v in (("tau", tau), ("rd", rd),
                                                                     ("volatility", volatility)))
    confidence = checks.probability("confidence", confidence)
    battles = as_battles(battles)
    if len(battles) == 0:
        raise InputError("no battles to rate")
    if battles.weights is not None:
        raise InputError("Glicko-2 has no notion of battle weights; drop the weight column")
    if period is None:
        period = "week" if "tstamp" in battles.frame else DEFAULT_BATCH
    order, _ = time_order(battles)
    rows = expand_counts(battles, order)
    a = battles.a.astype(np.int64)[rows]
    b = battles.b.astype(np.int64)[rows]
    s = verdict_scores(battles.outcome[rows])
    pid, last_ts = _period_ids(battles, rows, period)
    models = battles.models
    n = len(models)
    centre = elo.init
    mu = np.zeros(n)
    phi = np.full(n, rd / factor)
    sigma = np.full(n, float(volatility))
    for name, (r0, rd0, v0) in (initial or {}).items():
        if name not in models:
            raise InputError(f"initial values for unknown model {str(name)[:80]!r}{suggest(name, models)}")
        k = models.index(name)
        mu[k], phi[k], sigma[k] = (checks.finite("initial rating", r0) - centre) / factor, \
            checks.positive("initial rd", rd0) / factor, checks.positive("initial volatility", v0)
    entered = np.zeros(n, bool)
    bounds = np.r_[0, np.flatnonzero(np.diff(pid)) + 1, len(pid)]
    records = []
    for p in range(len(bounds) - 1):
        sl = slice(bounds[p], bounds[p + 1])
        entered[a[sl]] = True
        entered[b[sl]] = True
        new_mu, new_phi, new_sigma = _period(mu, phi, sigma, a[sl], b[sl], s[sl], tau)
        # models not yet in the pool keep their starting values
        mu = np.where(entered, new_mu, mu)
        phi = np.where(entered, new_phi, phi)
        sigma = np.where(entered, new_sigma, sigma)
        if history:
            idx = np.flatnonzero(entered)
            records.append(pd.DataFrame({"period": p, "date": last_ts[p] if p < len(last_ts) else pd.NaT,
                                         "model": np.asarray(models, dtype=object)[idx],
                                         "rating": mu[idx] * factor + centre,
                                         "rd": phi[idx] * factor, "volatility": sigma[idx]}))
    index = pd.Index(models, name="model")
    r = pd.Series(mu * factor + centre, index=index, name="rating")
    d = pd.Series(phi * factor, index=index, name="rd")
    z = z_value(confidence)
    return GlickoResult(
        models=models, ratings=r, rd=d, volatility=pd.Series(sigma, index=index, name="volatility"),
        ci_lower=(r - z * d).rename("ci_lower"), ci_upper=(r + z * d).rename("ci_upper"),
        totals=model_totals(battles), n_periods=len(bounds) - 1,
        history=pd.concat(records, ignore_index=True) if history else None, tau=float(tau),
        init_rating=float(centre), init_rd=float(rd), init_volatility=float(volatility),
        confidence=float(confidence), period=period,
        settings=dict(tau=float(tau), init=float(centre), rd=float(rd), volatility=float(volatility),
                      scale=elo.scale, base=elo.base, confidence=float(confidence), period=period))
