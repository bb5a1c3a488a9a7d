"""Every bad input gets a named graphc error (issue 9), table-driven.

A build-time case builds one bad op: its error must be the graphc class TF1's
behaviour calls for, and its message must name the op (its type name), the
argument, the value and the line of this file that built it. A run-time case
misuses `Session.run` on both targets: its error names the tensor, and the
variable the session holds keeps its value.
"""

import os
from typing import NamedTuple

import numpy as np
import pytest

import graphc as tf
from graphc.errors import (
    DTypeError,
    GraphcError,
    GraphMismatchError,
    InvalidArgumentError,
    ShapeError,
    UnimplementedError,
)

HERE = os.path.basename(__file__)


class Case(NamedTuple):
    what: str
    build: object  # () -> anything; must raise
    error: type
    words: tuple  # the message contains each (case-sensitive)


def f32(*shape):
    return tf.placeholder(tf.float32, list(shape), name="x")


def i32(*shape):
    return tf.placeholder(tf.int32, list(shape), name="i")


def image():
    return tf.placeholder(tf.float32, [1, 4, 4, 2], name="img")


def filters():
    return tf.constant(np.ones((2, 2, 2, 3), np.float32))


BUILD = [
    # ---- reduction axes ------------------------------------------------------------------
    Case(
        "sum axis past the rank",
        lambda: tf.reduce_sum(f32(2, 3), axis=2),
        ShapeError,
        ("Sum", "axis", "2", "rank 2"),
    ),
    Case(
        "sum axis below -rank",
        lambda: tf.reduce_sum(f32(2, 3), axis=-3),
        ShapeError,
        ("Sum", "axis", "-3"),
    ),
    Case(
        "sum repeated axis",
        lambda: tf.reduce_sum(f32(2, 3), axis=[0, 0]),
        ShapeError,
        ("Sum", "axis", "[0, 0]", "repeats"),
    ),
    Case(
        "sum repeated axis, negative",
        lambda: tf.reduce_sum(f32(2, 3), axis=[1, -1]),
        ShapeError,
        ("Sum", "axis", "[1, -1]"),
    ),
    Case(
        "sum float axis",
        lambda: tf.reduce_sum(f32(2, 3), axis=1.0),
        ShapeError,
        ("Sum", "axis", "1.0"),
    ),
    Case(
        "sum string axis",
        lambda: tf.reduce_sum(f32(2, 3), axis="0"),
        ShapeError,
        ("Sum", "axis", "'0'"),
    ),
    Case(
        "sum bool axis",
        lambda: tf.reduce_sum(f32(2, 3), axis=True),
        ShapeError,
        ("Sum", "axis", "True"),
    ),
    Case(
        "sum float axis, unknown rank",
        lambda: tf.reduce_sum(tf.placeholder(tf.float32), axis=0.5),
        ShapeError,
        ("Sum", "axis", "0.5"),
    ),
    Case(
        "sum axis from a placeholder",
        lambda: tf.reduce_sum(f32(2, 3), axis=i32()),
        ShapeError,
        ("Sum", "axis", "i:0"),
    ),
    Case(
        "sum by reduction_indices",
        lambda: tf.reduce_sum(f32(2, 3), reduction_indices=[4]),
        ShapeError,
        ("Sum", "axis", "4"),
    ),
    Case(
        "max axis",
        lambda: tf.reduce_max(f32(2, 3), axis=5, name="m"),
        ShapeError,
        ("Max", "'m'", "axis", "5"),
    ),
    Case(
        "min float axis list",
        lambda: tf.reduce_min(f32(2, 3), axis=[0.5]),
        ShapeError,
        ("Min", "axis", "[0.5]"),
    ),
    Case("prod axis", lambda: tf.reduce_prod(f32(2, 3), axis=3), ShapeError, ("Prod", "axis", "3")),
    Case("mean axis", lambda: tf.reduce_mean(f32(2, 3), axis=2), ShapeError, ("Mean", "axis", "2")),
    Case(
        "mean float axis",
        lambda: tf.reduce_mean(f32(2, 3), axis=1.5),
        ShapeError,
        ("Mean", "axis", "1.5"),
    ),
    Case(
        "logsumexp axis",
        lambda: tf.reduce_logsumexp(f32(2, 3), axis=-4),
        ShapeError,
        ("ReduceLogSumExp", "axis", "-4"),
    ),
    Case("argmax axis", lambda: tf.argmax(f32(2, 3), axis=2), ShapeError, ("ArgMax", "axis", "2")),
    Case(
        "argmax float axis",
        lambda: tf.argmax(f32(2, 3), axis=1.0),
        ShapeError,
        ("ArgMax", "axis", "1.0"),
    ),
    Case(
        "argmin string axis",
        lambda: tf.argmin(f32(2, 3), axis="x"),
        ShapeError,
        ("ArgMin", "axis", "'x'"),
    ),
    Case(
        "argmax two axes",
        lambda: tf.argmax(f32(2, 3), axis=[0, 1]),
        ShapeError,
        ("ArgMax", "axis", "[0, 1]"),
    ),
    Case(
        "argmax float output_type",
        lambda: tf.argmax(f32(2, 3), 1, output_type=tf.float32),
        DTypeError,
        ("ArgMax", "output_type", "float32"),
    ),
    # ---- concat, stack, unstack, split --------------------------------------------------
    Case(
        "concat of nothing",
        lambda: tf.concat([], 0),
        InvalidArgumentError,
        ("ConcatV2", "values", "[]"),
    ),
    Case(
        "concat axis",
        lambda: tf.concat([f32(2, 3), f32(2, 3)], 2),
        ShapeError,
        ("ConcatV2", "axis", "2"),
    ),
    Case(
        "concat axis below -rank",
        lambda: tf.concat([f32(2, 3), f32(2, 3)], -3),
        ShapeError,
        ("ConcatV2", "axis", "-3"),
    ),
    Case(
        "concat float axis",
        lambda: tf.concat([f32(2, 3), f32(2, 3)], 1.0),
        ShapeError,
        ("ConcatV2", "axis", "1.0"),
    ),
    Case(
        "concat of one tensor, bad axis",
        lambda: tf.concat([f32(2, 3)], 5),
        ShapeError,
        ("ConcatV2", "axis", "5"),
    ),
    Case(
        "concat of different ranks",
        lambda: tf.concat([f32(2, 3), f32(2)], 0),
        ShapeError,
        ("ConcatV2", "ranks", "f32[2,3]", "f32[2]"),
    ),
    Case(
        "concat of different dims",
        lambda: tf.concat([f32(2, 3), f32(2, 4)], 0),
        ShapeError,
        ("ConcatV2", "dim 1", "f32[2,4]"),
    ),
    Case("stack of nothing", lambda: tf.stack([]), InvalidArgumentError, ("Pack", "values", "[]")),
    Case(
        "stack axis", lambda: tf.stack([f32(3), f32(3)], axis=2), ShapeError, ("Pack", "axis", "2")
    ),
    Case(
        "unstack axis", lambda: tf.unstack(f32(2, 3), axis=2), ShapeError, ("Unpack", "axis", "2")
    ),
    Case(
        "unstack num",
        lambda: tf.unstack(f32(2, 3), num=3),
        ShapeError,
        ("Unpack", "num", "3", "size 2"),
    ),
    Case(
        "split into parts that do not divide",
        lambda: tf.split(f32(6), 4),
        ShapeError,
        ("Split", "num_or_size_splits", "4", "6"),
    ),
    Case(
        "split into 0 parts",
        lambda: tf.split(f32(6), 0),
        ShapeError,
        ("Split", "num_or_size_splits", "0"),
    ),
    Case(
        "split float num",
        lambda: tf.split(f32(6), 2.5),
        ShapeError,
        ("Split", "num_or_size_splits", "2.5"),
    ),
    Case(
        "split sizes that do not add up",
        lambda: tf.split(f32(6), [2, 2]),
        ShapeError,
        ("SplitV", "size_splits", "[2, 2]", "6"),
    ),
    Case(
        "split negative size",
        lambda: tf.split(f32(6), [8, -2]),
        ShapeError,
        ("SplitV", "size_splits", "-2"),
    ),
    Case(
        "split two -1 sizes",
        lambda: tf.split(f32(6), [-1, -1]),
        ShapeError,
        ("SplitV", "size_splits", "[-1, -1]"),
    ),
    Case(
        "split axis",
        lambda: tf.split(f32(6), 2, axis=1),
        ShapeError,
        ("Split", "axis", "1", "rank 1"),
    ),
    # ---- gather, one_hot, slice -----------------------------------------------------------
    Case(
        "gather axis",
        lambda: tf.gather(f32(2, 3), [0], axis=2),
        ShapeError,
        ("GatherV2", "axis", "2"),
    ),
    Case(
        "gather float axis",
        lambda: tf.gather(f32(2, 3), [0], axis=0.5),
        ShapeError,
        ("GatherV2", "axis", "0.5"),
    ),
    Case(
        "gather constant index past the end",
        lambda: tf.gather(f32(3, 2), [0, 5]),
        InvalidArgumentError,
        ("GatherV2", "indices", "5", "[0, 3)"),
    ),
    Case(
        "gather negative constant index",
        lambda: tf.gather(f32(3, 2), [-1]),
        InvalidArgumentError,
        ("GatherV2", "indices", "-1", "[0, 3)"),
    ),
    Case(
        "gather index past the end on axis 1",
        lambda: tf.gather(f32(3, 2), 2, axis=1),
        InvalidArgumentError,
        ("GatherV2", "indices", "2", "[0, 2)", "axis 1"),
    ),
    Case(
        "gather float indices",
        lambda: tf.gather(f32(3), tf.constant([0.5])),
        DTypeError,
        ("GatherV2", "indices", "float32"),
    ),
    Case(
        "one_hot negative depth",
        lambda: tf.one_hot(i32(4), -1),
        ShapeError,
        ("OneHot", "depth", "-1"),
    ),
    Case(
        "one_hot float depth",
        lambda: tf.one_hot(i32(4), 2.5),
        ShapeError,
        ("OneHot", "depth", "2.5"),
    ),
    Case(
        "one_hot string depth",
        lambda: tf.one_hot(i32(4), "3"),
        ShapeError,
        ("OneHot", "depth", "'3'"),
    ),
    Case(
        "one_hot axis past the rank",
        lambda: tf.one_hot(i32(4), 3, axis=2),
        ShapeError,
        ("OneHot", "axis", "2"),
    ),
    Case(
        "one_hot axis -2",
        lambda: tf.one_hot(i32(4), 3, axis=-2),
        ShapeError,
        ("OneHot", "axis", "-2"),
    ),
    Case(
        "one_hot float indices",
        lambda: tf.one_hot(f32(4), 3),
        DTypeError,
        ("OneHot", "indices", "float32"),
    ),
    Case(
        "one_hot unsupported dtype",
        lambda: tf.one_hot(i32(4), 3, dtype="complex64"),
        DTypeError,
        ("OneHot", "complex64"),
    ),
    Case(
        "slice negative begin",
        lambda: tf.slice(f32(3, 4), [-1, 0], [1, 1]),
        ShapeError,
        ("Slice", "begin", "-1"),
    ),
    Case(
        "slice past the end",
        lambda: tf.slice(f32(3, 4), [0, 0], [5, 1]),
        ShapeError,
        ("Slice", "size", "[5, 1]", "size 3"),
    ),
    Case(
        "slice begin past the end",
        lambda: tf.slice(f32(3, 4), [4, 0], [-1, 1]),
        ShapeError,
        ("Slice", "begin", "[4, 0]"),
    ),
    Case(
        "slice size -2",
        lambda: tf.slice(f32(3, 4), [0, 0], [-2, 1]),
        ShapeError,
        ("Slice", "size", "-2"),
    ),
    Case(
        "slice too few entries",
        lambda: tf.slice(f32(3, 4), [0], [1]),
        ShapeError,
        ("Slice", "begin", "[0]", "rank 2"),
    ),
    Case(
        "slice float begin",
        lambda: tf.slice(f32(3, 4), [0.5, 0], [1, 1]),
        ShapeError,
        ("Slice", "begin", "0.5"),
    ),
    # ---- reshaping ---------------------------------------------------------------------------
    Case(
        "expand_dims axis",
        lambda: tf.expand_dims(f32(2, 3), 4),
        ShapeError,
        ("ExpandDims", "axis", "4"),
    ),
    Case(
        "expand_dims float axis",
        lambda: tf.expand_dims(f32(2, 3), 1.5),
        ShapeError,
        ("ExpandDims", "axis", "1.5"),
    ),
    Case(
        "squeeze axis", lambda: tf.squeeze(f32(1, 3), axis=2), ShapeError, ("Squeeze", "axis", "2")
    ),
    Case(
        "squeeze an axis of size 3",
        lambda: tf.squeeze(f32(1, 3), axis=1),
        ShapeError,
        ("Squeeze", "axis 1", "size 3"),
    ),
    Case(
        "squeeze repeated axis",
        lambda: tf.squeeze(f32(1, 1), axis=[0, 0]),
        ShapeError,
        ("Squeeze", "axis", "[0, 0]"),
    ),
    Case(
        "transpose repeated perm",
        lambda: tf.transpose(f32(2, 3), [0, 0]),
        ShapeError,
        ("Transpose", "perm", "[0, 0]"),
    ),
    Case(
        "transpose perm too long",
        lambda: tf.transpose(f32(2, 3), [0, 1, 2]),
        ShapeError,
        ("Transpose", "perm", "[0, 1, 2]"),
    ),
    Case(
        "transpose float perm",
        lambda: tf.transpose(f32(2, 3), [1.0, 0.0]),
        ShapeError,
        ("Transpose", "perm", "1.0"),
    ),
    Case(
        "transpose string perm",
        lambda: tf.transpose(f32(2, 3), "ab"),
        ShapeError,
        ("Transpose", "perm", "'ab'"),
    ),
    Case(
        "reshape two -1",
        lambda: tf.reshape(f32(2, 3), [-1, -1]),
        ShapeError,
        ("Reshape", "shape", "[-1, -1]"),
    ),
    Case(
        "reshape to another size",
        lambda: tf.reshape(f32(2, 3), [4, 4]),
        ShapeError,
        ("Reshape", "[4, 4]", "6 elements"),
    ),
    Case(
        "reshape negative dim",
        lambda: tf.reshape(f32(2, 3), [-2, -3]),
        ShapeError,
        ("Reshape", "shape", "-2"),
    ),
    Case(
        "reshape float dim",
        lambda: tf.reshape(f32(2, 3), [2.5, 2]),
        ShapeError,
        ("Reshape", "shape", "2.5"),
    ),
    Case(
        "reshape -1 next to 0",
        lambda: tf.reshape(f32(2, 3), [-1, 0]),
        ShapeError,
        ("Reshape", "shape", "[-1, 0]"),
    ),
    Case(
        "reshape string shape",
        lambda: tf.reshape(f32(2, 3), "abc"),
        ShapeError,
        ("Reshape", "shape", "'abc'"),
    ),
    Case(
        "tile negative multiple",
        lambda: tf.tile(f32(2, 3), [-1, 2]),
        ShapeError,
        ("Tile", "multiples", "-1"),
    ),
    Case(
        "tile float multiple",
        lambda: tf.tile(f32(2, 3), [1.5, 1]),
        ShapeError,
        ("Tile", "multiples", "1.5"),
    ),
    Case(
        "tile multiples of another rank",
        lambda: tf.tile(f32(2, 3), [2]),
        ShapeError,
        ("Tile", "multiples", "[2]"),
    ),
    Case(
        "pad negative padding",
        lambda: tf.pad(f32(2, 3), [[1, -1], [0, 0]]),
        ShapeError,
        ("PadV2", "paddings", "-1"),
    ),
    Case(
        "pad paddings not in pairs",
        lambda: tf.pad(f32(2, 3), [[1, 2, 3]]),
        ShapeError,
        ("PadV2", "paddings", "[[1, 2, 3]]"),
    ),
    Case(
        "pad float paddings",
        lambda: tf.pad(f32(2, 3), [[0.5, 0], [0, 0]]),
        ShapeError,
        ("PadV2", "paddings", "0.5"),
    ),
    Case(
        "pad paddings of another rank",
        lambda: tf.pad(f32(2, 3), [[1, 1]]),
        ShapeError,
        ("PadV2", "paddings", "[[1, 1]]"),
    ),
    Case(
        "pad unknown mode",
        lambda: tf.pad(f32(2, 3), [[0, 0], [0, 0]], mode="WRAP"),
        InvalidArgumentError,
        ("PadV2", "mode", "'WRAP'"),
    ),
    Case(
        "broadcast_to negative dim",
        lambda: tf.broadcast_to(f32(3), [-2, 3]),
        ShapeError,
        ("BroadcastTo", "shape", "-2"),
    ),
    # ---- dims and sizes of new tensors ---------------------------------------------------
    Case("fill negative dim", lambda: tf.fill([-1, 2], 1.0), ShapeError, ("Fill", "dims", "-1")),
    Case("fill float dim", lambda: tf.fill([2.5], 1.0), ShapeError, ("Fill", "dims", "2.5")),
    Case(
        "fill a non-scalar value",
        lambda: tf.fill([2, 3], [1.0, 2.0, 3.0]),
        ShapeError,
        ("Fill", "value", "scalar", "[3]"),
    ),
    Case("zeros negative dim", lambda: tf.zeros([-3]), ShapeError, ("zeros", "shape", "-3")),
    Case("ones float dim", lambda: tf.ones([2, 1.5]), ShapeError, ("ones", "shape", "1.5")),
    Case("zeros string shape", lambda: tf.zeros("ab"), ShapeError, ("zeros", "shape", "'ab'")),
    Case(
        "zeros unsupported dtype",
        lambda: tf.zeros([2], dtype="complex64"),
        DTypeError,
        ("zeros", "complex64"),
    ),
    Case(
        "constant negative shape",
        lambda: tf.constant(0.0, shape=[-1]),
        ShapeError,
        ("Const", "shape", "-1"),
    ),
    Case(
        "constant of the wrong size",
        lambda: tf.constant([1, 2, 3], shape=[2, 2]),
        ShapeError,
        ("Const", "3 elements", "[2, 2]"),
    ),
    Case(
        "constant too large to allocate",
        lambda: tf.zeros([10**6] * 4),
        ShapeError,
        ("zeros", "shape", "[1000000, 1000000, 1000000, 1000000]", "allocate"),
    ),
    Case(
        "constant too large, MemoryError",
        lambda: tf.ones([10**7, 10**7], name="big"),
        ShapeError,
        ("big", "shape", "[10000000, 10000000]", "allocate"),
    ),
    Case(
        "constant of a ragged list",
        lambda: tf.constant([[1, 2], [3]]),
        InvalidArgumentError,
        ("Const", "value", "[[1, 2], [3]]"),
    ),
    Case("constant of a string", lambda: tf.constant("abc"), DTypeError, ("Const", "str")),
    Case("constant of an object", lambda: tf.constant(object()), DTypeError, ("Const", "object")),
    Case(
        "placeholder negative dim",
        lambda: tf.placeholder(tf.float32, [-2, 3]),
        ShapeError,
        ("Placeholder", "shape", "-2"),
    ),
    Case(
        "placeholder float dim",
        lambda: tf.placeholder(tf.float32, [2.5]),
        ShapeError,
        ("Placeholder", "shape", "2.5"),
    ),
    Case(
        "placeholder unsupported dtype",
        lambda: tf.placeholder("uint32", [2]),
        DTypeError,
        ("Placeholder", "uint32", "does not support"),
    ),
    Case(
        "constant 1.5 as int32",
        lambda: tf.constant(1.5, dtype=tf.int32),
        DTypeError,
        ("Const", "1.5", "int32"),
    ),
    Case(
        "constant 2**40 as int32",
        lambda: tf.constant(2**40, dtype="int32"),
        DTypeError,
        ("Const", "1099511627776", "int32"),
    ),
    Case("index with a float", lambda: f32(3)[1.5], DTypeError, ("StridedSlice", "1.5")),
    Case(
        "index with a placeholder",
        lambda: f32(3)[i32()],
        DTypeError,
        ("StridedSlice", "i:0", "constant"),
    ),
    Case("index past the end", lambda: f32(3)[3], ShapeError, ("StridedSlice", "3", "size 3")),
    # ---- random shapes -----------------------------------------------------------------------
    Case(
        "random_normal negative dim",
        lambda: tf.random_normal([-1, 3]),
        ShapeError,
        ("RandomStandardNormal", "shape", "-1"),
    ),
    Case(
        "random_uniform float dim",
        lambda: tf.random_uniform([2.5]),
        ShapeError,
        ("RandomUniform", "shape", "2.5"),
    ),
    Case(
        "truncated_normal string shape",
        lambda: tf.truncated_normal("ab"),
        ShapeError,
        ("TruncatedNormal", "shape", "'ab'"),
    ),
    Case(
        "random_uniform int, minval >= maxval",
        lambda: tf.random_uniform([2], 5, 5, dtype=tf.int32),
        InvalidArgumentError,
        ("RandomUniformInt", "minval 5", "maxval 5"),
    ),
    Case(
        "random_uniform int without maxval",
        lambda: tf.random_uniform([2], dtype=tf.int32),
        InvalidArgumentError,
        ("RandomUniformInt", "maxval", "None"),
    ),
    Case(
        "random_normal int dtype",
        lambda: tf.random_normal([2], dtype=tf.int32),
        DTypeError,
        ("RandomStandardNormal", "dtype", "int32"),
    ),
    # ---- convolution and pooling ------------------------------------------------------------
    Case(
        "conv2d stride 0",
        lambda: tf.nn.conv2d(image(), filters(), 0, "SAME"),
        ShapeError,
        ("Conv2D", "strides", "0"),
    ),
    Case(
        "conv2d negative stride",
        lambda: tf.nn.conv2d(image(), filters(), [1, -1, 1, 1], "SAME"),
        ShapeError,
        ("Conv2D", "strides", "-1"),
    ),
    Case(
        "conv2d channel stride",
        lambda: tf.nn.conv2d(image(), filters(), [1, 1, 1, 2], "SAME"),
        ShapeError,
        ("Conv2D", "strides", "[1, 1, 1, 2]"),
    ),
    Case(
        "conv2d float stride",
        lambda: tf.nn.conv2d(image(), filters(), 1.5, "SAME"),
        ShapeError,
        ("Conv2D", "strides", "1.5"),
    ),
    Case(
        "conv2d padding FULL",
        lambda: tf.nn.conv2d(image(), filters(), 1, "FULL"),
        InvalidArgumentError,
        ("Conv2D", "padding", "'FULL'"),
    ),
    Case(
        "conv2d padding not a string",
        lambda: tf.nn.conv2d(image(), filters(), 1, 1),
        InvalidArgumentError,
        ("Conv2D", "padding", "1"),
    ),
    Case(
        "conv2d channels differ",
        lambda: tf.nn.conv2d(f32(1, 4, 4, 3), filters(), 1, "SAME"),
        ShapeError,
        ("Conv2D", "channels", "3", "2"),
    ),
    Case(
        "conv2d integer input",
        lambda: tf.nn.conv2d(
            i32(1, 4, 4, 2), tf.constant(np.ones((2, 2, 2, 3), np.int32)), 1, "SAME"
        ),
        DTypeError,
        ("Conv2D", "floating", "int32"),
    ),
    Case(
        "conv2d filters of rank 3",
        lambda: tf.nn.conv2d(image(), tf.constant(np.ones((2, 2, 2), np.float32)), 1, "SAME"),
        ShapeError,
        ("Conv2D", "HWIO", "[2,2,2]"),
    ),
    Case(
        "conv2d kernel larger than a VALID input",
        lambda: tf.nn.conv2d(image(), tf.constant(np.ones((5, 2, 2, 3), np.float32)), 1, "VALID"),
        ShapeError,
        ("Conv2D", "window", "[5, 2]", "VALID"),
    ),
    Case(
        "conv2d NCHW",
        lambda: tf.nn.conv2d(image(), filters(), 1, "SAME", data_format="NCHW"),
        UnimplementedError,
        ("Conv2D", "data_format", "'NCHW'"),
    ),
    Case(
        "conv2d dilations",
        lambda: tf.nn.conv2d(image(), filters(), 1, "SAME", dilations=[1, 2, 2, 1]),
        UnimplementedError,
        ("Conv2D", "dilations", "[1, 2, 2, 1]"),
    ),
    Case(
        "max_pool ksize 0",
        lambda: tf.nn.max_pool(image(), 0, 1, "SAME"),
        ShapeError,
        ("MaxPool", "ksize", "0"),
    ),
    Case(
        "max_pool negative ksize",
        lambda: tf.nn.max_pool(image(), [1, -2, 2, 1], 1, "SAME"),
        ShapeError,
        ("MaxPool", "ksize", "-2"),
    ),
    Case(
        "max_pool stride 0",
        lambda: tf.nn.max_pool(image(), 2, [1, 0, 2, 1], "VALID"),
        ShapeError,
        ("MaxPool", "strides", "0"),
    ),
    Case(
        "max_pool padding typo",
        lambda: tf.nn.max_pool(image(), 2, 2, "VALIDD"),
        InvalidArgumentError,
        ("MaxPool", "padding", "'VALIDD'"),
    ),
    Case(
        "max_pool window larger than the image",
        lambda: tf.nn.max_pool(image(), 5, 1, "VALID"),
        ShapeError,
        ("MaxPool", "window", "[5, 5]", "VALID"),
    ),
    Case(
        "avg_pool ksize 0",
        lambda: tf.nn.avg_pool(image(), 0, 1, "SAME"),
        ShapeError,
        ("AvgPool", "ksize", "0"),
    ),
    Case(
        "avg_pool stride 0",
        lambda: tf.nn.avg_pool(image(), 2, [2, 0], "SAME"),
        ShapeError,
        ("AvgPool", "strides", "[2, 0]"),
    ),
    Case(
        "avg_pool padding",
        lambda: tf.nn.avg_pool(image(), 2, 2, "same-ish"),
        InvalidArgumentError,
        ("AvgPool", "padding", "'same-ish'"),
    ),
    Case(
        "max_pool ksize over the batch axis",
        lambda: tf.nn.max_pool(image(), [2, 2, 2, 1], [1, 2, 2, 1], "SAME"),
        ShapeError,
        ("MaxPool", "ksize", "[2, 2, 2, 1]", "batch or channel"),
    ),
    Case(
        "max_pool ksize over the channel axis",
        lambda: tf.nn.max_pool(image(), [1, 2, 2, 2], [1, 2, 2, 1], "SAME"),
        ShapeError,
        ("MaxPool", "ksize", "[1, 2, 2, 2]", "batch or channel"),
    ),
    Case(
        "max_pool strides over the batch axis",
        lambda: tf.nn.max_pool(image(), [1, 2, 2, 1], [2, 2, 2, 1], "SAME"),
        ShapeError,
        ("MaxPool", "strides", "[2, 2, 2, 1]", "batch or channel"),
    ),
    Case(
        "max_pool three window sizes",
        lambda: tf.nn.max_pool(image(), [2, 2, 2], 2, "SAME"),
        ShapeError,
        ("MaxPool", "ksize", "[2, 2, 2]"),
    ),
    Case(
        "max_pool of booleans",
        lambda: tf.nn.max_pool(tf.placeholder(tf.bool, [1, 4, 4, 1]), 2, 2, "SAME"),
        DTypeError,
        ("MaxPool", "bool"),
    ),
    Case(
        "max_pool of a matrix",
        lambda: tf.nn.max_pool(f32(4, 4), 2, 2, "SAME"),
        ShapeError,
        ("MaxPool", "rank 4", "[4,4]"),
    ),
    Case(
        "avg_pool strides over the channel axis",
        lambda: tf.nn.avg_pool(image(), [1, 2, 2, 1], [1, 1, 1, 2], "VALID"),
        ShapeError,
        ("AvgPool", "strides", "[1, 1, 1, 2]", "batch or channel"),
    ),
    Case(
        "avg_pool window larger than the image",
        lambda: tf.nn.avg_pool(image(), [1, 3, 5, 1], 1, "VALID"),
        ShapeError,
        ("AvgPool", "window", "[3, 5]", "[1,4,4,2]", "VALID"),
    ),
    Case(
        "avg_pool of integers",
        lambda: tf.nn.avg_pool(tf.placeholder(tf.int32, [1, 4, 4, 1]), 2, 2, "SAME"),
        DTypeError,
        ("AvgPool", "floating-point", "int32"),
    ),
    # ---- softmax and losses -----------------------------------------------------------------
    Case(
        "softmax axis",
        lambda: tf.nn.softmax(f32(2, 3), axis=2),
        ShapeError,
        ("Softmax", "axis", "2"),
    ),
    Case(
        "softmax float axis",
        lambda: tf.nn.softmax(f32(2, 3), axis=1.5),
        ShapeError,
        ("Softmax", "axis", "1.5"),
    ),
    Case(
        "log_softmax axis",
        lambda: tf.nn.log_softmax(f32(2, 3), axis=-3),
        ShapeError,
        ("LogSoftmax", "axis", "-3"),
    ),
    Case(
        "mean_squared_error [4,1] vs [4,2]",
        lambda: tf.losses.mean_squared_error(f32(4, 1), f32(4, 2)),
        ShapeError,
        ("MeanSquaredError", "[4,1]", "[4,2]"),
    ),
    Case(
        "mean_squared_error [4] vs [4,1]",
        lambda: tf.losses.mean_squared_error(f32(4), f32(4, 1)),
        ShapeError,
        ("MeanSquaredError", "[4]", "[4,1]"),
    ),
    Case(
        "softmax_cross_entropy shapes",
        lambda: tf.losses.softmax_cross_entropy(f32(4, 3), f32(4, 2)),
        ShapeError,
        ("SoftmaxCrossEntropyWithLogits", "[4,3]", "[4,2]"),
    ),
    Case(
        "softmax_cross_entropy_with_logits axis",
        lambda: tf.nn.softmax_cross_entropy_with_logits(labels=f32(4, 3), logits=f32(4, 3), axis=2),
        ShapeError,
        ("SoftmaxCrossEntropyWithLogits", "axis", "2"),
    ),
    Case(
        "sparse labels of the wrong rank",
        lambda: tf.losses.sparse_softmax_cross_entropy(i32(4, 1), f32(4, 3)),
        ShapeError,
        ("SparseSoftmaxCrossEntropyWithLogits", "[4,1]", "[4]"),
    ),
    Case(
        "sparse float labels",
        lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=f32(4), logits=f32(4, 3)),
        DTypeError,
        ("SparseSoftmaxCrossEntropyWithLogits", "labels", "float32"),
    ),
    Case(
        "sigmoid cross-entropy shapes",
        lambda: tf.nn.sigmoid_cross_entropy_with_logits(labels=f32(4, 1), logits=f32(4, 2)),
        ShapeError,
        ("SigmoidCrossEntropyWithLogits", "[4,1]", "[4,2]"),
    ),
    Case(
        "bias_add 2-D bias",
        lambda: tf.nn.bias_add(f32(2, 3), f32(1, 3)),
        ShapeError,
        ("BiasAdd", "bias", "[1, 3]"),
    ),
    Case(
        "dropout rate 1",
        lambda: tf.nn.dropout(f32(3), rate=1.0),
        InvalidArgumentError,
        ("Dropout", "rate", "1.0"),
    ),
    Case(
        "dropout keep_prob 0",
        lambda: tf.nn.dropout(f32(3), keep_prob=0),
        InvalidArgumentError,
        ("Dropout", "keep_prob", "0"),
    ),
    Case(
        "in_top_k float k",
        lambda: tf.nn.in_top_k(f32(2, 3), i32(2), 1.5),
        ShapeError,
        ("InTopKV2", "k", "1.5"),
    ),
    # ---- range and cast ---------------------------------------------------------------------
    Case("range delta 0", lambda: tf.range(0, 5, 0), InvalidArgumentError, ("Range", "delta", "0")),
    Case(
        "range delta 0 with a tensor start",
        lambda: tf.range(i32(), 5, 0),
        InvalidArgumentError,
        ("Range", "delta", "0"),
    ),
    Case(
        "range going the wrong way",
        lambda: tf.range(5, 0, 1),
        InvalidArgumentError,
        ("Range", "delta 1", "start 5", "limit 0"),
    ),
    Case(
        "range of a string", lambda: tf.range("a"), InvalidArgumentError, ("Range", "limit", "'a'")
    ),
    Case(
        "cast to a string dtype", lambda: tf.cast(f32(2), "string"), DTypeError, ("Cast", "string")
    ),
    Case(
        "cast to complex64",
        lambda: tf.cast(f32(2), np.complex64),
        DTypeError,
        ("Cast", "complex64"),
    ),
    Case(
        "cast to uint64",
        lambda: tf.cast(f32(2), np.uint64, name="c"),
        DTypeError,
        ("Cast", "'c'", "uint64"),
    ),
    # ---- names ------------------------------------------------------------------------------
    Case(
        "op name with a space",
        lambda: tf.constant(1.0, name="bad name"),
        InvalidArgumentError,
        ("Const", "name", "'bad name'"),
    ),
    Case(
        "op name with a leading underscore",
        lambda: tf.identity(f32(2), name="_x"),
        InvalidArgumentError,
        ("Identity", "name", "'_x'"),
    ),
    Case(
        "op name with a '!'",
        lambda: tf.add(f32(2), 1.0, name="sum!"),
        InvalidArgumentError,
        ("AddV2", "name", "'sum!'"),
    ),
    Case(
        "op name not a string",
        lambda: tf.exp(f32(2), name=3),
        InvalidArgumentError,
        ("Exp", "name", "3"),
    ),
    Case(
        "name_scope with a space",
        lambda: tf.name_scope("bad scope").__enter__(),
        InvalidArgumentError,
        ("name_scope", "'bad scope'"),
    ),
    Case(
        "name_scope starting with '-'",
        lambda: tf.name_scope("-x").__enter__(),
        InvalidArgumentError,
        ("name_scope", "'-x'"),
    ),
    Case(
        "variable name with a space",
        lambda: tf.Variable(1.0, name="my var"),
        InvalidArgumentError,
        ("name", "'my var'"),
    ),
]


@pytest.mark.parametrize("case", BUILD, ids=[c.what for c in BUILD])
def test_build_time_errors_name_the_op_argument_value_and_line(case):
    with pytest.raises(case.error) as info:
        case.build()
    message = str(info.value)
    assert isinstance(info.value, GraphcError)
    for word in (*case.words, HERE):
        assert word in message, f"{word!r} missing from: {message}"


def test_an_error_names_the_scope_and_keeps_valid_inputs_valid():
    with tf.name_scope("layer"), pytest.raises(ShapeError, match="Sum 'layer/total': axis 2"):
        tf.reduce_sum(f32(2, 3), axis=2, name="total")
    x = f32(6)
    assert [p.shape.as_list() for p in tf.split(x, [-1, 2])] == [[4], [2]]
    assert tf.concat(x, 0).shape.as_list() == [6]  # TF1 takes a lone tensor
    assert tf.expand_dims(x, [0]).shape.as_list() == [1, 6]
    assert tf.reduce_sum(x, axis=np.int64(0)).shape.as_list() == []
    assert tf.zeros([]).shape.as_list() == [] and tf.range(0).shape.as_list() == [0]
    assert tf.constant(2**40).dtype == tf.int64  # as TF1: an int beyond int32 stays int64
    assert tf.constant(3.0, dtype=tf.int32).dtype == tf.int32


# ---- run time ------------------------------------------------------------------------------
class Runtime(NamedTuple):
    what: str
    run: object  # (sess, g) -> anything; must raise
    error: type
    words: tuple


class G(NamedTuple):
    x: object  # float32 [None, 3] placeholder "x"
    n: object  # int32 [2] placeholder "n"
    v: object  # a float32 [3] variable "v", ones
    step: object  # v += sum(x, 0)
    other: object  # a placeholder of another graph, "elsewhere"


def _graph():
    with tf.Graph().as_default():
        other = tf.placeholder(tf.float32, [3], name="elsewhere")
        tf.identity(other, name="twin")
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    n = tf.placeholder(tf.int32, [2], name="n")
    v = tf.Variable(np.ones(3, np.float32), name="v")
    step = v.assign_add(tf.reduce_sum(x, 0) + tf.cast(tf.reduce_sum(n), tf.float32))
    return G(x, n, v, step, other)


class Opaque:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no array here")


RUN = [
    Runtime(
        "feed_dict is a list",
        lambda s, g: s.run(g.step, [(g.x, [[1, 2, 3]])]),
        InvalidArgumentError,
        ("feed_dict", "list"),
    ),
    Runtime(
        "feed_dict is a set",
        lambda s, g: s.run(g.step, {g.x}),
        InvalidArgumentError,
        ("feed_dict", "set"),
    ),
    Runtime("fetch None", lambda s, g: s.run(None), InvalidArgumentError, ("fetch", "None")),
    Runtime(
        "fetch None inside a list",
        lambda s, g: s.run([g.step, None], {g.x: [[1, 2, 3]]}),
        InvalidArgumentError,
        ("fetch", "None"),
    ),
    Runtime("fetch a number", lambda s, g: s.run(3), InvalidArgumentError, ("fetch", "3", "int")),
    Runtime("fetch an unknown name", lambda s, g: s.run("nothing:0"), GraphcError, ("nothing",)),
    Runtime(
        "fetch a tensor of another graph",
        lambda s, g: s.run(g.other),
        GraphMismatchError,
        ("elsewhere",),
    ),
    Runtime(
        "ragged feed",
        lambda s, g: s.run(g.step, {g.x: [[1, 2, 3], [4, 5]]}),
        ShapeError,
        ("x:0", "ragged"),
    ),
    Runtime(
        "feed of an object",
        lambda s, g: s.run(g.step, {g.x: object()}),
        DTypeError,
        ("x:0", "object"),
    ),
    Runtime(
        "feed of an object NumPy fails on",
        lambda s, g: s.run(g.step, {g.x: Opaque()}),
        DTypeError,
        ("x:0", "Opaque"),
    ),
    Runtime(
        "feed of a string", lambda s, g: s.run(g.step, {g.x: "abc"}), DTypeError, ("x:0", "<U3")
    ),
    Runtime("feed of None", lambda s, g: s.run(g.step, {g.x: None}), DTypeError, ("x:0", "object")),
    Runtime("feed of a dict", lambda s, g: s.run(g.step, {g.x: {}}), DTypeError, ("x:0", "object")),
    Runtime(
        "feed of a graph tensor",
        lambda s, g: s.run(g.step, {g.x: g.x * 2}),
        InvalidArgumentError,
        ("x:0", "Mul:0", "tensor"),
    ),
    Runtime(
        "feed a placeholder of another graph",
        lambda s, g: s.run(g.step, {g.other: [1, 2, 3]}),
        GraphMismatchError,
        ("elsewhere:0", "another graph"),
    ),
    Runtime(
        "feed a non-placeholder of another graph",
        lambda s, g: s.run(g.step, {g.other.graph.get_tensor_by_name("twin:0"): [1, 2, 3]}),
        GraphMismatchError,
        ("twin:0", "another graph"),
    ),
    Runtime(
        "feed key is a number",
        lambda s, g: s.run(g.step, {3: [1.0]}),
        InvalidArgumentError,
        ("feed", "3", "int"),
    ),
    Runtime(
        "feed key is an unknown name",
        lambda s, g: s.run(g.step, {"nope:0": [1.0]}),
        GraphcError,
        ("nope",),
    ),
    Runtime(
        "feed an op", lambda s, g: s.run(g.step, {g.step.op: 1.0}), GraphcError, ("op", "AssignAdd")
    ),
    Runtime(
        "feed of the wrong rank",
        lambda s, g: s.run(g.step, {g.x: [1, 2, 3]}),
        ShapeError,
        ("x:0", "[3]", "[?,3]"),
    ),
    Runtime(
        "feed of the wrong dim",
        lambda s, g: s.run(g.step, {g.x: [[1, 2]]}),
        ShapeError,
        ("x:0", "[1, 2]", "[?,3]"),
    ),
    Runtime(
        "feed of a scalar to a vector",
        lambda s, g: s.run(g.step, {g.n: 1}),
        ShapeError,
        ("n:0", "[]", "[2]"),
    ),
    Runtime(
        "float feed to an int placeholder",
        lambda s, g: s.run(g.step, {g.x: [[1, 2, 3]], g.n: [1.5, 2]}),
        DTypeError,
        ("n:0", "float", "int32"),
    ),
    Runtime(
        "feed overflowing int32",
        lambda s, g: s.run(g.step, {g.x: [[1, 2, 3]], g.n: [2**40, 0]}),
        DTypeError,
        ("n:0", "int32"),
    ),
    Runtime(
        "unfed placeholder",
        lambda s, g: s.run(g.step, {g.x: [[1, 2, 3]]}),
        InvalidArgumentError,
        ("n:0",),
    ),
    Runtime(
        "make_callable fetching None",
        lambda s, g: s.make_callable(None),
        InvalidArgumentError,
        ("fetch", "None"),
    ),
    Runtime(
        "make_callable feeding a number",
        lambda s, g: s.make_callable(g.step, [3]),
        InvalidArgumentError,
        ("feed", "3"),
    ),
]


@pytest.mark.parametrize("target", ["numpy", "cpu"])
@pytest.mark.parametrize("case", RUN, ids=[c.what for c in RUN])
def test_run_time_misuse_names_the_tensor_and_changes_no_variable(case, target):
    g = _graph()
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.raises(case.error) as info:
            case.run(sess, g)
        message = str(info.value)
        for word in case.words:
            assert word in message, f"{word!r} missing from: {message}"
        np.testing.assert_array_equal(sess.variable_value(g.v), np.ones(3, np.float32))


def test_case_count():
    assert len(BUILD) + 2 * len(RUN) >= 80
