"""Collections (`tf.GraphKeys`), local variables, `tf.Variable` as a class and TF1's
state_ops functions (`tf.assign`, `tf.assign_add`, `tf.assign_sub`).

The oracle is TF1's documented behaviour (ops.py's Graph collection methods,
variables.py's constructor, state_ops.py) and values computed by hand.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphc as tf
from graphc.errors import GraphcError, ShapeError


# ---- GraphKeys and the collection functions ---------------------------------------------------
def test_graph_keys_are_tf1s_strings():
    keys = tf.GraphKeys
    assert (keys.GLOBAL_VARIABLES, keys.VARIABLES, keys.TRAINABLE_VARIABLES) == (
        "variables",
        "variables",
        "trainable_variables",
    )
    assert (keys.LOCAL_VARIABLES, keys.MODEL_VARIABLES, keys.UPDATE_OPS) == (
        "local_variables",
        "model_variables",
        "update_ops",
    )
    assert (keys.LOSSES, keys.SUMMARIES, keys.REGULARIZATION_LOSSES) == (
        "losses",
        "summaries",
        "regularization_losses",
    )
    assert (keys.GLOBAL_STEP, keys.MOVING_AVERAGE_VARIABLES, keys.TRAIN_OP) == (
        "global_step",
        "moving_average_variables",
        "train_op",
    )


def test_collections_keep_order_and_duplicates_and_copies_are_copies():
    a, b = tf.constant(1.0, name="a"), tf.constant(2.0, name="b")
    tf.add_to_collection("mine", a)
    tf.add_to_collection("mine", b)
    tf.add_to_collection("mine", a)  # TF1 keeps a value added twice
    assert tf.get_collection("mine") == [a, b, a]
    copy = tf.get_collection("mine")
    copy.append(b)
    assert len(tf.get_collection("mine")) == 3  # a copy
    ref = tf.get_collection_ref("mine")
    ref.remove(b)
    assert tf.get_collection("mine") == [a, a]  # the list itself
    assert tf.get_collection("missing") == []
    tf.get_collection_ref("created")  # created empty
    assert "created" in tf.get_default_graph().collections


def test_add_to_collections_adds_once_per_name():
    x = tf.constant(0.0)
    tf.add_to_collections(["c1", "c2", "c1"], x)
    tf.add_to_collections("c3", x)  # a string is one name, not letters
    graph = tf.get_default_graph()
    assert [graph.get_collection(k) for k in ("c1", "c2", "c3", "c")] == [[x], [x], [x], []]
    assert graph.get_all_collection_keys() == ["c1", "c2", "c3"]
    graph.clear_collection("c2")
    assert graph.get_collection("c2") == [] and graph.get_all_collection_keys() == ["c1", "c3"]


def test_get_collection_with_scope_matches_names_from_their_start():
    with tf.name_scope("enc"):
        e = tf.Variable(1.0, name="w")
    with tf.name_scope("dec"):
        d = tf.Variable(1.0, name="w")
    tf.add_to_collection(tf.GraphKeys.GLOBAL_VARIABLES, "a string has no name")
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="enc") == [e]
    assert tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="d.c/") == [d]  # a regex
    assert tf.global_variables(scope="dec") == [d] and tf.trainable_variables("enc") == [e]
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="w") == []  # from the start
    assert tf.get_default_graph().get_collection("variables", "enc/w") == [e]


# ---- variables in the registry ------------------------------------------------------------------
def test_variables_are_listed_by_their_collections():
    w = tf.Variable(1.0, name="w")
    frozen = tf.Variable(1.0, trainable=False, name="frozen")
    local = tf.Variable(0, trainable=False, collections=[tf.GraphKeys.LOCAL_VARIABLES], name="n")
    model = tf.Variable(1.0, collections={tf.GraphKeys.MODEL_VARIABLES, "variables"}, name="m")
    both = tf.Variable(1.0, collections=("variables", "trainable_variables"), name="both")
    avg = tf.Variable(1.0, collections=[tf.GraphKeys.MOVING_AVERAGE_VARIABLES], name="avg")
    assert tf.global_variables() == [w, frozen, model, both] == tf.all_variables()
    assert tf.trainable_variables() == [w, model, both, avg]  # TF1: trainable joins it
    assert tf.local_variables() == [local] and tf.model_variables() == [model]
    assert tf.moving_average_variables() == [avg]
    assert tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES).count(both) == 1


def test_local_variables_have_their_own_initializer_and_no_checkpoint(target, tmp_path):
    w = tf.Variable(np.float32(1.5), name="w")
    count = tf.Variable(
        0, trainable=False, collections=[tf.GraphKeys.LOCAL_VARIABLES], name="count"
    )
    increment = count.assign_add(2)
    init = tf.local_variables_initializer()
    assert init.type == "NoOp" and init.name == "init"
    assert tf.initialize_local_variables().name == "init_1"
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.raises(tf.errors.FailedPreconditionError, match="count"):
            sess.run(count)  # global_variables_initializer leaves local variables alone
        sess.run(init)
        sess.run(increment)
        assert sess.run(count) == 2
        path = tf.train.Saver().save(sess, str(tmp_path / "ckpt"))
    with tf.Session(target=target) as sess:
        tf.train.Saver().restore(sess, path)  # only w was saved
        assert sess.run(w) == 1.5
        with pytest.raises(tf.errors.FailedPreconditionError, match="count"):
            sess.run(count)


def test_an_empty_initializer_runs():
    with tf.Session(target="numpy") as sess:
        assert sess.run(tf.local_variables_initializer()) is None


# ---- tf.Variable is a class ---------------------------------------------------------------------
def test_variable_is_a_class_of_every_variable():
    v = tf.Variable([1.0, 2.0], name="v")
    shared = tf.get_variable("shared", [2])
    step = tf.train.get_or_create_global_step()
    tf.train.AdamOptimizer().minimize(tf.reduce_sum(v * v))
    slot_vars = [x for x in tf.global_variables() if "Adam" in x.name]
    assert slot_vars and all(isinstance(x, tf.Variable) for x in [v, shared, step, *slot_vars])
    assert issubclass(type(v), tf.Variable) and isinstance(v, tf.Tensor)
    assert not isinstance(v * 2.0, tf.Variable) and not isinstance(tf.constant(1.0), tf.Variable)
    assert isinstance(tf.Variable, type)
    assert repr(v) == "<graphc.Variable 'v:0' shape=(2,) dtype=float32>"
    assert (v.op.type, v.device, v.constraint, v.trainable) == ("VariableV2", "", None, True)
    assert v.initial_value.shape == (2,) and v.initialized_value() is v.initial_value
    assert (
        v.initializer.name == "v/Assign" and v.value() is v and v.read_value().op.type == "Identity"
    )


def test_variable_arguments_in_tf1s_order(target):
    v = tf.Variable(np.ones(2), True, [tf.GraphKeys.GLOBAL_VARIABLES, "extra"], True, None, "v")
    f = tf.Variable(lambda: tf.fill([3], 2.0), name="f", dtype=tf.float64, shape=[3])
    c = tf.Variable([1, 2], trainable=None, dtype=tf.float32, use_resource=True, expected_shape=[2])
    assert (v.name, tf.get_collection("extra"), v.trainable, c.trainable) == (
        "v:0",
        [v],
        True,
        True,
    )
    assert f.dtype == tf.float64 and c.dtype == tf.float32
    assert any(
        op.name.startswith("f/Initializer/") for op in tf.get_default_graph().get_operations()
    )
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(f.eval(sess), [2.0, 2.0, 2.0])  # TF1: session first
        np.testing.assert_array_equal(c.eval(session=sess), [1.0, 2.0])
        np.testing.assert_array_equal(v.eval(), [1.0, 1.0])  # the default session


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ValueError, "initial_value must be specified."),
        (
            {"initial_value": 1.0, "collections": "variables"},
            ValueError,
            "collections argument to Variable constructor must be a list, tuple, or set. "
            "Got 'variables' of type str",
        ),
        ({"initial_value": 1.0, "constraint": abs}, ValueError, "constraint=...) is not supported"),
        ({"initial_value": 1.0, "variable_def": object()}, ValueError, "variable_def=...) is not"),
        ({"initial_value": [1.0, 2.0], "shape": [3]}, ShapeError, "shape [3] does not fit"),
        (
            {"initial_value": tf.placeholder_with_default([1.0], [None])},
            ShapeError,
            "needs an initial value of fully known shape",
        ),
    ],
    ids=["none", "collections", "constraint", "variable_def", "shape", "unknown-shape"],
)
def test_bad_variable_arguments_raise(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)) as info:
        tf.Variable(**kwargs)
    assert isinstance(info.value, GraphcError)


# ---- tf.assign, tf.assign_add, tf.assign_sub -----------------------------------------------------
def test_assign_functions_store_and_return_the_value(target):
    v = tf.Variable(np.array([1.0, 2.0], np.float32), name="v")
    k = tf.Variable(10, name="k")
    x = tf.placeholder(tf.float32, [2])
    set_v = tf.assign(v, x)
    add_v = tf.assign_add(v, [0.5, 0.5])
    sub_k = tf.assign_sub(k, 3, name="down")
    named = tf.assign(v, x * 2.0, validate_shape=True, use_locking=False, name="double")
    assert (set_v.op.name, add_v.op.name, sub_k.op.name, named.op.name) == (
        "Assign",
        "AssignAdd",
        "down",
        "double",
    )
    assert tf.assign_sub(k, 1).op.name == "AssignSub"
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(set_v, {x: [3.0, 4.0]}), [3.0, 4.0])
        np.testing.assert_array_equal(sess.run(add_v), [3.5, 4.5])
        assert sess.run(sub_k) == 7 and sess.run(sub_k) == 4
        sess.run(named, {x: [1.0, -1.0]})
        np.testing.assert_array_equal(sess.run(v), [2.0, -2.0])


def test_assign_with_read_value_false_gives_the_op():
    v = tf.Variable(1.0)
    op = v.assign(5.0, read_value=False)
    add = v.assign_add(1.0, read_value=False)
    assert isinstance(op, tf.Operation) and op.type == "Assign" and isinstance(add, tf.Operation)
    with tf.Session(target="numpy") as sess:
        sess.run(v.initializer)
        assert sess.run(op) is None and sess.run(v) == 5.0


@pytest.mark.parametrize("fn", [tf.assign, tf.assign_add, tf.assign_sub], ids=["set", "add", "sub"])
def test_assign_functions_need_a_variable(fn):
    name = fn.__name__
    with pytest.raises(
        ValueError, match=re.escape(f"{name}: ref must be a variable, got tensor 'c:0'")
    ):
        fn(tf.constant(1.0, name="c"), 2.0)
    with pytest.raises(ValueError, match=re.escape(f"{name}: ref must be a variable, got 3.0")):
        fn(3.0, 2.0)
    bad = {
        "assign": "cannot assign a value of shape [3] to a variable of shape [2]",
        "assign_add": "AddV2 'AddV2': shapes [2] and [3] cannot be broadcast together",
        "assign_sub": "Sub 'Sub': shapes [2] and [3] cannot be broadcast together",
    }
    with pytest.raises(ShapeError, match=re.escape(bad[name])):
        fn(tf.Variable([1.0, 2.0]), [1.0, 2.0, 3.0])
    with pytest.raises(ShapeError, match=re.escape("to a variable of shape [2]")):
        fn(tf.Variable([1.0, 2.0]), [[1.0, 2.0]])  # broadcasts, but not to the variable's shape


def test_initial_values_that_read_other_variables_use_their_initial_values(target):
    # TF1 guards these (_try_guard_against_uninitialized_dependencies): one init run works
    a = tf.Variable([1.0, 2.0], name="a")
    zeros = tf.Variable(tf.zeros_like(a), name="zeros")  # an accumulator shaped like a
    affine = tf.Variable(a * 3.0 + 1.0, name="affine")
    chained = tf.Variable(affine, name="chained")  # guarded through affine's own guard
    r = tf.Variable(tf.random_normal([3], seed=1), name="r")
    doubled = tf.Variable(r * 2.0, name="doubled")  # the same draw, not a second one
    assert affine.initial_value.op.name == "affine/AddV2"
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([zeros, affine, chained, r, doubled])
    np.testing.assert_array_equal(got[0], [0.0, 0.0])
    np.testing.assert_array_equal(got[1], [4.0, 7.0])
    np.testing.assert_array_equal(got[2], [4.0, 7.0])
    np.testing.assert_allclose(got[4], 2 * got[3], rtol=1e-6)
