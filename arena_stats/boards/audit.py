"""Is the order real? Named diagnostics of a leaderboard, each with a value, a threshold and a verdict.

:func:`audit` builds the board (:func:`~arena_stats.boards.leaderboard.leaderboard`) and runs
the checks below on the battles and the board. Every check reports one measured ``value``, a
documented ``threshold`` and a one-line ``message``; its ``verdict`` is ``pass``, ``warn``
(the board is right, read it with care), ``fail`` (a number on the board is wrong or cannot be
trusted) or ``skip`` (the check does not apply: no timestamps, no voter column, order of
display unknown, no finite fit). The tests behind the checks are calibrated to fire at most
:data:`ALPHA` of the time on a board without the defect.

``connectivity`` (fail)
    Connected components of the comparison graph, and whether the maximum-likelihood ratings
    exist (:func:`~arena_stats.models.existence.check_mle_exists`); also the share of pairs
    never compared. Ratings in two groups that never met are not on one scale. Threshold: one
    component and a finite MLE.
``coverage`` (warn)
    Each model's share of battles and of the field it met (and, with timestamps, its share per
    period). Value: the most-sampled model's battles over the median model's; threshold
    :data:`COVERAGE_RATIO`. Uneven sampling does not bias Bradley-Terry, but the over-sampled
    models get narrow intervals, and an arena that samples some models more (Singh et al.
    2025, "The Leaderboard Illusion") should say so.
``position`` (fail)
    The first-shown (``model_a``) side's advantage on the log-odds (Elo) scale: its score
    (wins + ties / 2) minus what the fit predicts for the same battles, over the information,
    i.e. one Newton step of the position coefficient of
    :func:`~arena_stats.models.contextual.fit_contextual` from zero, with its interval
    (cluster-robust with ``cluster=``). Fires when the interval at level ``1 - ALPHA`` excludes
    0 and the advantage is at least :data:`POSITION_MIN_ELO`. Skipped when the order is not known
    (winner-loser input, or no B-side win at all).
``ties`` (warn)
    The board refitted under the other tie conventions (``drop``, ``davidson``): value, the
    models whose position under another convention falls outside their rank interval
    ``[rank_lower, rank_upper]`` on the board; threshold 0. Skipped without ties.
``intransitivity`` (warn)
    Cyclic triads (A beats B beats C beats A, by observed win fraction), weighted by the evidence
    of their weakest edge: ``T = sum over cyclic triads of (z_ab z_bc z_ca)^(1/3)`` with
    ``z = 2 (f - 1/2) sqrt(n)``, against ``T`` in :data:`INTRANSITIVITY_SIMULATIONS` arenas
    drawn from the fitted (transitive) model with the same pairs, battles and tie shares.
    Value: the p-value; fires below :data:`ALPHA`. A cycle is also a misfit of the model, so a
    strong one makes ``fit`` fire too.
``fit`` (fail)
    Goodness of fit: Pearson's ``X^2 = sum over pairs (O - n pi)^2 / (n pi (1 - pi))`` of each
    pair's score (wins + ties / 2) against the fitted probability ``pi``, against a parametric
    bootstrap of :data:`FIT_SIMULATIONS` arenas drawn from the fit (ties at each pair's observed
    share) *and refitted*; the p-value is that of a scaled chi-square matched to the
    simulations' mean and variance (Satterthwaite), smooth in the tail. Fires below :data:`ALPHA`. ``detail`` is the
    calibration table (observed against predicted win fraction in bins).
``influence`` (fail)
    Leave-one-voter-out: each voter's (judge's) battles are removed and the board refitted.
    All voters are screened by the one-step influence ``-cov @ score`` (the Newton step of
    removing their votes), the :data:`INFLUENCE_REFITS` most influential are refitted exactly.
    Value: the most models one voter's removal moves outside their rank interval (a voter who
    is the only judge of a model, or whose removal leaves no finite fit, counts as moving it);
    threshold 0. Uses ``cluster`` or the first of :data:`VOTER_COLUMNS` present; skipped
    without one (or with a single voter).
``separation`` (warn)
    Neighbours on the board that are not separated at the family-wise level
    (:mod:`~arena_stats.inference.simultaneous`); value their number, threshold 0. The tiers of
    models that cannot be told apart are in ``detail``.

The audit also keeps the board, the pairwise separation and the quasi-variances
(:mod:`~arena_stats.inference.quasi`) so that a report shows them without refitting.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .._util import checks
from .._util.progress import progress as progress_bar
from ..data.aggregate import PairCounts, aggregate, cluster_cell_matrix, counts_from_table, model_totals
from ..data.battles import A_WINS, B_WINS, Battles, timestamps
from ..data.readers import as_battles
from ..errors import ArenaStatsError, InputError, NoMLEError
from ..inference.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_ROUNDS
from ..inference.quasi import QuasiVariances, quasi_variances
from ..inference.simultaneous import Separation, separation
from ..models.bradley_terry import BTResult, cluster_robust_cov, fit_counts
from ..models.covariance import cell_scores, z_value
from ..models.existence import check_mle_exists
from ..models.families import outcome_probabilities
from ..models.results import Result
from .leaderboard import Leaderboard, leaderboard

__all__ = ["Audit", "Check", "audit", "CHECKS", "VERDICTS", "SEVERITY", "VOTER_COLUMNS", "ALPHA", "COVERAGE_RATIO",
           "POSITION_MIN_ELO", "INFLUENCE_REFITS", "INTRANSITIVITY_SIMULATIONS", "FIT_SIMULATIONS"]

#: The checks, in the order they are reported.
CHECKS = ("connectivity", "coverage", "position", "ties", "intransitivity", "fit", "influence", "separation")
VERDICTS = ("pass", "warn", "fail", "skip")
#: What a check that fires reports: ``fail`` when a number on the board is wrong or
#: meaningless, ``warn`` when the board is right but must be read with care.
SEVERITY = {"connectivity": "fail", "coverage": "warn", "position": "fail", "ties": "warn",
            "intransitivity": "warn", "fit": "fail", "influence": "fail", "separation": "warn"}
#: Significance level of the checks that are tests (position, intransitivity, fit): each fires
#: on at most 1 % of boards without the defect, so a clean board passes all of them ~97 % of the
#: time.
ALPHA = 0.01
#: Coverage fires when the most-sampled model has more than this many times the median model's
#: battles: its interval is then more than sqrt(5) = 2.2 times narrower than the median one.
COVERAGE_RATIO = 5.0
#: A model that met less than this share of the field is listed in the coverage message.
MIN_OPPONENT_SHARE = 0.5
#: A first-shown advantage smaller than this many Elo points (1.4 points of win rate between
#: equals) is not worth a verdict, however significant on a huge arena.
POSITION_MIN_ELO = 10.0
#: Arenas drawn from the fitted model for the reference distribution of the cycle statistic.
INTRANSITIVITY_SIMULATIONS = 200
#: ... and for the goodness-of-fit statistic (each refitted, so fewer).
FIT_SIMULATIONS = 100
#: Edges with |z| at least this are "strong" when listing cyclic triads.
STRONG_EDGE_Z = 2.0
#: Cyclic triads listed in the intransitivity detail.
MAX_LISTED_TRIADS = 10
#: Voters refitted exactly (after the one-step screen of all of them).
INFLUENCE_REFITS = 10
#: Columns taken as the voter (judge) when ``cluster`` is not given, in this order.
VOTER_COLUMNS = ("judge", "voter", "judge_id", "voter_id", "user", "user_id", "worker", "annotator")
#: Bins of predicted win fraction in the calibration table.
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Check:
    """One diagnostic: what was measured, against what, and the verdict.

    Attributes
    ----------
    name : str
        One of :data:`CHECKS`.
    title : str
        What the check asks.
    verdict : str
        One of :data:`VERDICTS`.
    value, threshold : float or None
        The measured value and the threshold it is compared with (``None`` when skipped).
    statistic : str
        What ``value`` is.
    message : str
        The one-line verdict.
    detail : pandas.DataFrame or None
        The table behind the value.
    """

    name: str
    title: str
    verdict: str
    value: float | None
    threshold: float | None
    statistic: str
    message: str
    detail: pd.DataFrame | None = None

    @property
    def fired(self) -> bool:
        """``warn`` or ``fail``."""
        return self.verdict in ("warn", "fail")

    def as_dict(self, detail: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.name, "title": self.title, "verdict": self.verdict,
                               "value": _json_number(self.value), "threshold": _json_number(self.threshold),
                               "statistic": self.statistic, "message": self.message}
        if detail and self.detail is not None:
            out["detail"] = json.loads(self.detail.to_json(orient="records", date_format="iso"))
        return out


def _json_number(v: float | None) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


TITLES = {
    "connectivity": "Is the comparison graph connected (do finite ratings exist)?",
    "coverage": "Were some models sampled far more than others?",
    "position": "Does the first-shown model win more than it should?",
    "ties": "Does the tie convention change the order?",
    "intransitivity": "Are there more cycles (A > B > C > A) than the fitted model predicts?",
    "fit": "Does the model fit the pairwise win rates?",
    "influence": "Does one voter decide an order?",
    "separation": "Which neighbours on the board cannot be told apart?",
}


@dataclass(frozen=True, repr=False, eq=False)
class Audit(Result):
    """The diagnostics of a board.

    Attributes
    ----------
    checks : tuple of Check
        In the order of :data:`CHECKS` (those run).
    board : Leaderboard or None
        The board audited (None when no finite fit exists).
    separation : Separation or None
        Pairwise marginal and simultaneous separation, P(A > B), tiers.
    quasi : QuasiVariances or None
        Quasi standard errors of the ratings.
    coverage : pandas.DataFrame
        Per model: battles, share of battles, opponents met, share of the field met.
    coverage_over_time : pandas.DataFrame or None
        Per period and model: battles and share of the period's battles (with timestamps).
    settings : dict
    """

    checks: tuple[Check, ...]
    board: Leaderboard | None
    separation: Separation | None
    quasi: QuasiVariances | None
    coverage: pd.DataFrame
    coverage_over_time: pd.DataFrame | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def failed(self) -> list[str]:
        """Names of the checks whose verdict is ``fail``."""
        return [c.name for c in self.checks if c.verdict == "fail"]

    @property
    def fired(self) -> list[str]:
        """Names of the checks whose verdict is ``warn`` or ``fail``."""
        return [c.name for c in self.checks if c.fired]

    def verdicts(self) -> pd.DataFrame:
        """One row per check: ``check, verdict, value, threshold, statistic, message``."""
        return pd.DataFrame([{k: v for k, v in c.as_dict(detail=False).items() if k != "title"}
                             for c in self.checks])

    def to_frame(self) -> pd.DataFrame:
        """One row per model, best first: the board's rank, rating and rank interval, coverage,
        quasi standard error and simultaneous tier."""
        cov = self.coverage
        if self.board is None:
            return cov.reset_index()
        frame = self.board.frame[["rank", "model", "rating", "ci_lower", "ci_upper", "rank_lower",
                                  "rank_upper"]].copy()
        frame = frame.merge(cov.reset_index(), on="model", how="left")
        if self.quasi is not None:
            frame["quasi_se"] = frame["model"].map(self.quasi.quasi_se)
        if self.separation is not None:
            frame["tier"] = frame["model"].map(self.separation.tier)
        return frame

    def as_dict(self) -> dict[str, Any]:
        """Everything a machine needs: settings, each check with its detail, the per-model table."""
        settings = {k: (v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v))
                    for k, v in self.settings.items()}
        out = {"settings": settings, "failed": self.failed, "fired": self.fired,
               "checks": [c.as_dict() for c in self.checks],
               "models": json.loads(self.to_frame().to_json(orient="records"))}
        if self.coverage_over_time is not None:
            out["coverage_over_time"] = json.loads(self.coverage_over_time.to_json(orient="records", date_format="iso"))
        return out

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1, allow_nan=False) + "\n"

    def to_markdown(self) -> str:
        """The verdicts as a Markdown table, with each check's question."""
        icons = {"pass": "pass", "warn": "**warn**", "fail": "**FAIL**", "skip": "skip"}
        s = self.settings
        lines = [f"# Audit: {s.get('n_models')} models, {s.get('n_battles', 0):,.0f} battles", "",
                 "| check | question | verdict | value | threshold | finding |", "|---|---|---|---|---|---|"]
        for c in self.checks:
            lines.append(f"| {c.name} | {c.title} | {icons[c.verdict]} | {_fmt(c.value)} | {_fmt(c.threshold)} "
                         f"| {c.message.replace('|', '/')} |")
        return "\n".join(lines) + "\n"

    def _describe(self) -> str:
        counts = {v: sum(c.verdict == v for c in self.checks) for v in VERDICTS}
        return ", ".join(f"{k} {v}" for k, v in counts.items() if v)

    def summary(self) -> str:
        s = self.settings
        lines = [f"Audit of {s.get('n_models')} models, {s.get('n_battles', 0):,.0f} battles (ties={s.get('ties')}, "
                 f"{s.get('confidence', DEFAULT_CONFIDENCE):.0%} intervals)", "-" * 78]
        for c in self.checks:
            lines.append(f"{c.verdict.upper():<5} {c.name:<15} {c.message}")
        return "\n".join(lines)


def _fmt(v: float | None) -> str:
    if v is None or not math.isfinite(float(v)):
        return ""
    v = float(v)
    return f"{v:.0f}" if v == round(v) and abs(v) < 1e6 else f"{v:.3g}"


# ----------------------------------------------------------------------------- helpers
def _check(name: str, fired: bool, value: float | None, threshold: float | None, statistic: str, message: str,
           detail: pd.DataFrame | None = None) -> Check:
    return Check(name, TITLES[name], SEVERITY[name] if fired else "pass", value, threshold, statistic, message,
                 detail)


def _skip(name: str, why: str) -> Check:
    return Check(name, TITLES[name], "skip", None, None, "", why)


def _names(names: Sequence[str], limit: int = 6) -> str:
    names = [str(m) for m in names]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _pair_table(pc: PairCounts) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(i wins, j wins, ties, battles)`` per compared pair (both kinds of tie together)."""
    t = pc.table()
    ties = t[:, 2] + t[:, 3]
    return t[:, 0], t[:, 1], ties, t.sum(axis=1)


def _positions(ratings: pd.Series) -> pd.Series:
    """1-based position of each model in the order of the ratings (the board's tie-break)."""
    order = ratings.sort_values(ascending=False, kind="stable")
    return pd.Series(np.arange(1, len(order) + 1), index=order.index)


def _model_probs(fit: BTResult, pc: PairCounts, tie_share: np.ndarray) -> np.ndarray:
    """P(i), P(j), P(tie) per compared pair under the fit; under ``half``/``drop`` (which do not
    model ties) the pair's observed tie share, with P(i) + P(tie) / 2 the fitted win probability."""
    d = fit.theta[pc.i] - fit.theta[pc.j]
    p = outcome_probabilities(d, fit.ties, fit.log_tie)
    if fit.ties in ("half", "drop"):
        pi = p[:, 0]
        tau = np.minimum(tie_share, 2 * np.minimum(pi, 1 - pi))
        p = np.stack([pi - tau / 2, 1 - pi - tau / 2, tau], axis=-1)
    return np.clip(p, 0.0, 1.0)


# ------------------------------------------------------------------------------ checks
def _connectivity(pc: PairCounts, ties: str) -> tuple[Check, bool]:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components
    n = pc.n_models
    graph = csr_matrix((np.ones(pc.n_pairs), (pc.i, pc.j)), shape=(n, n))
    k, labels = connected_components(graph, directed=False)
    total_pairs = n * (n - 1) // 2
    never = total_pairs - pc.n_pairs
    groups = [[pc.models[m] for m in np.flatnonzero(labels == c)] for c in range(k)]
    groups.sort(key=len, reverse=True)
    detail = pd.DataFrame({"group": np.arange(1, k + 1), "models": [len(g) for g in groups],
                           "members": [_names(g, 12) for g in groups]})
    never_txt = f"{never:,} of {total_pairs:,} pairs never compared ({never / max(total_pairs, 1):.0%})"
    if k > 1:
        msg = (f"{k} groups of models never compared with each other ({'; '.join(_names(g, 4) for g in groups[:3])})"
               f": their ratings are not on one scale; {never_txt}")
        return _check("connectivity", True, float(k), 1.0, "connected components", msg, detail), False
    try:
        check_mle_exists(pc, ties)
    except NoMLEError as exc:
        return _check("connectivity", True, float(k), 1.0, "connected components",
                      f"one component, but {exc}", detail), False
    return _check("connectivity", False, 1.0, 1.0, "connected components",
                  f"one connected comparison graph with finite ratings; {never_txt}", detail), True


def _coverage(battles: Battles, pc: PairCounts) -> tuple[Check, pd.DataFrame, pd.DataFrame | None]:
    totals = model_totals(pc)
    n = pc.n_models
    opp = np.bincount(pc.i, minlength=n) + np.bincount(pc.j, minlength=n)
    cov = pd.DataFrame({"battles": totals["battles"].to_numpy(),
                        "share": totals["battles"].to_numpy() / max(pc.n_battles, 1e-300),
                        "opponents": opp, "field_share": opp / max(n - 1, 1)},
                       index=pd.Index(pc.models, name="model"))
    cov = cov.sort_values(["battles"], ascending=False, kind="stable")
    med = float(np.median(cov["battles"]))
    ratio = float(cov["battles"].iloc[0] / med) if med > 0 else float("inf")
    top = cov.index[0]
    few = list(cov.index[cov["field_share"] < MIN_OPPONENT_SHARE])
    msg = (f"{top} has {ratio:.1f}x the median model's battles ({cov['battles'].iloc[0]:,.0f} vs {med:,.0f}); "
           f"share of battles {cov['share'].min():.1%} to {cov['share'].max():.1%}")
    over = list(cov.index[cov["battles"] > COVERAGE_RATIO * med])
    if ratio > COVERAGE_RATIO:
        msg = f"over-sampled: {_names(over)} ({msg})"
    if few:
        msg += f"; {len(few)} models met less than {MIN_OPPONENT_SHARE:.0%} of the field"
    over_time = _coverage_over_time(battles)
    if over_time is not None and over_time["period"].nunique() > 1:
        # the same ratio within each period, among the models that fought in it: the worst period
        per = over_time.groupby("period")["battles"].agg(["max", "median", "count"])
        per = per[per["count"] >= 3]
        if len(per):
            worst = (per["max"] / per["median"]).idxmax()
            top_model = over_time[over_time["period"] == worst].sort_values("battles").iloc[-1]["model"]
            msg += (f"; the most uneven period, from {pd.Timestamp(worst):%Y-%m-%d}: {top_model} had "
                    f"{per.loc[worst, 'max'] / per.loc[worst, 'median']:.1f}x the median battles")
    return (_check("coverage", ratio > COVERAGE_RATIO, ratio, COVERAGE_RATIO, "max / median battles per model", msg,
                   cov.reset_index()), cov, over_time)


#: Periods of the coverage over time, by the span of the timestamps: (minimum days, pandas period).
COVERAGE_PERIODS = ((120, "M"), (21, "W"), (0, "D"))


def _coverage_over_time(battles: Battles) -> pd.DataFrame | None:
    if "tstamp" not in battles.frame:
        return None
    ts = timestamps(battles.frame["tstamp"])
    if ts.isna().all():
        return None
    span = (ts.max() - ts.min()).days
    freq = next(f for days, f in COVERAGE_PERIODS if span >= days)
    period = ts.dt.to_period(freq).dt.start_time.to_numpy()
    cnt = battles.counts
    frame = pd.DataFrame({"period": np.concatenate([period, period]),
                          "model": np.concatenate([battles.frame["model_a"].astype(str).to_numpy(),
                                                   battles.frame["model_b"].astype(str).to_numpy()]),
                          "battles": np.concatenate([cnt, cnt])})
    out = frame.groupby(["period", "model"], observed=True)["battles"].sum().reset_index()
    per = pd.Series(cnt).groupby(period).sum()
    out["share"] = out["battles"] / out["period"].map(per).to_numpy()
    return out


def _position(battles: Battles, fit: BTResult | None, cluster: str | None, alpha: float) -> Check:
    if battles.schema == "winner-loser":
        return _skip("position", "display order unknown (winner-loser input: the winner is always listed first)")
    o = battles.outcome
    cnt = battles.counts
    if not (cnt[o == B_WINS].sum() > 0):
        return _skip("position", "display order unknown (the B side never wins: A is the winner column)")
    score = np.where(o == A_WINS, 1.0, np.where(o == B_WINS, 0.0, 0.5))
    if fit is not None:
        expected = fit.win_probability_matrix(battles.models).to_numpy()[battles.a, battles.b]
    else:
        expected = np.full(len(o), 0.5)
    total = float(cnt.sum())
    resid = score - expected
    # one Newton step from "no position effect" on the log-odds of the first-shown side: the
    # score statistic over its information (ties as half); the contextual fit with position=True
    # estimates the same effect (to first order)
    info = float((cnt * expected * (1 - expected)).sum())
    beta = float((cnt * resid).sum()) / info
    dev = cnt * (resid - beta * expected * (1 - expected))
    if cluster is not None and cluster in battles.frame:
        codes_c, _ = pd.factorize(battles.frame[cluster], use_na_sentinel=False)
        se = float(np.sqrt((np.bincount(codes_c, weights=dev) ** 2).sum())) / info
    else:
        # a row may stand for several identical battles: their squared deviations add up
        se = float(np.sqrt((cnt * (resid - beta * expected * (1 - expected)) ** 2).sum())) / info
    factor = fit.scale.factor if fit is not None else 400 / math.log(10)
    z = z_value(1 - alpha)
    elo, lo, hi = factor * beta, factor * (beta - z * se), factor * (beta + z * se)
    raw = float((cnt * score).sum() / total)
    exp_score = float((cnt * expected).sum() / total)
    fired = (lo > 0 or hi < 0) and abs(elo) >= POSITION_MIN_ELO
    msg = (f"first-shown side: {elo:+.1f} Elo ({1 - alpha:.0%} interval {lo:+.1f} to {hi:+.1f}); it scores {raw:.3f} "
           f"where the fit expects {exp_score:.3f}"
           + ("" if fit is not None else ", not adjusted for the models (no finite fit)"))
    detail = pd.DataFrame({"battles": [total], "first_shown_score": [raw], "expected": [exp_score],
                           "log_odds": [beta], "se": [se], "elo": [elo], "ci_lower": [lo], "ci_upper": [hi]})
    return _check("position", fired, elo, POSITION_MIN_ELO, "first-shown advantage, Elo", msg, detail)


def _ties(pc: PairCounts, board: Leaderboard) -> Check:
    _, _, ties, _ = _pair_table(pc)
    if ties.sum() <= 0:
        return _skip("ties", "no ties in the battles")
    main = board.fit.ties
    others = [t for t in ("half", "drop", "davidson") if t != main]
    frame = board.frame.set_index("model")
    detail = pd.DataFrame({"model": frame.index, "rank_lower": frame["rank_lower"].to_numpy(),
                           "rank_upper": frame["rank_upper"].to_numpy(),
                           main: _positions(board.fit.ratings).reindex(frame.index).to_numpy()})
    moved: set[str] = set()
    notes = []
    l2 = float(board.fit.settings.get("l2", 0.0))
    for t in others:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                alt = fit_counts(pc, t, l2=l2)
        except ArenaStatsError as exc:
            notes.append(f"{t}: no fit ({str(exc).split(';')[0][:80]})")
            continue
        pos = _positions(alt.ratings).reindex(frame.index).to_numpy()
        detail[t] = pos
        out = (pos < detail["rank_lower"].to_numpy()) | (pos > detail["rank_upper"].to_numpy())
        moved |= set(detail["model"][out])
    alts = [t for t in others if t in detail]
    shift = max((int(np.abs(detail[t] - detail[main]).max()) for t in alts), default=0)
    msg = (f"{len(moved)} models leave their rank interval under {' or '.join(alts) or 'another convention'}"
           + (f" ({_names(sorted(moved))})" if moved else "") + f"; largest shift {shift} places")
    if notes:
        msg += "; " + "; ".join(notes)
    return _check("ties", bool(moved), float(len(moved)), 0.0, "models moved outside their rank interval", msg,
                  detail)


def _tie_shares(pc: PairCounts) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    wi, wj, tie, n = _pair_table(pc)
    return wi, wj, tie, np.where(n > 0, tie / np.where(n > 0, n, 1), 0.0)


def _cycle_weights(z: np.ndarray, i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    """``W[..., a, b] = z_ab^(1/3)`` where ``a`` beat ``b`` (z in the winner's favour), else 0."""
    shape = z.shape[:-1] + (n, n)
    w = np.zeros(shape)
    pos = np.cbrt(np.clip(z, 0, None))
    neg = np.cbrt(np.clip(-z, 0, None))
    w[..., i, j] = pos
    w[..., j, i] = neg
    return w


def _cycle_statistic(w: np.ndarray) -> np.ndarray:
    """``trace(W^3) / 3``: the sum over directed 3-cycles of the product of their edge weights."""
    return np.einsum("...ij,...ji->...", w @ w, w) / 3


def _intransitivity(pc: PairCounts, fit: BTResult, rng: np.random.Generator, alpha: float) -> Check:
    n = pc.n_models
    if n < 3:
        return _skip("intransitivity", "fewer than three models")
    wi, wj, tie, tau = _tie_shares(pc)
    total = wi + wj + tie
    f = (wi + 0.5 * tie) / total
    z = 2 * (f - 0.5) * np.sqrt(total)
    observed = float(_cycle_statistic(_cycle_weights(z, pc.i, pc.j, n)))
    beats = _cycle_weights(np.sign(z), pc.i, pc.j, n)
    cycles = int(round(float(_cycle_statistic(beats))))
    p = _model_probs(fit, pc, tau)
    sims = INTRANSITIVITY_SIMULATIONS
    block = int(max(1, min(sims, 2e7 // max(n * n, 1))))
    stats = []
    for lo in range(0, sims, block):
        k = min(block, sims - lo)
        draw = rng.multinomial(total.astype(np.int64), p, size=(k, len(total))).astype(np.float64)
        fs = (draw[..., 0] + 0.5 * draw[..., 2]) / total
        zs = 2 * (fs - 0.5) * np.sqrt(total)
        stats.append(_cycle_statistic(_cycle_weights(zs, pc.i, pc.j, n)))
    sim = np.concatenate(stats)
    p_value = float((1 + (sim >= observed - 1e-9 * max(1.0, observed)).sum()) / (1 + sims))
    detail = _strong_triads(z, pc)
    listed = "; ".join(f"{r.a} > {r.b} > {r.c} > {r.a}" for r in detail.head(3).itertuples()) if len(detail) else ""
    msg = (f"{cycles} cyclic triads; evidence-weighted cycle statistic {observed:.1f} against {np.median(sim):.1f} "
           f"expected from the fit (p = {p_value:.3f})" + (f"; strongest: {listed}" if listed else ""))
    return _check("intransitivity", p_value < alpha, p_value, alpha, "p-value of the cycle statistic", msg, detail)


def _strong_triads(z: np.ndarray, pc: PairCounts) -> pd.DataFrame:
    """Cyclic triads whose three edges all have |z| >= STRONG_EDGE_Z, strongest first."""
    n = pc.n_models
    zm = np.zeros((n, n))
    zm[pc.i, pc.j] = z
    zm[pc.j, pc.i] = -z
    strong = zm >= STRONG_EDGE_Z
    s = strong.astype(np.float64)
    closing = ((s @ s) > 0) & strong.T  # a -> ? -> c and c -> a
    rows = []
    for a_, c_ in zip(*np.nonzero(closing)):
        for b_ in np.flatnonzero(strong[a_] & strong[:, c_]):
            if a_ < b_ and a_ < c_:  # each cycle once, from its smallest member
                rows.append((pc.models[a_], pc.models[b_], pc.models[c_],
                             float(min(zm[a_, b_], zm[b_, c_], zm[c_, a_]))))
    frame = pd.DataFrame(rows, columns=["a", "b", "c", "min_z"])
    return frame.sort_values("min_z", ascending=False, kind="stable").head(MAX_LISTED_TRIADS).reset_index(drop=True)


def _pearson(pc: PairCounts, fit: BTResult, tau: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Pearson X^2 of the pairs' scores, and per pair (observed fraction, predicted, battles).

    Each pair's score deviation is scaled by ``n pi (1 - pi)``, the variance without ties (ties
    lower it): the statistic never divides by a noisy tie share, and the parametric bootstrap,
    which draws ties at each pair's observed share, calibrates it.
    """
    wi, wj, tie, n = _pair_table(pc)
    p = _model_probs(fit, pc, tau)
    if fit.ties == "drop":
        score, n = wi, wi + wj
        pi = p[:, 0] / np.maximum(p[:, 0] + p[:, 1], 1e-300)
    else:
        score = wi + 0.5 * tie
        pi = p[:, 0] + 0.5 * p[:, 2]
    var = np.maximum(pi * (1 - pi), 1e-12)
    ok = n > 0
    x2 = float((((score - n * pi) ** 2)[ok] / (n * var)[ok]).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        obs = np.where(ok, score / np.where(ok, n, 1), np.nan)
    return x2, obs, pi, n


def _goodness_of_fit(pc: PairCounts, fit: BTResult, rng: np.random.Generator, alpha: float,
                     progress: bool) -> Check:
    _, _, _, tau = _tie_shares(pc)
    x2, obs, pi, n = _pearson(pc, fit, tau)
    df = max(pc.n_pairs - (pc.n_models - 1), 1)
    total = _pair_table(pc)[3]
    p = _model_probs(fit, pc, tau)
    l2 = float(fit.settings.get("l2", 0.0))
    sims = []
    with progress_bar(FIT_SIMULATIONS, "goodness of fit", enabled=progress) as bar:
        for _ in range(FIT_SIMULATIONS):
            draw = rng.multinomial(total.astype(np.int64), p).astype(np.float64)
            sim_pc = counts_from_table(pc.models, pc.i, pc.j, draw)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    refit = fit_counts(sim_pc, fit.ties, l2=max(l2, 0.0), x0=fit.params.to_numpy())
            except ArenaStatsError:
                # a simulated arena without a finite MLE (a rare model swept): fitted with a ridge
                refit = fit_counts(sim_pc, fit.ties, l2=max(l2, 1e-6), x0=fit.params.to_numpy())
            sims.append(_pearson(_aligned(sim_pc, pc), refit, tau)[0])
            bar.update(1)
    sims_a = np.asarray(sims)
    p_value = _scaled_chi2_p(x2, sims_a)
    p_rank = float((1 + (sims_a >= x2).sum()) / (1 + len(sims_a)))
    # calibration table: pairs binned by predicted win fraction, battle-weighted
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    k = np.clip(np.digitize(pi, edges) - 1, 0, CALIBRATION_BINS - 1)
    w = n
    rows = []
    for b in range(CALIBRATION_BINS):
        m = (k == b) & (w > 0)
        if m.any():
            rows.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "pairs": int(m.sum()),
                         "battles": float(w[m].sum()), "predicted": float(np.average(pi[m], weights=w[m])),
                         "observed": float(np.average(obs[m], weights=w[m]))})
    detail = pd.DataFrame(rows)
    rmse = float(np.sqrt(np.average((obs - pi) ** 2, weights=n))) if n.sum() > 0 else float("nan")
    msg = (f"Pearson X2 = {x2:.1f} on {df} degrees of freedom (X2/df = {x2 / df:.2f}); {len(sims_a)} refitted "
           f"simulations from the fit give p = {p_value:.3g} (rank among them: {p_rank:.3f}); battle-weighted "
           f"RMSE of pair win fractions {rmse:.3f}")
    return _check("fit", p_value < alpha, p_value, alpha, "p-value of Pearson X2 (parametric bootstrap)", msg,
                  detail)


def _scaled_chi2_p(x: float, sims: np.ndarray) -> float:
    """P(X >= x) for ``X ~ a chi2(nu)`` matched to the simulations' mean and variance
    (Satterthwaite): smooth in the tail, where 100 simulations alone cannot go below 1/101."""
    from scipy.stats import chi2
    m, v = float(sims.mean()), float(sims.var(ddof=1))
    if not (m > 0 and v > 0):
        return float((1 + (sims >= x).sum()) / (1 + len(sims)))
    scale, nu = v / (2 * m), 2 * m * m / v
    return float(chi2.sf(x / scale, nu))


def _aligned(sim_pc: PairCounts, pc: PairCounts) -> PairCounts:
    """``sim_pc`` with every pair of ``pc`` (pairs without draws get zero-count cells), so that the
    simulated statistic runs over the same pairs as the observed one."""
    if sim_pc.n_pairs == pc.n_pairs:
        return sim_pc
    n = pc.n_models
    key = sim_pc.i * n + sim_pc.j
    full = pc.i * n + pc.j
    where = np.searchsorted(full, key)
    return replace(sim_pc, i=pc.i, j=pc.j, cell_pair=where[sim_pc.cell_pair])


def _voter_column(battles: Battles, cluster: str | None) -> str | None:
    if cluster is not None:
        return cluster
    return next((c for c in VOTER_COLUMNS if c in battles.frame), None)


def _influence(battles: Battles, pc: PairCounts, board: Leaderboard, column: str | None, progress: bool) -> Check:
    if column is None:
        return _skip("influence", f"no voter column (looked for --cluster or {', '.join(VOTER_COLUMNS[:4])} ...)")
    if column not in battles.frame:
        raise InputError(f"no column {column!r} to take as the voter", column=column)
    if pc.weighted:
        return _skip("influence", "per-battle weights: leave-one-voter-out is not supported with weights")
    codes, uniques = pd.factorize(battles.frame[column], use_na_sentinel=False)
    if len(uniques) < 2:
        return _skip("influence", f"the {column!r} column holds a single voter")
    fit = board.fit
    assert isinstance(fit, BTResult)
    kmat = cluster_cell_matrix(battles, pc, column).tocsr()
    scores = cell_scores(pc, fit.params.to_numpy(), fit.ties, fit.log_tie)
    per_voter = np.asarray(kmat @ scores)
    n = pc.n_models
    # one Newton step from the full fit without the voter's votes: -cov @ (voter's score)
    step = -per_voter @ fit.cov_params.to_numpy()
    se = np.maximum(fit.se.to_numpy(), 1e-12)
    screen = np.abs(fit.scale.factor * step[:, :n]) / se
    worst = np.argsort(-screen.max(axis=1), kind="stable")[:INFLUENCE_REFITS]
    frame = board.frame.set_index("model")
    r_lo = frame["rank_lower"].reindex(pc.models).to_numpy()
    r_hi = frame["rank_upper"].reindex(pc.models).to_numpy()
    full_pos = _positions(fit.ratings).reindex(pc.models).to_numpy()
    rows = []
    voter_battles = np.asarray(kmat.sum(axis=1)).ravel()
    with progress_bar(len(worst), "influence", enabled=progress) as bar:
        for g in worst:
            remaining = pc.cell_count - kmat[g].toarray().ravel()
            keep = remaining > 0
            sub = _subset_cells(pc, keep, remaining)
            gone = [m for m in pc.models if m not in set(sub.models)]
            moved: list[str] = list(gone)
            shift = 0.0
            note = ""
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    loo = fit_counts(sub, fit.ties, l2=float(fit.settings.get("l2", 0.0)))
                common = np.asarray([m in set(sub.models) for m in pc.models])
                loo_r = loo.ratings.reindex([m for m in pc.models]).to_numpy()
                full_r = fit.ratings.reindex(pc.models).to_numpy()
                # position among all models: the remaining ones by the refit, the removed ones where they were
                ref = np.where(common, loo_r, np.nan)
                pos = np.full(n, np.nan)
                for k in np.flatnonzero(common):
                    above_common = np.sum(common & (ref > ref[k]))
                    above_gone = np.sum(~common & (full_r > full_r[k]))
                    pos[k] = 1 + above_common + above_gone
                out = common & ((pos < r_lo) | (pos > r_hi))
                moved += [pc.models[k] for k in np.flatnonzero(out)]
                shift = float(np.nanmax(np.abs(pos - full_pos)))
            except ArenaStatsError as exc:
                note = f"no finite fit without this voter ({str(exc)[:60]})"
                moved = list(pc.models)
            rows.append({"voter": str(uniques[g]), "battles": float(voter_battles[g]),
                         "screen": float(screen[g].max()), "models_moved": len(moved),
                         "largest_shift": shift, "moved": _names(moved, 5), "note": note})
            bar.update(1)
    detail = pd.DataFrame(rows).sort_values(["models_moved", "screen"], ascending=False, kind="stable")
    top = detail.iloc[0]
    value = float(top["models_moved"])
    msg = (f"{len(uniques):,} voters in {column!r}; without voter {top['voter']!r} ({top['battles']:,.0f} battles) "
           f"{int(value)} models leave their rank interval"
           + (f" ({top['moved']})" if value else "") + f"; largest shift {top['largest_shift']:.0f} places"
           + (f"; {top['note']}" if top["note"] else ""))
    return _check("influence", value > 0, value, 0.0, "models moved outside their rank interval by one voter",
                  msg, detail.reset_index(drop=True))


def _subset_cells(pc: PairCounts, keep: np.ndarray, counts: np.ndarray) -> PairCounts:
    """The cells ``keep`` with new ``counts``; pairs and models left without battles are dropped."""
    cp = pc.cell_pair[keep]
    used_pairs, new_cp = np.unique(cp, return_inverse=True)
    i, j = pc.i[used_pairs], pc.j[used_pairs]
    used_models = np.unique(np.concatenate([i, j]))
    remap = -np.ones(pc.n_models, np.int64)
    remap[used_models] = np.arange(len(used_models))
    return PairCounts(models=[pc.models[m] for m in used_models], i=remap[i], j=remap[j],
                      cell_pair=new_cp.astype(np.int64), cell_outcome=pc.cell_outcome[keep],
                      cell_count=counts[keep], cell_weight=pc.cell_weight[keep])


def _separation(sep: Separation) -> Check:
    adj = sep.adjacent()
    apart = adj[~adj["separated_simultaneous"]]
    tiers = sep.tier
    detail = pd.DataFrame({"model": sep.models, "tier": tiers.to_numpy(),
                           "rank_simultaneous": sep.rank.to_numpy()})
    n_tiers = int(tiers.max())
    listed = "; ".join(f"{r.model_a} ~ {r.model_b}" for r in apart.head(4).itertuples())
    msg = (f"{len(apart)} of {len(adj)} neighbours not separated at the family-wise {sep.confidence:.0%} level "
           f"(max-t c = {sep.critical_value:.2f}); {n_tiers} tiers"
           + (f"; e.g. {listed}" if listed else ""))
    return _check("separation", len(apart) > 0, float(len(apart)), 0.0, "neighbours not separated (simultaneous)",
                  msg, detail)


# ------------------------------------------------------------------------------- audit
def audit(battles: Battles | pd.DataFrame, ties: str = "half", *, board: Leaderboard | None = None,
          ci: str = "bootstrap", rounds: int = DEFAULT_ROUNDS, confidence: float = DEFAULT_CONFIDENCE, seed: int = 0,
          cluster: str | None = None, l2: float = 0.0, only: Sequence[str] | None = None,
          progress: bool = False, memory: Any = None) -> Audit:
    """Run the diagnostics of :data:`CHECKS` on a set of battles (see the module docstring).

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
    ties : str
        Tie convention of the board.
    board : Leaderboard, optional
        A board already built from these battles (else one is built with ``ci``, ``rounds``,
        ``confidence``, ``seed``, ``cluster``, ``l2``).
    ci, rounds, confidence, seed, cluster, l2
        As in :func:`~arena_stats.leaderboard`. ``cluster`` is also the voter column of the
        influence check and makes the position interval cluster-robust.
    only : list of str, optional
        Run only these checks (default: all of :data:`CHECKS`).
    progress : bool
        Progress bars on stderr.
    memory : int or str, optional
        Memory budget of the board's bootstrap (see :func:`~arena_stats.inference.bootstrap.bootstrap`).

    Returns
    -------
    Audit

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> result = audit(simulate_arena(8, 4000, seed=2).battles, rounds=100)
    >>> result["connectivity"].verdict
    'pass'
    >>> list(result.verdicts().columns)[:3]
    ['check', 'verdict', 'value']
    """
    battles = as_battles(battles)
    confidence = checks.probability("confidence", confidence)
    seed = checks.seed(seed)
    wanted = list(CHECKS) if only is None else list(only)
    unknown = [c for c in wanted if c not in CHECKS]
    if unknown:
        raise InputError(f"unknown check(s) {', '.join(unknown)}; expected some of {', '.join(CHECKS)}")
    if cluster is not None and cluster not in battles.frame:
        from ..errors import suggest
        raise InputError(f"no column to cluster on{suggest(cluster, battles.frame.columns)}", column=cluster)
    pc = aggregate(battles)
    # one independent random stream per check, so that running fewer checks changes no number
    streams = dict(zip(CHECKS, np.random.SeedSequence(seed).spawn(len(CHECKS))))
    results: dict[str, Check] = {}
    conn, finite = _connectivity(pc, ties)
    results["connectivity"] = conn
    cov_check, cov, over_time = _coverage(battles, pc)
    results["coverage"] = cov_check
    sep = qv = None
    if finite:
        if board is None:
            board = leaderboard(battles, ties, ci=ci, rounds=rounds, confidence=confidence, seed=seed,
                                cluster=cluster, l2=l2, progress=progress, memory=memory)
        if not isinstance(board.fit, BTResult):
            raise InputError("the audit needs a board without covariates (a plain Bradley-Terry fit)")
        fit: BTResult | None = board.fit
    else:
        board, fit = None, None
    alpha = ALPHA
    if "position" in wanted:
        results["position"] = _position(battles, fit, cluster, alpha)
    need_fit = "needs finite ratings (see connectivity)"
    if fit is not None and board is not None:
        pc_fit = fit.counts
        if "ties" in wanted:
            results["ties"] = _ties(pc_fit, board)
        if "intransitivity" in wanted:
            results["intransitivity"] = _intransitivity(pc_fit, fit, np.random.default_rng(streams["intransitivity"]),
                                                        alpha)
        if "fit" in wanted:
            results["fit"] = _goodness_of_fit(pc_fit, fit, np.random.default_rng(streams["fit"]), alpha, progress)
        if "influence" in wanted:
            results["influence"] = _influence(battles, pc_fit, board, _voter_column(battles, cluster), progress)
        if board.settings.get("ci") != "none":
            robust = None
            if board.settings.get("cluster") and board.bootstrap is None:
                # a clustered sandwich board: the same cluster-robust covariance its intervals used
                robust = cluster_robust_cov(fit, battles, str(board.settings["cluster"]))
            sep = separation(board, cov=robust, seed=seed)
            if len(fit.models) >= 3:
                qv = quasi_variances(board, cov=robust)
        if "separation" in wanted:
            results["separation"] = _separation(sep) if sep is not None else _skip(
                "separation", "needs a board with intervals")
    else:
        for name in ("ties", "intransitivity", "fit", "influence", "separation"):
            if name in wanted:
                results[name] = _skip(name, need_fit)
    ordered = tuple(results[c] for c in CHECKS if c in wanted)
    settings = dict(ties=ties, ci=ci if board is None else board.settings.get("ci"),
                    rounds=rounds if board is None else board.settings.get("rounds"), confidence=confidence,
                    seed=seed, cluster=cluster, l2=l2, alpha=alpha, n_battles=pc.n_battles, n_models=pc.n_models,
                    voter=_voter_column(battles, cluster), checks=list(wanted),
                    filters=[str(s) for s in battles.steps])
    return Audit(checks=ordered, board=board, separation=sep, quasi=qv, coverage=cov, coverage_over_time=over_time,
                 settings=settings)

