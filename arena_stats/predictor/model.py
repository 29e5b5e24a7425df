"""The preference predictor: the BT prior, text blocks chosen by cross-validation, calibration.

:class:`PreferencePredictor` predicts P(a wins), P(b wins), P(tie) for rows of the LMSYS Kaggle
schema. Its parts, each in its own module:

* the **prior** (:mod:`.prior`): a tie-aware Bradley-Terry fit on the training rows' model
  names (plus any battle log without texts); out of fold for the training rows;
* the **text blocks**: hand-made ``length`` / ``style`` / ``tie`` features
  (:mod:`.features`) and the ``words`` / ``chars`` n-gram content models (:mod:`.ngrams`,
  out-of-fold scores);
* the **combining logit** (:mod:`.combine`): swap-equivariant, with the prior as its offset,
  so every text coefficient is shrunk toward "the prior as it is";
* the **selection** (:mod:`.selection`): which blocks to use, by grouped cross-validation with a
  one-standard-error rule toward fewer blocks, the prior alone always a candidate; then
  calibration of the chosen model's out-of-fold logits if that measurably helps.

What was chosen and why is in :meth:`PreferencePredictor.summary`, in the saved model and in the
``arena-stats predict train`` output.

Persistence. :meth:`PreferencePredictor.save` writes one JSON file (atomically): settings, the
prior, the chosen n-gram models' kept columns / IDF / coefficients, the combining logit, the
calibration and the selection report. Python's ``json`` round-trips floats exactly, so a loaded
model predicts bit for bit the same. The file is data, never behaviour: the tokenizer is a name
from :data:`.features.TOKENIZERS`, the n-gram analysers are fixed by block name in the code, and
:meth:`PreferencePredictor.load` validates every field (:mod:`.validate`).
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._util.io import atomic_write
from .._util.progress import progress as progress_bar
from .._util.renamed import renamed
from ..data.battles import Battles
from ..data.readers import load_battles
from ..errors import InputError, suggest
from .combine import IDENTITY, Calibration, Combiner, fit_symmetric, softmax3
from .data import CLASS_COLUMNS, read_preference_data
from .features import TOKENIZERS, block_columns, check_tokenizer, design
from .featurize import DENSE_TEXT_BLOCKS, PreferenceFeatures, compute_features
from .ngrams import (
    CONTENT_GRID,
    N_FEATURES,
    NGRAM_BLOCKS,
    NgramModel,
    content_matrix,
    fit_ngram_model,
    have_sklearn,
    out_of_fold_scores,
    require_sklearn,
)
from .prior import (
    DEFAULT_FOLDS,
    PRIOR_L2,
    PRIOR_TIES,
    BTPrior,
    fit_prior,
    grouped_folds,
    out_of_fold_prior,
    prior_logits,
    row_groups,
)
from .selection import (
    MIN_CONTENT_GROUPS,
    MIN_CONTENT_ROWS,
    MIN_ROWS,
    TEXT_L2,
    Candidate,
    Columns,
    SelectionReport,
    block_penalties,
    candidates,
    fit_candidate,
    select,
)
from .validate import ModelReader, parse_json

__all__ = ["PreferencePredictor", "TEXT_BLOCKS", "DEFAULT_BLOCKS", "SELECTIONS", "log_loss", "MODEL_FORMAT",
           "MODEL_VERSION", "EPS"]

#: Text blocks the selection may use (see :mod:`.features` and :mod:`.ngrams`).
TEXT_BLOCKS = ("length", "style", "words", "chars", "tie")
#: Offered by default: ``chars`` costs three times ``words`` and did not add to it when measured.
DEFAULT_BLOCKS = ("style", "words", "tie")
#: ``auto``: choose among the candidates; ``all``: use the prior (recalibrated) and every block.
SELECTIONS = ("auto", "all")
#: Probabilities are clipped to [EPS, 1 - EPS] when scoring, as the Kaggle metric does.
EPS = 1e-15
MODEL_FORMAT = "arena_stats.PreferencePredictor"
MODEL_VERSION = 2
#: Gradient tolerance of the final combining fit (per row).
FINAL_TOL = 1e-9


def log_loss(labels: np.ndarray, proba: np.ndarray) -> float:
    """Mean multi-class log loss (the competition metric), probabilities clipped to ``EPS``.

    Examples
    --------
    >>> import numpy as np
    >>> round(log_loss(np.array([0, 2]), np.full((2, 3), 1 / 3)), 4)
    1.0986
    """
    labels = np.asarray(labels, dtype=np.int64)
    p = np.clip(np.asarray(proba, dtype=float), EPS, 1 - EPS)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(labels)), labels])))


def _score_loss(scores: np.ndarray, labels: np.ndarray, off_s: np.ndarray, off_t: np.ndarray) -> float:
    """Log loss of the offsets plus one coefficient on ``scores`` (the n-gram penalty criterion)."""
    rms = float(np.sqrt(np.mean(scores * scores)))
    if rms == 0:
        u = np.zeros((len(scores), 0))
    else:
        u = (scores / rms)[:, None]
    p = fit_symmetric(u, np.zeros((len(scores), 0)), labels, np.full(u.shape[1], 1e-6), off_s=off_s, off_t=off_t,
                      alpha0=0.0, tol=1e-7)
    return p["nll"] / len(labels)


class PreferencePredictor:
    """Predict P(a wins), P(b wins), P(tie) for Kaggle-schema rows (prompt, two responses).

    Parameters
    ----------
    blocks : sequence of str
        Text blocks offered to the selection, from :data:`TEXT_BLOCKS`: ``length`` (response
        lengths), ``style`` (lengths, markdown, refusals, prompt overlap, turns), ``words`` and
        ``chars`` (hashed n-gram content models; need scikit-learn), ``tie`` (symmetric features
        that move only P(tie)). Default :data:`DEFAULT_BLOCKS`.
    prior : bool
        Use the BT prior from the model names (the offset every text effect is measured from).
    selection : {"auto", "all"}
        ``auto``: choose the blocks by grouped CV with the one-standard-error rule, the prior
        alone included (:mod:`.selection`); ``all``: use every offered block (for measuring blocks).
    calibrate : bool
        Calibrate the final logits on out-of-fold predictions when that measurably helps.
    ties : {"davidson", "rao-kupper"}
        Tie model of the BT prior.
    prior_l2 : float
        Penalty on the prior's strengths (:data:`.prior.PRIOR_L2`).
    text_l2 : float
        Ridge penalty of the text columns in the combining logit (:data:`.selection.TEXT_L2`).
    folds : int
        Folds (grouped by prompt, or by a ``group`` column) of the out-of-fold steps.
    seed : int
        Seed of the fold assignment.
    tokenizer : str or callable
        Token counter of the length features, by name from :data:`.features.TOKENIZERS`;
        a callable works but such a model cannot be saved.
    progress : bool
        A progress bar on stderr while fitting (only when stderr is a terminal); ``show_progress``
        is its old name.

    Examples
    --------
    >>> from arena_stats.predictor.simulate import simulate_preferences
    >>> train = simulate_preferences(n_rows=3000, n_models=8, seed=1)
    >>> test = simulate_preferences(n_rows=1000, n_models=8, seed=2)
    >>> model = PreferencePredictor(blocks=("length",)).fit(train)
    >>> model.chosen_.name
    'recal+length'
    >>> p = model.predict_proba(test)
    >>> p.columns.tolist()
    ['winner_model_a', 'winner_model_b', 'winner_tie']
    >>> bool(model.score(test) < 1.0986)
    True
    """

    def __init__(self, *, blocks: tuple[str, ...] | list[str] = DEFAULT_BLOCKS, prior: bool = True,
                 selection: str = "auto", calibrate: bool = True, ties: str = "davidson",
                 prior_l2: float = PRIOR_L2, text_l2: float = TEXT_L2, folds: int = DEFAULT_FOLDS, seed: int = 0,
                 tokenizer: Any = "default", progress: bool = False,
                 show_progress: bool | None = None, n_folds: int | None = None) -> None:
        if n_folds is not None:
            folds = renamed("n_folds", n_folds, "folds", None if folds == DEFAULT_FOLDS else folds,
                            where="PreferencePredictor")
        if isinstance(blocks, str):
            blocks = (blocks,)
        blocks = tuple(blocks)
        for b in blocks:
            if b not in TEXT_BLOCKS:
                raise InputError(f"unknown text block {b!r}{suggest(b, TEXT_BLOCKS)}; choose from "
                                 f"{', '.join(TEXT_BLOCKS)}")
        if len(set(blocks)) != len(blocks):
            raise InputError(f"blocks lists a block twice: {', '.join(blocks)}")
        if selection not in SELECTIONS:
            raise InputError(f"selection must be one of {', '.join(SELECTIONS)}, got {selection!r}")
        if selection == "all" and "length" in blocks and "style" in blocks:
            raise InputError("length and style overlap (style includes the lengths); offer one of them")
        if ties not in PRIOR_TIES:
            raise InputError(f"ties must be one of {', '.join(PRIOR_TIES)}, got {ties!r}")
        for name, value in (("prior_l2", prior_l2), ("text_l2", text_l2)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise InputError(f"{name} must be a finite non-negative number, got {value!r}")
        if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
            raise InputError(f"folds must be an integer of at least 2, got {folds!r}")
        self.blocks = blocks
        self.prior = bool(prior)
        self.selection = selection
        self.calibrate = bool(calibrate)
        self.ties = ties
        self.prior_l2 = float(prior_l2)
        self.text_l2 = float(text_l2)
        self.folds = int(folds)
        self.seed = int(seed)
        self.tokenizer = check_tokenizer(tokenizer)
        self.progress = bool(renamed("show_progress", show_progress, "progress", progress or None,
                                     where="PreferencePredictor"))
        self.prior_: BTPrior | None = None
        self.chosen_: Candidate | None = None
        self.combiner_: Combiner | None = None
        self.calibration_: Calibration = IDENTITY
        self.ngram_models_: dict[str, NgramModel] = {}
        self.selection_: SelectionReport | None = None
        self.info_: dict[str, Any] = {}

    # ----------------------------------------------------------------- helpers
    def settings(self) -> dict[str, Any]:
        """The constructor arguments (a callable tokenizer as its repr)."""
        return {"blocks": list(self.blocks), "prior": self.prior, "selection": self.selection,
                "calibrate": self.calibrate, "ties": self.ties, "prior_l2": self.prior_l2, "text_l2": self.text_l2,
                "n_folds": self.folds, "seed": self.seed,
                "tokenizer": self.tokenizer if isinstance(self.tokenizer, str) else repr(self.tokenizer)}

    def _check_fitted(self) -> None:
        if self.combiner_ is None or self.chosen_ is None:
            raise InputError("this PreferencePredictor is not fitted yet; call fit() or load()")

    def _offered(self, notes: list[str]) -> list[str]:
        offered = list(self.blocks)
        grams = [b for b in offered if b in NGRAM_BLOCKS]
        if grams and not have_sklearn():
            if self.selection == "all":
                require_sklearn(grams[0])
            msg = (f"scikit-learn is not installed, so the {', '.join(grams)} block(s) were left out of the "
                   f"selection (pip install 'arena-stats[text]')")
            warnings.warn(msg, UserWarning, stacklevel=3)
            notes.append(msg)
            offered = [b for b in offered if b not in grams]
        return offered

    # ---------------------------------------------------------------------- fit
    def fit(self, data: Any, extra_battles: Battles | pd.DataFrame | str | None = None, *,
            features: PreferenceFeatures | None = None) -> PreferencePredictor:
        """Fit the prior, choose the text blocks, fit the combining logit and calibration.

        Parameters
        ----------
        data : DataFrame or path
            Kaggle schema with labels (see :func:`.data.prepare_frame`).
        extra_battles : Battles, DataFrame or path, optional
            A battle log without texts, added as evidence for the BT prior only. It must not
            contain the training votes themselves, or the out-of-fold prior leaks.
        features : PreferenceFeatures, optional
            :func:`.featurize.compute_features` of ``data`` computed beforehand (cross-validation
            reuses them so texts are measured once).

        Returns
        -------
        self

        Raises
        ------
        InputError
            No labelled rows, bad labels or columns, or precomputed features that do not fit.
        """
        frame = read_preference_data(data, require_labels=True)
        n = len(frame)
        if n == 0:
            raise InputError("no labelled rows to fit")
        labels = frame["label"].to_numpy()
        extra = load_battles(extra_battles) if extra_battles is not None else None
        notes: list[str] = []
        offered = self._offered(notes)
        groups = row_groups(frame)
        n_groups = len(np.unique(groups))
        if n_groups < 2:
            notes.append("all rows share one prompt (group), so the folds split rows, not prompts")
            groups = np.arange(n)
        grams = [x for x in offered if x in NGRAM_BLOCKS]
        if grams and self.selection == "auto" and (n_groups < MIN_CONTENT_GROUPS or n < MIN_CONTENT_ROWS):
            why = (f"{n_groups} prompts (groups), fewer than {MIN_CONTENT_GROUPS}" if n_groups < MIN_CONTENT_GROUPS
                   else f"{n} rows, fewer than {MIN_CONTENT_ROWS}")
            notes.append(f"{why}: the n-gram block(s) {', '.join(grams)} were not offered (a content model "
                         f"learnt on so little data does not carry to new prompts)")
            offered = [x for x in offered if x not in grams]
        folds = grouped_folds(groups, self.folds, self.seed)
        n_folds = len(np.unique(folds))
        a, b = frame["model_a"].to_numpy(), frame["model_b"].to_numpy()
        self.prior_ = (fit_prior(a, b, labels, extra=extra, ties=self.ties, l2=self.prior_l2)
                       if self.prior else None)
        penalties = block_penalties(self.text_l2)
        self.ngram_models_ = {}
        text_blocks = [x for x in offered if x != "recal"]
        final_log_tie = self.prior_.log_tie if self.prior_ is not None else None
        if n < MIN_ROWS:
            base = candidates(self.prior, [])[0]
            d = self.prior_.features(a, b)["prior_d"].to_numpy() if self.prior_ is not None else None
            cols = Columns({}, {}, n, d, self.ties)
            comb = fit_candidate(base, cols, labels, log_tie=final_log_tie, penalties=penalties, tol=FINAL_TOL)
            reason = (f"{n} labelled rows, fewer than {MIN_ROWS}: no cross-validation, the "
                      f"{'prior as it is' if self.prior else 'class frequencies'}")
            report = SelectionReport(table=pd.DataFrame(columns=["candidate", "blocks", "log_loss", "diff", "se",
                                                                 "eligible", "chosen"]),
                                     chosen=base.name, chosen_blocks=base.blocks, reason=reason,
                                     settings={"n_rows": n, "n_groups": int(n_groups), "n_folds": 0})
            chosen, cal = base, IDENTITY
        else:
            cands = candidates(self.prior, offered, self.selection)
            grams = [x for x in text_blocks if x in NGRAM_BLOCKS]
            dense = [x for x in text_blocks if x in DENSE_TEXT_BLOCKS]
            steps = ((1 if dense else 0) + len(grams) if features is None else 0) + int(self.prior) \
                + len(grams) * len(CONTENT_GRID) * n_folds + len(cands) + 1
            with progress_bar(steps, "fitting", enabled=self.progress) as bar:
                if features is None:
                    feats = compute_features(frame, text_blocks, self.tokenizer, bar)
                else:
                    features.check(n, text_blocks)
                    feats = features
                u_blocks: dict[str, dict[str, np.ndarray]] = {}
                v_blocks: dict[str, dict[str, np.ndarray]] = {}
                table = feats.table if feats.table is not None else pd.DataFrame(index=range(n))
                fold_fits: dict[int, BTPrior] = {}
                prior_d = None
                if self.prior:
                    oof = out_of_fold_prior(a, b, labels, groups, extra=extra, ties=self.ties, l2=self.prior_l2,
                                            folds=folds, fold_fits=fold_fits)
                    bar.update()
                    prior_d = oof["prior_d"].to_numpy()
                    table = pd.concat([table.reset_index(drop=True), oof.reset_index(drop=True)], axis=1)
                for blk, (u, v) in design(table, (["recal"] if self.prior else []) + dense).items():
                    u_blocks[blk], v_blocks[blk] = u, v
                cols = Columns(u_blocks, v_blocks, n, prior_d, self.ties)
                off_s, off_t = cols.offsets(final_log_tie)
                content: dict[str, tuple[NgramModel, np.ndarray, tuple[str, float], dict[str, float]]] = {}
                for blk in grams:
                    base_model, d = content_matrix(blk, *feats.counts[blk])
                    scores, estimator, losses, coef = out_of_fold_scores(
                        d, labels, folds, CONTENT_GRID,
                        criterion=lambda s: _score_loss(s, labels, off_s, off_t), bar=bar)
                    u_blocks[blk] = {f"{blk}_score": scores}
                    content[blk] = (base_model, coef, estimator, losses)
                    del d
                chosen, cal, report = select(cands, cols, labels, folds, groups, self.calibrate, penalties, bar,
                                             {f: p.log_tie for f, p in fold_fits.items()} if self.prior else None)
                for blk in chosen.blocks:
                    if blk in content:
                        base_model, coef, estimator, _ = content[blk]
                        self.ngram_models_[blk] = fit_ngram_model(base_model, coef, estimator)
                comb = fit_candidate(chosen, cols, labels, log_tie=final_log_tie, penalties=penalties,
                                     tol=FINAL_TOL)
                bar.update()
            report.settings["content_estimator"] = {blk: f"{c[2][0]} {c[2][1]:g}" for blk, c in content.items()}
            report.settings["content_losses"] = {blk: c[3] for blk, c in content.items()}
        report.notes.extend(notes)
        self.chosen_, self.combiner_, self.calibration_, self.selection_ = chosen, comb, cal, report
        self.info_ = {"n_rows": int(n), "class_counts": np.bincount(labels, minlength=3).tolist(),
                      "n_models_in_prior": len(self.prior_.models) if self.prior_ is not None else 0,
                      "extra_battles": float(extra.n_battles) if extra is not None else 0.0}
        return self

    # ------------------------------------------------------------------ predict
    def _logits(self, frame: pd.DataFrame, features: PreferenceFeatures | None, calibrated: bool
                ) -> tuple[np.ndarray, np.ndarray]:
        assert self.chosen_ is not None and self.combiner_ is not None
        n = len(frame)
        text_blocks = [x for x in self.chosen_.blocks if x != "recal"]
        if features is None:
            feats = compute_features(frame, text_blocks, self.tokenizer)
        else:
            features.check(n, text_blocks)
            feats = features
        a, b = frame["model_a"].to_numpy(), frame["model_b"].to_numpy()
        table = feats.table if feats.table is not None else pd.DataFrame(index=range(n))
        if self.prior_ is not None:
            pt = self.prior_.features(a, b)
            off_s, off_t = prior_logits(pt["prior_d"].to_numpy(), self.prior_.ties, self.prior_.log_tie)
            table = pd.concat([table.reset_index(drop=True), pt], axis=1)
        else:
            off_s, off_t = np.zeros(n), np.zeros(n)
        u_all: dict[str, np.ndarray] = {}
        v_all: dict[str, np.ndarray] = {}
        dense = [x for x in self.chosen_.blocks if x in DENSE_TEXT_BLOCKS or x == "recal"]
        for u_block, v_block in design(table, dense).values():
            u_all.update(u_block)
            v_all.update(v_block)
        for blk, m in self.ngram_models_.items():
            u_all[f"{blk}_score"] = m.score(*feats.counts[blk])
        comb = self.combiner_
        u = np.column_stack([u_all[c] for c in comb.u_names]) if comb.u_names else np.zeros((n, 0))
        v = np.column_stack([v_all[c] for c in comb.v_names]) if comb.v_names else np.zeros((n, 0))
        s, t = comb.logits(u, v, off_s, off_t)
        if calibrated:
            s, t = self.calibration_.apply(s, t)
        return s, t

    def predict_proba(self, data: Any, *, features: PreferenceFeatures | None = None,
                      calibrated: bool = True) -> pd.DataFrame:
        """P(a wins), P(b wins), P(tie) for each row; swapping a and b swaps the output exactly.

        Parameters
        ----------
        data : DataFrame or path
            Kaggle-schema rows (labels not needed).
        features : PreferenceFeatures, optional
            Precomputed features of exactly these rows.
        calibrated : bool
            Apply the fitted calibration (default); ``False`` shows the model before it.

        Returns
        -------
        pandas.DataFrame
            Columns ``winner_model_a, winner_model_b, winner_tie``; index the rows' ``id``.
        """
        self._check_fitted()
        frame = read_preference_data(data)
        s, t = self._logits(frame, features, calibrated)
        return pd.DataFrame(softmax3(s, t), columns=list(CLASS_COLUMNS),
                            index=pd.Index(frame["id"].to_numpy(), name="id"))

    def score(self, data: Any, *, features: PreferenceFeatures | None = None) -> float:
        """Mean log loss on labelled rows (lower is better; uniform guessing scores 1.0986)."""
        frame = read_preference_data(data, require_labels=True)
        return log_loss(frame["label"].to_numpy(), self.predict_proba(frame, features=features).to_numpy())

    # -------------------------------------------------------------- reporting
    def to_frame(self) -> pd.DataFrame:
        """The selection table: every candidate's out-of-fold log loss and the choice."""
        self._check_fitted()
        assert self.selection_ is not None
        return self.selection_.to_frame()

    def summary(self) -> str:
        """What the model is, what the selection compared and chose, and why."""
        self._check_fitted()
        assert self.selection_ is not None and self.chosen_ is not None
        i = self.info_
        counts = i.get("class_counts", [0, 0, 0])
        head = [f"PreferencePredictor fitted on {i.get('n_rows', 0):,} rows (a {counts[0]:,}, b {counts[1]:,}, "
                f"tie {counts[2]:,}); prior: " + (f"{self.ties} BT over {i.get('n_models_in_prior', 0)} models"
                                                 if self.prior else "none"),
                f"blocks offered: {', '.join(self.blocks) or '-'}; selection {self.selection}; "
                f"used: {self.chosen_.name}"]
        est = self.selection_.settings.get("content_estimator", {})
        if est:
            head.append("n-gram content estimators (grouped CV): " + ", ".join(f"{k}: {v}" for k, v in est.items()))
        return "\n".join(head + [self.selection_.summary()])

    def coefficients(self) -> pd.DataFrame:
        """The combining logit's coefficients on the standardised columns (block, feature, coef)."""
        self._check_fitted()
        c = self.combiner_
        assert c is not None
        rows = [("a vs b", n, float(x)) for n, x in zip(c.u_names, c.beta)]
        rows.append(("tie", "intercept", float(c.alpha)))
        rows += [("tie", n, float(x)) for n, x in zip(c.v_names, c.gamma)]
        return pd.DataFrame(rows, columns=["block", "feature", "coef"])

    # --------------------------------------------------------------- save/load
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of the fitted model (numbers and names only)."""
        self._check_fitted()
        if not isinstance(self.tokenizer, str):
            raise InputError("a model with a callable tokenizer cannot be saved; use one of "
                             + ", ".join(TOKENIZERS))
        assert self.chosen_ is not None and self.combiner_ is not None and self.selection_ is not None
        return {"format": MODEL_FORMAT, "version": MODEL_VERSION, "settings": self.settings(),
                "prior": self.prior_.to_dict() if self.prior_ is not None else None,
                "chosen": {"name": self.chosen_.name, "blocks": list(self.chosen_.blocks)},
                "ngram_models": {k: m.to_dict() for k, m in self.ngram_models_.items()},
                "combiner": self.combiner_.to_dict(), "calibration": self.calibration_.to_dict(),
                "selection": self.selection_.to_dict(), "info": self.info_}

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model as JSON (atomically). No pickle: safe to share."""
        text = json.dumps(self.to_dict(), allow_nan=False)
        with atomic_write(path, encoding="utf-8") as fh:
            fh.write(text)

    @classmethod
    def from_dict(cls, d: Any, *, file: str | None = None) -> PreferencePredictor:
        """Rebuild a model from :meth:`to_dict` output, validating every field.

        Raises
        ------
        InputError
            Naming the file and the field, for anything missing, of the wrong type or shape,
            non-finite, or not one of the known names.
        """
        return _read_model(cls, d, ModelReader(file))

    @classmethod
    def load(cls, path: str | os.PathLike) -> PreferencePredictor:
        """Read a model written by :meth:`save` (validated; see :meth:`from_dict`)."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            raise InputError("no such model file", file=path) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the model file ({exc})", file=path) from None
        return cls.from_dict(parse_json(text, file=path), file=path)

    def __repr__(self) -> str:
        if self.combiner_ is None or self.chosen_ is None:
            state = "not fitted"
        else:
            state = f"fitted on {self.info_.get('n_rows', 0):,} rows, using {self.chosen_.name}"
        return f"PreferencePredictor(blocks={self.blocks!r}, prior={self.prior}, {state})"


# ------------------------------------------------------------------------------- reading
def _allowed_columns(blocks: tuple[str, ...]) -> tuple[set[str], set[str]]:
    u: set[str] = set()
    v: set[str] = set()
    for blk in blocks:
        if blk in NGRAM_BLOCKS:
            u.add(f"{blk}_score")
        else:
            bu, bv = block_columns(blk)
            u.update(bu)
            v.update(bv)
    return u, v


def _read_prior(r: ModelReader, d: Any, ties: str) -> BTPrior:
    d = r.obj(d, "prior")
    models = r.strings(r.field(d, "models", "prior"), "prior.models", unique=True)
    n = len(models)
    theta = r.array(r.field(d, "theta", "prior"), "prior.theta", shape=(n,))
    cov_raw = r.field(d, "cov", "prior")
    cov = np.zeros((0, 0)) if n == 0 and cov_raw == [] else r.array(cov_raw, "prior.cov", shape=(n, n))
    if not np.array_equal(cov, cov.T):
        r.fail("prior.cov", "a symmetric matrix")
    if (np.diag(cov) < 0).any():
        r.fail("prior.cov", "non-negative variances on the diagonal")
    log_tie = r.number(r.field(d, "log_tie", "prior"), "prior.log_tie")
    prior_ties = r.string(r.field(d, "ties", "prior"), "prior.ties", PRIOR_TIES)
    if prior_ties != ties:
        r.fail("prior.ties", f"{ties!r} (as in settings.ties)", prior_ties)
    unknown_var = r.number(r.field(d, "unknown_var", "prior"), "prior.unknown_var", minimum=0.0)
    settings = r.obj(d.get("settings", {}), "prior.settings")
    clean = {k: float(r.number(v, f"prior.settings.{k}", minimum=0.0)) for k, v in settings.items()
             if k in ("l2", "n_battles")}
    return BTPrior(models=models, theta=theta, cov=cov, log_tie=float(log_tie), ties=prior_ties,
                   unknown_var=float(unknown_var), settings=clean)


def _read_ngram(r: ModelReader, d: Any, key: str) -> NgramModel:
    path = f"ngram_models.{key}"
    d = r.obj(d, path)
    block = r.string(r.field(d, "block", path), f"{path}.block", NGRAM_BLOCKS)
    if block != key:
        r.fail(f"{path}.block", repr(key), block)
    columns = r.array(r.field(d, "columns", path), f"{path}.columns", integer=True, minimum=0)
    if len(columns) and (columns.max() >= N_FEATURES or (np.diff(columns) <= 0).any()):
        r.fail(f"{path}.columns", f"increasing column numbers below {N_FEATURES}")
    m = len(columns)
    idf = r.array(r.field(d, "idf", path), f"{path}.idf", shape=(m,), positive=True)
    coef = r.array(r.field(d, "coef", path), f"{path}.coef", shape=(m,))
    est = r.field(d, "estimator", path)
    if not isinstance(est, list) or len(est) != 2:
        r.fail(f"{path}.estimator", "[kind, level]", est)
    kind = r.string(est[0], f"{path}.estimator[0]", sorted({k for k, _ in CONTENT_GRID}))
    level = r.number(est[1], f"{path}.estimator[1]", positive=True)
    n_docs = r.number(r.field(d, "n_docs", path), f"{path}.n_docs", integer=True, minimum=0)
    return NgramModel(block, columns, idf, coef, (kind, float(level)), int(n_docs))


def _read_combiner(r: ModelReader, d: Any, blocks: tuple[str, ...], use_prior: bool) -> Combiner:
    d = r.obj(d, "combiner")
    allowed_u, allowed_v = _allowed_columns(blocks)
    u_names = r.strings(r.field(d, "u_names", "combiner"), "combiner.u_names", unique=True, choices=allowed_u)
    v_names = r.strings(r.field(d, "v_names", "combiner"), "combiner.v_names", unique=True, choices=allowed_v)
    pu, pv = len(u_names), len(v_names)
    u_scale = r.array(r.field(d, "u_scale", "combiner"), "combiner.u_scale", shape=(pu,), positive=True)
    v_mean = r.array(r.field(d, "v_mean", "combiner"), "combiner.v_mean", shape=(pv,))
    v_scale = r.array(r.field(d, "v_scale", "combiner"), "combiner.v_scale", shape=(pv,), positive=True)
    beta = r.array(r.field(d, "beta", "combiner"), "combiner.beta", shape=(pu,))
    gamma = r.array(r.field(d, "gamma", "combiner"), "combiner.gamma", shape=(pv,))
    alpha = r.number(r.field(d, "alpha", "combiner"), "combiner.alpha")
    flag = r.boolean(r.field(d, "use_prior", "combiner"), "combiner.use_prior")
    if flag != use_prior:
        r.fail("combiner.use_prior", f"{use_prior} (as in settings.prior)", flag)
    return Combiner(u_names, v_names, u_scale, v_mean, v_scale, beta, float(alpha), gamma, use_prior)


def _read_report(r: ModelReader, d: Any, chosen: Candidate) -> SelectionReport:
    d = r.obj(d, "selection")
    rows = r.field(d, "table", "selection")
    if not isinstance(rows, list):
        r.fail("selection.table", "a list of rows", rows)
    clean = []
    for k, row in enumerate(rows):
        path = f"selection.table[{k}]"
        row = r.obj(row, path)
        clean.append({"candidate": r.string(r.field(row, "candidate", path), f"{path}.candidate"),
                      "blocks": r.string(r.field(row, "blocks", path), f"{path}.blocks"),
                      **{c: float(r.number(r.field(row, c, path), f"{path}.{c}")) for c in ("log_loss", "diff", "se")},
                      **{c: r.boolean(r.field(row, c, path), f"{path}.{c}") for c in ("eligible", "chosen")}})
    table = pd.DataFrame(clean, columns=["candidate", "blocks", "log_loss", "diff", "se", "eligible", "chosen"])
    name = r.string(r.field(d, "chosen", "selection"), "selection.chosen")
    if name != chosen.name:
        r.fail("selection.chosen", repr(chosen.name), name)
    reason = r.string(r.field(d, "reason", "selection"), "selection.reason")
    cal = r.obj(d.get("calibration", {}), "selection.calibration")
    cal_clean: dict[str, Any] = {}
    for key, v in cal.items():
        cal_clean[key] = (r.boolean(v, f"selection.calibration.{key}") if key == "applied"
                        else float(r.number(v, f"selection.calibration.{key}")))
    if cal_clean and not {"tau", "delta", "applied", "gain", "gain_se"} <= set(cal_clean):
        r.fail("selection.calibration", "tau, delta, applied, gain and gain_se")
    notes = r.strings(d.get("notes", []), "selection.notes")
    settings = r.obj(d.get("settings", {}), "selection.settings")
    s_clean: dict[str, Any] = {}
    for key in ("n_rows", "n_groups", "n_folds"):
        s_clean[key] = int(r.number(r.field(settings, key, "selection.settings"), f"selection.settings.{key}",
                                  integer=True, minimum=0))
    est = r.obj(settings.get("content_estimator", {}), "selection.settings.content_estimator")
    s_clean["content_estimator"] = {r.string(name, "selection.settings.content_estimator", NGRAM_BLOCKS):
                                    r.string(v, f"selection.settings.content_estimator.{name}")
                                    for name, v in est.items()}
    losses = r.obj(settings.get("content_losses", {}), "selection.settings.content_losses")
    s_clean["content_losses"] = {
        r.string(k, "selection.settings.content_losses", NGRAM_BLOCKS):
            {str(a): float(r.number(x, f"selection.settings.content_losses.{k}.{a}"))
             for a, x in r.obj(v, f"selection.settings.content_losses.{k}").items()}
        for k, v in losses.items()}
    return SelectionReport(table=table, chosen=name, chosen_blocks=chosen.blocks, reason=reason,
                           calibration=cal_clean, notes=notes, settings=s_clean)


def _read_model(cls: type[PreferencePredictor], d: Any, r: ModelReader) -> PreferencePredictor:
    if not isinstance(d, dict) or d.get("format") != MODEL_FORMAT:
        raise InputError(f"not a saved PreferencePredictor (expected format {MODEL_FORMAT!r})", file=r.file)
    if d.get("version") != MODEL_VERSION:
        raise InputError(f"saved model version {d.get('version')!r} is not supported (expected {MODEL_VERSION}); "
                         f"train the model again", file=r.file)
    s = r.obj(r.field(d, "settings", ""), "settings")
    blocks = tuple(r.strings(r.field(s, "blocks", "settings"), "settings.blocks", unique=True, choices=TEXT_BLOCKS))
    use_prior = r.boolean(r.field(s, "prior", "settings"), "settings.prior")
    selection = r.string(r.field(s, "selection", "settings"), "settings.selection", SELECTIONS)
    calibrate = r.boolean(r.field(s, "calibrate", "settings"), "settings.calibrate")
    ties = r.string(r.field(s, "ties", "settings"), "settings.ties", PRIOR_TIES)
    prior_l2 = r.number(r.field(s, "prior_l2", "settings"), "settings.prior_l2", minimum=0.0)
    text_l2 = r.number(r.field(s, "text_l2", "settings"), "settings.text_l2", minimum=0.0)
    n_folds = r.number(r.field(s, "n_folds", "settings"), "settings.n_folds", integer=True, minimum=2)
    seed = r.number(r.field(s, "seed", "settings"), "settings.seed", integer=True, minimum=0)
    tokenizer = r.string(r.field(s, "tokenizer", "settings"), "settings.tokenizer", TOKENIZERS)
    if selection == "all" and "length" in blocks and "style" in blocks:
        r.fail("settings.blocks", "length or style, not both")
    model = cls(blocks=blocks, prior=use_prior, selection=selection, calibrate=calibrate, ties=ties,
                prior_l2=prior_l2, text_l2=text_l2, folds=int(n_folds), seed=int(seed), tokenizer=tokenizer)
    prior_d = r.field(d, "prior", "")
    if use_prior:
        model.prior_ = _read_prior(r, prior_d, ties)
    elif prior_d is not None:
        r.fail("prior", "null (settings.prior is false)", "an object")
    ch = r.obj(r.field(d, "chosen", ""), "chosen")
    name = r.string(r.field(ch, "name", "chosen"), "chosen.name")
    chosen_blocks = tuple(r.strings(r.field(ch, "blocks", "chosen"), "chosen.blocks", unique=True,
                                    choices=(("recal",) if use_prior else ()) + blocks))
    if use_prior and chosen_blocks and chosen_blocks[0] != "recal":
        r.fail("chosen.blocks", "'recal' first when text blocks are used with the prior", list(chosen_blocks))
    expected_name = "+".join(chosen_blocks) or ("prior" if use_prior else "intercept")
    if name != expected_name:
        r.fail("chosen.name", repr(expected_name), name)
    model.chosen_ = Candidate(name, chosen_blocks, use_prior)
    grams = r.obj(r.field(d, "ngram_models", ""), "ngram_models")
    want = [blk for blk in chosen_blocks if blk in NGRAM_BLOCKS]
    if sorted(grams) != sorted(want):
        r.fail("ngram_models", "models for exactly " + (", ".join(want) or "no block"), sorted(grams))
    model.ngram_models_ = {k: _read_ngram(r, grams[k], k) for k in want}
    model.combiner_ = _read_combiner(r, r.field(d, "combiner", ""), chosen_blocks, use_prior)
    cal = r.obj(r.field(d, "calibration", ""), "calibration")
    model.calibration_ = Calibration(*(float(r.number(r.field(cal, k, "calibration"), f"calibration.{k}"))
                                       for k in ("tau", "delta")))
    model.selection_ = _read_report(r, r.field(d, "selection", ""), model.chosen_)
    info = r.obj(d.get("info", {}), "info")
    model.info_ = {
        "n_rows": int(r.number(r.field(info, "n_rows", "info"), "info.n_rows", integer=True, minimum=0)),
        "class_counts": r.array(r.field(info, "class_counts", "info"), "info.class_counts", shape=(3,),
                                integer=True, minimum=0).tolist(),
        "n_models_in_prior": int(r.number(r.field(info, "n_models_in_prior", "info"), "info.n_models_in_prior",
                                          integer=True, minimum=0)),
        "extra_battles": float(r.number(r.field(info, "extra_battles", "info"), "info.extra_battles", minimum=0.0)),
    }
    return model
