"""PreferencePredictor: swap symmetry, persistence, recovery of a planted truth, the logit fit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from arena_stats.errors import InputError
from arena_stats.predictor import PreferencePredictor, log_loss, swap_frame
from arena_stats.predictor.data import prepare_frame
from arena_stats.predictor.model import _fit_symmetric, _softmax, _sym_eta
from arena_stats.predictor.prior import fit_prior
from arena_stats.predictor.simulate import simulate_preferences

PIECES = ["# Title", "- item", "1. step", "**bold** text", "```\ncode\n```", "I'm sorry, I cannot help.",
          "plain words here", "more words and more", "", "Sure!", "你好", "tie?"]
MODELS = np.array(["m1", "m2", "m3", "m4", None, "stranger"], dtype=object)


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
def random_models():
    train = _random_frame(400, seed=1)
    return {c: PreferencePredictor(classifier=c, tie_l2=1.0).fit(train)
            for c in ("symmetric-logit", "mnlogit", "ordinal")}


@pytest.mark.parametrize("classifier", ["symmetric-logit", "mnlogit", "ordinal"])
def test_swapping_a_and_b_swaps_the_output_exactly(random_models, classifier):
    model = random_models[classifier]
    test = prepare_frame(_random_frame(300, seed=2, labelled=False))
    p = model.predict_proba(test).to_numpy()
    q = model.predict_proba(swap_frame(test)).to_numpy()
    np.testing.assert_allclose(q, p[:, [1, 0, 2]], rtol=0, atol=1e-12)
    assert np.allclose(p.sum(axis=1), 1.0)
    # identical responses of unknown-or-equal models: P(a) = P(b)
    same = test.assign(response_b=test["response_a"], model_b=test["model_a"])
    ps = model.predict_proba(same).to_numpy()
    np.testing.assert_allclose(ps[:, 0], ps[:, 1], rtol=0, atol=1e-12)


def test_save_load_predict_gives_identical_probabilities(random_models, tmp_path):
    test = _random_frame(200, seed=3, labelled=False)
    for name, model in random_models.items():
        path = tmp_path / f"{name}.json"
        model.save(path)
        back = PreferencePredictor.load(path)
        pd.testing.assert_frame_equal(back.predict_proba(test), model.predict_proba(test), check_exact=True)
        assert back.settings() == model.settings()
    # the file is plain JSON
    assert json.loads(path.read_text())["format"] == "arena_stats.PreferencePredictor"


def test_loading_a_bad_file_is_an_input_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(InputError, match="not a saved PreferencePredictor"):
        PreferencePredictor.load(bad)
    with pytest.raises(InputError, match="no such model file"):
        PreferencePredictor.load(tmp_path / "missing.json")
    with pytest.raises(InputError, match="not fitted"):
        PreferencePredictor().predict_proba(_random_frame(3, seed=0))


def test_predictor_recovers_a_planted_bt_plus_length_truth():
    """Truth: Davidson BT strengths plus a length effect. The predictor must beat BT only and
    length only and come within 0.01 of the true model's log loss on fresh data."""
    train = simulate_preferences(n_rows=8000, n_models=10, length_effect=0.6, seed=1)
    test = simulate_preferences(n_rows=8000, n_models=10, length_effect=0.6, seed=2)
    y = prepare_frame(test)["label"].to_numpy()
    y_train = prepare_frame(train)["label"].to_numpy()
    true_loss = log_loss(y, test[["true_a", "true_b", "true_tie"]].to_numpy())
    full = PreferencePredictor().fit(train).score(test)
    length_only = PreferencePredictor(feature_set="length").fit(train).score(test)
    prior = fit_prior(train["model_a"], train["model_b"], y_train)
    bt_only = log_loss(y, prior.features(test["model_a"], test["model_b"])[["prior_a", "prior_b", "prior_tie"]]
                       .to_numpy())
    assert full < bt_only - 0.01
    assert full < length_only - 0.01
    assert full < true_loss + 0.01


def test_symmetric_logit_fit_equals_a_direct_likelihood_maximisation():
    rng = np.random.default_rng(5)
    n = 3000
    u = rng.normal(size=(n, 2))
    v = rng.normal(size=(n, 1))
    eta = np.column_stack([u @ [0.8, -0.3], -(u @ [0.8, -0.3]), -0.5 + 0.4 * v[:, 0]])
    p = _softmax(eta)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    fit = _fit_symmetric(u, v, y, np.zeros(3))

    def nll(w):  # written out independently: P(a) ∝ e^{s}, P(b) ∝ e^{-s}, P(tie) ∝ e^{t}
        s = u @ w[:2]
        t = w[2] + v[:, 0] * w[3]
        z = np.exp(s) + np.exp(-s) + np.exp(t)
        num = np.where(y == 0, s, np.where(y == 1, -s, t))
        return float(np.sum(np.log(z) - num))

    direct = minimize(nll, np.zeros(4), method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10,
                                                                       "maxiter": 20000, "maxfev": 20000})
    ours = np.concatenate([fit["beta"], [fit["alpha"]], fit["gamma"]])
    np.testing.assert_allclose(ours, direct.x, atol=1e-4)
    # and the planted coefficients are recovered within sampling error
    np.testing.assert_allclose(ours, [0.8, -0.3, -0.5, 0.4], atol=0.15)


def test_symmetric_logit_gradient_matches_finite_differences():
    rng = np.random.default_rng(6)
    u, v = rng.normal(size=(200, 3)), rng.normal(size=(200, 2))
    y = rng.integers(0, 3, 200)
    pen = np.full(5, 0.7)
    fit = _fit_symmetric(u, v, y, pen)
    w = np.concatenate([fit["beta"], [fit["alpha"]], fit["gamma"]])

    def f(w):
        eta = _sym_eta(u, v, w[:3], w[3], w[4:])
        lp = eta - np.log(np.exp(eta).sum(axis=1, keepdims=True))
        return -lp[np.arange(200), y].sum() + 0.5 * 0.7 * (w[:3] @ w[:3] + w[4:] @ w[4:])

    grad = np.array([(f(w + h) - f(w - h)) / 2e-6 for h in np.eye(6) * 1e-6])
    np.testing.assert_allclose(grad, 0.0, atol=1e-4)  # the fit sits at the penalised optimum


def test_bad_settings_raise_input_errors():
    with pytest.raises(InputError, match="feature_set"):
        PreferencePredictor(feature_set="tfidf")
    with pytest.raises(InputError, match="classifier"):
        PreferencePredictor(classifier="forest")
    with pytest.raises(InputError, match="ties"):
        PreferencePredictor(ties="half")
    with pytest.raises(InputError, match="tie_l2"):
        PreferencePredictor(tie_l2=-1.0)


def test_coefficients_name_every_kept_feature(random_models):
    coef = random_models["symmetric-logit"].coefficients()
    assert {"decisive (a vs b)", "tie"} == set(coef["block"])
    assert "prior_logit" in set(coef["feature"]) and "intercept" in set(coef["feature"])


def test_extra_battle_log_reaches_the_prior_of_a_fitted_predictor():
    from arena_stats.data.simulate import simulate_arena
    train = simulate_preferences(n_rows=300, n_models=6, seed=3)
    log = simulate_arena(n_models=6, n_battles=2000, seed=5).battles
    plain = PreferencePredictor(tie_l2=float("inf")).fit(train)
    more = PreferencePredictor(tie_l2=float("inf")).fit(train, extra_battles=log)
    assert more.info_["extra_battles"] == 2000
    assert more.prior_.settings["n_battles"] == pytest.approx(plain.prior_.settings["n_battles"] + 2000)
    assert not np.allclose(more.prior_.theta, plain.prior_.theta)
