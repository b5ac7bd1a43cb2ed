"""Checks of what a user hands to a fitted model: index arrays for ``predict``."""

from __future__ import annotations

import numpy as np

from .errors import InvalidIndexError


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
