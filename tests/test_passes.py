"""Each pass on hand-built graphs: expected structure, no-change identity, reports, errors."""

import numpy as np
import pytest
from graph_checks import assert_same_graph, canonical, function

import graphc as tf
import passes
from graphc import reference, viz
from graphc.errors import PassError
from graphc.graph import Graph
from passes.manager import run_pass


@pytest.fixture
def x():
    return tf.placeholder(tf.float32, [None, 3], name="x")


def _ops(graph):
    return [n.opdef.name for n in graph.nodes]


# ---- simplify -----------------------------------------------------------------------------------
def test_simplify_neutral_elements_and_double_negation(x):
    g = function(tf.negative(-((x * 1.0 + 0.0) / 1.0)), tf.identity(x - 0.0), inputs=(x,))
    assert_same_graph(passes.simplify(g), function(x, x, inputs=(x,)))


def test_simplify_keeps_broadcasting_identities(x):
    ones = tf.ones([2, 1, 3])
    g = function(x * ones, inputs=(x,))  # the result has a new leading axis: not x
    assert passes.simplify(g) is g


def test_simplify_float_times_zero_is_kept_but_integer_is_folded(x):
    g = function(x * 0.0, inputs=(x,))
    assert passes.simplify(g) is g  # inf * 0 and nan * 0 are nan
    i = tf.placeholder(tf.int32, [4])
    out = passes.simplify(function(i * 0, inputs=(i,)))
    assert _ops(out)[-1] == "zeros_like"


def test_simplify_transposes_and_reshapes():
    m = tf.placeholder(tf.float32, [2, 3, 4], name="m")
    twice = tf.transpose(tf.transpose(m, [1, 2, 0]), [2, 0, 1])
    composed = tf.transpose(tf.transpose(m, [1, 0, 2]), [0, 2, 1])
    chain = tf.reshape(tf.reshape(m, [6, 4]), [24])
    g = passes.simplify(function(twice, composed, chain, inputs=(m,)))
    expected = function(m, tf.transpose(m, [1, 2, 0]), tf.reshape(m, [24]), inputs=(m,))
    assert_same_graph(g, expected)


def test_simplify_log_softmax_is_stable(x):
    out = tf.log(tf.nn.softmax(x))
    g = passes.simplify(function(out, inputs=(x,)))
    assert "divide" not in _ops(g)
    big = np.array([[0.0, 1000.0, -1000.0]], np.float32)
    (value,) = reference.evaluate(list(g.outputs), {x: big})
    assert np.isfinite(value).all()
    np.testing.assert_allclose(value, [[-1000.0, 0.0, -2000.0]])


def test_simplify_log_sigmoid(x):
    g = passes.simplify(function(tf.log(tf.sigmoid(x)), inputs=(x,)))
    assert "sigmoid" not in _ops(g)
    values = np.array([[-200.0, 0.0, 30.0]], np.float32)
    (value,) = reference.evaluate(list(g.outputs), {x: values})
    np.testing.assert_allclose(value, [[-200.0, np.log(0.5), -np.exp(-30.0)]], rtol=1e-6)


# ---- constant folding ---------------------------------------------------------------------------
def test_fold_constants(x):
    five = tf.constant(2.0) + tf.constant(3.0)
    g = passes.constant_folding(function(x * five, tf.shape(tf.ones([2, 3])), inputs=(x,)))
    consts = [n for n in g.nodes if n.opdef.name == "const"]
    assert sorted(float(np.sum(c.attrs["value"].array)) for c in consts) == [5.0, 5.0]
    assert _ops(g).count("multiply") == 1


def test_gradient_seed_no_longer_waits_for_the_loss(x):
    loss = tf.reduce_sum(tf.sin(x))
    (g,) = tf.gradients(loss, x)
    folded = passes.constant_folding(function(g, inputs=(x,)))
    assert "reduce_sum" not in _ops(passes.dce(folded))  # ones_like(loss) became a constant
    optimized, _ = tf.optimize(g, [x])
    (kernel,) = [n.attrs["kernel"] for n in optimized.nodes if n.opdef.name == "fused"]
    assert "Sum" not in kernel.ops  # the loss's own sum (its gradient's ops are Sum_grad/...)


def test_fold_never_touches_random_ops_or_huge_results(x):
    noise = tf.random_normal([3]) + 1.0
    big = tf.broadcast_to(tf.constant(1.0), [300, 300])
    g = function(noise, big, inputs=(x,))
    assert passes.constant_folding(g) is g


# ---- CSE ----------------------------------------------------------------------------------------
def test_cse_merges_equal_nodes_including_commutative_ones(x):
    y = tf.placeholder(tf.float32, [None, 3], name="y")
    g = function(tf.exp(x) * (x + y), tf.exp(x) - (y + x), inputs=(x, y))
    out = passes.cse(g)
    assert _ops(out).count("exp") == 1 and _ops(out).count("add") == 1


def test_cse_never_merges_random_or_assignments():
    v = tf.Variable(1.0)
    a, b = tf.random_normal([2], seed=1), tf.random_normal([2], seed=1)
    g = function(a, b, v.assign(2.0), v.assign(2.0))
    out = passes.cse(g)
    for op in ("random_standard_normal", "assign"):
        assert _ops(out).count(op) == _ops(g).count(op) == 2
    assert _ops(out).count("const") < _ops(g).count("const")  # equal constants do merge


# ---- DCE ----------------------------------------------------------------------------------------
def test_dce_drops_control_edges_to_pure_nodes(x):
    pure = tf.exp(x)
    v = tf.Variable(np.zeros(3, np.float32))
    write = v.assign([1.0, 2.0, 3.0])
    with tf.control_dependencies([pure, write]):
        out = tf.no_op()
    g = passes.dce(function(out.node, inputs=(x,)))
    assert [c.opdef.name for c in g.outputs[0].control_inputs] == ["assign"]
    assert "exp" not in _ops(g)
    assert passes.dce(g) is g


# ---- fusion -------------------------------------------------------------------------------------
def test_fusion_groups_a_chain_and_keeps_needed_intermediates(x):
    a = tf.tanh(x * 2.0)
    b = tf.nn.relu(a + 1.0)
    g = function(b, a, inputs=(x,))
    out = passes.fusion(g)
    (kernel,) = [n.attrs["kernel"] for n in out.nodes if n.opdef.name == "fused"]
    assert [op.split("/")[-1] for op in kernel.ops] == ["Mul", "Tanh", "AddV2", "Relu"]
    assert [o.opdef.name for o in out.outputs] == ["fused_output", "fused_output"]
    feeds = {x: np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)}
    for got, want in zip(
        reference.evaluate(list(out.outputs), feeds),
        reference.evaluate(list(g.outputs), feeds),
        strict=True,
    ):
        np.testing.assert_allclose(got, want)


def test_fusion_is_convex(x):
    w = tf.placeholder(tf.float32, [3, 3], name="w")
    a = tf.exp(x)
    c = a + tf.matmul(a, w)  # joining a's group would route a -> matmul -> c around it
    out = passes.fusion(function(c, inputs=(x, w)))
    assert "fused" not in _ops(out)


def test_fusion_never_fuses_two_groups_into_a_cycle():
    # Found by test_fuzz: groups {a1, a2} and {b1, b2} are each convex, but a1 -> n -> b2 and
    # b1 -> m -> a2 make them depend on each other once contracted.
    p = tf.placeholder(tf.float64, [2, 2], name="p")
    q = tf.placeholder(tf.float64, [2, 2], name="q")
    w = tf.constant(np.eye(2) * 0.5)
    a1, b1 = tf.exp(p), tf.sin(q)
    n, m = tf.matmul(a1, w), tf.matmul(b1, w)
    a2, b2 = a1 + m, b1 * n
    g = function(a2, b2, inputs=(p, q))
    out = passes.fusion(g)
    out.verify()
    assert _ops(out).count("fused") == 1
    feeds = {p: np.arange(4.0).reshape(2, 2), q: np.ones((2, 2))}
    for got, want in zip(
        reference.evaluate(list(out.outputs), feeds),
        reference.evaluate(list(g.outputs), feeds),
        strict=True,
    ):
        np.testing.assert_allclose(got, want)


def test_fusion_takes_a_reduction_of_the_group_but_not_its_users(x):
    e = tf.exp(x)
    total = tf.reduce_sum(e * x)
    softmax = e / tf.reduce_sum(e, 1, keepdims=True)  # needs the sum after the loop
    out = passes.fusion(function(total, softmax, inputs=(x,)))
    kernels = [n.attrs["kernel"] for n in out.nodes if n.opdef.name == "fused"]
    first = [op.split("/")[-1] for op in kernels[0].ops]
    assert first == ["Exp", "Mul", "Sum", "Sum_1"]
    assert all("RealDiv" not in op for op in kernels[0].ops)


def test_fusion_never_crosses_control_edges(x):
    a = tf.exp(x)
    with tf.control_dependencies([a]):
        b = tf.sin(a)
    assert passes.fusion(function(b, inputs=(x,))).outputs[0] is b


def test_dense_layer_bias_and_activation_are_the_matmul_epilogue(x, tmp_path):
    w = tf.Variable(np.full((3, 4), 0.5, np.float32))
    b = tf.Variable(np.arange(4, dtype=np.float32) - 2)
    dense = tf.nn.relu(tf.matmul(x, w) + b)
    g, report = tf.optimize(dense, [x])
    (kernel,) = [n.attrs["kernel"] for n in g.nodes if n.opdef.name == "fused"]
    assert kernel.epilogue == (0, 0)
    assert any("epilogue of MatMul" in c for c in report.changes("fusion"))
    with tf.Session(cache_dir=tmp_path) as sess:
        sess.run(tf.global_variables_initializer())
        step = sess.make_callable(dense, [x])
        got = step(np.ones((2, 3), np.float32))
    assert "written in place" in step.source
    np.testing.assert_allclose(got, np.maximum(1.5 + np.arange(4) - 2, 0)[None].repeat(2, 0))


def test_conv_bias_and_relu_are_the_convolutions_epilogue(tmp_path):
    image = tf.placeholder(tf.float32, [None, 5, 5, 2], name="image")
    w = tf.constant(np.linspace(-1, 1, 3 * 3 * 2 * 4, dtype=np.float32).reshape(3, 3, 2, 4))
    bias = np.array([0.5, -0.5, 0.0, 1.0], np.float32)
    b = tf.constant(bias)
    conv = tf.nn.conv2d(image, w, [1, 1, 1, 1], "SAME")
    out = tf.nn.relu(conv + b)
    g, report = tf.optimize(out, [image])
    (kernel,) = [n.attrs["kernel"] for n in g.nodes if n.opdef.name == "fused"]
    assert kernel.epilogue == (0, 0)
    assert any("epilogue of Conv2D" in c for c in report.changes("fusion"))
    feed = np.random.default_rng(0).standard_normal((2, 5, 5, 2)).astype(np.float32)
    with tf.Session(cache_dir=tmp_path) as sess:
        step = sess.make_callable(out, [image])
        got = step(feed)
    assert "written in place" in step.source
    with tf.Session(target="numpy") as sess:
        want_conv = sess.run(conv, {image: feed})
    np.testing.assert_allclose(got, np.maximum(want_conv + bias, 0), rtol=1e-5)


def test_nothing_to_fuse_returns_the_same_graph(x):
    g = function(tf.reduce_sum(x), inputs=(x,))
    assert passes.fusion(g) is g


def test_optimized_text_shows_kernels_with_member_ops(x):
    g, _ = tf.optimize(tf.nn.relu(x * 2.0 + 1.0), [x])
    text = g.as_text()
    assert "fused[kernel=fused<3 ops>] x" in text
    assert "Relu: f32[?,3] = relu AddV2" in text and text.count("{") == 2


# ---- pipeline and reports -----------------------------------------------------------------------
def _mlp_step():
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 8], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    w1 = tf.Variable(tf.random_normal([8, 16], stddev=0.1), name="w1")
    b1 = tf.Variable(tf.zeros([16]), name="b1")
    w2 = tf.Variable(tf.random_normal([16, 4], stddev=0.1), name="w2")
    logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.AdamOptimizer(0.01).minimize(loss)
    return x, y, loss, train


def test_report_records_every_pass_with_provenance():
    x, y, loss, train = _mlp_step()
    _, report = tf.optimize([train, loss], [x, y])
    assert [r.name for r in report.records][:4] == ["simplify", "constant_folding", "cse", "dce"]
    assert report.records[-1].name == "fusion"
    assert any(c.startswith("folded Adam/") for c in report.changes("constant_folding"))
    assert any(c.startswith("merged ") for c in report.changes("cse"))
    assert any(
        c.startswith("fused ") and " ops into kernel " in c for c in report.changes("fusion")
    )
    assert report.records[0].nodes_before > report.records[-1].nodes_after
    assert "fusion" in str(report) and "ms" in str(report)


def test_cse_shrinks_the_gradient_graph_of_a_softmax_mlp():
    x = tf.placeholder(tf.float32, [None, 8], name="x")
    labels = tf.placeholder(tf.float32, [None, 4], name="labels")
    w = tf.Variable(np.ones((8, 4), np.float32) / 8, name="w")
    logits = tf.matmul(x, w)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    probabilities = tf.nn.softmax(logits)  # recomputes the max, exp and sum of the loss
    train = tf.train.AdamOptimizer(0.1).minimize(loss)
    graph = Graph.from_outputs([train.node, loss, probabilities], [x, labels])
    after = passes.cse(graph)
    assert len(after.nodes) < len(graph.nodes)
    assert _ops(graph).count("exp") == 2 and _ops(after).count("exp") == 1
    assert _ops(graph).count("reduce_max") == 2 and _ops(after).count("reduce_max") == 1
    feeds = {x: np.eye(2, 8, dtype=np.float32), labels: np.eye(2, 4, dtype=np.float32)}
    state = {w: np.ones((8, 4), np.float32) / 8}
    for got, want in zip(
        reference.evaluate(list(after.outputs[1:]), feeds, state),
        reference.evaluate(list(graph.outputs[1:]), feeds, state),
        strict=True,
    ):
        np.testing.assert_allclose(got, want)


def test_mlp_step_compiles_to_far_fewer_loops_than_elementwise_ops(tmp_path):
    x, y, loss, train = _mlp_step()
    graph = Graph.from_outputs([train.node, loss], [x, y])
    elementwise = sum(
        n.opdef.fusion.value == "elementwise" and n.type.shape != () for n in graph.nodes
    )
    with tf.Session(cache_dir=tmp_path) as sess:
        step = sess.make_callable([train, loss], [x, y])
    body = step.source.split("def step(")[1]
    loops = [line for line in body.splitlines() if line.startswith("    for ")]
    assert len(step.kernels) >= 3
    assert len(loops) * 3 <= elementwise, (len(loops), elementwise)


def test_a_user_pass_that_raises_is_named():
    x = tf.placeholder(tf.float32, [2])

    def explode(graph):
        raise RuntimeError("boom")

    with pytest.raises(
        PassError, match=r"pass 'explode' failed: boom \(passes before it: simplify\)"
    ):
        tf.optimize(x * 2.0, [x], passes=[passes.simplify, explode])


def test_a_user_pass_returning_an_invalid_graph_is_named_with_what_verify_found(tmp_path):
    import dataclasses

    x = tf.placeholder(tf.float32, [2])
    y = tf.exp(x)

    def corrupt(graph):
        bad = dataclasses.replace(graph.outputs[0], type=tf.placeholder(tf.float64, [2]).type)
        return Graph.from_outputs([bad], graph.inputs)

    with tf.Session(passes=[corrupt], cache_dir=tmp_path) as sess:
        with pytest.raises(
            PassError, match=r"pass 'corrupt' failed: .*has type f64\[2\], inferred f32\[2\]"
        ):
            sess.run(y, {x: [1.0, 2.0]})
        sess.passes = None  # the session stays usable
        np.testing.assert_allclose(sess.run(y, {x: [0.0, 1.0]}), [1.0, np.e], rtol=1e-6)


def test_empty_pass_list_compiles_the_graph_as_written(tmp_path):
    x = tf.placeholder(tf.float32, [None])
    out = tf.exp(x) * 1.0 + 2.0
    with tf.Session(passes=[], cache_dir=tmp_path) as sess:
        step = sess.make_callable(out, [x])
        np.testing.assert_allclose(step(np.zeros(2, np.float32)), [3.0, 3.0])
    assert step.kernels == [] and len(step.report.records) == 0
    assert canonical(step.graph) == canonical(function(out, inputs=(x,)))


def test_executable_inspection(tmp_path):
    x, y, loss, train = _mlp_step()
    with tf.Session(cache_dir=tmp_path) as sess:
        step = sess.make_callable([train, loss], [x, y])
    assert step.graph.outputs[1].dtype == tf.float32
    kernel = step.kernels[0]
    assert kernel.name.startswith("fused") and all(isinstance(op, str) for op in kernel.ops)
    dot = step.to_dot()
    assert dot.startswith("digraph graphc {") and dot.rstrip().endswith("}")
    assert f'"{kernel.name}" [label="{kernel.name}\\nFused' in dot
    assert f'fillcolor="{viz.FILL["kernel"]}"' in dot
    assert (
        f"# kernel {kernel.name} ({len(kernel.ops)} ops, one loop): {kernel.ops[0]}" in step.source
    )
    assert f"# {kernel.name}: () = fused" not in step.source  # one header per kernel


def test_debug_prints_ir_report_and_source(tmp_path, capsys):
    x = tf.placeholder(tf.float32, [None], name="x")
    with tf.Session(debug=True, cache_dir=tmp_path) as sess:
        sess.run(tf.exp(x) + 1.0, {x: [0.0]})
    err = capsys.readouterr().err
    assert "graph(x: f32[?])" in err and "def step(" in err and "fusion" in err


# ---- details that mutation testing found unpinned (docs/testing.md) ---------------------------
NO_OPS = {  # op -> attrs of an instance that changes nothing (pass_through removes it)
    "identity": {},
    "stop_gradient": {},
    "cast": {"dtype": tf.float32},
    "broadcast_to": {"shape": (2, 3)},
    "reduce_sum": {"axis": (), "keepdims": False},
    "reduce_max": {"axis": (), "keepdims": False},
    "reduce_min": {"axis": (), "keepdims": False},
    "reduce_prod": {"axis": (), "keepdims": False},
}


@pytest.mark.parametrize("op", [*NO_OPS, "broadcast_like", "sum_to_like"])
def test_simplify_removes_each_no_op(op):
    from graphc.ops import REGISTRY

    m = tf.placeholder(tf.float32, [2, 3], name="m")
    args = (m, m) if op in ("broadcast_like", "sum_to_like") else (m,)
    node = REGISTRY[op](*args, **NO_OPS.get(op, {}))
    report = passes.Report()
    graph = run_pass("simplify", passes.simplify, function(node, inputs=(m,)), report, [])
    assert graph.outputs == (m,), f"no-op {op} was kept"
    assert report.changes() == [f"no-op {op}: {node.op_name} -> m"]


def test_simplify_rewrites_keep_the_rewritten_node_name():
    v = tf.placeholder(tf.float32, [None, 3], name="v")
    outer = tf.reshape(tf.reshape(v, [-1]), [-1, 1, 3], name="outer")
    logp = tf.log(tf.nn.softmax(v), name="logp")
    flip = tf.transpose(
        tf.transpose(tf.placeholder(tf.float32, [2, 3, 4]), [1, 2, 0]), [1, 0, 2], name="flip"
    )
    logsig = tf.log(tf.sigmoid(v), name="logsig")
    size = tf.size(tf.tanh(v), name="size")
    graph = passes.simplify(function(outer, logp, flip, logsig, size, inputs=(v,)))
    new_outer, new_logp, new_flip, new_logsig, new_size = graph.outputs
    assert [new_flip.op_name, new_logsig.op_name, new_size.op_name] == [
        "flip_1",
        "logsig_1",
        "size_1",
    ]
    # a fresh node named after the one it replaces (outer_1), not outer/reshape
    assert new_outer.op_name == "outer_1" and new_outer.inputs == (v,)
    assert new_outer.attrs["shape"] == (-1, 1, 3)  # the unknown dim becomes -1
    assert new_logp.op_name == "logp_1" and new_logp.opdef.name == "subtract"
    assert new_flip.opdef.name == "transpose" and new_flip.attrs["perm"] == (2, 1, 0)
    value = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    (got,) = reference.evaluate([new_outer], {v: value})
    np.testing.assert_array_equal(got, value.reshape(2, 1, 3))


@pytest.mark.parametrize("query", ["shape", "size", "reduced_size"])
def test_simplify_moves_shape_queries_above_elementwise_ops(query, x):
    from graphc.ops.reduce import reduced_size

    f = tf.tanh(x)
    build = {"shape": tf.shape, "size": tf.size, "reduced_size": None}[query]
    node = build(f) if build else reduced_size(f, axis=(0,), dtype=tf.float32)
    graph = passes.simplify(function(node, inputs=(x,)))
    (out,) = graph.outputs
    assert out.opdef.name == query and out.inputs == (x,), f"{query} still reads tanh"


def test_report_text_columns_and_details_lines(x):
    g = function(tf.negative(tf.negative(x, name="n1"), name="n2"), inputs=(x,))
    _, report = passes.optimize(g)
    lines = str(report).splitlines()
    assert lines[0] == "pass                  round  nodes before -> after  changes  time"
    first = report.records[0]
    assert lines[1].split() == [
        first.name,
        str(first.round),
        str(first.nodes_before),
        "->",
        str(first.nodes_after),
        str(len(first.changes)),
        f"{first.seconds * 1e3:.1f}",
        "ms",
    ]
    details = report.details().splitlines()
    assert details[: len(lines)] == lines
    assert details[len(lines)] == "[simplify, round 0] double negation: n2 -> x"


def test_a_user_pass_returning_a_non_graph_or_other_outputs_is_named(x):
    g = function(x + 1.0, inputs=(x,))
    with pytest.raises(PassError, match=r"pass 'bad' failed: returned int, not a Graph"):
        run_pass("bad", lambda graph: 3, g, passes.Report(), [])
    fewer = function(x, x, inputs=(x,))
    with pytest.raises(PassError, match=r"returned 1 outputs, expected 2 .*before it: none"):
        run_pass("bad", lambda graph: g, fewer, passes.Report(), [])


def test_the_default_pipeline_is_a_value_optimize_runs_and_users_edit(x):
    import dataclasses

    g = function(tf.tanh(x * 1.0) + tf.tanh(x * 1.0), inputs=(x,))
    pipeline = passes.default_pipeline()
    assert str(pipeline) == (
        "Pipeline(simplify, constant_folding, cse, dce to a fixed point (<= 8 rounds), then fusion)"
    )
    by_default, report = passes.optimize(g)
    explicit, explicit_report = passes.optimize(g, pipeline)
    assert canonical(by_default) == canonical(explicit)
    assert [r.name for r in report.records] == [r.name for r in explicit_report.records]
    seen = []
    mine = dataclasses.replace(pipeline, final=(*pipeline.final, ("mine", seen.append)))
    with pytest.raises(PassError, match=r"pass 'mine' failed: returned NoneType"):
        passes.optimize(g, mine)  # runs after fusion, on the fused graph
    assert len(seen) == 1 and "fused" in _ops(seen[0])
    once, once_report = passes.optimize(g, [passes.cse])  # a list runs once, in order
    assert [r.name for r in once_report.records] == ["eliminate_common_subexpressions"]
    assert _ops(once).count("tanh") == 1
    _, compiled_report = tf.optimize([g.outputs[0]], [x], passes=mine.final[:1])
    assert [r.name for r in compiled_report.records] == ["fusion"]


# ---- changes are return values: GraphPass, user passes, no state kept between runs -------------
def _one_change_per_pass(x):
    """For each built-in pass: a graph it changes once, and the change line it reports."""
    six = tf.multiply(tf.constant(2.0), tf.constant(3.0), name="six")
    a = tf.exp(x, name="a")
    with tf.control_dependencies([a]):
        b = tf.sin(x, name="b")
    return {
        "simplify": (
            tf.negative(tf.negative(x, name="n1"), name="n2"),
            ["double negation: n2 -> x"],
        ),
        "constant_folding": (x * six, ["folded six (Mul) into a constant"]),
        "cse": (tf.exp(x, name="e1") + tf.exp(x, name="e2"), ["merged e2 with e1"]),
        "dce": (b, ["b no longer waits for a (no side effects)", "removed 1 dead nodes"]),
        "fusion": (tf.nn.relu(x * 2.0 + 1.0), None),  # None: the line names the kernel's ops
    }


@pytest.mark.parametrize("name", ["simplify", "constant_folding", "cse", "dce", "fusion"])
def test_a_built_in_pass_apply_returns_the_graph_and_its_changes(name, x):
    node, expected = _one_change_per_pass(x)[name]
    graph_pass = getattr(passes, name)
    assert isinstance(graph_pass, passes.GraphPass)
    g = function(node, inputs=(x,))
    out, changes = graph_pass.apply(g)
    if expected is None:
        (kernel,) = [n.attrs["kernel"] for n in out.nodes if n.opdef.name == "fused"]
        expected = [f"fused 3 ops into kernel {kernel.name}: {', '.join(kernel.ops)}"]
    assert changes == expected
    assert canonical(graph_pass(g)) == canonical(out)  # called: the same graph, no changes
    again, none = graph_pass.apply(out)
    assert again is out and none == []  # no change: the same object and no change lines


def test_a_plain_user_pass_runs_in_a_list_or_a_pipeline_and_reports_counts_only(x):
    g = function(tf.exp(x, name="e1") * tf.exp(x, name="e2"), inputs=(x,))

    def merge_twins(graph):  # a plain Graph -> Graph function (calling a GraphPass gives one)
        return passes.cse(graph)

    _, report = passes.optimize(g, [merge_twins])
    (record,) = report.records
    assert (record.name, record.nodes_before, record.nodes_after) == ("merge_twins", 4, 3)
    assert record.changes == [] and report.changes() == []
    pipeline = passes.Pipeline(final=(("twins", merge_twins), ("fusion", passes.fusion)))
    optimized, report = tf.optimize(g.outputs[0], [x], passes=pipeline)
    assert [(r.name, r.nodes_before, r.nodes_after) for r in report.records] == [
        ("twins", 4, 3),
        ("fusion", 3, 3),
    ]
    assert report.changes("twins") == [] and len(report.changes("fusion")) == 1
    assert _ops(optimized) == ["placeholder", "fused", "fused_output"]


def test_a_user_graph_pass_reports_its_own_change_lines(x):
    @passes.graph_pass
    def count_twins(graph):
        out = passes.cse(graph)
        return out, [f"{len(graph.nodes) - len(out.nodes)} twins merged"]

    g = function(tf.exp(x) + tf.exp(x), inputs=(x,))
    assert count_twins.name == "count_twins" and len(count_twins(g).nodes) == 3
    _, report = passes.optimize(g, [count_twins])
    assert report.changes("count_twins") == ["1 twins merged"]
    with pytest.raises(PassError, match=r"pass 'bad' failed: reported changes that are not"):
        passes.optimize(g, [passes.GraphPass("bad", lambda graph: (graph, "one line"))])


def test_an_optimize_inside_a_pass_keeps_both_reports_separate(x):
    y = tf.placeholder(tf.float32, [2], name="y")
    inner_fetch = tf.exp(y, name="f1") + tf.exp(y, name="f2")
    inner_reports = []

    def optimize_another_graph(graph):
        inner_reports.append(tf.optimize(inner_fetch, [y])[1])
        return graph

    twice_negated = tf.negative(tf.negative(x, name="n1"), name="n2")
    g = function(twice_negated * tf.exp(x, name="e1") + tf.exp(x, name="e2"), inputs=(x,))
    pipeline = [passes.simplify, optimize_another_graph, passes.cse]
    _, outer = passes.optimize(g, pipeline)
    assert [(r.name, r.changes) for r in outer.records] == [
        ("simplify", ["double negation: n2 -> x"]),
        ("optimize_another_graph", []),
        ("eliminate_common_subexpressions", ["merged e2 with e1"]),
    ]
    (inner,) = inner_reports
    assert inner.changes("cse") == ["merged f2 with f1"]
    assert not any(name in line for line in inner.changes() for name in ("n2", "e2"))


def test_rewrites_running_at_the_same_time_keep_their_own_changes():
    import threading

    both_inside = threading.Barrier(2, timeout=30)

    def skip_identity(node):
        # identity(x) -> x, once the other thread is inside its own rewrite too
        if node.opdef.name != "identity":
            return None
        both_inside.wait()
        return node.inputs[0]

    def skipping(graph):
        return passes.rewrite_with_changes(graph, skip_identity)

    graphs = {}
    for tag in ("a", "b"):
        p = tf.placeholder(tf.float32, [2], name=f"{tag}_x")
        graphs[tag] = function(tf.identity(p, name=f"{tag}_id"), inputs=(p,))
    reports = {}

    def run(tag):
        reports[tag] = passes.optimize(graphs[tag], [passes.GraphPass("skip", skipping)])[1]

    threads = [threading.Thread(target=run, args=(tag,)) for tag in graphs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for tag in graphs:  # the driver names a rule's change when the rule returns a bare node
        assert reports[tag].changes("skip") == [f"skip_identity: {tag}_id -> {tag}_x"]


def _assigned_at_top_level(module):
    """The names a module's own top-level assignments bind (not what it imports)."""
    import ast
    import inspect

    names = []
    for statement in ast.parse(inspect.getsource(module)).body:
        if isinstance(statement, ast.Assign):
            names += [t.id for t in statement.targets if isinstance(t, ast.Name)]
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names.append(statement.target.id)
    return [n for n in names if not n.startswith("__")]


def test_the_passes_modules_keep_no_mutable_state():
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(passes.__path__):
        module = importlib.import_module(f"passes.{info.name}")
        mutable = [
            name
            for name in _assigned_at_top_level(module)
            if isinstance(getattr(module, name), list | dict | set | bytearray)
        ]
        assert mutable == [], f"passes.{info.name} keeps {mutable} between runs"
