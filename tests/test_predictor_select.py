"""The selection: never worse than the prior without signal, finds a planted word, reports why."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from arena_stats.cli import main
from arena_stats.errors import InputError
from arena_stats.predictor import PreferencePredictor, fit_prior, log_loss, prepare_frame, simulate_preferences
from arena_stats.predictor.selection import candidates, clustered_se
from arena_stats.predictor.simulate import SIGNAL_WORD

#: Small training sets (rows, models, seed) like the MT-bench GPT-4 case of issue 13 (~700 rows,
#: 4 models) and smaller, with texts of random filler words: content without signal.
SMALL_SETS = [(150, 4, 1), (300, 4, 7), (700, 4, 2), (300, 8, 4), (700, 8, 5)]


def _prior_loss(train: pd.DataFrame, test: pd.DataFrame) -> float:
    y_train = prepare_frame(train)["label"].to_numpy()
    y = prepare_frame(test)["label"].to_numpy()
    prior = fit_prior(train["model_a"], train["model_b"], y_train)
    return log_loss(y, prior.features(test["model_a"], test["model_b"])[["prior_a", "prior_b", "prior_tie"]]
                    .to_numpy())


def _no_signal(n: int, models: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    kw = dict(n_models=models, vocabulary=300, length_effect=0.0)
    return (simulate_preferences(n_rows=n, seed=seed, **kw),
            simulate_preferences(n_rows=4000, seed=1000 + seed, **kw))


@pytest.fixture(scope="module")
def no_signal_results():
    out = []
    for n, models, seed in SMALL_SETS:
        train, test = _no_signal(n, models, seed)
        prior = _prior_loss(train, test)
        auto = PreferencePredictor(blocks=("style", "words", "tie")).fit(train)
        forced = PreferencePredictor(blocks=("style", "words", "tie"), selection="all").fit(train)
        out.append((n, models, seed, prior, auto.score(test), forced.score(test), auto.chosen_.name))
    return out


def test_small_training_sets_without_text_signal_never_lose_to_the_bt_prior(no_signal_results):
    for n, models, seed, prior, auto, _, chosen in no_signal_results:
        assert auto <= prior + 0.005, (n, models, seed, chosen, auto - prior)
    # and the one-SE rule usually keeps the prior alone when nothing beats it clearly
    assert sum(r[-1] == "prior" for r in no_signal_results) >= 3, [r[-1] for r in no_signal_results]


def test_forcing_every_block_on_those_sets_does_lose_to_the_prior(no_signal_results):
    """The guard is needed: the same blocks without the selection lose to the prior."""
    excess = [forced - prior for *_, prior, _, forced, _ in no_signal_results]
    assert max(excess) > 0.01, excess


def test_a_planted_word_is_found_and_the_length_model_misses_it():
    kw = dict(n_models=8, vocabulary=500, word_effect=1.0, length_effect=0.0)
    train = simulate_preferences(n_rows=3000, seed=1, **kw)
    test = simulate_preferences(n_rows=4000, seed=2, **kw)
    y = prepare_frame(test)["label"].to_numpy()
    truth = log_loss(y, test[["true_a", "true_b", "true_tie"]].to_numpy())
    model = PreferencePredictor().fit(train)
    assert "words" in model.chosen_.blocks, model.summary()
    assert model.score(test) < truth + 0.01
    # the content model's largest weight is the planted word's column
    from arena_stats.predictor.ngrams import ngram_counts
    words = model.ngram_models_["words"]
    signal_col = int(ngram_counts(pd.Series([SIGNAL_WORD]), "words").indices[0])
    assert words.columns[np.argmax(np.abs(words.coef))] == signal_col
    # with the prior, the length model cannot see the word; without it, nothing can
    length = PreferencePredictor(blocks=("length",)).fit(train).score(test)
    assert length > truth + 0.01
    assert PreferencePredictor(prior=False, blocks=("length",), selection="all").fit(train).score(test) > truth + 0.03


def test_clustered_standard_error_equals_statsmodels_cluster_robust_ols():
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 40, 900)
    x = rng.normal(size=900) + rng.normal(size=40)[groups]
    ref = sm.OLS(x, np.ones(900)).fit(cov_type="cluster", cov_kwds={"groups": groups}).bse[0]
    assert clustered_se(x, groups) == pytest.approx(ref, rel=1e-10)
    # one row per cluster: the usual standard error of a mean
    row = sm.OLS(x, np.ones(900)).fit().bse[0]
    assert clustered_se(x, np.arange(900)) == pytest.approx(row, rel=1e-10)
    assert row == pytest.approx(x.std(ddof=1) / np.sqrt(900), rel=1e-12)


def test_candidates_always_include_the_prior_alone_and_never_length_with_style():
    names = [c.name for c in candidates(True, ["length", "style", "tie"])]
    assert names[0] == "prior" and "recal" in names
    assert not any("length" in n and "style" in n for n in names)
    assert [c.name for c in candidates(False, ["words"])] == ["intercept", "words"]


@pytest.mark.parametrize("n", [1, 3, 20])
def test_tiny_training_sets_fit_the_prior_and_say_so(n):
    train = simulate_preferences(n_rows=n, n_models=3, seed=2)
    model = PreferencePredictor().fit(train)
    assert model.chosen_.name == "prior"
    assert "fewer than 100" in model.summary()
    p = model.predict_proba(simulate_preferences(n_rows=30, n_models=3, seed=3)).to_numpy()
    assert np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1.0)
    # without a prior: the class frequencies, symmetrised
    q = PreferencePredictor(prior=False).fit(train).predict_proba(train).to_numpy()
    np.testing.assert_allclose(q[:, 0], q[:, 1], rtol=0, atol=1e-12)


def test_degenerate_training_sets_fit_or_raise_clearly():
    base = simulate_preferences(n_rows=300, n_models=4, seed=5, vocabulary=50)
    ties = base.assign(winner_model_a=0, winner_model_b=0, winner_tie=1)
    for data in (ties, base.assign(model_a=None, model_b=None), base.assign(prompt="one prompt")):
        p = PreferencePredictor().fit(data).predict_proba(base).to_numpy()
        assert np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1.0)
    with pytest.raises(InputError, match="no labelled rows"):
        PreferencePredictor().fit(base.iloc[:0])


def test_the_choice_and_its_reason_reach_the_summary_the_model_file_and_the_cli(tmp_path, capsys):
    train = simulate_preferences(n_rows=600, n_models=5, seed=1)
    train.to_csv(tmp_path / "train.csv", index=False)
    assert main(["predict", "train", str(tmp_path / "train.csv"), "--out", str(tmp_path / "m.json"),
                 "--blocks", "length,tie"]) == 0
    err = capsys.readouterr().err
    saved = json.loads((tmp_path / "m.json").read_text())
    chosen = saved["selection"]["chosen"]
    assert f"chosen: {chosen} (" in err and "one-standard-error rule" in err
    assert saved["selection"]["reason"] in err
    assert {r["candidate"] for r in saved["selection"]["table"]} == {"prior", "recal", "recal+length", "recal+tie",
                                                                     "recal+length+tie"}
    with pytest.raises(SystemExit) as exc:  # argparse's usage error: one line, status 2
        main(["predict", "train", str(tmp_path / "train.csv"), "--out", str(tmp_path / "m.json"),
              "--blocks", "bogus"])
    assert exc.value.code == 2
    assert "unknown block(s) bogus" in capsys.readouterr().err
