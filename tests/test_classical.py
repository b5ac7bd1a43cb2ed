"""The classical models: SVD, biased MF, neighbourhood models, Asymmetric-SVD, SVD++, integrated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_lib.errors import InvalidParameterError, TrainingDivergedError
from recsys_lib.metrics import rmse
from recsys_lib.models import available_models, create_model
from recsys_lib.models.neighbourhood import GlobalNeighborhood, KNNPearson
from recsys_lib.models.mf_sgd import BiasedMFSGD
from recsys_lib.models.svd import TruncatedSVD
from recsys_lib.models.svdpp import SVDpp
from recsys_lib.splits import split_from_frames
from recsys_lib.training import fit, run

OURS = ["svd-truncated", "biased-mf-sgd", "knn-pearson", "global-neighborhood",
        "asymmetric-svd", "svdpp", "integrated"]
SMALL = {  # settings that suit a 30 x 20 matrix
    "svd-truncated": {"n_factors": 2},
    "biased-mf-sgd": {"n_factors": 4, "n_epochs": 30, "lr": 0.02, "batch_size": 32},
    "knn-pearson": {"k": 5},
    "global-neighborhood": {"k": 5, "reg_weights": 1.0},
    "asymmetric-svd": {"n_factors": 4, "n_epochs": 50},
    "svdpp": {"n_factors": 4},
    "integrated": {"n_factors": 4, "k": 5, "reg_weights": 1.0},
}


def test_all_registered():
    assert set(OURS) <= set(available_models())


@pytest.mark.parametrize("name", OURS)
def test_learns_better_than_global_mean(tiny_split, name):
    ours = run(name, "tiny", tiny_split, params=SMALL[name])
    mean = run("global-mean", "tiny", tiny_split)
    assert ours["rmse"] < mean["rmse"], (ours["rmse"], mean["rmse"])


@pytest.mark.parametrize("name", ["biased-mf-sgd", "svdpp", "integrated", "asymmetric-svd"])
def test_same_seed_same_rmse(tiny_split, name):
    first = run(name, "tiny", tiny_split, seed=3, params=SMALL[name])
    second = run(name, "tiny", tiny_split, seed=3, params=SMALL[name])
    assert first["rmse"] == second["rmse"]


def test_different_seed_changes_sgd(tiny_split):
    first = run("biased-mf-sgd", "tiny", tiny_split, seed=1, params=SMALL["biased-mf-sgd"])
    second = run("biased-mf-sgd", "tiny", tiny_split, seed=2, params=SMALL["biased-mf-sgd"])
    assert first["rmse"] != second["rmse"]


@pytest.fixture
def unseen_split():
    """Users 0-9 and items 0-7 in training; user 10 and item 8 appear only in the test part."""
    rng = np.random.default_rng(1)
    rows = [(u, i, float(rng.integers(1, 6))) for u in range(10) for i in range(8)
            if rng.random() < 0.7 and (u, i) != (1, 1)]
    train = pd.DataFrame(rows, columns=["user", "item", "rating"])
    test = pd.DataFrame([(10, 0, 4.0), (0, 8, 3.0), (10, 8, 5.0), (1, 1, 2.0)],
                        columns=["user", "item", "rating"])
    return split_from_frames("unseen", "synthetic", train, test, (1.0, 5.0))


@pytest.mark.parametrize("name", OURS)
def test_unseen_users_and_items_get_finite_predictions(unseen_split, name):
    params = {key: value for key, value in SMALL[name].items() if key != "batch_size"}
    if "k" in params:
        params["k"] = 3
    model, _ = fit(name, unseen_split, params=params)
    predictions = model.predict(unseen_split.test.users, unseen_split.test.items)
    assert predictions.shape == (4,) and np.isfinite(predictions).all()
    assert type(model).unseen_fallback


@pytest.mark.parametrize("name", ["svdpp", "integrated", "knn-pearson", "global-neighborhood"])
def test_fallback_is_the_bias(unseen_split, name):
    model, _ = fit(name, unseen_split, params={"k": 3} if "k" in SMALL[name] else {})
    users, items = unseen_split.test.users, unseen_split.test.items
    user_idx = int(np.flatnonzero(unseen_split.user_ids == 10)[0])
    item_idx = int(np.flatnonzero(unseen_split.item_ids == 8)[0])
    pred = dict(zip(zip(users.tolist(), items.tolist()),
                    model.predict(users, items).tolist()))
    mu = float(np.mean(unseen_split.train.ratings, dtype=np.float64))
    both = pred[(user_idx, item_idx)]
    if name == "knn-pearson":  # the fixed ALS baseline
        mu = model.mu_
    assert both == pytest.approx(mu, abs=1e-5)


def test_svd_baseline_fill_falls_back_to_baseline(unseen_split):
    model, _ = fit("svd-truncated", unseen_split, params={"n_factors": 2})
    u = np.flatnonzero(unseen_split.user_ids == 10)
    i = np.flatnonzero(unseen_split.item_ids == 8)
    assert model.predict(u, i)[0] == pytest.approx(model.mu_)


def test_nan_loss_raises(tiny_split):
    with pytest.raises(TrainingDivergedError):
        fit("biased-mf-sgd", tiny_split, params={"lr": 1e6, "n_epochs": 5})


@pytest.mark.parametrize("make", [
    lambda: SVDpp(n_factors=0), lambda: SVDpp(reg_factors=-1.0), lambda: BiasedMFSGD(lr=0.0),
    lambda: BiasedMFSGD(batch_size=2.5), lambda: KNNPearson(k=0), lambda: TruncatedSVD(fill="x"),
    lambda: GlobalNeighborhood(reg_weights=0.0)])
def test_bad_params(make):
    with pytest.raises(InvalidParameterError):
        make()


def test_unknown_param_is_named():
    with pytest.raises(InvalidParameterError, match="svdpp"):
        create_model("svdpp", n_factorz=3)


def test_zero_fill_svd_is_the_wrong_tool(tiny_split):
    zero = run("svd-truncated", "tiny", tiny_split, params={"n_factors": 2, "fill": "zero"})
    base = run("svd-truncated", "tiny", tiny_split, params={"n_factors": 2, "fill": "baseline"})
    assert zero["rmse"] > base["rmse"] + 0.3


def test_ml100k_headlines():
    """The part's headline figures on ML-100K u1 (each fit takes seconds)."""
    from recsys_lib.splits import load_split

    split = load_split("ml-100k", "u1")
    svdpp = run("svdpp", "ml-100k", split)
    knn = run("knn-pearson", "ml-100k", split)
    assert svdpp["rmse"] <= 0.930, svdpp["rmse"]
    assert knn["rmse"] <= 0.936, knn["rmse"]
    again = run("svdpp", "ml-100k", split)
    assert again["rmse"] == svdpp["rmse"]
    # the metrics' clip is the only clip: predictions are returned unclipped
    model, _ = fit("svdpp", split)
    raw = model.predict(split.test.users, split.test.items)
    assert rmse(split.test.ratings, raw, split.rating_scale) == pytest.approx(svdpp["rmse"])


def test_knn_pearson_is_its_formula_with_ties_in_item_order():
    """Every prediction equals the formula computed pair by pair in float64: the k rated
    items most similar to the target (equal similarities in item order, as Surprise's
    KNNBaseline takes them), the positive similarities weighting the residuals. On u1 a
    tie at the k-th place is common (one common rater gives 1/101), so the order matters."""
    from recsys_lib.splits import load_split

    u1 = load_split("ml-100k", "u1")
    model = create_model("knn-pearson").fit(u1)
    pairs = np.random.default_rng(0).choice(len(u1.test.users), 400, replace=False)
    users, items = u1.test.users[pairs], u1.test.items[pairs]
    similarity = model.similarity_.numpy().astype(np.float64)
    residuals = model.residuals_.numpy().astype(np.float64)
    rated = [np.flatnonzero(row) for row in model.mask_.numpy()]
    expected, boundary_ties = [], 0
    for user, item in zip(users, items):
        sims = similarity[item, rated[user]]
        order = sorted(range(len(sims)), key=lambda c: sims[c], reverse=True)
        top = order[:model.k]
        boundary_ties += len(sims) > model.k and sims[order[model.k]] == sims[top[-1]] > 0
        weights = np.maximum(sims[top], 0.0)
        offset = weights @ residuals[user, rated[user][top]] / weights.sum() \
            if weights.sum() > 0 else 0.0
        base = float(model.mu_ + model.b_user_[user] + model.b_item_[item])
        expected.append(base + offset)
    assert boundary_ties >= 5
    assert np.abs(model.predict(users, items) - np.array(expected)).max() < 1e-5


def test_knn_pearson_without_shrinkage_has_no_nan_similarity():
    """shrinkage=0 (an exercise of the neighbourhood chapter): items with no common rater
    get similarity 0, never 0/0, which would crowd the real neighbours out of the top k."""
    from recsys_lib.splits import load_split

    u1 = load_split("ml-100k", "u1")
    model = create_model("knn-pearson", shrinkage=0.0).fit(u1)
    common = model.mask_.T @ model.mask_
    assert (common == 0).any()
    assert not model.similarity_.isnan().any()
    assert (model.similarity_[common == 0] == 0).all()
    assert np.isfinite(model.predict(u1.test.users[:2000], u1.test.items[:2000])).all()



def test_svd_truncated_on_one_user_and_on_all_equal_ratings():
    """ARPACK refused both (k >= the short side; a zero starting vector): one user is
    factored exactly, all-equal ratings leave nothing to factor."""
    one = pd.DataFrame({"user": 1, "item": range(10), "rating": [3, 4, 5, 1, 2, 3, 4, 5, 1, 2]})
    split = split_from_frames("one", "user", one.iloc[:7], one.iloc[7:], (1.0, 5.0))
    for fill in ("zero", "global-mean", "item-mean", "baseline"):
        model = create_model("svd-truncated", n_factors=1, fill=fill).fit(split)
        train = split.train
        fitted = model.predict(train.users, train.items)
        np.testing.assert_allclose(fitted, train.ratings, atol=1e-9)  # rank 1 is exact here
        assert np.isfinite(model.predict(split.test.users, split.test.items)).all()
    equal = pd.DataFrame({"user": np.repeat(np.arange(20), 5), "item": np.tile(np.arange(5), 20),
                          "rating": 4.0})
    split = split_from_frames("equal", "ratings", equal.iloc[5:], equal.iloc[:5], (1.0, 5.0))
    for fill in ("global-mean", "item-mean", "baseline"):
        model = create_model("svd-truncated", n_factors=2, fill=fill).fit(split)
        np.testing.assert_allclose(model.predict(split.test.users, split.test.items), 4.0)


def test_svd_truncated_refuses_more_factors_than_the_matrix_has(tiny_split):
    """It clamped n_factors silently (to 942 on ML-100K) while its params kept the value
    asked; now the fit refuses it, naming the largest rank, and that rank itself works."""
    with pytest.raises(InvalidParameterError, match=r"n_factors=100000 .* choose n_factors <= 20"):
        create_model("svd-truncated", n_factors=100000).fit(tiny_split)
    full = create_model("svd-truncated", n_factors=20, fill="zero").fit(tiny_split)
    assert full.get_params()["n_factors"] == 20 and full.singular_values_.shape == (20,)
    dense = tiny_split.dense("train", "users_by_items")[0].astype(np.float64)
    np.testing.assert_allclose(full.singular_values_, np.linalg.svd(dense, compute_uv=False),
                               atol=1e-9)
