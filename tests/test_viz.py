"""Pictures (graphc.viz): DOT that parses and holds the scopes, styles and links it
promises; the backprop view's numbers against values computed directly with sess.run on
the gradient tensors; the HTML page's boxes and details; rendering through Graphviz;
the `viz` command.

Oracles: pydot's parser for DOT, NumPy on fetched values and gradients, TF1's naming
of gradient ops (`gradients/<op>_grad/...`), and hand-counted boxes.
"""

import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pydot
import pytest

import graphc as tf
from graphc import viz
from graphc.cli import main
from graphc.errors import GraphcError

# pydot's parser calls pyparsing names that pyparsing 3.2 deprecates
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _mlp():
    """A two-layer model in name scopes, its loss, a training op, a variable the loss does
    not use and one it reaches only through an integer cast; feeds."""
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [None, 6], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    with tf.name_scope("hidden"):
        w1 = tf.Variable(rng.normal(0, 0.5, (6, 5)).astype(np.float32), name="w")
        b1 = tf.Variable(np.full(5, 0.1, np.float32), name="b")
        h = tf.nn.relu(tf.matmul(x, w1) + b1)
    with tf.name_scope("out"):
        w2 = tf.Variable(rng.normal(0, 0.5, (5, 3)).astype(np.float32), name="w")
        logits = tf.matmul(h, w2)
    tf.Variable(np.ones(2, np.float32), name="unused")
    rounded = tf.Variable(np.full(3, 0.6, np.float32), name="rounded")
    shift = tf.cast(tf.cast(rounded, tf.int32), tf.float32, name="to_int_and_back")
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits + shift)
    )
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    feeds = {x: rng.normal(size=(4, 6)).astype(np.float32), y: np.array([0, 1, 2, 1])}
    return loss, train, feeds, h


def _parse(dot):
    (graph,) = pydot.graph_from_dot_data(dot)
    return graph


def _fill(node):
    return (node.get("fillcolor") or "").strip('"')


def _all_nodes(g):
    out = {n.get_name().strip('"'): n for n in g.get_nodes()}
    for sub in g.get_subgraphs():
        out.update(_all_nodes(sub))
    return out


def _clusters(g, prefix=""):
    out = []
    for sub in g.get_subgraphs():
        out.append(sub.get_name().strip('"'))
        out += _clusters(sub)
    return out


def test_forward_op_follows_tf1_gradient_names():
    assert viz.forward_op("gradients/dense/MatMul_grad/MatMul") == "dense/MatMul"
    assert viz.forward_op("gradients_2/Relu_grad/ReluGrad") == "Relu"
    assert viz.forward_op("gradients/AddN") is None  # a sum of two paths: no one op
    assert viz.forward_op("dense/MatMul") is None
    assert viz.forward_op("my_gradients/Relu_grad/x") is None


def test_dot_parses_with_scopes_as_clusters_and_gradients_linked_to_their_op():
    _mlp()
    dot = viz.to_dot(tf.get_default_graph())
    g = _parse(dot)
    nodes = _all_nodes(g)
    graph = tf.get_default_graph()
    assert set(nodes) >= {op.name for op in graph.get_operations()}
    clusters = _clusters(g)
    assert {"cluster_hidden", "cluster_out", "cluster_gradients"} <= set(clusters)
    assert "cluster_gradients/hidden/MatMul_grad" in clusters  # nested scopes nest
    grad = nodes["gradients/hidden/MatMul_grad/MatMul"]
    assert _fill(grad) == viz.FILL["gradient"]
    assert _fill(nodes["hidden/MatMul"]) == viz.FILL["forward"]
    links = [
        (e.get_source().strip('"'), e.get_destination().strip('"'))
        for e in g.get_edges()
        if e.get("style") == "dotted"
    ]
    assert ("gradients/hidden/MatMul_grad/MatMul", "hidden/MatMul") in links
    # data edges carry the tensor's type
    typed = {
        (e.get_source().strip('"'), e.get_destination().strip('"')): e.get("label")
        for e in g.get_edges()
    }
    assert typed[("hidden/MatMul", "hidden/AddV2")].strip('"') == "f32[?,5]"
    assert viz.to_dot(tf.get_default_graph()) == dot  # the same bytes again


def test_a_collapsed_scope_is_one_box_and_fetches_cut_the_picture():
    loss, _, _, _ = _mlp()
    g = _parse(viz.to_dot(tf.get_default_graph(), collapse=["gradients"]))
    names = set(_all_nodes(g))
    assert "gradients" in names and not any(n.startswith("gradients/") for n in names)
    label = _all_nodes(g)["gradients"].get("label")
    count = sum(
        1 for op in tf.get_default_graph().get_operations() if op.name.startswith("gradients/")
    )
    assert f"(collapsed: {count} ops)" in label
    only = set(_all_nodes(_parse(viz.to_dot(tf.get_default_graph(), fetches=loss))))
    assert "hidden/MatMul" in only and not any(n.startswith("gradients") for n in only)


def test_an_optimized_step_shows_kernels_with_their_ops_and_folded_constants(tmp_path):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    scale = tf.constant(2.0) * tf.constant(3.0)  # folded by the passes
    y = tf.exp(x * scale) + 1.0
    with tf.Session(cache_dir=tmp_path) as sess:
        exe = sess.make_callable(y, [x])
    g = _parse(viz.to_dot(exe))
    nodes = _all_nodes(g)
    kernel = exe.kernels[0]
    kernels = [n for n in nodes.values() if _fill(n) == viz.FILL["kernel"]]
    assert [n.get_name().strip('"') for n in kernels] == [kernel.name]
    # a box around the kernel and the list of the ops it computes
    (box,) = [c for c in g.get_subgraphs() if "cluster_kernel_" in c.get_name()]
    inside = {n.get_name().strip('"'): n for n in box.get_nodes()}
    assert set(inside) == {kernel.name, f"{kernel.name}::ops"}
    assert inside[f"{kernel.name}::ops"].get("label").strip('"').split("\\n") == list(kernel.ops)
    assert any("(folded constant)" in (n.get("label") or "") for n in nodes.values())
    page = viz.to_html(exe)
    details = _page_data(page)
    kernel = next(d for d in details.values() if d["kind"] == "kernel")
    assert "exp" in kernel["code"] and kernel["kernel ops"] == list(exe.kernels[0].ops)


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.boxes, self.scripts, self.external = 0, [], []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "g" and attrs.get("class") == "box":
            self.boxes += 1
        if tag == "script":
            self._in_script = True
            if "src" in attrs:
                self.external.append(attrs["src"])
        if tag == "link":
            self.external.append(attrs.get("href"))

    def handle_endtag(self, tag):
        self._in_script = tag != "script" and self._in_script

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _page_data(page):
    parser = _Page()
    parser.feed(page)
    script = "".join(parser.scripts)
    return json.loads(re.search(r"const DATA = (\{.*?\});\n", script, re.S).group(1))


def test_the_html_page_is_self_contained_with_a_box_and_details_per_op():
    _mlp()
    graph = tf.get_default_graph()
    page = viz.to_html(graph)
    parser = _Page()
    parser.feed(page)
    ops = graph.get_operations()
    assert parser.boxes == len(ops) and not parser.external
    data = _page_data(page)
    by_name = {d["name"]: d for d in data.values()}
    assert set(by_name) == {op.name for op in ops}
    matmul = by_name["hidden/MatMul"]
    assert matmul["op"] == "MatMul" and matmul["type"] == "f32[?,5]"
    assert matmul["line"].startswith("test_viz.py:") or "test_viz.py:" in matmul["line"]
    assert by_name["gradients/hidden/MatMul_grad/MatMul"]["differentiates"] == "hidden/MatMul"
    assert viz.to_html(graph) == page


@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_backprop_view_numbers_are_the_values_and_gradients_sess_run_gives(target, tmp_path):
    loss, train, feeds, h = _mlp()
    graph = tf.get_default_graph()
    (dh,) = tf.gradients(loss, [h])
    w1 = next(v for v in tf.trainable_variables() if v.op.name == "hidden/w")
    (dw1,) = tf.gradients(loss, [w1])
    with tf.Session(target=target, cache_dir=tmp_path) as sess:
        sess.run(tf.global_variables_initializer())
        h_value, dh_value, w_before, dw_value, loss_value = sess.run([h, dh, w1, dw1, loss], feeds)
        view = viz.backprop(sess, loss, feeds, tmp_path / "view.html", train_op=train)
        w_after = sess.run(w1)
    stats = {b.name: b.stats for b in view.picture.boxes if b.stats}
    s = stats[h.op.name]
    np.testing.assert_allclose(
        [s["mean"], s["std"], s["min"], s["max"]],
        [h_value.mean(), h_value.std(), h_value.min(), h_value.max()],
        rtol=1e-5,
        atol=1e-7,
    )
    np.testing.assert_allclose(s["grad_norm"], np.linalg.norm(dh_value), rtol=1e-5)
    np.testing.assert_allclose(s["grad_max"], np.abs(dh_value).max(), rtol=1e-5)
    sw = stats["hidden/w"]
    np.testing.assert_allclose(sw["grad_norm"], np.linalg.norm(dw_value), rtol=1e-5)
    ratio = np.linalg.norm(w_after - w_before) / np.linalg.norm(w_before)
    np.testing.assert_allclose(sw["update_ratio"], ratio, rtol=1e-5)
    np.testing.assert_allclose(
        sw["update_ratio"], 0.5 * np.linalg.norm(dw_value) / np.linalg.norm(w_before), rtol=1e-4
    )
    assert view.loss == pytest.approx(float(loss_value), rel=1e-6)
    # the variables without a gradient, and where the path to the loss is cut
    assert view.no_gradient == {"unused": [], "rounded": ["to_int_and_back"]}
    text = view.text()
    assert "NO GRADIENT: unused (the loss does not use it)" in text
    assert "NO GRADIENT: rounded (cut by to_int_and_back)" in text
    boxes = {b.name: b for b in view.picture.boxes}
    assert boxes["rounded"].stats["no_gradient"]
    # arrows coloured by the gradient at their source, on a log scale from 0 to 1
    levels = [a.level for a in view.picture.arrows if a.level is not None]
    assert levels and min(levels) >= 0.0 and max(levels) <= 1.0
    assert (tmp_path / "view.html").read_text().count('class="box"') == len(view.picture.boxes)
    assert graph is tf.get_default_graph()


def test_render_writes_each_format_and_names_what_is_missing(tmp_path, monkeypatch):
    _mlp()
    graph = tf.get_default_graph()
    svg = viz.render(graph, tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "hidden/MatMul" in svg
    assert viz.render(graph, tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert viz.render(graph, tmp_path / "g.dot").read_text() == viz.to_dot(graph)
    with pytest.raises(GraphcError, match=r"use \.dot, \.html, \.svg, \.png or \.pdf"):
        viz.render(graph, tmp_path / "g.jpeg")
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    with pytest.raises(GraphcError, match="install Graphviz"):
        viz.render(graph, tmp_path / "h.svg")
    assert not (tmp_path / "h.svg").exists()
    with pytest.raises(GraphcError, match="expected a Graph, Session or Executable"):
        viz.to_dot(42)


def test_the_viz_command_draws_a_name_from_a_script(tmp_path, capsys):
    script = tmp_path / "model.py"
    script.write_text(
        "import graphc as tf\n"
        "x = tf.placeholder(tf.float32, [None, 2], name='x')\n"
        "with tf.name_scope('layer'):\n"
        "    y = tf.nn.relu(x * 2.0)\n"
        "graph = tf.get_default_graph()\n"
    )
    out = tmp_path / "model.dot"
    assert main(["viz", f"{script}:y", "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert "cluster_layer" in out.read_text()
    assert main(["viz", f"{script}:nothing", "-o", str(out)]) == 1
    assert "defines no 'nothing'" in capsys.readouterr().err
    done = subprocess.run(
        [sys.executable, "-m", "graphc", "viz", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--collapse" in done.stdout


def test_sessions_executables_and_graphs_say_what_they_are(tmp_path):
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    u = tf.placeholder(tf.float32, None, name="u")
    y = tf.reduce_sum(x * 2.0, name="total")
    assert repr(tf.get_default_graph()) == "<graphc.Graph with 5 ops>"
    with tf.Session(target="numpy") as sess:
        assert repr(sess) == "<graphc.Session target='numpy' graph=<graphc.Graph with 5 ops> open>"
        step = sess.make_callable(y, [x])
        assert repr(step) == "<graphc.Executable target='numpy' fetches=[total] feeds=[x]>"
    assert repr(sess).endswith(" closed>")
    with tf.Session(cache_dir=tmp_path) as sess:
        ranked = sess.make_callable(tf.multiply(u, 2.0, name="Mul_1"), [u])  # compiled per rank
        assert repr(ranked) == "<graphc.Executable compiled per rank on its first call feeds=[u]>"
        ranked(np.ones(3, np.float32))
        assert repr(ranked) == "<graphc.Executable target='cpu' fetches=[Mul_1] feeds=[u]>"
    fetches = [tf.identity(x, name=f"i{k}") for k in range(6)]
    with tf.Session(target="numpy") as sess:
        many = sess.make_callable(fetches, [x])
        assert "fetches=[i0, i1, i2, i3, +2]" in repr(many)
    assert "Attributes:" in tf.Executable.__doc__ and "kernels:" in tf.Executable.__doc__


def test_the_page_in_headless_chromium_draws_every_box_and_shows_a_clicked_one(tmp_path):
    """The page's script run by a real browser: Chromium loads it with a link to one box
    (`#select=NAME` dispatches a click on it) and dumps the resulting DOM."""
    _mlp()
    graph = tf.get_default_graph()
    page = viz.render(graph, tmp_path / "graph.html")
    url = page.resolve().as_uri() + "#select=gradients/hidden/MatMul_grad/MatMul"
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert dom.count('class="box"') == len(graph.get_operations())
    details = re.search(r'<pre id="details">(.*?)</pre>', dom, re.S).group(1)
    shown = json.loads(html.unescape(details))
    assert shown["name"] == "gradients/hidden/MatMul_grad/MatMul"
    assert shown["differentiates"] == "hidden/MatMul" and shown["kind"] == "gradient"
    assert "test_viz.py:" in shown["line"]


def test_the_tangent_view_shows_each_tensors_derivative_along_a_direction(tmp_path):
    x = tf.placeholder(tf.float64, [3], name="x")
    with tf.name_scope("f"):
        s = tf.sin(x)
        y = tf.reduce_sum(s * s)
    xv, dv = np.array([0.1, 0.5, 2.0]), np.array([1.0, -2.0, 0.5])
    with tf.Session(target="numpy") as sess:
        view = viz.tangents(sess, y, [x], [dv], {x: xv}, tmp_path / "t.dot")
    stats = {b.name: b.stats for b in view.picture.boxes}
    ds = np.cos(xv) * dv  # d sin(x) along dv, by hand
    np.testing.assert_allclose(stats["f/Sin"]["tangent_norm"], np.linalg.norm(ds))
    np.testing.assert_allclose(stats["f/Sin"]["tangent_max"], np.abs(ds).max())
    dy = np.sum(2 * np.sin(xv) * ds)
    np.testing.assert_allclose(stats["f/Sum"]["tangent_norm"], abs(dy))
    assert view.loss == pytest.approx(np.sum(np.sin(xv) ** 2))
    assert "|tangent|" in view.text() and "output mean" in view.text()
    assert "|tangent|" in (tmp_path / "t.dot").read_text()
    assert any(a.level is not None for a in view.picture.arrows)


def test_the_viz_command_draws_optimized_graphs_and_backprop_views(tmp_path, capsys):
    script = tmp_path / "model.py"
    script.write_text(
        "import numpy as np\n"
        "import graphc as tf\n"
        "x = tf.placeholder(tf.float32, [None, 2], name='x')\n"
        "w = tf.Variable(np.full((2, 1), 0.5, np.float32), name='w')\n"
        "frozen = tf.Variable(np.ones(1, np.float32), name='frozen')\n"
        "y = tf.nn.relu(tf.matmul(x, w) * 2.0) + tf.stop_gradient(frozen)\n"
        "loss = tf.reduce_mean(tf.exp(y), name='loss')\n"
        "graph = tf.get_default_graph()\n"
    )
    feeds = tmp_path / "feeds.npz"
    xv = np.array([[1.0, 2.0], [0.5, -1.0]], np.float32)
    np.savez(feeds, x=xv)
    out = tmp_path / "view.txt"
    assert main(["viz", f"{script}:loss", "-o", str(out), "--backprop", str(feeds)]) == 0
    text = out.read_text()
    assert "NO GRADIENT: frozen (cut by StopGradient)" in text
    want = np.mean(np.exp(np.maximum(xv @ np.full((2, 1), 0.5), 0) * 2 + 1))
    assert f"loss = {want:.6g}" in text
    dot = tmp_path / "opt.dot"
    assert main(["viz", f"{script}:loss", "-o", str(dot), "--optimized"]) == 0
    assert viz.FILL["kernel"] in dot.read_text()  # the fused kernels of the passes
    capsys.readouterr()
    assert main(["viz", f"{script}:graph", "-o", str(out), "--backprop", str(feeds)]) == 1
    assert "name the loss" in capsys.readouterr().err
    saved = tmp_path / "model.graphc"
    namespace = {}
    with tf.Graph().as_default() as g:
        exec(compile(script.read_text(), str(script), "exec"), namespace)
        g.save(saved)
    args = ["viz", str(saved), "-o", str(out), "--backprop", str(feeds), "--loss", "loss"]
    assert main(args) == 0 and "NO GRADIENT: frozen" in out.read_text()
