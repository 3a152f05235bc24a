"""CuPy runs: the same seed on NumPy and on a GPU gives the same training to fp32 tolerance.
Skipped without CuPy or a GPU."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit as dk
from diffkit import nn

pytestmark = pytest.mark.gpu
needs_gpu = pytest.mark.skipif(not dk.backend.gpu_available(), reason="needs CuPy and a GPU")


def _train(device, model_fn, X, y, epochs=3):
    nn.manual_seed(0)
    model = model_fn().to(device)
    opt = nn.Adam(model.parameters(), lr=1e-2)
    trainer = nn.Trainer(model, optimizer=opt, progress=False)
    h = trainer.fit(nn.DataLoader(X, y, 32, seed=0, device=device), epochs=epochs)
    return model.state_dict(), h


@needs_gpu
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_cupy_matches_numpy(kind):
    X, y = nn.load_digits(images=kind == "cnn")
    X, y = X[:256], y[:256]
    make = (lambda: nn.MLP([64, 32, 10], dropout=0.1)) if kind == "mlp" else (
        lambda: nn.Net(image_size=8, padding=1, channels=(4, 8), hidden=(16,)))
    cpu, hc = _train("cpu", make, X, y)
    gpu, hg = _train("cuda", make, X, y)
    np.testing.assert_allclose(hc["loss"], hg["loss"], rtol=1e-4)
    for k in cpu:
        np.testing.assert_allclose(cpu[k], gpu[k], rtol=1e-3, atol=1e-4, err_msg=k)


@needs_gpu
def test_step_stays_on_device():
    import cupy

    nn.manual_seed(0)
    model = nn.MLP([4, 8, 3]).to("cuda")
    x, y = cupy.ones((5, 4), cupy.float32), cupy.array([0, 1, 2, 0, 1])
    loss = nn.cross_entropy(model(x), y)
    loss.backward(cupy.ones((), cupy.float32))  # core seeds 0-d roots with a host float: see docs
    for p in model.parameters():
        assert isinstance(p.value, cupy.ndarray) and isinstance(p.grad, cupy.ndarray)
        assert p.grad.dtype == cupy.float32


def test_cuda_without_gpu_is_a_clear_error():
    if dk.backend.gpu_available():
        pytest.skip("a GPU is present")
    with pytest.raises(dk.BackendError, match="CuPy"):
        nn.Linear(2, 2).to("cuda")


def _fit_on(device, make, X, y, compile=None, epochs=3):
    nn.manual_seed(0)
    model = make().to(device)
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.05), progress=False,
                         compile=compile)
    h = trainer.fit(nn.DataLoader(X, y, 32, seed=0, device=device), epochs=epochs)
    return trainer, model.state_dict(), h


@needs_gpu
@pytest.mark.parametrize("kind", ["mlp", "cnn", "layernorm"])
def test_generated_step_on_the_gpu_trains_as_numpy(kind):
    """On a GPU the Trainer runs the generated step (printed from a host trace, run by CuPy,
    element-wise runs fused), and trains as the NumPy step does to float32 rounding."""
    X, y = nn.load_digits(images=kind == "cnn")
    X, y = X[:320], y[:320]
    make = {"mlp": lambda: nn.MLP([64, 32, 10]),
            "cnn": lambda: nn.Net(image_size=8, padding=1, channels=(4, 8), hidden=(16,)),
            "layernorm": lambda: nn.Sequential(nn.Linear(64, 32), nn.LayerNorm(32), nn.Tanh(),
                                               nn.Linear(32, 10))}[kind]
    tc, cpu, hc = _fit_on("cpu", make, X, y)
    tg, gpu, hg = _fit_on("cuda", make, X, y, compile=True)
    te, _, he = _fit_on("cuda", make, X, y, compile=False)
    assert tc.compiled == "compiled" and tg.compiled == "compiled", tg.compiled
    assert te.compiled.startswith("eager")
    (code, _), = [c for c in tg._step.codes.values() if type(c) is not str]
    assert code.fused, "the element-wise runs should be fused on CuPy"
    np.testing.assert_allclose(hg["loss"], hc["loss"], rtol=1e-4)
    np.testing.assert_allclose(hg["loss"], he["loss"], rtol=1e-4)
    for k in cpu:
        np.testing.assert_allclose(dk.backend.to_numpy(gpu[k]), cpu[k], rtol=1e-3, atol=1e-5,
                                   err_msg=k)


@needs_gpu
def test_generated_step_on_the_gpu_checks_labels():
    import cupy

    nn.manual_seed(0)
    model = nn.MLP([4, 8, 3]).to("cuda")
    trainer = nn.Trainer(model, optimizer=nn.SGD(model.parameters(), lr=0.1), progress=False)
    x = cupy.ones((6, 4), cupy.float32)
    good, bad = cupy.array([0, 1, 2, 0, 1, 2]), cupy.array([0, 1, 2, 0, 1, 3])
    trainer.fit([(x, good)] * 3, epochs=2)
    assert trainer.compiled == "compiled"
    with pytest.raises(ValueError, match="3"):
        trainer.fit([(x, bad)], epochs=3)
