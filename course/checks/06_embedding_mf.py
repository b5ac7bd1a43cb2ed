# Checks of chapter 6's exercises (see course/build.py for the format).
# %% common
import numpy as np
import torch
from recsys_lib.splits import synthetic_split

rng = np.random.default_rng(206)  # fixed: a regrade draws the same cases


def random_split(n_users=40, n_items=30, n=700, test_share=0.2):
    """Random data for a check, drawn from the chapter's fixed seed (synthetic_split)."""
    return synthetic_split(n_users, n_items, n, test_share, seed=int(rng.integers(2**31)))


def squash(score, scale, margin):
    from recsys_lib.models import create_model
    model = create_model("biased-mf", range_margin=margin)
    model.range_ = model._range(scale)
    return model._squash(torch.tensor(score, dtype=torch.float64)).numpy()

# %% mf-ex-squash public
def test_agrees_with_biased_mf(sigmoid_range):
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
def test_agrees_with_best_epoch(choose_epoch):
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
