"""One-off migration: every saved predictions file under ``results/`` carries its run.

Predictions saved before issue 25 hold ``pred``, ``key`` (the test rows' fingerprint) and
perhaps ``koren_ranks``, but not the run that made them, so a blend could not tell another
run's file saved under a model's name. Each file gets ``run`` (:func:`recsys_lib.predictions.
run_identity`) from the line of the record file beside it whose command saved it; its arrays
are copied unchanged, and the number of predictions must equal that line's ``n_test``. A file
no record line names is left as it is and reported. Running it twice changes nothing. Usage:
``python results/migrations/2026_12_06_predictions_identity.py``.
"""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import numpy as np

from recsys_lib.ledger import dumps, read_entries, write_replacing
from recsys_lib.predictions import run_identity

RESULTS = Path(__file__).resolve().parents[1]
ROOT = RESULTS.parent


def saved_by(entry: dict) -> Path | None:
    """The predictions file a record line's command saved (relative to the repository)."""
    command = entry.get("command") or []
    if "--predictions" not in command:
        return None
    return (ROOT / command[command.index("--predictions") + 1]).resolve()


def main() -> None:
    lines = {}
    for record in sorted(RESULTS.rglob("*.jsonl")):
        for entry in read_entries(record):
            path = saved_by(entry)
            if path is not None:
                lines[path] = entry
    changed, orphans = 0, []
    for path in sorted(RESULTS.rglob("*.npz")):
        entry = lines.get(path.resolve())
        if entry is None:
            orphans.append(str(path.relative_to(ROOT)))
            continue
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        run = dumps(run_identity(entry))
        if "run" in arrays and str(arrays["run"]) == run:
            continue
        if len(arrays["pred"]) != entry["n_test"]:
            raise SystemExit(f"{path}: {len(arrays['pred'])} predictions, but its record "
                             f"line says n_test {entry['n_test']}")
        arrays["run"] = np.array(run)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        write_replacing(path, buffer.getvalue(), stat.S_IMODE(path.stat().st_mode))
        changed += 1
    print(f"{changed} predictions files now carry their run; "
          f"{len(orphans)} named by no record line: {json.dumps(orphans)}")


if __name__ == "__main__":
    main()
