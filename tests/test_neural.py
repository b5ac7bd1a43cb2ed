"""The neural models: embedding MF and the AutoRec family (mf, biased-mf, i-autorec,
u-autorec, deep-ae)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recsys_lib.errors import InvalidParameterError, RecsysError, TrainingDivergedError
from recsys_lib.models import create_model
from recsys_lib.splits import Ratings, split_from_frames
from recsys_lib.training import run

# Small settings so each model trains on the tiny split in about a second.
FAST = {
    "mf": {"n_factors": 4, "lr": 0.05, "reg": 0.01, "batch_size": 32, "n_epochs": 40},
    "biased-mf": {"n_factors": 4, "lr": 0.05, "reg": 0.05, "batch_size": 32,
                  "n_epochs": 40},
    "i-autorec": {"n_hidden": 8, "reg": 1.0, "n_epochs": 60},
    "u-autorec": {"n_hidden": 8, "reg": 1.0, "n_epochs": 60},
    "deep-ae": {"n_hidden": [8], "dropout": 0.8, "reg": 0.01, "n_epochs": 60,
                "batch_size": 4, "lr": 0.01},
}
NAMES = sorted(FAST)


@pytest.mark.parametrize("name", ["biased-mf", "i-autorec", "u-autorec", "deep-ae"])
def test_learns_better_than_global_mean(name, tiny_split):
    mean = run("global-mean", "tiny", tiny_split)["rmse"]
    assert run(name, "tiny", tiny_split, params=FAST[name])["rmse"] < mean


def test_plain_mf_learns_something(tiny_split):
    # Plain MF has no offset: it must grow its embeddings to reach the rating level, so it is
    # only required to beat a constant prediction of the scale's midpoint.
    summary = run("mf", "tiny", tiny_split, params=FAST["mf"])
    assert summary["rmse"] < float(np.sqrt(np.mean((tiny_split.test.ratings - 3.0) ** 2)))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_rmse(name, tiny_split):
    first = run(name, "tiny", tiny_split, seed=3, params=FAST[name])["rmse"]
    assert run(name, "tiny", tiny_split, seed=3, params=FAST[name])["rmse"] == first


def _split_with_unseen(tiny_split):
    """The tiny split plus one user and one item that occur only in the test part."""
    train = tiny_split.train.to_frame()
    test = tiny_split.test.to_frame()
    extra = test.iloc[:0].copy()
    extra.loc[0] = [100, 0, 4.0]   # unseen user, seen item
    extra.loc[1] = [0, 100, 2.0]   # seen user, unseen item
    test = test.assign(user=test["user"], item=test["item"])
    import pandas as pd

    return split_from_frames("tiny", "unseen", train, pd.concat([test, extra]), (1.0, 5.0))


@pytest.mark.parametrize("name", ["i-autorec", "u-autorec", "deep-ae"])
def test_autorec_unseen_predicted_as_fallback_rating(name, tiny_split):
    split = _split_with_unseen(tiny_split)
    model = create_model(name, seed=0, **FAST[name]).fit(split)
    users = np.array([split.n_users - 1, 0])
    items = np.array([0, split.n_items - 1])
    assert not split.seen_in_train()[0][users[0]] and not split.seen_in_train()[1][items[1]]
    np.testing.assert_allclose(model.predict(users, items), [3.0, 3.0])
    model.set_params(fallback_rating=2.5)
    np.testing.assert_allclose(model.predict(users, items), [2.5, 2.5])


def test_biased_mf_unseen_falls_back_to_biases(tiny_split):
    split = _split_with_unseen(tiny_split)
    model = create_model("biased-mf", seed=0, **FAST["biased-mf"]).fit(split)
    new_user, new_item = split.n_users - 1, split.n_items - 1
    pred = model.predict(np.array([new_user, new_user, 0]), np.array([0, new_item, new_item]))
    assert np.all(np.isfinite(pred))
    # an unseen user and item together get the squashed global offset alone
    import torch

    lo, hi = model.range_
    offset = float(model.module_.offset.detach())
    assert pred[1] == pytest.approx(lo + (hi - lo) / (1 + np.exp(-offset)), rel=1e-5)
    # an unseen user gets mu + b_i: the same for every unseen user
    assert torch.is_tensor(model.module_.offset)


@pytest.mark.parametrize("name", NAMES)
def test_nan_loss_raises(name, tiny_split):
    ratings = tiny_split.train.ratings.copy()
    ratings[0] = np.nan
    broken = dataclasses.replace(tiny_split, train=Ratings(tiny_split.train.users,
                                                           tiny_split.train.items, ratings))
    with pytest.raises(TrainingDivergedError):
        create_model(name, seed=0, **FAST[name]).fit(broken)


@pytest.mark.parametrize("name, params", [
    ("mf", {"n_factors": 0}), ("biased-mf", {"lr": -1.0}),
    ("biased-mf", {"validation_fraction": 1.0}), ("mf", {"validation_fraction": -0.1}),
    ("i-autorec", {"hidden_act": "relu"}), ("u-autorec", {"reg": -1.0}),
    ("i-autorec", {"n_epochs": 0}), ("deep-ae", {"dropout": 1.5}),
    ("deep-ae", {"n_hidden": []}), ("deep-ae", {"optimizer": "lbfgs"}),
])
def test_bad_params_raise(name, params):
    with pytest.raises(InvalidParameterError, match=name):
        create_model(name, **params)


def test_unknown_param_is_named():
    with pytest.raises(RecsysError, match="n_factor"):
        create_model("biased-mf", n_factor=3)


def test_autorec_gradient_matches_autograd():
    import torch

    from recsys_lib.models.autorec import _SparseAutoRecProblem

    rng = np.random.default_rng(0)
    rows, cols = np.nonzero(rng.random((7, 9)) < 0.5)
    values = rng.integers(1, 6, len(rows)).astype(np.float32)
    for hidden_act in ("sigmoid", "identity"):
        for output_act in ("identity", "sigmoid"):
            problem = _SparseAutoRecProblem(rows, cols, values, 7, 9, 4, 0.7, hidden_act,
                                            output_act, (1.0, 5.0), torch.float64, "cpu")
            theta = problem.init_theta(0, 3.0, "glorot") + rng.normal(0, 0.1, sum(problem.sizes))
            loss, grad = problem.loss_grad(theta)
            t = torch.tensor(theta, requires_grad=True)
            V, mu, W, b = torch.split(t, problem.sizes)
            X = torch.zeros(7, 9, dtype=torch.float64)
            X[rows, cols] = torch.tensor(values, dtype=torch.float64)
            H = X @ V.view(9, 4) + mu
            H = torch.sigmoid(H) if hidden_act == "sigmoid" else H
            out = H @ W.view(4, 9) + b
            out = 1 + 4 * torch.sigmoid(out) if output_act == "sigmoid" else out
            ref = ((out[rows, cols] - X[rows, cols]) ** 2).sum() + \
                0.35 * ((W ** 2).sum() + (V ** 2).sum())
            ref.backward()
            assert loss == pytest.approx(ref.item(), rel=1e-10)
            np.testing.assert_allclose(grad, t.grad.numpy(), atol=1e-9)


def test_autorec_early_stopping_picks_the_iteration_on_validation(tiny_split):
    params = {**FAST["i-autorec"], "reg": 0.01, "n_epochs": 200, "validation_fraction": 0.2,
              "curve_every": 5, "patience": 2}
    kept = create_model("i-autorec", seed=1, **params, refit=False).fit(tiny_split)
    report = kept.report()
    curve = report["curve"]
    best = min(curve, key=lambda point: point["validation_rmse"])
    assert report["selected_epoch"] == best["epoch"]
    assert report["selected_by"] == "validation, restore"
    # stopped once `patience` scores in a row failed to improve on the best
    assert curve[-1]["epoch"] == best["epoch"] + 2 * 5 < 200
    carved = tiny_split.with_validation(0.2, seed=1)
    from recsys_lib.metrics import rmse
    held_out = rmse(carved.test.ratings, kept.predict(carved.test.users, carved.test.items),
                    tiny_split.rating_scale)
    assert held_out == pytest.approx(best["validation_rmse"])  # the best parameters were kept
    refit = create_model("i-autorec", seed=1, **params).fit(tiny_split).report()
    assert refit["lbfgs"]["iterations"] == best["epoch"]  # retrained on all training ratings
    assert refit["selected_by"] == "validation, refit"


def test_autorec_weight_decay_defaults_per_dataset(tiny_split):
    model = create_model("i-autorec", n_hidden=4, n_epochs=5)
    assert model.get_params()["reg"] is None
    assert model.fit(tiny_split).report()["resolved_params"]["reg"] == \
        model.DATASET_DEFAULTS["*"]["reg"]
    explicit = create_model("i-autorec", n_hidden=4, n_epochs=5, reg=7.0).fit(tiny_split)
    assert explicit.report()["resolved_params"]["reg"] == 7.0
    assert create_model("u-autorec").DATASET_DEFAULTS["ml-1m"]["reg"] > 0
    assert create_model("u-autorec").resolve_params("ml-1m") == {"reg": 400.0}


@pytest.mark.parametrize("name", ["mf", "biased-mf", "deep-ae", "i-autorec"])
def test_validation_fraction_zero_is_a_fixed_length(name, tiny_split):
    """0 means the same for every model: no slice, n_epochs as given."""
    params = {**FAST[name], "validation_fraction": 0.0}
    report = create_model(name, seed=0, **params).fit(tiny_split).report()
    assert report["selected_by"] == "fixed"
    assert report["selected_epoch"] == params.get("n_epochs", create_model(name).n_epochs)
    assert "validation_rmse" not in report
    assert all("validation_rmse" not in point for point in report["curve"])


@pytest.mark.parametrize("name", ["i-autorec", "u-autorec"])
def test_autorec_torch_lbfgs_path_matches_scipy(name, tiny_split):
    params = {**FAST[name], "validation_fraction": 0.2, "curve_every": 5, "patience": 3}
    scipy_run = run(name, "tiny", tiny_split, seed=0, params={**params, "optimizer": "scipy"})
    torch_run = run(name, "tiny", tiny_split, seed=0, params={**params, "optimizer": "torch"})
    assert torch_run["resolved_params"]["optimizer"] == "torch"
    assert torch_run["device"] == "cpu"
    # the same objective and the same L-BFGS rules: close, not identical (float32 vs float64
    # optimiser state, scipy's own line search)
    assert abs(torch_run["rmse"] - scipy_run["rmse"]) < 0.05
    assert torch_run["rmse"] < run("global-mean", "tiny", tiny_split)["rmse"]
    auto = create_model(name, **params)
    assert auto.get_params()["optimizer"] is None  # stored as given; resolved at fit
