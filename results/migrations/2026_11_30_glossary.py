"""One-off migration of the committed records to the glossary's names (architecture issue).

Rewrites, in every record file under ``results/``, the hyperparameter names in ``command`` and
``params`` and the report keys, so every record reads as if the renamed code had made it (the
numbers are untouched: the models compute the same functions with the same seeds). Running it
twice changes nothing. Usage: ``python results/migrations/2026_11_30_glossary.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1]

KERNEL = {"lambda_2": "reg", "lambda_s": "reg_kernel", "adam_lr": "lr"}
RENAMED = {
    "svd-truncated": {"rank": "n_factors"},
    "deep-ae": {"layers": "n_hidden", "weight_decay": "reg", "max_epochs": "n_epochs"},
    "mf": {"weight_decay": "reg", "max_epochs": "n_epochs"},
    "biased-mf": {"weight_decay": "reg", "max_epochs": "n_epochs"},
    "i-autorec": {"hidden": "n_hidden", "lam": "reg", "max_iter": "n_epochs"},
    "u-autorec": {"hidden": "n_hidden", "lam": "reg", "max_iter": "n_epochs"},
    "asymmetric-svd": {"max_iter": "n_epochs"},
    "sparse-fc": {**KERNEL, "epochs": "n_epochs", "iterations": "n_iterations"},
    "glocal-k": {**KERNEL, "pretrain_epochs": "n_pretrain_epochs",
                 "finetune_epochs": "n_finetune_epochs",
                 "pretrain_iterations": "n_pretrain_iterations",
                 "finetune_iterations": "n_finetune_iterations"},
}


def rename_command(command: list[str], names: dict) -> list[str]:
    out = []
    for token in command:
        key, sep, value = token.partition("=")
        if sep and key in names and out and out[-1] == "--param":
            token = f"{names[key]}={value}"
        out.append(token)
    return out


def points(curve: list[dict]) -> list[dict]:
    """AutoRec curve points: 'iteration' is now 'epoch'."""
    return [{("epoch" if k == "iteration" else k): v for k, v in p.items()} for p in curve]


def migrate_embedding(entry: dict) -> None:
    """mf, biased-mf, deep-ae: the validation-chosen epoch is ``selected_epoch``."""
    if "best_epoch" in entry:
        entry["selected_epoch"] = entry.pop("best_epoch")
        refit = entry["params"].get("refit", True)
        entry["selected_by"] = "validation, refit" if refit else "validation, restore"
    set_by_command = any(t.startswith("sigmoid_range=") for t in entry["command"])
    if entry["model"] in ("mf", "biased-mf") and not set_by_command:
        entry["params"]["sigmoid_range"] = None  # stored as given: None is the default


def migrate_autorec(entry: dict) -> None:
    # optimizer and device came later; these runs used scipy's L-BFGS-B on the CPU, which is
    # what optimizer=None and device=None resolve to on a CPU
    entry["params"].setdefault("optimizer", None)
    entry["params"].setdefault("device", None)
    entry.setdefault("device", entry.get("machine", {}).get("device", "cpu"))
    if "lam_used" in entry:
        entry["resolved_params"] = {"reg": entry.pop("lam_used")}
    elif "resolved_params" not in entry and entry["params"].get("reg") is not None:
        entry["resolved_params"] = {"reg": entry["params"]["reg"]}  # reported since then
    if "resolved_params" in entry:
        entry["resolved_params"].setdefault("optimizer", "scipy")
    if "selected_iteration" in entry:  # the length was chosen on a validation slice
        entry["selected_epoch"] = entry.pop("selected_iteration")
        refit = entry["params"].get("refit", True)
        entry["selected_by"] = "validation, refit" if refit else "validation, restore"
        if "curve" in entry:
            entry["refit_curve"] = points(entry.pop("curve"))
        entry["curve"] = points(entry.pop("validation_curve"))
        if refit:
            entry["selection_lbfgs"] = entry.pop("validation_lbfgs")
        else:
            entry["lbfgs"] = entry.pop("validation_lbfgs")
    elif "lbfgs" in entry and "selected_by" not in entry:
        entry["selected_by"] = "fixed"
        entry["selected_epoch"] = entry["params"]["n_epochs"]
        entry["curve"] = points(entry.get("curve", []))


def migrate_kernel(entry: dict, names: dict) -> None:
    if "resolved_params" in entry:
        entry["resolved_params"] = {names.get(k, k): v
                                    for k, v in entry["resolved_params"].items()}
    if "test_curve" not in entry:
        return
    test = entry.pop("test_curve")
    other = entry.pop("test_curve_other_fallback", [None] * len(test))
    validation = entry.pop("validation_curve", None)
    curve = []
    for index, (t, o) in enumerate(zip(test, other)):
        point = {"epoch": index + 1}
        if validation is not None:
            point["validation_rmse"] = validation[index]
        point["test_rmse"] = t
        if o is not None:
            point["test_rmse_other_fallback"] = o
        curve.append(point)
    entry["curve"] = curve
    if "pretrain_test_curve" in entry:
        entry["pretrain_curve"] = [{"epoch": i + 1, "test_rmse": t}
                                   for i, t in enumerate(entry.pop("pretrain_test_curve"))]
    entry["paper_best_test_rmse"] = entry.pop("rmse_best_epoch")
    entry["paper_best_test_epoch"] = entry.pop("best_epoch")
    for key in ("rmse_last_epoch", "rmse_validated", "protocol", "optimizer"):
        entry.pop(key, None)
    if entry["params"].get("protocol") == "validated":
        entry["selected_by"] = "validation, restore"
        entry["validation_rmse"] = validation[entry["selected_epoch"] - 1]
    else:
        entry["selected_by"] = "fixed"
        entry["selected_epoch"] = len(test)
    entry.setdefault("device", entry.get("machine", {}).get("device", "cpu"))


def migrate(entry: dict) -> dict:
    command = entry.get("command")
    if not (isinstance(command, list) and command[:1] == ["train"]):
        if "rmse_best_epoch" in entry:  # a kernel benchmark row (paper protocol)
            entry["paper_best_test_rmse"] = entry.pop("rmse_best_epoch")
            entry["paper_best_test_epoch"] = entry.pop("best_epoch")
            entry["rmse"] = entry.pop("rmse_last_epoch")
        return entry  # benchmark tables are not runs
    model = entry["model"]
    names = RENAMED.get(model, {})
    entry["command"] = rename_command(command, names)
    entry["params"] = {names.get(k, k): v for k, v in entry["params"].items()}
    if model in ("mf", "biased-mf", "deep-ae"):
        migrate_embedding(entry)
    elif model in ("i-autorec", "u-autorec"):
        migrate_autorec(entry)
    elif model in ("sparse-fc", "glocal-k"):
        migrate_kernel(entry, names)
    elif model == "asymmetric-svd" and "n_evaluations" in entry:
        entry["function_evaluations"] = entry.pop("n_evaluations")
    return entry


def main() -> None:
    for path in sorted(RESULTS.rglob("*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        text = "".join(json.dumps(migrate(entry)) + "\n" for entry in lines)
        if text != path.read_text():
            path.write_text(text)
            print(f"migrated {path.relative_to(RESULTS)} ({len(lines)} lines)")


if __name__ == "__main__":
    main()
