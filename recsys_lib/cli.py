"""Command line: ``python -m recsys_lib {datasets,fetch,splits,models,train,rerun,results,
blend}``.

``train`` prints one JSON object as the last line of standard output; progress and errors go to
standard error. Every error a user can make (an unknown name, a bad parameter value, a flag
given twice, a record file that cannot take the run) is one line starting ``error:`` on
standard error and exit status 2, never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys

from . import data, splits
from .command import Once, Parser, add_train_arguments, integer, normalise_argv, parse_params
from .errors import RecordFileError, RecsysError, UsageError
from .ledger import check_record_target, dumps
from .outputs import check_json_target, print_then_record, same_file, write_json_line
from .params import check_seed
from .predictions import check_predictions_target, run_identity, save_predictions

# --------------------------------------------------------------------------------------------
# Commands


def _cmd_datasets(args) -> None:
    print(f"cache: {data.data_dir()}   mirror: {data.mirror_dir() or '(none)'}")
    for name, spec in sorted(data.DATASETS.items()):
        print(f"{name:20s} {spec.title:48s} {data.cache_state(spec)}")
        print(f"{'':20s} splits: {', '.join(splits.available_splits(name)) or '-'}")


def _cmd_fetch(args) -> None:
    names = sorted(data.real_datasets()) if args.all else args.names  # synthetic: by name
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
    from . import plan

    runs = plan.select_runs(args.model, args.dataset, args.part)  # nothing selected: error
    failed = plan.run_plan(runs, limit=args.limit, dry_run=args.dry_run, threads=args.threads)
    if failed:
        raise RecsysError(f"{failed} run(s) of the results plan failed (see above)")


def _cmd_blend(args) -> None:
    from .blend_protocol import blend_command

    blend_command(args.dataset, args.record, args.argv)


def _check_train(args) -> dict:
    """Every check of a train command that can be made before training; the params."""
    check_seed(args.seed)
    params = parse_params(args.model, args.param)
    outputs = [(flag, value) for flag, value in (("--record", args.record),
               ("--json", args.json), ("--predictions", args.predictions)) if value is not None]
    for index, (flag, value) in enumerate(outputs):
        for other, other_value in outputs[index + 1:]:
            if same_file(value, other_value):
                shown = value if value == other_value else f"{value} and {other_value}"
                raise UsageError(f"{flag} and {other} name the same file ({shown}); each "
                                 "needs a file of its own")
    if args.record is not None:
        check_record_target(args.record)
    if args.json is not None:
        check_json_target(args.json)
    if args.predictions is not None:
        check_predictions_target(args.predictions)
    if sys.stdout is None and args.record is None and args.json is None:
        raise UsageError("standard output is closed and neither --record nor --json is given, "
                         "so the run's summary would be lost; open standard output or name "
                         "a file")
    return params


def _cmd_train(args) -> None:
    from .training import study_run

    params = _check_train(args)
    summary, arrays = study_run(args.model, args.dataset, args.split, seed=args.seed,
                                params=params, topn=args.topn)

    def write_predictions(path, _):
        try:
            save_predictions(path, arrays["split"], arrays["pred"], arrays.get("koren_ranks"),
                             run=run_identity(summary, args.argv))
        except OSError as exc:
            raise RecordFileError(f"could not write {path}: {exc.strerror or exc}") from None

    # predictions first: a record line then always has its predictions file beside it
    print_then_record(summary, args.argv, args.record,
                      (("--predictions", args.predictions, write_predictions),
                       ("--json", args.json, write_json_line)))


def _cmd_rerun(args) -> None:
    from .reproduction import rerun

    failures = rerun(args.file)
    if failures:
        numbers = ", ".join(str(number) for number, _ in failures)
        raise RecordFileError(f"{args.file}: {len(failures)} line(s) not rerun: line(s) "
                              f"{numbers} (each reason is printed above)")


def build_parser() -> Parser:
    parser = Parser(prog="python -m recsys_lib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    commands.add_parser("datasets", help="list the registered datasets and their cache state")
    fetch = commands.add_parser("fetch", help="fetch and verify datasets")
    fetch.add_argument("names", nargs="*")
    fetch.add_argument("--all", action="store_true")
    split_cmd = commands.add_parser("splits", help="print the counts of the canonical splits")
    split_cmd.add_argument("names", nargs="*")
    commands.add_parser("models", help="list the registered models")
    add_train_arguments(commands.add_parser("train", help="train a model and print a JSON "
                                                          "summary"))
    rerun_cmd = commands.add_parser(
        "rerun", help="run every train command of a record file again and update its lines")
    rerun_cmd.add_argument("file")
    results = commands.add_parser(
        "results", help="make every missing or stale record of the Results part, resumably")
    results.add_argument("--dataset", default=None, help="only this dataset's runs")
    results.add_argument("--model", action="append", default=None,
                         help="only this model's runs (repeat for several): with --dry-run, "
                              "what a new model owes")
    results.add_argument("--part", choices=("leaderboard", "study"), default=None,
                         help="only the leaderboard runs, or only the study runs")
    results.add_argument("--limit", type=integer, default=None, help="at most this many runs")
    results.add_argument("--threads", type=integer, default=2, help="torch threads per run")
    results.add_argument("--dry-run", action="store_true",
                         help="print the estimate and the commands, run nothing")
    blend = commands.add_parser(
        "blend", help="blend the study runs of a dataset (weights learned on a validation "
                      "slice) and print a JSON summary")
    blend.add_argument("--dataset", required=True, action=Once)
    blend.add_argument("--record", default=None, metavar="FILE.jsonl", action=Once,
                       help="append the summary and this command to a record file")
    return parser


def _open_standard_streams() -> None:
    """Put the null device on a closed standard descriptor (0, 1 or 2), so no file this
    run opens takes its number (a library writing to "standard output" would write into
    it). A closed standard output stays None in ``sys``: the summary then says so."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    _open_standard_streams()
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
