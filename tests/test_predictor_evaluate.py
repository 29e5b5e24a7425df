"""Grouped cross-validation, calibration, reliability plot, the LLMFAO result and the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from arena_stats.cli import main
from arena_stats.predictor import evaluate, evaluate_seeds, load_llmfao
from arena_stats.predictor.evaluate import calibration_table
from arena_stats.predictor.simulate import simulate_preferences


def test_calibration_table_equals_a_direct_binning():
    rng = np.random.default_rng(0)
    p = rng.dirichlet([2, 2, 2], 500)
    y = rng.integers(0, 3, 500)
    t = calibration_table(y, p, bins=5)
    for c, name in enumerate(["a", "b", "tie"]):
        for lo in np.arange(5) / 5:
            inside = (p[:, c] >= lo) & (p[:, c] < lo + 0.2)
            row = t[(t["class"] == name) & np.isclose(t["bin_lower"], lo)]
            if not inside.any():
                assert row.empty
                continue
            assert int(row["n"].iloc[0]) == inside.sum()
            assert row["mean_predicted"].iloc[0] == pytest.approx(p[inside, c].mean())
            assert row["observed"].iloc[0] == pytest.approx(np.mean(y[inside] == c))


@pytest.fixture(scope="module")
def small_cv():
    data = simulate_preferences(n_rows=1200, n_models=6, seed=7, vocabulary=200)
    return data, evaluate(data, folds=3, seed=1)


def test_cross_validation_never_splits_a_prompt_and_scores_every_row(small_cv):
    data, res = small_cv
    folds_per_prompt = pd.Series(res.folds).groupby(data["prompt"].to_numpy()).nunique()
    assert folds_per_prompt.max() == 1
    for p in res.predictions.values():
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    t = res.to_frame().set_index("model")
    assert t.loc["uniform", "log_loss"] == pytest.approx(np.log(3))
    # the log loss in the table is the mean of the out-of-fold per-row losses
    p = res.predictions["full"]
    assert t.loc["full", "log_loss"] == pytest.approx(-np.mean(np.log(p[np.arange(len(p)), res.labels])))
    assert t.loc["full", "log_loss"] < t.loc["class_prior", "log_loss"] < t.loc["uniform", "log_loss"] + 1e-9
    # the planted length effect: the length block alone beats the class prior, the n-grams of
    # random filler words do not carry it
    assert t.loc["length_only", "log_loss"] < t.loc["class_prior", "log_loss"] - 0.01
    assert t.loc["words_only", "log_loss"] > t.loc["length_only", "log_loss"]
    assert list(t.index) == ["uniform", "class_prior", "bt_prior", "bt_prior_recal", "length_only", "style_only",
                             "words_only", "chars_only", "tie_only", "full", "full (uncalibrated)"]
    assert "full" in res.summary() and len(res.settings["chosen"]) == 3


def test_reliability_plot_returns_a_figure(small_cv, tmp_path):
    _, res = small_cv
    fig = res.reliability_plot()
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert {t.get_text() for t in fig.axes[2].get_legend().get_texts()} >= {"full", "full (uncalibrated)"}
    fig.savefig(tmp_path / "r.png")


def test_evaluate_seeds_averages_the_per_seed_tables():
    data = simulate_preferences(n_rows=600, n_models=5, seed=3)
    res = evaluate_seeds(data, seeds=(0, 1, 2), folds=3, models=("class_prior", "bt_prior"))
    per = np.array([r.table.set_index("model").loc["bt_prior", "log_loss"] for r in res.results])
    row = res.table.set_index("model").loc["bt_prior"]
    assert row["log_loss"] == pytest.approx(per.mean())
    assert row["se_seeds"] == pytest.approx(per.std(ddof=1) / np.sqrt(3))
    assert len({tuple(r.folds) for r in res.results}) == 3  # three different fold assignments


@pytest.mark.slow
def test_llmfao_predictor_never_loses_to_its_prior_and_its_style_block_beats_it(shared_data):
    """Grouped (by prompt) 5-fold CV on the 8,931 LLMFAO crowd votes (see docs/predictor.md)."""
    data = load_llmfao(shared_data / "llmfao")
    res = evaluate(data, folds=5, seed=0, models=("class_prior", "bt_prior", "full"))
    t = res.to_frame().set_index("model")
    assert t.loc["full", "log_loss"] < t.loc["class_prior", "log_loss"] - 0.03
    assert t.loc["full", "log_loss"] <= t.loc["bt_prior", "log_loss"] + 0.005
    # 13 prompts: the n-gram blocks are not offered, the one-SE rule falls back to the prior often
    assert not any("words" in c for c in res.settings["chosen"])
    forced = evaluate(data, folds=5, seed=0, models=("bt_prior", "full"), blocks=("style",), selection="all")
    f = forced.to_frame().set_index("model")
    assert f.loc["full", "log_loss"] < f.loc["bt_prior", "log_loss"] - 0.01
    assert f.loc["bt_prior", "delta_vs_full"] > 3 * f.loc["bt_prior", "delta_se"]


def test_cli_train_apply_evaluate_round_trip(tmp_path, capsys):
    train = simulate_preferences(n_rows=600, n_models=5, seed=1)
    test = simulate_preferences(n_rows=120, n_models=5, seed=2).drop(
        columns=["winner_model_a", "winner_model_b", "winner_tie", "true_a", "true_b", "true_tie"])
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    assert main(["predict", "train", str(tmp_path / "train.csv"), "--output", str(tmp_path / "m.json"), "-q"]) == 0
    # --out is the old spelling of --output: the same model
    assert main(["predict", "train", str(tmp_path / "train.csv"), "--out", str(tmp_path / "m2.json"), "-q"]) == 0
    assert (tmp_path / "m.json").read_text() == (tmp_path / "m2.json").read_text()
    assert main(["predict", "apply", str(tmp_path / "test.csv"), "--model", str(tmp_path / "m.json"),
                 "--output", str(tmp_path / "sub.csv"), "-q"]) == 0
    sub = pd.read_csv(tmp_path / "sub.csv")
    assert sub.columns.tolist() == ["id", "winner_model_a", "winner_model_b", "winner_tie"]
    assert sub["id"].tolist() == test["id"].tolist()
    np.testing.assert_allclose(sub.iloc[:, 1:].sum(axis=1), 1.0, atol=1e-9)
    capsys.readouterr()
    assert main(["predict", "evaluate", str(tmp_path / "train.csv"), "--folds", "3", "--format", "csv", "-q"]) == 0
    out = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert out["model"].tolist() == ["uniform", "class_prior", "bt_prior", "bt_prior_recal", "length_only",
                                     "style_only", "words_only", "chars_only", "tie_only", "full",
                                     "full (uncalibrated)"]


def test_show_progress_is_the_old_name_of_progress():
    from arena_stats.predictor import PreferencePredictor
    with pytest.warns(DeprecationWarning, match=r"PreferencePredictor\(show_progress=...\) is now progress="):
        model = PreferencePredictor(show_progress=True)
    assert model.progress is True
    with pytest.raises(TypeError, match="give progress= only"):
        PreferencePredictor(progress=True, show_progress=True)


def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("prompt,response_a\nx,y\n")
    assert main(["predict", "train", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert "response_b" in err and "Traceback" not in err
    assert main(["predict", "apply", str(tmp_path / "bad.csv"), "--model", str(tmp_path / "none.json"),
                 "--output", str(tmp_path / "s.csv")]) == 2
    assert "no such model file" in capsys.readouterr().err


def test_n_folds_is_the_old_name_of_folds():
    from arena_stats.predictor import PreferencePredictor
    with pytest.warns(DeprecationWarning, match=r"PreferencePredictor\(n_folds=...\) is now folds="):
        assert PreferencePredictor(n_folds=3).folds == 3
    with pytest.raises(TypeError, match="give folds= only"):
        PreferencePredictor(folds=3, n_folds=4)
