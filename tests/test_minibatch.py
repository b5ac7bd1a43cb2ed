"""Minibatch torch models and DDP: sparse-i-autorec (models/minibatch.py), biased-mf-ddp
(models/mf.py) and the process handling they share (recsys_lib/distributed.py)."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_lib import distributed
from recsys_lib.errors import InvalidParameterError
from recsys_lib.models import create_model
from recsys_lib.models.minibatch import ItemRows
from recsys_lib.splits import load_split, split_from_frames
from recsys_lib.training import run

from _cli import assert_user_error, cli

FAST = {"sparse-i-autorec": {"n_hidden": 8, "reg": 1.0, "lr": 0.02, "lr_decay": 1.0,
                             "batch_size": 8, "n_epochs": 40},
        "biased-mf-ddp": {"n_factors": 4, "lr": 0.05, "reg": 0.05, "batch_size": 32,
                          "n_epochs": 40}}
NAMES = sorted(FAST)
#: short runs on ML-100K u1 for the equality of one process and two
DDP = {"sparse-i-autorec": {"n_hidden": 50, "n_epochs": 2, "validation_fraction": 0.0},
       "biased-mf-ddp": {"n_factors": 16, "n_epochs": 2, "validation_fraction": 0.0}}


@pytest.mark.parametrize("name", NAMES)
def test_learns_better_than_global_mean(name, tiny_split):
    mean = run("global-mean", "tiny", tiny_split)["rmse"]
    assert run(name, "tiny", tiny_split, params=FAST[name])["rmse"] < mean


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_rmse_and_another_seed_another(name, tiny_split):
    first = run(name, "tiny", tiny_split, seed=3, params=FAST[name])["rmse"]
    assert run(name, "tiny", tiny_split, seed=3, params=FAST[name])["rmse"] == first
    assert run(name, "tiny", tiny_split, seed=4, params=FAST[name])["rmse"] != first


def _split_with_unseen(tiny_split):
    """The tiny split plus a user and an item that occur only in the test part."""
    train, test = tiny_split.train.to_frame(), tiny_split.test.to_frame()
    extra = pd.DataFrame({"user": [100, 0], "item": [0, 100], "rating": [4.0, 2.0]})
    return split_from_frames("tiny", "unseen", train, pd.concat([test, extra]), (1.0, 5.0))


@pytest.mark.parametrize("name", NAMES)
def test_unseen_pairs_get_the_fallback_and_are_finite(name, tiny_split):
    split = _split_with_unseen(tiny_split)
    model = create_model(name, seed=0, **FAST[name]).fit(split)
    users, items = np.array([split.n_users - 1, 0]), np.array([0, split.n_items - 1])
    assert not split.seen_in_train()[0][users[0]] and not split.seen_in_train()[1][items[1]]
    predicted = model.predict(users, items)
    assert np.isfinite(predicted).all()
    if name == "sparse-i-autorec":
        np.testing.assert_allclose(predicted, [3.0, 3.0])


def test_item_rows_gather_every_rating_of_the_asked_items():
    rng = np.random.default_rng(0)
    items, users = rng.integers(0, 30, 500), rng.integers(0, 40, 500)
    ratings = rng.integers(1, 6, 500).astype(np.float32)
    rows = ItemRows(items, users, ratings, 30, 40)
    asked = np.array([7, 2, 29])
    block, mask = rows.dense(asked, "cpu")
    for local, item in enumerate(asked):
        mine = items == item
        assert int(mask[local].sum()) == len(set(users[mine]))
        assert set(np.flatnonzero(mask[local].numpy())) == set(users[mine])
    assert block.shape == (3, 40)


def test_one_batch_of_every_item_is_the_dense_objective_over_the_ratings(tiny_split):
    """L_B with B = every item is the dense AutoRec's objective divided by |R|: the same
    weights give the same value in both models' code."""
    from recsys_lib.models.autorec import _SparseAutoRecProblem, initial_weights
    from recsys_lib.models.minibatch import ItemAutoencoder, batch_loss

    train, reg, hidden = tiny_split.train, 3.0, 6
    weights = initial_weights(tiny_split.n_users, hidden, 0, 3.5, "glorot")
    problem = _SparseAutoRecProblem(train.items, train.users, train.ratings,
                                    tiny_split.n_items, tiny_split.n_users, hidden, reg,
                                    "sigmoid", "identity", (1.0, 5.0), torch.float64, "cpu")
    dense, _ = problem.loss_grad(np.concatenate([w.reshape(-1) for w in weights]))
    module = ItemAutoencoder(weights, "sigmoid", "identity", (1.0, 5.0))  # float32
    rows = ItemRows(train.items, train.users, train.ratings, tiny_split.n_items,
                    tiny_split.n_users)
    every = np.arange(tiny_split.n_items)
    loss, sse, count = batch_loss(module, module, rows, every, every,
                                  reg / (2 * len(train.ratings)), 1, "cpu")
    assert count == len(train.ratings)
    assert float(loss.detach()) == pytest.approx(dense / len(train.ratings), rel=1e-5)
    # two processes' shares, each times the world size, average to the same loss
    halves = [batch_loss(module, module, rows, every[r::2], every,
                         reg / (2 * len(train.ratings)), 2, "cpu")[0] for r in range(2)]
    assert float(sum(halves).detach() / 2) == pytest.approx(float(loss.detach()), rel=1e-6)


def test_shard_splits_a_batch_without_loss_or_overlap():
    batch = torch.arange(11)
    parts = [distributed.shard(batch, rank, 3) for rank in range(3)]
    assert sorted(torch.cat(parts).tolist()) == list(range(11))
    assert [len(p) for p in parts] == [4, 4, 3]


def test_free_port_can_be_listened_on():
    port = distributed.free_port()
    with socket.socket() as server:
        server.bind((distributed.HOST, port))
    assert 1024 <= port <= 65535


def test_backend_and_device_per_rank():
    assert distributed.backend(torch.device("cpu")) == "gloo"
    assert distributed.backend(torch.device("cuda")) == "nccl"
    assert distributed.rank_device(torch.device("cuda"), 1) == torch.device("cuda", 1)
    assert distributed.rank_device(torch.device("cpu"), 1) == torch.device("cpu")


@pytest.mark.parametrize("name", NAMES)
def test_bad_world_size_is_refused(name, tiny_split):
    with pytest.raises(InvalidParameterError, match="world_size"):
        create_model(name, world_size=0)
    too_many = distributed.max_world_size(torch.device("cpu")) + 1
    with pytest.raises(InvalidParameterError, match=f"world_size {too_many} exceeds"):
        create_model(name, world_size=too_many, device="cpu").fit(tiny_split)


def test_bad_world_size_on_the_command_line_is_one_line_and_exit_2():
    result = cli("train", "biased-mf-ddp", "--dataset", "ml-100k", "--split", "u1",
                 "--param", "world_size=4096", "--param", "device=cpu")
    assert_user_error(result, "world_size 4096 exceeds")
    assert_user_error(cli("train", "sparse-i-autorec", "--dataset", "ml-100k",
                          "--param", "world_size=0"), "world_size")


def _held_elements(n_users: int, n_items: int) -> int:
    """Train sparse-i-autorec one epoch on 3,000 random ratings in an n_users x n_items
    matrix; the elements its parameters and its largest batch tensor hold."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": rng.integers(0, n_users, 3000),
                          "item": rng.integers(0, n_items, 3000),
                          "rating": rng.integers(1, 6, 3000).astype(float)})
    frame = frame.drop_duplicates(["user", "item"]).reset_index(drop=True)
    frame.loc[len(frame)] = [n_users - 1, n_items - 1, 3.0]  # the full index space
    split = split_from_frames("wide", "random", frame.iloc[50:], frame.iloc[:50], (1.0, 5.0))
    model = create_model("sparse-i-autorec", n_hidden=4, batch_size=8, n_epochs=1,
                         validation_fraction=0.0, seed=0).fit(split)
    parameters = sum(p.numel() for p in model.module_.parameters())
    return parameters + model.batch_elements_


def test_memory_grows_with_the_ratings_and_users_not_users_times_items():
    small = _held_elements(1_000, 1_000)
    large = _held_elements(20_000, 20_000)  # 400 times the cells, the same ratings
    assert large < 30 * small  # linear in the users (20x), never the 400x of the matrix
    assert large < 20_000 * 20_000 / 1000


@pytest.mark.parametrize("name", NAMES)
def test_ddp_world_size_2_equals_world_size_1_on_ml100k(name):
    split = load_split("ml-100k", "u1")
    one = run(name, "ml-100k", split, seed=0, params={**DDP[name], "world_size": 1})
    two = run(name, "ml-100k", split, seed=0, params={**DDP[name], "world_size": 2})
    assert abs(one["rmse"] - two["rmse"]) < 1e-4, (one["rmse"], two["rmse"])
    assert one["rmse"] < 1.1
    for a, b in zip(one["curve"], two["curve"]):
        assert abs(a["train_rmse"] - b["train_rmse"]) < 1e-4
