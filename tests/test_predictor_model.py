"""PreferencePredictor: swap symmetry, save/load identity, a planted truth, the combining logit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from arena_stats.errors import InputError
from arena_stats.predictor import PreferencePredictor, log_loss, swap_frame
from arena_stats.predictor.combine import fit_calibration, fit_symmetric, softmax3
from arena_stats.predictor.data import prepare_frame
from arena_stats.predictor.prior import fit_prior
from arena_stats.predictor.simulate import simulate_preferences

PIECES = ["# Title", "- item", "1. step", "**bold** text", "```\ncode\n```", "I'm sorry, I cannot help.",
          "plain words here", "more words and more", "", "Sure!", "你好", "tie?"]
MODELS = np.array(["m1", "m2", "m3", "m4", None, "stranger"], dtype=object)
#: Configurations whose every part (prior, each block, calibration) is exercised by the tests.
CONFIGS = {
    "all-blocks": dict(blocks=("style", "words", "chars", "tie"), selection="all"),
    "auto": dict(),
    "no-prior": dict(prior=False, blocks=("length", "words"), selection="all"),
    "rao-kupper": dict(ties="rao-kupper", blocks=("length", "tie"), selection="all"),
}


def _random_frame(n: int, seed: int, labelled: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def text() -> str:
        turns = ["\n".join(rng.choice(PIECES, rng.integers(0, 6))) for _ in range(rng.integers(1, 3))]
        return json.dumps(turns) if rng.random() < 0.5 else "\n".join(turns)

    a = rng.choice(MODELS[:4] if labelled else MODELS, n)
    b = np.array([rng.choice([m for m in (MODELS[:4] if labelled else MODELS) if m != x]) for x in a], dtype=object)
    df = pd.DataFrame({"id": np.arange(n), "prompt": [f"prompt {k // 2}" for k in range(n)],
                       "response_a": [text() for _ in range(n)], "response_b": [text() for _ in range(n)],
                       "model_a": a, "model_b": b})
    if labelled:
        df["winner"] = rng.choice(["model_a", "model_b", "tie"], n)
    return df


@pytest.fixture(scope="module")
def fitted():
    train = _random_frame(400, seed=1)
    return {name: PreferencePredictor(**kw).fit(train) for name, kw in CONFIGS.items()}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_swapping_a_and_b_swaps_the_output_exactly(fitted, name):
    model = fitted[name]
    test = prepare_frame(_random_frame(300, seed=2, labelled=False))
    p = model.predict_proba(test).to_numpy()
    q = model.predict_proba(swap_frame(test)).to_numpy()
    np.testing.assert_allclose(q, p[:, [1, 0, 2]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # identical responses of the same (or an unknown) model: P(a) = P(b)
    same = test.assign(response_b=test["response_a"], model_b=test["model_a"])
    ps = model.predict_proba(same).to_numpy()
    np.testing.assert_allclose(ps[:, 0], ps[:, 1], rtol=0, atol=1e-12)


def test_every_block_is_used_where_selection_all_asks_for_it(fitted):
    names = set(fitted["all-blocks"].coefficients()["feature"])
    assert {"prior_logit", "d_tokens", "words_score", "chars_score", "sum_tokens"} <= names
    assert set(fitted["all-blocks"].ngram_models_) == {"words", "chars"}
    assert "prior_logit" not in set(fitted["no-prior"].coefficients()["feature"])


@pytest.mark.parametrize("name", list(CONFIGS))
def test_save_load_predict_gives_identical_probabilities(fitted, tmp_path, name):
    model = fitted[name]
    test = _random_frame(200, seed=3, labelled=False)
    path = tmp_path / f"{name}.json"
    model.save(path)
    back = PreferencePredictor.load(path)
    pd.testing.assert_frame_equal(back.predict_proba(test), model.predict_proba(test), check_exact=True)
    pd.testing.assert_frame_equal(back.predict_proba(test, calibrated=False),
                                  model.predict_proba(test, calibrated=False), check_exact=True)
    assert back.settings() == model.settings()
    assert back.summary() == model.summary()
    pd.testing.assert_frame_equal(back.to_frame(), model.to_frame())
    assert json.loads(path.read_text())["format"] == "arena_stats.PreferencePredictor"


def test_same_seed_same_model_bit_for_bit():
    train = _random_frame(300, seed=4)
    a = PreferencePredictor(blocks=("style", "words")).fit(train).to_dict()
    b = PreferencePredictor(blocks=("style", "words")).fit(train).to_dict()
    assert json.dumps(a) == json.dumps(b)


def test_predictor_recovers_a_planted_bt_plus_length_truth():
    """Truth: Davidson BT strengths plus a length effect. The predictor must beat BT only and
    length only and come within 0.01 of the true model's log loss on fresh data."""
    train = simulate_preferences(n_rows=6000, n_models=10, length_effect=0.6, seed=1)
    test = simulate_preferences(n_rows=6000, n_models=10, length_effect=0.6, seed=2)
    y = prepare_frame(test)["label"].to_numpy()
    y_train = prepare_frame(train)["label"].to_numpy()
    true_loss = log_loss(y, test[["true_a", "true_b", "true_tie"]].to_numpy())
    model = PreferencePredictor(blocks=("length", "tie")).fit(train)
    full = model.score(test)
    length_only = PreferencePredictor(prior=False, blocks=("length",), selection="all").fit(train).score(test)
    prior = fit_prior(train["model_a"], train["model_b"], y_train)
    bt_only = log_loss(y, prior.features(test["model_a"], test["model_b"])[["prior_a", "prior_b", "prior_tie"]]
                       .to_numpy())
    assert "length" in model.chosen_.blocks
    assert full < bt_only - 0.01
    assert full < length_only - 0.01
    assert full < true_loss + 0.01


def test_combining_logit_equals_a_direct_likelihood_maximisation():
    rng = np.random.default_rng(5)
    n = 8000
    u = rng.normal(size=(n, 2))
    v = rng.normal(size=(n, 1))
    off_s, off_t = rng.normal(0, 0.3, n), rng.normal(-0.5, 0.2, n)
    s = off_s + u @ [0.8, -0.3]
    p = softmax3(s, off_t - 0.5 + 0.4 * v[:, 0])
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    fit = fit_symmetric(u, v, y, np.zeros(3), off_s=off_s, off_t=off_t)

    def nll(w):  # written out independently: P(a) ∝ e^{s}, P(b) ∝ e^{-s}, P(tie) ∝ e^{t}
        s = off_s + u @ w[:2]
        t = off_t + w[2] + v[:, 0] * w[3]
        z = np.exp(s) + np.exp(-s) + np.exp(t)
        num = np.where(y == 0, s, np.where(y == 1, -s, t))
        return float(np.sum(np.log(z) - num))

    direct = minimize(nll, np.zeros(4), method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10,
                                                                       "maxiter": 20000, "maxfev": 20000})
    ours = np.concatenate([fit["beta"], [fit["alpha"]], fit["gamma"]])
    assert fit["converged"]
    np.testing.assert_allclose(ours, direct.x, atol=1e-4)
    # and the planted coefficients are recovered within sampling error
    np.testing.assert_allclose(ours, [0.8, -0.3, -0.5, 0.4], atol=0.15)


def test_penalised_fit_sits_where_the_penalised_gradient_vanishes():
    rng = np.random.default_rng(6)
    u, v = rng.normal(size=(200, 3)), rng.normal(size=(200, 2))
    y = rng.integers(0, 3, 200)
    pen = np.array([0.7, 2.0, 0.1, 5.0, 0.3])
    fit = fit_symmetric(u, v, y, pen, alpha_l2=1.5)
    w = np.concatenate([fit["beta"], [fit["alpha"]], fit["gamma"]])
    lam = np.array([0.7, 2.0, 0.1, 1.5, 5.0, 0.3])

    def f(w):
        s, t = u @ w[:3], w[3] + v @ w[4:]
        eta = np.column_stack([s, -s, t])
        lp = eta - np.log(np.exp(eta).sum(axis=1, keepdims=True))
        return -lp[np.arange(200), y].sum() + 0.5 * float(lam @ (w * w))

    grad = np.array([(f(w + h) - f(w - h)) / 2e-6 for h in np.eye(6) * 1e-6])
    np.testing.assert_allclose(grad, 0.0, atol=1e-5)


def test_calibration_recovers_a_planted_temperature_like_a_direct_fit():
    rng = np.random.default_rng(8)
    n = 20000
    s, t = rng.normal(0, 1.2, n), rng.normal(-0.4, 0.6, n)
    p = softmax3(0.6 * s, t + 0.3)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    c = fit_calibration(s, t, y)

    def nll(w):
        q = softmax3(w[0] * s, t + w[1])
        return -np.sum(np.log(q[np.arange(n), y]))

    direct = minimize(nll, np.array([1.0, 0.0]), method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-9})
    np.testing.assert_allclose([c.tau, c.delta], direct.x, atol=2e-3)  # a penalty of 1 in 20,000 rows
    np.testing.assert_allclose([c.tau, c.delta], [0.6, 0.3], atol=0.05)


def test_bad_settings_raise_input_errors():
    with pytest.raises(InputError, match="unknown text block 'tfidf'"):
        PreferencePredictor(blocks=("tfidf",))
    with pytest.raises(InputError, match="selection"):
        PreferencePredictor(selection="best")
    with pytest.raises(InputError, match="ties"):
        PreferencePredictor(ties="half")
    with pytest.raises(InputError, match="text_l2"):
        PreferencePredictor(text_l2=-1.0)
    with pytest.raises(InputError, match="folds must be"):
        PreferencePredictor(folds=1)
    with pytest.raises(InputError, match="length and style"):
        PreferencePredictor(blocks=("length", "style"), selection="all")
    # a tokenizer is a name from a fixed set, never a pattern
    with pytest.raises(InputError, match="unknown tokenizer"):
        PreferencePredictor(tokenizer=r"(a+)+$")


def test_a_callable_tokenizer_works_but_cannot_be_saved(tmp_path):
    train = _random_frame(200, seed=9)
    model = PreferencePredictor(blocks=("length",), selection="all", tokenizer=str.split).fit(train)
    assert np.isfinite(model.predict_proba(train).to_numpy()).all()
    with pytest.raises(InputError, match="callable tokenizer cannot be saved"):
        model.save(tmp_path / "m.json")


def test_coefficients_summary_and_repr_describe_the_fit(fitted):
    model = fitted["all-blocks"]
    coef = model.coefficients()
    assert {"a vs b", "tie"} == set(coef["block"])
    assert "intercept" in set(coef["feature"])
    text = model.summary()
    assert "chosen: recal+style+words+chars+tie" in text and "calibration" in text
    assert "fitted on 400 rows" in repr(model)
    assert repr(PreferencePredictor()).endswith("not fitted)")


def test_extra_battle_log_reaches_the_prior_of_a_fitted_predictor():
    from arena_stats.data.simulate import simulate_arena
    train = simulate_preferences(n_rows=300, n_models=6, seed=3)
    log = simulate_arena(n_models=6, n_battles=2000, seed=5).battles
    plain = PreferencePredictor(blocks=()).fit(train)
    more = PreferencePredictor(blocks=()).fit(train, extra_battles=log)
    assert more.info_["extra_battles"] == 2000
    assert more.prior_.settings["n_battles"] == pytest.approx(plain.prior_.settings["n_battles"] + 2000)
    assert not np.allclose(more.prior_.theta, plain.prior_.theta)
