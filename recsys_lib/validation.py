"""Checks of what a user hands to a fitted model: index arrays for ``predict``."""

from __future__ import annotations

import numpy as np


def check_indices(model_size: tuple[int, int], users: np.ndarray, items: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Validate index arrays against (n_users, n_items); IndexError names the bad range."""
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if users.shape != items.shape:
        raise ValueError(f"users has shape {users.shape} but items has shape {items.shape}")
    for label, values, size in (("user", users, model_size[0]), ("item", items, model_size[1])):
        if values.size and (values.min() < 0 or values.max() >= size):
            raise IndexError(f"{label} indices must lie in [0, {size}); got "
                             f"[{values.min()}, {values.max()}]")
    return users, items
