"""The name policy (arena_stats.data.names): one canonical text per contestant, look-alikes found."""

from __future__ import annotations

import random
import unicodedata
import warnings

import numpy as np
import pandas as pd
import pytest

from arena_stats import load_battles
from arena_stats.data.names import NameLog, canonical_name, canonical_names, fold_map, lookalike_groups, lookalike_key
from arena_stats.data.stream import stream_pair_counts
from arena_stats.errors import InputError, LookalikeNameWarning, NameMergeWarning


@pytest.mark.parametrize("spellings, name", [
    ([1, 1.0, "1", "1.0", " 001 ", "+1", "1e0", np.int16(1), np.float32(1.0)], "1"),
    ([0, -0.0, "0", "-0", "0.000"], "0"),
    ([0.5, "0.50", ".5", "5e-1"], "0.5"),
    (["12345678901234567890", 12345678901234567890], "12345678901234567890"),  # exact, not via float
    ([True, "true", "TRUE", "True"], "True"),
    (["café", unicodedata.normalize("NFD", "café"), " café\u00a0", "\tcafé\n"], "café"),
])
def test_every_spelling_of_a_name_has_one_canonical_text(spellings, name):
    got, why = canonical_names(spellings)
    assert got == [name] * len(spellings) and why == {}


@pytest.mark.parametrize("value, why", [(None, "missing"), (float("nan"), "missing"), (pd.NA, "missing"),
                                        ("", "blank"), ("  \t", "blank"), ("\u200b\u200d", "blank"),
                                        (["x"], "not a name"), ({"a": 1}, "not a name"), (("x",), "not a name")])
def test_missing_blank_and_non_scalar_values_are_not_names(value, why):
    assert canonical_names([value]) == ([None], {0: why})
    with pytest.raises(InputError, match="not a contestant name"):
        canonical_name(value)


def test_names_that_differ_by_other_characters_stay_apart():
    names = ["gpt-4", "gpt 4", "gpt-4o", "GPT4", "1.5", "1.50b", "007x", "x\u0301"]
    got, _ = canonical_names(names)
    assert len(set(got)) == len(names)


def test_lookalikes_are_grouped_by_case_and_invisible_characters_only():
    names = ["GPT-4", "gpt-4", "Gpt\u200b-4", "gpt-4o", "Straße", "STRASSE", "ab", "a\u00adb", "a b"]
    assert lookalike_groups(names) == [["GPT-4", "Gpt\u200b-4", "gpt-4"], ["STRASSE", "Straße"], ["ab", "a\u00adb"]]
    assert lookalike_key("A\ufeffB") == lookalike_key("ab")


def test_folding_names_the_group_by_its_cleanest_first_spelling_whatever_the_order():
    group = ["gpt-4", "GPT-4\u200b", "Gpt-4", "\ufeffGPT-4", "GPT-4"]
    for seed in range(5):
        shuffled = random.Random(seed).sample(group, len(group))
        assert set(fold_map(shuffled).values()) == {"GPT-4"}
    # the fewest invisible characters first, even where one sorts before a letter (U+00AD < é)
    assert set(fold_map(["caf\u00adé", "café"]).values()) == {"café"}
    # folding parts, then the parts' names together, names the same spelling (a minimum): the
    # streaming, incremental and Dask paths agree with one pass
    for cut in range(2, len(group) - 1):
        parts = [group[:cut], group[cut:]]
        reps = [fold_map(p)[p[0]] for p in parts]
        assert fold_map(reps)[reps[0]] == fold_map(group)["gpt-4"] == "GPT-4"


def test_the_log_reports_spellings_merged_across_inputs_but_not_numbers():
    log = NameLog()
    canonical_names(["x ", "y", "1.0"], log)
    canonical_names(["x", " y", "1"], log)
    assert log.merged == {"x": ["x ", "x"], "y": ["y", " y"]}
    assert "'x' from 'x', 'x '" in log.message()


@pytest.mark.parametrize("read", [load_battles, stream_pair_counts], ids=["load_battles", "stream"])
def test_long_groups_of_spellings_are_listed_briefly(read):
    spellings = [" " * k + "m" for k in range(30)]
    frame = pd.DataFrame({"model_a": spellings, "model_b": ["o"] * 30, "winner": ["tie"] * 30})
    with pytest.warns(NameMergeWarning) as caught:
        read(frame)
    assert "and 26 more" in str(caught[0].message) or "more" in str(caught[0].message)
    assert len(str(caught[0].message)) < 1000


@pytest.mark.parametrize("read", [load_battles, stream_pair_counts], ids=["load_battles", "stream"])
def test_the_winner_may_be_named_in_any_spelling_of_its_name(read):
    frame = pd.DataFrame({"left": [1, 2.0, " caf\u0065\u0301"], "right": ["café", 1, "2"],
                          "result": ["1.0", " 1 ", "café"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NameMergeWarning)
        got = read(frame, model_a_col="left", model_b_col="right", outcome_col="result",
                   outcome_map={"x": "tie"})
    models = got.models
    assert models == ["1", "2", "café"]


def test_no_warning_for_clean_names():
    frame = pd.DataFrame({"model_a": ["a", "b"], "model_b": ["b", "c"], "winner": ["tie", "model_a"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_battles(frame)
        stream_pair_counts(frame)


def test_lookalike_warning_names_every_group_and_the_option(tmp_path):
    frame = pd.DataFrame({"model_a": ["A", "a", "B\u200b"], "model_b": ["B", "B", "A"], "winner": ["tie"] * 3})
    with pytest.warns(LookalikeNameWarning, match=r"'A' / 'a'; 'B' / 'B\\u200b'.*--fold-case"):
        load_battles(frame)
