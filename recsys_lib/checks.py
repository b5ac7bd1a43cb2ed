"""Checks of what a user hands the library, made once at the door: rating frames and scales
(where a split is built or a dataset read), index arrays (every model's ``predict``) and the
paths of files a run will write."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InvalidIndexError, InvalidParameterError, InvalidRatingsError, UsageError

#: the longest file name most file systems take, in bytes (when pathconf cannot tell)
NAME_MAX = 255


def _name_max(folder: Path) -> int:
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return NAME_MAX


def check_output_path(path, what: str = "output file", error: type = UsageError) -> Path:
    """``path`` with ``~`` expanded, refused with one ``error`` naming ``what`` when it cannot
    name a file to write: empty, ``~user`` of no such user, a name longer than the file
    system takes (255 bytes on most), or a loop of symbolic links on the way. What the path
    then holds (a directory, a read-only file) is for the writer's own check."""
    text = os.fspath(path)
    if not str(text).strip():
        raise error(f"the {what} is an empty path")
    try:
        given = Path(text).expanduser()
    except RuntimeError:
        raise error(f"the {what} {text}: {Path(text).parts[0]} names no user on this machine, "
                    "so it has no home folder") from None
    limit = _name_max(given.absolute().parent)
    for part in given.parts:
        size = len(os.fsencode(part))
        if size > limit:
            raise error(f"the {what} {text[:60]}...: the name {part[:40]}... is {size} bytes "
                        f"long; the file system takes at most {limit}")
    for place in (given.absolute(), *given.absolute().parents):
        try:
            os.stat(place)
            break
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise error(f"the {what} {text}: {place} is a loop of symbolic links") from None
            if exc.errno == errno.ENAMETOOLONG:
                raise error(f"the {what} {text[:60]}...: the path is longer than the file "
                            "system takes") from None
    return given


def new_file_mode() -> int:
    """The permission bits a new file gets here: 0o666 less the process's umask (read from
    /proc, which leaves the umask untouched; otherwise set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _as_index_array(label: str, values) -> np.ndarray:
    """``values`` as a 1-D int64 array, or InvalidIndexError saying what is wrong with it.

    Integer arrays pass; float arrays pass only when every value is a whole number (2.0, not
    2.5 and not NaN); booleans, strings, objects and arrays that are not 1-D are refused.
    """
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidIndexError(f"{label} indices must be a 1-D array of shape (n,), got shape "
                                f"{array.shape}")
    kind = array.dtype.kind
    if kind in "iu":
        if kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
            raise InvalidIndexError(f"{label} indices are too large for int64")
        return array.astype(np.int64, copy=False)
    if kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            raise InvalidIndexError(f"{label} indices must be whole numbers; "
                                    f"{int((~finite).sum())} are NaN or infinite")
        fractional = array != np.round(array)
        if fractional.any():
            raise InvalidIndexError(f"{label} indices must be whole numbers; "
                                    f"{int(fractional.sum())} are not, for example "
                                    f"{array[fractional][0]!r}")
        return array.astype(np.int64)
    if array.size == 0 and kind in "O":
        return array.astype(np.int64)
    name = "booleans" if kind == "b" else f"dtype {array.dtype}"
    raise InvalidIndexError(f"{label} indices must be integers, got {name}")


def check_indices(model_size: tuple[int, int], users, items) -> tuple[np.ndarray, np.ndarray]:
    """Validate index arrays against (n_users, n_items): 1-D, integral, same shape, in range.

    Returns both as int64 arrays of shape (n,). InvalidIndexError (an IndexError, TypeError
    and ValueError) names the problem the same way for every model.
    """
    users = _as_index_array("user", users)
    items = _as_index_array("item", items)
    if users.shape != items.shape:
        raise InvalidIndexError(f"users has shape {users.shape} but items has shape "
                                f"{items.shape}")
    for label, values, size in (("user", users, model_size[0]), ("item", items, model_size[1])):
        if values.size and (values.min() < 0 or values.max() >= size):
            raise InvalidIndexError(f"{label} indices must lie in [0, {size}); got "
                                    f"[{values.min()}, {values.max()}]")
    return users, items


def check_rating_scale(rating_scale, label: str) -> tuple[float, float]:
    """``(low, high)`` as floats when both are finite and low < high; InvalidRatingsError
    otherwise (a reversed scale would clip every prediction to the wrong end)."""
    try:
        low, high = (float(v) for v in rating_scale)
    except (TypeError, ValueError):
        raise InvalidRatingsError(f"{label}: the rating scale must be two numbers (low, high), "
                                  f"got {rating_scale!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InvalidRatingsError(f"{label}: the rating scale ({low:g}, {high:g}) must be two "
                                  "finite numbers with low < high")
    return low, high


def check_fallback_rating(model: str, value: float, rating_scale, dataset: str) -> None:
    """A fallback rating must be a rating the dataset can hold: InvalidParameterError naming
    the model, the value and the scale otherwise (checked at fit, before any training)."""
    low, high = rating_scale
    if not low <= value <= high:
        raise InvalidParameterError(
            f"{model}: fallback_rating {value:g} lies outside the rating scale "
            f"[{low:g}, {high:g}] of {dataset}")


def _examples(frame: pd.DataFrame, bad: np.ndarray) -> list:
    return frame.loc[bad].head(3).to_dict("records")


def _check_ids(frame: pd.DataFrame, column: str, label: str) -> None:
    ids = frame[column]
    missing = ids.isna().to_numpy()
    if missing.any():
        raise InvalidRatingsError(f"{label}: {int(missing.sum())} of {len(ids)} rows have no "
                                  f"{column} id (NaN or None), for example "
                                  f"{_examples(frame, missing)}")
    if ids.dtype == bool:
        raise InvalidRatingsError(f"{label}: the {column} ids are booleans, not ids")
    if ids.dtype == object:
        kinds = ids.map(lambda v: "text" if isinstance(v, str) else
                        "number" if isinstance(v, (int, float, np.number))
                        and not isinstance(v, (bool, np.bool_)) else type(v).__name__)
        counts = kinds.value_counts()
        if len(counts) > 1:
            odd = (kinds != counts.index[0]).to_numpy()
            mix = ", ".join(f"{n} {k}" for k, n in counts.items())
            raise InvalidRatingsError(
                f"{label}: the {column} ids mix types ({mix}); {int(odd.sum())} rows differ "
                f"from the rest, for example {_examples(frame, odd)}")


def check_ratings_frame(frame: pd.DataFrame, rating_scale, label: str) -> None:
    """Check a ratings frame at the door; InvalidRatingsError counts the offending rows.

    Columns user, item, rating must exist; ids must be present (no NaN) and of one kind
    (all numbers or all text); ratings must be numbers, finite and on ``rating_scale``
    (low, high), which itself must satisfy low < high.
    """
    low, high = check_rating_scale(rating_scale, label)
    if not isinstance(frame, pd.DataFrame):
        raise InvalidRatingsError(f"{label}: ratings must be a DataFrame with columns user, "
                                  f"item, rating, got {type(frame).__name__}")
    missing = {"user", "item", "rating"} - set(frame.columns)
    if missing:
        raise InvalidRatingsError(f"{label}: ratings lack the columns {sorted(missing)}")
    for column in ("user", "item"):
        _check_ids(frame, column, label)
    raw = frame["rating"]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    not_number = np.isnan(values) & raw.notna().to_numpy()
    if not_number.any():
        raise InvalidRatingsError(f"{label}: {int(not_number.sum())} ratings are not numbers, "
                                  f"for example {_examples(frame, not_number)}")
    bad = ~((values >= low) & (values <= high))  # NaN and infinity count as bad
    if bad.any():
        n_nan, n_inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
        raise InvalidRatingsError(
            f"{label}: {int(bad.sum())} ratings are off the declared scale [{low:g}, {high:g}] "
            f"or missing ({n_nan} NaN, {n_inf} infinite, {int(bad.sum()) - n_nan - n_inf} "
            f"outside), for example {_examples(frame, bad)}")
