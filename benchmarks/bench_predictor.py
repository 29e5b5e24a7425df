"""Benchmarks of the preference predictor: LLMFAO over seeds, Kaggle scale, the GPT-4 case, fallback.

Usage (from the project root; outputs under ``benchmarks/out/``)::

    python benchmarks/bench_predictor.py llmfao [--seeds 0 1 2 3 4]   # grouped CV, every baseline and block
    python benchmarks/bench_predictor.py kaggle [--rows 57477]        # build a Kaggle-size file, time fit + apply
    python benchmarks/bench_predictor.py gpt4                        # the MT-bench GPT-4 held-out case
    python benchmarks/bench_predictor.py fallback [--sets 8]          # small no-signal sets against the prior
    python benchmarks/bench_predictor.py boosting [--seeds 0 1 2]     # gradient boosting vs the linear model

``llmfao`` runs :func:`arena_stats.predictor.evaluate_seeds` on the 8,931 LLMFAO crowd votes and
writes the table (``llmfao_seeds.csv``) and the seed-0 reliability plot (``reliability.png``).
Besides the default predictor it scores the predictor with the style block forced
(``selection="all"``) so the cost of the fall-back on 13 prompts is visible.

``kaggle`` builds a 57,477-row file in the Kaggle ``train.csv`` schema from the LLMFAO texts
(JSON turn lists; each response two LLMFAO answers, prompts made unique, labels drawn at random,
184 MB, the size of the competition file) under ``/tmp``, then times ``predict train`` (offering
the words block) and ``predict apply`` in fresh processes and reports their peak memory.

``gpt4`` reproduces the held-out case of issue 13 as far as the data allow:
``mt_bench_human_judgments/gpt4_pair.jsonl`` holds the verdicts but no texts. Four models are
kept (the issue does not say which; by default claude-v1, gpt-3.5-turbo, gpt-4 and llama-13b,
whose prior scores 0.617 on this split, next to the issue's 0.620; ``--models`` picks others), "tie
(inconsistent)" counts as a tie, 60 questions train (720 rows) and 20 test (240 rows), and the
rows get texts that carry no signal (LLMFAO answers drawn at random): the case where text
features can only hurt. Reported: the Davidson prior alone, the default predictor, and the blocks
forced on.

``fallback`` repeats the small-training-set check of ``tests/test_predictor_select.py`` over
more seeds: the largest excess over the prior and how often the prior alone is chosen.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
SHARED = ROOT.parent / "shared" / "data"


def _uptime() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_llmfao(seeds: list[int]) -> None:
    from arena_stats.predictor import MODELS, evaluate, evaluate_seeds, load_llmfao
    data = load_llmfao(SHARED / "llmfao")
    start = time.perf_counter()
    res = evaluate_seeds(data, seeds=seeds, models=MODELS)
    forced = evaluate_seeds(data, seeds=seeds, models=("bt_prior", "full"), blocks=("style",), selection="all")
    took = time.perf_counter() - start
    table = res.to_frame()
    row = forced.to_frame().set_index("model").loc["full"]
    table = pd.concat([table, pd.DataFrame([{**row.to_dict(), "model": "recal+style (forced)"}])],
                      ignore_index=True)
    print(res.summary())
    print(f"forced style: {row['log_loss']:.4f} (se over seeds {row['se_seeds']:.4f})")
    print(f"({took:.0f} s, load average {_uptime()})")
    OUT.mkdir(parents=True, exist_ok=True)
    table.round(4).to_csv(OUT / "llmfao_seeds.csv", index=False)
    one = evaluate(data, seed=seeds[0], models=("bt_prior", "length_only", "full"))
    one.reliability_plot().savefig(OUT / "reliability.png", dpi=110)
    print(one.calibration("full", bins=5).round(3).to_string(index=False))
    print(f"wrote {OUT / 'llmfao_seeds.csv'} and {OUT / 'reliability.png'}")


def make_kaggle_file(path: Path, n: int, seed: int = 0) -> None:
    from arena_stats.predictor import load_llmfao
    src = load_llmfao(SHARED / "llmfao")
    rng = np.random.default_rng(seed)
    ra, rb, pr = (src[c].to_numpy() for c in ("response_a", "response_b", "prompt"))
    i, j, k = (rng.integers(0, len(src), n) for _ in range(3))
    label = rng.integers(0, 3, n)
    pd.DataFrame({
        "id": np.arange(n), "model_a": src["model_a"].to_numpy()[i], "model_b": src["model_b"].to_numpy()[j],
        "prompt": [json.dumps([p + f" (variant {r})"]) for r, p in enumerate(pr[k])],
        "response_a": [json.dumps([x, y]) for x, y in zip(ra[i], rb[j])],
        "response_b": [json.dumps([x + "\n" + y]) for x, y in zip(rb[i], ra[k])],
        "winner_model_a": (label == 0).astype(int), "winner_model_b": (label == 1).astype(int),
        "winner_tie": (label == 2).astype(int)}).to_csv(path, index=False)


def _timed(args: list[str]) -> tuple[float, float, str]:
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return took, peak, proc.stderr


def bench_kaggle(rows: int) -> None:
    path = Path("/tmp/arena_stats_kaggle_like.csv")
    if not path.exists():
        make_kaggle_file(path, rows)
    print(f"{path}: {path.stat().st_size / 1e6:.0f} MB, {rows:,} rows; load average {_uptime()}")
    model = Path("/tmp/arena_stats_kaggle_model.json")
    cli = [sys.executable, "-m", "arena_stats", "predict"]
    took, peak, err = _timed(cli + ["train", str(path), "--out", str(model), "--blocks", "style,words,tie", "-q"])
    print(f"train (read, featurise, fit, select, save): {took:.1f} s, peak {peak:.0f} MB (children max); "
          f"model file {model.stat().st_size / 1e6:.1f} MB")
    took, peak, _ = _timed(cli + ["apply", str(path), "--model", str(model), "-o", "/tmp/arena_stats_sub.csv", "-q"])
    print(f"apply on the same rows: {took:.1f} s; load average {_uptime()}")
    forced = Path("/tmp/arena_stats_kaggle_forced.json")
    took, peak, _ = _timed(cli + ["train", str(path), "--out", str(forced), "--blocks", "style,words,tie",
                                  "--selection", "all", "-q"])
    took2, _, _ = _timed(cli + ["apply", str(path), "--model", str(forced), "-o", "/tmp/arena_stats_sub.csv", "-q"])
    print(f"train with every block forced: {took:.1f} s, apply {took2:.1f} s; model file "
          f"{forced.stat().st_size / 1e6:.1f} MB; load average {_uptime()}")


#: The issue does not name its four models; of the 15 four-model subsets, this one with split
#: seed 0 gives the Davidson prior 0.617 on the held-out questions, closest to the issue's 0.620.
GPT4_MODELS = ("claude-v1", "gpt-3.5-turbo", "gpt-4", "llama-13b")


def bench_gpt4(models: tuple[str, ...] = GPT4_MODELS, split_seed: int = 0) -> None:
    from arena_stats.predictor import PreferencePredictor, fit_prior, load_llmfao, log_loss, prepare_frame
    d = pd.read_json(SHARED / "mt_bench_human_judgments" / "gpt4_pair.jsonl", lines=True)
    d = d[d["model_a"].isin(models) & d["model_b"].isin(models)].reset_index(drop=True)
    d["winner"] = d["winner"].replace({"tie (inconsistent)": "tie"})
    rng = np.random.default_rng(split_seed)
    questions = rng.permutation(d["question_id"].unique())
    test_q = set(questions[:20].tolist())
    texts = load_llmfao(SHARED / "llmfao")["response_a"].to_numpy()
    d["prompt"] = "question " + d["question_id"].astype(str) + " turn " + d["turn"].astype(str)
    d["group"] = d["question_id"]
    d["response_a"] = texts[rng.integers(0, len(texts), len(d))]
    d["response_b"] = texts[rng.integers(0, len(texts), len(d))]
    train, test = d[~d["question_id"].isin(test_q)], d[d["question_id"].isin(test_q)]
    y, y_train = prepare_frame(test)["label"].to_numpy(), prepare_frame(train)["label"].to_numpy()
    prior = fit_prior(train["model_a"], train["model_b"], y_train)
    p0 = prior.features(test["model_a"], test["model_b"])[["prior_a", "prior_b", "prior_tie"]].to_numpy()
    freq = np.bincount(y_train, minlength=3) / len(y_train)
    print(f"GPT-4 verdicts, {', '.join(models)}: {len(train)} training rows (60 questions), {len(test)} test "
          f"rows (20 unseen questions); texts carry no signal")
    print(f"  class prior            {log_loss(y, np.tile(freq, (len(y), 1))):.4f}")
    print(f"  Davidson prior alone   {log_loss(y, p0):.4f}")
    default = PreferencePredictor().fit(train)
    print(f"  predictor (default)    {default.score(test):.4f}   chose {default.chosen_.name}")
    for blocks in (("tie",), ("style", "tie"), ("style", "words", "tie")):
        m = PreferencePredictor(blocks=blocks, selection="all").fit(train)
        print(f"  forced {'+'.join(blocks):<16} {m.score(test):.4f}")


def bench_fallback(n_sets: int) -> None:
    from arena_stats.predictor import PreferencePredictor, fit_prior, log_loss, prepare_frame, simulate_preferences
    rows = []
    for n in (150, 300, 700):
        for models in (4, 8):
            for seed in range(n_sets):
                kw = dict(n_models=models, vocabulary=300, length_effect=0.0)
                train = simulate_preferences(n_rows=n, seed=seed, **kw)
                test = simulate_preferences(n_rows=4000, seed=1000 + seed, **kw)
                y = prepare_frame(test)["label"].to_numpy()
                prior = fit_prior(train["model_a"], train["model_b"], prepare_frame(train)["label"].to_numpy())
                base = log_loss(y, prior.features(test["model_a"], test["model_b"])[["prior_a", "prior_b", "prior_tie"]]
                                .to_numpy())
                auto = PreferencePredictor().fit(train)
                forced = PreferencePredictor(selection="all").fit(train)
                rows.append({"rows": n, "models": models, "seed": seed, "auto": auto.score(test) - base,
                             "forced": forced.score(test) - base, "chosen": auto.chosen_.name})
    t = pd.DataFrame(rows)
    print(f"{len(t)} no-signal training sets (150/300/700 rows, 4/8 models); excess log loss over the BT prior:")
    print(f"  selection auto: max {t['auto'].max():+.4f}, mean {t['auto'].mean():+.4f}, "
          f"share > 0.005: {(t['auto'] > 0.005).mean():.3f}; prior alone chosen in {(t['chosen'] == 'prior').mean():.0%}")
    print(f"  every block forced: max {t['forced'].max():+.4f}, mean {t['forced'].mean():+.4f}, "
          f"share > 0.005: {(t['forced'] > 0.005).mean():.3f}")


def _dense(table: pd.DataFrame) -> pd.DataFrame:
    from arena_stats.predictor.features import design
    cols: dict[str, np.ndarray] = {}
    for u, v in design(table, ["recal", "style", "tie"]).values():
        cols.update(u)
        cols.update(v)
    return pd.DataFrame(cols)


def bench_boosting(seeds: list[int]) -> None:
    """Gradient boosting on the dense blocks against the linear predictor (grouped 5-fold CV)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from arena_stats.predictor import (evaluate, fit_prior, load_llmfao, log_loss, out_of_fold_prior,
                                       prepare_frame, simulate_preferences)
    from arena_stats.predictor.features import swap_features, text_features
    from arena_stats.predictor.prior import grouped_folds, row_groups

    def boosted(data: pd.DataFrame, seed: int) -> float:
        f = prepare_frame(data, require_labels=True)
        y = f["label"].to_numpy()
        folds = grouped_folds(row_groups(f), 5, seed)
        p = np.zeros((len(y), 3))
        for k in np.unique(folds):
            tr, te = f[folds != k].reset_index(drop=True), f[folds == k].reset_index(drop=True)
            ytr = y[folds != k]
            oof = out_of_fold_prior(tr["model_a"].to_numpy(), tr["model_b"].to_numpy(), ytr, row_groups(tr), seed=seed)
            prior = fit_prior(tr["model_a"], tr["model_b"], ytr)
            ttr = pd.concat([text_features(tr).reset_index(drop=True), oof], axis=1)
            tte = pd.concat([text_features(te).reset_index(drop=True), prior.features(te["model_a"], te["model_b"])],
                            axis=1)
            x = pd.concat([_dense(ttr), _dense(swap_features(ttr))]).to_numpy()
            yy = np.concatenate([ytr, np.where(ytr == 0, 1, np.where(ytr == 1, 0, 2))])
            model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, max_leaf_nodes=15,
                                                   l2_regularization=1.0, min_samples_leaf=50, early_stopping=True,
                                                   random_state=0).fit(x, yy)
            p[folds == k] = 0.5 * (model.predict_proba(_dense(tte).to_numpy())
                                   + model.predict_proba(_dense(swap_features(tte)).to_numpy())[:, [1, 0, 2]])
        return log_loss(y, p)

    data = load_llmfao(SHARED / "llmfao")
    sim = simulate_preferences(n_rows=6000, n_models=10, length_effect=0.6, seed=1)
    for name, d, ss in (("LLMFAO", data, seeds), ("simulation, strengths + length", sim, seeds[:1])):
        for seed in ss:
            lin = evaluate(d, seed=seed, models=("bt_prior", "full"), blocks=("style", "tie")).to_frame()
            lin = lin.set_index("model")["log_loss"]
            print(f"{name}, seed {seed}: boosting {boosted(d, seed):.4f}, linear predictor {lin['full']:.4f}, "
                  f"BT prior {lin['bt_prior']:.4f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("llmfao")
    s.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    k = sub.add_parser("kaggle")
    k.add_argument("--rows", type=int, default=57_477)
    g = sub.add_parser("gpt4")
    g.add_argument("--models", nargs=4, default=list(GPT4_MODELS))
    g.add_argument("--split-seed", type=int, default=0)
    bo = sub.add_parser("boosting")
    bo.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    f = sub.add_parser("fallback")
    f.add_argument("--sets", type=int, default=8)
    args = parser.parse_args()
    if args.what == "llmfao":
        bench_llmfao(args.seeds)
    elif args.what == "kaggle":
        bench_kaggle(args.rows)
    elif args.what == "boosting":
        bench_boosting(args.seeds)
    elif args.what == "gpt4":
        bench_gpt4(tuple(args.models), args.split_seed)
    else:
        bench_fallback(args.sets)


if __name__ == "__main__":
    main()
