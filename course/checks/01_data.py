# Checks of chapter 1's exercises (see course/build.py for the format).
# %% common
import numpy as np
import pandas as pd
from recsys_lib import describe

rng = np.random.default_rng(201)  # fixed: a regrade draws the same cases

# %% data-ex-share public
def test_agrees_with_the_library(top_share):
    counts = rng.integers(1, 500, 137)
    for fraction in (0.05, 0.1, 0.5):
        assert np.isclose(top_share(counts, fraction), describe.top_share(counts, fraction))

# %% data-ex-share hidden
def test_order_rounding_and_edges(top_share):
    counts = rng.permutation(rng.zipf(1.7, 333).astype(float))
    assert np.isclose(top_share(counts, 0.1), describe.top_share(counts, 0.1))
    assert np.isclose(top_share(counts, 1.0), 1.0)
    seven = rng.integers(1, 50, 7)  # ceil(0.1 * 7) = 1 entity
    assert np.isclose(top_share(seven, 0.1), seven.max() / seven.sum())
    assert np.isclose(top_share(np.full(40, 3), 0.25), 0.25)

# %% data-ex-gini public
def test_agrees_with_the_library(lorenz_gini):
    counts = rng.integers(1, 1000, 250)
    assert np.isclose(lorenz_gini(counts), describe.gini(counts))

# %% data-ex-gini hidden
def test_equal_and_concentrated(lorenz_gini):
    assert abs(lorenz_gini(np.full(50, 7))) < 1e-9
    one = np.zeros(100)
    one[rng.integers(100)] = 10
    assert np.isclose(lorenz_gini(one), describe.gini(one))
    counts = rng.zipf(1.5, 500)
    assert np.isclose(lorenz_gini(rng.permutation(counts)), describe.gini(counts))

# %% data-ex-unseen public
def test_agrees_with_split_summary(count_unseen):
    from recsys_lib.splits import split_from_frames
    pairs = rng.permutation(40 * 30)[:500]
    frame = pd.DataFrame({"user": pairs // 30, "item": pairs % 30,
                          "rating": rng.integers(1, 6, 500).astype(float)})
    test = rng.random(500) < 0.3
    train, held = frame[~test], frame[test]
    split = split_from_frames("random", "r", train, held, (1.0, 5.0))
    assert count_unseen(train, held) == split.summary()["n_test_unseen"]

# %% data-ex-unseen hidden
def test_new_users_and_items(count_unseen):
    from recsys_lib.splits import split_from_frames
    pairs = rng.permutation(60 * 50)[:900]
    frame = pd.DataFrame({"user": pairs // 50, "item": pairs % 50,
                          "rating": rng.integers(1, 6, 900).astype(float)})
    test = (frame["user"] >= 55) | (frame["item"] >= 46) | (rng.random(900) < 0.1)
    train, held = frame[~test], frame[test]
    split = split_from_frames("random", "r", train, held, (1.0, 5.0))
    expected = split.summary()["n_test_unseen"]
    assert expected > 0
    assert count_unseen(train, held) == expected
    assert count_unseen(train, held.iloc[:0]) == 0

# %% data-ex-share wrapper
def top_share(counts, fraction=0.1):
    from recsys_lib import describe
    return describe.top_share(counts, fraction)

# %% data-ex-gini wrapper
def lorenz_gini(counts):
    from recsys_lib import describe
    return describe.gini(counts)

# %% data-ex-unseen wrapper
def count_unseen(train, test):
    from recsys_lib.splits import split_from_frames
    return split_from_frames("random", "r", train, test, (1.0, 5.0)).summary()["n_test_unseen"]
