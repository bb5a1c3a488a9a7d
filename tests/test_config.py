"""tf.ConfigProto and friends: value objects with TF1's fields, defaults, enums and
errors; accepted by Session; `ignored_fields` names what graphc does not act on."""

import copy
import pickle

import numpy as np
import pytest

import graphc as tf
from graphc.config import ignored_fields, set_fields


def test_tf1_configs_as_scripts_write_them():
    config = tf.ConfigProto(
        allow_soft_placement=True,
        log_device_placement=False,
        device_count={"GPU": 0, "CPU": 2},
        intra_op_parallelism_threads=2,
        gpu_options=tf.GPUOptions(per_process_gpu_memory_fraction=0.4),
    )
    config.gpu_options.allow_growth = True
    config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
    config.device_filters.append("/cpu:0")
    assert config.gpu_options.allow_growth is True
    assert config.gpu_options.per_process_gpu_memory_fraction == 0.4
    assert config.device_count == {"GPU": 0, "CPU": 2}
    assert config.inter_op_parallelism_threads == 0  # the proto's default
    assert config.graph_options.optimizer_options.opt_level == tf.OptimizerOptions.L1
    assert str(config) == (
        'device_count { key: "GPU" value: 0 }\n'
        'device_count { key: "CPU" value: 2 }\n'
        "intra_op_parallelism_threads: 2\n"
        'device_filters: "/cpu:0"\n'
        "gpu_options {\n"
        "  per_process_gpu_memory_fraction: 0.4\n"
        "  allow_growth: true\n"
        "}\n"
        "allow_soft_placement: true\n"
        "graph_options {\n"
        "  optimizer_options {\n"
        "    global_jit_level: ON_1\n"
        "  }\n"
        "}\n"
    )


def test_enums_have_both_spellings():
    assert tf.RunOptions.FULL_TRACE == tf.RunOptions.TraceLevel.FULL_TRACE == 3
    assert tf.RunOptions.NO_TRACE == 0
    assert tf.OptimizerOptions.L0 == tf.OptimizerOptions.Level.L0 == -1
    assert tf.OptimizerOptions.OFF == -1
    assert tf.OptimizerOptions.ON_2 == 2
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE, timeout_in_ms=1000)
    assert options.trace_level == 3
    assert str(options) == "trace_level: FULL_TRACE\ntimeout_in_ms: 1000\n"


def test_values_compare_copy_and_clear():
    a = tf.ConfigProto(allow_soft_placement=True)
    b = tf.ConfigProto()
    assert a != b
    b.CopyFrom(a)
    assert a == b
    b.gpu_options.allow_growth = True
    assert a != b
    assert b.HasField("gpu_options")
    assert not a.HasField("gpu_options")
    b.ClearField("gpu_options")
    assert a == b
    assert copy.deepcopy(a) == a
    assert pickle.loads(pickle.dumps(a)) == a
    a.Clear()
    assert a == tf.ConfigProto()
    assert str(a) == ""
    given = tf.GPUOptions(allow_growth=True)
    config = tf.ConfigProto(gpu_options=given)
    given.allow_growth = False  # the config holds its own copy, as protobuf does
    assert config.gpu_options.allow_growth is True
    assert tf.ConfigProto(gpu_options={"allow_growth": True}) == config
    level = tf.OptimizerOptions(opt_level=tf.OptimizerOptions.L0)
    graph_options = tf.GraphOptions(optimizer_options=level, infer_shapes=True)
    assert tf.ConfigProto(graph_options=graph_options).graph_options == graph_options


def test_run_metadata_is_empty():
    metadata = tf.RunMetadata()
    assert metadata.step_stats.dev_stats == []
    assert metadata.partition_graphs == []
    assert metadata.cost_graph.node == []
    assert str(metadata) == ""


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: tf.ConfigProto(allow_soft_placment=True), ValueError, 'no "allow_soft_placment"'),
        (lambda: setattr(tf.GPUOptions(), "allow_grwth", True), AttributeError, "allow_grwth"),
        (lambda: tf.ConfigProto(allow_soft_placement="yes"), TypeError, "takes a bool, not str"),
        (lambda: tf.ConfigProto(intra_op_parallelism_threads=1.5), TypeError, "not the float"),
        (lambda: tf.GPUOptions(per_process_gpu_memory_fraction="half"), TypeError, "float"),
        (lambda: tf.RunOptions(trace_level=7), ValueError, "7 is not a TraceLevel"),
        (lambda: tf.RunOptions(trace_level="FULL_TRACE"), TypeError, "TraceLevel value"),
        (lambda: tf.ConfigProto(gpu_options=tf.RunOptions()), TypeError, "takes a GPUOptions"),
        (lambda: tf.ConfigProto(device_count=["GPU"]), TypeError, "is a map"),
        (lambda: tf.ConfigProto(device_count={"GPU": "0"}), TypeError, "takes an int, not str"),
        (lambda: tf.ConfigProto(device_filters="/cpu:0"), TypeError, "is a repeated field"),
        (lambda: tf.ConfigProto().HasField("allow_soft_placement"), ValueError, "message field"),
        (lambda: tf.ConfigProto().CopyFrom(tf.RunOptions()), TypeError, "needs a ConfigProto"),
    ],
    ids=[
        "unknown-kwarg",
        "unknown-attr",
        "bool",
        "int",
        "float",
        "enum-value",
        "enum-type",
        "message",
        "map",
        "map-value",
        "repeated",
        "hasfield",
        "copyfrom",
    ],
)
def test_bad_fields_raise_as_protobuf_does(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_ignored_fields_name_every_field_set():
    config = tf.ConfigProto(log_device_placement=True)
    config.gpu_options.allow_growth = True
    assert set_fields(config) == ["gpu_options.allow_growth", "log_device_placement"]
    assert ignored_fields(config) == ["gpu_options.allow_growth", "log_device_placement"]
    assert ignored_fields(tf.ConfigProto()) == []
    assert ignored_fields(tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)) == ["trace_level"]


def test_a_session_accepts_a_config():
    x = tf.placeholder(tf.float32, [2])
    config = tf.ConfigProto(allow_soft_placement=True, gpu_options=tf.GPUOptions(allow_growth=True))
    with tf.Session(target="numpy", config=config) as sess:
        np.testing.assert_array_equal(sess.run(x * 2.0, {x: [1.0, 2.0]}), [2.0, 4.0])


def test_run_accepts_options_and_run_metadata():
    x = tf.placeholder(tf.float32, [2])
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    metadata = tf.RunMetadata()
    with tf.Session(target="numpy") as sess:
        out = sess.run(x + 1.0, {x: [1.0, 2.0]}, options=options, run_metadata=metadata)
    np.testing.assert_array_equal(out, [2.0, 3.0])
    assert metadata == tf.RunMetadata()  # graphc traces nothing


def test_a_session_reports_the_config_fields_it_ignores(caplog):
    config = tf.ConfigProto(intra_op_parallelism_threads=3)
    with caplog.at_level("WARNING", logger="graphc"), tf.Session(target="numpy", config=config):
        pass
    assert "intra_op_parallelism_threads" in caplog.text
    with pytest.raises(TypeError, match=r"config must be a tf\.ConfigProto"):
        tf.Session(target="numpy", config={"allow_soft_placement": True})


def test_tf1s_positional_session_arguments():
    g = tf.Graph()
    with g.as_default():
        x = tf.constant(2.0) * 3.0
    with tf.Session("", g, tf.ConfigProto()) as sess:  # TF1: target, graph, config
        assert sess.graph is g and sess.run(x) == 6.0


def test_make_callable_accepts_tf1s_options():
    x = tf.placeholder(tf.float32, [])
    with tf.Session(target="numpy") as sess:
        step = sess.make_callable(x * 2.0, [x], accept_options=True)
        assert step(1.5, options=tf.RunOptions(), run_metadata=tf.RunMetadata()) == 3.0
        with pytest.raises(TypeError, match=r"run_metadata must be a tf\.RunMetadata"):
            step(1.5, run_metadata=tf.RunOptions())
        with pytest.raises(TypeError, match=r"options must be a tf\.RunOptions"):
            sess.run(x, {x: 1.0}, options=tf.RunMetadata())
