# Checks of chapter 11's exercises (see course/build.py for the format). The reference is
# recsys_lib.blend.FWLS with the constant as its only meta-feature (a weight per model and an
# intercept, all penalised) and a ridge solution computed here by another route.
# %% common
import numpy as np
from recsys_lib.blend import FWLS

rng = np.random.default_rng()


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


def reference(val_preds, val_truth, test_preds, reg):
    """The blend twice: FWLS on a constant feature, and an augmented least-squares ridge."""
    ones_val, ones_test = np.ones((len(val_preds), 1)), np.ones((len(test_preds), 1))
    fwls = FWLS(reg).fit(val_preds, val_truth, ones_val).predict(test_preds, ones_test)
    X = np.column_stack([val_preds, ones_val])
    k = X.shape[1]
    coef = np.linalg.lstsq(np.vstack([X, np.sqrt(reg) * np.eye(k)]),
                           np.concatenate([val_truth, np.zeros(k)]), rcond=None)[0]
    ridge = np.column_stack([test_preds, ones_test]) @ coef
    assert np.allclose(fwls, ridge, rtol=1e-7, atol=1e-9)  # the two references agree
    return fwls

# %% blend-ex-linear public
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
