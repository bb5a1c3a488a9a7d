"""The compile cache: cross-process hits, corruption recovery, determinism, fallbacks."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

import graphc as tf

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import graphc as tf
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(np.ones((3, 2), np.float32), name="w")
    loss = tf.reduce_sum(tf.tanh(tf.matmul(x, w)))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session(cache_dir=sys.argv[1]) as sess:
        sess.run(w.initializer)
        step = sess.make_callable([train, loss], [x])
        value = step(np.full((2, 3), 0.1, np.float32))[1]
        stats = step._fn.stats
        print(json.dumps({"loss": float(value), "hits": sum(stats.cache_hits.values()),
                          "misses": sum(stats.cache_misses.values())}))
    """
)


def _run(cache_dir):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(cache_dir)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _expected_loss():
    x = np.full((2, 3), 0.1, np.float32)
    return float(np.tanh(x @ np.ones((3, 2), np.float32)).sum())


def test_second_process_loads_compiled_code_from_the_cache(tmp_path):
    first = _run(tmp_path)
    second = _run(tmp_path)
    assert first["misses"] >= 1 and first["hits"] == 0
    assert second["hits"] >= 1 and second["misses"] == 0
    assert first["loss"] == second["loss"]
    np.testing.assert_allclose(first["loss"], _expected_loss(), rtol=1e-6)


def test_concurrent_processes_share_an_empty_cache(tmp_path):
    command = [sys.executable, "-c", SCRIPT, str(tmp_path)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate()[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    for out in outputs:
        np.testing.assert_allclose(
            json.loads(out.splitlines()[-1])["loss"], _expected_loss(), rtol=1e-6
        )
    assert _run(tmp_path)["hits"] >= 1


def test_corrupt_cache_entries_recompile_instead_of_failing(tmp_path):
    _run(tmp_path)
    for path in tmp_path.rglob("*"):
        if path.suffix in (".nbi", ".nbc"):
            path.write_bytes(b"\x00garbage")
        elif path.suffix == ".py":
            path.write_text("this is not python (\n")
    again = _run(tmp_path)
    np.testing.assert_allclose(again["loss"], _expected_loss(), rtol=1e-6)
    assert _run(tmp_path)["hits"] >= 1  # the rewritten entry is cached again


def test_corrupt_numba_cache_files_beside_an_intact_module(tmp_path):
    _run(tmp_path)
    numba_files = [p for p in tmp_path.rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert numba_files
    for path in numba_files:
        path.write_bytes(path.read_bytes()[:20])  # truncated, as by a crash mid-write
    np.testing.assert_allclose(_run(tmp_path)["loss"], _expected_loss(), rtol=1e-6)
    _run(tmp_path)
    assert _run(tmp_path)["hits"] >= 1


def test_unwritable_cache_falls_back_to_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    x = tf.placeholder(tf.float32, [2])
    with tf.Session(cache_dir=blocker / "cache") as sess:
        np.testing.assert_array_equal(sess.run(x + 1.0, {x: [1, 2]}), [2, 3])


def _build_source(tmp_path):
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(1)
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        w = tf.Variable(tf.random_normal([4, 2]), name="w")
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w)))
        train = tf.train.AdamOptimizer().minimize(loss)
    with tf.Session(g, cache_dir=tmp_path) as sess:
        return sess.make_callable([train, loss], [x]).source


def test_generated_source_is_deterministic(tmp_path):
    first, second = _build_source(tmp_path), _build_source(tmp_path)
    assert first == second
    assert "id(" not in first


def test_default_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    from graphc.codegen.compile import cache_root

    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    assert cache_root() == tmp_path
    assert cache_root(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv("GRAPHC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "graphc"
    assert os.path.isabs(cache_root())
