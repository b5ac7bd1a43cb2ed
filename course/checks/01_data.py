# Checks of chapter 1's exercises (see course/build.py for the format).
# %% common
import numpy as np
import pandas as pd
from recsys_lib import describe

rng = np.random.default_rng(201)  # fixed: a regrade draws the same cases

# %% data-ex-share public
def test_a_small_example(top_share):
    counts = np.array([1, 10, 3, 5, 1])  # total 20
    assert np.isclose(top_share(counts, 0.2), 10 / 20), "ceil(0.2 * 5) = 1 largest count"
    assert np.isclose(top_share(counts, 0.5), 18 / 20), "ceil(0.5 * 5) = 3 largest counts"
    counts = rng.integers(1, 500, 137)
    assert np.isclose(top_share(counts, 0.1), top_share(rng.permutation(counts), 0.1))

# %% data-ex-share hidden
def test_order_rounding_and_edges(top_share):
    counts = rng.permutation(rng.zipf(1.7, 333).astype(float))
    assert np.isclose(top_share(counts, 0.1), describe.top_share(counts, 0.1))
    assert np.isclose(top_share(counts, 1.0), 1.0)
    seven = rng.integers(1, 50, 7)  # ceil(0.1 * 7) = 1 entity
    assert np.isclose(top_share(seven, 0.1), seven.max() / seven.sum())
    assert np.isclose(top_share(np.full(40, 3), 0.25), 0.25)

# %% data-ex-gini public
def test_small_examples(lorenz_gini):
    assert np.isclose(lorenz_gini(np.array([5, 5, 5, 5])), 0.0), "equal counts: 0"
    assert np.isclose(lorenz_gini(np.array([0, 0, 0, 1])), 0.75), "one holds all: (n-1)/n"
    # cumulative shares 0.1, 0.3, 0.6, 1: area under the Lorenz curve 0.375
    assert np.isclose(lorenz_gini(np.array([4, 1, 3, 2])), 0.25)

# %% data-ex-gini hidden
def test_equal_and_concentrated(lorenz_gini):
    assert abs(lorenz_gini(np.full(50, 7))) < 1e-9
    one = np.zeros(100)
    one[rng.integers(100)] = 10
    assert np.isclose(lorenz_gini(one), describe.gini(one))
    counts = rng.zipf(1.5, 500)
    assert np.isclose(lorenz_gini(rng.permutation(counts)), describe.gini(counts))

# %% data-ex-unseen public
def test_a_small_example(count_unseen):
    train = pd.DataFrame({"user": [0, 0, 1], "item": [0, 1, 1], "rating": [4.0, 3.0, 5.0]})
    held = pd.DataFrame({"user": [1, 2, 1, 3], "item": [0, 0, 2, 3],
                         "rating": [2.0, 5.0, 4.0, 1.0]})
    # (1, 0) seen; (2, 0) a new user; (1, 2) a new item; (3, 3) both
    assert count_unseen(train, held) == 3
    assert count_unseen(train, held.iloc[:1]) == 0

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
