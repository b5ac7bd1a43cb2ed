"""Registry, baseline models, Surprise wrappers, unseen users and items, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_lib.errors import InvalidParameterError, TrainingDivergedError, UnknownNameError
from recsys_lib.models import available_models, create_model
from recsys_lib.splits import split_from_frames
from recsys_lib.torch_utils import check_finite
from recsys_lib.training import evaluate, fit, run, score

FOUNDATION_MODELS = ["baseline", "global-mean", "surprise-baseline", "surprise-knnbaseline",
                     "surprise-svd", "surprise-svdpp"]


@pytest.fixture
def cold_split():
    """User 3 and item 30 occur only in the test part."""
    train = pd.DataFrame({"user": [1, 1, 2, 2, 1], "item": [10, 20, 10, 20, 30 - 5],
                          "rating": [5.0, 3.0, 4.0, 2.0, 4.0]})
    test = pd.DataFrame({"user": [3, 1, 3], "item": [10, 30, 30], "rating": [4.0, 4.0, 3.0]})
    return split_from_frames("toy", "cold", train, test, (1.0, 5.0))


def test_foundation_models_are_registered():
    assert set(FOUNDATION_MODELS) <= set(available_models())


def test_unknown_model_and_bad_parameter():
    with pytest.raises(UnknownNameError, match="unknown model 'svd\\+\\+\\+'"):
        create_model("svd+++")
    with pytest.raises(InvalidParameterError, match="baseline has no parameter 'learning_rate'"):
        create_model("baseline", learning_rate=0.1)


@pytest.mark.parametrize("name", FOUNDATION_MODELS)
def test_models_beat_nothing_and_handle_unseen(name, tiny_split, cold_split):
    model = create_model(name, seed=0).fit(tiny_split)
    scores = evaluate(model, tiny_split)
    assert np.isfinite(scores["rmse"]) and scores["rmse"] < 1.5
    cold = create_model(name, seed=0).fit(cold_split)
    predictions = cold.predict(cold_split.test.users, cold_split.test.items)
    assert predictions.shape == (3,) and np.all(np.isfinite(predictions))


def test_baseline_fallback_for_unseen_user_and_item(cold_split):
    model = create_model("baseline").fit(cold_split)
    unseen_user, unseen_item = 2, 3  # indices of user 3 and item 30 in the index space
    seen_item = 0                   # item 10
    both_unseen = model.predict([unseen_user], [unseen_item])[0]
    assert both_unseen == pytest.approx(model.mu_)
    assert model.predict([unseen_user], [seen_item])[0] == \
        pytest.approx(model.mu_ + model.b_item_[seen_item])


def test_indices_outside_the_model_raise_index_error(tiny_split):
    model = create_model("baseline").fit(tiny_split)
    with pytest.raises(IndexError, match="user indices must lie in \\[0, 30\\)"):
        model.predict([30], [0])


def test_baseline_matches_surprise_on_u1():
    ours = run("baseline", "ml-100k", "u1")
    theirs = run("surprise-baseline", "ml-100k", "u1")
    assert ours["rmse"] == pytest.approx(0.960, abs=0.005)
    assert abs(ours["rmse"] - theirs["rmse"]) <= 0.005
    assert (ours["n_train"], ours["n_test"]) == (80_000, 20_000)


def test_same_seed_same_rmse(tiny_split):
    first = run("surprise-svd", "tiny", tiny_split, seed=7)
    second = run("surprise-svd", "tiny", tiny_split, seed=7)
    other = run("surprise-svd", "tiny", tiny_split, seed=8)
    assert first["rmse"] == second["rmse"] and first["rmse"] != other["rmse"]


def test_nan_loss_raises_training_diverged():
    assert check_finite(0.5, "epoch 1") == 0.5
    with pytest.raises(TrainingDivergedError, match="became nan at epoch 3"):
        check_finite(float("nan"), "epoch 3")


def test_fit_and_score_agree_with_run(tiny_split):
    model, seconds = fit("baseline", tiny_split, seed=0)
    predictions = model.predict(tiny_split.test.users, tiny_split.test.items)
    scores = score(tiny_split, predictions, k=5)
    summary = run("baseline", "tiny", tiny_split, seed=0)
    assert seconds >= 0 and scores["rmse"] == pytest.approx(summary["rmse"])
    assert {"precision@10", "recall@10", "ndcg@10"} <= set(summary)
    assert {"precision@5", "recall@5", "ndcg@5"} <= set(scores) and 0 <= scores["ndcg@5"] <= 1


@pytest.mark.parametrize("name", available_models())
def test_get_params_reports_every_constructor_argument(name):
    import inspect

    from recsys_lib.models import get_model_class

    cls = get_model_class(name)
    named = [p.name for p in inspect.signature(cls.__init__).parameters.values()
             if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD]
    params = create_model(name).get_params()
    assert set(named) <= set(params)  # Surprise wrappers add their algorithm's options
    assert create_model(name, seed=7).get_params()["seed"] == 7


@pytest.mark.parametrize("name, options", [
    ("surprise-svd", {"n_epochs": 3}),
    ("surprise-svdpp", {"n_epochs": 3}),
    ("surprise-knnbaseline", {}),
    ("surprise-knnbaseline", {"k": 3, "min_k": 2}),
])
def test_vectorised_surprise_predict_equals_surprise_per_pair(name, options):
    """The batched predict of SVD, SVDpp and item-based KNNBaseline gives Surprise's own
    ``predict`` for every pair: known and unseen users and items, training pairs (where an
    item is its own neighbour) and the pairs of the test part."""
    from recsys_lib.models.surprise_models import SurpriseModel
    from recsys_lib.splits import load_split

    u1 = load_split("ml-100k", "u1")
    model = create_model(name, **options).fit(u1)
    rng = np.random.default_rng(0)
    users = np.concatenate([u1.test.users[:3000], u1.train.users[:500],
                            rng.integers(0, u1.n_users, 3000)])
    items = np.concatenate([u1.test.items[:3000], u1.train.items[:500],
                            rng.integers(0, u1.n_items, 3000)])
    unseen = ~np.isin(items, u1.train.items)
    assert unseen.any()  # u1's test part has items no training rating names
    batched = model.predict(users, items)
    per_pair = SurpriseModel.predict(model, users, items)
    assert np.abs(batched - per_pair).max() <= 1e-12


def test_top_k_stable_is_sorted_reverse_then_cut():
    from recsys_lib.models.base import top_k_stable

    rng = np.random.default_rng(1)
    values = rng.integers(-3, 4, size=(200, 30)).astype(float)  # many ties
    for k in (1, 5, 30, 40):
        chosen = top_k_stable(values, k)
        for row, columns in zip(values, chosen):
            expected = sorted(range(len(row)), key=lambda c: row[c], reverse=True)[:k]
            assert list(columns) == expected


def test_row_chunks_cover_positions_in_order_within_budget():
    from recsys_lib.models.base import row_chunks

    positions = np.arange(1000) * 3
    for width, budget in ((7, 100), (1, 10), (500, 100), (0, 64)):
        pieces = list(row_chunks(positions, width, budget))
        assert np.array_equal(np.concatenate(pieces), positions)
        assert all(len(piece) * max(width, 1) <= max(budget, max(width, 1))
                   for piece in pieces)
    assert list(row_chunks(positions[:0], 5)) == []


@pytest.mark.parametrize("name, module", [("surprise-knnbaseline", "surprise_models"),
                                          ("surprise-svd", "surprise_models"),
                                          ("knn-pearson", "neighbourhood")])
def test_predict_in_small_pieces_is_unchanged(monkeypatch, name, module):
    """Cutting the pairs into pieces (to bound memory on ML-1M's whole catalogue: 22 M
    pairs in one call) changes no prediction: each row's neighbours and sums are its own."""
    import importlib

    from recsys_lib.models import base
    from recsys_lib.splits import load_split

    u1 = load_split("ml-100k", "u1")
    model = create_model(name).fit(u1)
    users = np.repeat(np.arange(40), 50)
    items = np.random.default_rng(2).integers(0, u1.n_items, len(users))
    whole = model.predict(users, items)
    monkeypatch.setattr(importlib.import_module(f"recsys_lib.models.{module}"), "row_chunks",
                        lambda positions, width: base.row_chunks(positions, width, 300))
    assert np.array_equal(model.predict(users, items), whole)
