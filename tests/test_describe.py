"""Tests of recsys_lib.describe: dataset summaries and long-tail statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_lib import describe


@pytest.fixture
def small_frame():
    # 3 users, 4 items, 6 ratings; user 1 rated 3 items, item 10 has 3 ratings.
    return pd.DataFrame({"user": [1, 1, 1, 2, 2, 3], "item": [10, 11, 12, 10, 13, 10],
                         "rating": [5.0, 4.0, 1.0, 3.0, 3.0, 2.0],
                         "timestamp": [0, 86400, 8 * 86400, 8 * 86400, 9 * 86400, 30 * 86400]})


def test_describe_ratings_counts_and_density(small_frame):
    facts = describe.describe_ratings(small_frame, (1.0, 5.0))
    assert (facts["users"], facts["items"], facts["ratings"]) == (3, 4, 6)
    assert facts["density"] == pytest.approx(6 / 12)
    assert facts["sparsity"] == pytest.approx(0.5)
    assert facts["mean"] == pytest.approx(3.0)
    assert facts["distinct values"] == 5
    assert facts["timestamps"] is True
    assert describe.describe_ratings(small_frame.drop(columns="timestamp"), (1, 5))["timestamps"] \
        is False


def test_describe_rejects_empty(small_frame):
    with pytest.raises(ValueError, match="no ratings"):
        describe.describe_ratings(small_frame.iloc[:0], (1.0, 5.0))


def test_counts_per_sorted_and_checked(small_frame):
    per_item = describe.counts_per(small_frame, "item")
    assert per_item.iloc[0] == 3 and per_item.index[0] == 10
    assert list(per_item) == sorted(per_item, reverse=True)
    assert describe.counts_per(small_frame, "user").sum() == len(small_frame)
    with pytest.raises(ValueError, match="'user' or 'item'"):
        describe.counts_per(small_frame, "rating")


def test_top_share_and_gini():
    equal = np.full(100, 7)
    assert describe.top_share(equal, 0.1) == pytest.approx(0.1)
    assert describe.gini(equal) == pytest.approx(0.0, abs=1e-12)
    skewed = np.array([1000] + [1] * 99)
    assert describe.top_share(skewed, 0.1) == pytest.approx((1000 + 9) / 1099)
    assert 0.85 < describe.gini(skewed) < 1.0
    # The top group is never empty: 10% of 3 entities is one entity.
    assert describe.top_share([5, 3, 2], 0.1) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        describe.top_share([], 0.1)
    with pytest.raises(ValueError):
        describe.top_share([1, 2], 0.0)
    with pytest.raises(ValueError):
        describe.gini([1, -2])


def test_value_counts_and_long_tail_table(small_frame):
    counts = describe.value_counts(small_frame)
    assert list(counts.index) == [1.0, 2.0, 3.0, 4.0, 5.0] and counts[3.0] == 2
    table = describe.long_tail_table({"small": small_frame})
    assert table.loc["small", "max per item"] == 3
    assert table.loc["small", "min per user"] == 1


def test_ratings_per_period_fills_gaps(small_frame):
    daily = describe.ratings_per_period(small_frame, "D")
    assert daily.sum() == len(small_frame)
    assert len(daily) == 31 and daily.iloc[0] == 1 and daily.iloc[8] == 2 and daily.iloc[2] == 0
    weekly = describe.ratings_per_period(small_frame, "W")
    assert weekly.sum() == len(small_frame)
    with pytest.raises(ValueError, match="no timestamp"):
        describe.ratings_per_period(small_frame.drop(columns="timestamp"))


def test_split_table(tiny_split):
    table = describe.split_table([tiny_split])
    row = table.loc[("tiny", "synthetic")]
    assert row["n_train"] == len(tiny_split.train) and row["n_test"] == len(tiny_split.test)
    assert 0.1 < row["test share"] < 0.3


def test_ml100k_summary_matches_manifest():
    frames = describe.load_all(["ml-100k"])
    row = describe.summary_table(frames).loc["ml-100k"]
    assert (row["users"], row["items"], row["ratings"]) == (943, 1682, 100_000)
    assert row["density"] == pytest.approx(100_000 / (943 * 1682))
    assert describe.ratings_per_period(frames["ml-100k"]).sum() == 100_000


def test_first_session_share(small_frame):
    # user 1: day 0, day 1, day 8 -> 1 of 3 within 24 h; user 2: day 8, day 9 -> 1 of 2;
    # user 3: one rating -> 1 of 1. Ratings share 3/6; only user 3 has more than half early.
    facts = describe.first_session_share(small_frame, hours=24)
    assert facts["ratings share"] == pytest.approx(3 / 6)
    assert facts["users mostly in it"] == pytest.approx(1 / 3)
    assert describe.first_session_share(small_frame, hours=24 * 40)["ratings share"] == 1.0
    with pytest.raises(ValueError, match="no timestamp"):
        describe.first_session_share(small_frame.drop(columns="timestamp"))
