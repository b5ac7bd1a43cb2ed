# Checks of chapter 3's exercises (see course/build.py for the format).
# %% common
import numpy as np
import pandas as pd
from recsys_lib.splits import split_from_frames, synthetic_split

rng = np.random.default_rng(203)  # fixed: a regrade draws the same cases


def random_split(n_users=40, n_items=30, n=600, test_share=0.2):
    """Random data for a check, drawn from the chapter's fixed seed (synthetic_split)."""
    return synthetic_split(n_users, n_items, n, test_share, seed=int(rng.integers(2**31)))

# %% svd-ex-baseline public
def test_a_small_example(baseline_biases):
    from types import SimpleNamespace
    # users 0, 1 and items 0, 1 are rated; user 2 and item 2 are not
    train = SimpleNamespace(users=np.array([0, 0, 1]), items=np.array([0, 1, 0]),
                            ratings=np.array([5.0, 3.0, 4.0]))
    split = SimpleNamespace(train=train, n_users=3, n_items=3)
    mu, b_user, b_item = baseline_biases(split, n_epochs=1, reg_user=1.0, reg_item=1.0)
    assert np.isclose(mu, 4.0), "mu is the mean training rating"
    # the items first, with b_user = 0: item 0 (5 - 4 + 4 - 4) / (1 + 2), item 1 (3 - 4) / (1 + 1)
    assert np.allclose(b_item, [1 / 3, -1 / 2, 0.0]), "item biases of the first sweep"
    # then the users, given those item biases: user 0 (5 - 4 - 1/3 + 3 - 4 + 1/2) / (1 + 2),
    # user 1 (4 - 4 - 1/3) / (1 + 1)
    assert np.allclose(b_user, [1 / 18, -1 / 6, 0.0]), "user biases of the first sweep"
    assert np.array_equal(train.ratings, [5.0, 3.0, 4.0]), "the input must not change"

# %% svd-ex-baseline hidden
def test_settings_and_unrated(baseline_biases):
    from recsys_lib.models.baselines import fit_baseline_als
    split = random_split(50, 60, 700, 0.4)
    for kwargs in ({"n_epochs": 1}, {"n_epochs": 3, "reg_user": 0.5, "reg_item": 2.0}):
        got, ref = baseline_biases(split, **kwargs), fit_baseline_als(split, **kwargs)
        assert np.allclose(got[1], ref[1]) and np.allclose(got[2], ref[2]), kwargs
    assert len(got[1]) == split.n_users and len(got[2]) == split.n_items
    unrated = np.setdiff1d(np.arange(split.n_items), split.train.items)
    assert np.all(np.asarray(got[2])[unrated] == 0)

# %% svd-ex-baseline hidden
def test_default_settings_agree_with_recsys_lib(baseline_biases):
    from recsys_lib.models.baselines import fit_baseline_als
    split = random_split()
    got = baseline_biases(split)
    ref = fit_baseline_als(split)
    assert np.isclose(got[0], ref[0])
    assert np.allclose(got[1], ref[1]) and np.allclose(got[2], ref[2])

# %% svd-ex-sgd public
def test_one_rating_and_zero_rate(sgd_epoch):
    b_u, b_i = rng.normal(0, 0.1, 3), rng.normal(0, 0.1, 4)
    P, Q = rng.normal(0, 0.1, (3, 2)), rng.normal(0, 0.1, (4, 2))
    before = [a.copy() for a in (b_u, b_i, P, Q)]
    out = sgd_epoch(3.5, b_u, b_i, P, Q, [2], [1], [5.0], 0.1, 0.02)
    for a, b in zip((b_u, b_i, P, Q), before):
        assert np.array_equal(a, b), "the inputs must not change"
    e = 5.0 - (3.5 + b_u[2] + b_i[1] + P[2] @ Q[1])
    assert np.isclose(out[0][2], b_u[2] + 0.1 * (e - 0.02 * b_u[2]))
    assert np.allclose(out[3][1], Q[1] + 0.1 * (e * P[2] - 0.02 * Q[1]))
    same = sgd_epoch(3.5, b_u, b_i, P, Q, [0, 2], [1, 3], [4.0, 1.0], 0.0, 0.02)
    assert all(np.allclose(a, b) for a, b in zip(same, before))

# %% svd-ex-sgd hidden
def test_agrees_with_biased_mf_sgd(sgd_epoch):
    import torch
    from recsys_lib.models import create_model
    # distinct users and items: per-rating SGD in any order equals recsys_lib's one-batch step
    n, k, seed = 25, 3, int(rng.integers(1000))
    ratings = rng.integers(1, 6, n).astype(float)
    train = pd.DataFrame({"user": np.arange(n), "item": np.arange(n), "rating": ratings})
    test = pd.DataFrame({"user": [0], "item": [1], "rating": [3.0]})
    split = split_from_frames("random", "r", train, test, (1.0, 5.0))
    model = create_model("biased-mf-sgd", n_factors=k, n_epochs=1, lr=0.05, reg=0.1,
                         batch_size=4096, seed=seed, device="cpu").fit(split)
    gen = torch.Generator().manual_seed(seed)
    P = (torch.randn(n, k, generator=gen) * 0.1).numpy().astype(float)
    Q = (torch.randn(n, k, generator=gen) * 0.1).numpy().astype(float)
    order = rng.permutation(n)
    out = sgd_epoch(float(ratings.mean()), np.zeros(n), np.zeros(n), P, Q, order, order,
                    ratings[order], 0.05, 0.1)
    assert np.allclose(out[0], model.b_user_.numpy(), atol=1e-5)
    assert np.allclose(out[3], model.item_factors_.numpy(), atol=1e-5)
    # repeated users: order matters, and the second visit sees the first one's update
    b_u, b_i = np.zeros(2), np.zeros(2)
    P2, Q2 = np.ones((2, 1)), np.ones((2, 1))
    out = sgd_epoch(3.0, b_u, b_i, P2, Q2, [0, 0], [0, 1], [5.0, 5.0], 0.1, 0.0)
    first = 0.1 * 1.0                       # e = 5 - (3 + 1) = 1
    e2 = 5.0 - (3.0 + first + 0.0 + (1 + 0.1) * 1.0)
    assert np.isclose(out[0][0], first + 0.1 * e2)

# %% svd-ex-rank public
def test_constant_training_ratings(rank_sweep):
    # every training rating is 4: mu = 4, every bias and residual 0, so every rank predicts 4
    # and the test errors are 2, 2 and 1: RMSE sqrt(9 / 3)
    train = pd.DataFrame({"user": [0, 0, 1, 1, 2, 3, 3, 4], "item": [0, 1, 1, 2, 0, 2, 3, 3],
                          "rating": [4.0] * 8})
    test = pd.DataFrame({"user": [0, 2, 4], "item": [2, 3, 0], "rating": [2.0, 2.0, 5.0]})
    got = rank_sweep(split_from_frames("tiny", "t", train, test, (1.0, 5.0)), [1, 2])
    assert sorted(got) == [1, 2], "one entry per rank"
    assert np.allclose([got[1], got[2]], np.sqrt(3)), "test RMSE of a prediction of 4"
    got = rank_sweep(random_split(), [1, 3])
    assert sorted(got) == [1, 3]
    assert all(0 < got[r] < 4 for r in (1, 3)), "a test RMSE on the 1-5 scale"
    assert not np.isclose(got[1], got[3]), "the rank must change the model"

# %% svd-ex-rank hidden
def test_agrees_with_run(rank_sweep):
    from recsys_lib.training import run
    split = random_split()
    got = rank_sweep(split, [1, 3])
    assert sorted(got) == [1, 3]
    ref = run("svd-truncated", "random", split, params={"n_factors": 3, "fill": "baseline"})
    assert np.isclose(got[3], ref["rmse"])

# %% svd-ex-rank hidden
def test_other_ranks(rank_sweep):
    from recsys_lib.training import run
    split = random_split(35, 45, 800)
    got = rank_sweep(split, [2, 4, 6])
    for r in (2, 4, 6):
        ref = run("svd-truncated", "random", split, params={"n_factors": r, "fill": "baseline"})
        assert np.isclose(got[r], ref["rmse"]), r

# %% svd-ex-baseline allow
recsys_lib.splits.Split.n_users recsys_lib.splits.Split.n_items

# %% svd-ex-rank allow
recsys_lib.training.run

# %% svd-ex-baseline wrapper
def baseline_biases(split, n_epochs=10, reg_user=15.0, reg_item=10.0):
    from recsys_lib.models.baselines import fit_baseline_als
    return fit_baseline_als(split, n_epochs, reg_user, reg_item)

# %% svd-ex-rank wrapper
def rank_sweep(split, ranks):
    from recsys_lib.protocol import sweep
    table = sweep("svd-truncated", {"t": split},
                  [{"n_factors": r, "fill": "baseline"} for r in ranks])
    return dict(zip(ranks, table["rmse t"]))
