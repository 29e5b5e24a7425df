"""Grouped cross-validation of the preference predictor next to simple baselines.

Every model is scored on the same folds, grouped by prompt (or by a ``group`` column), so no
prompt is ever in both a training and a test fold: votes on the same prompt share texts and
often models, and splitting them would flatter anything that memorises. Per fold, each model is
fit on the training folds only (the predictor's own out-of-fold steps and its selection are
nested inside that) and predicts the held-out fold; the out-of-fold predictions of all folds are
then scored together.

The models (:data:`MODELS`):

* ``uniform``: 1/3 each (log loss ln 3 = 1.0986);
* ``class_prior``: the training folds' class frequencies;
* ``bt_prior``: the tie-aware BT prior alone (Davidson fit on the training folds, population
  prior for unknown models), as it is;
* ``bt_prior_recal``: the predictor with the prior recalibrated and no text;
* ``length_only``, ``style_only``, ``words_only``, ``chars_only``, ``tie_only``: the predictor
  with one text block and no prior (each block alone);
* ``full``: the predictor as configured (by default the prior plus the blocks its selection
  chooses, calibrated); ``full (uncalibrated)`` is added to the table: the same fits before
  calibration.

Reported per model: log loss, the standard error of the mean over rows, the paired difference to
``full`` with its standard error over rows and clustered by prompt (rows within a prompt are
correlated, so the row-level errors are optimistic), accuracy (argmax), and a calibration table
(predicted probability bins against observed frequencies, all three classes pooled one-vs-rest).
:func:`evaluate_seeds` repeats the whole cross-validation over several fold assignments and
reports the mean with its standard error over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._util.progress import progress as progress_bar
from .._util.renamed import renamed
from ..data.battles import Battles
from ..data.readers import load_battles
from ..errors import InputError
from .data import read_preference_data
from .featurize import PreferenceFeatures, compute_features
from .model import DEFAULT_BLOCKS, EPS, SELECTIONS, TEXT_BLOCKS, PreferencePredictor, log_loss
from .prior import DEFAULT_FOLDS, PRIOR_L2, fit_prior, grouped_folds, row_groups
from .selection import TEXT_L2, clustered_se

__all__ = ["MODELS", "CALIBRATION_BINS", "EvaluationResult", "SeedEvaluation", "evaluate", "evaluate_seeds",
           "calibration_table"]

MODELS = ("uniform", "class_prior", "bt_prior", "bt_prior_recal", "length_only", "style_only", "words_only",
          "chars_only", "tie_only", "full")
CALIBRATION_BINS = 10
UNCALIBRATED = "full (uncalibrated)"
#: The predictor variants: (prior, blocks, selection); ``None`` blocks: the evaluate() arguments.
_VARIANTS: dict[str, tuple[bool, tuple[str, ...] | None, str | None]] = {
    "bt_prior_recal": (True, (), "all"),
    "length_only": (False, ("length",), "all"),
    "style_only": (False, ("style",), "all"),
    "words_only": (False, ("words",), "all"),
    "chars_only": (False, ("chars",), "all"),
    "tie_only": (False, ("tie",), "all"),
    "full": (True, None, None),
}
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
        One row per model: ``model, log_loss, log_loss_se, delta_vs_full, delta_se,
        delta_se_group, accuracy, n``.
    predictions : dict of str -> ndarray
        Out-of-fold probabilities ``(n, 3)`` of every model, rows in input order.
    labels : ndarray
        The true labels (0 a, 1 b, 2 tie).
    folds : ndarray
        The fold of each row.
    settings : dict
        ``n_folds, seed, ties, prior_l2, blocks, selection, n_groups, extra_battles`` and
        ``chosen`` (the full model's choice in each fold).
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
        """The score table as text, with the settings and the full model's choices."""
        s = self.settings
        lines = [f"Grouped {s['n_folds']}-fold cross-validation ({s['n_groups']} groups, {len(self.labels):,} rows, "
                 f"seed {s['seed']}; prior {s['ties']} l2={s['prior_l2']:g}; blocks offered "
                 f"{', '.join(s['blocks'])}, selection {s['selection']})",
                 f"{'model':<20} {'log_loss':>9} {'(se)':>7} {'vs full':>9} {'(se)':>7} {'(se/prompt)':>11} "
                 f"{'accuracy':>9}"]
        for r in self.table.itertuples(index=False):
            lines.append(f"{r.model:<20} {r.log_loss:9.4f} {r.log_loss_se:7.4f} {r.delta_vs_full:+9.4f} "
                         f"{r.delta_se:7.4f} {r.delta_se_group:11.4f} {r.accuracy:9.3f}")
        if s.get("chosen"):
            lines.append("full model's choice per fold: " + ", ".join(s["chosen"]))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (f"EvaluationResult({len(self.table)} models, {len(self.labels):,} rows, "
                f"{self.settings.get('n_folds')} folds, seed {self.settings.get('seed')})")

    def reliability_plot(self, models: Sequence[str] | None = None, bins: int = CALIBRATION_BINS):  # noqa: ANN201
        """Reliability diagram: observed frequency against mean predicted probability, one panel
        per class, with the number of rows per bin as the marker size. Returns a matplotlib
        Figure (never shown)."""
        from matplotlib.figure import Figure
        default = ("full", UNCALIBRATED, "bt_prior", "style_only", "length_only")
        names = [m for m in (models or default) if m in self.predictions]
        fig = Figure(figsize=(12, 4.2))
        axes = fig.subplots(1, 3, sharey=True)
        n = len(self.labels)
        for c, (ax, cname) in enumerate(zip(axes, ("P(a wins)", "P(b wins)", "P(tie)"))):
            ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
            for m in names:
                t = self.calibration(m, bins)
                t = t[t["class"] == _CLASS_NAMES[c]]
                # the uncalibrated curve dashed: where calibration was not applied it lies under "full"
                z = {"full": 3, UNCALIBRATED: 4}.get(m, 2)
                line, = ax.plot(t["mean_predicted"], t["observed"], lw=3.0 if m == "full" else 1.2, label=m,
                                ls="--" if m == UNCALIBRATED else "-", zorder=z)
                ax.scatter(t["mean_predicted"], t["observed"], s=8 + 400 * t["n"] / n, color=line.get_color(),
                           alpha=0.7, edgecolors="none", zorder=z)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel(f"predicted {cname}")
            ax.set_title(cname)
        axes[0].set_ylabel("observed frequency")
        axes[-1].legend(loc="upper left", fontsize=8)
        fig.suptitle(f"Reliability, grouped {self.settings['n_folds']}-fold CV ({n:,} rows; "
                     f"marker area: rows in the bin)")
        fig.tight_layout()
        return fig


def _needed_blocks(models: Sequence[str], blocks: Sequence[str]) -> list[str]:
    need: list[str] = []
    for m in models:
        if m in _VARIANTS:
            b = _VARIANTS[m][1]
            for x in (blocks if b is None else b):
                if x not in need:
                    need.append(x)
    return need


def evaluate(data: Any, *, folds: int = DEFAULT_FOLDS, seed: int = 0,
             extra_battles: Battles | pd.DataFrame | str | None = None, models: Sequence[str] = MODELS,
             blocks: Sequence[str] = DEFAULT_BLOCKS, selection: str = "auto", calibrate: bool = True,
             ties: str = "davidson", prior_l2: float = PRIOR_L2, text_l2: float = TEXT_L2,
             features: PreferenceFeatures | None = None, progress: bool = False,
             show_progress: bool | None = None, n_folds: int | None = None) -> EvaluationResult:
    """Grouped cross-validation of the predictor and the baselines on labelled data.

    Parameters
    ----------
    data : DataFrame or path
        Kaggle-schema rows with labels. Groups: a ``group`` column if present, else the prompt.
    folds : int
        Outer folds (at most the number of groups).
    seed : int
        Seed of the fold assignment (outer, and the predictor's inner folds).
    extra_battles : Battles, DataFrame or path, optional
        A battle log without texts, added to every training fold's BT prior. It must not contain
        the evaluated votes themselves, or the prior leaks their labels.
    models : sequence of str
        Which of :data:`MODELS` to score.
    blocks, selection, calibrate, ties, prior_l2, text_l2
        Passed to :class:`PreferencePredictor` for ``full`` (``ties`` and ``prior_l2`` to every
        model with a prior).
    features : PreferenceFeatures, optional
        :func:`.featurize.compute_features` of ``data`` for every block the models need
        (reused across seeds by :func:`evaluate_seeds`).
    progress : bool
        A progress bar on stderr over the folds (``show_progress`` is its old name).

    Returns
    -------
    EvaluationResult

    Examples
    --------
    >>> from arena_stats.predictor.simulate import simulate_preferences
    >>> res = evaluate(simulate_preferences(n_rows=1500, n_models=6, seed=3), folds=3,
    ...                models=("uniform", "bt_prior", "full"), blocks=("length",))
    >>> res.table["model"].tolist()
    ['uniform', 'bt_prior', 'full', 'full (uncalibrated)']
    >>> bool(res.table.set_index("model").loc["full", "log_loss"] < 1.0986)
    True
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise InputError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    bad = [b for b in blocks if b not in TEXT_BLOCKS]
    if bad:
        raise InputError(f"unknown text block(s) {', '.join(bad)}; choose from {', '.join(TEXT_BLOCKS)}")
    if selection not in SELECTIONS:
        raise InputError(f"selection must be one of {', '.join(SELECTIONS)}, got {selection!r}")
    frame = read_preference_data(data, require_labels=True)
    extra = load_battles(extra_battles) if extra_battles is not None else None
    labels = frame["label"].to_numpy()
    groups = row_groups(frame)
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise InputError("grouped cross-validation needs at least two groups (prompts)")
    if n_folds is not None:
        folds = renamed("n_folds", n_folds, "folds", None if folds == DEFAULT_FOLDS else folds, where="evaluate")
    fold_of = grouped_folds(groups, folds, seed)
    need = _needed_blocks(models, blocks)
    if features is None:
        features = compute_features(frame, need)
    else:
        features.check(len(frame), need)
    preds = {m: np.zeros((len(frame), 3)) for m in models}
    if "full" in models:
        preds[UNCALIBRATED] = np.zeros((len(frame), 3))
    chosen: list[str] = []
    fold_ids = np.unique(fold_of)
    progress = bool(renamed("show_progress", show_progress, "progress", progress or None, where="evaluate"))
    with progress_bar(len(fold_ids) * len(models), "cross-validation", enabled=progress) as bar:
        for f in fold_ids:
            test = fold_of == f
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
                    use_prior, b, sel = _VARIANTS[m]
                    model = PreferencePredictor(prior=use_prior, blocks=tuple(blocks) if b is None else b,
                                                selection=selection if sel is None else sel, calibrate=calibrate,
                                                ties=ties, prior_l2=prior_l2, text_l2=text_l2, folds=folds,
                                                seed=seed)
                    model.fit(tr, extra_battles=extra if use_prior else None, features=features.take(train))
                    te_feats = features.take(test)
                    preds[m][test] = model.predict_proba(te, features=te_feats).to_numpy()
                    if m == "full":
                        preds[UNCALIBRATED][test] = model.predict_proba(te, features=te_feats,
                                                                        calibrated=False).to_numpy()
                        assert model.chosen_ is not None  # set by fit
                        chosen.append(model.chosen_.name + (" (calibrated)" if not model.calibration_.is_identity
                                                            else ""))
                bar.update()
    rows = []
    n = len(labels)
    idx = np.arange(n)
    per_row = {m: -np.log(np.clip(p[idx, labels], EPS, 1.0)) for m, p in preds.items()}
    ref = per_row.get("full")
    for m in preds:
        loss = per_row[m]
        delta = loss - ref if ref is not None else np.full(n, np.nan)
        rows.append({"model": m, "log_loss": log_loss(labels, preds[m]),
                     "log_loss_se": float(loss.std(ddof=1) / np.sqrt(n)),
                     "delta_vs_full": float(delta.mean()), "delta_se": float(delta.std(ddof=1) / np.sqrt(n)),
                     "delta_se_group": clustered_se(delta, groups) if ref is not None else float("nan"),
                     "accuracy": float(np.mean(preds[m].argmax(axis=1) == labels)), "n": n})
    settings = {"n_folds": int(len(fold_ids)), "seed": seed, "ties": ties, "prior_l2": float(prior_l2),
                "blocks": list(blocks), "selection": selection, "calibrate": calibrate, "n_groups": int(n_groups),
                "extra_battles": float(extra.n_battles) if extra is not None else 0.0, "chosen": chosen}
    return EvaluationResult(table=pd.DataFrame(rows), predictions=preds, labels=labels, folds=fold_of,
                            settings=settings)


@dataclass(frozen=True)
class SeedEvaluation:
    """:func:`evaluate` repeated over several fold assignments.

    Attributes
    ----------
    table : pandas.DataFrame
        Per model: ``log_loss`` (mean over seeds), ``se_seeds`` (its standard error over
        seeds: the fold-assignment noise), ``se_rows`` (mean row-level standard error),
        ``delta_vs_full`` (mean paired difference to ``full``), ``delta_se_seeds``,
        ``delta_se_group`` (mean prompt-clustered standard error of the paired difference),
        ``accuracy``.
    results : list of EvaluationResult
        One per seed.
    """

    table: pd.DataFrame
    results: list[EvaluationResult] = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        r0 = self.results[0].settings
        seeds = [r.settings["seed"] for r in self.results]
        lines = [f"Grouped {r0['n_folds']}-fold cross-validation over seeds {', '.join(map(str, seeds))} "
                 f"({r0['n_groups']} groups, {len(self.results[0].labels):,} rows)",
                 f"{'model':<20} {'log_loss':>9} {'(se seeds)':>10} {'(se rows)':>9} {'vs full':>9} "
                 f"{'(se seeds)':>10} {'(se/prompt)':>11}"]
        for r in self.table.itertuples(index=False):
            lines.append(f"{r.model:<20} {r.log_loss:9.4f} {r.se_seeds:10.4f} {r.se_rows:9.4f} "
                         f"{r.delta_vs_full:+9.4f} {r.delta_se_seeds:10.4f} {r.delta_se_group:11.4f}")
        for r in self.results:
            if r.settings.get("chosen"):
                lines.append(f"seed {r.settings['seed']}: full model chose " + ", ".join(r.settings["chosen"]))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"SeedEvaluation({len(self.table)} models, {len(self.results)} seeds)"


def evaluate_seeds(data: Any, seeds: Sequence[int] = (0, 1, 2, 3, 4), **kwargs: Any) -> SeedEvaluation:
    """:func:`evaluate` once per seed (texts featurised once), with standard errors over seeds.

    Examples
    --------
    >>> from arena_stats.predictor.simulate import simulate_preferences
    >>> res = evaluate_seeds(simulate_preferences(n_rows=600, n_models=5, seed=3), seeds=(0, 1),
    ...                      folds=3, models=("class_prior", "bt_prior"))
    >>> res.table["model"].tolist(), len(res.results)
    (['class_prior', 'bt_prior'], 2)
    """
    if len(seeds) < 1:
        raise InputError("evaluate_seeds needs at least one seed")
    frame = read_preference_data(data, require_labels=True)
    models = kwargs.get("models", MODELS)
    features = kwargs.pop("features", None)
    if features is None:
        features = compute_features(frame, _needed_blocks(models, kwargs.get("blocks", DEFAULT_BLOCKS)))
    results = [evaluate(frame, seed=int(s), features=features, **kwargs) for s in seeds]
    k = len(results)
    rows = []
    for m in results[0].table["model"]:
        per = pd.DataFrame([r.table.set_index("model").loc[m] for r in results])

        def sd(c: str, per: pd.DataFrame = per) -> float:
            return float(per[c].std(ddof=1) / np.sqrt(k)) if k > 1 else float("nan")
        rows.append({"model": m, "log_loss": float(per["log_loss"].mean()), "se_seeds": sd("log_loss"),
                     "se_rows": float(per["log_loss_se"].mean()), "delta_vs_full": float(per["delta_vs_full"].mean()),
                     "delta_se_seeds": sd("delta_vs_full"), "delta_se_group": float(per["delta_se_group"].mean()),
                     "accuracy": float(per["accuracy"].mean())})
    return SeedEvaluation(table=pd.DataFrame(rows), results=results)
