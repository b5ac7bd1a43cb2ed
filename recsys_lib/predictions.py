"""Saved predictions: one run's test predictions, kept beside its record for later study.

The Results part compares models on the *same* test ratings (paired bootstrap, RMSE by user
and item support) and blends them, so a study run (``train ... --predictions FILE.npz``) keeps
its predictions in a compressed ``.npz``:

* ``pred`` (n_test,) float32: the model's predictions for ``split.test`` in order, unclipped;
* ``key`` (2,) uint64: a fingerprint of the split's test users and items, so predictions are
  never read against a different split;
* ``koren_ranks`` (n_targets,) int32, when the run also measured top-N (``--topn``).
"""

from __future__ import annotations

import hashlib
import io
import stat
from pathlib import Path

import numpy as np

from .checks import new_file_mode
from .errors import RecordFileError
from .ledger import writable_target, write_replacing
from .splits import Split


def split_key(split: Split) -> np.ndarray:
    """(2,) uint64: a fingerprint of ``split.test``'s users and items."""
    digest = hashlib.sha256()
    for array in (split.test.users, split.test.items):
        digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
    return np.frombuffer(digest.digest()[:16], dtype=np.uint64).copy()


def check_predictions_target(path: str | Path) -> Path:
    """Refuse, before training, a ``--predictions`` target that could not be written."""
    if Path(path).suffix != ".npz":
        raise RecordFileError(f"the --predictions file {path} must end in .npz")
    return writable_target(path, "--predictions file")


def save_predictions(path: str | Path, split: Split, pred, koren_ranks=None) -> Path:
    """Write ``pred`` for ``split.test`` (and top-N ranks) to ``path`` atomically."""
    target = check_predictions_target(path)
    pred = np.asarray(pred, dtype=np.float32)
    if pred.shape != (len(split.test.ratings),):
        raise ValueError(f"{pred.size} predictions for {len(split.test.ratings)} test ratings")
    arrays = {"pred": pred, "key": split_key(split)}
    if koren_ranks is not None:
        arrays["koren_ranks"] = np.asarray(koren_ranks, dtype=np.int32)
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else new_file_mode()
    write_replacing(target, buffer.getvalue(), mode)  # the umask decides, as for any file
    return target


def load_predictions(path: str | Path, split: Split) -> dict[str, np.ndarray]:
    """The arrays of a predictions file, after checking they belong to ``split``'s test."""
    path = Path(path)
    if not path.exists():
        raise RecordFileError(f"no predictions file {path}")
    try:
        with np.load(path) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError) as exc:
        raise RecordFileError(f"cannot read the predictions file {path}: {exc}") from None
    if "pred" not in arrays or "key" not in arrays:
        raise RecordFileError(f"{path} holds no predictions (no 'pred' or 'key')")
    if not np.array_equal(arrays["key"], split_key(split)):
        raise RecordFileError(f"{path} was saved for another split than {split.dataset} "
                              f"{split.name}")
    return arrays
