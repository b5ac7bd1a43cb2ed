"""A ``train`` command as the command line takes it and a record keeps it.

The one parser of ``python -m recsys_lib train ...`` arguments: the command line
(:mod:`recsys_lib.cli`) adds it to its subcommands, and the record code reads a recorded
``command`` back with :func:`parse_train_command`, so a record is always read exactly as the
command line would have run it.
"""

from __future__ import annotations

import argparse

from .errors import InvalidParameterError, UsageError

#: train options that take one value; ``--opt=value`` is stored as ``--opt``, ``value``
TRAIN_VALUE_OPTIONS = ("--dataset", "--split", "--seed", "--json", "--record", "--param",
                       "--predictions")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (UsageError), with no abbreviations
    (``--rec`` is not ``--record``, so a record file cannot hide a flag from ``rerun``)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see --help)")


class Once(argparse.Action):
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


def integer(text: str) -> int:
    """An argparse type: an integer, or one line saying what was given."""
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


def add_train_arguments(train: argparse.ArgumentParser) -> None:
    """The arguments of ``train`` (model, data, seed, parameters and output files)."""
    train.add_argument("model")
    train.add_argument("--dataset", required=True, action=Once)
    train.add_argument("--split", default=None, action=Once,
                       help="default: the dataset's canonical split")
    train.add_argument("--seed", type=integer, default=0, action=Once,
                       help="0 .. 2**32-1 (default 0)")
    train.add_argument("--json", default=None, action=Once,
                       help="also write the summary to this file")
    train.add_argument("--record", default=None, metavar="FILE.jsonl", action=Once,
                       help="append the summary and this command to a record file (a link is "
                            "written through; a read-only file is refused)")
    train.add_argument("--param", type=_split_param, action="append", default=[],
                       metavar="KEY=VALUE", help="a model hyperparameter (repeatable)")
    train.add_argument("--predictions", default=None, metavar="FILE.npz", action=Once,
                       help="also save the test predictions (recsys_lib.predictions)")
    train.add_argument("--topn", action="store_true",
                       help="also measure top-N quality (Koren's protocol, full ranking)")


def parse_params(model: str, pairs: list[tuple[str, str]]) -> dict:
    """The ``--param`` pairs of ``model`` as values, each parsed against its declaration
    (the model's ``PARAMS``).

    InvalidParameterError (one line, naming the parameter) for an unknown name, a repeated
    name, ``seed`` (use ``--seed``) or a value outside the declared type and range. Only
    declared parameters are reachable here: a Surprise wrapper's options are set from Python.
    """
    from .models import get_model_class

    cls = get_model_class(model)
    declared = cls.PARAMS
    values: dict = {}
    for key, text in pairs:
        if key == "seed":
            raise InvalidParameterError(f"set the seed with --seed, not --param seed={text}")
        if key in values:
            raise InvalidParameterError(f"--param {key} is given twice; give it once")
        if key not in declared:
            names = ", ".join(sorted(name for name in declared if name != "seed"))
            if names:
                rest = f"its parameters are {names}"
            elif "options" in cls.param_names():  # a Surprise wrapper
                rest = ("it takes none but --seed on the command line (its Surprise options "
                        f"are set from Python: create_model({model!r}, {key}=...))")
            else:
                rest = "it takes none but --seed"
            raise InvalidParameterError(
                f"bad parameters for model {model!r}: it has no parameter {key!r}; {rest}")
        values[key] = declared[key].parse(key, text)
    return values


def parse_train_command(command: list[str]) -> argparse.Namespace:
    """A ``train`` argument list parsed as the command line would (UsageError otherwise).

    Adds ``argv`` (normalised, see :func:`normalise_argv`) and ``run_argv`` (the same without
    ``--record FILE``).
    """
    argv = normalise_argv(list(command))
    parser = Parser(prog="python -m recsys_lib")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_train_arguments(commands.add_parser("train"))
    if not argv or argv[0] != "train":
        raise UsageError(f"not a train command: {argv[:1]}")
    args = parser.parse_args(argv)
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
