"""recsys_lib.records: reading the recorded runs."""

from __future__ import annotations

import pandas as pd

from recsys_lib import records


def _runs():
    return pd.DataFrame({
        "model": ["a", "a", "a", "a", "b", "a"],
        "dataset": ["d"] * 5 + ["other"],
        "split": ["s", "s", "s", "s", "s", "s"],
        "seed": [0, 1, 1, 2, 0, 3],
        "rmse": [0.90, 0.95, 0.91, 0.99, 0.80, 0.70],
        "defaults": [True, True, True, False, True, True],
        "stale": [False, False, False, False, False, False],
    })


def test_default_runs_are_one_fresh_default_run_per_seed_the_last_recorded():
    picked = records.default_runs(_runs(), "d", "s", "a")
    assert picked["seed"].tolist() == [0, 1]
    assert picked["rmse"].tolist() == [0.90, 0.91]  # seed 1: the later line
    assert set(records.default_runs(_runs(), "d", "s")["model"]) == {"a", "b"}
