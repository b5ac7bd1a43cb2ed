"""Tests of recsys_lib.protocol: sweeps, selection rules and the luck of the winner."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from recsys_lib import protocol


def test_sweep_and_select(tiny_split):
    validation = tiny_split.with_validation(0.2, seed=0)
    grid = [{"reg_user": r, "reg_item": r} for r in (0.0, 5.0, 500.0)]
    table = protocol.sweep("baseline", {"test": tiny_split, "validation": validation}, grid)
    assert list(table.columns) == ["reg_user", "reg_item", "rmse test", "mae test",
                                   "rmse validation", "mae validation"]
    assert len(table) == 3
    on_test = protocol.select(table, "rmse test", "rmse test")
    on_validation = protocol.select(table, "rmse validation", "rmse test")
    # Choosing on the reported column can only look better (or equal).
    assert on_test["reported"] <= on_validation["reported"]
    assert on_test["reported"] == pytest.approx(table["rmse test"].min())
    with pytest.raises(KeyError, match="no column"):
        protocol.select(table, "rmse nowhere", "rmse test")
    with pytest.raises(ValueError, match="no configuration"):
        protocol.sweep("baseline", {"test": tiny_split}, [])


def test_cheapest_within_takes_the_cheapest_setting_near_the_best():
    table = pd.DataFrame({"n_epochs": [8, 12, 16, 32, 12, 12],
                          "k": [np.nan, np.nan, np.nan, np.nan, 50.0, 20.0],
                          "validation_rmse": [0.9300, 0.9205, 0.9201, 0.9198, 0.9204,
                                              0.9206]})
    # within 0.001 of the best (0.9198): every row but the first; fewest epochs, then the
    # missing k (cheapest), then the smaller k
    pick = protocol.cheapest_within(table, "validation_rmse", ["n_epochs", "k"], 0.001)
    assert pick.name == 1
    assert protocol.cheapest_within(table.drop(index=1), "validation_rmse",
                                 ["n_epochs", "k"], 0.001).name == 5
    # one cost column; a tie in cost goes to the earlier row
    assert protocol.cheapest_within(table, "validation_rmse", "n_epochs", 0.001).name == 1
    # within=0 is the best row; a wide margin makes the cheapest row win
    assert protocol.cheapest_within(table, "validation_rmse", "n_epochs", 0.0).name == 3
    assert protocol.cheapest_within(table, "validation_rmse", "n_epochs", 1.0).name == 0
    # a missing score never qualifies
    with_gap = table.assign(validation_rmse=table["validation_rmse"].where(
        table["n_epochs"] != 12))
    assert protocol.cheapest_within(with_gap, "validation_rmse", "n_epochs", 0.001).name == 2
    with pytest.raises(KeyError, match="no column"):
        protocol.cheapest_within(table, "rmse", "n_epochs", 0.001)
    with pytest.raises(KeyError, match="no column"):
        protocol.cheapest_within(table, "validation_rmse", ["n_epochs", "seconds"], 0.001)
    for bad in (-0.001, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="within"):
            protocol.cheapest_within(table, "validation_rmse", "n_epochs", bad)
    with pytest.raises(ValueError, match="cost"):
        protocol.cheapest_within(table, "validation_rmse", [], 0.001)
    with pytest.raises(ValueError, match="no row"):
        protocol.cheapest_within(table.assign(validation_rmse=np.nan), "validation_rmse",
                              "n_epochs", 0.001)


def test_expected_best_of_n_matches_enumeration():
    scores = [0.95, 0.91, 0.97, 0.93, 0.92, 0.96]
    for n in range(1, len(scores) + 1):
        brute = np.mean([min(c) for c in itertools.combinations(scores, n)])
        assert protocol.expected_best_of_n(scores, n) == pytest.approx(brute)
    assert protocol.expected_best_of_n(scores, 1) == pytest.approx(np.mean(scores))
    with pytest.raises(ValueError):
        protocol.expected_best_of_n(scores, 0)


def test_split_half_selection_separates_luck_from_skill():
    rng = np.random.default_rng(1)
    truth = rng.integers(1, 6, 4000).astype(float)
    # Five equally good candidates (independent noise) and one genuinely better one.
    candidates = {f"noise{j}": truth + rng.normal(0, 1.0, truth.size) for j in range(5)}
    only_noise = protocol.split_half_selection(truth, candidates, (1.0, 5.0), n_repeats=40)
    assert list(only_noise.columns) == ["winner", "lead on A", "lead on B"]
    assert only_noise["lead on A"].mean() > 0.005  # the winner always looks better on A
    assert abs(only_noise["lead on B"].mean()) < 0.5 * only_noise["lead on A"].mean()
    candidates["better"] = truth + rng.normal(0, 0.7, truth.size)
    with_skill = protocol.split_half_selection(truth, candidates, (1.0, 5.0), n_repeats=20)
    assert (with_skill["winner"] == "better").all()
    assert with_skill["lead on B"].mean() > 0.1  # a real lead survives on fresh ratings
    with pytest.raises(ValueError, match="at least two"):
        protocol.split_half_selection(truth, {"one": truth}, (1.0, 5.0))
