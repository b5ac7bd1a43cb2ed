# Checks of chapter 6's exercises (see course/build.py for the format).
# %% common
import numpy as np
import torch
from recsys_lib.splits import synthetic_split

rng = np.random.default_rng(206)  # fixed: a regrade draws the same cases


def random_split(n_users=40, n_items=30, n=700, test_share=0.2):
    """Random data for a check, drawn from the chapter's fixed seed (synthetic_split)."""
    return synthetic_split(n_users, n_items, n, test_share, seed=int(rng.integers(2**31)))

# %% common hidden
def squash(score, scale, margin):
    from recsys_lib.models import create_model
    model = create_model("biased-mf", range_margin=margin)
    model.range_ = model._range(scale)
    return model._squash(torch.tensor(score, dtype=torch.float64)).numpy()

# %% mf-ex-squash public
def test_hand_worked_scores(sigmoid_range):
    # margin 0.5 on 1-5: l = 0.5, h = 5.5, so l + 5 sigmoid(s); sigmoid(log 9) = 0.9
    got = np.asarray(sigmoid_range(np.array([0.0, np.log(9), -np.log(9)]), (1.0, 5.0)))
    assert got.shape == (3,), "one value per score"
    assert np.allclose(got, [3.0, 5.0, 1.0])
    # margin 0: 1 + 4 sigmoid(s); sigmoid(log 3) = 0.75
    assert np.allclose(sigmoid_range(np.array([np.log(3)]), (1.0, 5.0), 0.0), [4.0])
    # another scale: -10 - 1 + 22 sigmoid(0) = 0
    assert np.allclose(sigmoid_range(np.array([0.0]), (-10.0, 10.0), 1.0), [0.0])
    score = np.linspace(-30, 30, 61)
    got = np.asarray(sigmoid_range(score, (1.0, 5.0)))
    assert np.all(np.diff(got) >= 0), "increasing in the score"
    assert np.all(got > 0.5 - 1e-9) and np.all(got < 5.5 + 1e-9), "within (0.5, 5.5)"

# %% mf-ex-squash hidden
def test_default_margin_agrees_with_biased_mf(sigmoid_range):
    score = rng.normal(0, 3, 50)
    got = np.asarray(sigmoid_range(score, (1.0, 5.0)))
    assert got.shape == (50,)
    assert np.allclose(got, squash(score, (1.0, 5.0), 0.5))

# %% mf-ex-squash hidden
def test_other_scales_and_margins(sigmoid_range):
    score = rng.normal(0, 5, 40)
    for scale, margin in [((-10.0, 10.0), 0.0), ((1.0, 5.0), 1.5), ((0.5, 5.0), 0.25)]:
        got = np.asarray(sigmoid_range(score, scale, margin))
        assert np.allclose(got, squash(score, scale, margin)), (scale, margin)
        assert np.all(got > scale[0] - margin) and np.all(got < scale[1] + margin)

# %% mf-ex-choose public
def test_hand_worked_curves(choose_epoch):
    scores = [1.0, 0.9, 0.95, 0.97, 0.92]
    assert tuple(choose_epoch(scores)) == (2, 5), "no patience: every epoch runs"
    # epochs 3 and 4 fail to beat epoch 2: with patience 2, training stops after epoch 4
    assert tuple(choose_epoch(scores, patience=2)) == (2, 4)
    # a tie is no improvement: the first epoch stays best, and patience 1 stops at epoch 2
    assert tuple(choose_epoch([0.9, 0.9, 1.0])) == (1, 3)
    assert tuple(choose_epoch([0.9, 0.9, 1.0], patience=1)) == (1, 2)
    # min_delta 0.01: 0.995 and 0.99 do not beat 1.0 by more than 0.01, so patience 2 stops
    # after epoch 3, whose 0.99 is still the lowest RMSE
    assert tuple(choose_epoch([1.0, 0.995, 0.99, 0.98], patience=2, min_delta=0.01)) == (3, 3)

# %% mf-ex-choose hidden
def test_random_curve_agrees_with_best_epoch(choose_epoch):
    from recsys_lib.selection import BestEpoch
    scores = list(1 + np.abs(rng.normal(0, 0.1, 30)))
    tracker = BestEpoch(None)
    for epoch, s in enumerate(scores, 1):
        tracker.update(epoch, s)
    assert tuple(choose_epoch(scores)) == (tracker.epoch, 30)

# %% mf-ex-choose hidden
def test_patience_ties_and_min_delta(choose_epoch):
    from recsys_lib.selection import BestEpoch
    for _ in range(50):
        n = int(rng.integers(1, 25))
        scores = list(np.round(1 + rng.normal(0, 0.02, n), 2))   # ties are common
        patience = int(rng.integers(1, 5))
        min_delta = float(rng.choice([0.0, 0.005]))
        tracker, run = BestEpoch(patience, min_delta), n
        for epoch, s in enumerate(scores, 1):
            tracker.update(epoch, s)
            if tracker.stop:
                run = epoch
                break
        got = choose_epoch(scores, patience=patience, min_delta=min_delta)
        assert tuple(got) == (tracker.epoch, run), (scores, patience, min_delta)

# %% mf-ex-curve public
def test_curve_shape_and_seed(learning_curve):
    split = random_split()
    got = learning_curve(split, 8)
    assert [p["epoch"] for p in got] == list(range(1, 9)), "no early stop: epochs 1 to 8"
    train = [p["train_rmse"] for p in got]
    valid = [p["validation_rmse"] for p in got]
    assert all(0 < v < 4 for v in train + valid), "RMSEs on the 1-5 scale"
    assert np.all(np.diff(train) < 0), "the training RMSE falls every epoch on these data"
    again = learning_curve(split, 8)
    assert np.allclose([p["validation_rmse"] for p in again], valid), "seed 0 both times"
    other = learning_curve(split, 8, seed=1)
    assert not np.allclose([p["validation_rmse"] for p in other], valid), \
        "the seed must reach the model"

# %% mf-ex-curve hidden
def test_agrees_with_run(learning_curve):
    from recsys_lib.training import run
    split = random_split()
    got = learning_curve(split, 3)
    ref = run("biased-mf", "random", split, params={
        "n_epochs": 3, "patience": 3, "refit": False, "validation_fraction": 0.1})["curve"]
    assert [p["epoch"] for p in got] == [1, 2, 3]
    assert np.allclose([p["validation_rmse"] for p in got],
                       [p["validation_rmse"] for p in ref])

# %% mf-ex-curve hidden
def test_no_early_stop_and_seed(learning_curve):
    from recsys_lib.training import run
    split = random_split(30, 30, 500)
    got = learning_curve(split, 6, seed=3)
    ref = run("biased-mf", "random", split, seed=3, params={
        "n_epochs": 6, "patience": 6, "refit": False, "validation_fraction": 0.1})["curve"]
    assert len(got) == 6
    assert np.allclose([p["train_rmse"] for p in got], [p["train_rmse"] for p in ref])

# %% mf-ex-curve allow
recsys_lib.training.run

# %% mf-ex-squash wrapper
def sigmoid_range(score, rating_scale, margin=0.5):
    import torch
    from recsys_lib.models import create_model
    model = create_model("biased-mf", range_margin=margin)
    model.range_ = model._range(rating_scale)
    return model._squash(torch.as_tensor(score, dtype=torch.float64)).numpy()

# %% mf-ex-choose wrapper
def choose_epoch(validation_rmse, patience=None, min_delta=0.0):
    from recsys_lib.selection import BestEpoch
    tracker = BestEpoch(patience=patience, min_delta=min_delta)
    ran = 0
    for epoch, score in enumerate(validation_rmse, start=1):
        ran = epoch
        tracker.update(epoch, score)
        if tracker.stop:
            break
    return tracker.epoch, ran
