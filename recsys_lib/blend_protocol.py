"""The blend of the Results part (chapter 11): feature-weighted linear stacking of the
study runs (:mod:`recsys_lib.study`), with the method itself in :mod:`recsys_lib.blend`.

:func:`run_blend` learns the stacking weights on the study runs' predictions for the
validation slice and applies them to their test predictions; the test set chooses nothing.
:func:`blend_command` is ``python -m recsys_lib blend``; :func:`blend_record` reads the
recorded blend.
"""

from __future__ import annotations

import sys

import numpy as np

from .analysis import bootstrap_rmse, paired_bootstrap
from .blend import FWLS, choose_reg, support_features
from .errors import MissingRecordError, UsageError
from .ledger import check_record_target, read_entries
from .outputs import print_then_record
from .metrics import rmse
from .plan import STUDY_SPLITS
from .records import results_dir
from .splits import Split
from .study import study_predictions


def _features(data: Split) -> np.ndarray:
    return support_features(data.train, data.n_users, data.n_items, data.test.users,
                            data.test.items)


def run_blend(dataset: str, split: str, names: list[str] | None = None, seed: int = 0,
              n_resamples: int = 2000, n_mean: int = 5) -> dict:
    """Feature-weighted linear stacking of the study runs of ``(dataset, split)``.

    The ridge penalty is chosen by 5-fold cross-validation on the validation predictions,
    the weights are fitted on them, and applied to the test predictions of the same models
    refitted on all training ratings. Every blend is clipped to the rating scale. Returns
    the blend's test ``rmse``, a 95% bootstrap interval on it (test users resampled), the
    best single model *by validation RMSE* with its test RMSE and the paired interval on the
    difference, the same against the model with the lowest test RMSE (``test_leader``: a
    comparison the test set chose, reported only), each model's mean weight, the test RMSE
    of the blend fitted without each model, a constant-weight linear blend and the plain
    mean of the ``n_mean`` models best on validation, each with the paired interval of the
    blend against it (the baselines a blend must beat).
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
    linear_test = np.clip(linear.predict(test_matrix, constant[1]), *scale)
    mean_of = sorted(names, key=val_rmse.get)[:n_mean]  # chosen on validation, not test
    mean_test = np.mean([tst[n] for n in mean_of], axis=0)
    leave_one_out = {}
    for index, name in enumerate(names):
        keep = [i for i in range(len(names)) if i != index]
        without = FWLS(reg).fit(val_matrix[:, keep], truth_val, val_features)
        leave_one_out[name] = rmse(truth_test, np.clip(
            without.predict(test_matrix[:, keep], test_features), *scale), scale)
    users = test.test.users  # whole users are resampled: their errors are correlated
    versus_best = paired_bootstrap(truth_test, blended, tst[best], scale,
                                   n_resamples=n_resamples, seed=seed, groups=users)
    versus_linear = paired_bootstrap(truth_test, blended, linear_test, scale,
                                     n_resamples=n_resamples, seed=seed, groups=users)
    versus_mean = paired_bootstrap(truth_test, blended, mean_test, scale,
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
        "linear_rmse": rmse(truth_test, linear_test, scale),
        "versus_linear": versus_linear,
        "mean_models": mean_of, "mean_rmse": rmse(truth_test, mean_test, scale),
        "versus_mean": versus_mean,
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
    elif sys.stdout is None:
        raise UsageError("standard output is closed and no --record is given, so the blend's "
                         "summary would be lost; open standard output or name a record file")
    summary = run_blend(dataset, splits_of[dataset])
    print_then_record(summary, argv, record)
    return summary
