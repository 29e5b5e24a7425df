"""Simulated preference data with a known truth: Davidson BT strengths plus text effects.

The generative model, for checking that the predictor recovers a planted truth (and that it
does not invent one where there is none):

* ``n_models`` strengths ``theta ~ N(0, spread^2)`` (natural log scale, centred);
* each row draws two different models uniformly and two response lengths ``n_a, n_b``
  (log-normal token counts, independent of the models);
* with ``vocabulary=0`` (the default) a response is the word ``word`` repeated ``n`` times;
  with ``vocabulary=V`` it is ``n`` words drawn uniformly from ``V`` random filler words, so the
  texts differ in content but the content carries no signal;
* with ``word_effect != 0`` each response contains the word :data:`SIGNAL_WORD` with
  probability ``word_rate`` (at a random position), and that word moves the verdict;
* ``d = theta_a - theta_b + length_effect * (log(1 + n_a) - log(1 + n_b))
  + word_effect * (w_a - w_b)`` (``w`` = 1 when the response contains the signal word) and the
  verdict is drawn from the Davidson model ``P(a) : P(b) : P(tie) = e^{d/2} : e^{-d/2} : nu``.

Rows come in prompts of :data:`ROWS_PER_PROMPT`, so grouped folds have something to group. The
true probabilities are returned alongside (``true_a, true_b, true_tie``), so the log loss of the
true model on any sample can be computed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["simulate_preferences", "ROWS_PER_PROMPT", "SIGNAL_WORD"]

ROWS_PER_PROMPT = 3
LENGTH_LOG_MEAN = np.log(120.0)
LENGTH_LOG_SD = 0.8
#: The word that carries the planted content effect (not a filler word: those are ``w<digits>``).
SIGNAL_WORD = "zephyr"
_FILLER_SEED = 4242


def _filler_words(vocabulary: int) -> np.ndarray:
    """``vocabulary`` distinct filler words ``w<k>``, the same for every seed."""
    return np.array([f"w{k:05d}" for k in range(vocabulary)], dtype=object)


def simulate_preferences(n_rows: int = 5000, n_models: int = 20, *, length_effect: float = 0.6,
                         spread: float = 0.7, nu: float = 0.8, seed: int = 0,
                         theta: np.ndarray | None = None, vocabulary: int = 0, word_effect: float = 0.0,
                         word_rate: float = 0.3) -> pd.DataFrame:
    """Kaggle-schema rows from the planted model described in the module docstring.

    Parameters
    ----------
    n_rows, n_models : int
    length_effect : float
        Log-odds of A over B per unit of ``log(1 + tokens_a) - log(1 + tokens_b)``.
    spread : float
        Standard deviation of the strengths (natural log scale).
    nu : float
        Davidson tie parameter (``nu / (2 + nu)`` ties between equals).
    seed : int
    theta : ndarray, optional
        Use these strengths instead of drawing them (e.g. to make a test set from the same truth;
        by default the strengths depend only on ``n_models`` and ``spread``, not on ``seed``).
    vocabulary : int
        0: every response is the word ``word`` repeated; ``V > 0``: responses are random draws
        from ``V`` filler words (content without signal).
    word_effect : float
        Log-odds of A over B when only A's response contains :data:`SIGNAL_WORD` (needs
        ``vocabulary > 0``); 0 plants no content signal.
    word_rate : float
        Probability that a response contains the signal word (when ``word_effect != 0``).

    Examples
    --------
    >>> df = simulate_preferences(n_rows=6, n_models=3, seed=1)
    >>> df.columns.tolist()[:6]
    ['id', 'prompt', 'response_a', 'response_b', 'model_a', 'model_b']
    >>> bool((df[["true_a", "true_b", "true_tie"]].sum(axis=1) - 1).abs().max() < 1e-12)
    True
    >>> w = simulate_preferences(n_rows=200, n_models=3, vocabulary=50, word_effect=2.0, seed=1)
    >>> bool(w["response_a"].str.contains(SIGNAL_WORD).any())
    True
    """
    if n_models < 2:
        raise ValueError("n_models must be at least 2")
    if word_effect != 0 and vocabulary <= 0:
        raise ValueError("a content effect (word_effect) needs filler words (vocabulary > 0)")
    if theta is None:
        # the truth is shared by every seed, so train and test sets can be drawn separately
        theta = np.random.default_rng(12345 + n_models).normal(0.0, spread, n_models)
        theta -= theta.mean()
    theta = np.asarray(theta, dtype=float)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_models, n_rows)
    b = (a + rng.integers(1, n_models, n_rows)) % n_models
    n_a = np.maximum(1, np.round(np.exp(rng.normal(LENGTH_LOG_MEAN, LENGTH_LOG_SD, n_rows)))).astype(np.int64)
    n_b = np.maximum(1, np.round(np.exp(rng.normal(LENGTH_LOG_MEAN, LENGTH_LOG_SD, n_rows)))).astype(np.int64)
    if vocabulary > 0:
        # a separate stream for the texts, so the verdicts of a seed do not depend on the vocabulary
        text_rng = np.random.default_rng([seed, _FILLER_SEED])
        words = _filler_words(vocabulary)
        has = np.zeros((2, n_rows), dtype=bool)
        if word_effect != 0:
            has = text_rng.random((2, n_rows)) < word_rate
        texts = []
        for side, lengths in enumerate((n_a, n_b)):
            side_texts = []
            for k, n in enumerate(lengths):
                draw = words[text_rng.integers(0, vocabulary, n)]
                if has[side, k]:
                    draw[text_rng.integers(0, n)] = SIGNAL_WORD
                side_texts.append(" ".join(draw))
            texts.append(side_texts)
        w_a, w_b = has[0].astype(float), has[1].astype(float)
    else:
        texts = [["word " * k for k in n_a], ["word " * k for k in n_b]]
        w_a = w_b = np.zeros(n_rows)
    d = (theta[a] - theta[b] + length_effect * (np.log1p(n_a) - np.log1p(n_b))
         + word_effect * (w_a - w_b))
    ua, ub = np.exp(d / 2), np.exp(-d / 2)
    z = ua + ub + nu
    p = np.column_stack([ua / z, ub / z, nu / z])
    r = rng.random(n_rows)
    label = np.where(r < p[:, 0], 0, np.where(r < p[:, 0] + p[:, 1], 1, 2))
    names = np.array([f"model-{k:03d}" for k in range(n_models)], dtype=object)
    prompt_id = np.arange(n_rows) // ROWS_PER_PROMPT
    return pd.DataFrame({
        "id": np.arange(n_rows),
        "prompt": [f"prompt {k} seed {seed}" for k in prompt_id],
        "response_a": texts[0],
        "response_b": texts[1],
        "model_a": names[a], "model_b": names[b],
        "winner_model_a": (label == 0).astype(np.int64), "winner_model_b": (label == 1).astype(np.int64),
        "winner_tie": (label == 2).astype(np.int64),
        "true_a": p[:, 0], "true_b": p[:, 1], "true_tie": p[:, 2],
    })
