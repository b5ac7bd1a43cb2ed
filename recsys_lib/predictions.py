"""Saved predictions: one run's test predictions, kept beside its record for later study.

The Results part compares models on the *same* test ratings (paired bootstrap, RMSE by user
and item support) and blends them, so a study run (``train ... --predictions FILE.npz``) keeps
its predictions in a compressed ``.npz``:

* ``pred`` (n_test,) float32: the model's predictions for ``split.test`` in order, unclipped;
* ``key`` (2,) uint64: a fingerprint of the split's test users and items, so predictions are
  never read against a different split;
* ``run``: the identity of the run that made them, one JSON object (:data:`IDENTITY`:
  model, dataset, split, seed, params, n_test and the command), so predictions saved by
  another run, another model or under another name are never read as this one's;
* ``koren_ranks`` (n_targets,) int32, when the run also measured top-N (``--topn``).

A file that is missing, damaged (truncated, not a zip archive), foreign (no ``pred``, no
``key``, no ``run``) or another run's is refused with one RecordFileError naming it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np

from .checks import new_file_mode
from .errors import RecordFileError
from .ledger import dumps, writable_target, write_replacing
from .splits import Split

#: the facts of a run a predictions file carries (``run``), from its summary
IDENTITY = ("model", "dataset", "split", "seed", "n_test", "params")


def split_key(split: Split) -> np.ndarray:
    """(2,) uint64: a fingerprint of ``split.test``'s users and items."""
    digest = hashlib.sha256()
    for array in (split.test.users, split.test.items):
        digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
    return np.frombuffer(digest.digest()[:16], dtype=np.uint64).copy()


def run_identity(summary: dict, command: list[str] | None = None) -> dict:
    """The identity a predictions file keeps: the :data:`IDENTITY` facts of ``summary``
    (a train summary or a record line) and the command that made it."""
    return {**{key: summary.get(key) for key in IDENTITY},
            "command": list(command) if command is not None else summary.get("command")}


def _is_other_zip(target: Path) -> bool:
    """True when ``target`` is a readable zip archive (an ``.npz``) that holds no saved
    predictions: a file the run must not replace."""
    try:
        with zipfile.ZipFile(target) as archive:
            return "pred.npy" not in archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False  # missing, or damaged: a damaged predictions file may be made again


def check_predictions_target(path: str | Path) -> Path:
    """Refuse, before training, a ``--predictions`` target that could not be written, or an
    existing ``.npz`` archive that holds no saved predictions (never replaced)."""
    if Path(path).suffix != ".npz":
        raise RecordFileError(f"the --predictions file {path} must end in .npz")
    target = writable_target(path, "--predictions file")
    if target.is_file() and _is_other_zip(target):
        raise RecordFileError(f"the --predictions file {path} is an .npz archive that holds "
                              "no saved predictions; it is never replaced (name another file)")
    return target


def save_predictions(path: str | Path, split: Split, pred, koren_ranks=None,
                     run: dict | None = None) -> Path:
    """Write ``pred`` for ``split.test`` (and top-N ranks, and the ``run`` identity,
    :func:`run_identity`) to ``path`` atomically."""
    target = check_predictions_target(path)
    pred = np.asarray(pred, dtype=np.float32)
    if pred.shape != (len(split.test.ratings),):
        raise ValueError(f"{pred.size} predictions for {len(split.test.ratings)} test ratings")
    arrays = {"pred": pred, "key": split_key(split)}
    if run is not None:
        arrays["run"] = np.array(dumps(run))
    if koren_ranks is not None:
        arrays["koren_ranks"] = np.asarray(koren_ranks, dtype=np.int32)
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else new_file_mode()
    write_replacing(target, buffer.getvalue(), mode)  # the umask decides, as for any file
    return target


def read_predictions(path: str | Path) -> dict:
    """Every array of a predictions file, and its ``run`` identity decoded (None for a file
    saved without one). RecordFileError for a missing, damaged or foreign file."""
    path = Path(path)
    if not os.path.lexists(path):
        raise RecordFileError(f"no predictions file {path}")
    if not zipfile.is_zipfile(path):
        raise RecordFileError(f"the predictions file {path} is damaged or not a predictions "
                              "file (not a zip archive: truncated, or another kind of file); "
                              "make it again with the command of its record")
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except Exception as exc:  # noqa: BLE001  (zip, zlib, EOF, OS: the file is unusable)
        reason = str(exc).strip() or type(exc).__name__
        raise RecordFileError(f"the predictions file {path} is damaged ({type(exc).__name__}: "
                              f"{reason[:80]}); make it again with the command of its "
                              "record") from None
    if "pred" not in arrays or "key" not in arrays:
        raise RecordFileError(f"{path} holds no predictions (no 'pred' or 'key')")
    if arrays["pred"].ndim != 1 or arrays["key"].shape != (2,):
        raise RecordFileError(f"{path} is damaged: 'pred' of shape {arrays['pred'].shape}, "
                              f"'key' of shape {arrays['key'].shape}")
    if not np.issubdtype(arrays["pred"].dtype, np.floating) or \
            not np.isfinite(arrays["pred"]).all():
        raise RecordFileError(f"{path} is damaged: its predictions are not all finite numbers")
    run = None
    if "run" in arrays:
        try:
            run = json.loads(str(arrays["run"]))
        except ValueError:
            run = None
        if not isinstance(run, dict):
            raise RecordFileError(f"{path} is damaged: its run identity is not a JSON object")
    arrays["run"] = run
    return arrays


def command_core(command) -> list | None:
    """A train command without the files it wrote (``--record``, ``--predictions``,
    ``--json`` and their values): what made the figures, wherever they were written (a
    rerun names the predictions by their absolute path and writes the record itself)."""
    if not isinstance(command, list):
        return None
    core, skip = [], False
    for token in command:
        if skip:
            skip = False
        elif token in ("--record", "--predictions", "--json"):
            skip = True
        else:
            core.append(token)
    return core


def identity_problem(arrays: dict, expect: dict) -> str | None:
    """Why predictions (:func:`read_predictions`) are not those of the run ``expect``
    describes (any of :data:`IDENTITY`, and ``command`` compared by :func:`command_core`),
    or None when they are."""
    run = arrays["run"]
    if run is None:
        return "it was saved without the identity of its run (before identities were kept)"
    saved = {**run, "command": command_core(run.get("command"))}
    wanted = {**expect, "command": command_core(expect.get("command"))}
    differ = [f"other {key}" if key in ("params", "command") else
              f"{key} {saved.get(key)!r}, not {value!r}"
              for key, value in wanted.items()
              if key in (*IDENTITY, "command") and (key != "command" or "command" in expect)
              and json.dumps(saved.get(key), sort_keys=True, default=float)
              != json.dumps(value, sort_keys=True, default=float)]
    if run.get("n_test") != len(arrays["pred"]):
        differ.append(f"{len(arrays['pred'])} predictions for n_test {run.get('n_test')}")
    return f"it holds another run's predictions ({'; '.join(differ)})" if differ else None


def load_predictions(path: str | Path, split: Split, expect: dict | None = None
                     ) -> dict[str, np.ndarray]:
    """The arrays of a predictions file, after checking they belong to ``split``'s test
    (and, with ``expect``, to that run: :func:`identity_problem`)."""
    path = Path(path)
    arrays = read_predictions(path)
    if len(arrays["pred"]) != len(split.test.ratings) or \
            not np.array_equal(arrays["key"], split_key(split)):
        raise RecordFileError(f"{path} was saved for another split than {split.dataset} "
                              f"{split.name}")
    if expect is not None:
        problem = identity_problem(arrays, expect)
        if problem:
            raise RecordFileError(f"{path}: {problem}; make it again with the command of its "
                                  "record")
    return arrays
