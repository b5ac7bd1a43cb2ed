"""Reading the study runs of the Results part, and the blend made from them.

A study run (:func:`recsys_lib.experiments.study_plan`) keeps its predictions in
``results/study/<dataset>_<split>/<name>.<part>.npz``: ``validation`` (fitted without the
seeded 10% validation slice of the training ratings, predicting that slice) and ``test``
(fitted on all training ratings, predicting the test part; its record also holds top-N
quality). :func:`run_blend` learns feature-weighted stacking weights on the validation
predictions and applies them to the test predictions; the test set chooses nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .analysis import bootstrap_rmse, paired_bootstrap
from .blend import FWLS, choose_reg, support_features
from .errors import MissingRecordError, UsageError
from .experiments import STUDY_SPLITS, VALIDATION
from .command import parse_params, parse_train_command
from .metrics import rmse
from .predictions import load_predictions
from .ledger import append_record, check_record_target, dumps, read_entries
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


def _features(data: Split) -> np.ndarray:
    return support_features(data.train, data.n_users, data.n_items, data.test.users,
                            data.test.items)


def run_blend(dataset: str, split: str, names: list[str] | None = None, seed: int = 0,
              n_resamples: int = 2000) -> dict:
    """Feature-weighted linear stacking of the study runs of ``(dataset, split)``.

    The ridge penalty is chosen by 5-fold cross-validation on the validation predictions,
    the weights are fitted on them, and applied to the test predictions of the same models
    refitted on all training ratings. Every blend is clipped to the rating scale. Returns
    the blend's test ``rmse``, a 95% bootstrap interval on it (test users resampled), the
    best single model *by validation RMSE* with its test RMSE and the paired interval on the
    difference, the same against the model with the lowest test RMSE (``test_leader``: a
    comparison the test set chose, reported only), each model's mean weight, the test RMSE
    of the blend fitted without each model, and a constant-weight linear blend.
    """
    validation, val = study_predictions(dataset, split, "validation", names)
    test, tst = study_predictions(dataset, split, "test", list(val))
    names = list(val)
    val_matrix = np.column_stack([val[n] for n in names])
    test_matrix = np.column_stack([tst[n] for n in names])
    val_features, test_features = _features(validation), _features(test)
    truth_val, truth_test = validation.test.ratings, test.test.ratings
    scale = test.rating_scale
    reg = choose_reg(val_matrix, truth_val, val_features, seed=seed)
    model = FWLS(reg).fit(val_matrix, truth_val, val_features)
    blended = np.clip(model.predict(test_matrix, test_features), *scale)
    val_rmse = {n: rmse(truth_val, val[n], scale) for n in names}
    best = min(names, key=val_rmse.get)
    constant = val_features[:, :1], test_features[:, :1]
    linear = FWLS(reg).fit(val_matrix, truth_val, constant[0])
    leave_one_out = {}
    for index, name in enumerate(names):
        keep = [i for i in range(len(names)) if i != index]
        without = FWLS(reg).fit(val_matrix[:, keep], truth_val, val_features)
        leave_one_out[name] = rmse(truth_test, np.clip(
            without.predict(test_matrix[:, keep], test_features), *scale), scale)
    users = test.test.users  # whole users are resampled: their errors are correlated
    versus_best = paired_bootstrap(truth_test, blended, tst[best], scale,
                                   n_resamples=n_resamples, seed=seed, groups=users)
    test_rmse = {n: rmse(truth_test, tst[n], scale) for n in names}
    leader = min(names, key=test_rmse.get)  # chosen on the test set: reported, never used
    versus_leader = paired_bootstrap(truth_test, blended, tst[leader], scale,
                                     n_resamples=n_resamples, seed=seed, groups=users)
    return {
        "dataset": dataset, "split": split, "models": names, "seed": seed,
        "validation_split": validation.name, "n_validation": int(len(truth_val)),
        "n_test": int(len(truth_test)), "reg": reg,
        "validation_rmse": rmse(truth_val, np.clip(model.predict(val_matrix, val_features),
                                                   *scale), scale),
        "rmse": rmse(truth_test, blended, scale),
        "rmse_interval": bootstrap_rmse(truth_test, blended, scale, n_resamples=n_resamples,
                                        seed=seed, groups=users),
        "linear_rmse": rmse(truth_test, np.clip(linear.predict(test_matrix, constant[1]),
                                                *scale), scale),
        "best_single": best, "best_single_rmse": rmse(truth_test, tst[best], scale),
        "versus_best_single": versus_best,
        "test_leader": leader, "test_leader_rmse": test_rmse[leader],
        "versus_test_leader": versus_leader,
        "mean_weights": dict(zip(names, map(float, model.mean_weights(val_features)))),
        "leave_one_out_rmse": leave_one_out,
    }


def blend_record(dataset: str, split: str) -> dict:
    """The recorded blend of ``(dataset, split)``: the last line of
    ``results/blend/<dataset>_<split>.jsonl`` (MissingRecordError with the command)."""
    path = results_dir() / "blend" / f"{dataset}_{split}.jsonl"
    command = (f"python -m recsys_lib blend --dataset {dataset} --record "
               f"results/blend/{dataset}_{split}.jsonl")
    if not path.exists():
        raise MissingRecordError(f"no blend record {path.name}; make it with '{command}'")
    return read_entries(path)[-1]


def blend_command(dataset: str, record: str | None, argv: list[str]) -> dict:
    """``python -m recsys_lib blend``: the blend of ``dataset``'s study split, printed as one
    JSON line and, with ``record``, appended to that record file with the command ``argv``.
    An unknown dataset or an unwritable record is refused before any work."""
    splits_of = dict(STUDY_SPLITS)
    if dataset not in splits_of:
        raise UsageError(f"no study runs are planned on {dataset!r}; choose one of "
                         f"{', '.join(splits_of)}")
    if record is not None:
        check_record_target(record)
    summary = run_blend(dataset, splits_of[dataset])
    print(dumps(summary), flush=True)
    if record is not None:
        append_record(record, argv, summary)
    return summary


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
