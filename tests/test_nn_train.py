"""Training end to end: digits accuracy (MLP ≥ 97 %, CNN ≥ 98 %), checkpoints that resume
bit-identically, the CLI, early stopping, schedulers, plots."""

from __future__ import annotations

import numpy as np
import pytest

from diffkit import nn
from diffkit.cli import main


@pytest.fixture(scope="module")
def digits_split():
    X, y = nn.load_digits(images=True)
    return nn.train_test_split(X, y, test_size=0.2, seed=0)


def test_mlp_on_digits_reaches_97_percent(digits_split):
    Xtr, Xte, ytr, yte = (a.reshape(len(a), -1) if a.ndim == 4 else a for a in digits_split)
    mu, sd = Xtr.mean(0), Xtr.std(0) + 0.1
    nn.manual_seed(0)
    model = nn.MLP([64, 128, 64, 10])
    opt = nn.Adam(model.parameters(), lr=3e-3)
    trainer = nn.Trainer(model, optimizer=opt, scheduler=nn.CosineAnnealingLR(opt, 30), progress=False)
    h = trainer.fit(nn.DataLoader((Xtr - mu) / sd, ytr, 32, seed=0), val_data=((Xte - mu) / sd, yte),
                    epochs=30)
    assert h["val_accuracy"][-1] >= 0.97
    assert set(h["grad_norms"]) == {"0.weight", "2.weight", "4.weight"}
    assert model[0].weight.dtype == np.float32


def test_small_cnn_on_digits_reaches_98_percent(digits_split):
    Xtr, Xte, ytr, yte = digits_split
    nn.manual_seed(0)
    net = nn.Net(image_size=8, padding=1, channels=(16, 32), hidden=(64,))
    opt = nn.Adam(net.parameters(), lr=3e-3)
    trainer = nn.Trainer(net, optimizer=opt, scheduler=nn.CosineAnnealingLR(opt, 20), progress=False)
    h = trainer.fit(nn.DataLoader(Xtr, ytr, 32, seed=0), val_data=(Xte, yte), epochs=20)
    assert h["val_accuracy"][-1] >= 0.98


def _trainer(checkpoint=None):
    nn.manual_seed(0)
    model = nn.MLP([2, 16, 16, 2], dropout=0.1, batch_norm=True)
    opt = nn.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    return nn.Trainer(model, optimizer=opt, scheduler=nn.StepLR(opt, 2, 0.5), progress=False,
                      checkpoint=checkpoint, early_stopping=nn.EarlyStopping(patience=50),
                      clip_grad_norm=5.0)


def test_checkpoint_resume_is_bit_identical(tmp_path):
    X, y = nn.make_moons(128, noise=0.2)
    val = nn.make_moons(64, noise=0.2, seed=1)
    straight = _trainer()
    straight.fit(nn.DataLoader(X, y, 16, seed=3, transform=nn.AddGaussianNoise(0.01)), val, epochs=4)
    path = tmp_path / "run.ckpt"
    first = _trainer(str(path))
    first.fit(nn.DataLoader(X, y, 16, seed=3, transform=nn.AddGaussianNoise(0.01)), val, epochs=2)
    nn.manual_seed(123)  # disturb the global generator: the checkpoint must restore it
    resumed = _trainer()
    resumed.load_checkpoint(str(path))
    resumed.fit(nn.DataLoader(X, y, 16, seed=99, transform=nn.AddGaussianNoise(0.01)), val, epochs=4)
    for (k, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    assert straight.history["loss"] == resumed.history["loss"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]  # no temp file left


def test_early_stopping_and_plateau():
    stop = nn.EarlyStopping(patience=2, mode="max")
    assert [stop.step(v) for v in [0.5, 0.6, 0.6, 0.59]] == [False, False, False, True]
    assert stop.best == 0.6 and stop.best_epoch == 1
    opt = nn.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    sched = nn.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    for v in [1.0, 0.5, 0.6, 0.6, 0.6]:
        sched.step(v)
    assert sched.get_last_lr() == [0.5]


@pytest.mark.parametrize("make,expect", [
    (lambda o: nn.StepLR(o, step_size=2, gamma=0.5), [1, 1, 0.5, 0.5, 0.25]),
    (lambda o: nn.MultiStepLR(o, [1, 3], gamma=0.1), [1, 0.1, 0.1, 0.01, 0.01]),
    (lambda o: nn.ExponentialLR(o, gamma=0.5), [1, 0.5, 0.25, 0.125, 0.0625]),
    (lambda o: nn.CosineAnnealingLR(o, T_max=4), [1, (1 + np.cos(np.pi / 4)) / 2, 0.5,
                                                   (1 + np.cos(3 * np.pi / 4)) / 2, 0]),
])
def test_schedulers(make, expect):
    opt = nn.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    sched = make(opt)
    got = []
    for _ in expect:
        got.append(opt.param_groups[0]["lr"])
        sched.step()
    np.testing.assert_allclose(got, expect, atol=1e-12)


def test_cli_train_moons(capsys):
    assert main(["train", "moons", "--epochs", "15", "--no-progress"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("test accuracy: ")
    assert float(out[-1].split(": ")[1]) > 0.9


def test_cli_cuda_without_gpu_is_a_clear_error(capsys):
    from diffkit.backend import gpu_available

    if gpu_available():
        pytest.skip("a GPU is present")
    assert main(["train", "xor", "--device", "cuda", "--epochs", "1", "--no-progress"]) == 1
    assert "CuPy" in capsys.readouterr().err


def test_datasets_and_augmentation():
    for name, make in nn.DATASETS.items():
        X, y = make(n_samples=90, seed=0)
        assert X.shape == (90, 2) and X.dtype == np.float32 and set(np.unique(y)) <= {0, 1, 2}, name
    rng = np.random.default_rng(0)
    img = np.zeros((1, 1, 4, 4), np.float32)
    img[0, 0, 1, 1] = 1
    shifted = nn.RandomShift(1)(img, rng)
    assert shifted.sum() == 1 and shifted.shape == img.shape
    a = nn.DataLoader(np.arange(10.0)[:, None], np.arange(10), batch_size=3, seed=5)
    b = nn.DataLoader(np.arange(10.0)[:, None], np.arange(10), batch_size=3, seed=5)
    assert [list(yb) for _, yb in a] == [list(yb) for _, yb in b]


def test_plots_and_trajectories(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from diffkit.nn import plots

    X, y = nn.make_moons(100)
    model = nn.MLP([2, 8, 2])
    h = nn.fit(model, nn.DataLoader(X, y), epochs=2, val_data=(X, y), progress=False)
    plots.plot_history(h).savefig(tmp_path / "h.png")
    plots.plot_decision_boundary(model, X, y).savefig(tmp_path / "d.png")
    plots.plot_grad_norms(h).savefig(tmp_path / "g.png")
    paths = plots.trajectories("rosenbrock", steps=50)
    assert set(paths) == {"SGD", "Momentum", "Nesterov", "RMSprop", "Adam"}
    assert all(p.shape == (51, 2) for p in paths.values())
    plots.plot_trajectories("saddle", steps=30).savefig(tmp_path / "t.png")


@pytest.mark.parametrize("lr", [0.05, 1e30])  # a normal fit, and one that diverges mid-epoch
def test_fit_leaves_numpy_error_state_and_the_collector_as_it_found_them(lr):
    import gc

    X, y = nn.make_moons(64, noise=0.1, seed=0)
    nn.manual_seed(0)
    model = nn.MLP([2, 8, 2])
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=lr), progress=False)
    before = np.geterr()
    assert gc.isenabled()
    with np.errstate(divide="warn", over="warn", invalid="warn", under="ignore"):
        state = np.geterr()
        loader = nn.DataLoader(X.astype(np.float32), y, batch_size=16, seed=0)
        if lr > 1:
            with pytest.raises(nn.DivergenceError):
                trainer.fit(loader, epochs=2)
        else:
            trainer.fit(loader, epochs=2)
        assert np.geterr() == state  # the epoch's "ignore" does not leak out
    assert np.geterr() == before and gc.isenabled()


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("drop_last", [True, False])
@pytest.mark.parametrize("shape", [(23, 3), (23, 1, 2, 3), (23,)])
def test_dataloader_batches_are_the_rows_of_its_order(shuffle, drop_last, shape):
    """Each batch is X's and y's rows at the next `batch_size` positions of the epoch's order
    (the seeded permutation, or 0..n−1), every row with its own label, as fresh C-ordered copies
    in the loader's dtype; the last short batch is dropped only when asked."""
    n, bs, seed = shape[0], 5, 3
    X = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) * 0.5
    y = np.arange(n) * 7
    loader = nn.DataLoader(X, y, batch_size=bs, shuffle=shuffle, drop_last=drop_last, seed=seed)
    for epoch_rng in [np.random.default_rng(seed)] * 2:  # two epochs: the order moves on
        order = epoch_rng.permutation(n) if shuffle else np.arange(n)
        stops = range(bs, (n // bs) * bs + 1, bs) if drop_last else range(bs, n + bs, bs)
        batches = list(loader)
        assert len(batches) == len(stops) == len(loader)
        for (xb, yb), stop in zip(batches, stops, strict=True):
            rows = order[stop - bs:stop]
            assert xb.dtype == np.float32 and xb.flags.c_contiguous and not np.shares_memory(xb, X)
            np.testing.assert_array_equal(xb, X[rows].astype(np.float32))
            np.testing.assert_array_equal(yb, y[rows])
            np.testing.assert_array_equal(yb // 7, (xb.reshape(len(xb), -1)[:, 0] * 2
                                                    / np.prod(shape[1:])).astype(int))


@pytest.mark.parametrize("compile", [None, False])
def test_the_epoch_loss_is_the_row_weighted_mean_of_the_steps_losses_summed_exactly(compile):
    """fit's loss for an epoch: Σ lossᵢ·rowsᵢ / rows over its steps, with the steps' own
    (float32) losses. It was summed in the losses' float32, step by step (~1e-7 relative off
    already on a few dozen steps); now exactly, as math.fsum of the float64 products is here.
    The steps' losses are taken from a spy on the step; the rows from the batches."""
    import math

    X, y = nn.load_digits()
    nn.manual_seed(0)
    model = nn.MLP([64, 32, 10])
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.05), progress=False,
                         compile=compile)
    seen: list[tuple[float, int]] = []
    step = trainer._step_unguarded

    def spy(xb, yb):
        loss, hits = step(xb, yb)
        seen.append((float(loss), len(yb)))
        return loss, hits

    trainer._step_unguarded = spy
    h = trainer.fit(nn.DataLoader(X, y, batch_size=7, seed=0), epochs=1)
    assert len(seen) == -(-len(X) // 7) and all(isinstance(v, float) for v, _ in seen)
    exact = math.fsum(v * m for v, m in seen) / len(X)  # v·m is exact in float64 here
    assert h["loss"][0] == pytest.approx(exact, rel=1e-15, abs=0)
