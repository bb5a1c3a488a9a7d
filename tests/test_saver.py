"""Saver: round trips on both targets, atomic writes, and clear errors."""

import os

import numpy as np
import pytest

import graphc as tf
from graphc.errors import NotFoundError, ShapeError


@pytest.fixture(params=["numpy", "cpu"])
def target(request):
    return request.param


def _model():
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="w")
    s = tf.Variable(np.int64(7), name="s")
    return w, s


def test_round_trip(tmp_path, target):
    w, s = _model()
    saver = tf.train.Saver()
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        sess.run([w.assign(w * 2.0), s.assign(s + 1)])
        prefix = saver.save(sess, str(tmp_path / "model"), global_step=3)
    assert prefix.endswith("model-3")
    assert tf.train.latest_checkpoint(str(tmp_path)) == prefix
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        saver.restore(sess, prefix)
        got_w, got_s = sess.run([w, s])
    np.testing.assert_array_equal(got_w, np.arange(6).reshape(2, 3) * 2.0)
    assert got_s == 8


def test_a_crash_mid_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    w, _ = _model()
    saver = tf.train.Saver()
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        prefix = saver.save(sess, str(tmp_path / "model"))
        sess.run(w.assign(w * 0.0))

        def crash(f, **arrays):
            f.write(b"PK\x03\x04 half a zip file")
            raise OSError("disk full")

        monkeypatch.setattr(np, "savez", crash)
        with pytest.raises(OSError, match="disk full"):
            saver.save(sess, str(tmp_path / "model"))
        monkeypatch.undo()
        saver.restore(sess, prefix)
        np.testing.assert_array_equal(sess.run(w), np.arange(6).reshape(2, 3))
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "model.npz"]  # no temp file left


def test_restore_errors(tmp_path):
    w, s = _model()
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.raises(NotFoundError, match="no checkpoint"):
            tf.train.Saver().restore(sess, str(tmp_path / "missing"))
        prefix = tf.train.Saver([s]).save(sess, str(tmp_path / "only_s"))
        with pytest.raises(NotFoundError, match="'w' is not in the checkpoint"):
            tf.train.Saver().restore(sess, prefix)
        tf.train.Saver({"s": s, "w": w}).save(sess, str(tmp_path / "both"))
    g = tf.Graph()
    with g.as_default():
        tf.Variable(np.zeros((3, 3), np.float32), name="w")
        with (
            tf.Session(g, target="numpy") as sess,
            pytest.raises(ShapeError, match=r"'w'.*\[2, 3\]"),
        ):
            tf.train.Saver().restore(sess, str(tmp_path / "both"))


def test_max_to_keep(tmp_path):
    _model()
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(4):
            saver.save(sess, str(tmp_path / "m"), global_step=step)
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".npz")) == ["m-2.npz", "m-3.npz"]
