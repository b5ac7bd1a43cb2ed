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

from .errors import MissingRecordError
from .plan import VALIDATION
from .command import parse_params, parse_train_command
from .predictions import load_predictions
from .machine import machine_facts, recorded_threads
from .records import load_records, results_dir
from .splits import Split, load_split
from .torch_utils import torch_threads
from .training import study_run


def study_folder(dataset: str, split: str) -> Path:
    return results_dir() / "study" / f"{dataset}_{split}"


def study_names(dataset: str, split: str) -> list[str]:
    """The study runs (model names, and extras such as ``pure-svd``) with both parts saved."""
    folder = study_folder(dataset, split)
    names = sorted(p.name[:-len(".test.npz")] for p in folder.glob("*.test.npz"))
    missing = [n for n in names if not (folder / f"{n}.validation.npz").exists()]
    if not names:
        raise MissingRecordError(f"no study runs in results/study/{dataset}_{split}; make them "
                                 f"with 'python -m recsys_lib results --dataset {dataset}'")
    return [n for n in names if n not in missing]


def study_predictions(dataset: str, split: str, part: str, names: list[str] | None = None
                      ) -> tuple[Split, dict[str, np.ndarray]]:
    """The split a part predicts (``test``: the split itself; ``validation``: the split
    without its validation slice, whose ``test`` is the slice) and each run's predictions."""
    if part not in ("validation", "test"):
        raise ValueError(f"part must be 'validation' or 'test', got {part!r}")
    data = load_split(dataset, split if part == "test" else f"{split}/{VALIDATION}")
    folder = study_folder(dataset, split)
    names = study_names(dataset, split) if names is None else names
    return data, {name: load_predictions(folder / f"{name}.{part}.npz", data)["pred"]
                  .astype(np.float64) for name in names}


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
    :func:`recsys_lib.reproduction.agreements`)."""
    row = study_runs(dataset, split).loc[name]
    args = parse_train_command(list(row["command"]))
    with torch_threads(recorded_threads(row)):
        summary = study_run(args.model, args.dataset, args.split, seed=args.seed,
                            params=parse_params(args.model, args.param), topn=args.topn)[0]
        return {**summary, "machine": machine_facts()}
