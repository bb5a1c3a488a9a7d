"""The backend seam: a third backend plugs in without touching the session, both built-in
targets give the same Executable API, and a missing emitter is named, never a KeyError."""

import numpy as np
import pytest

import graphc as tf
import passes
from graphc import backends
from graphc.backends.cpu import CpuBackend
from graphc.backends.reference import ReferenceBackend
from graphc.errors import FailedPreconditionError, GraphcError
from graphc.executable import Backend, Executable, check_emitters
from graphc.ops import REGISTRY, Fusion, defop
from graphc.types import TensorType


class CountingBackend(Backend):
    """A toy third target: the reference executor, counting compiles and calls."""

    name = "counting"

    def __init__(self):
        self.compiled, self.calls = 0, 0

    def compile(self, step, store, options, rebuild=None):
        self.compiled += 1
        inner = ReferenceBackend().compile(step, store, options, rebuild)
        backend = self

        class Counted(type(inner)):
            def run_flat(self, arrays):
                backend.calls += 1
                return super().run_flat(arrays)

        inner.__class__ = Counted
        return inner


@pytest.fixture
def counting():
    backend = CountingBackend()
    backends.register("counting", backend)
    yield backend
    del backends.BACKENDS["counting"]


def test_a_third_backend_plugs_in_through_register(counting):
    x = tf.placeholder(tf.float32, [None, 2])
    w = tf.Variable(np.array([[1.0], [2.0]], np.float32))
    loss = tf.reduce_sum(tf.matmul(x, w) ** 2)
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    xv = np.array([[1.0, 1.0], [0.5, -1.0]], np.float32)
    with tf.Session(target="counting") as sess:
        assert sess.backend is counting
        sess.run(tf.global_variables_initializer())  # the reference, not compiled
        assert counting.compiled == 0
        for _ in range(3):
            _, before = sess.run([train, loss], {x: xv})
        after = sess.run(loss, {x: xv})
        assert (counting.compiled, counting.calls) == (2, 4)  # one per (fetches, feeds)
    # the same steps by hand: loss = sum((x w)^2), dloss/dw = 2 x^T (x w)
    wv = np.array([[1.0], [2.0]])
    for _ in range(3):
        wv = wv - 0.01 * 2 * xv.T @ (xv @ wv)
    np.testing.assert_allclose(after, np.sum((xv @ wv) ** 2), rtol=1e-5)
    assert before > after


def test_register_takes_backends_only_and_get_names_the_targets():
    with pytest.raises(TypeError, match=r"must be a graphc\.executable\.Backend"):
        backends.register("bad", object())
    with pytest.raises(ValueError, match=r"target must be one of \('numpy', 'cpu', 'cuda'\)"):
        tf.Session(target="tpu")
    assert backends.get("cuda").name == "cuda"


@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_make_callable_gives_the_same_inspection_api_on_every_target(target, tmp_path):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.tanh(x * 2.0 + 1.0) - x
    with tf.Session(target=target, cache_dir=tmp_path, passes=None) as sess:
        f = sess.make_callable({"y": y}, [x])
        assert isinstance(f, Executable)
        xv = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
        np.testing.assert_allclose(f(xv)["y"], np.tanh(xv * 2 + 1) - xv, rtol=1e-6, atol=1e-6)
        assert isinstance(f.source, str) and f.source
        assert f.graph.outputs and "pass" in str(f.report)
        assert isinstance(f.kernels, list) and f.to_dot().startswith("digraph")
    # the reference runs the graph as written unless given passes; the cpu target fuses
    assert bool(f.kernels) == (target == "cpu")


def test_the_reference_target_runs_the_passes_it_is_given():
    x = tf.placeholder(tf.float32, [4])
    e = tf.exp(x)
    m = e * 3.0
    y = m + x
    with tf.Session(target="numpy", passes=[passes.fusion]) as sess:
        f = sess.make_callable(y, [x])
        xv = np.arange(4, dtype=np.float32)
        np.testing.assert_allclose(f(xv), np.exp(xv) * 3 + xv, rtol=1e-6)
    assert [set(k.ops) for k in f.kernels] == [{e.op.name, m.op.name, y.op.name}]


def test_a_backend_names_the_op_it_has_no_emitter_for():
    with pytest.raises(GraphcError, match="op conv9d, fft has no toy emitter"):
        check_emitters("toy", {"relu": None}, ["relu", "conv9d", "fft"])
    op = defop(
        "test_opaque_op",
        "TestOpaque",
        Fusion.OPAQUE,
        infer=lambda x: TensorType(x.shape, x.dtype),
        numpy=lambda x: x + 1,
        differentiable=False,
    )
    try:
        with pytest.raises(GraphcError, match="op test_opaque_op has no cpu emitter"):
            CpuBackend()
        x = tf.placeholder(tf.float32, [2])
        y = op(x)
        with tf.Session(target="numpy") as sess:  # the reference needs only the numpy facet
            np.testing.assert_array_equal(sess.run(y, {x: [1.0, 2.0]}), [2.0, 3.0])
        with (
            tf.Session(target="cpu") as sess,
            pytest.raises(GraphcError, match="op test_opaque_op has no cpu emitter"),
        ):
            sess.run(y, {x: [1.0, 2.0]})
    finally:
        del REGISTRY["test_opaque_op"]


@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_the_store_holds_natural_shapes_and_fetches_are_copies(target, tmp_path):
    s = tf.Variable(np.float32(2.0))
    v = tf.Variable(np.zeros((2, 2), np.float32))
    bump = [s.assign_add(1.0), v.assign_add(tf.ones([2, 2]))]
    with tf.Session(target=target, cache_dir=tmp_path) as sess:
        with pytest.raises(FailedPreconditionError, match="uninitialized variable 'Variable:0'"):
            sess.run(bump)
        sess.run(tf.global_variables_initializer())
        fetched = sess.run(v)
        sess.run(bump)
        sess.run(bump)
        np.testing.assert_array_equal(fetched, np.zeros((2, 2)))  # not aliased
        assert sess.store.values[s].shape == () and sess.store.values[v].shape == (2, 2)
        assert sess.run(s) == 4.0
        v.load(np.full((2, 2), 7.0), sess)
        np.testing.assert_array_equal(fetched, np.zeros((2, 2)))
        sess.run(bump)
        np.testing.assert_array_equal(sess.run(v), np.full((2, 2), 8.0))
