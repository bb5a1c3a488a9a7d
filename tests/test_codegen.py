"""Pieces of the emitted text: literals, the broadcast index rule, loops of extent 1.

The whole generated module is pinned by tests/test_golden_source.py; these tests
cover the rules it is built from on the edge cases the golden programs do not reach.
"""

import math

import numpy as np
import pytest

import graphc as tf
from graphc.codegen.context import broadcast_index, float_text, literal, stretched_axes
from graphc.codegen.kernels import axis_groups
from graphc.types import float32, float64, int32, int64

F32 = np.finfo(np.float32)
F64 = np.finfo(np.float64)
FLOATS = {
    "float32": [
        0.9,
        0.1,
        1 / 3,
        0.10000002384185791,
        1e-08,
        1.0,
        100.0,
        123456789.0,
        1e16,
        1e-4,
        9.999999e-5,
        0.0,
        -0.0,
        np.inf,
        -np.inf,
        np.nan,
        -np.nan,
        F32.max,
        -F32.max,
        F32.tiny,  # the smallest normal
        F32.smallest_subnormal,
        -F32.smallest_subnormal,
        F32.tiny - F32.smallest_subnormal,  # the largest subnormal
        2.0**24 + 2,
    ],
    "float64": [
        0.9,
        0.1,
        1 / 3,
        1e16,
        1e-4,
        9.999999999999999e-5,
        -0.0,
        np.inf,
        -np.nan,
        F64.max,
        F64.tiny,
        F64.smallest_subnormal,
        F64.tiny - F64.smallest_subnormal,
    ],
}
DTYPES = {"float32": float32, "float64": float64}
CASES = [(name, v) for name, values in FLOATS.items() for v in values]


def _bits(x: np.floating) -> int:
    return int(np.asarray(x).view(f"u{x.dtype.itemsize}"))


@pytest.mark.parametrize(("dtype", "value"), CASES, ids=[f"{d}-{v!r}" for d, v in CASES])
def test_float_literal_round_trips_bit_for_bit(dtype, value):
    want = DTYPES[dtype].np.type(value)
    text = literal(value, DTYPES[dtype])
    assert text == f"np.{dtype}({float_text(want)})"
    got = eval(text, {"np": np, "math": math})
    assert got.dtype == want.dtype and _bits(got) == _bits(want), (text, want)
    if np.isfinite(want):  # the digits alone, read as Python reads a literal, then cast
        assert _bits(want.dtype.type(float(float_text(want)))) == _bits(want)


def test_float32_literals_are_written_in_float32_digits():
    assert literal(np.float32(0.9), float32) == "np.float32(0.9)"
    assert literal(0.9, float32) == "np.float32(0.9)"  # a Python float: cast to the dtype first
    assert literal(np.float32(1e-8), float32) == "np.float32(1e-08)"
    assert literal(np.float32(1) - np.float32(0.9), float32) == "np.float32(0.100000024)"
    assert literal(0.1, float64) == "np.float64(0.1)"
    assert literal(-0.0, float32) == "np.float32(-0.0)"
    assert literal(np.float32(3e38), float32) == "np.float32(3e+38)"
    assert literal(np.inf, float64) == "np.float64(np.inf)"
    assert literal(-np.inf, float32) == "np.float32(-np.inf)"
    assert literal(np.nan, float32) == "np.float32(np.nan)"
    assert literal(123456789.0, float32) == "np.float32(123456790.0)"


def test_integer_and_bool_literals_are_unchanged():
    assert literal(np.int32(-7), int32) == "np.int32(-7)"
    assert literal(np.iinfo(np.int64).min, int64) == f"np.int64({np.iinfo(np.int64).min})"
    assert literal(2.9, int32) == "np.int32(2)"  # truncated, as before
    assert literal(np.bool_(True), tf.bool) == "True"


@pytest.mark.compiled
def test_float_literals_compile_to_the_same_bits():
    """What Numba makes of the text (not only NumPy's eval): one function returning them all."""
    from numba import njit

    values = [DTYPES[d].np.type(v) for d, v in CASES]
    texts = [literal(v, DTYPES[d]) for (d, _), v in zip(CASES, values, strict=True)]
    namespace = {"np": np, "math": math}
    exec(f"def all_literals():\n    return ({', '.join(texts)},)\n", namespace)
    got = njit(namespace["all_literals"])()
    for text, g, want in zip(texts, got, values, strict=True):
        assert _bits(want.dtype.type(g)) == _bits(want), text  # float32 comes back widened


def test_broadcast_index_drops_missing_axes_and_reads_stretched_ones_at_zero():
    out = (None, 4, 3)
    assert broadcast_index((None, 4, 3), ["i0", "i1", "i2"], out) == ["i0", "i1", "i2"]
    assert broadcast_index((3,), ["i0", "i1", "i2"], out) == ["i2"]
    assert broadcast_index((4, 1), ["i0", "i1", "i2"], out) == ["i1", "0"]
    assert broadcast_index((1, 4, 3), ["i0", "i1", "i2"], out) == ["0", "i1", "i2"]
    assert broadcast_index((1,), ["i0"], (1,)) == ["i0"]  # not stretched: its own index
    assert broadcast_index((), ["i0", "i1"], (2, 2)) == []


def test_stretched_axes_are_the_ones_broadcasting_adds_or_stretches():
    assert stretched_axes((None, 4, 3), (None, 4, 3)) == ()
    assert stretched_axes((3,), (None, 4, 3)) == (0, 1)
    assert stretched_axes((4, 1), (None, 4, 3)) == (0, 2)
    assert stretched_axes((1, 1), (None, 1)) == (0,)  # size 1 onto unknown: stretched


@pytest.mark.compiled
def test_axes_of_extent_one_get_no_loop(tmp_path):
    x = tf.placeholder(tf.float32, [None, 1], name="x")
    y = tf.placeholder(tf.float32, [1, 3], name="y")
    out = [
        tf.exp(x, name="ex"),  # a kernel over (?, 1)
        tf.reduce_max(x, axis=1, name="row_max"),  # reduces an axis of extent 1
        tf.argmax(x, axis=1, name="arg"),  # the same, as an index
        tf.reduce_sum(y * 2.0, axis=0, name="col_sum"),  # a kernel reducing over extent 1
        tf.matmul(x, y, name="outer"),
    ]
    feeds = [np.array([[1.0], [-2.0]], np.float32), np.array([[1.0, 2.0, 3.0]], np.float32)]
    with tf.Session(cache_dir=tmp_path) as sess:
        step = sess.make_callable(out, [x, y])
        got = step(*feeds)
    with tf.Session(target="numpy") as sess:
        want = sess.make_callable(out, [x, y])(*feeds)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    assert "range(1)" not in step.source and "0 == 0" not in step.source
    assert "for i1 " not in step.source  # every rank-2 loop nest lost its axis of extent 1


def _shaped(*shapes):
    return [tf.placeholder(tf.float32, shape) for shape in shapes]


def test_axis_groups_merge_axes_every_input_reads_alike():
    kernel = (2, 3, 4, 5)
    assert axis_groups(kernel, _shaped(kernel)) == [[0, 1, 2, 3]]
    assert axis_groups(kernel, _shaped(kernel, [5])) == [[0, 1, 2], [3]]  # a bias
    assert axis_groups(kernel, _shaped(kernel, [3, 4, 5])) == [[0], [1, 2, 3]]
    assert axis_groups(kernel, _shaped([2, 1, 4, 5], kernel)) == [[0], [1], [2, 3]]
    assert axis_groups(kernel, _shaped(kernel, [])) == [[0, 1, 2, 3]]  # scalars read alike
    assert axis_groups((2, 1, 3), _shaped([2, 1, 3])) == [[0, 2]]  # extent 1: no loop
    assert axis_groups((None, 4), _shaped([None, 4], [4])) == [[0], [1]]


@pytest.mark.compiled
def test_kernels_loop_over_merged_axes_through_views(tmp_path):
    x = tf.placeholder(tf.float32, [None, 3, 4, 5], name="x")
    y, z = tf.placeholder(tf.float32, [4, 5]), tf.placeholder(tf.float32, [5])
    out = tf.tanh(x * y + z)  # loops (? * 3, 4, 5): only x reads the first two axes
    rng = np.random.default_rng(0)
    feeds = [rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 4, 5), (4, 5), (5,))]
    with tf.Session(cache_dir=tmp_path) as sess:
        step = sess.make_callable(out, [x, y, z])
        got = step(*feeds)
    with tf.Session(target="numpy") as sess:
        want = sess.make_callable(out, [x, y, z])(*feeds)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert ".reshape((x.shape[0] * 3, 4, 5))" in step.source  # the leading axes merged
    assert "for i3 " not in step.source  # three loops, not four


def test_step_takes_one_argument_per_line_in_groups_under_a_docstring(tmp_path):
    x = tf.placeholder(tf.float32, [None], name="x")
    v = tf.Variable(np.zeros(3, np.float32), name="v")
    c = tf.constant(np.arange(3, dtype=np.float32), name="c")
    out = tf.add(tf.reduce_sum(x) + v * c, tf.random_uniform([3], seed=1), name="out")
    update = v.assign_add(c)
    with tf.Session(cache_dir=tmp_path) as sess:
        source = sess.make_callable([out, update.op, update], [x]).source  # generated, not run
    head = source[source.index("def step(") : source.index('    """\n') + 8]
    assert head == (
        "def step(\n"
        "    # feeds\n"
        "    x,\n"
        "    # variables (updated in place at the end of the step)\n"
        "    v_buffer,\n"
        "    # constants\n"
        "    c,\n"
        "    Const,\n"
        "    # random generator states\n"
        "    RandomUniform_rng,\n"
        "):\n"
        '    """One step: what it fetches and runs, named as in the graph the caller built.\n'
        "\n"
        "    Fetches: out f32[3], AssignAdd f32[3]\n"
        "    Runs for its effects: AssignAdd (Assign)\n"
        "    Feeds: x f32[?]\n"
        '    """\n'
    )


def test_a_step_without_arguments(tmp_path):
    with tf.Session(cache_dir=tmp_path) as sess:
        step = sess.make_callable(tf.no_op(name="nothing"))
        assert step() is None
    assert "def step():\n" in step.source and "    Feeds: none\n" in step.source


def test_scalar_constants_are_values_the_step_is_given(tmp_path):
    """Their values are not in the source (a graph that differs only in them shares the
    compiled module); each keeps its dtype, float, integer or bool."""
    x = tf.placeholder(tf.float32, [])
    k = tf.placeholder(tf.int8, [])
    y = tf.where(tf.constant(True), x * 0.1 + 3e38, x)
    z = k * tf.constant(-128, tf.int8)  # wraps in int8, as NumPy does
    with tf.Session(cache_dir=tmp_path) as sess:
        step = sess.make_callable([y, z], [x, k])
        got_y, got_z = step(2.0, 1)
    assert got_y == np.float32(2.0) * np.float32(0.1) + np.float32(3e38)
    assert got_z.dtype == np.int8 and got_z == -128
    assert "3e+38" not in step.source and "0.1" not in step.source
    assert "    scalars,\n    integers,\n):" in step.source
