"""Grouped cross-validation of the preference predictor next to simple baselines.

Every model is scored on the same folds, grouped by prompt (or by a ``group`` column), so no
prompt is ever in both a training and a test fold: votes on the same prompt share texts and
often models, and splitting them would flatter anything that memorises. Per fold, each model is
fit on the training folds only (the predictor's own out-of-fold prior is nested inside that)
and predicts the held-out fold; the out-of-fold predictions of all folds are then scored
together.

The models (:data:`MODELS`):

* ``uniform``: 1/3 each (log loss ln 3 = 1.0986);
* ``class_prior``: the training folds' class frequencies;
* ``bt_prior``: the tie-aware BT prior alone (Davidson fit on the training folds, population
  prior for unknown models), uncalibrated;
* ``bt_prior_logit``: the predictor with the prior features only (the prior recalibrated);
* ``length_only``: the predictor with response lengths only;
* ``full``: the predictor with text features and the prior.

Reported per model: log loss (with the standard error of the mean over rows, and the paired
difference to ``full`` with its standard error; rows within a prompt are correlated, so these
errors are a little optimistic), accuracy (argmax), and a calibration table (predicted
probability bins against observed frequencies, all three classes pooled one-vs-rest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data.battles import Battles

from ..data.readers import as_battles
from ..errors import InputError
from .._util.progress import progress
from .data import read_preference_data
from .features import text_features
from .model import CLASSIFIERS, EPS, PreferencePredictor, log_loss
from .prior import DEFAULT_FOLDS, PRIOR_L2, fit_prior, grouped_folds, row_groups

__all__ = ["MODELS", "CALIBRATION_BINS", "EvaluationResult", "evaluate", "calibration_table"]

MODELS = ("uniform", "class_prior", "bt_prior", "bt_prior_logit", "length_only", "full")
CALIBRATION_BINS = 10
_FEATURE_SET = {"bt_prior_logit": "prior", "length_only": "length", "full": "full"}
_CLASS_NAMES = ("a", "b", "tie")


def calibration_table(labels: np.ndarray, proba: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Predicted-probability bins against observed frequencies, per class (one-vs-rest).

    Returns one row per (class, bin) with ``class, bin_lower, bin_upper, n, mean_predicted,
    observed`` (empty bins are left out).

    Examples
    --------
    >>> import numpy as np
    >>> t = calibration_table(np.array([0, 1, 2, 0]), np.full((4, 3), 1 / 3), bins=3)
    >>> t[["class", "n", "observed"]].values.tolist()
    [['a', 4, 0.5], ['b', 4, 0.25], ['tie', 4, 0.25]]
    """
    labels = np.asarray(labels)
    proba = np.asarray(proba, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for c, name in enumerate(_CLASS_NAMES):
        p = proba[:, c]
        hit = (labels == c).astype(float)
        idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
        n = np.bincount(idx, minlength=bins)
        sp = np.bincount(idx, weights=p, minlength=bins)
        sh = np.bincount(idx, weights=hit, minlength=bins)
        for k in np.flatnonzero(n):
            rows.append((name, edges[k], edges[k + 1], int(n[k]), sp[k] / n[k], sh[k] / n[k]))
    return pd.DataFrame(rows, columns=["class", "bin_lower", "bin_upper", "n", "mean_predicted", "observed"])


@dataclass(frozen=True)
class EvaluationResult:
    """Cross-validated scores of the predictor and the baselines.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model: ``model, log_loss, log_loss_se, delta_vs_full, delta_se, accuracy, n``.
    predictions : dict of str -> ndarray
        Out-of-fold probabilities ``(n, 3)`` of every model, rows in input order.
    labels : ndarray
        The true labels (0 a, 1 b, 2 tie).
    folds : ndarray
        The fold of each row.
    settings : dict
        ``n_folds, seed, classifier, ties, prior_l2, n_groups, extra_battles``.
    """

    table: pd.DataFrame
    predictions: dict[str, np.ndarray] = field(repr=False)
    labels: np.ndarray = field(repr=False)
    folds: np.ndarray = field(repr=False)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The score table (a copy)."""
        return self.table.copy()

    def calibration(self, model: str = "full", bins: int = CALIBRATION_BINS) -> pd.DataFrame:
        """:func:`calibration_table` of one model's out-of-fold predictions."""
        if model not in self.predictions:
            raise InputError(f"no predictions for model {model!r}; have {', '.join(self.predictions)}")
        return calibration_table(self.labels, self.predictions[model], bins)

    def summary(self) -> str:
        """The score table as text, with the settings."""
        s = self.settings
        lines = [f"Grouped {s['n_folds']}-fold cross-validation ({s['n_groups']} groups, {len(self.labels):,} rows, "
                 f"seed {s['seed']}; classifier {s['classifier']}, prior {s['ties']} l2={s['prior_l2']:g})",
                 f"{'model':<16} {'log_loss':>9} {'(se)':>8} {'vs full':>9} {'(se)':>8} {'accuracy':>9}"]
        for r in self.table.itertuples(index=False):
            lines.append(f"{r.model:<16} {r.log_loss:9.4f} {r.log_loss_se:8.4f} {r.delta_vs_full:+9.4f} "
                         f"{r.delta_se:8.4f} {r.accuracy:9.3f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def reliability_plot(self, models: tuple[str, ...] | None = None, bins: int = CALIBRATION_BINS):  # noqa: ANN201
        """Reliability diagram: observed frequency against mean predicted probability, one panel
        per class. Returns a matplotlib Figure (never shown)."""
        from matplotlib.figure import Figure
        names = [m for m in (models or ("full", "bt_prior", "length_only")) if m in self.predictions]
        fig = Figure(figsize=(11, 3.8))
        axes = fig.subplots(1, 3, sharey=True)
        for c, (ax, cname) in enumerate(zip(axes, ("P(a wins)", "P(b wins)", "P(tie)"))):
            ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
            for m in names:
                t = self.calibration(m, bins)
                t = t[t["class"] == _CLASS_NAMES[c]]
                ax.plot(t["mean_predicted"], t["observed"], marker="o", ms=4, label=m)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel(f"predicted {cname}")
            ax.set_title(cname)
        axes[0].set_ylabel("observed frequency")
        axes[-1].legend(loc="upper left", fontsize=8)
        fig.suptitle(f"Reliability, grouped {self.settings['n_folds']}-fold CV ({len(self.labels):,} rows)")
        fig.tight_layout()
        return fig


def evaluate(data: Any, *, n_folds: int = DEFAULT_FOLDS, seed: int = 0,
             extra_battles: Battles | pd.DataFrame | str | None = None, models: tuple[str, ...] = MODELS,
             classifier: str = "symmetric-logit", ties: str = "davidson", prior_l2: float = PRIOR_L2,
             tie_l2: float | str = "auto", show_progress: bool = False) -> EvaluationResult:
    """Grouped cross-validation of the predictor and the baselines on labelled data.

    Parameters
    ----------
    data : DataFrame or path
        Kaggle-schema rows with labels. Groups: a ``group`` column if present, else the prompt.
    n_folds : int
        Outer folds (at most the number of groups).
    seed : int
        Seed of the fold assignment (outer and the predictor's inner folds).
    extra_battles : Battles, DataFrame or path, optional
        A battle log without texts, added to every training fold's BT prior. It must not contain
        the evaluated votes themselves, or the prior leaks their labels.
    models : tuple of str
        Which of :data:`MODELS` to score.
    classifier, ties, prior_l2, tie_l2
        Passed to :class:`PreferencePredictor`.
    show_progress : bool
        A progress bar on stderr over the folds.

    Returns
    -------
    EvaluationResult

    Examples
    --------
    >>> from arena_stats.predictor.simulate import simulate_preferences
    >>> res = evaluate(simulate_preferences(n_rows=1500, n_models=6, seed=3), n_folds=3,
    ...                models=("uniform", "bt_prior", "full"))
    >>> res.table["model"].tolist()
    ['uniform', 'bt_prior', 'full']
    >>> bool(res.table.set_index("model").loc["full", "log_loss"] < 1.0986)
    True
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise InputError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if classifier not in CLASSIFIERS:
        raise InputError(f"classifier must be one of {', '.join(CLASSIFIERS)}, got {classifier!r}")
    frame = read_preference_data(data, require_labels=True)
    extra = as_battles(extra_battles) if extra_battles is not None else None
    labels = frame["label"].to_numpy()
    groups = row_groups(frame)
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise InputError("grouped cross-validation needs at least two groups (prompts)")
    folds = grouped_folds(groups, n_folds, seed)
    texts = text_features(frame) if any(m in _FEATURE_SET for m in models) else None
    preds = {m: np.zeros((len(frame), 3)) for m in models}
    fold_ids = np.unique(folds)
    with progress(len(fold_ids), "cross-validation", enabled=show_progress) as bar:
        for f in fold_ids:
            test = folds == f
            train = ~test
            tr, te = frame.loc[train].reset_index(drop=True), frame.loc[test].reset_index(drop=True)
            for m in models:
                if m == "uniform":
                    preds[m][test] = 1.0 / 3.0
                elif m == "class_prior":
                    freq = np.bincount(labels[train], minlength=3) / train.sum()
                    preds[m][test] = np.clip(freq, EPS, None) / np.clip(freq, EPS, None).sum()
                elif m == "bt_prior":
                    prior = fit_prior(tr["model_a"].to_numpy(), tr["model_b"].to_numpy(), labels[train],
                                      extra=extra, ties=ties, l2=prior_l2)
                    feats = prior.features(te["model_a"].to_numpy(), te["model_b"].to_numpy())
                    preds[m][test] = feats[["prior_a", "prior_b", "prior_tie"]].to_numpy()
                else:
                    model = PreferencePredictor(feature_set=_FEATURE_SET[m], classifier=classifier, ties=ties,
                                                prior_l2=prior_l2, tie_l2=tie_l2, seed=seed)
                    assert texts is not None
                    model.fit(tr, extra_battles=extra, text_table=texts.loc[train].reset_index(drop=True))
                    preds[m][test] = model.predict_proba(
                        te, text_table=texts.loc[test].reset_index(drop=True)).to_numpy()
            bar.update()
    rows = []
    n = len(labels)
    idx = np.arange(n)
    per_row = {m: -np.log(np.clip(p[idx, labels], EPS, 1.0)) for m, p in preds.items()}
    ref = per_row.get("full")
    for m in models:
        loss = per_row[m]
        delta = loss - ref if ref is not None else np.full(n, np.nan)
        rows.append({"model": m, "log_loss": log_loss(labels, preds[m]),
                     "log_loss_se": float(loss.std(ddof=1) / np.sqrt(n)),
                     "delta_vs_full": float(delta.mean()), "delta_se": float(delta.std(ddof=1) / np.sqrt(n)),
                     "accuracy": float(np.mean(preds[m].argmax(axis=1) == labels)), "n": n})
    settings = {"n_folds": int(len(fold_ids)), "seed": seed, "classifier": classifier, "ties": ties,
                "prior_l2": float(prior_l2), "tie_l2": tie_l2, "n_groups": int(n_groups),
                "extra_battles": float(extra.n_battles) if extra is not None else 0.0}
    return EvaluationResult(table=pd.DataFrame(rows), predictions=preds, labels=labels, folds=folds,
                            settings=settings)
