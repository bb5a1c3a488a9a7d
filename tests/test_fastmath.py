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


@pytest.mark.parametrize("n", [1000, 200_000], ids=["serial", "both-cores"])
def test_kernels_take_the_near_range_forms_and_redo_beyond(tmp_path, n):
    """A fused kernel computes sin and cos by their near-range forms, counts inputs beyond
    2**19, and computes the whole kernel again exactly when there are any: the results
    are the correctly rounded ones either way (checked against NumPy)."""
    import graphc as tf

    x = tf.placeholder(tf.float32, [None])
    y = tf.sin(x) * 2.0 + tf.cos(x * 0.5)
    rng = np.random.default_rng(0)
    small = rng.normal(0, 100, n).astype(np.float32)
    wild = small.copy()
    wild[::97] = rng.uniform(-3e38, 3e38, wild[::97].size).astype(np.float32)
    wild[:4] = [np.inf, -np.inf, np.nan, -0.0]
    with tf.Session(cache_dir=tmp_path) as sess:
        step = sess.make_callable(y, [x])
        for values in (small, wild):
            got = step(values)
            with np.errstate(all="ignore"):
                s = np.sin(values.astype(np.float64)).astype(np.float32)
                c = np.cos((values * np.float32(0.5)).astype(np.float64)).astype(np.float32)
            np.testing.assert_array_equal(got, s * np.float32(2.0) + c)
    assert "sin32_near(" in step.source and "cos32_near(" in step.source
    assert "  # exactly, over the whole float32 range" in step.source


def test_what_graphc_knows_of_fastmath_without_importing_it():
    """graphc does not import graphc.fastmath (Numba's machinery, 0.3 s of `import graphc`):
    the codegen's list of its functions, its file and the bound below which sin32_near
    and cos32_near hold are written down; they must be fastmath's own."""
    import subprocess
    import sys

    from graphc import fastmath
    from graphc.codegen.context import FASTMATH, FASTMATH_FILE
    from graphc.ops import REGISTRY

    assert tuple(sorted(fastmath.__all__)) == FASTMATH
    assert FASTMATH_FILE.samefile(fastmath.__file__)
    assert REGISTRY["sin"].near[1] == REGISTRY["cos"].near[1] == fastmath.NEAR
    code = "import sys, graphc; print('graphc.fastmath' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        == "False\n"
    )
