"""The one metric implementation: clipping, NaN handling and top-k metrics on hand examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys_lib.errors import InvalidParameterError
from recsys_lib.metrics import mae, ranking_metrics, rating_metrics, rmse


def test_rmse_and_mae_on_a_hand_example():
    assert rmse([1, 3, 5], [2, 3, 4], (1, 5)) == pytest.approx(math.sqrt(2 / 3))
    assert mae([1, 3, 5], [2, 3, 4], (1, 5)) == pytest.approx(2 / 3)


def test_predictions_are_clipped_to_the_scale():
    assert rmse([5, 1], [7.5, -3], (1, 5)) == 0.0
    assert rating_metrics([5.0], [5.4], (1, 5)) == {"rmse": 0.0, "mae": 0.0}


def test_nan_predictions_raise_instead_of_scoring():
    with pytest.raises(ValueError, match="1 of 3 predictions are NaN"):
        rmse([1, 2, 3], [1, np.nan, 3], (1, 5))


def test_shape_mismatch_and_empty_input_raise():
    with pytest.raises(ValueError, match="3 true ratings but 2 predictions"):
        mae([1, 2, 3], [1, 2], (1, 5))
    with pytest.raises(ValueError, match="no ratings"):
        rmse([], [], (1, 5))


def test_ranking_metrics_on_a_hand_example():
    # User 0: items rated 5, 1, 4 predicted 4.5, 4.9, 2.0 -> ranking: item(1), item(5), item(4)
    # User 1: one item rated 2: no relevant item, left out.
    users = [0, 0, 0, 1]
    truth = [5, 1, 4, 2]
    pred = [4.5, 4.9, 2.0, 3.0]
    scores = ranking_metrics(users, truth, pred, k=2)
    assert scores["ranked_users"] == 1
    assert scores["precision@2"] == pytest.approx(1 / 2)
    assert scores["recall@2"] == pytest.approx(1 / 2)
    dcg = 1 / math.log2(3)            # the relevant item sits at rank 2
    idcg = 1 + 1 / math.log2(3)       # two relevant items could fill ranks 1 and 2
    assert scores["ndcg@2"] == pytest.approx(dcg / idcg)


def test_ranking_cut_offs_and_lengths_are_checked():
    """k=0 gave NaN with numpy's warning; columns of other lengths, pandas' message."""
    users, truth, pred = [0, 0, 0, 1], [5, 1, 4, 2], [4.5, 4.9, 2.0, 3.0]
    with pytest.raises(InvalidParameterError, match="k must be an integer >= 1, got 0"):
        ranking_metrics(users, truth, pred, k=0)
    with pytest.raises(InvalidParameterError, match="threshold must be a finite number"):
        ranking_metrics(users, truth, pred, threshold=float("nan"))
    with pytest.raises(ValueError, match="differ in length: 3, 4, 4"):
        ranking_metrics(users[:3], truth, pred)
    # a k past every user's items: precision still divides by k, the rest as at k = 3
    far, near = ranking_metrics(users, truth, pred, k=10**9), ranking_metrics(users, truth,
                                                                           pred, k=3)
    assert far["recall@1000000000"] == near["recall@3"] == 1.0
    assert far["ndcg@1000000000"] == pytest.approx(near["ndcg@3"])


def test_ranking_ties_are_broken_by_position():
    first = ranking_metrics([0, 0], [5, 1], [3.0, 3.0], k=1)
    second = ranking_metrics([0, 0], [1, 5], [3.0, 3.0], k=1)
    assert first["precision@1"] == 1.0 and second["precision@1"] == 0.0
