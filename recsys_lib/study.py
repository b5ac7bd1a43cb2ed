"""Reading the study runs of the Results part, and the blend made from them.

A study run (:func:`recsys_lib.plan.study_plan`) keeps its predictions in
``results/study/<dataset>_<split>/<name>.<part>.npz``: ``validation`` (fitted without the
seeded 10% validation slice of the training ratings, predicting that slice) and ``test``
(fitted on all training ratings, predicting the test part; its record also holds top-N
quality). The blend made from them is in :mod:`recsys_lib.blend_protocol`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import MissingRecordError, UnknownNameError, UsageError
from .plan import STUDY_SPLITS, VALIDATION, PlannedRun, study_plan, study_problem
from .command import parse_params, parse_train_command
from .predictions import load_predictions
from .machine import machine_facts
from .records import load_records, results_dir
from .reproduction import usable_threads
from .splits import Split, load_split
from .torch_utils import torch_threads
from .training import study_run


def study_folder(dataset: str, split: str) -> Path:
    return results_dir() / "study" / f"{dataset}_{split}"


def _planned(dataset: str, split: str) -> dict[str, dict[str, PlannedRun]]:
    """Every planned study run of ``(dataset, split)``: name -> part -> run.
    UnknownNameError, listing the study splits, for a pair that has none."""
    if (dataset, split) not in STUDY_SPLITS:
        raise UnknownNameError(f"no study runs on {dataset} {split}; the study splits: "
                               f"{', '.join(' '.join(pair) for pair in STUDY_SPLITS)}")
    runs: dict[str, dict[str, PlannedRun]] = {}
    for run in study_plan(splits=((dataset, split),)):
        runs.setdefault(run.name, {})[run.part] = run
    return runs


def study_names(dataset: str, split: str, names: list[str] | None = None) -> list[str]:
    """The study runs (model names, and extras such as ``pure-svd``) of the plan, every one
    checked to have both parts recorded and saved as that run's (:func:`study_problem`).
    MissingRecordError names every run that is missing, damaged or another run's, with the
    command that makes them; a blend never leaves a model out in silence."""
    planned = _planned(dataset, split)
    names = sorted(planned) if names is None else list(names)  # sorted, as recorded
    unknown = [name for name in names if name not in planned]
    if unknown:
        raise UsageError(f"no study run named {', '.join(unknown)} on {dataset} {split}; "
                         f"the study runs are {', '.join(planned)}")
    problems = [f"{name} ({part}): {problem}" for name in names
                for part, run in planned[name].items()
                if (problem := study_problem(run)) is not None]
    if problems:
        raise MissingRecordError(
            f"{len(problems)} of the {2 * len(names)} study runs of {dataset} {split} are "
            f"missing or refused: {'; '.join(problems[:4])}"
            f"{'; ...' if len(problems) > 4 else ''}; make them with 'python -m recsys_lib "
            f"results --dataset {dataset}'")
    return names


def study_predictions(dataset: str, split: str, part: str, names: list[str] | None = None
                      ) -> tuple[Split, dict[str, np.ndarray]]:
    """The split a part predicts (``test``: the split itself; ``validation``: the split
    without its validation slice, whose ``test`` is the slice) and each run's predictions,
    each checked to be that run's (:func:`study_names`) and for that split's test rows."""
    if part not in ("validation", "test"):
        raise ValueError(f"part must be 'validation' or 'test', got {part!r}")
    names = study_names(dataset, split, names)
    data = load_split(dataset, split if part == "test" else f"{split}/{VALIDATION}")
    planned = _planned(dataset, split)
    out = {}
    for name in names:
        run = planned[name][part]
        arrays = load_predictions(results_dir() / run.predictions, data,
                                  {"model": run.model, "dataset": dataset,
                                   "split": run.run_split, "seed": run.seed})
        out[name] = arrays["pred"].astype(np.float64)
    return data, out


def study_runs(dataset: str, split: str) -> pd.DataFrame:
    """One row per study run on all training ratings (``test`` part): its record line,
    with the top-N keys, indexed by name."""
    rows = []
    for name in study_names(dataset, split):
        runs = load_records(study_folder(dataset, split) / f"{name}.jsonl")
        rows.append(runs[runs["split"] == split].iloc[-1].rename(name))
    return pd.DataFrame(rows)


def rerun_study(dataset: str, split: str, name: str) -> dict:
    """Train the recorded study run ``name`` on all training ratings again, here, with its
    command's parameters, top-N included, on its recorded thread count; returns the live
    summary with the ``machine`` it ran on (compare it with :func:`study_runs` by
    :func:`recsys_lib.reproduction.agreements`). An unknown study split or run name is one
    UnknownNameError listing the known ones, before anything is read or trained."""
    names = list(_planned(dataset, split))  # the plan's names: no record is read for this
    if name not in names:
        raise UnknownNameError(f"no study run {name!r} on {dataset} {split}; its study runs: "
                               f"{', '.join(names)}")
    row = study_runs(dataset, split).loc[name]
    args = parse_train_command(list(row["command"]))
    with torch_threads(usable_threads(row)[0]):
        summary = study_run(args.model, args.dataset, args.split, seed=args.seed,
                            params=parse_params(args.model, args.param), topn=args.topn)[0]
        return {**summary, "machine": machine_facts()}
