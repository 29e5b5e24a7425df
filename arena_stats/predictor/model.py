"""The preference predictor: text features + BT prior -> a swap-equivariant three-class logit.

Statistics. Exchanging the two responses must exchange P(a) and P(b) and keep P(tie). Any such
distribution can be written as ``log P(a)/P(b) = h(x)`` with ``h`` *antisymmetric* under the swap
and ``log P(tie) / sqrt(P(a) P(b)) = k(x)`` with ``k`` *symmetric*. The default classifier,
``"symmetric-logit"``, makes both linear::

    eta_a = beta . u,   eta_b = -beta . u,   eta_tie = alpha + gamma . v,   P = softmax(eta)

where ``u`` are antisymmetric features (differences of the two sides' features, the BT prior's
log-odds) and ``v`` symmetric ones (sums, absolute differences, prompt features, the prior's
tie log-odds and uncertainty); see :func:`.features.design`. With ``u`` = the BT log-odds and
``v`` empty this *is* the Davidson model, so the BT prior is nested in the classifier. It is fit
by penalised maximum likelihood (L-BFGS, analytic gradient; :data:`CLASSIFIER_L2`) on the
training rows plus their a/b-swapped copies (swap augmentation), and predictions average the
model's output on a row and on its swap, so that swapping a and b swaps the output exactly.

Two statsmodels classifiers can be chosen instead, for comparison (``classifier=``):
``"mnlogit"`` (an unconstrained multinomial logit on ``[1, u, v]``) and ``"ordinal"`` (an
ordered logit on ``u``, b < tie < a); both are trained on swap-augmented data and predicted with
swap averaging too. The measured comparison is in ``docs/predictor.md``; the symmetric logit is
the default because it is as good or better at a fraction of the parameters, and exactly
symmetric. Gradient boosting would need a dependency the core does not have (scikit-learn).

Leakage. The training rows' prior columns are out of fold (:func:`.prior.out_of_fold_prior`,
grouped by prompt); prediction uses the prior fitted on all training rows.

Persistence. :meth:`PreferencePredictor.save` writes one JSON file (floats round-trip exactly,
so a loaded model predicts bit for bit the same); there is no pickle anywhere.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from ..data.battles import Battles

from ..data.readers import as_battles
from ..errors import InputError
from .._util.io import atomic_write
from .data import CLASS_COLUMNS, LABEL_A, LABEL_B, one_hot
from .features import FEATURE_SETS, design, swap_features, text_features
from .prior import (DEFAULT_FOLDS, PRIOR_L2, PRIOR_TIES, BTPrior, fit_prior, grouped_folds, out_of_fold_prior,
                    row_groups)

__all__ = ["PreferencePredictor", "CLASSIFIERS", "CLASSIFIER_L2", "TIE_L2_GRID", "log_loss", "MODEL_FORMAT"]

CLASSIFIERS = ("symmetric-logit", "mnlogit", "ordinal")
#: Ridge penalty of the symmetric logit on the standardised coefficients (total log-likelihood
#: scale): negligible for thousands of rows, it keeps separable small samples finite.
CLASSIFIER_L2 = 1.0
#: Candidate penalties of the symmetric *text* features (sums and absolute differences of the two
#: sides, prompt features), which move only P(tie). ``tie_l2="auto"`` picks one by grouped CV
#: inside :meth:`PreferencePredictor.fit`; ``inf`` leaves them out. On LLMFAO they overfit
#: (ties depend on the prompt and the crowd), on other data they may help: hence the selection.
TIE_L2_GRID = (30.0, float("inf"))
#: Probabilities are clipped to [EPS, 1 - EPS] when scoring, as the Kaggle metric does.
EPS = 1e-15
MODEL_FORMAT = "arena_stats.PreferencePredictor"
MODEL_VERSION = 1
_TOL = 1e-10
#: Looser gradient tolerance of the fits that only choose a penalty.
_SELECT_TOL = 1e-6
_RANK_TOL = 1e-9
#: A design column whose training spread is below this is constant and dropped.
_CONSTANT = 1e-12
_MAX_ITER = 2000


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


def _swap_proba(p: np.ndarray) -> np.ndarray:
    return p[:, [1, 0, 2]]


def _softmax(eta: np.ndarray) -> np.ndarray:
    eta = eta - eta.max(axis=1, keepdims=True)
    e = np.exp(eta)
    return e / e.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------------ classifiers
def _sym_eta(u: np.ndarray, v: np.ndarray, beta: np.ndarray, alpha: float, gamma: np.ndarray) -> np.ndarray:
    s = u @ beta
    return np.column_stack([s, -s, alpha + v @ gamma])


def _fit_symmetric(u: np.ndarray, v: np.ndarray, y: np.ndarray, penalty: np.ndarray, tol: float = _TOL
                   ) -> dict[str, Any]:
    """Penalised ML of the symmetric logit; ``penalty`` holds one ridge weight per column of
    ``[u, v]`` (the tie intercept is never penalised)."""
    pu, pv = u.shape[1], v.shape[1]
    y1 = one_hot(y)
    lam = np.concatenate([penalty[:pu], [0.0], penalty[pu:]])

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        beta, alpha, gamma = w[:pu], w[pu], w[pu + 1:]
        eta = _sym_eta(u, v, beta, alpha, gamma)
        m = eta.max(axis=1, keepdims=True)
        lse = (m[:, 0] + np.log(np.exp(eta - m).sum(axis=1)))
        nll = float(np.sum(lse - (eta * y1).sum(axis=1)))
        r = np.exp(eta - lse[:, None]) - y1
        g = np.concatenate([u.T @ (r[:, 0] - r[:, 1]), [r[:, 2].sum()], v.T @ r[:, 2]])
        return nll + 0.5 * float(lam @ (w * w)), g + lam * w

    w0 = np.zeros(pu + 1 + pv)
    tie_rate = float(np.clip(np.mean(y == 2), 1e-3, 1 - 1e-3))
    w0[pu] = np.log(2 * tie_rate / (1 - tie_rate))
    res = minimize(objective, w0, jac=True, method="L-BFGS-B",
                   options={"maxiter": _MAX_ITER, "gtol": tol * len(y), "ftol": 1e-15})
    w = res.x
    return {"beta": w[:pu].tolist(), "alpha": float(w[pu]), "gamma": w[pu + 1:].tolist(),
            "converged": bool(res.success), "n_iter": int(res.nit)}


def _swap_labels(y: np.ndarray) -> np.ndarray:
    return np.where(y == LABEL_A, LABEL_B, np.where(y == LABEL_B, LABEL_A, y))


def _select_tie_l2(u: np.ndarray, v: np.ndarray, y: np.ndarray, folds: np.ndarray, base: np.ndarray,
                   text_cols: np.ndarray) -> tuple[float, dict[str, float]]:
    """Pick the penalty of the symmetric text features by grouped CV (``u, v, y`` unaugmented)."""
    scores: dict[str, float] = {}
    for tie_l2 in TIE_L2_GRID:
        pen = base.copy()
        pen[u.shape[1]:][text_cols] = tie_l2
        keep_v = ~text_cols if np.isinf(tie_l2) else np.ones(len(text_cols), bool)
        pen_v = np.concatenate([pen[:u.shape[1]], pen[u.shape[1]:][keep_v]])
        losses = []
        for f in np.unique(folds):
            te = folds == f
            tr = ~te
            ua = np.concatenate([u[tr], -u[tr]])
            va = np.concatenate([v[tr][:, keep_v], v[tr][:, keep_v]])
            ya = np.concatenate([y[tr], _swap_labels(y[tr])])
            params = _fit_symmetric(ua, va, ya, pen_v, tol=_SELECT_TOL)
            p = _softmax(_sym_eta(u[te], v[te][:, keep_v], np.asarray(params["beta"]), params["alpha"],
                                  np.asarray(params["gamma"])))
            losses.append(log_loss(y[te], p) * te.sum())
        scores[repr(float(tie_l2))] = float(np.sum(losses) / len(y))
    best = min(scores, key=scores.get)
    return float(best), scores


def _fit_mnlogit(u: np.ndarray, v: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    import statsmodels.api as sm
    from scipy.linalg import qr
    x = np.column_stack([np.ones(len(y)), u, v])
    # an unpenalised fit needs a full-rank design: keep a maximal independent set of columns
    _, r, piv = qr(x, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    cols = np.sort(piv[diag > _RANK_TOL * diag[0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.MNLogit(y, x[:, cols]).fit(method="newton", maxiter=100, disp=0)
    params = np.zeros((x.shape[1], 2))
    params[cols] = np.asarray(res.params)
    return {"params": params.tolist()}


def _fit_ordinal(u: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from statsmodels.miscmodels.ordinal_model import OrderedModel
    # order b < tie < a on the latent preference for a
    ordered = np.where(y == LABEL_B, 0, np.where(y == LABEL_A, 2, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = OrderedModel(ordered, u, distr="logit")
        res = model.fit(method="bfgs", maxiter=2000, disp=0)
    params = np.asarray(res.params)
    cuts = model.transform_threshold_params(params)[1:-1]
    return {"beta": params[:u.shape[1]].tolist(), "cuts": [float(c) for c in cuts]}


def _predict_raw(kind: str, params: dict[str, Any], u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if kind == "symmetric-logit":
        return _softmax(_sym_eta(u, v, np.asarray(params["beta"]), params["alpha"], np.asarray(params["gamma"])))
    if kind == "mnlogit":
        x = np.column_stack([np.ones(len(u)), u, v])
        p = np.asarray(params["params"]).reshape(x.shape[1], 2)
        return _softmax(np.column_stack([np.zeros(len(u)), x @ p]))
    s = u @ np.asarray(params["beta"])
    c1, c2 = params["cuts"]
    f1 = 1 / (1 + np.exp(-(c1 - s)))
    f2 = 1 / (1 + np.exp(-(c2 - s)))
    return np.column_stack([1 - f2, f1, f2 - f1])  # a, b, tie


# ------------------------------------------------------------------------------- predictor
class PreferencePredictor:
    """Predict P(a wins), P(b wins), P(tie) for Kaggle-schema rows (prompt, two responses).

    Parameters
    ----------
    feature_set : {"full", "length", "prior"}
        ``full``: text features and the BT prior; ``length``: response lengths only; ``prior``:
        the BT prior only (recalibrated by the classifier).
    classifier : {"symmetric-logit", "mnlogit", "ordinal"}
        See the module docstring.
    ties : {"davidson", "rao-kupper"}
        Tie model of the BT prior.
    prior_l2 : float
        Penalty on the prior's strengths (:data:`.prior.PRIOR_L2`).
    l2 : float
        Ridge penalty of the symmetric logit on the standardised coefficients
        (:data:`CLASSIFIER_L2`).
    tie_l2 : float or "auto"
        Penalty of the symmetric text features (they move only P(tie)); ``"auto"`` picks one
        of :data:`TIE_L2_GRID` by grouped CV on the training rows (``inf`` leaves them out).
    n_folds : int
        Folds (grouped by prompt, or by a ``group`` column) of the out-of-fold training prior.
    seed : int
        Seed of the fold assignment.
    tokenizer : callable or regex str, optional
        Token counter for the length features (:func:`arena_stats.features.text.token_count`);
        only the default can be saved.

    Examples
    --------
    >>> from arena_stats.predictor.simulate import simulate_preferences
    >>> train = simulate_preferences(n_rows=3000, n_models=8, seed=1)
    >>> test = simulate_preferences(n_rows=1000, n_models=8, seed=2)
    >>> model = PreferencePredictor().fit(train)
    >>> p = model.predict_proba(test)
    >>> p.columns.tolist()
    ['winner_model_a', 'winner_model_b', 'winner_tie']
    >>> bool(model.score(test) < 1.0986)
    True
    """

    def __init__(self, *, feature_set: str = "full", classifier: str = "symmetric-logit",
                 ties: str = "davidson", prior_l2: float = PRIOR_L2, l2: float = CLASSIFIER_L2,
                 tie_l2: float | str = "auto", n_folds: int = DEFAULT_FOLDS, seed: int = 0,
                 tokenizer: Any = None) -> None:
        if feature_set not in FEATURE_SETS:
            raise InputError(f"feature_set must be one of {', '.join(FEATURE_SETS)}, got {feature_set!r}")
        if classifier not in CLASSIFIERS:
            raise InputError(f"classifier must be one of {', '.join(CLASSIFIERS)}, got {classifier!r}")
        if ties not in PRIOR_TIES:
            raise InputError(f"ties must be one of {', '.join(PRIOR_TIES)}, got {ties!r}")
        if n_folds < 2:
            raise InputError(f"n_folds must be at least 2, got {n_folds}")
        self.feature_set = feature_set
        self.classifier = classifier
        self.ties = ties
        self.prior_l2 = float(prior_l2)
        self.l2 = float(l2)
        if not (tie_l2 == "auto" or (isinstance(tie_l2, (int, float)) and tie_l2 >= 0)):
            raise InputError(f"tie_l2 must be 'auto' or a non-negative number (inf drops the features), got {tie_l2!r}")
        self.tie_l2 = tie_l2 if tie_l2 == "auto" else float(tie_l2)
        self.tie_l2_: float | None = None
        self.n_folds = int(n_folds)
        self.seed = int(seed)
        self.tokenizer = tokenizer
        self.prior_: BTPrior | None = None
        self.params_: dict[str, Any] | None = None
        self.scaling_: dict[str, Any] | None = None
        self.info_: dict[str, Any] = {}

    # ----------------------------------------------------------------- helpers
    @property
    def uses_prior(self) -> bool:
        return self.feature_set in ("full", "prior")

    def settings(self) -> dict[str, Any]:
        """The constructor arguments (the tokenizer as ``None`` / its regex)."""
        tok = self.tokenizer if self.tokenizer is None or isinstance(self.tokenizer, str) else repr(self.tokenizer)
        return {"feature_set": self.feature_set, "classifier": self.classifier, "ties": self.ties,
                "prior_l2": self.prior_l2, "l2": self.l2,
                "tie_l2": self.tie_l2 if self.tie_l2 == "auto" or np.isfinite(self.tie_l2) else "inf",
                "n_folds": self.n_folds, "seed": self.seed,
                "tokenizer": tok}

    def _texts(self, frame: pd.DataFrame, text_table: pd.DataFrame | None) -> pd.DataFrame:
        if text_table is None:
            return text_features(frame, self.tokenizer)
        if len(text_table) != len(frame):
            raise InputError(f"text_table has {len(text_table)} rows but the data has {len(frame)}")
        return text_table.reset_index(drop=True)

    def _scaled(self, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        assert self.scaling_ is not None
        u, u_names, v, v_names = design(table, self.feature_set)
        if u_names != self.scaling_["u_names"] or v_names != self.scaling_["v_names"]:
            raise InputError("the features of this data do not match the fitted model's")
        # u is only scaled (centring would break antisymmetry); v is centred and scaled;
        # columns constant in training (e.g. no code blocks anywhere) are dropped
        u_keep = np.asarray(self.scaling_["u_keep"], dtype=bool)
        v_keep = np.asarray(self.scaling_["v_keep"], dtype=bool)
        u = u[:, u_keep] / np.asarray(self.scaling_["u_scale"])[u_keep]
        v = (v[:, v_keep] - np.asarray(self.scaling_["v_mean"])[v_keep]) / np.asarray(self.scaling_["v_scale"])[v_keep]
        return u, v

    def _check_fitted(self) -> None:
        if self.params_ is None:
            raise InputError("this PreferencePredictor is not fitted yet; call fit() or load()")

    # ---------------------------------------------------------------------- fit
    def fit(self, data: Any, extra_battles: Battles | pd.DataFrame | str | None = None, *,
            text_table: pd.DataFrame | None = None) -> PreferencePredictor:
        """Fit the prior and the classifier on labelled Kaggle-schema rows.

        Parameters
        ----------
        data : DataFrame or path
            Kaggle schema with labels (see :func:`.data.prepare_frame`).
        extra_battles : Battles, DataFrame or path, optional
            A battle log without texts, added as evidence for the BT prior only.
        text_table : DataFrame, optional
            :func:`.features.text_features` of ``data`` computed beforehand (reused by the
            cross-validation so texts are measured once).

        Returns
        -------
        self
        """
        from .data import read_preference_data
        frame = read_preference_data(data, require_labels=True)
        if len(frame) < 2:
            raise InputError("need at least two labelled rows to fit")
        extra = as_battles(extra_battles) if extra_battles is not None else None
        labels = frame["label"].to_numpy()
        table = self._texts(frame, text_table)
        if self.uses_prior:
            oof = out_of_fold_prior(frame["model_a"].to_numpy(), frame["model_b"].to_numpy(), labels,
                                    row_groups(frame), n_folds=self.n_folds, seed=self.seed, extra=extra,
                                    ties=self.ties, l2=self.prior_l2)
            table = pd.concat([table, oof.set_index(table.index)], axis=1)
            self.prior_ = fit_prior(frame["model_a"].to_numpy(), frame["model_b"].to_numpy(), labels,
                                    extra=extra, ties=self.ties, l2=self.prior_l2)
        # swap augmentation: every row also enters with A and B exchanged
        both = pd.concat([table, swap_features(table)], ignore_index=True)
        y = np.concatenate([labels, np.where(labels == LABEL_A, LABEL_B, np.where(labels == LABEL_B, LABEL_A, labels))])
        u, u_names, v, v_names = design(both, self.feature_set)
        u_scale = np.sqrt(np.mean(u ** 2, axis=0))
        v_mean = v.mean(axis=0)
        v_scale = v.std(axis=0)
        self.scaling_ = {"u_names": u_names, "v_names": v_names,
                         "u_keep": (u_scale > _CONSTANT).tolist(), "v_keep": (v_scale > _CONSTANT).tolist(),
                         "u_scale": np.where(u_scale > _CONSTANT, u_scale, 1.0).tolist(), "v_mean": v_mean.tolist(),
                         "v_scale": np.where(v_scale > _CONSTANT, v_scale, 1.0).tolist()}
        u, v = self._scaled(both)
        self.tie_l2_ = None
        if self.classifier == "symmetric-logit":
            kept_v = [nm for nm, k in zip(v_names, self.scaling_["v_keep"]) if k]
            text_cols = np.array([not nm.startswith("prior_") for nm in kept_v], dtype=bool)
            tie_l2, scores = self.tie_l2, {}
            if tie_l2 == "auto":
                if text_cols.any():
                    n = len(labels)
                    folds = grouped_folds(row_groups(frame), self.n_folds, self.seed)
                    tie_l2, scores = _select_tie_l2(u[:n], v[:n], labels, folds,
                                                    np.full(u.shape[1] + v.shape[1], self.l2), text_cols)
                else:
                    tie_l2 = self.l2
            tie_l2 = float(tie_l2)
            if np.isinf(tie_l2):  # leave the symmetric text features out altogether
                keep = np.asarray(self.scaling_["v_keep"], dtype=bool)
                keep[np.flatnonzero(keep)[text_cols]] = False
                self.scaling_["v_keep"] = keep.tolist()
                u, v = self._scaled(both)
                text_cols = np.zeros(v.shape[1], bool)
            penalty = np.full(u.shape[1] + v.shape[1], self.l2)
            penalty[u.shape[1]:][text_cols] = tie_l2
            self.params_ = _fit_symmetric(u, v, y, penalty)
            self.params_.update(tie_l2=tie_l2 if np.isfinite(tie_l2) else "inf", tie_l2_scores=scores)
            self.tie_l2_ = tie_l2
        elif self.classifier == "mnlogit":
            self.params_ = _fit_mnlogit(u, v, y)
        else:
            self.params_ = _fit_ordinal(u, y)
        counts = np.bincount(labels, minlength=3)
        self.info_ = {"n_rows": int(len(frame)), "class_counts": counts.tolist(),
                      "n_models_in_prior": len(self.prior_.models) if self.prior_ is not None else 0,
                      "extra_battles": float(extra.n_battles) if extra is not None else 0.0}
        return self

    # ------------------------------------------------------------------ predict
    def _table(self, frame: pd.DataFrame, text_table: pd.DataFrame | None) -> pd.DataFrame:
        table = self._texts(frame, text_table)
        if self.uses_prior:
            assert self.prior_ is not None
            prior = self.prior_.features(frame["model_a"].to_numpy(), frame["model_b"].to_numpy())
            table = pd.concat([table, prior.set_index(table.index)], axis=1)
        return table

    def predict_proba(self, data: Any, *, text_table: pd.DataFrame | None = None) -> pd.DataFrame:
        """P(a wins), P(b wins), P(tie) for each row, averaged over the row and its a/b swap.

        Returns
        -------
        pandas.DataFrame
            Columns ``winner_model_a, winner_model_b, winner_tie``; index the rows' ``id``.
        """
        from .data import read_preference_data
        self._check_fitted()
        frame = read_preference_data(data)
        table = self._table(frame, text_table)
        u, v = self._scaled(table)
        us, vs = self._scaled(swap_features(table))
        p = 0.5 * (_predict_raw(self.classifier, self.params_, u, v)
                   + _swap_proba(_predict_raw(self.classifier, self.params_, us, vs)))
        return pd.DataFrame(p, columns=list(CLASS_COLUMNS), index=pd.Index(frame["id"].to_numpy(), name="id"))

    def score(self, data: Any, *, text_table: pd.DataFrame | None = None) -> float:
        """Mean log loss on labelled rows (lower is better; uniform guessing scores 1.0986)."""
        from .data import read_preference_data
        frame = read_preference_data(data, require_labels=True)
        return log_loss(frame["label"].to_numpy(), self.predict_proba(frame, text_table=text_table).to_numpy())

    def coefficients(self) -> pd.DataFrame:
        """The symmetric logit's coefficients on the standardised features (block, feature, coef)."""
        self._check_fitted()
        if self.classifier != "symmetric-logit":
            raise InputError("coefficients() describes the symmetric logit only")
        assert self.scaling_ is not None and self.params_ is not None
        u_names = [n for n, k in zip(self.scaling_["u_names"], self.scaling_["u_keep"]) if k]
        v_names = [n for n, k in zip(self.scaling_["v_names"], self.scaling_["v_keep"]) if k]
        rows = [("decisive (a vs b)", n, c) for n, c in zip(u_names, self.params_["beta"])]
        rows.append(("tie", "intercept", self.params_["alpha"]))
        rows += [("tie", n, c) for n, c in zip(v_names, self.params_["gamma"])]
        return pd.DataFrame(rows, columns=["block", "feature", "coef"])

    # --------------------------------------------------------------- save/load
    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        if self.tokenizer is not None and not isinstance(self.tokenizer, str):
            raise InputError("a model with a callable tokenizer cannot be saved; use the default or a regex")
        return {"format": MODEL_FORMAT, "version": MODEL_VERSION, "settings": self.settings(),
                "prior": self.prior_.to_dict() if self.prior_ is not None else None,
                "scaling": self.scaling_, "params": self.params_, "info": self.info_}

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model as JSON (atomically). No pickle: safe to share."""
        text = json.dumps(self.to_dict(), allow_nan=False)
        with atomic_write(path, encoding="utf-8") as fh:
            fh.write(text)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PreferencePredictor:
        if not isinstance(d, dict) or d.get("format") != MODEL_FORMAT:
            raise InputError(f"not a saved PreferencePredictor (expected format {MODEL_FORMAT!r})")
        if d.get("version") != MODEL_VERSION:
            raise InputError(f"saved model version {d.get('version')!r} is not supported (expected {MODEL_VERSION})")
        s = d["settings"]
        model = cls(feature_set=s["feature_set"], classifier=s["classifier"], ties=s["ties"],
                    prior_l2=s["prior_l2"], l2=s["l2"],
                    tie_l2=s["tie_l2"] if s["tie_l2"] in ("auto",) else float(s["tie_l2"]), n_folds=s["n_folds"], seed=s["seed"],
                    tokenizer=s["tokenizer"])
        model.prior_ = BTPrior.from_dict(d["prior"]) if d["prior"] is not None else None
        model.scaling_ = d["scaling"]
        model.params_ = d["params"]
        tl = d["params"].get("tie_l2") if isinstance(d["params"], dict) else None
        model.tie_l2_ = None if tl is None else float(tl)
        model.info_ = d.get("info", {})
        return model

    @classmethod
    def load(cls, path: str | os.PathLike) -> PreferencePredictor:
        """Read a model written by :meth:`save`."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as fh:
                d = json.load(fh)
        except FileNotFoundError:
            raise InputError("no such model file", file=path) from None
        except ValueError as exc:
            raise InputError(f"not a JSON model file ({exc})", file=path) from None
        try:
            return cls.from_dict(d)
        except (KeyError, TypeError) as exc:
            raise InputError(f"saved model is incomplete or malformed ({exc})", file=path) from None

    def __repr__(self) -> str:
        state = f"fitted on {self.info_.get('n_rows', 0):,} rows" if self.params_ is not None else "not fitted"
        return f"PreferencePredictor(feature_set={self.feature_set!r}, classifier={self.classifier!r}, {state})"
