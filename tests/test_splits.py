"""Canonical splits: counts, index space, GLocal-K's shuffle, validation slices, bad splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_lib.errors import EmptySplitError, InvalidRatingsError, UnknownNameError
from recsys_lib.reference import SPLIT_COUNT_COLUMNS, SPLIT_COUNTS
from recsys_lib.splits import check_split_name, glocal_k_shuffle, load_split, split_from_frames


@pytest.mark.parametrize("dataset, split", [("ml-100k", "u1"), ("ml-100k", "ua"),
                                            ("ml-1m", "random-90-10"), ("douban", "monti")])
def test_canonical_split_counts(dataset, split):
    data = load_split(dataset, split)
    summary = data.summary()
    assert tuple(summary[c] for c in SPLIT_COUNT_COLUMNS) == SPLIT_COUNTS[(dataset, split)]


def test_ml100k_u1_indices_are_ids_minus_one():
    split = load_split("ml-100k")
    assert split.name == "u1"
    np.testing.assert_array_equal(split.user_ids, np.arange(1, 944))
    np.testing.assert_array_equal(split.item_ids, np.arange(1, 1683))
    # 32 test ratings are of items with no training rating (the fallback matters).
    assert split.test_unseen().sum() == 32


def test_glocal_k_shuffle_is_numpys_legacy_global_shuffle():
    np.random.seed(1234)
    expected = np.arange(1000)
    np.random.shuffle(expected)
    np.testing.assert_array_equal(glocal_k_shuffle(1000, 1234), expected)


def test_ml1m_split_matches_glocal_k_construction():
    split = load_split("ml-1m")
    from recsys_lib.data import load_ratings

    ratings = load_ratings("ml-1m")
    order = glocal_k_shuffle(len(ratings))
    first_test = ratings.iloc[order[0]]
    # The first shuffled row is the first test rating, in the sorted-id index space.
    assert split.user_ids[split.test.users[0]] == first_test["user"]
    assert split.item_ids[split.test.items[0]] == first_test["item"]
    assert split.test.ratings[0] == first_test["rating"]


def test_dense_matrix_and_mask(tiny_split):
    matrix, mask = tiny_split.dense("train")
    assert matrix.shape == (tiny_split.n_items, tiny_split.n_users) and matrix.dtype == np.float32
    assert mask.sum() == len(tiny_split.train)
    assert matrix[tiny_split.train.items[0], tiny_split.train.users[0]] == \
        tiny_split.train.ratings[0]
    transposed, _ = tiny_split.dense("test", layout="users_by_items")
    assert transposed.shape == (tiny_split.n_users, tiny_split.n_items)
    with pytest.raises(ValueError, match="unknown layout"):
        tiny_split.dense(layout="sideways")


def test_validation_slice_is_seeded_disjoint_and_from_train(tiny_split):
    carved = tiny_split.with_validation(0.25, seed=3)
    again = tiny_split.with_validation(0.25, seed=3)
    np.testing.assert_array_equal(carved.test.users, again.test.users)
    assert len(carved.train) + len(carved.test) == len(tiny_split.train)
    keys = lambda r: set(zip(r.users.tolist(), r.items.tolist()))  # noqa: E731
    assert not keys(carved.train) & keys(carved.test)
    assert keys(carved.test) <= keys(tiny_split.train)
    assert carved.n_users == tiny_split.n_users
    with pytest.raises(ValueError, match="validation fraction"):
        tiny_split.with_validation(0.0)


def test_subsample_train_keeps_test(tiny_split):
    reduced = tiny_split.subsample_train(0.5, seed=1)
    assert len(reduced.train) == round(0.5 * len(tiny_split.train))
    assert reduced.test is tiny_split.test


def test_empty_split_is_rejected():
    frame = pd.DataFrame({"user": [1, 2], "item": [1, 1], "rating": [3.0, 4.0]})
    with pytest.raises(EmptySplitError, match="the test part is empty"):
        split_from_frames("toy", "empty", frame, frame.iloc[:0], (1.0, 5.0))
    with pytest.raises(EmptySplitError, match="the train part is empty"):
        split_from_frames("toy", "empty", frame.iloc[:0], frame, (1.0, 5.0))


def test_pair_in_both_parts_is_rejected():
    frame = pd.DataFrame({"user": [1, 2], "item": [1, 1], "rating": [3.0, 4.0]})
    with pytest.raises(InvalidRatingsError, match="rated twice"):
        split_from_frames("toy", "leaky", frame, frame.iloc[:1], (1.0, 5.0))


def test_unknown_split_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="unknown split 'u9'.*u1, u2"):
        load_split("ml-100k", "u9")
    with pytest.raises(UnknownNameError, match="unknown dataset"):
        load_split("netflix")
    for not_text in (3, ["u1"]):  # a TypeError from the name's pattern before
        with pytest.raises(UnknownNameError, match="a split is named by text, such as 'u1'"):
            load_split("ml-100k", not_text)
    check_split_name("ml-100k", "u1")
    check_split_name("ml-100k", "u1/validation-0.1-seed0")  # a slice of a known split
    for name in ("u9", "u9/validation-0.1-seed0", 3):
        with pytest.raises(UnknownNameError, match="unknown split .* known splits: u1"):
            check_split_name("ml-100k", name)


def test_validation_slice_loads_by_its_own_name():
    carved = load_split("ml-100k", "u1").with_validation(0.1, seed=2)
    again = load_split("ml-100k", carved.name)
    assert again.name == carved.name == "u1/validation-0.1-seed2"
    np.testing.assert_array_equal(again.test.ratings, carved.test.ratings)
    np.testing.assert_array_equal(again.train.users, carved.train.users)
    with pytest.raises(UnknownNameError, match="validation fraction must lie in"):
        load_split("ml-100k", "u1/validation-1.5-seed0")
    with pytest.raises(UnknownNameError, match="unknown split 'u9'"):
        load_split("ml-100k", "u9/validation-0.1-seed0")


def test_synthetic_split_is_seeded_and_sized():
    from recsys_lib.splits import synthetic_split

    first, again = synthetic_split(seed=3), synthetic_split(seed=3)
    assert len(first.train) + len(first.test) == 700
    np.testing.assert_array_equal(first.test.ratings, again.test.ratings)
    assert set(np.unique(first.train.ratings)) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_a_long_validation_fraction_loads_the_split_it_names(tiny_split):
    """The name kept six digits (0.1234567 was named 0.123457, a different split when
    loaded by that name); a fraction written otherwise than its name is refused."""
    carved = tiny_split.with_validation(0.1234567, seed=3)
    assert carved.name == "synthetic/validation-0.1234567-seed3"
    long = load_split("ml-100k", "u1/validation-0.1234567-seed0")
    assert long.name == "u1/validation-0.1234567-seed0"
    assert len(long.test) == round(0.1234567 * 80000)
    for seed in (1.5, -1, True, 2**32):  # a name would say another seed than the one drawn
        with pytest.raises(ValueError, match="validation seed must be a whole number"):
            tiny_split.with_validation(0.1, seed=seed)
    for written in ("0.10", "1e-1", "0.1-seed01"):
        name = f"u1/validation-{written}" + ("" if "seed" in written else "-seed1")
        with pytest.raises(UnknownNameError, match="write it as 'u1/validation-0.1-seed1'"):
            load_split("ml-100k", name)
