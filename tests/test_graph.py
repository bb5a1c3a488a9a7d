"""Graph construction: names, scopes, shapes, dtypes, operators, text form, errors."""

import subprocess
import sys

import networkx as nx
import numpy as np
import pytest

import graphc as tf
from graphc.errors import DTypeError, GraphcError, GraphMismatchError, ShapeError
from graphc.ir import VerifyError


def test_default_graph_and_as_default():
    outer = tf.get_default_graph()
    g = tf.Graph()
    with g.as_default():
        assert tf.get_default_graph() is g
        c = tf.constant(1.0)
    assert tf.get_default_graph() is outer
    assert c.graph is g and c.op.graph is g
    tf.reset_default_graph()
    assert tf.get_default_graph() is not outer


def test_unique_names_and_name_scopes():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.constant(np.ones((3, 2), np.float32), name="w")
    with tf.name_scope("dense"):
        a = tf.matmul(x, w)
        b = tf.matmul(x, w)
    with tf.name_scope("dense") as scope:
        c = tf.matmul(x, w)
        with tf.name_scope("inner"):
            d = tf.identity(c, name="out")
    assert scope == "dense_1/"
    assert [t.name for t in (x, a, b, c, d)] == [
        "x:0",
        "dense/MatMul:0",
        "dense/MatMul_1:0",
        "dense_1/MatMul:0",
        "dense_1/inner/out:0",
    ]
    assert a.op.name == "dense/MatMul" and a.op.type == "MatMul"


def test_operation_interface_and_topological_order():
    x = tf.placeholder(tf.float32, [2], name="x")
    y = tf.exp(x, name="y")
    with tf.control_dependencies([y]):
        z = tf.identity(x, name="z")
    ops = tf.get_default_graph().get_operations()
    assert [o.name for o in ops] == ["x", "y", "z"]
    zop = z.op
    assert zop.inputs == [x] and zop.outputs == [z] and zop.control_inputs == [y.op]
    assert zop is tf.get_default_graph().get_operation_by_name("z")
    position = {o.name: i for i, o in enumerate(ops)}
    for o in ops:
        for i in o.inputs:
            assert position[i.op.name] < position[o.name]


def test_static_shape_inference():
    x = tf.placeholder(tf.float32, [None, 4])
    w = tf.placeholder(tf.float32, [4, 3])
    assert (x @ w).shape == (None, 3)
    assert tf.reduce_sum(x @ w, axis=0).shape == (3,)
    assert tf.reduce_mean(x, keepdims=True).shape == (1, 1)
    assert tf.reshape(x, [-1, 2, 2]).shape == (None, 2, 2)
    assert tf.reshape(w, [-1]).shape == (12,)
    assert x[:, 1:3].shape == (None, 2)
    assert x[..., None].shape == (None, 4, 1)
    assert tf.concat([w, w], 0).shape == (8, 3)
    assert tf.placeholder(tf.float32).shape is None
    assert (x @ w).shape.as_list() == [None, 3]


def test_dtypes_accept_numpy_and_strings():
    for spec in (tf.float32, np.float32, np.dtype("float32"), "float32"):
        assert tf.placeholder(spec).dtype is tf.float32
    assert tf.as_dtype("int64") is tf.int64 and tf.bool.is_bool
    assert tf.float64 == np.float64
    with pytest.raises(TypeError):
        tf.as_dtype("complex64")


def test_python_scalars_take_the_tensor_dtype():
    x = tf.placeholder(tf.float64, [2])
    assert (x * 2).dtype is tf.float64 and (1 - x).dtype is tf.float64
    i = tf.placeholder(tf.int32, [2])
    assert (i + 1).dtype is tf.int32
    assert (i / 2).dtype is tf.float64  # TF1's true division of integers
    with pytest.raises(DTypeError, match="without loss"):
        i * 2.5


def test_mixed_dtypes_raise_dtype_error_naming_op_and_site():
    a = tf.placeholder(tf.float32, [2])
    b = tf.placeholder(tf.float64, [2])
    with pytest.raises(DTypeError) as info:
        tf.add(a, b, name="mix")
    message = str(info.value)
    assert "AddV2 'mix'" in message and "float32" in message and "float64" in message
    assert f"{__file__}:" in message


def test_shape_error_names_op_shapes_and_user_line():
    a = tf.placeholder(tf.float32, [2, 3])
    b = tf.placeholder(tf.float32, [4, 5])
    with pytest.raises(ShapeError) as info:
        tf.matmul(a, b)
    line = sys._getframe().f_lineno - 1
    assert "MatMul 'MatMul'" in str(info.value)
    assert "f32[2,3]" in str(info.value) and "f32[4,5]" in str(info.value)
    assert f"test_graph.py:{line}" in str(info.value)
    with pytest.raises(ShapeError, match="cannot be broadcast"):
        a + b
    with pytest.raises(ShapeError, match="cannot reshape"):
        tf.reshape(a, [4, 2])
    with pytest.raises(ShapeError, match="out of bounds"):
        a[5]


def test_a_failed_op_creation_adds_nothing():
    a = tf.placeholder(tf.float32, [2, 3])
    before = len(tf.get_default_graph().get_operations())
    with pytest.raises(ShapeError):
        tf.matmul(a, a)
    assert len(tf.get_default_graph().get_operations()) == before


def test_operators():
    x = tf.placeholder(tf.float32, [3])
    y = tf.placeholder(tf.float32, [3])
    ops = [
        x + y,
        x - y,
        x * y,
        x / y,
        x // y,
        x % y,
        x**y,
        -x,
        abs(x),
        x < y,
        x <= y,
        x > y,
        x >= y,
        2.0 - x,
        2.0 / x,
    ]
    xv, yv = np.array([1.5, -2.0, 3.0], np.float32), np.array([2.0, 2.0, -1.5], np.float32)
    with tf.Session(target="numpy") as sess:
        got = sess.run(ops, {x: xv, y: yv})
    want = [
        xv + yv,
        xv - yv,
        xv * yv,
        xv / yv,
        xv // yv,
        xv % yv,
        xv**yv,
        -xv,
        abs(xv),
        xv < yv,
        xv <= yv,
        xv > yv,
        xv >= yv,
        2 - xv,
        2 / xv,
    ]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    assert (x == y) is False and x == x  # identity, as TF1
    assert len({x, y}) == 2


def test_tensors_are_not_python_bools():
    x = tf.placeholder(tf.float32, [3])
    with pytest.raises(TypeError, match="Python bool"):
        bool(x > 0)
    with pytest.raises(TypeError, match="not iterable"):
        list(x)


def test_constant_values():
    cases = [
        (3.0, None, None),
        ([1, 2], None, None),
        (7, tf.float64, [2, 2]),
        ([1, 2, 3, 4], None, [2, 2]),
    ]
    nodes = [tf.constant(v, dtype=d, shape=s) for v, d, s in cases]
    assert [n.dtype for n in nodes] == [tf.float32, tf.int32, tf.float64, tf.int32]
    with tf.Session(target="numpy") as sess:
        got = sess.run(nodes)
    np.testing.assert_array_equal(got[0], np.float32(3.0))
    np.testing.assert_array_equal(got[1], [1, 2])
    np.testing.assert_array_equal(got[2], np.full((2, 2), 7.0))
    np.testing.assert_array_equal(got[3], [[1, 2], [3, 4]])
    with pytest.raises(ShapeError):
        tf.constant([1, 2, 3], shape=[2, 2])


def test_text_form_golden():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(np.zeros((3, 2), np.float32), name="w")
    with tf.name_scope("dense"):
        h = tf.nn.relu(tf.matmul(x, w))
    tf.reduce_sum(h, axis=1, name="total")
    expected = """\
graph(x: f32[?,3], w: f32[3,2]) {
  w/Const: f32[3,2] = const[value=[[0.,0.],[0.,0.],[0.,0.]]]
  w/Assign: f32[3,2] = assign w w/Const
  dense/MatMul: f32[?,2] = matmul[transpose_a=False, transpose_b=False] x w
  dense/Relu: f32[?,2] = relu dense/MatMul
  total: f32[?] = reduce_sum[axis=(1,), keepdims=False] dense/Relu
}"""
    assert tf.get_default_graph().as_text() == expected
    assert str(tf.get_default_graph()) == expected


def test_to_networkx_and_verify():
    x = tf.placeholder(tf.float32, [2], name="x")
    y = tf.sin(x, name="y")
    with tf.control_dependencies([y]):
        tf.add(x, y, name="z")
    g = tf.get_default_graph()
    nxg = g.to_networkx()
    assert sorted(nxg.nodes) == ["x", "y", "z"]
    assert nx.is_directed_acyclic_graph(nxg)
    assert nxg.nodes["z"]["type"] == "AddV2" and nxg.nodes["z"]["shape"] == (2,)
    edges = {(u, v, d["control"]) for u, v, d in nxg.edges(data=True)}
    assert edges == {("x", "y", False), ("x", "z", False), ("y", "z", False), ("y", "z", True)}
    g.verify()


def test_verify_rejects_a_broken_graph():
    import dataclasses

    x = tf.placeholder(tf.float32, [2], name="x")
    y = tf.exp(x)
    g = tf.get_default_graph()
    bad = dataclasses.replace(y, type=tf.placeholder(tf.float64, [2]).type, op_name="bad")
    g.add(bad)
    with pytest.raises(VerifyError, match="'bad'"):
        g.verify()


def test_mixing_graphs_is_an_error():
    a = tf.constant(1.0)
    g = tf.Graph()
    with g.as_default():
        b = tf.constant(2.0)
    with pytest.raises(GraphMismatchError, match="another graph"):
        a + b


def test_op_without_output_cannot_be_an_input():
    op = tf.no_op()
    with pytest.raises(GraphcError, match="op, not a tensor"):
        tf.identity(op)


def test_importing_the_ir_does_not_import_passes():
    code = "import sys, graphc.ir; assert 'passes' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_identity_of_a_list_holding_tensors_stacks_it():
    # convert() stacks a list that holds tensors (it once imported stack from the wrong module)
    x = tf.placeholder(tf.float32, [2], name="x")
    y = tf.identity([x, x])
    assert y.shape.as_list() == [2, 2]
    with tf.Session(target="numpy") as sess:
        value = sess.run(y, {x: [1.0, 2.0]})
    np.testing.assert_array_equal(value, [[1.0, 2.0], [1.0, 2.0]])
