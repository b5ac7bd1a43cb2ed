# Checks of chapter 7's exercises (see course/build.py for the format).
# %% common
import numpy as np
import torch
from recsys_lib.splits import synthetic_split

rng = np.random.default_rng(207)  # fixed: a regrade draws the same cases


def random_split(n_users=40, n_items=30, n=700, test_share=0.2):
    """Random data for a check, drawn from the chapter's fixed seed (synthetic_split)."""
    return synthetic_split(n_users, n_items, n, test_share, seed=int(rng.integers(2**31)))

# %% common hidden
def problem_and_params(n_items, n_users, k, density=0.3, reg=1.0):
    """A random I-AutoRec problem of recsys_lib and random parameters for it."""
    from recsys_lib.models.autorec import _SparseAutoRecProblem
    mask = (rng.random((n_items, n_users)) < density).astype(float)
    R = rng.integers(1, 6, (n_items, n_users)) * mask
    rows, cols = np.nonzero(mask)
    import inspect
    extra = ({"device": torch.device("cpu")}
             if "device" in inspect.signature(_SparseAutoRecProblem).parameters else {})
    problem = _SparseAutoRecProblem(rows, cols, R[rows, cols], n_items, n_users, k, reg,
                                    "sigmoid", "identity", (1.0, 5.0), torch.float64, **extra)
    V, mu = rng.normal(0, 0.3, (n_users, k)), rng.normal(0, 0.3, k)
    W, b = rng.normal(0, 0.3, (k, n_users)), rng.normal(3, 0.3, n_users)
    return problem, R, mask, V, mu, W, b

# %% autorec-ex-forward public
def test_a_small_example(autorec_reconstruct):
    R = np.array([[1.0, 0.0, 3.0], [0.0, 2.0, 0.0]])           # 2 items, 3 users
    V = np.array([[0.0, 0.0], [np.log(3) / 2, 0.0], [0.0, 0.0]])  # (n_users, k = 2)
    W = np.array([[2.0, 0.0, -2.0], [0.0, 4.0, 0.0]])          # (k, n_users)
    b = np.ones(3)
    # R V = [[0, 0], [log 3, 0]]; sigmoid(0) = 0.5, sigmoid(log 3) = 0.75
    # so the codes are [[0.5, 0.5], [0.75, 0.5]], times W, plus b
    got = np.asarray(autorec_reconstruct(R, V, np.zeros(2), W, b))
    assert got.shape == (2, 3), "(n_items, n_users)"
    assert np.allclose(got, [[2.0, 3.0, 0.0], [2.5, 3.0, -0.5]])
    # the encoder bias: mu = (log 3, 0) makes item 0's code [0.75, 0.5] too
    got = np.asarray(autorec_reconstruct(R, V, np.array([np.log(3), 0.0]), W, b))
    assert np.allclose(got[0], [2.5, 3.0, -0.5])
    assert np.array_equal(R, [[1, 0, 3], [0, 2, 0]]), "the input must not change"

# %% autorec-ex-forward hidden
def test_random_problem_agrees_with_recsys_lib(autorec_reconstruct):
    problem, R, mask, V, mu, W, b = problem_and_params(12, 9, 4)
    H = problem.hidden_layer(torch.tensor(V), torch.tensor(mu)).numpy()
    got = np.asarray(autorec_reconstruct(R, V, mu, W, b))
    assert got.shape == (12, 9)
    assert np.allclose(got, H @ W + b)

# %% autorec-ex-forward hidden
def test_empty_rows_and_shapes(autorec_reconstruct):
    problem, R, mask, V, mu, W, b = problem_and_params(20, 15, 3, density=0.1)
    R[0] = 0.0   # an item without ratings: its code is sigmoid(mu)
    got = np.asarray(autorec_reconstruct(R, V, mu, W, b))
    assert np.allclose(got[0], (1 / (1 + np.exp(-mu))) @ W + b)
    H = problem.hidden_layer(torch.tensor(V), torch.tensor(mu)).numpy()
    assert np.allclose(got[1:], (H @ W + b)[1:])

# %% autorec-ex-loss public
def test_a_small_example(autorec_loss):
    # the example of the forward check: the reconstruction is [[2, 3, 0], [2.5, 3, -0.5]]
    R = np.array([[1.0, 0.0, 3.0], [0.0, 2.0, 0.0]])
    mask = (R > 0).astype(float)
    V = np.array([[0.0, 0.0], [np.log(3) / 2, 0.0], [0.0, 0.0]])
    W = np.array([[2.0, 0.0, -2.0], [0.0, 4.0, 0.0]])
    b = np.ones(3)
    # observed: (1 - 2)^2 + (3 - 0)^2 for item 0, (2 - 3)^2 for item 1; the zeros do not count
    assert np.isclose(autorec_loss(R, mask, V, np.zeros(2), W, b, 0.0), 11.0)
    # penalty reg / 2 (|W|^2 + |V|^2) = 3 / 2 (4 + 16 + 4 + (log 3)^2 / 4)
    penalty = 1.5 * (24 + np.log(3) ** 2 / 4)
    assert np.isclose(autorec_loss(R, mask, V, np.zeros(2), W, b, 3.0), 11.0 + penalty)

# %% autorec-ex-loss hidden
def test_random_problem_agrees_with_recsys_lib(autorec_loss):
    problem, R, mask, V, mu, W, b = problem_and_params(10, 8, 3, reg=2.0)
    theta = np.concatenate([V.ravel(), mu, W.ravel(), b])
    assert np.isclose(autorec_loss(R, mask, V, mu, W, b, 2.0), problem.loss_grad(theta)[0])

# %% autorec-ex-loss hidden
def test_missing_entries_do_not_count(autorec_loss):
    problem, R, mask, V, mu, W, b = problem_and_params(25, 14, 5, density=0.2, reg=0.3)
    theta = np.concatenate([V.ravel(), mu, W.ravel(), b])
    expected = problem.loss_grad(theta)[0]
    assert np.isclose(autorec_loss(R, mask, V, mu, W, b, 0.3), expected)
    assert np.isclose(autorec_loss(R, mask, V, mu, W, b, 0.0),
                      expected - 0.15 * ((W ** 2).sum() + (V ** 2).sum()))

# %% autorec-ex-reg public
def test_keys_and_settings(reg_sweep):
    split = random_split()
    got = reg_sweep(split, [1.0, 100.0], n_epochs=5, n_hidden=8)
    assert sorted(got) == [1.0, 100.0], "one entry per lambda"
    assert all(0 < got[r] < 4 for r in got), "an RMSE on the 1-5 scale"
    assert not np.isclose(got[1.0], got[100.0]), "lambda must change the model"
    again = reg_sweep(split, [1.0], n_epochs=5, n_hidden=8)
    assert np.isclose(again[1.0], got[1.0]), "the same settings give the same RMSE"
    shorter = reg_sweep(split, [1.0], n_epochs=1, n_hidden=8)
    assert not np.isclose(shorter[1.0], got[1.0]), "n_epochs must reach the model"

# %% autorec-ex-reg hidden
def test_agrees_with_run(reg_sweep):
    from recsys_lib.training import run
    split = random_split()
    got = reg_sweep(split, [1.0], n_epochs=5, n_hidden=8)
    ref = run("i-autorec", "random", split, params={"reg": 1.0, "n_epochs": 5,
                                                     "n_hidden": 8})
    assert np.isclose(got[1.0], ref["validation_rmse"])

# %% autorec-ex-reg hidden
def test_several_values(reg_sweep):
    from recsys_lib.training import run
    split = random_split(35, 40, 800)
    got = reg_sweep(split, [0.5, 20.0], n_epochs=4, n_hidden=6)
    assert sorted(got) == [0.5, 20.0]
    for reg in (0.5, 20.0):
        ref = run("i-autorec", "random", split, params={"reg": reg, "n_epochs": 4,
                                                         "n_hidden": 6})
        assert np.isclose(got[reg], ref["validation_rmse"]), reg


# %% autorec-ex-train public
def test_the_objective_falls(train_autorec):
    R = rng.integers(1, 6, (15, 12)).astype(float)
    mask = (rng.random((15, 12)) < 0.4).astype(float)
    R *= mask
    params, losses = train_autorec(R, mask, 4, 1.0, n_epochs=30, lr=0.05, seed=1)
    assert len(losses) == 30, "one objective value per Adam step"
    shapes = {k: np.shape(v) for k, v in params.items()}
    assert shapes == {"V": (12, 4), "mu": (4,), "W": (4, 12), "b": (12,)}, shapes
    assert losses[-1] < 0.5 * losses[0], "thirty Adam steps must lower the objective"

# %% autorec-ex-train hidden
def test_the_start_and_the_mask(train_autorec):
    R = rng.integers(1, 6, (20, 16)).astype(float)
    mask = (rng.random((20, 16)) < 0.3).astype(float)
    R *= mask
    params, losses = train_autorec(R, mask, 5, 2.0, n_epochs=10, lr=0.03, seed=4)
    gen = torch.Generator().manual_seed(4)
    V = 0.1 * torch.randn(16, 5, generator=gen).double().numpy()
    W = 0.1 * torch.randn(5, 16, generator=gen).double().numpy()
    b = np.full(16, R.sum() / mask.sum())
    out = 1 / (1 + np.exp(-(R @ V))) @ W + b
    start = (((R - out) * mask) ** 2).sum() + 1.0 * ((W ** 2).sum() + (V ** 2).sum())
    assert np.isclose(losses[0], start, rtol=1e-4), "the objective before the first step"
    # what is stored where mask is 0 must not matter
    noisy = np.where(mask > 0, R, rng.normal(0, 50, R.shape))
    again, losses_again = train_autorec(noisy, mask, 5, 2.0, n_epochs=10, lr=0.03, seed=4)
    assert np.allclose(losses, losses_again, rtol=1e-5), "unobserved entries changed the loss"
    for name in ("V", "mu", "W", "b"):
        assert np.allclose(params[name], again[name], atol=1e-5), name

# %% autorec-ex-train hidden
def test_beats_the_item_mean_on_held_out_ratings(train_autorec):
    n_items, n_users = 40, 60
    item_f, user_f = rng.normal(0, 1, (n_items, 3)), rng.normal(0, 1, (n_users, 3))
    truth = np.clip(np.round(3.2 + 0.6 * item_f @ user_f.T / np.sqrt(3)
                             + rng.normal(0, 0.3, (n_items, n_users))), 1, 5)
    observed = rng.random(truth.shape) < 0.5
    held = observed & (rng.random(truth.shape) < 0.2)
    train = (observed & ~held).astype(float)
    params, losses = train_autorec(truth * train, train, 8, 1.0, n_epochs=300, lr=0.02,
                                   seed=0)
    R = truth * train
    out = 1 / (1 + np.exp(-(R @ params["V"] + params["mu"]))) @ params["W"] + params["b"]
    pred = np.clip(out[held], 1, 5)
    means = R.sum(1) / np.maximum(train.sum(1), 1)
    own = np.sqrt(np.mean((pred - truth[held]) ** 2))
    baseline = np.sqrt(np.mean((np.broadcast_to(means[:, None], truth.shape)[held]
                                - truth[held]) ** 2))
    assert own < 0.95 * baseline, (own, baseline)

# %% autorec-ex-reg allow
recsys_lib.training.run

# %% autorec-ex-loss wrapper
def autorec_loss(R, mask, V, mu, W, b, reg):
    import numpy as np
    import torch
    from recsys_lib.models.autorec import _SparseAutoRecProblem
    rows, cols = np.nonzero(mask)
    n_items, n_users = np.shape(R)
    problem = _SparseAutoRecProblem(rows, cols, np.asarray(R)[rows, cols], n_items, n_users,
                                    len(mu), reg, "sigmoid", "identity", (1.0, 5.0),
                                    torch.float64, device=torch.device("cpu"))
    theta = np.concatenate([np.ravel(V), mu, np.ravel(W), b])
    return problem.loss_grad(theta)[0]
