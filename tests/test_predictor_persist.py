"""A model file is data: every field validated, a tampered file is a clear InputError, never a hang."""

from __future__ import annotations

import copy
import json
import time

import pytest

from arena_stats.cli import main
from arena_stats.errors import InputError
from arena_stats.predictor import PreferencePredictor, simulate_preferences


@pytest.fixture(scope="module")
def saved():
    train = simulate_preferences(n_rows=400, n_models=5, seed=1, vocabulary=100)
    model = PreferencePredictor(blocks=("style", "words", "tie"), selection="all").fit(train)
    return model.to_dict()


def _set(path: str, value):  # noqa: ANN001, ANN202
    def mutate(d: dict) -> None:
        *head, last = path.split(".")
        for key in head:
            d = d[key]
        if last.endswith("]"):
            name, index = last[:-1].split("[")
            d[name][int(index)] = value
        else:
            d[last] = value
    return mutate


def _delete(path: str):  # noqa: ANN202
    def mutate(d: dict) -> None:
        *head, last = path.split(".")
        for key in head:
            d = d[key]
        del d[last]
    return mutate


def _shorten(path: str):  # noqa: ANN202
    def mutate(d: dict) -> None:
        *head, last = path.split(".")
        for key in head:
            d = d[key]
        d[last] = d[last][:-1]
    return mutate


def _asymmetric(d: dict) -> None:
    d["prior"]["cov"][0][1] += 1.0


TAMPERED = [
    ("catastrophic regex as tokenizer", _set("settings.tokenizer", r"(a+)+$"), "settings.tokenizer"),
    ("unknown block", _set("settings.blocks[1]", "os.system"), "settings.blocks[1]"),
    ("column name that is code", _set("combiner.u_names[0]", "__import__('os')"), "combiner.u_names[0]"),
    ("coefficient of the wrong length", _shorten("combiner.beta"), "combiner.beta"),
    ("coefficient that is a string", _set("combiner.beta[0]", "1.0"), "combiner.beta[0]"),
    ("zero scale", _set("combiner.u_scale[0]", 0.0), "combiner.u_scale[0]"),
    ("boolean as a number", _set("combiner.alpha", True), "combiner.alpha"),
    ("strengths of the wrong length", _shorten("prior.theta"), "prior.theta"),
    ("asymmetric covariance", _asymmetric, "prior.cov"),
    ("unknown tie model", _set("prior.ties", "half"), "prior.ties"),
    ("hashed column out of range", _set("ngram_models.words.columns[0]", 2 ** 40), "ngram_models.words.columns"),
    ("negative IDF", _set("ngram_models.words.idf[0]", -1.0), "ngram_models.words.idf[0]"),
    ("unknown content estimator", _set("ngram_models.words.estimator", ["eval", 1.0]),
     "ngram_models.words.estimator[0]"),
    ("chosen block never offered", _set("chosen.blocks", ["recal", "chars"]), "chosen.blocks[1]"),
    ("calibration that is text", _set("calibration.tau", "1"), "calibration.tau"),
    ("missing field", _delete("info.n_rows"), "info.n_rows"),
    ("missing combiner", _delete("combiner"), "combiner"),
    ("settings not an object", _set("settings", ["blocks"]), "settings"),
]


@pytest.mark.parametrize("what,mutate,field", TAMPERED, ids=[t[0] for t in TAMPERED])
def test_a_tampered_model_file_is_an_input_error_naming_the_field(saved, tmp_path, what, mutate, field):
    d = copy.deepcopy(saved)
    mutate(d)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(d))
    with pytest.raises(InputError) as exc:
        PreferencePredictor.load(path)
    assert f"model field '{field}" in str(exc.value) and str(path) in str(exc.value), str(exc.value)


def test_non_finite_numbers_and_non_json_are_refused(saved, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(saved).replace('"alpha": ', '"alpha": NaN, "x": ', 1))
    with pytest.raises(InputError, match="non-finite number NaN"):
        PreferencePredictor.load(path)
    path.write_text("[" * 100000)
    with pytest.raises(InputError, match="not a"):
        PreferencePredictor.load(path)
    path.write_text(json.dumps({**saved, "version": 1}))
    with pytest.raises(InputError, match="version 1 is not supported"):
        PreferencePredictor.load(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="cannot read"):
        PreferencePredictor.load(path)


def test_the_untampered_file_loads(saved, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(saved))
    assert PreferencePredictor.load(path).chosen_.name == "recal+style+words+tie"


def test_cli_apply_with_a_regex_model_answers_in_one_line_at_once(saved, tmp_path, capsys):
    d = copy.deepcopy(saved)
    d["settings"]["tokenizer"] = r"(\w+\s?)*$"
    (tmp_path / "m.json").write_text(json.dumps(d))
    test = simulate_preferences(n_rows=5, n_models=5, seed=2)
    test["response_a"] = "a" * 5000 + "!"  # would backtrack for hours under that pattern
    test.to_csv(tmp_path / "test.csv", index=False)
    start = time.perf_counter()
    code = main(["predict", "apply", str(tmp_path / "test.csv"), "--model", str(tmp_path / "m.json"),
                 "--output", str(tmp_path / "sub.csv")])
    assert code == 2 and time.perf_counter() - start < 30
    err = capsys.readouterr().err
    assert "settings.tokenizer" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "sub.csv").exists()
