"""Shared fixtures: the data mirror, a throw-away cache, a small synthetic split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_lib.splits import split_from_frames


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty data cache; the mirror (if any) stays as configured."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RECSYS_DATA_DIR", str(cache))
    return cache


@pytest.fixture
def tiny_split():
    """A 30-user, 20-item split with structure (user and item effects plus noise), seeded."""
    rng = np.random.default_rng(0)
    users, items = np.meshgrid(np.arange(30), np.arange(20), indexing="ij")
    users, items = users.ravel(), items.ravel()
    keep = rng.random(users.size) < 0.5
    users, items = users[keep], items[keep]
    truth = 3 + 0.8 * np.sin(users) + 0.6 * np.cos(items) + rng.normal(0, 0.3, users.size)
    frame = pd.DataFrame({"user": users, "item": items, "rating": np.clip(np.round(truth), 1, 5)})
    test_rows = rng.random(len(frame)) < 0.2
    return split_from_frames("tiny", "synthetic", frame[~test_rows], frame[test_rows], (1.0, 5.0))
