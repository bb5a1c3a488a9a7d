"""`tf.variable_scope` and `tf.get_variable` against TF1's naming and reuse rules.

The oracle is TF1's documented behaviour (variable_scope.py and the "Sharing variables"
guide): variable names follow the variable scope only, ops the name scope it opens;
reuse is True, None (inherit) or AUTO_REUSE; each error's message is TF1's.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import graphc as tf
from graphc.errors import GraphcError, ShapeError


def _names(variables):
    return [v.name for v in variables]


# ---- naming ---------------------------------------------------------------------------------
def test_variables_follow_the_variable_scope_and_ops_the_name_scope():
    with tf.variable_scope("a"):
        w = tf.get_variable("w", [2, 3])
        c = tf.constant(1.0)
        with tf.variable_scope("b"):
            v = tf.get_variable("v", [1])
            d = tf.constant(2.0)
    assert (w.name, v.name) == ("a/w:0", "a/b/v:0")
    assert (c.op.name, d.op.name) == ("a/Const", "a/b/Const")
    assert w.op.type == "VariableV2" and w.shape == (2, 3) and w.dtype == tf.float32
    with tf.variable_scope("a", reuse=True):  # re-entered: ops get a_1/, variables stay a/
        w2 = tf.get_variable("w", [2, 3])
        e = tf.constant(3.0)
        with tf.variable_scope("b"):
            v2 = tf.get_variable("v")
            f = tf.constant(4.0)
    assert w2 is w and v2 is v
    assert (e.op.name, f.op.name) == ("a_1/Const", "a_1/b/Const")


def test_get_variable_ignores_name_scopes_but_tf_variable_does_not():
    with tf.name_scope("ns"):
        w = tf.get_variable("w", [1])
        v = tf.Variable(1.0, name="v")
    with tf.variable_scope("vs"), tf.name_scope("inner"):
        u = tf.get_variable("u", [1])
        t = tf.Variable(1.0, name="t")
    assert _names([w, v, u, t]) == ["w:0", "ns/v:0", "vs/u:0", "vs/inner/t:0"]


def test_a_scope_name_with_a_slash_opens_both_levels():
    with tf.variable_scope("a/b") as scope:
        w = tf.get_variable("w", [1])
        c = tf.constant(0.0)
    assert scope.name == "a/b" and scope.original_name_scope == "a/b/"
    assert w.name == "a/b/w:0" and c.op.name == "a/b/Const"


def test_initializer_ops_are_named_under_the_variable():
    with tf.variable_scope("layer"):
        w = tf.get_variable("w", [2], initializer=tf.zeros_initializer())
    init_ops = [o.name for o in tf.get_default_graph().get_operations() if o.name != "layer/w"]
    assert all(n.startswith("layer/w/") for n in init_ops), init_ops
    assert any(n.startswith("layer/w/Initializer/") for n in init_ops)
    assert w.initializer.name == "layer/w/Assign"


def test_get_variable_scope_is_the_current_scope():
    root = tf.get_variable_scope()
    assert root.name == "" and root.reuse is False
    with tf.variable_scope("outer") as outer:
        assert tf.get_variable_scope() is outer and outer.name == "outer"
        with tf.variable_scope("inner") as inner:
            assert tf.get_variable_scope() is inner and inner.name == "outer/inner"
            assert inner.original_name_scope == "outer/inner/"
    assert tf.get_variable_scope() is root
    assert isinstance(outer, tf.VariableScope)


# ---- reuse -----------------------------------------------------------------------------------
def test_a_second_get_variable_without_reuse_raises_tf1s_message():
    with tf.variable_scope("x"):
        tf.get_variable("w", [2])
    message = (
        "Variable x/w already exists, disallowed. Did you mean to set reuse=True or "
        "reuse=tf.AUTO_REUSE in VarScope?"
    )
    with pytest.raises(ValueError, match=re.escape(message)) as info, tf.variable_scope("x"):
        tf.get_variable("w", [2])
    assert isinstance(info.value, GraphcError)
    assert "Originally defined at: " + __file__ in str(info.value)


def test_reusing_a_missing_variable_raises_tf1s_message():
    message = (
        "Variable x/nope does not exist, or was not created with tf.get_variable(). "
        "Did you mean to set reuse=tf.AUTO_REUSE in VarScope?"
    )
    with pytest.raises(ValueError, match=re.escape(message)), tf.variable_scope("x", reuse=True):
        tf.get_variable("nope", [2])


def test_a_tf_variable_is_not_found_by_get_variable():
    with tf.variable_scope("x"):
        tf.Variable(1.0, name="v")
    message = re.escape("was not created with tf.get_variable()")
    with pytest.raises(ValueError, match=message), tf.variable_scope("x", reuse=True):
        tf.get_variable("v", [])


def test_auto_reuse_creates_then_returns():
    def dense(x):
        with tf.variable_scope("dense", reuse=tf.AUTO_REUSE):
            w = tf.get_variable("w", [3, 2], initializer=tf.ones_initializer())
            return tf.matmul(x, w), w

    x = tf.placeholder(tf.float32, [None, 3])
    (y1, w1), (y2, w2) = dense(x), dense(x * 2.0)
    assert w1 is w2 and _names(tf.global_variables()) == ["dense/w:0"]
    assert y1.op.name == "dense/MatMul" and y2.op.name == "dense_1/MatMul"


def test_reuse_is_inherited_and_false_means_inherit():
    with tf.variable_scope("a"):
        tf.get_variable("w", [1])
        with tf.variable_scope("b"):
            tf.get_variable("w", [1])
    with tf.variable_scope("a", reuse=True) as scope:
        assert scope.reuse is True
        with tf.variable_scope("b", reuse=False) as inner:  # TF1: False is None here
            assert inner.reuse is True
            assert tf.get_variable("w", [1]).name == "a/b/w:0"
    with tf.variable_scope("a", reuse=tf.AUTO_REUSE), tf.variable_scope("c") as c:
        assert c.reuse is tf.AUTO_REUSE
        assert tf.get_variable("w", [1]).name == "a/c/w:0"


def test_reuse_variables_turns_on_reuse_for_the_rest_of_the_scope():
    with tf.variable_scope("rnn") as scope:
        first = tf.get_variable("w", [2])
        scope.reuse_variables()
        assert tf.get_variable_scope().reuse is True
        assert tf.get_variable("w", [2]) is first
        with tf.variable_scope("inner") as inner:
            assert inner.reuse is True
    assert tf.get_variable_scope().reuse is False


def test_a_captured_scope_is_entered_by_its_own_name():
    with tf.variable_scope("model") as model:
        w = tf.get_variable("w", [1])
    with tf.variable_scope("elsewhere"), tf.variable_scope(model, reuse=True) as again:
        assert again.name == "model" and again.original_name_scope == "model/"
        assert tf.get_variable("w", [1]) is w
        c = tf.constant(0.0)
    assert c.op.name == "elsewhere/model/Const"  # TF1: ops in a fresh name scope here
    with tf.variable_scope(model):  # reuse is the captured scope's own (False): a new name
        assert tf.get_variable("v", [1]).name == "model/v:0"
    for _ in range(2):  # leaving a captured scope restores the subscope counts
        with tf.variable_scope(model), tf.variable_scope(None, default_name="layer") as layer:
            assert layer.name == "model/layer"
    with tf.variable_scope(None, default_name="model") as sibling:
        assert sibling.name == "model_1"


def test_the_root_scope_can_be_reentered_with_reuse():
    w = tf.get_variable("w", [2])
    with tf.variable_scope(tf.get_variable_scope(), reuse=True):
        assert tf.get_variable("w", [2]) is w
        assert tf.constant(0.0).op.name == "Const"  # the root scope opens no name scope
    with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
        assert tf.get_variable("new", [1]).name == "new:0"


def test_default_names_are_made_unique_and_found_again_on_reentry():
    with tf.variable_scope(None, default_name="dense") as first:
        pass
    with tf.variable_scope(None, default_name="dense") as second:
        pass
    assert (first.name, second.name) == ("dense", "dense_1")
    with tf.variable_scope("net"):
        with tf.variable_scope(None, default_name="layer"):
            w = tf.get_variable("w", [1])
        with tf.variable_scope(None, default_name="layer"):
            v = tf.get_variable("w", [1])
    assert (w.name, v.name) == ("net/layer/w:0", "net/layer_1/w:0")
    with tf.variable_scope("net", reuse=True):  # the subscope counts start again
        with tf.variable_scope(None, default_name="layer"):
            assert tf.get_variable("w", [1]) is w
        with tf.variable_scope(None, default_name="layer"):
            assert tf.get_variable("w", [1]) is v


def test_auxiliary_name_scope_false_opens_no_name_scope():
    with tf.name_scope("outer"), tf.variable_scope("vs", auxiliary_name_scope=False) as scope:
        w = tf.get_variable("w", [1])
        c = tf.constant(0.0)
    assert w.name == "vs/w:0" and c.op.name == "outer/Const"
    assert scope.original_name_scope == "outer/"


def test_values_select_the_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.constant(1.0)
    with tf.variable_scope("s", values=[x]):
        y = x * 2.0
        w = tf.get_variable("w", [1])
    assert y.graph is g and w.graph is g and y.op.name == "s/Mul"
    assert tf.get_default_graph() is not g and not tf.global_variables()


def test_shared_variables_are_shared_per_graph():
    w = tf.get_variable("w", [1])
    g = tf.Graph()
    with g.as_default():
        assert tf.get_variable("w", [1]) is not w  # a new graph has its own store
        assert tf.get_variable_scope().name == ""


# ---- shapes, dtypes and initializers ---------------------------------------------------------
def test_sharing_checks_shape_and_dtype_with_tf1s_messages():
    with tf.variable_scope("s"):
        tf.get_variable("w", [2, 3])
    with tf.variable_scope("s", reuse=True):
        assert tf.get_variable("w", [None, 3]).shape == (2, 3)  # compatible
        assert tf.get_variable("w").shape == (2, 3)  # unknown shape: compatible
        shape = "Trying to share variable s/w, but specified shape [3, 2] and found shape [2, 3]."
        with pytest.raises(ValueError, match=re.escape(shape)):
            tf.get_variable("w", [3, 2])
        dtype = "Trying to share variable s/w, but specified dtype float64 and found dtype float32."
        with pytest.raises(ValueError, match=re.escape(dtype)):
            tf.get_variable("w", [2, 3], dtype=tf.float64)


def test_default_initializers_are_glorot_uniform_for_floats_and_zeros_otherwise(target):
    w = tf.get_variable("w", [40, 60])
    i = tf.get_variable("i", [3], dtype=tf.int32)
    b = tf.get_variable("b", [2], dtype=tf.bool)
    d = tf.get_variable("d", [5, 5], dtype=tf.float64)
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        wv, iv, bv, dv = sess.run([w * 1.0, i + 0, tf.logical_or(b, b), d * 1.0])
    limit = math.sqrt(6.0 / (40 + 60))
    assert wv.dtype == np.float32 and dv.dtype == np.float64
    assert np.abs(wv).max() <= limit and np.abs(wv).max() > 0.95 * limit
    assert abs(wv.std() - limit / math.sqrt(3)) < 0.1 * limit  # 2400 draws: std within 3%
    assert np.abs(dv).max() <= math.sqrt(6.0 / 10) and dv.std() > 0
    np.testing.assert_array_equal(iv, [0, 0, 0])
    np.testing.assert_array_equal(bv, [False, False])


def test_initializers_from_the_call_then_the_scope_then_the_default(target):
    with tf.variable_scope("s", initializer=tf.constant_initializer(2.0)):
        a = tf.get_variable("a", [2])
        with tf.variable_scope("inner"):  # inherited
            b = tf.get_variable("b", [2])
            c = tf.get_variable("c", [2], initializer=tf.ones_initializer())
        with tf.variable_scope("other", initializer=tf.zeros_initializer):  # a class works too
            d = tf.get_variable("d", [2])
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([a, b, c, d])
    np.testing.assert_array_equal(got, [[2, 2], [2, 2], [1, 1], [0, 0]])


def test_an_initial_value_gives_the_shape_and_dtype(target):
    t = tf.get_variable("t", initializer=tf.constant([[1.0, 2.0]], tf.float64))
    a = tf.get_variable("a", initializer=np.arange(3, dtype=np.int64))
    f = tf.get_variable("f", initializer=lambda: tf.fill([2], 7.0))  # no shape: called as is
    assert (t.shape, t.dtype, a.shape, a.dtype, f.shape) == (
        (1, 2),
        tf.float64,
        (3,),
        tf.int64,
        (2,),
    )
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        tv, av, fv = sess.run([t, a, f])
    np.testing.assert_array_equal(tv, [[1.0, 2.0]])
    np.testing.assert_array_equal(av, [0, 1, 2])
    np.testing.assert_array_equal(fv, [7.0, 7.0])


def test_bad_initializer_arguments_raise_tf1s_messages():
    with pytest.raises(
        ValueError, match=re.escape("If initializer is a constant, do not specify shape.")
    ):
        tf.get_variable("a", [2], initializer=tf.constant([1.0, 2.0]))
    message = "Initializer type 'float32' and explicit dtype 'float64' don't match."
    with pytest.raises(ValueError, match=re.escape(message)):
        tf.get_variable("b", initializer=[1.0, 2.0], dtype=tf.float64)
    with pytest.raises(ValueError, match="The initializer passed is not valid"):
        tf.get_variable("c", initializer=tf.zeros_initializer())  # needs a shape
    with pytest.raises(ValueError, match="The initializer passed is not valid"):
        tf.get_variable("d", [None, 2])  # a new variable's shape must be fully known
    assert not tf.global_variables()  # nothing was created by the failed calls


def test_trainable_collections_and_local_variables():
    w = tf.get_variable("w", [1])
    frozen = tf.get_variable("frozen", [1], trainable=False)
    mine = tf.get_variable("mine", [1], collections=["mine"])
    local = tf.get_local_variable("count", [], dtype=tf.int32)
    assert _names(tf.global_variables()) == ["w:0", "frozen:0"]
    assert _names(tf.trainable_variables()) == ["w:0", "mine:0"]
    assert tf.get_collection("mine") == [mine] and tf.local_variables() == [local]
    assert not local.trainable and frozen.trainable is False and w.trainable is True


def test_regularizers_add_their_losses_under_the_variable_name(target):
    def l2(v):
        return 0.5 * tf.reduce_sum(v * v)

    with tf.variable_scope("s", regularizer=l2):
        w = tf.get_variable("w", [2], initializer=tf.constant_initializer([1.0, 2.0]))
        b = tf.get_variable("b", [2], regularizer=tf.no_regularizer)
        with tf.variable_scope("t"):
            u = tf.get_variable("u", [1], initializer=tf.constant_initializer(3.0))
    v = tf.get_variable("v", [1], regularizer=lambda x: 2.0 * tf.reduce_sum(x))
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert [loss.op.name.split("/Regularizer/")[0] for loss in losses] == ["s/w", "s/t/u", "v"]
    assert tf.no_regularizer(b) is None
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([*losses, v])
    np.testing.assert_allclose(got[:3], [2.5, 4.5, 2.0 * got[3][0]], rtol=1e-6)
    assert w.shape == (2,) and u.shape == (1,)


def test_scope_dtype_and_the_scopes_own_variable_lists():
    with tf.variable_scope("d", dtype=tf.float64) as scope:
        w = tf.get_variable("w", [1])
        frozen = tf.get_variable("f", [1], trainable=False)
    tf.get_variable("other", [1])
    assert w.dtype == tf.float64
    assert scope.global_variables() == [w, frozen] and scope.trainable_variables() == [w]
    assert scope.local_variables() == [] and scope.get_collection("variables") == [w, frozen]


# ---- argument errors -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"name_or_scope": "s", "reuse": "yes"},
            "The reuse parameter must be True or False or None.",
        ),
        ({"name_or_scope": None}, "If default_name is None then name_or_scope is required"),
        ({"name_or_scope": 3}, "VariableScope: name_or_scope must be a string or VariableScope."),
        (
            {"name_or_scope": None, "default_name": "d", "reuse": True},
            "reuse=True cannot be used without a name_or_scope",
        ),
        (
            {"name_or_scope": "s", "auxiliary_name_scope": 1},
            "The auxiliary_name_scope must be `True` or `False`, got 1",
        ),
        (
            {"name_or_scope": "s", "custom_getter": lambda g, *a, **k: g(*a, **k)},
            "custom_getter= is not supported by graphc's variable scopes",
        ),
        ({"name_or_scope": "bad name"}, "invalid name_scope name 'bad name'"),
    ],
    ids=["reuse", "no-name", "not-a-name", "reuse-default", "auxiliary", "getter", "bad-name"],
)
def test_variable_scope_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)), tf.variable_scope(**kwargs):
        pass
    assert tf.get_variable_scope().name == ""  # nothing stays entered


def test_get_variable_rejects_what_graphc_does_not_do():
    with pytest.raises(ValueError, match="partitioner= is not supported"):
        tf.get_variable("w", [4], partitioner=lambda shape, dtype: [2])
    with pytest.raises(ShapeError):
        tf.get_variable("x", initializer=tf.placeholder(tf.float32, [None]))


# ---- a whole model, both targets ---------------------------------------------------------------
def test_a_scoped_model_trains_as_written(target):
    def layer(x, n_out, name):
        with tf.variable_scope(name, reuse=tf.AUTO_REUSE):
            w = tf.get_variable(
                "kernel", [x.shape[1], n_out], initializer=tf.constant_initializer(0.5)
            )
            b = tf.get_variable("bias", [n_out], initializer=tf.zeros_initializer())
            return tf.matmul(x, w) + b

    x = tf.placeholder(tf.float32, [None, 2])
    loss = tf.reduce_mean(tf.square(layer(layer(x, 3, "l1"), 1, "l2")))
    again = layer(x, 3, "l1")  # shares l1's variables
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    assert _names(tf.trainable_variables()) == [
        "l1/kernel:0",
        "l1/bias:0",
        "l2/kernel:0",
        "l2/bias:0",
    ]
    xv = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        first, _ = sess.run([loss, train], {x: xv})
        shared = sess.run(again, {x: xv})
    # by hand: h = x @ 0.5 (3 equal columns), y = h @ 0.5 = 0.75 * sum(x, 1)
    np.testing.assert_allclose(first, np.mean((0.75 * xv.sum(1)) ** 2), rtol=1e-6)
    assert shared.shape == (2, 3)
