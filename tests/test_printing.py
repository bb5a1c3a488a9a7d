"""tf.print and tf.Print write the same text on both targets (the compiled step calls the
reference's formatter), in TF1's formats, when a run executes them."""

import sys

import numpy as np
import pytest

import graphc as tf
from graphc import printer


def test_tf_print_writes_strings_and_tensors_to_stderr_when_run(sess, capfd):
    x = tf.placeholder(tf.float32, [None])
    loss = tf.reduce_sum(x * x)
    printed = tf.print("loss:", loss, "x:", x, summarize=2)
    got = sess.run([loss, printed], {x: np.arange(6, dtype=np.float32)})
    assert got == [55.0, None]
    out, err = capfd.readouterr()
    assert out == "" and err == "loss: 55.0 x: [0. 1. ... 4. 5.]\n"
    sess.run(loss, {x: [1.0]})  # not fetched, not a dependency: nothing printed
    assert capfd.readouterr().err == ""


def test_tf_print_to_stdout_and_a_stream_it_cannot_write(sess, capfd):
    printed = tf.print(tf.constant([1, 2]), output_stream=sys.stdout, sep=",", end="!\n")
    sess.run(printed)
    assert capfd.readouterr().out == "[1 2]!\n"
    with pytest.raises(NotImplementedError, match=r"sys\.stderr or sys\.stdout"):
        tf.print(tf.constant(1), output_stream="file:///tmp/log")


def test_tf1_print_passes_its_input_through_and_stops_after_first_n(sess, capfd):
    printer._RUNS.clear()  # first_n counts per op name in a process: start afresh
    x = tf.placeholder(tf.float32, [None])
    y = tf.Print(x * 2.0, [x, tf.reduce_sum(x)], "x, sum: ", first_n=2, name="show")
    for _ in range(3):
        np.testing.assert_array_equal(sess.run(y, {x: [0.5, 1.0, 2.0, 3.0]}), [1, 2, 4, 6])
    assert capfd.readouterr().err == "x, sum: [0.5 1 2...][6.5]\n" * 2
