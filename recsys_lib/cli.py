"""Command line: ``python -m recsys_lib {datasets,fetch,splits,models,train,rerun,results,
blend}``.

``train`` prints one JSON object as the last line of standard output; progress and errors go to
standard error. Every error a user can make (an unknown name, a bad parameter value, a flag
given twice, a record file that cannot take the run) is one line starting ``error:`` on
standard error and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import logging
import math
import os
import stat
import sys
from pathlib import Path

from . import data, splits
from .errors import InvalidParameterError, RecordFileError, RecsysError, UsageError
from .ledger import (_target, _write_replacing, append_record, check_record_target, dumps,
                     rerun, writable_target)
from .params import Param, check_seed
from .predictions import check_predictions_target, save_predictions

#: train options that take one value; ``--opt=value`` is stored as ``--opt``, ``value``
TRAIN_VALUE_OPTIONS = ("--dataset", "--split", "--seed", "--json", "--record", "--param",
                       "--predictions")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (UsageError), with no abbreviations
    (``--rec`` is not ``--record``, so a record file cannot hide a flag from ``rerun``)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see --help)")


class _Once(argparse.Action):
    """Store a value; refuse the option when it is given a second time."""

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, f"_seen_{self.dest}", False):
            raise UsageError(f"{option_string} is given twice ({getattr(namespace, self.dest)!r}"
                             f" and {values!r}); give it once")
        setattr(namespace, f"_seen_{self.dest}", True)
        setattr(namespace, self.dest, values)


def _split_param(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` as (key, value text); the value is parsed once the model is known."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def normalise_argv(argv: list[str]) -> list[str]:
    """``argv`` with every ``--opt=value`` of a train option split into ``--opt``, ``value``,
    so a record never hides a ``--param`` inside another token."""
    normal = []
    for token in argv:
        option, sep, value = token.partition("=")
        if sep and option in TRAIN_VALUE_OPTIONS:
            normal += [option, value]
        else:
            normal.append(token)
    return normal


# --------------------------------------------------------------------------------------------
# Parameters


def _fallback_param(cls, key: str) -> Param | None:
    """A declaration read from the constructor's annotation (or default) for a model class
    that has no ``PARAMS`` yet; None when neither says what the type is."""
    parameter = inspect.signature(cls.__init__).parameters.get(key)
    if parameter is None:
        return None
    annotation = parameter.annotation
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if parameter.annotation is inspect.Parameter.empty:
        default = parameter.default
        text = type(default).__name__ if default not in (None, inspect.Parameter.empty) else ""
    words = set(text.replace("|", " ").replace("[", " ").replace("]", " ").split())
    none = "None" in words or "Optional" in words
    if words & {"list", "tuple", "Sequence", "str", "dict"}:
        return None
    if "bool" in words:
        return Param("bool", none=none)
    if "int" in words:
        return Param("int", none=none)
    if "float" in words:
        return Param("real", none=none)
    return None


def _literal(key: str, text: str):
    """Today's parsing for an undeclared parameter: a Python literal, else the string;
    NaN and infinity refused."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidParameterError(f"{key} must be a finite number, got {text!r}")
    return value


def parse_params(model: str, pairs: list[tuple[str, str]]) -> dict:
    """The ``--param`` pairs of ``model`` as values, each parsed against its declaration.

    InvalidParameterError (one line, naming the parameter) for an unknown name, a repeated
    name, ``seed`` (use ``--seed``) or a value outside the declared type and range.
    """
    from .models import get_model_class

    cls = get_model_class(model)
    declared = getattr(cls, "PARAMS", None)
    if declared is None:
        signature = inspect.signature(cls.__init__).parameters
        accepted = [name for name, p in signature.items() if name != "self"
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if any(p.kind == p.VAR_KEYWORD for p in signature.values()):
            accepted = None  # the model takes any option (a Surprise wrapper)
    else:
        accepted = list(declared)
    values: dict = {}
    for key, text in pairs:
        if key == "seed":
            raise InvalidParameterError(f"set the seed with --seed, not --param seed={text}")
        if key in values:
            raise InvalidParameterError(f"--param {key} is given twice; give it once")
        if accepted is not None and key not in accepted:
            names = ", ".join(sorted(a for a in accepted if a != "seed"))
            raise InvalidParameterError(
                f"bad parameters for model {model!r}: it has no parameter {key!r}; "
                + (f"its parameters are {names}" if names else "it takes none but --seed"))
        param = declared[key] if declared is not None else _fallback_param(cls, key)
        values[key] = param.parse(key, text) if param is not None else _literal(key, text)
    return values


# --------------------------------------------------------------------------------------------
# Output files


def check_json_target(path: str | Path) -> Path:
    """Refuse, before training, a ``--json`` target that could not be written (a directory, a
    read-only file, a folder that cannot be written); links are written through."""
    return writable_target(path, "--json file")


def _write_json(path: str | Path, line: str) -> None:
    target = check_json_target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
        _write_replacing(target, line + "\n", mode)
    except OSError as exc:
        raise RecordFileError(f"could not write {target}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------------------------
# Commands


def _cmd_datasets(args) -> None:
    print(f"cache: {data.data_dir()}   mirror: {data.mirror_dir() or '(none)'}")
    for name, spec in sorted(data.DATASETS.items()):
        print(f"{name:20s} {spec.title:48s} {data.cache_state(spec)}")
        print(f"{'':20s} splits: {', '.join(splits.available_splits(name)) or '-'}")


def _cmd_fetch(args) -> None:
    names = sorted(data.DATASETS) if args.all else args.names
    if not names:
        raise UsageError("name a dataset or pass --all")
    if args.all and args.names:
        raise UsageError("--all and dataset names conflict; give one or the other")
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
            print(dumps(splits.load_split(name, split_name).summary()))


def _cmd_models(args) -> None:
    from .models import MODELS

    print(f"{'model':22s} {'module':36s} {'chapter':18s} description")
    for name, cls in sorted(MODELS.items()):
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        print(f"{name:22s} {cls.__module__:36s} {cls.chapter:18s} {doc}")


def _cmd_results(args) -> None:
    from . import experiments

    experiments.THREADS = args.threads
    plan = experiments.results_plan()
    if args.dataset:
        plan = [run for run in plan if run.dataset == args.dataset]
    if args.part:
        wanted = args.part == "leaderboard"
        plan = [run for run in plan if (run.part == "leaderboard") == wanted]
    failed = experiments.run_plan(plan, limit=args.limit, dry_run=args.dry_run)
    if failed:
        raise RecsysError(f"{failed} run(s) of the results plan failed (see above)")


def _cmd_blend(args) -> None:
    from .study import blend_command

    blend_command(args.dataset, args.record, args.argv)


def _check_train(args) -> dict:
    """Every check of a train command that can be made before training; the params."""
    check_seed(args.seed)
    params = parse_params(args.model, args.param)
    if args.record is not None and args.json is not None \
            and _target(args.record) == _target(args.json):
        raise UsageError(f"--record and --json name the same file {args.record}")
    if args.record is not None:
        check_record_target(args.record)
    if args.json is not None:
        check_json_target(args.json)
    if args.predictions is not None:
        check_predictions_target(args.predictions)
    return params


def _cmd_train(args) -> None:
    from .training import study_run

    params = _check_train(args)
    summary, arrays = study_run(args.model, args.dataset, args.split, seed=args.seed,
                                params=params, topn=args.topn)
    line = dumps(summary)
    print(line, flush=True)  # first: whatever happens to the files, the run is not lost
    problems = []

    def write_predictions(path, _):
        try:
            save_predictions(path, arrays["split"], arrays["pred"], arrays.get("koren_ranks"))
        except OSError as exc:
            raise RecordFileError(f"could not write {path}: {exc.strerror or exc}") from None

    # predictions first: a record line then always has its predictions file beside it
    for flag, target, write in (("--predictions", args.predictions, write_predictions),
                                ("--json", args.json, _write_json),
                                ("--record", args.record,
                                 lambda path, _: append_record(path, args.argv, summary))):
        if target is not None:
            try:
                write(target, line)
            except RecsysError as exc:
                problems.append(f"{flag}: {exc}")
    if problems:
        raise RecordFileError("; ".join(problems) + "; the summary is the last line on "
                              "standard output")


def _cmd_rerun(args) -> None:
    failures = rerun(args.file)
    if failures:
        numbers = ", ".join(str(number) for number, _ in failures)
        raise RecordFileError(f"{args.file}: {len(failures)} line(s) not rerun: line(s) "
                              f"{numbers} (each reason is printed above)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m recsys_lib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("datasets", help="list the registered datasets and their cache state")
    fetch = commands.add_parser("fetch", help="fetch and verify datasets")
    fetch.add_argument("names", nargs="*")
    fetch.add_argument("--all", action="store_true")
    split_cmd = commands.add_parser("splits", help="print the counts of the canonical splits")
    split_cmd.add_argument("names", nargs="*")
    commands.add_parser("models", help="list the registered models")
    train = commands.add_parser("train", help="train a model and print a JSON summary")
    train.add_argument("model")
    train.add_argument("--dataset", required=True, action=_Once)
    train.add_argument("--split", default=None, action=_Once,
                       help="default: the dataset's canonical split")
    train.add_argument("--seed", type=_int, default=0, action=_Once,
                       help="0 .. 2**32-1 (default 0)")
    train.add_argument("--json", default=None, action=_Once,
                       help="also write the summary to this file")
    train.add_argument("--record", default=None, metavar="FILE.jsonl", action=_Once,
                       help="append the summary and this command to a record file (a link is "
                            "written through; a read-only file is refused)")
    train.add_argument("--param", type=_split_param, action="append", default=[],
                       metavar="KEY=VALUE", help="a model hyperparameter (repeatable)")
    train.add_argument("--predictions", default=None, metavar="FILE.npz", action=_Once,
                       help="also save the test predictions (recsys_lib.predictions)")
    train.add_argument("--topn", action="store_true",
                       help="also measure top-N quality (Koren's protocol, full ranking)")
    rerun_cmd = commands.add_parser(
        "rerun", help="run every train command of a record file again and update its lines")
    rerun_cmd.add_argument("file")
    results = commands.add_parser(
        "results", help="make every missing or stale record of the Results part, resumably")
    results.add_argument("--dataset", default=None, help="only this dataset's runs")
    results.add_argument("--part", choices=("leaderboard", "study"), default=None,
                         help="only the leaderboard runs, or only the study runs")
    results.add_argument("--limit", type=_int, default=None, help="at most this many runs")
    results.add_argument("--threads", type=_int, default=2, help="torch threads per run")
    results.add_argument("--dry-run", action="store_true",
                         help="print the estimate and the commands, run nothing")
    blend = commands.add_parser(
        "blend", help="blend the study runs of a dataset (weights learned on a validation "
                      "slice) and print a JSON summary")
    blend.add_argument("--dataset", required=True, action=_Once)
    blend.add_argument("--record", default=None, metavar="FILE.jsonl", action=_Once,
                       help="append the summary and this command to a record file")
    return parser


def parse_train_command(command: list[str]) -> argparse.Namespace:
    """A ``train`` argument list parsed as the command line would (UsageError otherwise).

    Adds ``argv`` (normalised, see :func:`normalise_argv`) and ``run_argv`` (the same without
    ``--record FILE``).
    """
    argv = normalise_argv(list(command))
    args = build_parser().parse_args(argv)
    if args.command != "train":
        raise UsageError(f"not a train command: {command[:1]}")
    args.argv = argv
    run_argv, skip = [], False
    for index, token in enumerate(argv):
        if skip:
            skip = False
        elif token == "--record" and index > 1:
            skip = True
        else:
            run_argv.append(token)
    args.run_argv = run_argv
    return args


def main(argv: list[str] | None = None) -> int:
    argv = normalise_argv(sys.argv[1:] if argv is None else list(argv))
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        args = build_parser().parse_args(argv)
        args.argv = argv
        handler = {"datasets": _cmd_datasets, "fetch": _cmd_fetch, "splits": _cmd_splits,
                   "models": _cmd_models, "train": _cmd_train, "rerun": _cmd_rerun,
                   "results": _cmd_results, "blend": _cmd_blend}[args.command]
        handler(args)
    except RecsysError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0
