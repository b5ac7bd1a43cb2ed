"""Top-N measures (recsys_lib/topn.py) at their edges: a test part with no relevant rating,
and a model asked before it is fitted."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from recsys_lib import topn
from recsys_lib.errors import InvalidParameterError, NotFittedError
from recsys_lib.models import create_model
from recsys_lib.splits import split_from_frames


def _no_relevant_test_rating():
    rng = np.random.default_rng(0)
    users, items = np.meshgrid(np.arange(30), np.arange(20), indexing="ij")
    frame = pd.DataFrame({"user": users.ravel(), "item": items.ravel(),
                          "rating": rng.integers(1, 6, users.size).astype(float)})
    test = rng.random(len(frame)) < 0.2
    low = frame[test].assign(rating=1.0)  # nothing reaches the relevance threshold
    return split_from_frames("t", "low", frame[~test], low, (1.0, 5.0))


def test_no_relevant_test_rating_is_undefined_without_a_warning():
    """It was NaN with numpy's empty-mean RuntimeWarning (a traceback under -W error)."""
    split = _no_relevant_test_rating()
    model = create_model("baseline").fit(split)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = topn.full_ranking(model, split)
        summary, ranks = topn.topn_summary(model, split, n_random=5)
        curve = topn.recall_curve(np.array([], dtype=np.int64), 5)
    assert full["users"] == 0 and np.isnan(full["recall@10"]) and np.isnan(full["ndcg@10"])
    assert summary["full_users"] == 0 and summary["koren_targets"] == len(ranks) == 0
    assert summary["full_recall@10"] is None and summary["full_ndcg@10"] is None
    assert summary["koren_recall"] is None and np.isnan(curve).all()


def test_most_popular_before_fit_is_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        topn.MostPopular().predict(np.array([0]), np.array([0]))


def test_bad_cut_offs_are_named_and_a_cut_off_past_the_items_ranks_them_all(tiny_split):
    """k=0 warned and gave NaN, k=-1 or a k past the items was a matmul shape error, and a
    threshold given as text a ufunc error."""
    model = create_model("baseline").fit(tiny_split)
    for call, words in ((lambda: topn.full_ranking(model, tiny_split, k=0), "k must be"),
                        (lambda: topn.full_ranking(model, tiny_split, k=-1), "k must be"),
                        (lambda: topn.full_ranking(model, tiny_split, threshold="4"),
                         "threshold must be a finite number"),
                        (lambda: topn.koren_ranks(model, tiny_split, n_random=0),
                         "n_random must be"),
                        (lambda: topn.recall_curve(np.array([0, 1]), max_n=0), "max_n must be")):
        with pytest.raises(InvalidParameterError, match=words):
            call()
    everything = topn.full_ranking(model, tiny_split, k=10**9)
    assert everything["recall@1000000000"] == 1.0
    assert everything["ndcg@1000000000"] == pytest.approx(
        topn.full_ranking(model, tiny_split, k=tiny_split.n_items)[f"ndcg@{tiny_split.n_items}"])
