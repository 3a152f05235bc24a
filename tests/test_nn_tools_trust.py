"""Bug hunt 3: diffkit.nn's data pipeline and the tools around training.

Each test asserts the right behaviour against an independent reference (PyTorch float64,
scikit-learn's conventions, or a hand-derived value), so each fails on the current code.
"""

from unittest import mock

import numpy as np
import pytest

from diffkit import nn

try:  # the reference; the tests that need it skip without it (CI has no PyTorch)
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch (the reference)")

if torch is not None:
    torch.set_default_dtype(torch.float64)


def _float64_linear_and_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)) * 1e3 + 0.123456789
    y = rng.integers(0, 2, 50)
    nn.manual_seed(0)
    m = nn.Linear(3, 2, dtype=np.float64)
    W, b = (torch.tensor(np.asarray(p.value)) for p in (m.weight, m.bias))
    return m, X, y, torch.tensor(X) @ W.T + b


# nn.predict casts every input to float32, so a float64 model's outputs carry float32 rounding
@needs_torch
def test_predict_float64_model_keeps_float64_precision():
    m, X, _, z = _float64_linear_and_data()
    out = np.asarray(nn.predict(m, X))
    assert out.dtype == np.float64
    rel = np.abs(out - z.numpy()).max() / np.abs(z.numpy()).max()
    assert rel < 1e-12, rel  # now about 2e-8: the inputs were rounded to float32


# Trainer.evaluate (and so fit's val_loss) of a float64 model sees float32-rounded inputs
@needs_torch
def test_evaluate_float64_model_val_loss_precision():
    m, X, y, z = _float64_linear_and_data()
    vl, _ = nn.Trainer(m, progress=False).evaluate(X, y)
    ref = float(torch.nn.functional.cross_entropy(z, torch.tensor(y)))
    assert vl == pytest.approx(ref, rel=1e-12, abs=0)  # now off by ~6e-9 relative


# train_test_split with a negative test_size silently puts most rows in the test set
def test_train_test_split_negative_test_size_is_refused():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    with pytest.raises(ValueError, match="test_size"):
        nn.train_test_split(X, y, test_size=-0.2)  # now: 8 test rows, 2 training rows


# train_test_split with an int test_size (scikit-learn: a row count) silently empties the train set
def test_train_test_split_int_test_size_is_a_count_or_refused():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    try:
        Xtr, Xte, _, _ = nn.train_test_split(X, y, test_size=3)
    except ValueError as exc:
        assert "test_size" in str(exc)
    else:  # scikit-learn's meaning: 3 test rows
        assert (len(Xtr), len(Xte)) == (7, 3)  # now (0, 10)


# test_size > 1 (a float) is also accepted silently: every row becomes a test row
def test_train_test_split_test_size_above_one_is_refused():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    with pytest.raises(ValueError, match="test_size"):
        nn.train_test_split(X, y, test_size=1.5)


# stratified split rounds each class separately: 7/7/6 rows at 0.5 give 11 test rows, not 10
def test_train_test_split_stratified_total_matches_test_size():
    y = np.array([0] * 7 + [1] * 7 + [2] * 6)
    _, Xte, _, _ = nn.train_test_split(np.arange(20), y, test_size=0.5, stratify=True)
    assert len(Xte) == 10  # scikit-learn's stratified split gives 10; now 11


# plot_decision_boundary reads one output as a logit (> 0): a sigmoid model is all "class 1"
def test_plot_decision_boundary_sigmoid_output_uses_probability_threshold():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.axes import Axes

    m = nn.MLP([2, 1], output_activation="sigmoid")
    m[0].weight.value[...] = np.array([[1.0, 0.0]], np.float32)
    m[0].bias.value[...] = 0.0  # p = sigmoid(x0): class 1 exactly where x0 > 0
    X = np.array([[-1.0, 0.0], [1.0, 0.5], [-0.5, 1.0], [0.7, -1.0]], np.float32)
    y = (X[:, 0] > 0).astype(int)
    seen = {}
    real = Axes.contourf

    def spy(self, gx, gy, z, *a, **k):
        seen["gx"], seen["z"] = gx, z
        return real(self, gx, gy, z, *a, **k)

    with mock.patch.object(Axes, "contourf", spy):
        nn.plots.plot_decision_boundary(m, X, y, resolution=21)
    expected = (seen["gx"] > 0).astype(int)
    away = np.abs(seen["gx"]) > 1e-6
    assert np.array_equal(seen["z"][away], expected[away])  # now class 1 everywhere


# nn.predict on zero rows returns shape (0,), not (0, out_features) as PyTorch's Linear does
@needs_torch
def test_predict_empty_input_keeps_output_width():
    out = nn.predict(nn.Linear(2, 3), np.zeros((0, 2), np.float32))
    assert tuple(out.shape) == tuple(torch.nn.Linear(2, 3)(torch.zeros(0, 2)).shape)  # (0, 3)


# nn.predict leaves the model in eval mode when the input cannot be converted (eval() is
# called before the try/finally that restores the mode)
def test_predict_restores_training_mode_when_input_is_bad():
    m = nn.MLP([2, 8, 2], dropout=0.5)
    m.train()
    with pytest.raises(ValueError):
        nn.predict(m, [[1.0, "a"]])
    assert m.training  # now False: dropout silently off in a following hand-written loop


# make_spirals returns fewer rows than n_samples when n_classes does not divide it
def test_make_spirals_returns_n_samples_rows():
    X, y = nn.make_spirals(100, n_classes=3)
    assert X.shape == (100, 2) and y.shape == (100,)  # now (99, 2)


# RandomShift with a shift larger than the image: bare numpy broadcast error from deep inside
def test_random_shift_larger_than_image_is_zero_or_named_error():
    img = np.ones((50, 1, 4, 4), np.float32)
    try:
        out = nn.RandomShift(6)(img, np.random.default_rng(0))
    except ValueError as exc:
        assert "max_shift" in str(exc), exc  # now: "could not broadcast input array ..."
    else:
        assert out.shape == img.shape


# train_test_split with X and y of different lengths: bare IndexError from a boolean mask
def test_train_test_split_length_mismatch_is_named():
    with pytest.raises(ValueError, match="rows|length|samples"):
        nn.train_test_split(np.zeros((10, 2)), np.zeros(8))


# stratify=True with one-hot y: flat indices of the 2-D array index rows → bare IndexError
def test_train_test_split_stratify_one_hot_is_named_or_works():
    X, y = np.arange(200).reshape(100, 2), np.eye(4)[np.arange(100) % 4]
    try:
        _, _, _, yte = nn.train_test_split(X, y, 0.2, stratify=True)
    except ValueError as exc:
        assert "strat" in str(exc) or "label" in str(exc)
    else:
        assert yte.sum(0).tolist() == [5, 5, 5, 5]


# RandomShift on flat rows without image_shape: bare IndexError instead of naming image_shape
def test_random_shift_flat_rows_without_image_shape_is_named():
    with pytest.raises(ValueError, match="image_shape"):
        nn.RandomShift(1)(np.ones((2, 64), np.float32), np.random.default_rng(0))


# ----- further checks of the fixes (references: scikit-learn, PyTorch, hand counts)


@pytest.mark.parametrize("n, test_size", [(10, 0.25), (1797, 0.25), (7, 0.5), (10, 3), (33, 0.1)])
def test_train_test_split_counts_match_scikit_learn(n, test_size):
    from sklearn.model_selection import train_test_split as sk_split

    X, y = np.arange(n), np.arange(n) % 3
    _, sk_te = sk_split(X, test_size=test_size, random_state=0)
    for stratify in (False, True):
        _, Xte, _, _ = nn.train_test_split(X, y, test_size=test_size, stratify=stratify)
        assert len(Xte) == len(sk_te)  # ceil(test_size·n) rows, stratified or not


@pytest.mark.parametrize("bad", [0, 10, 0.0, 1.0, 0.95, True, "0.2", None, np.nan])
def test_train_test_split_refuses_bad_test_size(bad):
    with pytest.raises(ValueError, match="test_size"):
        nn.train_test_split(np.zeros((10, 2)), np.arange(10) % 2, test_size=bad)


def test_train_test_split_stratified_keeps_class_proportions():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    _, _, _, yte = nn.train_test_split(np.arange(100), y, test_size=0.3, stratify=True)
    assert np.bincount(yte).tolist() == [15, 9, 6]  # 30 % of each class, by hand


def test_plot_decision_boundary_one_dimensional_output_and_threshold():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    class Flat(nn.Module):  # (N,) output: x0 − 0.25 as a logit
        def forward(self, x):
            return x[:, 0] - 0.25

    X = np.array([[-1.0, 0.0], [1.0, 0.5]], np.float32)
    fig = nn.plots.plot_decision_boundary(Flat(), X, np.array([0, 1]), resolution=5)
    plt.close(fig)
    z = np.array([-1.0, 0.2, 0.3, 2.0])
    assert nn.plots.predicted_class(z, 0.25).tolist() == [0, 0, 1, 1]
    assert nn.plots.default_threshold(nn.MLP([2, 1])) == 0.0
    assert nn.plots.default_threshold(nn.MLP([2, 1], output_activation="sigmoid")) == 0.5


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "8"])
def test_batch_size_validated_with_its_name(bad):
    with pytest.raises(ValueError, match="batch_size"):
        nn.predict(nn.Linear(2, 3), np.zeros((4, 2)), batch_size=bad)
    with pytest.raises(ValueError, match="batch_size"):
        nn.DataLoader(np.zeros((4, 2)), np.zeros(4), batch_size=bad)


@needs_torch
def test_predict_dtype_follows_model_and_batches_match():
    m32 = nn.Linear(3, 2)
    assert np.asarray(nn.predict(m32, np.zeros((5, 3)))).dtype == np.float32
    out = nn.predict(nn.ReLU(), np.array([[-1.0, 2.0]]))  # no parameters: float32
    assert np.asarray(out).dtype == np.float32
    m, X, _, z = _float64_linear_and_data()
    np.testing.assert_allclose(nn.predict(m, X, batch_size=7), z.numpy(), rtol=1e-13)


@needs_torch
@pytest.mark.parametrize("name", ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                                  "linear", "conv2d", "sigmoid", "tanh", "relu", "selu"])
def test_calculate_gain_matches_pytorch(name):
    assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))


def test_make_spirals_spreads_the_remainder():
    _, y = nn.make_spirals(100, n_classes=3)
    assert np.bincount(y).tolist() == [34, 33, 33]


def test_random_shift_refuses_bad_max_shift_and_keeps_valid_shifts():
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="max_shift"):
            nn.RandomShift(bad)
    img = np.arange(16.0).reshape(1, 1, 4, 4)
    out = nn.RandomShift(3)(np.repeat(img, 20, 0), np.random.default_rng(1))
    assert out.shape == (20, 1, 4, 4)


# nn.accuracy with one-hot labels or a length mismatch failed inside NumPy ("cannot reshape")
def test_accuracy_names_labels_that_do_not_fit():
    import diffkit as dk

    # targets of the outputs' shape are multi-label decisions, as fit scores them (hunt 40)
    assert nn.accuracy(np.eye(3) - 0.5, np.eye(3)) == 1.0
    assert nn.accuracy(np.eye(3) - 0.5, 1 - np.eye(3)) == 0.0
    with pytest.raises(dk.ShapeError, match="labels of shape"):
        nn.accuracy(np.eye(3), np.arange(4))
    assert nn.accuracy(np.eye(3), np.array([0, 1, 0])) == pytest.approx(2 / 3)


# a stratified split put a one-row class wholly in one part, and a test part smaller than the
# number of classes silently lacked classes; scikit-learn refuses both (ValueError)
def test_stratified_split_refuses_what_scikit_learn_refuses():
    y = np.array([0, 0, 0, 1, 1, 1, 2])
    with pytest.raises(ValueError, match="single row"):
        nn.train_test_split(np.arange(7), y, test_size=0.3, stratify=True)
    y = np.repeat([0, 1, 2], 5)
    for test_size, part in ((2, "test"), (0.1, "test"), (13, "train"), (0.9, "train")):
        with pytest.raises(ValueError, match=f"the {part} set would have"):
            nn.train_test_split(np.arange(15), y, test_size=test_size, stratify=True)
    _, _, _, yte = nn.train_test_split(np.arange(15), y, test_size=3, stratify=True)
    assert sorted(yte) == [0, 1, 2]
