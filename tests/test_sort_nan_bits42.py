"""NaNs a sort gives back are quiet NaNs: NumPy 2.4's AVX-512 sort of float16 returns each NaN as
0x7C01, a signalling NaN, and arithmetic on it raises NumPy's invalid-value error, which diffkit
names (a DomainError where NumPy's own median of the same data is NaN). Reference: IEEE 754's
quiet bit (0x0200 for binary16), and NumPy's median."""
import numpy as np
import pytest

import diffkit as dk

QUIET = {np.float16: (np.uint16, 0x0200), np.float32: (np.uint32, 0x00400000),
         np.float64: (np.uint64, 0x0008000000000000)}


@pytest.mark.parametrize("dtype", sorted(QUIET, key=lambda d: np.dtype(d).itemsize))
@pytest.mark.parametrize("n", [4, 40])
def test_sorted_nans_are_quiet(dtype, n):
    x = np.resize(np.array([1.0, np.nan, 3.0, 2.0], dtype=dtype), n)
    bits, quiet = QUIET[dtype]
    for out in (dk.sort(x), np.sort(dk.tensor(x)).value):
        nan = np.isnan(out)
        assert nan.sum() == np.isnan(x).sum()
        assert np.all(np.asarray(out)[nan].view(bits) & quiet), "a signalling NaN"


def test_median_times_two_of_float16_data_holding_nan_is_nan():
    d = np.array([1.0, np.nan, 2.0, 3.0], dtype=np.float16)
    f = dk.jit(lambda v: np.median(v) * 2.0)
    f(np.array([1.0, 0.5, 2.0, 3.0], dtype=np.float16))  # a trace made without NaN
    out = f(d)
    assert np.isnan(out) and np.asarray(out).dtype == np.float16
