# Checks of chapter 11's exercises (see course/build.py for the format). The public checks
# work small examples by hand; the hidden ones compare with recsys_lib: blend.support_features
# (and the statement's formula), choose_reg (and the pooled cross-validated RMSE of every
# candidate), and FWLS with the constant as its only meta-feature (a weight per model and an
# intercept, all penalised) beside a ridge solution computed by another route.
# %% common
import numpy as np

rng = np.random.default_rng(211)  # fixed: a regrade draws the same cases


def random_blend_data(n_val, n_test, n_models, offset):
    """Predictions of correlated models around a truth on the 1-5 scale; ``offset`` is
    added to the truth, so a blend without an intercept cannot fit it."""
    def predictions(truth):
        bias = rng.normal(0, 0.3, n_models)
        scale = rng.uniform(0.5, 1.2, n_models)
        common = rng.normal(0, 0.5, (len(truth), 1))
        return (truth[:, None] - 3) * scale + 3 + bias + common \
            + rng.normal(0, 0.6, (len(truth), n_models))
    truth_val = rng.integers(1, 6, n_val).astype(float)
    truth_test = rng.integers(1, 6, n_test).astype(float)
    return predictions(truth_val), truth_val + offset, predictions(truth_test)


def random_training(n_users, n_items, n_ratings):
    """Training users and items with skewed activity. The last few users and items have no
    training rating at all, and the busiest of them have at least two."""
    def draw(n, idle):
        weights = rng.pareto(1.5, n - idle) + 0.05
        return rng.choice(n - idle, n_ratings, p=weights / weights.sum()).astype(np.int64)
    while True:
        users, items = draw(n_users, 3), draw(n_items, 2)
        if np.bincount(users).max() >= 2 and np.bincount(items).max() >= 2:
            return users, items


def features_of(support_features, train_users, train_items, n_users, n_items, users, items):
    got = np.asarray(support_features(train_users, train_items, n_users, n_items, users,
                                      items), dtype=float)
    assert got.shape == (len(users), 3), "one row of three features per pair"
    return got


def random_cv_data(n, n_models, n_features):
    """Validation predictions, truth and meta-features (a constant and uniform ones)."""
    preds, truth, _ = random_blend_data(n, 1, n_models, rng.normal(0, 0.3))
    features = np.column_stack([np.ones(n), rng.uniform(0, 1, (n, n_features - 1))])
    return preds, truth, features

# %% common hidden
def expected_features(train_users, train_items, n_users, n_items, users, items):
    """recsys_lib's features of the pairs."""
    from recsys_lib import blend
    from recsys_lib.splits import Ratings
    train = Ratings(train_users, train_items, np.ones(len(train_users), np.float32))
    return blend.support_features(train, n_users, n_items, users, items)

def reference(val_preds, val_truth, test_preds, reg):
    """The blend twice: FWLS on a constant feature, and an augmented least-squares ridge."""
    from recsys_lib.blend import FWLS
    ones_val, ones_test = np.ones((len(val_preds), 1)), np.ones((len(test_preds), 1))
    fwls = FWLS(reg).fit(val_preds, val_truth, ones_val).predict(test_preds, ones_test)
    X = np.column_stack([val_preds, ones_val])
    k = X.shape[1]
    coef = np.linalg.lstsq(np.vstack([X, np.sqrt(reg) * np.eye(k)]),
                           np.concatenate([val_truth, np.zeros(k)]), rcond=None)[0]
    ridge = np.column_stack([test_preds, ones_test]) @ coef
    assert np.allclose(fwls, ridge, rtol=1e-7, atol=1e-9)  # the two references agree
    return fwls

# %% blend-ex-features public
def test_features_small_example(support_features):
    # users 0..3 have 4, 2, 1 and 0 training ratings; items 0..2 have 4, 2 and 1
    train_users = np.array([0, 0, 0, 1, 2, 0, 1])
    train_items = np.array([0, 1, 2, 0, 0, 0, 1])
    got = features_of(support_features, train_users, train_items, 4, 3,
                      np.array([3, 1, 0]), np.array([2, 0, 1]))
    top = np.log(5)
    assert np.allclose(got[:, 0], 1.0), "column 0 is the constant 1"
    assert np.allclose(got[:, 1], [0.0, np.log(3) / top, 1.0]), "column 1: the users"
    assert np.allclose(got[:, 2], [np.log(2) / top, 1.0, np.log(3) / top]), \
        "column 2: the items"
    train_users, train_items = random_training(50, 80, 600)
    users, items = rng.integers(0, 50, 200), rng.integers(0, 80, 200)
    got = features_of(support_features, train_users, train_items, 50, 80, users, items)
    user_log = np.log1p(np.bincount(train_users, minlength=50))
    item_log = np.log1p(np.bincount(train_items, minlength=80))
    assert np.allclose(got[:, 1], user_log[users] / user_log.max())
    assert np.allclose(got[:, 2], item_log[items] / item_log.max())

# %% blend-ex-features hidden
def test_features_agree_with_recsys_lib(support_features):
    # users 0..3 have 4, 2, 1 and 0 training ratings; items 0..2 have 4, 2 and 1
    train_users = np.array([0, 0, 0, 1, 2, 0, 1])
    train_items = np.array([0, 1, 2, 0, 0, 0, 1])
    got = features_of(support_features, train_users, train_items, 4, 3,
                      np.array([3, 1, 0]), np.array([2, 0, 1]))
    top = np.log(5)
    assert np.allclose(got[:, 0], 1.0), "column 0 is the constant 1"
    assert np.allclose(got[:, 1], [0.0, np.log(3) / top, 1.0]), "column 1: the users"
    assert np.allclose(got[:, 2], [np.log(2) / top, 1.0, np.log(3) / top]), \
        "column 2: the items"
    train_users, train_items = random_training(50, 80, 600)
    users, items = rng.integers(0, 50, 200), rng.integers(0, 80, 200)
    got = features_of(support_features, train_users, train_items, 50, 80, users, items)
    want = expected_features(train_users, train_items, 50, 80, users, items)
    assert np.allclose(got, want)

# %% blend-ex-features hidden
def test_features_scaled_over_all_users_and_items(support_features):
    # the pairs leave out the busiest user and item (the scale is the largest value over all
    # users and items, not over the pairs) and include users and items with no training
    # rating (log1p, not log)
    for n_users, n_items, n_ratings, n_pairs in [(40, 60, 500, 150), (300, 120, 4000, 700),
                                                 (15, 200, 300, 90), (100, 100, 60, 300)]:
        train_users, train_items = random_training(n_users, n_items, n_ratings)
        calm_users = np.flatnonzero(np.bincount(train_users, minlength=n_users)
                                    < np.bincount(train_users).max())
        calm_items = np.flatnonzero(np.bincount(train_items, minlength=n_items)
                                    < np.bincount(train_items).max())
        users = np.concatenate([[n_users - 1], rng.choice(calm_users, n_pairs - 1)])
        items = np.concatenate([[n_items - 1], rng.choice(calm_items, n_pairs - 1)])
        order = rng.permutation(n_pairs)
        users, items = users[order], items[order]
        got = features_of(support_features, train_users, train_items, n_users, n_items,
                          users, items)
        want = expected_features(train_users, train_items, n_users, n_items, users, items)
        # the library against the statement's formula (a busiest count of 1, where the
        # library divides by 1 rather than by log 2, is never drawn)
        for column, train_ids, n, ids in [(1, train_users, n_users, users),
                                          (2, train_items, n_items, items)]:
            counts = np.zeros(n)
            np.add.at(counts, train_ids, 1)
            assert np.allclose(want[:, column], np.log(1 + counts[ids])
                               / np.log(1 + counts.max()), rtol=1e-12, atol=1e-12)
        assert np.allclose(got, want, rtol=1e-9, atol=1e-12), (n_users, n_items)

# %% blend-ex-features hidden
def test_features_without_training_ratings(support_features):
    # users and items past the last one seen in training; a single pair; and no training
    # rating at all (every count is 0: divide by 1, so both features are 0, not nan)
    train_users, train_items = random_training(30, 40, 250)
    users, items = np.array([29, 28, 0]), np.array([39, 1, 38])
    got = features_of(support_features, train_users, train_items, 30, 40, users, items)
    want = expected_features(train_users, train_items, 30, 40, users, items)
    assert np.allclose(got, want)
    got = features_of(support_features, train_users, train_items, 30, 40, users[1:2],
                      items[1:2])
    assert np.allclose(got, expected_features(train_users, train_items, 30, 40, users[1:2],
                                              items[1:2]))
    empty = np.array([], dtype=np.int64)
    got = features_of(support_features, empty, empty, 6, 4, np.array([0, 5, 2]),
                      np.array([3, 0, 1]))
    assert np.allclose(got, [[1, 0, 0]] * 3), "no training rating: the features are 1, 0, 0"

# %% blend-ex-penalty public
def test_penalty_clear_cases(choose_penalty):
    candidates = (1.0, 0.01, 100.0, 10.0, 0.1)
    preds = rng.normal(3, 1, (200, 3))
    ones = np.ones((200, 1))
    # model 0 is the truth itself: the least penalty fits its weight best
    got = choose_penalty(preds, preds[:, 0].copy(), ones, candidates)
    assert got == 0.01, f"a perfect model: the smallest penalty, got {got}"
    # meta-features that are all zero: every blend predicts 0 whatever the penalty, a tie
    got = choose_penalty(preds, preds[:, 0].copy(), np.zeros((200, 2)), candidates)
    assert got == 100.0, f"a tie goes to the larger penalty, got {got}"

# %% blend-ex-penalty hidden
def test_penalty_default_folds(choose_penalty):
    from recsys_lib import blend
    candidates = (0.01, 0.1, 1.0, 10.0, 100.0)
    preds, truth, features = random_cv_data(400, 4, 3)
    best = blend.choose_reg(preds, truth, features, candidates, 5, 0)
    got = choose_penalty(preds, truth, features, candidates)
    assert got == best, f"got {got}, the cross-validated choice is {best}"

# %% blend-ex-penalty hidden
def test_penalty_fold_rule_seed_and_pooled_rmse(choose_penalty):
    from recsys_lib import blend
    from recsys_lib.blend import FWLS
    # the pooled cross-validated RMSE of every candidate, computed here; a case is drawn
    # again when two candidates come within rounding of each other
    def cv_rmse(preds, truth, features, candidates, n_folds, seed):
        """The statement's score of each candidate: the RMSE of all held-out predictions."""
        folds = np.random.default_rng(seed).permutation(len(truth)) % n_folds
        held_out = np.empty((len(candidates), len(truth)))
        for c, reg in enumerate(candidates):
            for fold in range(n_folds):
                held = folds == fold
                model = FWLS(reg).fit(preds[~held], truth[~held], features[~held])
                held_out[c, held] = model.predict(preds[held], features[held])
        return np.sqrt(((held_out - truth) ** 2).mean(1))

    def clear_case(n, n_models, n_features, candidates, n_folds, seed):
        """Random validation data whose best candidate beats the others by more than
        rounding, and that candidate (recsys_lib's choose_reg agrees)."""
        while True:
            preds, truth, features = random_cv_data(n, n_models, n_features)
            scores = cv_rmse(preds, truth, features, candidates, n_folds, seed)
            first, second = np.sort(scores)[:2]
            if second - first > 1e-9 * first:
                best = candidates[int(np.argmin(scores))]
                assert blend.choose_reg(preds, truth, features, candidates, n_folds,
                                        seed) == best
                return preds, truth, features, best

    # a fine grid of candidates in no particular order, several fold counts and seeds: only
    # the statement's fold rule picks the same candidate every time
    grid = list(np.geomspace(0.01, 100, 41))
    for n, n_models, n_features, n_folds in [(60, 4, 3, 5), (120, 6, 3, 5), (47, 3, 2, 4),
                                             (200, 8, 3, 7), (90, 3, 3, 3), (75, 5, 2, 6)]:
        candidates = [grid[i] for i in rng.permutation(len(grid))]
        seed = int(rng.integers(0, 10_000))
        preds, truth, features, best = clear_case(n, n_models, n_features, candidates,
                                                  n_folds, seed)
        got = choose_penalty(preds, truth, features, candidates, n_folds=n_folds, seed=seed)
        assert got == best, (n, n_folds, seed, got, best)
    # few ratings in unequal folds: the RMSE of all held-out predictions together picks
    # another candidate than the mean of per-fold RMSEs (or MSEs) often enough
    for _ in range(5):
        for n, n_models, n_features, n_folds in [(23, 3, 2, 10), (31, 2, 2, 8),
                                                 (40, 3, 3, 9), (57, 4, 2, 10),
                                                 (36, 2, 3, 7)]:
            seed = int(rng.integers(0, 10_000))
            preds, truth, features, best = clear_case(n, n_models, n_features, grid,
                                                      n_folds, seed)
            got = choose_penalty(preds, truth, features, grid, n_folds=n_folds, seed=seed)
            assert got == best, (n, n_folds, seed, got, best)

# %% blend-ex-penalty hidden
def test_penalty_ties_go_to_the_larger(choose_penalty):
    from recsys_lib import blend
    # meta-features that are all zero make every blend predict 0, whatever the penalty: an
    # exact tie among all candidates, which the larger penalty wins
    preds, truth, _ = random_cv_data(80, 3, 3)
    zeros = np.zeros((80, 2))
    for candidates in [(0.01, 0.1, 1.0, 10.0, 100.0), (100.0, 0.5, 7.0, 0.01, 3.0),
                       tuple(rng.permutation([0.2, 0.4, 0.8, 1.6, 3.2]))]:
        assert blend.choose_reg(preds, truth, zeros, candidates) == max(candidates)
        got = choose_penalty(preds, truth, zeros, candidates, n_folds=4, seed=3)
        assert got == max(candidates), f"a tie: expected {max(candidates)}, got {got}"

# %% blend-ex-linear public
def test_a_small_example(linear_blend):
    val_preds = np.array([[1.0], [2.0], [3.0]])
    val_truth = np.array([2.0, 3.0, 4.0])          # the model plus 1
    test_preds = np.array([[5.0], [0.0]])
    got = np.asarray(linear_blend(val_preds, val_truth, test_preds, 0.0), dtype=float)
    assert got.shape == (2,), "one blended prediction per test pair"
    assert np.allclose(got, [6.0, 1.0]), "no penalty: weight 1, intercept 1"
    # penalty 1 on both coefficients: with X = [model, 1], solve (X'X + I) c = X'y, i.e.
    # [[15, 6], [6, 4]] c = [20, 9], so c = (13/12, 5/8)
    got = np.asarray(linear_blend(val_preds, val_truth, test_preds, 1.0), dtype=float)
    assert np.allclose(got, [5 * 13 / 12 + 5 / 8, 5 / 8])
    val_preds, test_preds = rng.normal(3, 1, (50, 3)), rng.normal(3, 1, (10, 3))
    val_truth = rng.normal(3, 1, 50)
    X = np.column_stack([val_preds, np.ones(50)])
    coef = np.linalg.solve(X.T @ X + 2.0 * np.eye(4), X.T @ val_truth)
    want = np.column_stack([test_preds, np.ones(10)]) @ coef
    assert np.allclose(linear_blend(val_preds, val_truth, test_preds, 2.0), want)

# %% blend-ex-linear hidden
def test_agrees_with_fwls_on_a_constant(linear_blend):
    val_preds, val_truth, test_preds = random_blend_data(300, 120, 4, 0.0)
    got = np.asarray(linear_blend(val_preds, val_truth, test_preds, 1.0), dtype=float)
    assert got.shape == (120,), "one blended prediction per test pair"
    assert np.allclose(got, reference(val_preds, val_truth, test_preds, 1.0),
                       rtol=1e-6, atol=1e-8)

# %% blend-ex-linear hidden
def test_intercept_and_penalty(linear_blend):
    # an offset between the truth and the models: without an intercept the blend misses it
    for n_val, n_test, n_models, offset, reg in [(400, 90, 3, 1.5, 0.0),
                                                  (250, 60, 6, -0.8, 0.1),
                                                  (500, 200, 2, 0.7, 3.0)]:
        val_preds, val_truth, test_preds = random_blend_data(n_val, n_test, n_models, offset)
        got = np.asarray(linear_blend(val_preds, val_truth, test_preds, reg), dtype=float)
        assert got.shape == (n_test,)
        assert np.allclose(got, reference(val_preds, val_truth, test_preds, reg),
                           rtol=1e-6, atol=1e-8), (n_models, offset, reg)

# %% blend-ex-linear hidden
def test_strong_penalty_on_every_coefficient_and_one_model(linear_blend):
    # a strong penalty on few ratings shrinks the intercept too (the statement penalises all
    # coefficients), and a single model still gets its weight and an intercept
    for n_val, n_models, reg in [(40, 3, 50.0), (30, 1, 20.0), (200, 1, 0.0)]:
        val_preds, val_truth, test_preds = random_blend_data(n_val, 25, n_models, 2.0)
        got = np.asarray(linear_blend(val_preds, val_truth, test_preds, reg), dtype=float)
        assert got.shape == (25,)
        assert np.allclose(got, reference(val_preds, val_truth, test_preds, reg),
                           rtol=1e-6, atol=1e-8), (n_models, reg)

# %% blend-ex-penalty allow
recsys_lib.blend.FWLS.__init__ recsys_lib.blend.FWLS.fit recsys_lib.blend.FWLS.predict

# %% blend-ex-features wrapper
def support_features(train_users, train_items, n_users, n_items, users, items):
    import numpy as np
    from recsys_lib import blend
    from recsys_lib.splits import Ratings
    train = Ratings(train_users, train_items, np.ones(len(train_users), np.float32))
    return blend.support_features(train, n_users, n_items, users, items)

# %% blend-ex-penalty wrapper
def choose_penalty(preds, truth, features, candidates, n_folds=5, seed=0):
    from recsys_lib import blend
    return blend.choose_reg(preds, truth, features, candidates, n_folds, seed)

# %% blend-ex-linear wrapper
def linear_blend(val_preds, val_truth, test_preds, reg):
    import numpy as np
    from recsys_lib.blend import FWLS
    ones_val, ones_test = np.ones((len(val_preds), 1)), np.ones((len(test_preds), 1))
    return FWLS(reg).fit(val_preds, val_truth, ones_val).predict(test_preds, ones_test)
