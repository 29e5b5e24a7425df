"""The n-gram content model: weights, vocabulary, estimators against independent computations."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from arena_stats.errors import InputError
from arena_stats.predictor import PreferencePredictor, ngrams, simulate_preferences
from arena_stats.predictor.ngrams import MIN_DF, NgramModel, _weights, fit_content, ngram_counts, vocabulary

TEXTS = pd.Series(["the cat sat on the mat", "the dog sat", "a cat and a dog", "", "mat mat mat cat"])


def test_vocabulary_and_weights_equal_a_direct_computation():
    xa, xb = ngram_counts(TEXTS, "words"), ngram_counts(TEXTS.iloc[::-1].reset_index(drop=True), "words")
    columns, idf = vocabulary(xa, xb, 2 * len(TEXTS))
    # document frequency by hand: the set of hashed columns of each of the ten documents
    docs = [set(xa[i].indices) for i in range(5)] + [set(xb[i].indices) for i in range(5)]
    df = {c: sum(c in d for d in docs) for c in set().union(*docs)}
    assert columns.tolist() == sorted(c for c, k in df.items() if k >= MIN_DF)
    np.testing.assert_allclose(idf, [1 + np.log(11 / (1 + df[c])) for c in columns], rtol=1e-14)
    w = _weights(xa, columns, idf).toarray()
    lookup = dict(zip(columns.tolist(), idf.tolist()))
    for i in range(5):
        present = [c for c in sorted(docs[i]) if c in lookup]
        raw = np.array([lookup[c] for c in present])
        expect = np.zeros(len(columns))
        if len(present):
            expect[np.searchsorted(columns, present)] = raw / np.sqrt(np.sqrt(np.sum(raw ** 2)))
        np.testing.assert_allclose(w[i], expect, rtol=1e-14, atol=0)


def test_the_difference_is_exactly_antisymmetric():
    xa, xb = ngram_counts(TEXTS, "chars"), ngram_counts(TEXTS.iloc[::-1].reset_index(drop=True), "chars")
    columns, idf = vocabulary(xa, xb, 10)
    m = NgramModel("chars", columns, idf, np.linspace(-1, 1, len(columns)), ("ridge", 1.0), 10)
    d1, d2 = m.difference(xa, xb).toarray(), m.difference(xb, xa).toarray()
    assert np.array_equal(d1, -d2)
    assert np.array_equal(m.score(xa, xb), -m.score(xb, xa))


def _problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    d = sp.random(400, 30, density=0.2, random_state=seed, format="csr") - sp.random(400, 30, density=0.2,
                                                                                       random_state=seed + 1)
    w = np.zeros(30)
    w[:3] = [3.0, -2.0, 1.5]
    s = d @ w
    p = np.column_stack([np.exp(s / 2), np.exp(-s / 2), np.full(400, 0.7)])
    p /= p.sum(axis=1, keepdims=True)
    y = (rng.random(400)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return d.tocsr(), y


def test_ridge_estimator_equals_the_normal_equations():
    d, y = _problem()
    coef = fit_content(d, y, "ridge", 10.0)
    x = d.toarray()
    alpha = 10.0 * np.sum(x * x) / x.shape[1]
    t = np.where(y == 0, 1.0, np.where(y == 1, -1.0, 0.0))
    direct = np.linalg.solve(x.T @ x + alpha * np.eye(30), x.T @ t)
    np.testing.assert_allclose(coef, direct, rtol=1e-3, atol=1e-4)  # LSQR at tolerance 1e-3


def test_lasso_estimator_satisfies_the_l1_optimality_conditions():
    d, y = _problem(1)
    coef = fit_content(d, y, "lasso", 3.0)
    decisive = y < 2
    x, z = d[decisive].toarray(), (y[decisive] == 0).astype(float)
    lam = np.max(np.abs(x.T @ (z - 0.5)))
    c = 3.0 / lam
    grad = c * x.T @ (1 / (1 + np.exp(-x @ coef)) - z)  # of C * sum(log loss); optimum: |grad| <= 1
    active = coef != 0
    assert active[:3].all() and active.sum() < 30
    np.testing.assert_allclose(grad[active], -np.sign(coef[active]), atol=0.02)
    assert np.all(np.abs(grad[~active]) <= 1 + 0.02)
    # same data, same coefficients (liblinear's shuffling is seeded)
    assert np.array_equal(coef, fit_content(d, y, "lasso", 3.0))


def test_without_scikit_learn_the_ngram_blocks_are_left_out_or_refused(monkeypatch):
    monkeypatch.setattr(ngrams, "have_sklearn", lambda: False)
    import arena_stats.predictor.model as model_module
    monkeypatch.setattr(model_module, "have_sklearn", lambda: False)
    train = simulate_preferences(n_rows=300, n_models=4, seed=1)
    with pytest.warns(UserWarning, match="scikit-learn is not installed"):
        model = PreferencePredictor(blocks=("length", "words")).fit(train)
    assert "words" not in model.chosen_.blocks and "arena-stats[text]" in model.summary()
    with pytest.raises(InputError, match=r"pip install 'arena-stats\[text\]'"):
        PreferencePredictor(blocks=("words",), selection="all").fit(train)


def test_importing_arena_stats_and_the_predictor_does_not_import_scikit_learn():
    code = "import sys, arena_stats, arena_stats.predictor; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
