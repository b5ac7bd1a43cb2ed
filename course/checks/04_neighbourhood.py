# Checks of chapter 4's exercises (see course/build.py for the format).
# %% common
import numpy as np
import torch
from recsys_lib.splits import synthetic_split

rng = np.random.default_rng(204)  # fixed: a regrade draws the same cases


def random_split(n_users=40, n_items=30, n=700, test_share=0.2):
    """Random data for a check, drawn from the chapter's fixed seed (synthetic_split)."""
    return synthetic_split(n_users, n_items, n, test_share, seed=int(rng.integers(2**31)))

# %% nbr-ex-pearson public
def test_a_small_example(shrunk_pearson_np):
    # 3 users, 4 items; item 3 has no rater, items 1 and 2 share only user 1
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 1, 0]], dtype=float)
    residuals = np.array([[1, 2, 0, 0], [2, 1, 1, 0], [1, 0, 3, 0]], dtype=float)
    before = residuals.copy()
    got = np.asarray(shrunk_pearson_np(residuals, mask, 2.0))
    assert got.shape == (4, 4), "(n_items, n_items)"
    assert np.array_equal(residuals, before), "the input must not change"
    # (0, 1): users 0, 1: (1*2 + 2*1) / sqrt((1 + 4) (4 + 1)) = 0.8, shrunk by 2 / (2 + 2)
    # (0, 2): users 1, 2: (2*1 + 1*3) / sqrt((4 + 1) (1 + 9)), shrunk by 2 / (2 + 2)
    # (1, 2): user 1 alone: 1*1 / sqrt(1 * 1) = 1, shrunk by 1 / (1 + 2)
    s01, s02, s12 = 0.8 * 0.5, 5 / np.sqrt(50) * 0.5, 1 / 3
    expected = [[0, s01, s02, 0], [s01, 0, s12, 0], [s02, s12, 0, 0], [0, 0, 0, 0]]
    assert np.allclose(got, expected)
    got = np.asarray(shrunk_pearson_np(residuals, mask, 0.0))
    assert np.isclose(got[1, 2], 1.0) and np.isclose(got[0, 1], 0.8), "no shrinkage"
    mask = (rng.random((30, 12)) < 0.5).astype(float)
    got = np.asarray(shrunk_pearson_np(rng.normal(0, 1, (30, 12)) * mask, mask, 5.0))
    assert np.allclose(got, got.T) and np.all(np.abs(got) <= 1), "symmetric, within [-1, 1]"

# %% nbr-ex-pearson hidden
def test_random_matrix_agrees_with_recsys_lib(shrunk_pearson_np):
    from recsys_lib.models.neighbourhood import shrunk_pearson
    mask = (rng.random((30, 12)) < 0.5).astype(float)
    residuals = rng.normal(0, 1, (30, 12)) * mask
    got = np.asarray(shrunk_pearson_np(residuals, mask, 5.0))
    ref = shrunk_pearson(torch.tensor(residuals), torch.tensor(mask), 5.0).numpy()
    assert got.shape == (12, 12)
    assert np.allclose(got, ref, atol=1e-5)

# %% nbr-ex-pearson hidden
def test_no_common_raters_and_no_shrinkage(shrunk_pearson_np):
    from recsys_lib.models.neighbourhood import shrunk_pearson
    mask = (rng.random((50, 20)) < 0.3).astype(float)
    mask[:, 0] = 0.0          # an item nobody rated
    mask[:25, 1] = 0.0        # items 1 and 2 share no rater
    mask[25:, 2] = 0.0
    residuals = rng.normal(0, 1, (50, 20)) * mask
    for shrinkage in (0.5, 100.0):
        got = np.asarray(shrunk_pearson_np(residuals, mask, shrinkage))
        ref = shrunk_pearson(torch.tensor(residuals), torch.tensor(mask), shrinkage).numpy()
        assert np.all(np.isfinite(got))
        assert np.allclose(got, ref, atol=1e-5), shrinkage
    assert got[1, 2] == 0 and np.all(got[0] == 0) and np.all(np.diag(got) == 0)

# %% nbr-ex-offset public
def test_small_cases(knn_offset):
    assert np.isclose(knn_offset([0.5, 0.1, 0.9], [1.0, -2.0, 0.5], 2),
                      (0.9 * 0.5 + 0.5 * 1.0) / 1.4)
    assert knn_offset([-0.3, 0.0], [1.0, 2.0], 5) == 0
    s, e = rng.normal(0, 0.5, 30), rng.normal(0, 1, 30)
    top = np.argsort(-s)[:7]
    w = np.clip(s[top], 0, None)
    assert np.isclose(knn_offset(s, e, 7), w @ e[top] / w.sum())

# %% nbr-ex-offset hidden
def test_agrees_with_knn_pearson(knn_offset):
    from recsys_lib.models import create_model
    split = random_split()
    k = int(rng.integers(2, 8))
    model = create_model("knn-pearson", k=k, shrinkage=3.0, device="cpu").fit(split)
    baseline = (model.mu_ + model.b_user_[:, None] + model.b_item_[None, :]).numpy()
    users, items = split.test.users[:40], split.test.items[:40]
    pred = model.predict(users, items)
    sim, res, mask = (model.similarity_.numpy(), model.residuals_.numpy(),
                      model.mask_.numpy())
    for u, i, p in zip(users, items, pred):
        rated = np.flatnonzero(mask[u] > 0)
        offset = knn_offset(sim[i, rated], res[u, rated], k)
        assert np.isclose(baseline[u, i] + offset, p, atol=1e-4), (u, i)

# %% nbr-ex-shrink public
def test_constant_training_ratings(shrinkage_sweep):
    from recsys_lib.splits import split_from_frames
    import pandas as pd
    # every training rating is 4: the baseline is 4 and every residual 0, so knn-pearson
    # predicts 4 whatever the shrinkage; the test errors are 2, 2 and 1: RMSE sqrt(9 / 3)
    train = pd.DataFrame({"user": [0, 0, 1, 1, 2, 3, 3, 4], "item": [0, 1, 1, 2, 0, 2, 3, 3],
                          "rating": [4.0] * 8})
    test = pd.DataFrame({"user": [0, 2, 4], "item": [2, 3, 0], "rating": [2.0, 2.0, 5.0]})
    got = shrinkage_sweep(split_from_frames("tiny", "t", train, test, (1.0, 5.0)), [0.0, 10.0])
    assert sorted(got) == [0.0, 10.0], "one entry per shrinkage value"
    assert np.allclose([got[0.0], got[10.0]], np.sqrt(3)), "test RMSE of a prediction of 4"
    got = shrinkage_sweep(random_split(), [0.0, 50.0])
    assert sorted(got) == [0.0, 50.0]
    assert all(0 < got[v] < 4 for v in got), "a test RMSE on the 1-5 scale"
    assert not np.isclose(got[0.0], got[50.0]), "the shrinkage must change the model"

# %% nbr-ex-shrink hidden
def test_agrees_with_run(shrinkage_sweep):
    from recsys_lib.training import run
    split = random_split()
    got = shrinkage_sweep(split, [0.0, 50.0])
    assert sorted(got) == [0.0, 50.0]
    ref = run("knn-pearson", "random", split, params={"shrinkage": 50.0})["rmse"]
    assert np.isclose(got[50.0], ref)

# %% nbr-ex-shrink hidden
def test_other_values(shrinkage_sweep):
    from recsys_lib.training import run
    split = random_split(45, 35, 900)
    got = shrinkage_sweep(split, [1.0, 7.0])
    for v in (1.0, 7.0):
        ref = run("knn-pearson", "random", split, params={"shrinkage": v})["rmse"]
        assert np.isclose(got[v], ref), v

# %% nbr-ex-shrink allow
recsys_lib.training.run

# %% nbr-ex-pearson wrapper
def shrunk_pearson_np(residuals, mask, shrinkage):
    import torch
    from recsys_lib.models.neighbourhood import shrunk_pearson
    return shrunk_pearson(torch.as_tensor(residuals), torch.as_tensor(mask), shrinkage).numpy()

# %% nbr-ex-shrink wrapper
def shrinkage_sweep(split, values):
    from recsys_lib.protocol import sweep
    table = sweep("knn-pearson", {"t": split}, [{"shrinkage": v} for v in values])
    return dict(zip(values, table["rmse t"]))
