"""Recorded runs: CLI summaries saved with the command that produced them.

A record file is JSON Lines under ``results/``. Each line is the summary printed by
``python -m recsys_lib train ...`` plus ``command`` (the argument list after
``python -m recsys_lib``), ``recorded_on`` (date) and ``machine`` (the machine's facts and
arithmetic fingerprint, :mod:`recsys_lib.machine`). ``python -m recsys_lib rerun FILE``
(:mod:`recsys_lib.reproduction`) runs every command of a file again and rewrites it, so each
recorded figure in the book can be repeated with one command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from .errors import MissingRecordError, RecordFileError
from .models import MODELS, create_model, get_model_class
from .ledger import parse_lines, read_entries, read_text
from .splits import check_split_name


def load_records(path: str | Path) -> pd.DataFrame:
    """A record file as a DataFrame, one row per run, with ``params.*`` columns flattened and
    the ``params`` dict itself kept too (for :func:`matches_current_defaults`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no record file {path}; create it with "
                                "'python -m recsys_lib train ... --record " f"{path}'")
    rows = read_entries(path)
    frame = pd.json_normalize(rows)
    frame["params"] = [row.get("params", {}) for row in rows]
    return frame


def _canonical(params: dict) -> str:
    return json.dumps({k: v for k, v in params.items() if k != "seed"}, sort_keys=True,
                      default=float)


def matches_current_defaults(model: str, params: dict) -> bool:
    """True when recorded ``params`` equal the model's default hyperparameters today.

    A run recorded with the defaults goes stale when a default changes later; this tells.
    """
    return _canonical(params) == _canonical(json.loads(json.dumps(
        create_model(model).get_params(), default=float)))


def train_entry_problem(entry: dict) -> str | None:
    """What makes a record line unusable, or None: a ``command`` that is neither text nor a
    list of words, or a train run without its model (a registered one), params, dataset,
    split and seed."""
    command = entry.get("command")
    if command is None or isinstance(command, str):
        return None
    if not (isinstance(command, list) and command
            and all(isinstance(word, str) for word in command)):
        return f"its command is {json.dumps(command)[:60]}, not a list of words"
    if command[0] != "train":
        return None
    kinds = {"model": str, "params": dict, "dataset": str, "split": str, "seed": int}
    wrong = [key for key, kind in kinds.items()
             if not isinstance(entry.get(key), kind) or isinstance(entry.get(key), bool)]
    if wrong:
        return f"a train run without a proper {', '.join(wrong)}"
    if entry["model"] not in MODELS:
        return f"a run of the model {entry['model']!r}, which is not registered here"
    return None


def collect_records(results_dir: str | Path) -> pd.DataFrame:
    """Every train run recorded under ``results_dir`` (all ``*.jsonl``), one row each.

    Adds ``record_file`` (path relative to ``results_dir``), ``defaults`` (True when the
    command set no ``--param``, so the model ran with its own default hyperparameters) and,
    for those, ``stale`` (True when the model's defaults have changed since the run).
    """
    results_dir = Path(results_dir)
    rows = []
    for path in sorted(results_dir.rglob("*.jsonl")):
        for number, _, entry in parse_lines(path, read_text(path)):
            # benchmark tables and blend records share the folder but are not train runs
            if train_entry_problem(entry):
                raise RecordFileError(f"{path}, line {number}: damaged record "
                                      f"({train_entry_problem(entry)}); repair or remove it")
            if isinstance(entry.get("command"), list) and entry["command"][:1] == ["train"]:
                rows.append({**entry, "record_file": str(path.relative_to(results_dir))})
    if not rows:
        raise FileNotFoundError(f"no recorded runs under {results_dir}")
    runs = pd.json_normalize(rows)
    runs["params"] = [row.get("params", {}) for row in rows]  # as load_records keeps it
    runs["defaults"] = runs["command"].map(
        lambda command: not any(t == "--param" or t.startswith("--param=") for t in command))
    runs["stale"] = [default and not matches_current_defaults(row["model"], row["params"])
                     for default, row in zip(runs["defaults"], rows)]
    return runs




def results_dir() -> Path:
    """The folder of recorded runs (``results/`` of the repository this package sits in)."""
    return Path(__file__).resolve().parents[1] / "results"


def load(name: str) -> pd.DataFrame:
    """The record file ``results/<name>.jsonl`` (for example ``"kernel/glocal_k_ml100k"``) as
    :func:`load_records` reads it; a missing file raises MissingRecordError with the command
    that makes it."""
    path = results_dir() / f"{name}.jsonl"
    if not path.exists():
        raise MissingRecordError(
            f"no record file results/{name}.jsonl; make it with 'python -m recsys_lib train "
            f"MODEL --dataset DATASET --record results/{name}.jsonl'")
    return load_records(path)


def default_runs(runs: pd.DataFrame, dataset: str, split: str,
                 model: str | None = None) -> pd.DataFrame:
    """The runs behind the book's headline figures: the fresh default runs of ``runs``
    (:func:`collect_records`) on one split, of every model or of ``model``, one per seed
    (the last recorded when a seed was recorded twice)."""
    rows = runs[runs["defaults"] & ~runs["stale"] & (runs["dataset"] == dataset)
                & (runs["split"] == split)]
    if model is not None:
        rows = rows[rows["model"] == model]
    return rows.drop_duplicates(["model", "seed"], keep="last")


def leaderboard(runs: pd.DataFrame, dataset: str, split: str) -> pd.DataFrame:
    """One row per model over :func:`default_runs` of ``runs`` on one split: mean and
    standard deviation of ``rmse`` over seeds, mean MAE, NDCG@10 and fit
    seconds, the paper-protocol figure where a model reports one, and the model's chapter.
    Sorted by ``rmse``."""
    rows = default_runs(runs, dataset, split)
    columns = {"rmse": "mean", "mae": "mean", "ndcg@10": "mean", "fit_seconds": "mean",
               "seed": "nunique"}
    if "paper_best_test_rmse" in rows:
        columns["paper_best_test_rmse"] = "mean"
    table = rows.groupby("model").agg(columns).rename(columns={"seed": "seeds"})
    table.insert(1, "rmse_sd", rows.groupby("model")["rmse"].std())
    table.insert(0, "chapter", [get_model_class(model).chapter for model in table.index])
    return table.sort_values("rmse")


def train_live(setting) -> bool:
    """Whether a chapter retrains its headline models: ``True``/``False`` as given, ``"auto"``
    (the chapters' default) only where a CUDA GPU is present."""
    if setting == "auto":
        return torch.cuda.is_available()
    if not isinstance(setting, bool):
        raise ValueError(f"TRAIN must be True, False or 'auto', got {setting!r}")
    return setting


def headline_runs(models: str | list[str], splits: list[tuple[str, str]], seed: int = 0
                  ) -> pd.DataFrame:
    """The fresh default-parameter record of each of ``models`` (a name or a list) on each
    ``(dataset, split)`` for ``seed`` (the last recorded where there are several); pairs
    without one are left out. The record files are read once. An unknown model, dataset or
    split is UnknownNameError."""
    models = [models] if isinstance(models, str) else list(models)
    for model in models:
        get_model_class(model)
    for dataset, split in splits:
        check_split_name(dataset, split)
    runs = collect_records(results_dir())
    rows = runs[runs["defaults"] & ~runs["stale"] & (runs["seed"] == seed)]
    picked = [rows[(rows["model"] == m) & (rows["dataset"] == d) & (rows["split"] == s)].tail(1)
              for m in models for d, s in splits]
    return pd.concat(picked, ignore_index=True)
