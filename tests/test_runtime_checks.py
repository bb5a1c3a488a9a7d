"""Run-time safety: sizes the graph assumes equal and indices are checked on both targets.

Each case feeds values that break an assumption of one op (two unknown dims that meet,
an index out of range). Both targets raise InvalidArgumentError naming the op, the
sizes or the index, and the line of this file that created the op; no variable changes;
the compiled step never reads or writes memory it does not own (before these checks,
several of these cases crashed the process or returned uninitialized memory).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import graphc as tf
from graphc.errors import InvalidArgumentError
from graphc.ops.pool import avg_pool_grad, max_pool_grad

HERE = "test_runtime_checks.py"


@dataclass
class Case:
    id: str
    build: Callable  # () -> (fetch, feeds: dict of placeholder -> value)
    words: tuple[str, ...]  # the message holds each


def _mlp_with_mismatched_labels():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    labels = tf.placeholder(tf.int32, [None], name="labels")
    w = tf.Variable(np.ones((3, 4), np.float32), name="w")
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.matmul(x, w))
    )
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    return [train, loss], {x: np.ones((8, 3)), labels: np.zeros(4, np.int32)}


def _two(shape_a, shape_b, fn, a_value, b_value, dtype=tf.float32):
    a = tf.placeholder(dtype, shape_a, name="a")
    b = tf.placeholder(dtype, shape_b, name="b")
    return fn(a, b), {a: a_value, b: b_value}


def _one(shape, fn, value, dtype=tf.float32):
    p = tf.placeholder(dtype, shape, name="p")
    return fn(p), {p: value}


CASES = [
    Case("labels-vs-batch", _mlp_with_mismatched_labels, ("CheckLabels", "'labels:0' is 4", "8")),
    Case(
        "add-rows",
        lambda: _two([None, 3], [None, 3], tf.add, np.ones((5, 3)), np.ones((4, 3))),
        ("AddV2", "'a:0' is 5", "'b:0' is 4"),
    ),
    Case(
        "unknown-vs-static",
        lambda: _two([None], [5], tf.add, np.ones(3), np.ones(5)),
        ("AddV2", "'a:0' is 3", "must be 5"),
    ),
    Case(
        "concat",
        lambda: _two(
            [None, 3],
            [None, 3],
            lambda a, b: tf.concat([a, b], 1),
            np.ones((5, 3)),
            np.ones((4, 3)),
        ),
        ("ConcatV2", "5", "4"),
    ),
    Case(
        "matmul-inner",
        lambda: _two([2, None], [None, 3], tf.matmul, np.ones((2, 4)), np.ones((5, 3))),
        ("MatMul", "4", "5"),
    ),
    Case(
        "einsum",
        lambda: _two([None], [None], lambda a, b: tf.einsum("i,i->", a, b), np.ones(4), np.ones(2)),
        ("Einsum", "4", "2"),
    ),
    Case(
        "gather-negative",
        lambda: _gather(np.array([0, -1], np.int32)),
        ("GatherV2", "index -1 is not in [0, 3)"),
    ),
    Case(
        "gather-past-end",
        lambda: _gather(np.array([3], np.int32)),
        ("GatherV2", "index 3 is not in [0, 3)"),
    ),
    Case(
        "sparse-label-past-depth",
        lambda: _sparse_xent(np.array([0, 3], np.int32)),
        ("label 3 is not in [0, 3)",),
    ),
    Case(
        "sparse-label-negative",
        lambda: _sparse_xent(np.array([-1, 0], np.int32)),
        ("label -1 is not in [0, 3)",),
    ),
    Case(
        "slice-index-past-end",
        lambda: _one([None], lambda p: p[5], np.ones(3)),
        ("StridedSlice", "5", "3"),
    ),
    Case(
        "split-past-end",
        lambda: _one([None], lambda p: tf.split(p, [2, 3])[1] * 1.0, np.ones(3)),
        ("StridedSlice", "[2, 5)", "3"),
    ),
    Case(
        "slice-past-end",
        lambda: _one([None], lambda p: tf.slice(p, [1], [4]), np.ones(3)),
        ("StridedSlice", "[1, 5)", "3"),
    ),
    Case(
        "fill-negative",
        lambda: _one([1], lambda d: tf.fill(d, 1.0), np.array([-2], np.int32), dtype=tf.int32),
        ("Fill", "-2"),
    ),
    Case(
        "reshape-indivisible",
        lambda: _one([None], lambda p: tf.reshape(p, [-1, 2]), np.ones(5)),
        ("Reshape", "5"),
    ),
    Case(  # one pooled value per window of x: the batches must agree
        "max-pool-grad-batch",
        lambda: _two(
            [None, 4, 4, 1],
            [None, 2, 2, 1],
            lambda x, g: max_pool_grad(x, g, ksize=(2, 2), strides=(2, 2), padding="VALID"),
            np.ones((2, 4, 4, 1)),
            np.ones((3, 2, 2, 1)),
        ),
        ("MaxPoolGrad", "'b:0' is 3", "'a:0' is 2"),
    ),
    Case(  # 4 rows in 2x2 windows at stride 2 make 2 window rows, not 3
        "avg-pool-grad-rows",
        lambda: _two(
            [None, None, None, 1],
            [None, 4, 4, 1],
            lambda g, x: avg_pool_grad(g, x, ksize=(2, 2), strides=(2, 2), padding="VALID"),
            np.ones((2, 3, 2, 1)),
            np.ones((2, 4, 4, 1)),
        ),
        ("AvgPoolGrad", "dimension 1 of 'a:0' is 3", "must be 2"),
    ),
    Case(
        "assign-longer",
        lambda: _assign(np.ones(5, np.float32)),
        ("Assign", "5", "3"),
    ),
]


def _gather(indices):
    p = tf.placeholder(tf.float32, [None], name="p")
    i = tf.placeholder(tf.int32, [None], name="i")
    return tf.gather(p, i), {p: np.ones(3), i: indices}


def _sparse_xent(labels):
    logits = tf.placeholder(tf.float32, [None, 3], name="logits")
    y = tf.placeholder(tf.int32, [None], name="y")
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    return loss, {logits: np.zeros((2, 3)), y: labels}


def _assign(value):
    v = tf.Variable(np.zeros(3, np.float32), name="v")
    q = tf.placeholder(tf.float32, [None], name="q")
    return v.assign(q), {q: value}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_broken_assumption_raises_a_named_error_and_changes_nothing(case, target, tmp_path):
    fetch, feeds = case.build()
    variables = tf.global_variables()
    with tf.Session(target=target, cache_dir=tmp_path) as sess:
        sess.run(tf.global_variables_initializer())
        before = [sess.run(v) for v in variables]
        with pytest.raises(InvalidArgumentError) as info:
            sess.run(fetch, feeds)
        after = [sess.run(v) for v in variables]
    message = str(info.value)
    for word in (*case.words, HERE):
        assert word in message, f"{word!r} not in {message!r}"
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


def test_in_top_k_treats_an_out_of_range_target_as_not_in_the_top_k(target, tmp_path):
    # TF1's rule (no error): a target outside [0, classes) is never in the top k
    p = tf.placeholder(tf.float32, [None, 3])
    t = tf.placeholder(tf.int32, [None])
    with tf.Session(target=target, cache_dir=tmp_path) as sess:
        got = sess.run(tf.nn.in_top_k(p, t, 3), {p: np.zeros((4, 3)), t: [0, 2**30, -1, 3]})
    np.testing.assert_array_equal(got, [True, False, False, False])


def test_valid_sizes_pass_and_checks_of_feeds_run_once_on_entry(tmp_path):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    labels = tf.placeholder(tf.int32, [None], name="labels")
    w = tf.Variable(np.ones((3, 4), np.float32))
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.matmul(x, w))
    )
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session(cache_dir=tmp_path) as sess:
        sess.run(tf.global_variables_initializer())
        step = sess.make_callable([train, loss], [x, labels])
        _, value = step(np.ones((8, 3)), np.arange(8, dtype=np.int32) % 4)
    assert np.isclose(value, np.log(4.0))  # equal logits: the loss is log(classes)
    body = step.source.split('"""', 3)[-1]  # after the step's docstring
    first_check = body.index("if labels.shape[0] != x.shape[0]:")
    assert body.count("!= x.shape[0]") == 1  # one check of the two feeds' sizes ...
    assert first_check < body.index("np.dot")  # ... before any work
