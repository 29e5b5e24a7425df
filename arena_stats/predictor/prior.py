"""The Bradley-Terry prior: per-row P(a), P(b), P(tie) from the two models' strengths.

A tie-aware Bradley-Terry fit (Davidson by default, or Rao-Kupper; :func:`fit_bradley_terry`)
on the labelled rows that name both models, plus any extra battle log, gives each model a
strength ``theta`` (natural log scale) with a covariance, and a tie parameter. For a row with
models ``a`` and ``b`` the prior is the fitted model's outcome distribution at
``d = theta_a - theta_b``, together with the standard error of ``d``.

Leakage. A training row's prior must not use its own label, or the classifier learns to trust
the prior far more than it deserves on new data. :func:`out_of_fold_prior` therefore splits the
training rows into K folds *grouped by prompt* (:func:`grouped_folds`) and computes each fold's
priors from a fit on the other folds (plus the extra log). At prediction time the prior comes
from the fit on all training rows (:func:`fit_prior`).

Unknown models. A model absent from the fit (or a missing name) gets the population's average
strength ``theta = 0`` and, as its uncertainty, the spread of strengths in the population
(:attr:`BTPrior.unknown_var`); both unknown gives ``d = 0``, the population prior of two
average models (about the overall tie rate). The ``prior_unknown`` column counts the unknown
sides (0, 1 or 2) so the classifier can discount such priors.

A small Gaussian penalty on the strengths (:data:`PRIOR_L2`) keeps every fold's fit finite: a
fold may lack the battles that make the maximum-likelihood estimate exist.

Swap exactness. The columns are computed so that exchanging A and B swaps ``prior_a`` and
``prior_b``, negates ``prior_logit`` and leaves the others unchanged bit for bit (which the
predictor's swap-averaging relies on): the outcome probabilities come from
:func:`~arena_stats.models.bradley_terry.outcome_probabilities`, which is exactly swap-symmetric, and
the covariance is symmetrised.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data.battles import Battles
from ..data.readers import load_battles
from ..errors import InputError
from ..models.bradley_terry import fit_bradley_terry, outcome_probabilities
from .data import LABEL_A, LABEL_B, LABEL_TIE

__all__ = ["PRIOR_COLUMNS", "PRIOR_L2", "PRIOR_TIES", "DEFAULT_FOLDS", "BTPrior", "fit_prior", "prior_logits",
           "out_of_fold_prior", "grouped_folds", "row_groups"]

#: Columns of :meth:`BTPrior.features`.
PRIOR_COLUMNS = ("prior_a", "prior_b", "prior_tie", "prior_logit", "prior_tie_logit", "prior_se",
                 "prior_unknown", "prior_d")
#: Gaussian penalty on the natural-scale strengths (a N(0, 1 / PRIOR_L2) prior); chosen on the
#: LLMFAO grouped CV (docs/predictor.md), where 0.1 to 2 differ by under 0.002 in log loss.
PRIOR_L2 = 0.5
PRIOR_TIES = ("davidson", "rao-kupper")
DEFAULT_FOLDS = 5
_WINNER = np.array(["model_a", "model_b", "tie"], dtype=object)
# probabilities are kept away from 0 before taking logs
_EPS = 1e-12


def _population_log_tie(ties: str, tie_rate: float) -> float:
    """The tie parameter that gives ``tie_rate`` at equal strengths."""
    t = min(max(tie_rate, 1e-3), 1 - 1e-3)
    if ties == "davidson":  # P(tie) = nu / (2 + nu)
        return float(np.log(2 * t / (1 - t)))
    return float(np.log((1 + t) / (1 - t)))  # Rao-Kupper: P(a) = sigmoid(-tau) = (1 - t) / 2


@dataclass(frozen=True)
class BTPrior:
    """A fitted tie-aware BT model used as a prior over the three outcomes.

    Attributes
    ----------
    models : list of str
        The models the fit saw; any other name is unknown.
    theta, cov : ndarray
        Their natural-log strengths (summing to zero) and the covariance of those.
    log_tie : float
        ``log nu`` (Davidson) or ``tau = log eta`` (Rao-Kupper).
    ties : str
    unknown_var : float
        Variance assigned to the strength of an unknown model.
    settings : dict
        ``l2`` and the number of battles fitted.
    """

    models: list[str]
    theta: np.ndarray
    cov: np.ndarray
    log_tie: float
    ties: str
    unknown_var: float
    settings: dict[str, Any] = field(default_factory=dict)

    def features(self, model_a: Any, model_b: Any) -> pd.DataFrame:
        """The :data:`PRIOR_COLUMNS` for each row of models ``model_a`` vs ``model_b``.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"model_a": ["x", "y", "x", "y"], "model_b": ["y", "x", "y", "x"],
        ...                    "winner": ["model_a", "model_b", "tie", "model_a"]})
        >>> prior = fit_prior(df["model_a"], df["model_b"], df["winner"].map(
        ...     {"model_a": 0, "model_b": 1, "tie": 2}).to_numpy())
        >>> f = prior.features(["x", "nobody"], ["y", "x"])
        >>> f["prior_unknown"].tolist()
        [0.0, 1.0]
        >>> bool(f["prior_a"][0] > f["prior_b"][0])
        True
        """
        lookup = {m: k for k, m in enumerate(self.models)}
        ia = np.fromiter((lookup.get(m, -1) if isinstance(m, str) else -1 for m in model_a), np.int64)
        ib = np.fromiter((lookup.get(m, -1) if isinstance(m, str) else -1 for m in model_b), np.int64)
        ka, kb = ia >= 0, ib >= 0
        theta = np.append(self.theta, 0.0)  # index -1: an unknown model at the population mean
        var = np.append(np.diag(self.cov) if len(self.models) else np.zeros(0), self.unknown_var)
        d = theta[ia] - theta[ib]
        both = ka & kb
        cov_ab = np.zeros(len(ia))
        if both.any():
            cov_ab[both] = self.cov[ia[both], ib[both]]
        se = np.sqrt(np.maximum((var[ia] + var[ib]) - 2.0 * cov_ab, 0.0))
        p = outcome_probabilities(d, self.ties, self.log_tie)
        lp = np.log(np.maximum(p, _EPS))
        return pd.DataFrame({
            "prior_a": p[:, 0], "prior_b": p[:, 1], "prior_tie": p[:, 2],
            "prior_logit": lp[:, 0] - lp[:, 1],
            "prior_tie_logit": lp[:, 2] - 0.5 * (lp[:, 0] + lp[:, 1]),
            "prior_se": se,
            "prior_unknown": (~ka).astype(float) + (~kb).astype(float),
            "prior_d": d,
        })

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (floats round-trip exactly through ``json``)."""
        return {"models": list(self.models), "theta": self.theta.tolist(), "cov": self.cov.tolist(),
                "log_tie": float(self.log_tie), "ties": self.ties, "unknown_var": float(self.unknown_var),
                "settings": dict(self.settings)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BTPrior:
        n = len(d["models"])
        return cls(models=[str(m) for m in d["models"]], theta=np.asarray(d["theta"], float).reshape(n),
                   cov=np.asarray(d["cov"], float).reshape(n, n), log_tie=float(d["log_tie"]),
                   ties=str(d["ties"]), unknown_var=float(d["unknown_var"]), settings=dict(d.get("settings", {})))


def prior_logits(d: np.ndarray, ties: str, log_tie: float) -> tuple[np.ndarray, np.ndarray]:
    """``s = log(P(a) / P(b)) / 2`` and ``t = log(P(tie) / sqrt(P(a) P(b)))`` of the prior at
    strength differences ``d`` with tie parameter ``log_tie`` (the combining logit's offsets).

    Examples
    --------
    >>> import numpy as np
    >>> s, t = prior_logits(np.array([1.0, -1.0]), "davidson", np.log(0.5))
    >>> np.round(s, 12).tolist(), np.round(t, 4).tolist()
    ([0.5, -0.5], [-0.6931, -0.6931])
    """
    lp = np.log(np.maximum(outcome_probabilities(np.asarray(d, float), ties, log_tie), _EPS))
    return 0.5 * (lp[:, 0] - lp[:, 1]), lp[:, 2] - 0.5 * (lp[:, 0] + lp[:, 1])


def _battle_frame(model_a: np.ndarray, model_b: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    model_a = np.asarray(model_a, dtype=object)
    model_b = np.asarray(model_b, dtype=object)
    labels = np.asarray(labels)
    known = np.array([isinstance(a, str) and isinstance(b, str) and a != b for a, b in zip(model_a, model_b)],
                     dtype=bool) if len(labels) else np.zeros(0, bool)
    known &= np.isin(labels, (LABEL_A, LABEL_B, LABEL_TIE))
    return pd.DataFrame({"model_a": model_a[known], "model_b": model_b[known],
                         "winner": _WINNER[labels[known].astype(np.int64)], "count": 1.0})


def _extra_frame(extra: Battles) -> pd.DataFrame:
    out = pd.DataFrame({"model_a": extra.frame["model_a"].astype(object).to_numpy(),
                        "model_b": extra.frame["model_b"].astype(object).to_numpy(),
                        # tie (bothbad) is a tie for the three-class prior
                        "winner": _WINNER[np.minimum(extra.outcome.astype(np.int64), LABEL_TIE)],
                        "count": extra.counts})
    if extra.weights is not None:
        out["weight"] = extra.weights
    return out


def fit_prior(model_a: Any, model_b: Any, labels: np.ndarray, *, extra: Battles | None = None,
              ties: str = "davidson", l2: float = PRIOR_L2) -> BTPrior:
    """Fit the BT prior on labelled rows (those naming two models) plus an extra battle log.

    Parameters
    ----------
    model_a, model_b : array-like of str or None
    labels : ndarray of int
        :data:`.data.LABEL_A`, ``LABEL_B``, ``LABEL_TIE``; other values are ignored.
    extra : Battles, optional
        More battles (no texts needed) as further evidence about the strengths.
    ties : {"davidson", "rao-kupper"}
    l2 : float
        Gaussian penalty on the strengths (see :data:`PRIOR_L2`).

    Returns
    -------
    BTPrior
        With no usable battle at all, an empty prior whose tie parameter matches the label
        frequencies (every model unknown).
    """
    if ties not in PRIOR_TIES:
        raise InputError(f"the prior needs a tie-aware model; ties must be one of {', '.join(PRIOR_TIES)}, "
                         f"got {ties!r}")
    frame = _battle_frame(np.asarray(model_a, dtype=object), np.asarray(model_b, dtype=object), labels)
    if extra is not None:
        frame = pd.concat([frame, _extra_frame(extra)], ignore_index=True)
        if "weight" in frame:
            frame["weight"] = frame["weight"].fillna(1.0)
    labels = np.asarray(labels)
    known_labels = labels[labels >= 0]
    tie_rate = float(np.mean(known_labels == LABEL_TIE)) if len(known_labels) else 1 / 3
    has_both = len(frame) and frame["winner"].eq("tie").any() and (~frame["winner"].eq("tie")).any()
    if not has_both or len(set(frame["model_a"]) | set(frame["model_b"])) < 2:
        return BTPrior(models=[], theta=np.zeros(0), cov=np.zeros((0, 0)),
                       log_tie=_population_log_tie(ties, tie_rate), ties=ties, unknown_var=0.0,
                       settings={"l2": float(l2), "n_battles": float(frame["count"].sum()) if len(frame) else 0.0})
    battles = load_battles(frame, weight_col="weight" if "weight" in frame else None)
    with warnings.catch_warnings():
        # a fold may lack the battles that make the plain MLE exist; the penalty handles that
        warnings.filterwarnings("ignore", message="without the prior the MLE would not exist")
        fit = fit_bradley_terry(battles, ties=ties, l2=l2)
    k = fit.settings["scale"] / np.log(fit.settings["base"])
    cov = fit.cov.to_numpy() / (k * k)
    cov = 0.5 * (cov + cov.T)  # exactly symmetric, so swapping a and b cannot change prior_se
    theta = np.asarray(fit.theta, float)
    # an unknown model is a random draw from the population: its spread plus typical estimation noise
    unknown_var = float(np.mean(theta ** 2) + np.mean(np.diag(cov)))
    return BTPrior(models=list(fit.models), theta=theta, cov=cov, log_tie=float(fit.log_tie), ties=ties,
                   unknown_var=unknown_var, settings={"l2": float(l2), "n_battles": float(fit.n_battles)})


def row_groups(frame: pd.DataFrame) -> np.ndarray:
    """Integer group per row: the ``group`` column when present, else the prompt text."""
    key = frame["group"] if "group" in frame.columns else frame["prompt"]
    codes, _ = pd.factorize(key.astype(object).where(key.notna(), "").astype(str), sort=True)
    return codes.astype(np.int64)


def grouped_folds(groups: np.ndarray, n_folds: int, seed: int = 0) -> np.ndarray:
    """Assign whole groups to ``n_folds`` folds of similar size (fold id per row).

    Groups are shuffled with ``seed``, then placed largest first into the currently smallest fold,
    so no group is split and folds are balanced. With fewer groups than folds every group is
    its own fold.

    Examples
    --------
    >>> import numpy as np
    >>> f = grouped_folds(np.array([0, 0, 1, 1, 2, 3]), 2, seed=1)
    >>> bool(f[0] == f[1] and f[2] == f[3]), sorted(np.bincount(f).tolist())
    (True, [3, 3])
    """
    groups = np.asarray(groups, dtype=np.int64)
    uniq, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    k = max(1, min(int(n_folds), len(uniq)))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    order = order[np.argsort(-sizes[order], kind="stable")]
    load = np.zeros(k)
    fold_of_group = np.empty(len(uniq), np.int64)
    for g in order:
        f = int(np.argmin(load))
        fold_of_group[g] = f
        load[f] += sizes[g]
    return fold_of_group[inverse]


def out_of_fold_prior(model_a: Any, model_b: Any, labels: np.ndarray, groups: np.ndarray, *,
                      n_folds: int = DEFAULT_FOLDS, seed: int = 0, extra: Battles | None = None,
                      ties: str = "davidson", l2: float = PRIOR_L2, folds: np.ndarray | None = None,
                      fold_fits: dict[int, BTPrior] | None = None) -> pd.DataFrame:
    """Prior columns for training rows, each from a fit that never saw the row's fold.

    Rows are split into ``n_folds`` folds by whole groups (:func:`grouped_folds`; the prompt by
    default, so votes on the same prompt share a fold). A row's label therefore never informs
    its own prior. With a single group, rows are folded individually. ``folds`` (a fold id per
    row) overrides the assignment, so that the caller's other out-of-fold steps use the same folds;
    a dict passed as ``fold_fits`` receives each fold's fit (``fold -> BTPrior``).

    Returns
    -------
    pandas.DataFrame
        :data:`PRIOR_COLUMNS`, one row per input row.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array(["x", "y"] * 20, dtype=object); b = np.array(["y", "x"] * 20, dtype=object)
    >>> labels = np.arange(40) % 3
    >>> out_of_fold_prior(a, b, labels, np.arange(40) // 4, n_folds=5).shape
    (40, 8)
    """
    model_a = np.asarray(model_a, dtype=object)
    model_b = np.asarray(model_b, dtype=object)
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    if folds is None:
        if len(np.unique(groups)) < 2:
            groups = np.arange(len(labels))
        folds = grouped_folds(groups, n_folds, seed)
    folds = np.asarray(folds)
    out = pd.DataFrame(np.zeros((len(labels), len(PRIOR_COLUMNS))), columns=list(PRIOR_COLUMNS))
    for f in np.unique(folds):
        held = folds == f
        prior = fit_prior(model_a[~held], model_b[~held], labels[~held], extra=extra, ties=ties, l2=l2)
        out.loc[held, :] = prior.features(model_a[held], model_b[held]).to_numpy()
        if fold_fits is not None:
            fold_fits[int(f)] = prior
    return out
