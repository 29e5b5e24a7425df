"""The content model: hashed word (or character) n-grams of each response, differenced.

Representation. scikit-learn's :class:`~sklearn.feature_extraction.text.HashingVectorizer`
counts each response's n-grams (words 1-2 for the ``words`` block, characters 3-5 within word
boundaries for ``chars``) into :data:`N_FEATURES` columns. Columns seen in fewer than
:data:`MIN_DF` training responses are dropped (a feature seen once cannot generalise; with
random or rare content they are most of the columns). A response's vector ``x`` holds, for each
kept n-gram it *contains*, the smoothed inverse document frequency ``1 + log((1 + n) / (1 +
df))`` of the training responses, and the row is divided by the square root of its Euclidean
length (half length normalisation, after the pivoted normalisation of Singhal et al.: full
unit-length rows make a word count less the longer the answer, none lets long answers dominate).
Measured (the out-of-fold log loss of prior + one content score, LLMFAO grouped 5-fold CV,
seeds 0/1, gain over the prior; and a simulation whose winner is planted as the presence of one
word, test log loss against the truth 0.9667)::

    representation                       LLMFAO gain        planted word
    sublinear TF-IDF, unit length        -0.0084 / -0.0084  0.9772
    sublinear TF-IDF, not normalised     -0.0024 / -0.0019  0.9682
    presence x IDF, not normalised       -0.0039 / -0.0042  0.9682
    presence x IDF, half normalised      -0.0119 / -0.0117  0.9714   <- used

A row enters through the difference ``x_a - x_b``, so the content score ``s = w . (x_a - x_b)``
is antisymmetric: swapping the responses negates it exactly.

Estimators. ``w`` comes from one of :data:`CONTENT_GRID`, chosen by grouped cross-validation
(each candidate's out-of-fold scores put through the prior plus a one-coefficient logit): a
ridge regression of the signed outcome (+1 a wins, -1 b wins, 0 tie) for many weak n-grams, or
an L1 logistic regression of a-versus-b on the decisive rows for a few strong ones (both without
intercept, which keeps the score antisymmetric). Ridge alone could not find a single planted
word among 500 filler words (0.9889 against the truth 0.9667 with 8,000 rows); the lasso can
(0.9666). The model used for new rows is the mean of the fold models' coefficients (see
:func:`out_of_fold_scores`). The scores' *scale* does not matter: the combining logit
(:mod:`.combine`) learns how much to trust them, on out-of-fold scores, and shrinks that
coefficient toward zero.

Why hashing and not a fitted vocabulary: a vocabulary of word bigrams over 115,000 long
responses (the Kaggle training file) is a dictionary of millions of Python strings; hashing is
stateless, needs no memory beyond the sparse matrix, and a saved model holds only the kept
columns' indices, IDF weights and coefficients (numbers, never code).

Character n-grams cost far more than words: on the 57k-row Kaggle-scale file 24 s per side for
the first :data:`CHAR_MAX_CHARS` characters against 8 s per side for all words; they are an
optional block (not offered by default) for that reason and because they did not add to the
words on LLMFAO (docs/predictor.md).

scikit-learn is an optional dependency (``pip install 'arena-stats[text]'``), imported here on
first use only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["NGRAM_BLOCKS", "N_FEATURES", "MIN_DF", "CONTENT_GRID", "CHAR_MAX_CHARS", "NgramModel", "fit_content",
           "ngram_counts", "content_matrix", "fit_ngram_model", "out_of_fold_scores", "require_sklearn", "have_sklearn"]

#: Hashed columns per block: 2 ** 20 keeps collisions rare at Kaggle scale.
N_FEATURES = 2 ** 20
#: A column must occur in at least this many training responses to be kept.
MIN_DF = 2
#: Content estimators compared by the inner grouped CV, each with a scale-free penalty level:
#: ``("ridge", a)``: ridge regression of the signed outcome with penalty ``a`` times the mean
#: column sum of squares (dense: many weak n-grams); ``("lasso", c)``: L1 logistic regression of
#: a-versus-b on the decisive rows with ``C = c / lambda_max`` (``lambda_max``: the largest
#: column score at zero, where the first n-gram enters), sparse: a few strong n-grams.
CONTENT_GRID: tuple[tuple[str, float], ...] = (("ridge", 30.0), ("lasso", 1.5), ("lasso", 3.0), ("lasso", 10.0))
#: Character n-grams look at the first this many characters of a response (cost; see above).
CHAR_MAX_CHARS = 1000
#: The n-gram blocks: HashingVectorizer analyzer, n-gram range, characters read (None: all).
NGRAM_BLOCKS: dict[str, dict[str, Any]] = {
    "words": {"analyzer": "word", "ngram_range": (1, 2), "max_chars": None},
    "chars": {"analyzer": "char_wb", "ngram_range": (3, 5), "max_chars": CHAR_MAX_CHARS},
}
#: Tolerance of the ridge (LSQR) and lasso (liblinear) fits: the score only has to rank well.
RIDGE_TOL = 1e-3


def have_sklearn() -> bool:
    """Whether scikit-learn can be imported (the n-gram blocks need it)."""
    import importlib.util
    return importlib.util.find_spec("sklearn") is not None


def require_sklearn(block: str) -> None:
    """Raise a clear :class:`InputError` when the n-gram ``block`` is asked for without scikit-learn."""
    if not have_sklearn():
        raise InputError(f"the {block!r} text block needs scikit-learn: pip install 'arena-stats[text]' "
                         f"(or leave {block!r} out of blocks=)")


def ngram_counts(texts: pd.Series, block: str):  # noqa: ANN201
    """Hashed n-gram counts of each text, a ``(n, N_FEATURES)`` CSR matrix (float64).

    Examples
    --------
    >>> import pandas as pd
    >>> x = ngram_counts(pd.Series(["the cat sat", "the dog"]), "words")
    >>> x.shape, int(x[0].sum()), int(x[1].sum())
    ((2, 1048576), 5, 3)
    """
    if block not in NGRAM_BLOCKS:
        raise InputError(f"unknown n-gram block {block!r}; choose one of {', '.join(NGRAM_BLOCKS)}")
    require_sklearn(block)
    from sklearn.feature_extraction.text import HashingVectorizer
    spec = NGRAM_BLOCKS[block]
    vec = HashingVectorizer(analyzer=spec["analyzer"], ngram_range=spec["ngram_range"], n_features=N_FEATURES,
                            alternate_sign=False, norm=None, lowercase=True, dtype=np.float64)
    values = texts.astype(object).where(texts.notna(), "").astype(str)
    if spec["max_chars"] is not None:
        values = values.str.slice(0, spec["max_chars"])
    x = vec.transform(values.to_numpy())
    x.sort_indices()
    return x


def _weights(counts, columns: np.ndarray, idf: np.ndarray):  # noqa: ANN001, ANN202
    """Presence times IDF of the kept ``columns``, each row divided by the square root of its
    Euclidean length (half length normalisation; see the module docstring)."""
    from scipy.sparse import csr_matrix
    x = counts[:, columns].tocsr()
    x.sort_indices()
    data = idf[x.indices]
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    length = np.sqrt(np.bincount(rows, weights=data * data, minlength=x.shape[0]))
    length[length == 0] = 1.0
    return csr_matrix((data / np.sqrt(length[rows]), x.indices, x.indptr), shape=x.shape)


@dataclass
class NgramModel:
    """A fitted content model of one n-gram block (see the module docstring).

    Attributes
    ----------
    block : str
        ``words`` or ``chars``.
    columns : ndarray of int64
        The kept hashed columns (increasing).
    idf : ndarray
        Their inverse document frequencies.
    coef : ndarray
        Their coefficients.
    estimator : tuple
        ``(kind, level)`` of :data:`CONTENT_GRID` that produced them.
    n_docs : int
        Training responses the IDF was computed on.
    """

    block: str
    columns: np.ndarray
    idf: np.ndarray
    coef: np.ndarray
    estimator: tuple[str, float]
    n_docs: int

    def difference(self, counts_a, counts_b):  # noqa: ANN001, ANN201
        """``x_a - x_b`` of the kept columns (CSR); exactly negated by a swap."""
        return (_weights(counts_a, self.columns, self.idf) - _weights(counts_b, self.columns, self.idf)).tocsr()

    def score(self, counts_a, counts_b) -> np.ndarray:  # noqa: ANN001
        """The content score ``w . (x_a - x_b)`` of each row."""
        return np.asarray(self.difference(counts_a, counts_b) @ self.coef, dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return {"block": self.block, "columns": self.columns.tolist(), "idf": self.idf.tolist(),
                "coef": self.coef.tolist(), "estimator": [self.estimator[0], float(self.estimator[1])],
                "n_docs": int(self.n_docs)}


def vocabulary(counts_a, counts_b, n_docs: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Kept columns (document frequency >= :data:`MIN_DF` over both sides' responses) and
    their smoothed IDF."""
    df = (np.bincount(counts_a.indices, minlength=counts_a.shape[1])
          + np.bincount(counts_b.indices, minlength=counts_b.shape[1]))
    columns = np.flatnonzero(df >= MIN_DF).astype(np.int64)
    idf = 1.0 + np.log((1.0 + n_docs) / (1.0 + df[columns]))
    return columns, idf


def _signed(labels: np.ndarray) -> np.ndarray:
    return np.where(labels == 0, 1.0, np.where(labels == 1, -1.0, 0.0))


def _l1_argument() -> dict[str, Any]:
    """The L1 penalty in this scikit-learn's spelling (``penalty`` is deprecated from 1.8 on)."""
    import inspect

    from sklearn.linear_model import LogisticRegression
    default = inspect.signature(LogisticRegression).parameters["penalty"].default
    return {"l1_ratio": 1.0} if default == "deprecated" else {"penalty": "l1"}


def fit_content(d, labels: np.ndarray, kind: str, level: float) -> np.ndarray:  # noqa: ANN001
    """Coefficients of one content estimator of :data:`CONTENT_GRID` on rows ``d``."""
    labels = np.asarray(labels)
    if d.shape[1] == 0 or d.nnz == 0:
        return np.zeros(d.shape[1])
    if kind == "ridge":
        from sklearn.linear_model import Ridge
        alpha = level * float(d.multiply(d).sum()) / d.shape[1]
        model = Ridge(alpha=alpha, fit_intercept=False, solver="lsqr", tol=RIDGE_TOL)
        model.fit(d, _signed(labels))
        return np.asarray(model.coef_, dtype=float).ravel()
    from sklearn.linear_model import LogisticRegression
    decisive = labels < 2
    y = labels[decisive] == 0
    if y.all() or not y.any():  # one class: no direction to learn without an intercept
        return np.zeros(d.shape[1])
    dd = d[decisive]
    lam = float(np.max(np.abs(dd.T @ (y - 0.5))))
    if lam == 0:
        return np.zeros(d.shape[1])
    # liblinear shuffles with random_state: fixed, so the same data give the same coefficients
    model = LogisticRegression(C=level / lam, solver="liblinear", fit_intercept=False, tol=RIDGE_TOL,
                               random_state=0, **_l1_argument())
    model.fit(dd, y.astype(np.int64))
    return np.asarray(model.coef_, dtype=float).ravel()


def content_matrix(block: str, counts_a, counts_b):  # noqa: ANN001, ANN201
    """The kept columns and IDF of the training responses, and the rows' ``x_a - x_b``.

    Returns ``(model, d)``: an unfitted :class:`NgramModel` (coefficients zero) and the CSR
    difference matrix of the training rows.
    """
    n_docs = 2 * counts_a.shape[0]
    columns, idf = vocabulary(counts_a, counts_b, n_docs)
    base = NgramModel(block, columns, idf, np.zeros(len(columns)), ("ridge", 0.0), n_docs)
    return base, base.difference(counts_a, counts_b)


def fit_ngram_model(base: NgramModel, coef: np.ndarray, estimator: tuple[str, float]) -> NgramModel:
    """The content model with coefficients ``coef`` (the mean of the fold models' coefficients,
    from :func:`out_of_fold_scores`)."""
    return NgramModel(base.block, base.columns, base.idf, np.asarray(coef, float), estimator, base.n_docs)


def out_of_fold_scores(d, labels: np.ndarray, folds: np.ndarray,  # noqa: ANN001
                       grid: tuple[tuple[str, float], ...] = CONTENT_GRID,
                       criterion: Callable[[np.ndarray], float] | None = None, bar: Any = None
                       ) -> tuple[np.ndarray, tuple[str, float], dict[str, float], np.ndarray]:
    """Out-of-fold content scores of the training rows, the estimator chosen from ``grid``.

    ``d`` comes from :func:`content_matrix` (IDF and kept columns from all training responses,
    label-free); each fold's estimator sees only the other folds' labels. ``criterion(scores) ->
    loss`` ranks the estimators (default: squared error of the signed outcome).

    Returns
    -------
    scores, estimator, losses, coef
        The chosen estimator's out-of-fold scores, the estimator ``(kind, level)``, every
        estimator's loss (keyed ``"kind level"``), and the mean of its fold models' coefficients:
        the model used for prediction. Averaging the fold models instead of refitting on every
        row keeps new rows' scores on the scale of the out-of-fold scores the combining logit
        learnt to trust; a sparse refit on all rows selects more n-grams, and on small training
        sets without signal its larger, noisier scores cost up to 0.03 in log loss.
    """
    labels = np.asarray(labels)
    target = _signed(labels)
    best: tuple[float, tuple[str, float], np.ndarray, np.ndarray] | None = None
    losses: dict[str, float] = {}
    fold_ids = np.unique(folds)
    for kind, level in grid:
        scores = np.zeros(len(target))
        coef = np.zeros(d.shape[1])
        for f in fold_ids:
            test = folds == f
            w = fit_content(d[~test], labels[~test], kind, level)
            scores[test] = d[test] @ w
            coef += w / len(fold_ids)
            if bar is not None:
                bar.update()
        loss = float(criterion(scores)) if criterion is not None else float(np.mean((scores - target) ** 2))
        losses[f"{kind} {level:g}"] = loss
        if best is None or loss < best[0]:
            best = (loss, (kind, float(level)), scores, coef)
    assert best is not None
    return best[2], best[1], losses, best[3]
