"""graphc.fastmath against NumPy's float64 results over a dense sample of every float32.

The sample: every 4099th bit pattern (about a million values: subnormals, normals of
every exponent, both signs, +-inf and NaN) and the edges of each function's range. The
bounds are the ones graphc.fastmath states.
"""

import numpy as np
import pytest
from numba import njit

from graphc.fastmath import cos32, exp32, sin32

pytestmark = pytest.mark.compiled

EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 1.1754944e-38, 3.4028235e38, -3.4028235e38]
EDGES += [524287.97, 524288.0, 1.5707964, 3.1415927, 6.2831855, 1e6, 1e10, 88.72283, 88.72284]
EDGES += [-87.33655, -103.97207, -103.97209, 710.0, -0.5, 0.5]
SAMPLE = np.concatenate(
    [np.arange(0, 2**32, 4099, dtype=np.uint64).astype(np.uint32).view(np.float32),
     np.array(EDGES, np.float32)]
)  # fmt: skip


@njit(error_model="numpy")
def _apply(which, x, out):
    for i in range(x.size):
        v = x[i]
        out[i] = exp32(v) if which == 0 else sin32(v) if which == 1 else cos32(v)


def _ulps(got, want64):
    """|got - want| in units of the float32 spacing at the true value (normals' spacing
    below the smallest normal)."""
    tiny = np.finfo(np.float32).tiny
    spacing = np.spacing(np.maximum(np.abs(want64), tiny).astype(np.float32))
    return np.abs(got.astype(np.float64) - want64) / spacing.astype(np.float64)


@pytest.mark.parametrize(
    "which, ref", [(0, np.exp), (1, np.sin), (2, np.cos)], ids=["exp", "sin", "cos"]
)
def test_correctly_rounded_over_a_dense_sample_of_the_float32_range(which, ref):
    got = np.empty_like(SAMPLE)
    _apply(which, SAMPLE, got)
    with np.errstate(all="ignore"):
        want64 = ref(SAMPLE.astype(np.float64))
        want = want64.astype(np.float32)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))  # NaN exactly where NumPy's
    infinite = np.isinf(want)
    np.testing.assert_array_equal(got[infinite], want[infinite])  # exp's overflow to +inf
    finite = np.isfinite(want)
    assert _ulps(got[finite], want64[finite]).max() <= 0.5 + 1e-6  # correctly rounded
    if which == 0:  # exp: subnormal results within one subnormal step, 0 below the range
        sub = finite & (want64 < np.finfo(np.float32).tiny)
        assert np.abs(got[sub] - want64[sub]).max() <= 1.4e-45
    if which == 1:
        zeros = SAMPLE == 0
        np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(SAMPLE[zeros]))
