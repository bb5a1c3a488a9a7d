"""Compiling ahead of the first step, what a compile reports, the cache's size and the CLI.

Oracles: Numba's own record of the signatures a step was compiled for (a call after
`compile()` adds none), the `graphc` logger's records, the files in the cache folder.
"""

import io
import logging
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import graphc as tf
from graphc.codegen import compile as modules
from graphc.errors import GraphcError
from graphc.progress import progress

pytestmark = pytest.mark.compiled


def _model():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    rate = tf.placeholder(tf.float32, [], name="rate")
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2), name="w")
    loss = tf.reduce_sum(tf.matmul(x, w) * rate, name="loss")
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    return x, rate, w, loss, train


def test_compile_then_call_compiles_once_and_reports_through_the_graphc_logger(tmp_path, caplog):
    x, rate, _, loss, train = _model()
    xs = np.ones((4, 3), np.float32)
    with caplog.at_level(logging.INFO, logger="graphc"), tf.Session(cache_dir=tmp_path) as sess:
        step = sess.make_callable([loss, train], [x, rate], compile=True)  # before the init
        assert len(step._fn.signatures) == 1
        sess.run(tf.global_variables_initializer())
        got = step(xs, 2.0)[0]
        assert got == pytest.approx(2.0 * xs.sum(axis=0) @ np.arange(6).reshape(3, 2).sum(1))
        assert len(step._fn.signatures) == 1  # the call found the compiled code
        assert step.compile() is step and len(step._fn.signatures) == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "graphc"]
    assert messages[0].startswith("compiling the step for loss, GradientDescent/update (")
    assert "cache miss: compiled and saved to " + str(tmp_path) in messages[1]
    assert len(messages) == 2  # one compile, no second one at the call
    # a new process finds the compiled code in the cache
    script = f"""
import logging, numpy as np, graphc as tf
logging.basicConfig(level=logging.INFO, format="%(message)s")
x = tf.placeholder(tf.float32, [None, 3], name="x")
rate = tf.placeholder(tf.float32, [], name="rate")
w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2), name="w")
loss = tf.reduce_sum(tf.matmul(x, w) * rate, name="loss")
train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
with tf.Session(cache_dir={str(tmp_path)!r}) as sess:
    sess.make_callable([loss, train], [x, rate]).compile()
"""
    err = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True).stderr
    assert "cache hit: loaded from " + str(tmp_path) in err, err


def test_compile_takes_example_values_for_unshaped_placeholders(tmp_path):
    keep = tf.placeholder(tf.float32)  # unknown rank: compiled per fed rank
    x = tf.placeholder(tf.float32, [2])
    y = x * keep
    with tf.Session(cache_dir=tmp_path) as sess:
        step = sess.make_callable(y, [x, keep])
        with pytest.raises(GraphcError, match="needs an example value for each of its 2 feeds"):
            step.compile()
        assert step.compile(np.zeros(2), 0.5) is step
        assert "def step(" in step.source
        np.testing.assert_array_equal(step([1.0, 2.0], 0.5), [0.5, 1.0])
        with pytest.raises(GraphcError, match="needs an example value"):
            sess.make_callable(y, [x, keep], compile=True)


def test_the_reference_target_has_nothing_to_compile():
    x = tf.placeholder(tf.float32, [2])
    with tf.Session(target="numpy") as sess:
        step = sess.make_callable(x * 2.0, [x], compile=True)
        np.testing.assert_array_equal(step([1.0, 2.0]), [2.0, 4.0])


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_progress_line_only_on_a_terminal_and_only_for_long_work():
    tty = _Terminal()
    with progress("compiling the step", stream=tty, delay=0.05, every=0.02):
        time.sleep(0.2)
    text = tty.getvalue()
    assert text.startswith("\rgraphc: compiling the step... 0 s") and text.endswith("\r\x1b[K")
    quick = _Terminal()
    with progress("compiling", stream=quick, delay=5.0):
        pass
    assert quick.getvalue() == ""
    pipe = io.StringIO()  # not a terminal: nothing, however long
    with progress("compiling", stream=pipe, delay=0.0, every=0.01):
        time.sleep(0.05)
    assert pipe.getvalue() == ""


def _fake_module(root, name, size, age):
    (root / "__pycache__").mkdir(parents=True, exist_ok=True)
    for path in (root / f"{name}.py", root / "__pycache__" / f"{name}.step-1.py311.nbc"):
        path.write_bytes(b"x" * size)
    then = time.time() - age
    os.utime(root / f"{name}.py", (then, then))


def test_the_cache_is_trimmed_least_recently_used_first_and_cleared(tmp_path):
    for k, age in enumerate([300, 100, 200]):
        _fake_module(tmp_path, f"graphc_{k}", 1000, age)
    (tmp_path / "notes.txt").write_text("mine")  # not graphc's: left alone
    info = modules.info(tmp_path)
    assert (info.modules, info.bytes) == (3, 6000)
    assert modules.trim(tmp_path, 4000, keep="graphc_0") == ["graphc_2"]  # 0 is kept
    assert modules.trim(tmp_path, 2000) == ["graphc_0"]
    assert modules.info(tmp_path).modules == 1
    assert modules.clear(tmp_path) == 1
    assert modules.info(tmp_path).bytes == 0
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_cache_commands(tmp_path):
    _fake_module(tmp_path, "graphc_a", 2048, 0)

    def graphc(*args):
        return subprocess.run(
            [sys.executable, "-m", "graphc", *args], capture_output=True, text=True
        )

    out = graphc("cache", "info", "--dir", str(tmp_path))
    assert out.returncode == 0
    assert f"cache folder: {tmp_path}\nmodules: 1, 4.0 KiB\n" in out.stdout
    out = graphc("cache", "clear", "--dir", str(tmp_path))
    assert out.stdout == f"deleted 1 compiled module from {tmp_path}\n"
    assert not list(tmp_path.rglob("graphc_*"))
    assert graphc("cache", "shrink").returncode == 2  # argparse names the choices


def test_import_graphc_leaves_heavy_modules_unimported():
    heavy = "{'numba', 'scipy.special', 'networkx', 'graphc.fastmath'}"  # imported when needed
    code = f"import sys, graphc; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_a_changed_constant_reuses_the_compiled_program(tmp_path):
    """Scalar constants (a learning rate, Adam's betas) are values the step is given, not
    part of its source: a graph that differs only in them finds the compiled module."""

    def one_step(lr, beta1):
        graph = tf.Graph()
        with graph.as_default():
            x = tf.placeholder(tf.float32, [2])
            w = tf.Variable([1.0, 2.0])
            train = tf.train.AdamOptimizer(lr, beta1=beta1).minimize(tf.reduce_sum(w * x))
            init = tf.global_variables_initializer()
        with tf.Session(graph=graph, cache_dir=tmp_path) as sess:
            sess.run(init)
            step = sess.make_callable(train, [x])
            step([1.0, -1.0])
            return step.source, sess.run(w)

    source, w = one_step(0.1, 0.9)
    again, w2 = one_step(0.25, 0.8)
    assert again == source and "0.25" not in source
    # Adam's first step moves each weight by lr against its gradient's sign
    np.testing.assert_allclose(w, [0.9, 2.1], rtol=1e-6)
    np.testing.assert_allclose(w2, [0.75, 2.25], rtol=1e-6)
    assert (tmp_path / f"{modules.module_name(source)}.py").exists()


def _fast_program(columns):
    """A training step no other test compiles (`columns` makes it unique), the reference
    executor's first losses of it, and its feeds and initializer."""
    x = tf.placeholder(tf.float32, [None, columns])
    rate = tf.placeholder(tf.float32, [])
    w = tf.Variable(np.linspace(-1, 1, 2 * columns, dtype=np.float32).reshape(columns, 2))
    loss = tf.reduce_sum(tf.tanh(tf.matmul(x, w)) * rate)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    xs = np.linspace(0, 1, 4 * columns, dtype=np.float32).reshape(4, columns)
    init = tf.global_variables_initializer()
    with tf.Session(target="numpy") as reference:
        reference.run(init)
        want = [reference.run([loss, train], {x: xs, rate: 0.5})[0] for _ in range(4)]
    return (x, rate, loss, train, init, xs), want


def test_fast_start_interprets_while_another_process_compiles(tmp_path, caplog):
    """Session(fast_start=True): with the code not cached, the first run is interpreted
    (the reference executor's own result) and starts nothing; the second starts a child
    process compiling the step; once that is done the step loads its code (a cache hit)
    and goes on from the same variables. With the code cached, it starts compiled."""
    (x, rate, loss, train, init, xs), want = _fast_program(7)
    with (
        caplog.at_level(logging.INFO, logger="graphc"),
        tf.Session(cache_dir=tmp_path, fast_start=True) as sess,
    ):
        sess.run(init)
        step = sess.make_callable([loss, train], [x, rate])
        first = step(xs, 0.5)[0]
        assert step.interpreting and first == want[0]  # the reference's own result
        assert not any("in process" in r.getMessage() for r in caplog.records)
        assert step(xs, 0.5)[0] == want[1]  # interpreted too; a child compiles now
        step.compile()  # waits for the other process, then loads its code
        assert not step.interpreting
        got = [step(xs, 0.5)[0] for _ in range(2)]
    np.testing.assert_allclose(got, want[2:], rtol=1e-6)
    messages = [r.getMessage() for r in caplog.records if r.name == "graphc"]
    assert sum(m.startswith("compiling in process ") for m in messages) == 1  # not the init
    assert "cache hit: loaded from " + str(tmp_path) in messages[-1]
    with tf.Session(cache_dir=tmp_path, fast_start=True) as sess:  # cached now
        sess.run(init)
        step = sess.make_callable([loss, train], [x, rate])
        assert step(xs, 0.5)[0] == pytest.approx(want[0]) and not step.interpreting


def test_fast_start_switches_to_compiled_code_once_the_child_is_done(tmp_path, monkeypatch):
    """...and interprets with NumPy's BLAS on one thread while the child compiles."""
    import contextlib

    from graphc import blas

    held = []

    @contextlib.contextmanager
    def one_thread():
        held.append(step._background is not None and step._background.poll() is None)
        yield

    monkeypatch.setattr(blas, "every_blas_on_one_thread", one_thread)
    (x, rate, loss, train, init, xs), want = _fast_program(5)
    with tf.Session(cache_dir=tmp_path, fast_start=True) as sess:
        sess.run(init)
        step = sess.make_callable([loss, train], [x, rate])
        got = [step(xs, 0.5)[0] for _ in range(2)]
        assert held == [True]  # the second run, the child compiling; not the first
        step._background.wait()  # the child the second run started
        assert step.interpreting  # until the next run looks
        got.append(step(xs, 0.5)[0])
        assert not step.interpreting and step.compile_seconds is not None
    np.testing.assert_allclose(got, want[:3], rtol=1e-6)


def test_fast_start_runs_one_compiling_process_at_a_time(tmp_path):
    """A second step due to compile keeps interpreting while another step's child runs,
    and starts its own child once that one is done."""
    from graphc.codegen import background

    (x, rate, loss, train, init, xs), want = _fast_program(6)
    with tf.Session(cache_dir=tmp_path, fast_start=True) as sess:
        sess.run(init)
        first = sess.make_callable([loss, train], [x, rate])
        second = sess.make_callable(loss * 2.0, [x, rate])
        first(xs, 0.5), first(xs, 0.5)
        assert first._background is not None and background.busy()
        second(xs, 0.5), second(xs, 0.5)  # first's child still compiles
        assert second._background is None and second.interpreting
        first._background.wait()
        assert second(xs, 0.5) == pytest.approx(2 * want[2], rel=1e-6)
        assert second._background is not None  # started now
        second.compile()
        assert second(xs, 0.5) == pytest.approx(2 * want[2], rel=1e-6)
        assert not second.interpreting


def test_fast_start_is_the_default_unless_the_environment_or_the_session_says_no(
    monkeypatch,
):
    monkeypatch.delenv("GRAPHC_FAST_START", raising=False)
    assert tf.Session().fast_start and not tf.Session(fast_start=False).fast_start
    for off in ("0", ""):
        monkeypatch.setenv("GRAPHC_FAST_START", off)
        assert not tf.Session().fast_start and tf.Session(fast_start=True).fast_start
    monkeypatch.setenv("GRAPHC_FAST_START", "1")
    assert tf.Session().fast_start


def test_fast_start_compiles_in_this_process_when_no_other_can_start(tmp_path, monkeypatch, caplog):
    """No interpreter to start (a missing executable): the second run compiles here, with
    a warning; a frozen app (its executable is not Python): the first run does."""
    (x, rate, loss, train, init, xs), want = _fast_program(3)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    with (
        caplog.at_level(logging.INFO, logger="graphc"),
        tf.Session(cache_dir=tmp_path / "a", fast_start=True) as sess,
    ):
        sess.run(init)
        step = sess.make_callable([loss, train], [x, rate])
        got = [step(xs, 0.5)[0] for _ in range(3)]
        assert step.compile_seconds is not None and not step.interpreting
    np.testing.assert_allclose(got, want[:3], rtol=1e-6)
    assert "cannot start a process to compile in" in caplog.text
    assert not list((tmp_path / "a").glob("*.sig"))  # its signature file is gone too
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with tf.Session(cache_dir=tmp_path / "b", fast_start=True) as sess:
        sess.run(init)
        step = sess.make_callable([loss, train], [x, rate])
        assert step(xs, 0.5)[0] == pytest.approx(want[0], rel=1e-6)
        assert step.compile_seconds is not None
