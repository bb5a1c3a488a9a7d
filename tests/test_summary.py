"""tf.summary: event files read back with TensorBoard's own reader, against values fed here.

The oracle is independent of graphc and of tensorboardX (which writes the files):
TensorBoard's `EventAccumulator` parses them, and the expected values are NumPy
formulas of the fed data; histogram buckets are checked against TF1's rule (bucket i
holds the values v with limit[i-1] <= v < limit[i]; limits are +-1e-12 * 1.1**k and 0).
"""

import subprocess
import sys

import numpy as np
import pytest

import graphc as tf
from graphc.errors import GraphcError, InvalidArgumentError

pytest.importorskip(
    "tensorboard",
    reason="tensorboard (the reader these tests check event files with) is not installed; "
    "the dev extra installs it",
)
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto.summary_pb2 import Summary

TARGETS = ["numpy", "cpu"]
BATCHES = [
    np.array([0.5, -1.0, 2.0], np.float32),
    np.array([3.0, 0.0, -0.25, 7.5], np.float32),
    np.array([-2.0, 1e-3], np.float32),
]


def read(logdir) -> EventAccumulator:
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def check_histogram(histo, values: np.ndarray) -> None:
    v = values.astype(np.float64)
    assert histo.num == v.size
    assert (histo.min, histo.max) == (v.min(), v.max())
    np.testing.assert_allclose([histo.sum, histo.sum_squares], [v.sum(), v @ v], rtol=1e-12)
    limits = np.asarray(histo.bucket_limit)
    nonzero = np.abs(limits[limits != 0])
    k = np.log(nonzero / 1e-12) / np.log(1.1)
    np.testing.assert_allclose(k, np.round(k), atol=1e-6)  # TF1's bucket limits
    want = np.bincount(np.searchsorted(limits, v, side="right"), minlength=limits.size)
    np.testing.assert_array_equal(histo.bucket, want[: limits.size])


@pytest.mark.parametrize("target", TARGETS)
def test_scalars_and_histograms_over_steps_read_back_by_tensorboard(target, tmp_path):
    x = tf.placeholder(tf.float32, [None], name="x")
    loss = tf.reduce_mean(tf.square(x))
    tf.summary.scalar("loss", loss)
    tf.summary.scalar("max", tf.reduce_max(x), family="stats")
    tf.summary.histogram("values", x)
    merged = tf.summary.merge_all()
    with (
        tf.Session(target=target, cache_dir=tmp_path / "cache") as sess,
        tf.summary.FileWriter(tmp_path / "logs", sess.graph, flush_secs=1) as writer,
    ):
        for step, batch in enumerate(BATCHES):
            writer.add_summary(sess.run(merged, {x: batch}), global_step=10 * step)
    acc = read(tmp_path / "logs")
    assert acc.Tags()["scalars"] == ["loss", "stats/stats/max"]  # TF1's family tag
    assert acc.Tags()["histograms"] == ["values"]
    losses = acc.Scalars("loss")
    assert [e.step for e in losses] == [0, 10, 20]
    np.testing.assert_allclose([e.value for e in losses], [np.mean(b**2) for b in BATCHES])
    maxima = [e.value for e in acc.Scalars("stats/stats/max")]
    np.testing.assert_allclose(maxima, [b.max() for b in BATCHES])
    histograms = acc.Histograms("values")
    assert [e.step for e in histograms] == [0, 10, 20]
    for event, batch in zip(histograms, BATCHES, strict=True):
        check_histogram(event.histogram_value, batch)


@pytest.mark.parametrize("target", TARGETS)
def test_merge_concatenates_summaries_and_make_callable_serializes_them(target, tmp_path):
    x = tf.placeholder(tf.float64, [2])
    a = tf.summary.scalar("a", x[0])
    b = tf.summary.scalar("b", x[1], collections=["mine"])
    both = tf.summary.merge([a, b])
    assert tf.summary.merge_all() is not None and tf.get_collection("mine") == [b]
    with tf.Session(target=target, cache_dir=tmp_path) as sess:
        run = sess.make_callable({"both": both, "sum": x[0] + x[1]}, [x])
        out = run(np.array([1.5, -4.0]))
        solo = sess.run(a, {x: [2.0, 3.0]})
        assert a.eval({x: [7.0, 0.0]}) == sess.run(a, {x: [7.0, 0.0]})
    assert out["sum"] == -2.5
    parsed = Summary.FromString(out["both"])  # bytes of two Summaries parse as one
    assert [(v.tag, v.simple_value) for v in parsed.value] == [("a", 1.5), ("b", -4.0)]
    assert [(v.tag, v.simple_value) for v in Summary.FromString(solo).value] == [("a", 2.0)]


def test_tags_and_names_follow_tf1_summary_scope():
    x = tf.constant(1.0, name="loss")
    first = tf.summary.scalar("loss", x)  # the op name "loss" is taken: TF1 gives loss_1
    with tf.name_scope("train"):
        scoped = tf.summary.scalar("acc", x)
        family = tf.summary.histogram("w", x, family="weights")
    odd = tf.summary.scalar("a b:c", x)
    assert [s.tag for s in (first, scoped, family, odd)] == [
        "loss_1",
        "train/acc",
        "weights/train/weights/w",
        "a_b_c",
    ]
    assert first.name == "loss_1:0"
    assert tf.constant(2.0, name="train/acc").op.name == "train/acc_1"  # the name is reserved
    assert tf.get_collection(tf.GraphKeys.SUMMARIES) == [first, scoped, family, odd]
    assert tf.get_collection(tf.GraphKeys.SUMMARIES, scope="train") == [scoped, family]
    assert tf.summary.merge_all().name == "Merge/MergeSummary:0"
    assert tf.summary.merge_all(key="nothing here") is None  # TF1: None for no summaries


def test_graph_is_written_with_op_names_types_and_inputs(tmp_path):
    x = tf.placeholder(tf.float32, [3], name="x")
    w = tf.Variable(tf.ones([3]), name="w")
    with tf.control_dependencies([w.initializer]):
        y = tf.reduce_sum(x * w, name="y")
    tf.no_op(name="done")
    with tf.summary.FileWriter(tmp_path) as writer:
        writer.add_graph(tf.get_default_graph())
    nodes = {n.name: n for n in read(tmp_path).Graph().node}
    ops = tf.get_default_graph().get_operations()
    assert list(nodes) == [op.name for op in ops]
    assert (nodes["y"].op, nodes["x"].op) == (y.op.type, "Placeholder")
    want = [n.op.name for n in y.op.inputs] + [f"^{w.initializer.name}"]
    assert list(nodes["y"].input) == want
    # dtypes and static shapes, as TF writes them (TensorBoard labels edges with them)
    shape = nodes["x"].attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [3] and nodes["x"].attr["T"].type == 1  # DT_FLOAT
    assert nodes["y"].attr["_output_shapes"].list.shape[0].dim == []  # a scalar
    assert "_output_shapes" not in nodes["done"].attr  # an op without output


def test_graph_shapes_keep_unknown_dims_and_ranks(tmp_path):
    x = tf.placeholder(tf.int64, [None, 2], name="x")
    tf.placeholder(tf.float32, None, name="anything")
    tf.reduce_max(x, name="m")
    with tf.summary.FileWriter(tmp_path, graph=tf.get_default_graph()):
        pass
    nodes = {n.name: n for n in read(tmp_path).Graph().node}
    assert [d.size for d in nodes["x"].attr["_output_shapes"].list.shape[0].dim] == [-1, 2]
    assert nodes["x"].attr["T"].type == 9  # DT_INT64
    assert nodes["anything"].attr["_output_shapes"].list.shape[0].unknown_rank


def test_bad_values_fail_as_in_tf1(tmp_path):
    x = tf.placeholder(tf.float32, None)
    with pytest.raises(InvalidArgumentError, match="scalar"):
        tf.summary.scalar("v", tf.zeros([2]))
    with pytest.raises(GraphcError, match="is an op, not a tensor"):
        tf.summary.histogram("op", tf.no_op())
    with pytest.raises(InvalidArgumentError, match="op without output"):
        tf.summary.histogram("op", tf.no_op().node)
    hist = tf.summary.histogram("h", x)
    unknown = tf.summary.scalar("s", x)
    with pytest.raises(TypeError, match="summaries"):
        tf.summary.merge([hist, x])
    with tf.Session(target="numpy") as sess:
        with pytest.raises(InvalidArgumentError, match="Nan in summary histogram for: h"):
            sess.run(hist, {x: [1.0, np.nan]})
        with pytest.raises(InvalidArgumentError, match="not the same shape"):
            sess.run(unknown, {x: [1.0, 2.0]})


def test_file_writer_cache_shares_one_writer_per_logdir(tmp_path):
    writer = tf.summary.FileWriterCache.get(tmp_path)
    assert tf.summary.FileWriterCache.get(str(tmp_path)) is writer
    assert writer.get_logdir() == str(tmp_path)
    tf.summary.FileWriterCache.clear()
    assert read(tmp_path).Tags()["graph"]  # made with the default graph, as TF1's


def test_missing_tensorboardx_raises_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # what an absent package gives
    for name in [m for m in sys.modules if m.startswith("tensorboardX.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r"pip install graphc\[tensorboard\]"):
        tf.summary.scalar("loss", tf.constant(1.0))
    with pytest.raises(ImportError, match=r"pip install graphc\[tensorboard\]"):
        tf.summary.FileWriter("unused")


def test_importing_graphc_does_not_import_tensorboardx():
    code = "import sys, graphc; assert 'tensorboardX' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
