"""Exported steps: a package that runs in a process where `import graphc` fails.

Oracle: the Session that exported the step, continuing from the same state (variable
values and random generator states), gives the numbers the exported package gives.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graphc as tf
from graphc.errors import FailedPreconditionError, GraphcError

pytestmark = pytest.mark.compiled

XS = np.random.RandomState(0).randn(6, 4).astype(np.float32)
YS = np.array([0, 1, 2, 1, 0, 2], np.int32)


def _build():
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.placeholder(tf.int32, [None], name="y")
    w = tf.Variable(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), name="w")
    b = tf.Variable(np.float32(0.5), name="b")  # a rank-0 variable
    h = tf.nn.dropout(tf.matmul(x, w), keep_prob=0.75, seed=3)  # a random draw each step
    h = tf.Print(h, [b], "b is ", first_n=1)
    logits = h + b + tf.constant(np.arange(3, dtype=np.float32))  # an array constant
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    return x, y, loss, train


def _run_alone(folder, body):
    """Runs `body` in a fresh Python in which `import graphc` fails; returns its stdout."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["graphc"] = None
        sys.path.insert(0, {str(folder)!r})
        import numpy as np
        """
    ) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A step trained twice, then exported; and what the session computes next."""
    folder = tmp_path_factory.mktemp("exported")
    graph = tf.Graph()
    with graph.as_default():
        x, y, loss, train = _build()
        init = tf.global_variables_initializer()
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        step = sess.make_callable([loss, train], [x, y])
        step(XS, YS)
        step(XS, YS)
        path = step.export(folder / "digits_step")
        want = [float(step(XS, YS)[0]) for _ in range(3)]
        variables = {v.op.name: sess.run(v) for v in tf.global_variables()}
    return path, want, variables


def test_the_exported_step_continues_exactly_where_the_session_was(exported):
    path, want, variables = exported
    out, err = _run_alone(
        path.parent,
        f"""
        import digits_step
        step = digits_step.load()
        xs = np.array({XS.tolist()}, np.float32)
        ys = np.array({YS.tolist()})  # int64: converted to the feed's int32
        losses = [float(step(xs, ys)[0]) for _ in range(3)]
        print(repr(losses))
        print(repr({{k: v.tolist() for k, v in step.variables.items()}}))
        print(digits_step._step.step.stats.cache_hits)  # loaded, not compiled
        """,
    )
    lines = out.splitlines()
    assert eval(lines[0]) == want  # the same float32 arithmetic, bit for bit
    got = eval(lines[1])
    assert set(got) == set(variables)
    for name, value in variables.items():
        np.testing.assert_array_equal(np.asarray(got[name], np.float32), value)
    assert lines[2] != "Counter()"
    assert err.count("b is [") == 1  # the print op runs from the package: once (first_n=1)


def test_the_package_holds_what_the_loader_needs(exported):
    path, _, _ = exported
    names = sorted(p.name for p in path.iterdir())
    assert names == [
        "__init__.py",
        "__pycache__",
        "_step.py",
        "constants.npz",
        "fastmath.py",  # the step's softmax calls its float32 exp
        "printer.py",
        "spec.json",
        "variables.npz",
    ]
    spec = json.loads((path / "spec.json").read_text())
    assert [f["name"] for f in spec["feeds"]] == ["x:0", "y:0"]
    assert spec["feeds"][0] == {"name": "x:0", "dtype": "float32", "shape": [None, 4]}
    assert [t["name"] for t in spec["targets"]] == ["Mean:0", "Adam/update"]
    step = (path / "_step.py").read_text()
    assert "from .printer import emit" in step and "from .fastmath import exp32" in step
    assert "graphc" not in (path / "__init__.py").read_text().split('"""')[2]  # the code


def test_the_loader_checks_feeds_and_run_time_sizes_and_saves_variables(exported, tmp_path):
    path, _, _ = exported
    out, _ = _run_alone(
        path.parent,
        f"""
        import digits_step
        step = digits_step.load()
        before = {{k: v.copy() for k, v in step.variables.items()}}
        for bad in (np.zeros((6, 5)), np.zeros(4)):
            try:
                step(bad, np.zeros(6, np.int32))
            except ValueError as exc:
                print(exc)
        try:
            step(np.zeros((6, 4)), np.array([0, 1, 2, 3, 0, 0]))  # label 3 of 3 classes
        except ValueError as exc:
            print(exc)
        print(all((before[k] == v).all() for k, v in step.variables.items()))
        step.save_variables({str(tmp_path / "saved.npz")!r})
        again = digits_step.load({str(tmp_path / "saved.npz")!r})
        print(all((again.variables[k] == v).all() for k, v in step.variables.items()))
        """,
    )
    lines = out.splitlines()
    assert lines[0] == "feed 'x:0' takes shape [None, 4] (None: any), got [6, 5]"
    assert lines[1] == "feed 'x:0' takes shape [None, 4] (None: any), got [4]"
    assert "label 3 is not in [0, 3)" in lines[2] and "test_export.py" in lines[2]
    assert lines[3:] == ["True", "True"]  # a failed run changes no variable


def test_export_refuses_what_it_cannot_write(tmp_path):
    x, y, loss, train = _build()
    with tf.Session() as sess:
        step = sess.make_callable([loss, train], [x, y])
        with pytest.raises(FailedPreconditionError, match="variable 'w' has no value yet"):
            step.export(tmp_path / "early")
        sess.run(tf.global_variables_initializer())
        with pytest.raises(GraphcError, match="'not-a-name' is not a Python package name"):
            step.export(tmp_path / "not-a-name")
        (tmp_path / "taken").mkdir()
        with pytest.raises(GraphcError, match="exists"):
            step.export(tmp_path / "taken")
        assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no leftovers
    with (
        tf.Session(target="numpy") as sess,
        pytest.raises(GraphcError, match="export needs a compiled step"),
    ):
        sess.make_callable(loss, [x, y]).export(tmp_path / "interpreted")


def test_the_export_command(tmp_path):
    script = tmp_path / "make.py"
    script.write_text(
        textwrap.dedent(
            """
            import numpy as np
            import graphc as tf

            def make_step():
                x = tf.placeholder(tf.float64, [2], name="x")
                v = tf.Variable(np.array([1.0, 2.0]), name="v")
                add = tf.assign_add(v, x)
                sess = tf.Session()
                sess.run(tf.global_variables_initializer())
                return sess.make_callable(add, [x])
            """
        )
    )
    command = [sys.executable, "-m", "graphc", "export", f"{script}:make_step"]
    done = subprocess.run([*command, str(tmp_path / "adder")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"exported make_step to {tmp_path / 'adder'}\n"
    out, _ = _run_alone(
        tmp_path, "import adder\ns = adder.load()\ns([1.0, 1.0])\nprint(s([0.5, 0.5])[0].tolist())"
    )
    assert out == "[2.5, 3.5]\n"
    done = subprocess.run([*command, str(tmp_path / "adder")], capture_output=True, text=True)
    assert done.returncode == 1 and "exists (pass overwrite=True" in done.stderr
    missing = [sys.executable, "-m", "graphc", "export", f"{script}:nothing", "x"]
    done = subprocess.run(missing, capture_output=True, text=True)
    assert done.returncode == 1 and "defines no 'nothing'" in done.stderr


def test_a_threaded_cnn_step_ships_graphc_blas_and_continues_exactly(tmp_path):
    """A step that convolves splits its work between threads (graphc.codegen.context):
    the package carries graphc.blas and runs the step inside its one_thread()."""
    rng = np.random.default_rng(4)
    xs = rng.standard_normal((5, 6, 6, 2)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 6, 6, 2], name="x")
        w = tf.Variable(rng.standard_normal((3, 3, 2, 4)).astype(np.float32) / 3)
        h = tf.nn.max_pool(tf.nn.relu(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")), *POOL)
        v = tf.Variable(rng.standard_normal((36, 3)).astype(np.float32) / 6)
        loss = tf.reduce_mean(tf.square(tf.matmul(tf.reshape(h, [-1, 36]), v)))
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
        init = tf.global_variables_initializer()
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        step = sess.make_callable([loss, train], [x])
        step(xs)
        path = step.export(tmp_path / "cnn_step")
        want = [float(step(xs)[0]) for _ in range(3)]
    assert (path / "blas.py").exists()
    assert "from .blas import" in (path / "_step.py").read_text()
    out, _ = _run_alone(
        path.parent,
        f"""
        import cnn_step
        step = cnn_step.load()
        xs = np.array({xs.tolist()}, np.float32)
        print(repr([float(step(xs)[0]) for _ in range(3)]))
        """,
    )
    assert eval(out.splitlines()[0]) == want


POOL = ([1, 2, 2, 1], [1, 2, 2, 1], "SAME")
