# Checks of chapter 5's exercises (see course/build.py for the format).
# %% common
import numpy as np
import torch
from recsys_lib.splits import synthetic_split

rng = np.random.default_rng(205)  # fixed: a regrade draws the same cases


def random_split(n_users=40, n_items=30, n=700, test_share=0.2):
    """Random data for a check, drawn from the chapter's fixed seed (synthetic_split)."""
    return synthetic_split(n_users, n_items, n, test_share, seed=int(rng.integers(2**31)))

# %% common hidden
def reference_implicit(split, Y):
    from recsys_lib.models._als import observed
    from recsys_lib.models.svdpp import implicit_operator
    op = implicit_operator(observed(split, "cpu"))
    return torch.sparse.mm(op, torch.tensor(Y, dtype=torch.float32)).numpy()

# %% svdpp-ex-term public
def test_a_small_example(implicit_sum):
    # user 0 rated items 0 and 2, user 1 item 1, user 2 nothing
    users, items = np.array([0, 1, 0]), np.array([0, 1, 2])
    Y = np.array([[1.0, 2.0], [3.0, 0.0], [1.0, 4.0]])
    got = np.asarray(implicit_sum(users, items, 3, Y))
    assert got.shape == (3, 2), "(n_users, k)"
    assert np.allclose(got[0], np.array([2.0, 6.0]) / np.sqrt(2)), "(y_0 + y_2) / sqrt(2)"
    assert np.allclose(got[1], [3.0, 0.0]), "y_1 / sqrt(1)"
    assert np.allclose(got[2], 0.0), "a user without ratings: zeros"
    assert np.array_equal(Y, [[1, 2], [3, 0], [1, 4]]), "the input must not change"
    order = [2, 0, 1]
    assert np.allclose(implicit_sum(users[order], items[order], 3, Y), got), \
        "the order of the ratings does not matter"

# %% svdpp-ex-term hidden
def test_random_split_agrees_with_recsys_lib(implicit_sum):
    split = random_split()
    Y = rng.normal(0, 1, (split.n_items, 4))
    got = np.asarray(implicit_sum(split.train.users, split.train.items, split.n_users, Y))
    assert got.shape == (split.n_users, 4)
    assert np.allclose(got, reference_implicit(split, Y), atol=1e-5)

# %% svdpp-ex-term hidden
def test_users_without_ratings(implicit_sum):
    split = random_split(60, 25, 500, 0.5)
    Y = rng.normal(0, 1, (split.n_items, 3))
    got = np.asarray(implicit_sum(split.train.users, split.train.items, split.n_users, Y))
    assert np.allclose(got, reference_implicit(split, Y), atol=1e-5)
    one = np.asarray(implicit_sum(np.array([1, 1, 1, 1]), np.array([0, 1, 2, 3]), 3,
                                  np.eye(4)))
    assert np.allclose(one[1], 0.5) and np.all(one[[0, 2]] == 0)

# %% svdpp-ex-predict public
def test_a_small_example(svdpp_predict):
    b_user, b_item = np.array([0.5, -0.5]), np.array([0.1, 0.2, 0.3])
    P = np.array([[1.0, 0.0], [0.0, 1.0]])
    Q = np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 1.0]])
    Y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    train_users, train_items = np.array([0, 0]), np.array([0, 1])  # user 1 rated nothing
    got = np.asarray(svdpp_predict(3.0, b_user, b_item, P, Q, Y, train_users, train_items,
                                   np.array([0, 1]), np.array([2, 1])), dtype=float)
    assert got.shape == (2,), "one prediction per pair"
    # (0, 2): 3 + 0.5 + 0.3 + q_2 . (p_0 + (y_0 + y_1) / sqrt(2)) = 3.8 + (0 + 1 / sqrt(2))
    # (1, 1): 3 - 0.5 + 0.2 + q_1 . (p_1 + 0) = 2.7 + 0
    assert np.allclose(got, [3.8 + 1 / np.sqrt(2), 2.7])

# %% svdpp-ex-predict hidden
def test_fitted_svdpp_agrees_with_recsys_lib(svdpp_predict):
    from recsys_lib.models import create_model
    split = random_split()
    model = create_model("svdpp", n_factors=3, n_epochs=3, device="cpu").fit(split)
    m = reference_implicit(split, model.implicit_.numpy())
    P = model.user_factors_.numpy() - m          # the model stores z_u = p_u + m_u
    got = svdpp_predict(model.data_.mu, model.b_user_.numpy(), model.b_item_.numpy(), P,
                        model.item_factors_.numpy(), model.implicit_.numpy(),
                        split.train.users, split.train.items, split.test.users,
                        split.test.items)
    assert np.allclose(got, model.predict(split.test.users, split.test.items), atol=1e-4)

# %% svdpp-ex-predict hidden
def test_formula_on_random_parameters(svdpp_predict):
    n_users, n_items, k = 7, 9, 2
    users = rng.integers(0, n_users - 1, 30)      # the last user rates nothing
    items = rng.integers(0, n_items, 30)
    b_u, b_i = rng.normal(0, 1, n_users), rng.normal(0, 1, n_items)
    P, Q, Y = (rng.normal(0, 1, (n_users, k)), rng.normal(0, 1, (n_items, k)),
               rng.normal(0, 1, (n_items, k)))
    qu, qi = np.array([n_users - 1, 0]), np.array([3, 5])
    got = svdpp_predict(3.0, b_u, b_i, P, Q, Y, users, items, qu, qi)
    expected = []
    for u, i in zip(qu, qi):
        rated = items[users == u]
        m = Y[rated].sum(0) / np.sqrt(max(len(rated), 1))
        expected.append(3.0 + b_u[u] + b_i[i] + Q[i] @ (P[u] + m))
    assert np.allclose(got, expected)

# %% svdpp-ex-sweeps public
def test_validation_not_test(validation_curve):
    from recsys_lib.splits import split_from_frames
    import pandas as pd
    # every training rating is 4 and every test rating 5: svdpp predicts the validation
    # slice (carved from the training part) exactly, RMSE 0; on the test part it would be 1
    grid = [(u, i) for u in range(30) for i in range(20)]
    train = pd.DataFrame([(u, i, 4.0) for u, i in grid if (u + i) % 2 == 0],
                         columns=["user", "item", "rating"])
    test = pd.DataFrame([(u, i, 5.0) for u, i in grid if (u + i) % 10 == 5],
                        columns=["user", "item", "rating"])
    split = split_from_frames("tiny", "t", train, test, (1.0, 5.0))
    got = validation_curve(split, [1, 2], seed=2)
    assert sorted(got) == [1, 2], "one entry per number of sweeps"
    assert got[1] < 0.1 and got[2] < 0.1, "the RMSE of the validation slice, never the test"
    got = validation_curve(random_split(), [1, 3], seed=2)
    assert sorted(got) == [1, 3]
    assert all(0 < got[n] < 4 for n in got), "an RMSE on the 1-5 scale"
    assert not np.isclose(got[1], got[3]), "the number of sweeps must change the model"

# %% svdpp-ex-sweeps hidden
def test_agrees_with_run(validation_curve):
    from recsys_lib.training import run
    split = random_split()
    got = validation_curve(split, [1, 3], seed=2)
    assert sorted(got) == [1, 3]
    ref = run("svdpp", "random", split.with_validation(0.1, 2), params={"n_epochs": 3})
    assert np.isclose(got[3], ref["rmse"])

# %% svdpp-ex-sweeps hidden
def test_never_the_test_set(validation_curve):
    from recsys_lib.training import run
    split = random_split(50, 40, 900)
    got = validation_curve(split, [2], seed=5)
    assert np.isclose(got[2], run("svdpp", "random", split.with_validation(0.1, 5),
                                  params={"n_epochs": 2})["rmse"])
    assert not np.isclose(got[2], run("svdpp", "random", split, params={"n_epochs": 2})["rmse"])

# %% svdpp-ex-sweeps allow
recsys_lib.training.run recsys_lib.splits.Split.with_validation

# %% svdpp-ex-sweeps wrapper
def validation_curve(split, sweeps, seed=0):
    from recsys_lib.protocol import sweep
    table = sweep("svdpp", {"v": split.with_validation(0.1, seed)},
                  [{"n_epochs": n} for n in sweeps])
    return dict(zip(sweeps, table["rmse v"]))
