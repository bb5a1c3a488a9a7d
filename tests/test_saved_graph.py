"""Saved graphs (graphc.saved_graph): `graph.save` / `graphc.load_graph`, TF1's
`export_meta_graph` / `import_meta_graph`, and files that are damaged or hostile.

Oracles: the original graph itself (a loaded graph computes the same losses, on both
targets, and holds the same names, sites and collections), a checkpoint of the original
restored into the loaded graph, and the error each bad file must give.
"""

import json

import numpy as np
import pytest

import graphc as tf
from graphc.errors import DataLossError, GraphcError
from graphc.saver import read_arrays, write_arrays


def _model():
    """A small classifier with a variable scope, a dropout cond on a fed flag, a random
    draw, a schedule and Adam; its graph and the names to run it by."""
    tf.set_random_seed(3)
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    training = tf.placeholder_with_default(False, [], name="training")
    with tf.variable_scope("dense"):
        w = tf.get_variable("w", [4, 3], initializer=tf.glorot_uniform_initializer(seed=1))
        b = tf.get_variable("b", [3], initializer=tf.zeros_initializer())
    h = tf.layers.dropout(tf.matmul(x, w) + b, rate=0.3, training=training)
    loss = tf.losses.sparse_softmax_cross_entropy(y, h)
    step = tf.train.get_or_create_global_step()
    rate = tf.train.exponential_decay(0.1, step, 2, 0.5, name="rate")
    tf.summary.scalar("loss", loss)
    train = tf.train.AdamOptimizer(rate).minimize(loss, global_step=step)
    tf.add_to_collection("train_op", train)
    return tf.get_default_graph()


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(6, 4)).astype(np.float32), rng.integers(0, 3, 6)


def _losses(graph, target, steps=4, sess_setup=None):
    xv, yv = _data()
    with graph.as_default(), tf.Session(graph=graph, target=target) as sess:
        if sess_setup is None:
            sess.run(tf.global_variables_initializer())
        else:
            sess_setup(sess)
        feed = {"x:0": xv, "y:0": yv, "training:0": True}
        run = [graph.get_collection("train_op")[0], "sparse_softmax_cross_entropy_loss/value:0"]
        return [sess.run(run, feed)[1] for _ in range(steps)]


@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_a_loaded_graph_computes_what_the_original_did(target, tmp_path):
    graph = _model()
    path = graph.save(tmp_path / "model.graphc")
    loaded = tf.load_graph(path)
    assert [n.op_name for n in loaded.nodes] == [n.op_name for n in graph.nodes]
    assert [n.site for n in loaded.nodes] == [n.site for n in graph.nodes]
    assert [str(n.type) for n in loaded.nodes] == [str(n.type) for n in graph.nodes]
    for key in graph.get_all_collection_keys():
        names = [getattr(i, "name", i) for i in graph.get_collection(key)]
        assert [getattr(i, "name", i) for i in loaded.get_collection(key)] == names, key
    assert loaded.seed == graph.seed == 3
    np.testing.assert_allclose(_losses(loaded, target), _losses(graph, target), rtol=1e-6)


def test_a_checkpoint_of_the_original_restores_into_the_loaded_graph(tmp_path):
    graph = _model()
    xv, yv = _data()
    with tf.Session(graph=graph, target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(
                graph.get_collection("train_op")[0], {"x:0": xv, "y:0": yv, "training:0": True}
            )
        saved = tf.train.Saver().save(sess, str(tmp_path / "ckpt"))
        want = _losses(graph, "numpy", sess_setup=lambda s: tf.train.Saver().restore(s, saved))
    tf.train.export_meta_graph(str(tmp_path / "model.meta"))
    tf.reset_default_graph()
    saver = tf.train.import_meta_graph(str(tmp_path / "model.meta"))  # TF1's spelling
    graph = tf.get_default_graph()
    got = _losses(graph, "numpy", sess_setup=lambda s: saver.restore(s, saved))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # new ops in the loaded graph get fresh names
    assert tf.identity(graph.get_tensor_by_name("x:0"), name="x").name == "x_1:0"


def test_loading_into_a_graph_keeps_what_it_had(tmp_path):
    with tf.Graph().as_default() as other:
        tf.Variable(1.0, name="first")
        other.seed = 7
        path = other.save(tmp_path / "other.graphc")
    with tf.Graph().as_default() as graph:
        tf.Variable(2.0, name="mine")
        graph.seed = 11
        tf.load_graph(path, graph)
        names = [v.op.name for v in tf.global_variables()]
    assert names == ["mine", "first"] and graph.seed == 11


def test_saving_writes_one_file_atomically_and_refuses_what_it_cannot_store(tmp_path):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.exp(x) * 2.0
    with tf.Session(cache_dir=tmp_path / "cache") as sess:
        exe = sess.make_callable(y, [x])
    with pytest.raises(GraphcError, match="attribute 'kernel' holds a Kernel"):
        exe.graph.save(tmp_path / "optimized.graphc")  # fused kernels are not stored
    assert not (tmp_path / "optimized.graphc").exists()
    path = tf.get_default_graph().save(tmp_path / "g.graphc")
    assert sorted(read_arrays(path)) == ["c0", "graph"]  # the structure and the constant 2.0
    with pytest.raises(GraphcError, match="has an op named 'x'"):
        tf.load_graph(path, tf.get_default_graph())  # into a graph holding the same names


def _rewrite(path, change):
    """The saved graph at `path` with its JSON changed by `change(doc)` (or its arrays
    by `change(doc, arrays)`), written back."""
    arrays = read_arrays(str(path))
    doc = json.loads(arrays["graph"].tobytes())
    change(doc, arrays)
    arrays["graph"] = np.frombuffer(json.dumps(doc).encode(), np.uint8)
    with open(path, "wb") as f:
        write_arrays(f, arrays)


def _set(path_in_doc, value):
    def change(doc, arrays):
        target = doc
        for key in path_in_doc[:-1]:
            target = target[key]
        target[path_in_doc[-1]] = value

    return change


def _node_index(doc, name):
    return next(k for k, n in enumerate(doc["nodes"]) if n["name"] == name)


BAD = [
    ("a newer format", _set(["version"], 2), "format version 2.*upgrade graphc"),
    ("another format", _set(["format"], "onnx"), "is not a saved graph"),
    ("an unknown op", lambda d, a: d["nodes"][1].update(op="os_system"), "unknown op 'os_system'"),
    (
        "an input from a later node",
        lambda d, a: d["nodes"][_node_index(d, "Exp")].update(inputs=[len(d["nodes"]) - 1]),
        "is not an earlier node",
    ),
    (
        "a shape its op does not give",
        lambda d, a: d["nodes"][_node_index(d, "Exp")]["type"].update(shape=[None, 4]),
        r"\(Exp\): the stored type",
    ),
    (
        "an attribute of an unknown kind",
        lambda d, a: d["nodes"][0]["attrs"].update(dtype={"pickle": "x"}),
        "bad attribute value",
    ),
    (
        "a constant that is not in the file",
        lambda d, a: a.pop("c0"),
        "bad attribute value",
    ),
    (
        "a constant of another shape",
        lambda d, a: a.update(c0=np.zeros((2, 2), np.float32)),
        r"\(Const\): the stored type",
    ),
    ("collections of the wrong kind", _set(["collections"], []), "'collections' is not an object"),
    ("a bad seed", _set(["seed"], "1; rm -rf /"), "bad seed"),
]


@pytest.mark.parametrize("change", [b[1] for b in BAD], ids=[b[0] for b in BAD])
def test_a_damaged_or_hostile_file_is_refused_naming_the_problem(change, tmp_path):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    tf.multiply(tf.exp(x), np.float32(2.0), name="mul")
    path = tf.get_default_graph().save(tmp_path / "g.graphc")
    tf.load_graph(path)  # the file as written loads
    _rewrite(path, change)
    words = next(b[2] for b in BAD if b[1] is change)
    with pytest.raises(DataLossError, match=words):
        tf.load_graph(path)


def test_files_that_are_not_saved_graphs_are_refused(tmp_path):
    junk = tmp_path / "junk.graphc"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(DataLossError, match=r"saved graph .* is not a readable \.npz"):
        tf.load_graph(junk)
    arrays = tmp_path / "arrays.npz"
    with open(arrays, "wb") as f:
        write_arrays(f, {"w": np.ones(3)})
    with pytest.raises(DataLossError, match="is not a saved graph"):
        tf.load_graph(arrays)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, graph=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(DataLossError, match="pickle"):
        tf.load_graph(pickled)
    with pytest.raises(OSError):
        tf.load_graph(tmp_path / "missing.graphc")
