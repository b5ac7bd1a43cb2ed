"""recsys_lib.records: reading the recorded runs."""

from __future__ import annotations

import pandas as pd
import pytest

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


def test_headline_runs_names_an_unknown_model_dataset_or_split():
    """A mistyped name gave an empty table, which a chapter then showed as no runs."""
    from recsys_lib.errors import UnknownNameError

    for models, splits, words in (("nosuch", [("ml-100k", "u1")], "unknown model 'nosuch'"),
                                  ("baseline", [("ml100k", "u1")], "unknown dataset"),
                                  ("baseline", [("ml-100k", "u9")], "unknown split 'u9'")):
        with pytest.raises(UnknownNameError, match=words):
            records.headline_runs(models, splits)
    found = records.headline_runs("baseline", [("ml-100k", "u1")])
    assert list(found["model"]) == ["baseline"] and list(found["split"]) == ["u1"]
