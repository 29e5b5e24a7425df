"""``arena-stats predict``: train, apply and evaluate the preference predictor (Kaggle schema)."""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from .._util.io import atomic_write
from ..errors import InputError
from .common import add_output_args, emit_table, say


def _blocks(text: str) -> tuple[str, ...]:
    from ..predictor.model import TEXT_BLOCKS
    blocks = tuple(b.strip() for b in text.split(",") if b.strip()) if text.strip() not in ("", "none") else ()
    bad = [b for b in blocks if b not in TEXT_BLOCKS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown block(s) {', '.join(bad)}; choose from {', '.join(TEXT_BLOCKS)} "
                                         f"(comma-separated, or 'none')")
    return blocks


def _add_model_args(p: argparse.ArgumentParser, evaluate: bool = False) -> None:
    """The model options; ``evaluate`` leaves out ``--no-prior`` (evaluate scores models with and
    without the prior)."""
    from ..predictor.model import DEFAULT_BLOCKS, SELECTIONS, TEXT_BLOCKS
    from ..predictor.prior import DEFAULT_FOLDS, PRIOR_L2, PRIOR_TIES
    from ..predictor.selection import TEXT_L2
    g = p.add_argument_group("model")
    g.add_argument("--blocks", type=_blocks, default=DEFAULT_BLOCKS, metavar="B1,B2",
                   help=f"text blocks offered to the selection, from {', '.join(TEXT_BLOCKS)}, or 'none' "
                        f"(default {','.join(DEFAULT_BLOCKS)})")
    g.add_argument("--selection", choices=SELECTIONS, default="auto",
                   help="auto: choose blocks by grouped CV, the prior alone included (default); "
                        "all: use every offered block")
    if not evaluate:
        g.add_argument("--no-prior", action="store_true", help="do not use the model names (no BT prior)")
    g.add_argument("--no-calibration", action="store_true", help="never calibrate the final probabilities")
    g.add_argument("--ties", choices=PRIOR_TIES, default="davidson", help="tie model of the BT prior")
    g.add_argument("--prior-l2", type=float, default=PRIOR_L2, metavar="L2",
                   help=f"Gaussian penalty on the prior's strengths (default {PRIOR_L2})")
    g.add_argument("--text-l2", type=float, default=TEXT_L2, metavar="L2",
                   help=f"ridge penalty of the text columns in the combining logit (default {TEXT_L2:g})")
    g.add_argument("--folds", type=int, default=DEFAULT_FOLDS, metavar="K",
                   help=f"folds, grouped by prompt (or a 'group' column) (default {DEFAULT_FOLDS})")
    g.add_argument("--seed", type=int, default=0, help="seed of the fold assignment (default 0)")
    g.add_argument("--extra-battles", metavar="FILE", action="append", default=[],
                   help="a battle log without texts (any schema load_battles reads), added as evidence "
                        "for the BT prior; repeatable")


def _extra(args: argparse.Namespace):  # noqa: ANN202
    if not args.extra_battles:
        return None
    from ..data.readers import load_battles
    return load_battles(args.extra_battles)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="preference predictor: P(a wins), P(b wins), P(tie) from texts + BT prior",
                       description="Train, apply and evaluate the preference predictor on data in the LMSYS "
                                   "Kaggle schema (prompt, response_a, response_b as JSON turn lists or plain "
                                   "text; optional model_a, model_b; labels winner_model_a/b/tie or winner).")
    psub = p.add_subparsers(dest="predict_command", metavar="ACTION")

    t = psub.add_parser("train", help="fit a model on labelled data and save it as JSON")
    t.add_argument("train", metavar="TRAIN", help="labelled Kaggle-schema file (CSV, JSON, JSONL, Parquet)")
    t.add_argument("--output", "-o", "--out", dest="output", required=True, metavar="MODEL.json",
                   help="where to write the model (JSON, atomically); --out is the old spelling")
    _add_model_args(t)
    t.add_argument("--quiet", "-q", action="store_true", help="no progress bar or report")
    t.set_defaults(func=run_train)

    a = psub.add_parser("apply", help="predict a file with a saved model; write a Kaggle submission")
    a.add_argument("test", metavar="TEST", help="Kaggle-schema file to predict")
    a.add_argument("--model", required=True, metavar="MODEL.json", help="a model written by 'predict train'")
    a.add_argument("--output", "-o", required=True, metavar="FILE",
                   help="submission CSV: id, winner_model_a, winner_model_b, winner_tie")
    a.add_argument("--quiet", "-q", action="store_true", help="no status lines")
    a.set_defaults(func=run_apply)

    e = psub.add_parser("evaluate", help="grouped cross-validation against baselines, with calibration")
    e.add_argument("data", metavar="DATA", nargs="?",
                   help="labelled Kaggle-schema file (or use --llmfao)")
    e.add_argument("--llmfao", metavar="DIR", nargs="?", const="",
                   help="evaluate on the LLMFAO crowd votes in DIR (default ../shared/data/llmfao)")
    _add_model_args(e, evaluate=True)
    e.add_argument("--seeds", type=int, nargs="+", metavar="S",
                   help="repeat the cross-validation for these fold seeds and report the mean with its "
                        "standard error over seeds (default: --seed only)")
    e.add_argument("--models", metavar="M1,M2", help="which models to score (default: all)")
    e.add_argument("--show", choices=("scores", "calibration"), default="scores",
                   help="scores: log loss, accuracy per model (default); calibration: the full model's "
                        "calibration table (bins of predicted probability vs observed frequency)")
    e.add_argument("--plot", metavar="FILE.png", help="write the reliability plot here")
    add_output_args(e)
    e.set_defaults(func=run_evaluate)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _model_kwargs(args: argparse.Namespace) -> dict:
    return {"blocks": args.blocks, "prior": not getattr(args, "no_prior", False), "selection": args.selection,
            "calibrate": not args.no_calibration, "ties": args.ties, "prior_l2": args.prior_l2,
            "text_l2": args.text_l2}


def run_train(args: argparse.Namespace) -> int:
    from ..predictor import PreferencePredictor
    model = PreferencePredictor(**_model_kwargs(args), folds=args.folds, seed=args.seed,
                                progress=not args.quiet)
    model.fit(args.train, extra_battles=_extra(args))
    model.save(args.output)
    say(args, model.summary())
    say(args, f"wrote {args.output}")
    return 0


def run_apply(args: argparse.Namespace) -> int:
    from ..predictor import PreferencePredictor
    model = PreferencePredictor.load(args.model)
    proba = model.predict_proba(args.test)
    out = proba.reset_index()
    with atomic_write(args.output, encoding="utf-8", newline="") as fh:
        out.to_csv(fh, index=False)
    assert model.chosen_ is not None  # a loaded model is a fitted one
    say(args, f"predicted {len(out):,} rows with {model.chosen_.name}; wrote {args.output}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from ..predictor import MODELS, evaluate, evaluate_seeds
    from ..predictor.llmfao import load_llmfao
    if args.llmfao is not None:
        if args.data:
            raise InputError("give either DATA or --llmfao, not both")
        data: object = load_llmfao(args.llmfao or None)
        say(args, "data: LLMFAO crowd votes (grouped by prompt)")
    elif args.data:
        if not os.path.exists(args.data):
            raise InputError("no such file", file=args.data)
        data = args.data
    else:
        raise InputError("no input: give a labelled DATA file or --llmfao")
    models = MODELS
    if args.models:
        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    kwargs = dict(_model_kwargs(args), folds=args.folds, extra_battles=_extra(args), models=models,
                  progress=not args.quiet)
    kwargs.pop("prior")
    seeds = args.seeds or [args.seed]
    if len(seeds) > 1:
        if args.show == "calibration" or args.plot:
            raise InputError("--show calibration and --plot describe one seed; give one --seed")
        multi = evaluate_seeds(data, seeds=seeds, **kwargs)
        say(args, multi.summary().splitlines()[0])
        for line in multi.summary().splitlines():
            if line.startswith("seed "):
                say(args, line)
        table = multi.to_frame()
    else:
        res = evaluate(data, seed=seeds[0], **kwargs)
        lines = res.summary().splitlines()
        say(args, lines[0])
        for line in lines:
            if line.startswith("full model's choice"):
                say(args, line)
        table = res.calibration("full") if args.show == "calibration" else res.to_frame()
        if args.plot:
            fig = res.reliability_plot()
            with atomic_write(args.plot, mode="wb") as fh:
                fig.savefig(fh, format="png", dpi=120)
            say(args, f"wrote {args.plot}")
    if args.format in ("table", "markdown"):
        # the shared renderer prints one decimal; log losses need four
        table = table.copy()
        for col in table.columns:
            if pd.api.types.is_float_dtype(table[col]):
                table[col] = table[col].map(lambda x: f"{x:.4f}")
    emit_table(table, args)
    return 0
