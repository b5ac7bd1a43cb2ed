"""Command line: ``python -m recsys_lib {datasets,fetch,splits,models,train,rerun}``.

``train`` prints one JSON object as the last line of standard output; progress and errors go to
standard error. Errors that name a problem exit with status 2.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import sys
from pathlib import Path

from . import data, splits
from .errors import RecsysError
from .records import append_record, rerun


def _parse_param(text: str) -> tuple[str, object]:
    """``key=value`` with value read as a Python literal when it is one (3, 0.1, True, [1,2])."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def _cmd_datasets(args) -> None:
    print(f"cache: {data.data_dir()}   mirror: {data.mirror_dir() or '(none)'}")
    for name, spec in sorted(data.DATASETS.items()):
        print(f"{name:20s} {spec.title:48s} {data.cache_state(spec)}")
        print(f"{'':20s} splits: {', '.join(splits.available_splits(name)) or '-'}")


def _cmd_fetch(args) -> None:
    names = sorted(data.DATASETS) if args.all else args.names
    if not names:
        raise RecsysError("name a dataset or pass --all")
    for name in names:
        fetched = data.fetch(name, progressbar=sys.stderr.isatty())
        ratings = fetched.read()
        for file_name, path in fetched.paths.items():
            print(f"{name}: {file_name} verified ({path.stat().st_size:,} bytes) at {path}")
        print(f"{name}: {len(ratings):,} ratings from {fetched.source.label}; columns "
              f"{', '.join(ratings.columns)}")


def _cmd_splits(args) -> None:
    for name in args.names or sorted(splits.SPLITS):
        for split_name in splits.available_splits(name):
            print(json.dumps(splits.load_split(name, split_name).summary()))


def _cmd_models(args) -> None:
    from .models import MODELS

    for name, cls in sorted(MODELS.items()):
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        print(f"{name:24s} {doc}")


def _cmd_train(args) -> None:
    from .training import run

    summary = run(args.model, args.dataset, args.split, seed=args.seed, params=dict(args.param))
    line = json.dumps(summary, default=float)
    if args.record:
        append_record(args.record, args.argv, summary)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(line + "\n")
    print(line)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recsys_lib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("datasets", help="list the registered datasets and their cache state")
    fetch = commands.add_parser("fetch", help="fetch and verify datasets")
    fetch.add_argument("names", nargs="*")
    fetch.add_argument("--all", action="store_true")
    split_cmd = commands.add_parser("splits", help="print the counts of the canonical splits")
    split_cmd.add_argument("names", nargs="*")
    commands.add_parser("models", help="list the registered models")
    train = commands.add_parser("train", help="train a model and print a JSON summary")
    train.add_argument("model")
    train.add_argument("--dataset", required=True)
    train.add_argument("--split", default=None, help="default: the dataset's canonical split")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--json", default=None, help="also write the summary to this file")
    train.add_argument("--record", default=None, metavar="FILE.jsonl",
                       help="append the summary and this command to a record file")
    train.add_argument("--param", type=_parse_param, action="append", default=[],
                       metavar="KEY=VALUE", help="a model hyperparameter (repeatable)")
    rerun_cmd = commands.add_parser("rerun", help="run every command of a record file again")
    rerun_cmd.add_argument("file")
    return parser


def _cmd_rerun(args) -> None:
    rerun(args.file)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = list(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    handler = {"datasets": _cmd_datasets, "fetch": _cmd_fetch, "splits": _cmd_splits,
               "models": _cmd_models, "train": _cmd_train, "rerun": _cmd_rerun}[args.command]
    try:
        handler(args)
    except RecsysError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
