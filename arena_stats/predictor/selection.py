"""Choosing the text blocks by grouped cross-validation, with a fall-back to the prior.

The design promise is that the text model only ever adds to the rating model. Text features can
hurt out of sample (on GPT-4 verdicts on 80 MT-bench questions, about 700 training rows, always
adding the symmetric tie features scored 0.648 against 0.620 for the Davidson prior alone), so
the prior alone is always a candidate and the choice is made by out-of-sample loss with a bias
toward the simpler model:

* **Candidates.** With a prior: ``prior`` (the Davidson/Rao-Kupper prior as it is, no free
  parameter), ``recal`` (the prior recalibrated: its log-odds' coefficient, its absolute value
  and unknown-model count in the tie logit, the tie intercept), and ``recal`` plus every subset
  of the offered text
  blocks (``length`` and ``style`` are alternatives, never together). Without a prior:
  ``intercept`` (the class frequencies, symmetrised) and every non-empty subset.
* **Out-of-fold inputs.** The prior columns and the n-gram scores of each training row come
  from fits that never saw the row's fold (folds grouped by prompt or ``group``); every
  candidate's combining logit is then fitted on the other folds and scores the held-out fold.
  The whole fit, selection included, sits inside each training fold of
  :func:`.evaluate.evaluate`, so the reported scores are nested cross-validation.
* **One-standard-error rule.** The candidate with the lowest out-of-fold log loss is the
  reference; every candidate gets the mean paired difference of its per-row losses to the
  reference and the standard error of that mean, *clustered by group* (rows of one prompt are
  correlated). The chosen candidate is the simplest (fewest blocks, then lowest loss) whose
  difference is at most one standard error. A text block must therefore beat the prior by
  more than its own noise to be used.
* **Shrinkage.** Coefficients of text columns carry a ridge penalty of
  :data:`TEXT_L2` on the total log-likelihood scale of standardised columns, the symmetric tie
  columns :data:`TIE_L2`; a fixed total penalty weighs relatively more the fewer rows there are
  (with 300 rows ``TEXT_L2 = 10`` is worth 10 / 300 of the data; with 57,000 nothing).
* **Calibration.** The chosen candidate's out-of-fold logits are calibrated
  (:class:`.combine.Calibration`: a temperature for the a-versus-b odds and a tie shift). Its
  gain is measured by cross-fitting over the same folds and it is applied only if that gain
  exceeds one clustered standard error and the temperature is positive.
* **Guards.** Below :data:`MIN_ROWS` labelled rows there is no selection: the prior (or the
  class frequencies) is used as it is. The n-gram blocks are offered only with at least
  :data:`MIN_CONTENT_ROWS` rows and :data:`MIN_CONTENT_GROUPS` groups. The report says which
  guard applied.

Measured (docs/predictor.md): on 48 simulated training sets of 150-700 rows whose texts carry
no signal the prior alone was chosen every time (every block forced on lost 0.010 on average, up
to 0.034); on LLMFAO the default is 0.0023 better than the prior over five seeds but 0.02 worse
than forcing the style block, whose gain ten training prompts cannot show within one standard
error.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .combine import IDENTITY, Calibration, Combiner, fit_calibration, fit_combiner, softmax3
from .prior import prior_logits

__all__ = ["Candidate", "Columns", "SelectionReport", "candidates", "clustered_se", "select", "fit_candidate",
           "candidate_logits", "block_penalties", "MIN_ROWS", "MIN_CONTENT_GROUPS", "MIN_CONTENT_ROWS", "TEXT_L2",
           "TIE_L2", "RECAL_L2", "ALPHA_L2"]

#: Fewer labelled rows than this: no cross-validation, the prior (or class frequencies) as is.
#: With 60 rows of 4 models the out-of-fold priors (48 rows each) are so much noisier than the
#: final prior that a recalibration learnt on them lost 0.034 on fresh data.
MIN_ROWS = 100
#: Fewer groups (prompts) than this: the n-gram blocks are not offered by ``selection="auto"``.
#: Content learnt on a few prompts does not carry to new ones, and so few groups cannot show it:
#: on LLMFAO (13 prompts) the inner CV preferred the words block in 2 of 5 outer folds, where it
#: then cost 0.02-0.05 in log loss on the held-out prompts.
MIN_CONTENT_GROUPS = 50
#: Fewer labelled rows than this: the n-gram blocks are not offered by ``selection="auto"``. A
#: content model of thousands of n-gram weights needs thousands of rows: on simulated training
#: sets of 150-700 rows whose texts carry no signal, the selection took the words block in about
#: one set in ten and it then cost up to 0.03 against the prior on fresh data.
MIN_CONTENT_ROWS = 2000
#: Ridge penalty of the text columns' coefficients (standardised; total log-likelihood scale).
#: Chosen on the simulations of tests/test_predictor_select.py and LLMFAO (docs/predictor.md).
TEXT_L2 = 10.0
#: Penalty of the n-gram content scores' coefficients (one column each, standardised).
CONTENT_L2 = 10.0
#: Penalty of the symmetric text columns (they move only P(tie), and overfit most easily).
TIE_L2 = 30.0
#: Penalty of the prior's recalibration columns (a pull toward the prior as it is).
RECAL_L2 = 2.0
#: Penalty of the tie intercept when the prior is the offset (a pull toward the prior's tie rate).
ALPHA_L2 = 1.0
#: Penalty of the intercept without a prior: negligible (it is the class frequency's log-odds),
#: only there to keep a training set of one class finite.
FREE_L2 = 1e-3
#: Gradient tolerance of the fits that only choose (per row of data).
SELECT_TOL = 1e-7
_EPS = 1e-15


def block_penalties(text_l2: float | None = None) -> dict[str, float]:
    """Ridge penalty of each block's columns (``text_l2`` overrides :data:`TEXT_L2`)."""
    t = TEXT_L2 if text_l2 is None else float(text_l2)
    return {"recal": RECAL_L2, "length": t, "style": t, "words": CONTENT_L2, "chars": CONTENT_L2, "tie": TIE_L2}


@dataclass(frozen=True)
class Candidate:
    """One model of the selection: the prior (offset) or not, and its blocks."""

    name: str
    blocks: tuple[str, ...]
    use_prior: bool

    @property
    def fit_free(self) -> bool:
        """The raw prior has no free parameter."""
        return not (self.use_prior and not self.blocks)

    @property
    def complexity(self) -> int:
        return len(self.blocks)


def candidates(use_prior: bool, offered: Sequence[str], selection: str = "auto") -> list[Candidate]:
    """The candidate list (``selection="all"``: only the one with every offered block).

    Examples
    --------
    >>> [c.name for c in candidates(True, ["style", "words"])]
    ['prior', 'recal', 'recal+style', 'recal+words', 'recal+style+words']
    >>> [c.name for c in candidates(False, ["length"], "all")]
    ['length']
    """
    offered = list(offered)
    base = ("recal",) if use_prior else ()
    if selection == "all":
        blocks = base + tuple(offered)
        name = "+".join(blocks) if blocks else ("prior" if use_prior else "intercept")
        if use_prior and not offered:
            name = "recal"
        return [Candidate(name, blocks, use_prior)]
    out = [Candidate("prior", (), True)] if use_prior else [Candidate("intercept", (), False)]
    for k in range(0 if use_prior else 1, len(offered) + 1):
        for combo in itertools.combinations(offered, k):
            if "length" in combo and "style" in combo:
                continue
            blocks = base + combo
            out.append(Candidate("+".join(blocks), blocks, use_prior))
    return out


def clustered_se(values: np.ndarray, groups: np.ndarray) -> float:
    """Standard error of ``mean(values)`` with rows correlated within groups (cluster-robust,
    with the small-sample factor G / (G - 1)); the row-level standard error with one group.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 1.0, -1.0, -1.0])
    >>> round(clustered_se(x, np.array([0, 0, 1, 1])), 4), round(clustered_se(x, np.arange(4)), 4)
    (1.0, 0.5774)
    """
    values = np.asarray(values, float)
    n = len(values)
    if n < 2:
        return 0.0
    uniq, inv = np.unique(groups, return_inverse=True)
    g = len(uniq)
    if g < 2:
        return float(values.std(ddof=1) / np.sqrt(n))
    mean = values.mean()
    sums = np.bincount(inv, weights=values - mean, minlength=g)
    return float(np.sqrt(g / (g - 1) * np.sum(sums ** 2)) / n)


def _row_loss(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(p[np.arange(len(y)), y], _EPS, 1.0))


@dataclass
class Columns:
    """All columns a candidate may use, per block, for the training rows (out of fold), and the
    rows' out-of-fold strength differences (``None`` without a prior)."""

    u: dict[str, dict[str, np.ndarray]]
    v: dict[str, dict[str, np.ndarray]]
    n_rows: int
    prior_d: np.ndarray | None = None
    ties: str = "davidson"

    def offsets(self, log_tie: float | None) -> tuple[np.ndarray, np.ndarray]:
        """The prior's logits at the rows' strength differences with tie parameter ``log_tie``."""
        if self.prior_d is None or log_tie is None:
            return np.zeros(self.n_rows), np.zeros(self.n_rows)
        return prior_logits(self.prior_d, self.ties, log_tie)

    def matrices(self, blocks: Sequence[str], penalties: dict[str, float]
                 ) -> tuple[np.ndarray, list[str], np.ndarray, list[str], np.ndarray, np.ndarray]:
        u_names, u_cols, v_names, v_cols, u_pen, v_pen = [], [], [], [], [], []
        n = self.n_rows
        for b in blocks:
            for name, col in self.u.get(b, {}).items():
                u_names.append(name)
                u_cols.append(col)
                u_pen.append(penalties[b])
            for name, col in self.v.get(b, {}).items():
                v_names.append(name)
                v_cols.append(col)
                v_pen.append(penalties[b])
        u = np.column_stack(u_cols) if u_cols else np.zeros((n, 0))
        v = np.column_stack(v_cols) if v_cols else np.zeros((n, 0))
        return u, u_names, v, v_names, np.asarray(u_pen, float), np.asarray(v_pen, float)


def fit_candidate(c: Candidate, cols: Columns, y: np.ndarray, rows: np.ndarray | None = None, *,
                  log_tie: float | None = None, penalties: dict[str, float] | None = None,
                  tol: float = SELECT_TOL) -> Combiner:
    """The candidate's combining logit fitted on ``rows`` (all rows by default), the prior's
    offsets taken at tie parameter ``log_tie``."""
    u, un, v, vn, upen, vpen = cols.matrices(c.blocks, penalties or block_penalties())
    off_s, off_t = cols.offsets(log_tie)
    sel = slice(None) if rows is None else rows
    return fit_combiner(u[sel], un, v[sel], vn, y[sel], off_s[sel], off_t[sel], u_penalty=upen,
                        v_penalty=vpen, alpha_l2=ALPHA_L2 if c.use_prior else FREE_L2, use_prior=c.use_prior,
                        fit_alpha=c.fit_free, tol=tol)


def candidate_logits(comb: Combiner, cols: Columns, rows: np.ndarray, log_tie: float | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``s, t`` of the training ``rows`` under a fitted candidate (offsets at ``log_tie``)."""
    k = int(np.sum(rows)) if np.asarray(rows).dtype == bool else len(rows)
    u = np.column_stack([_find(cols.u, n)[rows] for n in comb.u_names]) if comb.u_names else np.zeros((k, 0))
    v = np.column_stack([_find(cols.v, n)[rows] for n in comb.v_names]) if comb.v_names else np.zeros((k, 0))
    off_s, off_t = cols.offsets(log_tie)
    return comb.logits(u, v, off_s[rows], off_t[rows])


def _find(blocks: dict[str, dict[str, np.ndarray]], name: str) -> np.ndarray:
    for cols in blocks.values():
        if name in cols:
            return cols[name]
    raise KeyError(name)


@dataclass
class SelectionReport:
    """What the selection compared, what it chose and why.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per candidate: ``candidate, blocks, log_loss, diff, se, eligible, chosen``
        (``diff`` and ``se``: the mean paired difference to the best candidate and its
        clustered standard error).
    chosen : str
    reason : str
    calibration : dict
        ``tau, delta, applied, gain, gain_se``.
    notes : list of str
    settings : dict
        ``n_rows, n_groups, n_folds``.
    """

    table: pd.DataFrame
    chosen: str
    chosen_blocks: tuple[str, ...]
    reason: str
    calibration: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        s = self.settings
        rule = ", one-standard-error rule toward fewer blocks" if len(self.table) > 1 else ", one candidate"
        lines = [f"Selection: grouped {s.get('n_folds', 0)}-fold CV on {s.get('n_rows', 0):,} rows "
                 f"({s.get('n_groups', 0):,} groups){rule}"]
        if len(self.table):
            lines.append(f"  {'candidate':<28} {'log_loss':>9} {'diff':>8} {'(se)':>7}")
            for r in self.table.itertuples(index=False):
                mark = "  <- chosen" if r.chosen else ("" if r.eligible else "")
                lines.append(f"  {r.candidate:<28} {r.log_loss:9.4f} {r.diff:+8.4f} {r.se:7.4f}{mark}")
        lines.append(f"chosen: {self.chosen} ({self.reason})")
        c = self.calibration
        if c:
            state = "applied" if c.get("applied") else "not applied"
            lines.append(f"calibration {state}: tau={c['tau']:.3f}, tie shift={c['delta']:+.3f}; "
                         f"cross-fitted gain {c['gain']:+.4f} (se {c['gain_se']:.4f})")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"table": [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                          for row in self.table.to_dict("records")],
                "chosen": self.chosen, "chosen_blocks": list(self.chosen_blocks), "reason": self.reason,
                "calibration": dict(self.calibration), "notes": list(self.notes), "settings": dict(self.settings)}


def select(cands: list[Candidate], cols: Columns, y: np.ndarray, folds: np.ndarray, groups: np.ndarray,
           calibrate: bool = True, penalties: dict[str, float] | None = None, bar: Any = None,
           fold_log_tie: dict[int, float] | None = None) -> tuple[Candidate, Calibration, SelectionReport]:
    """Run the selection described in the module docstring.

    ``fold_log_tie`` maps each fold to the tie parameter of the prior fitted without it: in the
    split that holds out fold ``k`` every row's offsets use fold ``k``'s tie parameter, so the
    combining logit never trains on tie offsets that vary from fold to fold (with few, unlike
    prompts, such offsets are anti-correlated with the folds' own tie rates, an artefact of
    leaving groups out that no new prompt would show).
    """
    fold_ids = np.unique(folds)
    losses: dict[str, np.ndarray] = {}
    logits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for c in cands:
        s_oof, t_oof = np.zeros(len(y)), np.zeros(len(y))
        for f in fold_ids:
            test = folds == f
            lt = None if fold_log_tie is None else fold_log_tie[int(f)]
            comb = fit_candidate(c, cols, y, ~test, log_tie=lt, penalties=penalties)
            s_oof[test], t_oof[test] = candidate_logits(comb, cols, test, lt)
        logits[c.name] = (s_oof, t_oof)
        losses[c.name] = _row_loss(softmax3(s_oof, t_oof), y)
        if bar is not None:
            bar.update()
    mean = {name: float(v.mean()) for name, v in losses.items()}
    best = min(mean, key=lambda name: mean[name])
    rows = []
    for c in cands:
        diff = losses[c.name] - losses[best]
        se = clustered_se(diff, groups)
        rows.append({"candidate": c.name, "blocks": "+".join(c.blocks) or "-", "log_loss": mean[c.name],
                     "diff": float(diff.mean()), "se": se, "eligible": bool(diff.mean() <= se)})
    table = pd.DataFrame(rows)
    eligible = [c for c, r in zip(cands, rows) if r["eligible"]]
    chosen = min(eligible, key=lambda c: (c.complexity, mean[c.name]))
    table["chosen"] = table["candidate"] == chosen.name
    if len(cands) == 1:
        reason = "the only candidate: every offered block (selection='all')"
    elif chosen.name == best:
        reason = "lowest out-of-fold log loss"
    else:
        r = table.set_index("candidate").loc[chosen.name]
        reason = (f"simplest within one standard error of the best, {best} "
                  f"({r['diff']:+.4f}, se {r['se']:.4f})")
    cal, cal_info = IDENTITY, dict[str, Any]()
    if calibrate:
        cal, cal_info = _calibrate(*logits[chosen.name], y, folds, groups)
    report = SelectionReport(table=table, chosen=chosen.name, chosen_blocks=chosen.blocks, reason=reason,
                             calibration=cal_info,
                             settings={"n_rows": int(len(y)), "n_groups": int(len(np.unique(groups))),
                                       "n_folds": int(len(fold_ids))})
    return chosen, cal, report


def _calibrate(s: np.ndarray, t: np.ndarray, y: np.ndarray, folds: np.ndarray, groups: np.ndarray
               ) -> tuple[Calibration, dict[str, Any]]:
    """Cross-fitted gain of calibrating the out-of-fold logits; the calibration if it pays."""
    before = _row_loss(softmax3(s, t), y)
    after = np.zeros(len(y))
    for f in np.unique(folds):
        test = folds == f
        c = fit_calibration(s[~test], t[~test], y[~test])
        after[test] = _row_loss(softmax3(*c.apply(s[test], t[test])), y[test])
    gain = before - after
    gain_mean, gain_se = float(gain.mean()), clustered_se(gain, groups)
    full = fit_calibration(s, t, y)
    # a "calibration" that reverses the model's ordering means there is no signal to calibrate
    applied = bool(gain_mean > gain_se and full.tau > 0)
    info = {**full.to_dict(), "applied": applied, "gain": gain_mean, "gain_se": gain_se}
    return (full if applied else IDENTITY), info
