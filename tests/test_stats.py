"""Tests of recsys_lib.stats: dataset summaries, long-tail statistics and protocol helpers."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from recsys_lib import stats


@pytest.fixture
def small_frame():
    # 3 users, 4 items, 6 ratings; user 1 rated 3 items, item 10 has 3 ratings.
    return pd.DataFrame({"user": [1, 1, 1, 2, 2, 3], "item": [10, 11, 12, 10, 13, 10],
                         "rating": [5.0, 4.0, 1.0, 3.0, 3.0, 2.0],
                         "timestamp": [0, 86400, 8 * 86400, 8 * 86400, 9 * 86400, 30 * 86400]})


def test_describe_ratings_counts_and_density(small_frame):
    facts = stats.describe_ratings(small_frame, (1.0, 5.0))
    assert (facts["users"], facts["items"], facts["ratings"]) == (3, 4, 6)
    assert facts["density"] == pytest.approx(6 / 12)
    assert facts["sparsity"] == pytest.approx(0.5)
    assert facts["mean"] == pytest.approx(3.0)
    assert facts["distinct values"] == 5
    assert facts["timestamps"] is True
    assert stats.describe_ratings(small_frame.drop(columns="timestamp"), (1, 5))["timestamps"] \
        is False


def test_describe_rejects_empty(small_frame):
    with pytest.raises(ValueError, match="no ratings"):
        stats.describe_ratings(small_frame.iloc[:0], (1.0, 5.0))


def test_counts_per_sorted_and_checked(small_frame):
    per_item = stats.counts_per(small_frame, "item")
    assert per_item.iloc[0] == 3 and per_item.index[0] == 10
    assert list(per_item) == sorted(per_item, reverse=True)
    assert stats.counts_per(small_frame, "user").sum() == len(small_frame)
    with pytest.raises(ValueError, match="'user' or 'item'"):
        stats.counts_per(small_frame, "rating")


def test_top_share_and_gini():
    equal = np.full(100, 7)
    assert stats.top_share(equal, 0.1) == pytest.approx(0.1)
    assert stats.gini(equal) == pytest.approx(0.0, abs=1e-12)
    skewed = np.array([1000] + [1] * 99)
    assert stats.top_share(skewed, 0.1) == pytest.approx((1000 + 9) / 1099)
    assert 0.85 < stats.gini(skewed) < 1.0
    # The top group is never empty: 10% of 3 entities is one entity.
    assert stats.top_share([5, 3, 2], 0.1) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        stats.top_share([], 0.1)
    with pytest.raises(ValueError):
        stats.top_share([1, 2], 0.0)
    with pytest.raises(ValueError):
        stats.gini([1, -2])


def test_value_counts_and_long_tail_table(small_frame):
    counts = stats.value_counts(small_frame)
    assert list(counts.index) == [1.0, 2.0, 3.0, 4.0, 5.0] and counts[3.0] == 2
    table = stats.long_tail_table({"small": small_frame})
    assert table.loc["small", "max per item"] == 3
    assert table.loc["small", "min per user"] == 1


def test_ratings_per_period_fills_gaps(small_frame):
    daily = stats.ratings_per_period(small_frame, "D")
    assert daily.sum() == len(small_frame)
    assert len(daily) == 31 and daily.iloc[0] == 1 and daily.iloc[8] == 2 and daily.iloc[2] == 0
    weekly = stats.ratings_per_period(small_frame, "W")
    assert weekly.sum() == len(small_frame)
    with pytest.raises(ValueError, match="no timestamp"):
        stats.ratings_per_period(small_frame.drop(columns="timestamp"))


def test_split_table(tiny_split):
    table = stats.split_table([tiny_split])
    row = table.loc[("tiny", "synthetic")]
    assert row["n_train"] == len(tiny_split.train) and row["n_test"] == len(tiny_split.test)
    assert 0.1 < row["test share"] < 0.3


def test_sweep_and_select(tiny_split):
    validation = tiny_split.with_validation(0.2, seed=0)
    grid = [{"reg_user": r, "reg_item": r} for r in (0.0, 5.0, 500.0)]
    table = stats.sweep("baseline", {"test": tiny_split, "validation": validation}, grid)
    assert list(table.columns) == ["reg_user", "reg_item", "rmse test", "mae test",
                                   "rmse validation", "mae validation"]
    assert len(table) == 3
    on_test = stats.select(table, "rmse test", "rmse test")
    on_validation = stats.select(table, "rmse validation", "rmse test")
    # Choosing on the reported column can only look better (or equal).
    assert on_test["reported"] <= on_validation["reported"]
    assert on_test["reported"] == pytest.approx(table["rmse test"].min())
    with pytest.raises(KeyError, match="no column"):
        stats.select(table, "rmse nowhere", "rmse test")
    with pytest.raises(ValueError, match="no configuration"):
        stats.sweep("baseline", {"test": tiny_split}, [])


def test_cheapest_within_takes_the_cheapest_setting_near_the_best():
    table = pd.DataFrame({"n_epochs": [8, 12, 16, 32, 12, 12],
                          "k": [np.nan, np.nan, np.nan, np.nan, 50.0, 20.0],
                          "validation_rmse": [0.9300, 0.9205, 0.9201, 0.9198, 0.9204,
                                              0.9206]})
    # within 0.001 of the best (0.9198): every row but the first; fewest epochs, then the
    # missing k (cheapest), then the smaller k
    pick = stats.cheapest_within(table, "validation_rmse", ["n_epochs", "k"], 0.001)
    assert pick.name == 1
    assert stats.cheapest_within(table.drop(index=1), "validation_rmse",
                                 ["n_epochs", "k"], 0.001).name == 5
    # one cost column; a tie in cost goes to the earlier row
    assert stats.cheapest_within(table, "validation_rmse", "n_epochs", 0.001).name == 1
    # within=0 is the best row; a wide margin makes the cheapest row win
    assert stats.cheapest_within(table, "validation_rmse", "n_epochs", 0.0).name == 3
    assert stats.cheapest_within(table, "validation_rmse", "n_epochs", 1.0).name == 0
    # a missing score never qualifies
    with_gap = table.assign(validation_rmse=table["validation_rmse"].where(
        table["n_epochs"] != 12))
    assert stats.cheapest_within(with_gap, "validation_rmse", "n_epochs", 0.001).name == 2
    with pytest.raises(KeyError, match="no column"):
        stats.cheapest_within(table, "rmse", "n_epochs", 0.001)
    with pytest.raises(KeyError, match="no column"):
        stats.cheapest_within(table, "validation_rmse", ["n_epochs", "seconds"], 0.001)
    for bad in (-0.001, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="within"):
            stats.cheapest_within(table, "validation_rmse", "n_epochs", bad)
    with pytest.raises(ValueError, match="cost"):
        stats.cheapest_within(table, "validation_rmse", [], 0.001)
    with pytest.raises(ValueError, match="no row"):
        stats.cheapest_within(table.assign(validation_rmse=np.nan), "validation_rmse",
                              "n_epochs", 0.001)


def test_expected_best_of_n_matches_enumeration():
    scores = [0.95, 0.91, 0.97, 0.93, 0.92, 0.96]
    for n in range(1, len(scores) + 1):
        brute = np.mean([min(c) for c in itertools.combinations(scores, n)])
        assert stats.expected_best_of_n(scores, n) == pytest.approx(brute)
    assert stats.expected_best_of_n(scores, 1) == pytest.approx(np.mean(scores))
    with pytest.raises(ValueError):
        stats.expected_best_of_n(scores, 0)


def test_ml100k_summary_matches_manifest():
    frames = stats.load_all(["ml-100k"])
    row = stats.summary_table(frames).loc["ml-100k"]
    assert (row["users"], row["items"], row["ratings"]) == (943, 1682, 100_000)
    assert row["density"] == pytest.approx(100_000 / (943 * 1682))
    assert stats.ratings_per_period(frames["ml-100k"]).sum() == 100_000


def test_split_half_selection_separates_luck_from_skill():
    rng = np.random.default_rng(1)
    truth = rng.integers(1, 6, 4000).astype(float)
    # Five equally good candidates (independent noise) and one genuinely better one.
    candidates = {f"noise{j}": truth + rng.normal(0, 1.0, truth.size) for j in range(5)}
    only_noise = stats.split_half_selection(truth, candidates, (1.0, 5.0), n_repeats=40)
    assert list(only_noise.columns) == ["winner", "lead on A", "lead on B"]
    assert only_noise["lead on A"].mean() > 0.005  # the winner always looks better on A
    assert abs(only_noise["lead on B"].mean()) < 0.5 * only_noise["lead on A"].mean()
    candidates["better"] = truth + rng.normal(0, 0.7, truth.size)
    with_skill = stats.split_half_selection(truth, candidates, (1.0, 5.0), n_repeats=20)
    assert (with_skill["winner"] == "better").all()
    assert with_skill["lead on B"].mean() > 0.1  # a real lead survives on fresh ratings
    with pytest.raises(ValueError, match="at least two"):
        stats.split_half_selection(truth, {"one": truth}, (1.0, 5.0))


def test_first_session_share(small_frame):
    # user 1: day 0, day 1, day 8 -> 1 of 3 within 24 h; user 2: day 8, day 9 -> 1 of 2;
    # user 3: one rating -> 1 of 1. Ratings share 3/6; only user 3 has more than half early.
    facts = stats.first_session_share(small_frame, hours=24)
    assert facts["ratings share"] == pytest.approx(3 / 6)
    assert facts["users mostly in it"] == pytest.approx(1 / 3)
    assert stats.first_session_share(small_frame, hours=24 * 40)["ratings share"] == 1.0
    with pytest.raises(ValueError, match="no timestamp"):
        stats.first_session_share(small_frame.drop(columns="timestamp"))
