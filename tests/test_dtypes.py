"""TF1's dtypes: names as TF1 reads them, and the 8- and 16-bit integer dtypes.

Oracles: TF1's string table (`_STRING_TO_TF` in tensorflow/python/framework/dtypes.py)
and its documented rules, written here as a table and hand values; NumPy's fixed-width
integer arithmetic (values that wrap are worked out by hand in the comments). Values
are checked on the reference and the compiled target.
"""

import numpy as np
import pytest

import graphc as tf
from graphc.errors import DTypeError

TARGETS = ["numpy", pytest.param("cpu", marks=pytest.mark.compiled)]

# TF1's dtype strings and what they mean there (the C names included: "float" is float32)
TF1_NAMES = {
    "half": tf.float16,
    "float16": tf.float16,
    "float": tf.float32,
    "float32": tf.float32,
    "double": tf.float64,
    "float64": tf.float64,
    "int8": tf.int8,
    "int16": tf.int16,
    "int32": tf.int32,
    "int64": tf.int64,
    "uint8": tf.uint8,
    "uint16": tf.uint16,
    "bool": tf.bool,
}


def _run(target, fetches, feeds=None, tmp_path=None):
    with tf.Session(target=target, cache_dir=tmp_path) as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feeds)


@pytest.fixture(autouse=True)
def _fresh_graph():
    with tf.Graph().as_default():
        yield


# ---- names -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(TF1_NAMES))
def test_tf1_dtype_names(name):
    assert tf.as_dtype(name) is TF1_NAMES[name]
    assert tf.placeholder(name, [2]).dtype is TF1_NAMES[name]


def test_python_and_numpy_types():
    assert tf.as_dtype(float) is tf.float32  # TF1's _PYTHON_TO_TF, not NumPy's float64
    assert tf.as_dtype(bool) is tf.bool
    assert tf.as_dtype(int) is tf.int32  # TF1 rejects int; graphc: the dtype of a Python int
    assert tf.as_dtype(np.float64) is tf.float64
    assert tf.as_dtype(np.dtype("uint8")) is tf.uint8
    assert tf.as_dtype(np.int16) is tf.int16
    for dtype in (tf.int8, tf.int16, tf.uint8, tf.uint16):
        assert dtype.as_numpy_dtype is np.dtype(dtype.name).type
        assert tf.as_dtype(dtype) is dtype


def test_dtype_compares_with_tf1_names():
    assert tf.float32 == "float" and tf.float64 == "double" and tf.float16 == "half"
    assert tf.float32 != "float64" and tf.float64 != "float"
    assert tf.int8 != "flaot"  # an unknown name is simply not equal


def test_dtype_limits():
    assert (tf.int8.min, tf.int8.max) == (-128, 127)
    assert (tf.uint8.min, tf.uint8.max) == (0, 255)
    assert (tf.int16.min, tf.int16.max) == (-32768, 32767)
    assert (tf.uint16.min, tf.uint16.max) == (0, 65535)
    assert (tf.int32.min, tf.int64.max) == (-(2**31), 2**63 - 1)
    assert tf.float32.max == (2 - 2**-23) * 2.0**127 == -tf.float32.min
    assert (tf.bool.min, tf.bool.max) == (False, True)
    assert tf.uint8.is_unsigned and tf.uint16.is_unsigned and not tf.int8.is_unsigned
    assert [d.size for d in (tf.int8, tf.uint16, tf.float32, tf.int64)] == [1, 2, 4, 8]
    assert tf.int16.is_integer and not tf.int16.is_floating


def test_every_dtype_argument_reads_tf1_names():
    assert tf.constant(1, dtype="float").dtype is tf.float32
    assert tf.cast(tf.constant(1), "double").dtype is tf.float64
    assert tf.Variable([1, 2], dtype="float").dtype is tf.float32
    assert tf.zeros([2], "float").dtype is tf.float32
    assert tf.ones([2], dtype="half").dtype is tf.float16
    assert tf.random_normal([2], dtype="double").dtype is tf.float64
    assert tf.random_uniform([2], dtype="float").dtype is tf.float32
    assert tf.one_hot([0, 1], 2, dtype="double").dtype is tf.float64
    assert tf.range(3, dtype="int8").dtype is tf.int8
    assert tf.argmax([1, 2], output_type="int32").dtype is tf.int32


@pytest.mark.parametrize("target", TARGETS)
def test_tutorial_float_placeholder_meets_float32_variables(target, tmp_path):
    # the MNIST tutorials' first lines: "float" must be float32, like tf.zeros' variables
    x = tf.placeholder("float", [None, 6])
    w, b = tf.Variable(tf.zeros([6, 3])), tf.Variable(tf.constant([0.0, 1.0, 2.0]))
    y = tf.nn.softmax(tf.matmul(x, w) + b)
    got = _run(target, y, {x: np.ones((2, 6))}, tmp_path)
    assert y.dtype is tf.float32 and got.dtype == np.float32
    e = np.exp([0.0, 1.0, 2.0])
    np.testing.assert_allclose(got, np.tile(e / e.sum(), (2, 1)), rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("flaot", ("unknown dtype name 'flaot'", "did you mean 'float'", "float32", "double")),
        ("int", ("unknown dtype name 'int'", "int32", "int64", "half")),
        ("f4", ("unknown dtype name 'f4'", "float16, float32, float64")),
        ("complex64", ("does not support TF1's dtype 'complex64'", "uint16, bool")),
        ("bfloat16", ("does not support TF1's dtype 'bfloat16'",)),
        ("string", ("does not support TF1's dtype 'string'",)),
    ],
)
def test_bad_dtype_names_raise_and_list_the_accepted_names(name, words):
    with pytest.raises(DTypeError) as info:
        tf.as_dtype(name)
    for word in words:
        assert word in str(info.value)
    assert isinstance(info.value, TypeError)  # what TF1 raises


def test_bad_dtype_arguments_name_the_op():
    with pytest.raises(DTypeError, match=r"Placeholder .*unknown dtype name 'flaot'"):
        tf.placeholder("flaot", [None, 784])
    with pytest.raises(DTypeError, match=r"Cast .*'doubel'.*did you mean 'double'"):
        tf.cast(tf.constant(1.0), "doubel")
    with pytest.raises(DTypeError, match="a dtype is needed, got None"):
        tf.as_dtype(None)  # NumPy would read None as float64
    with pytest.raises(DTypeError, match="unsupported dtype 'complex64'"):
        tf.as_dtype(np.complex64)


# ---- the 8- and 16-bit integers -----------------------------------------------------------
def test_int32_and_int64_only_where_tf1_gives_indices_and_random_integers():
    x = tf.constant([1.0, 2.0])
    with pytest.raises(DTypeError, match=r"RandomUniformInt .*int32 or int64, got int8"):
        tf.random_uniform([2], 0, 100, dtype=tf.int8)
    with pytest.raises(DTypeError, match=r"Shape .*out_type must be int32 or int64, got uint8"):
        tf.shape(x, out_type=tf.uint8)
    with pytest.raises(DTypeError, match=r"Size .*out_type must be int32 or int64, got int16"):
        tf.size(x, out_type="int16")
    with pytest.raises(DTypeError, match=r"ArgMax .*output_type must be int32 or int64"):
        tf.argmax(x, output_type=tf.int16)


def test_float_ops_refuse_small_ints_naming_the_op():
    x = tf.placeholder(tf.int8, [2])
    with pytest.raises(DTypeError, match=r"Exp .*int8 is not supported \(needs float"):
        tf.exp(x)
    with pytest.raises(DTypeError, match=r"AddV2 .*int8, int16"):
        x + tf.placeholder(tf.int16, [2])
    with pytest.raises(DTypeError, match=r"RealDiv .*int8, uint8"):
        x / tf.placeholder(tf.uint8, [2])


def test_constants_and_python_scalars_of_small_ints():
    x = tf.placeholder(tf.uint8, [2])
    assert (x + 3).dtype is tf.uint8 and tf.constant(np.int16(7)).dtype is tf.int16
    with pytest.raises(DTypeError, match="does not fit dtype int8"):
        tf.constant(300, dtype=tf.int8)
    with pytest.raises(DTypeError, match="without loss"):
        x + 256  # TF1: a Python scalar takes the tensor's dtype only if it fits
    with pytest.raises(DTypeError, match="without loss"):
        x * -1


@pytest.mark.parametrize("target", TARGETS)
def test_feeds_of_small_ints(target, tmp_path):
    x = tf.placeholder(tf.uint8, [None])
    y = tf.identity(x)
    assert _run(target, y, {x: [0, 255]}, tmp_path).tolist() == [0, 255]
    for bad, why in (([256], "outside the range"), ([-1], "outside the range"), ([1.5], "float")):
        with pytest.raises(DTypeError, match=why):
            _run(target, y, {x: bad}, tmp_path)
    image = tf.placeholder(tf.float32, [2])  # uint8 pixels fed to a float32 input
    pixels = np.array([3, 255], np.uint8)
    assert _run(target, image * 2, {image: pixels}, tmp_path).tolist() == [6, 510]


@pytest.mark.parametrize("target", TARGETS)
def test_small_int_arithmetic_wraps(target, tmp_path):
    i8 = tf.placeholder(tf.int8, [3])
    u8 = tf.placeholder(tf.uint8, [3])
    i16 = tf.placeholder(tf.int16, [3])
    u16 = tf.placeholder(tf.uint16, [3])
    hundreds = tf.placeholder(tf.int8, [3])
    feeds = {i8: [127, -128, 100], u8: [0, 255, 200], i16: [32767, -32768, 300], u16: [0, 65535, 4]}
    feeds[hundreds] = [100, 100, 100]
    fetches = {
        "i8+1": i8 + 1,  # 127 + 1 = 128 - 256
        "i8*2": i8 * 2,  # 100 * 2 = 200 - 256 = -56; -128 * 2 = -256 = 0
        "-i8": -i8,  # -(-128) = 128 - 256
        "abs-i8": tf.abs(i8),
        "i8-fused": (i8 + 1) // 2,  # -128 // 2 = -64, inside one fused loop
        "i8-fused-compare": (i8 + 1) > i8,
        "sum-i8": tf.reduce_sum(hundreds),  # 300 - 256
        "cumsum-i8": tf.cumsum(hundreds),  # 100, 200 - 256, 300 - 256
        "u8-1": u8 - 1,  # 0 - 1 = 255
        "u8+100": u8 + 100,  # 255 + 100 = 355 - 256 = 99; 200 + 100 = 44
        "u8*2": u8 * 2,  # 255 * 2 = 510 - 256 = 254; 200 * 2 = 400 - 256 = 144
        "i16*i16": i16 * i16,  # 32767**2 = 16383 * 65536 + 1; (-32768)**2 = 2**30; 90000 - 65536
        "i16+1": i16 + 1,
        "u16+65000": u16 + 65000,  # 65535 + 65000 = 130535 - 65536 = 64999
    }
    got = _run(target, fetches, feeds, tmp_path)
    want = {
        "i8+1": ([-128, -127, 101], np.int8),
        "i8*2": ([-2, 0, -56], np.int8),
        "-i8": ([-127, -128, -100], np.int8),
        "abs-i8": ([127, -128, 100], np.int8),  # |-128| wraps to -128, as NumPy's
        "i8-fused": ([-64, -64, 50], np.int8),
        "i8-fused-compare": ([False, True, True], np.bool_),
        "sum-i8": (44, np.int8),
        "cumsum-i8": ([100, -56, 44], np.int8),
        "u8-1": ([255, 254, 199], np.uint8),
        "u8+100": ([100, 99, 44], np.uint8),
        "u8*2": ([0, 254, 144], np.uint8),
        "i16*i16": ([1, 0, 24464], np.int16),
        "i16+1": ([-32768, -32767, 301], np.int16),
        "u16+65000": ([65000, 64999, 65004], np.uint16),
    }
    for key, (values, dtype) in want.items():
        value = np.asarray(got[key])
        assert value.dtype == dtype, key
        np.testing.assert_array_equal(value, np.array(values, dtype), err_msg=key)


@pytest.mark.parametrize("target", TARGETS)
def test_int32_wraps_inside_fused_kernels(target, tmp_path):
    # Numba adds int32s in int64: a fused kernel must wrap each op's value as NumPy does
    x = tf.placeholder(tf.int32, [2])
    fetches = [(x + 1) > 0, (x * 3) // 2]
    got = _run(target, fetches, {x: [2**31 - 1, 5]}, tmp_path)
    assert got[0].tolist() == [False, True]  # 2**31 - 1 + 1 = -2**31
    assert got[1].tolist() == [1073741822, 7]  # 3 * (2**31 - 1) - 2**32 = 2**31 - 3, halved


@pytest.mark.parametrize("target", TARGETS)
def test_casts_to_and_from_small_ints(target, tmp_path):
    f = tf.placeholder(tf.float32, [5])
    i = tf.placeholder(tf.int32, [4])
    fetches = {
        "f-to-i8": tf.cast(f, tf.int8),  # in range: truncation toward zero
        "i32-to-u8": tf.cast(i, "uint8"),  # wraps: -1 -> 255, 300 -> 44
        "i32-to-i16": tf.cast(i, tf.int16),  # 70000 - 65536 = 4464
        "u8-to-f": tf.cast(tf.cast(i, "uint8"), "float"),
        "i8-to-bool": tf.cast(tf.cast(f, tf.int8), tf.bool),
    }
    feeds = {f: [-3.7, 2.9, 127.0, -128.0, 0.5], i: [-1, 300, 70000, 7]}
    got = _run(target, fetches, feeds, tmp_path)
    assert got["f-to-i8"].tolist() == [-3, 2, 127, -128, 0]
    assert got["i32-to-u8"].tolist() == [255, 44, 112, 7]  # 70000 = 273 * 256 + 112
    assert got["i32-to-i16"].tolist() == [-1, 300, 4464, 7]
    assert got["u8-to-f"].dtype == np.float32
    assert got["u8-to-f"].tolist() == [255.0, 44.0, 112.0, 7.0]
    assert got["i8-to-bool"].tolist() == [True, True, True, True, False]


@pytest.mark.parametrize("target", TARGETS)
def test_division_of_integers_follows_tf1_truediv_table(target, tmp_path):
    # TF1's `/` (_TRUEDIV_TABLE): 8- and 16-bit integers to float32, int32 and int64 to float64
    table = {
        tf.int8: tf.float32,
        tf.uint8: tf.float32,
        tf.int16: tf.float32,
        tf.uint16: tf.float32,
        tf.int32: tf.float64,
        tf.int64: tf.float64,
    }
    fetches = {}
    for dtype, out in table.items():
        q = tf.constant([7, 1], dtype) / tf.constant([2, 3], dtype)
        assert q.dtype is out, dtype
        fetches[dtype.name] = q
    got = _run(target, fetches, None, tmp_path)
    for dtype, out in table.items():
        np.testing.assert_array_equal(got[dtype.name], np.array([3.5, 1 / 3], out.np))


@pytest.mark.parametrize("target", TARGETS)
def test_integer_mean_does_not_wrap(target, tmp_path):
    # TF1 sums an int8 mean in int8 (300 * 100 wraps); graphc sums narrow integers in int64
    x = tf.placeholder(tf.int8, [300])
    y = tf.placeholder(tf.uint8, [2, 4])
    fetches = [tf.reduce_mean(x), tf.reduce_mean(y, 1), tf.reduce_mean(x[:2])]
    got = _run(
        target,
        fetches,
        {x: np.r_[-128, 127, [100] * 298], y: [[255, 255, 255, 254], [1, 2, 3, 4]]},
        tmp_path,
    )
    assert got[0] == 99 and got[0].dtype == np.int8  # (29800 - 1) // 300
    assert got[1].tolist() == [254, 2] and got[1].dtype == np.uint8  # 1019 // 4, 10 // 4
    assert got[2] == -1  # floor(-1 / 2), as the integer mean floors
