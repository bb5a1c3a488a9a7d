"""Golden source: the generated module of two programs, compared byte for byte with files.

The files under tests/golden/ are what a reader of `executable.source` sees; a change to
the emitter shows up here as a diff to review. The same programs are also run and checked
against the NumPy reference target, so a golden file is known to compute the right values,
not merely to be unchanged. After an intended change, rewrite the files with

    GRAPHC_UPDATE_GOLDEN=1 pytest tests/test_golden_source.py

and review `git diff tests/golden`.
"""

import difflib
import itertools
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import graphc as tf

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("GRAPHC_UPDATE_GOLDEN") == "1"


def assert_matches_golden(name: str, source: str) -> None:
    """`source` equals tests/golden/`name` byte for byte (or rewrites it under UPDATE)."""
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(source, newline="")
        return
    want = ""  # a missing file: the whole source shows as added
    if path.exists():
        with open(path, newline="") as f:
            want = f.read()
    if source == want:
        return
    diff = difflib.unified_diff(
        want.splitlines(keepends=True),
        source.splitlines(keepends=True),
        fromfile=f"tests/golden/{name}",
        tofile="generated",
    )
    pytest.fail(
        f"the generated source differs from tests/golden/{name}:\n{''.join(diff)}\n"
        "If the change is intended, regenerate the file with\n"
        "    GRAPHC_UPDATE_GOLDEN=1 pytest tests/test_golden_source.py\n"
        "and review the diff.",
        pytrace=False,
    )


# ---- the programs ------------------------------------------------------------------------------
def _mlp(graph: tf.Graph) -> SimpleNamespace:
    """Two dense layers, sparse softmax cross-entropy, one Adam step."""
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        y = tf.placeholder(tf.int32, [None], name="y")
        w1 = tf.Variable(tf.random_normal([4, 8], seed=1), name="w1")
        b1 = tf.Variable(tf.zeros([8]), name="b1")
        w2 = tf.Variable(tf.random_normal([8, 3], seed=2), name="w2")
        b2 = tf.Variable(tf.zeros([3]), name="b2")
        h = tf.nn.relu(tf.matmul(x, w1) + b1)
        logits = tf.matmul(h, w2) + b2
        per_row = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        loss = tf.reduce_mean(per_row)
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
        init = tf.global_variables_initializer()
    return SimpleNamespace(
        graph=graph,
        init=init,
        fetches=[loss, train],
        feeds=[x, y],
        variables=[w1, b1, w2, b2],
        values=[
            np.array([[0.5, -1.0, 2.0, 0.0], [1.5, 0.25, -0.5, 1.0], [0.0, 0.0, 1.0, -2.0]]),
            np.array([0, 2, 1]),
        ],
    )


def _kernel(graph: tf.Graph) -> SimpleNamespace:
    """One fused kernel: tanh(a * b + c) - a, with b and c broadcast, and two reductions of it."""
    with graph.as_default():
        a = tf.placeholder(tf.float32, [None, 3], name="a")
        b = tf.placeholder(tf.float32, [3], name="b")  # broadcast along the rows
        c = tf.placeholder(tf.float32, [None, 1], name="c")  # a size-1 axis, stretched
        d = tf.subtract(tf.tanh(a * b + c), a, name="d")
        rows = tf.reduce_sum(d, axis=1, name="rows")
        total = tf.reduce_sum(d, name="total")
    return SimpleNamespace(
        graph=graph,
        init=None,
        fetches=[d, rows, total],
        feeds=[a, b, c],
        variables=[],
        values=[
            np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]]),
            np.array([1.0, 2.0, -0.5]),
            np.array([[0.1], [-3.0]]),
        ],
    )


def _cond(graph: tf.Graph) -> SimpleNamespace:
    """A tf.cond training switch (batch mean and its moving average, or the moving
    average alone), then one gradient-descent step through the branch taken."""
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        training = tf.placeholder(tf.bool, [], name="training")
        w = tf.Variable(tf.random_normal([3, 2], seed=3), name="w")
        moving = tf.Variable(tf.zeros([2]), trainable=False, name="moving")
        h = tf.matmul(x, w, name="h")

        def batch_mean():
            mean = tf.reduce_mean(h, axis=0, name="mean")
            with tf.control_dependencies([tf.assign(moving, 0.9 * moving + 0.1 * mean)]):
                return h - mean

        y = tf.cond(training, batch_mean, lambda: h - moving, name="normalize")
        loss = tf.reduce_mean(tf.square(y - 1.0), name="loss")
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        init = tf.global_variables_initializer()
    return SimpleNamespace(
        graph=graph,
        init=init,
        fetches=[loss, train],
        feeds=[x, training],
        variables=[w, moving],
        values=[np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 1.0], [2.0, 0.5, -1.0]]), np.array(True)],
    )


PROGRAMS = {"mlp_adam_step": _mlp, "fused_kernel": _kernel, "cond_step": _cond}


def _session(program: SimpleNamespace, cache_dir: Path | None, target: str) -> tf.Session:
    sess = tf.Session(program.graph, cache_dir=cache_dir, target=target)
    if program.init is not None:
        sess.run(program.init)
    return sess


def _feeds(program: SimpleNamespace) -> list[np.ndarray]:
    return [np.asarray(v, f.dtype.np) for v, f in zip(program.values, program.feeds, strict=True)]


@pytest.fixture(scope="module", params=list(PROGRAMS), ids=list(PROGRAMS))
def compiled(request, tmp_path_factory):
    """The program, its compiled session and executable (not yet run): built once."""
    program = PROGRAMS[request.param](tf.Graph())
    program.name = request.param
    program.sess = _session(program, tmp_path_factory.mktemp("golden_cache"), target="cpu")
    program.step = program.sess.make_callable(program.fetches, program.feeds)
    yield program
    program.sess.close()


# ---- the tests ---------------------------------------------------------------------------------
def test_source_matches_golden_file(compiled):
    assert_matches_golden(f"{compiled.name}.py.txt", compiled.step.source)


CUDA_PROGRAMS = ["mlp_adam_step", "fused_kernel"]


def cuda_source(program: SimpleNamespace) -> str:
    """The cuda target's module for the program (numba alone: as on the simulator), made
    without a GPU (tests/cuda runs it there against the reference)."""
    from graphc.backends.cpu import build_program
    from graphc.codegen.cuda import generate
    from graphc.executable import lower
    from graphc.graph import as_op_node
    from graphc.ir import Operation

    targets = [(as_op_node(f), isinstance(f, Operation)) for f in program.fetches]
    step = lower(targets, [as_op_node(f) for f in program.feeds], None)
    return generate(build_program(step)).source


@pytest.mark.parametrize("name", CUDA_PROGRAMS)
def test_cuda_source_matches_golden_file(name):
    assert_matches_golden(f"cuda_{name}.py.txt", cuda_source(PROGRAMS[name](tf.Graph())))


def test_every_comment_heads_code(compiled):
    """A node's comment is written only above code it emitted (not above a bare name)."""
    lines = compiled.step.source.splitlines()
    body = lines[lines.index('    """') + 1 :]  # after step's docstring
    for line, following in itertools.pairwise(body):
        if line.startswith("    # ") and not following.startswith("    #     "):  # not wrapped
            assert following.startswith("    ") and not following.lstrip().startswith("#"), line


@pytest.mark.compiled
def test_golden_code_computes_what_the_reference_does(compiled):
    program, sess, step = compiled, compiled.sess, compiled.step
    reference = _session(program, None, target="numpy")
    want_step = reference.make_callable(program.fetches, program.feeds)
    variables = program.variables  # fetched together: one compiled step, not one per variable
    for got, want in zip(sess.run(variables), reference.run(variables), strict=True):
        np.testing.assert_array_equal(got, want)  # the same start (seeded initializers)
    feeds = _feeds(program)
    for _ in range(2):  # the second step sees the first one's variable updates
        got, want = step(*feeds), want_step(*feeds)
        for g, w in zip(got, want, strict=True):
            if w is not None:
                np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-6)
    for got, want in zip(sess.run(variables), reference.run(variables), strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)
    reference.close()
