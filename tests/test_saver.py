"""Saver: round trips on both targets, TF1's index file, durable saves that fail cleanly,
and restores that turn every damaged or hostile file into DataLossError, all or nothing."""

import errno
import io
import logging
import os
import pathlib
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

import graphc as tf
from graphc import saver as saver_module
from graphc.errors import (
    DataLossError,
    DTypeError,
    GraphcError,
    InvalidArgumentError,
    NotFoundError,
    ShapeError,
)

W0 = np.arange(6, dtype=np.float32).reshape(2, 3)


def _model():
    w = tf.Variable(W0, name="w")
    s = tf.Variable(np.int64(7), name="s")
    return w, s


@pytest.fixture
def saved(tmp_path):
    """A session on the numpy target, its variables, and a good checkpoint of them."""
    w, s = _model()
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        prefix = tf.train.Saver().save(sess, str(tmp_path / "model"))
        yield sess, w, s, prefix


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
    np.testing.assert_array_equal(got_w, W0 * 2.0)
    assert got_s == 8


def test_variables_named_like_savez_arguments(tmp_path):
    file, pickle = tf.Variable(1.0, name="file"), tf.Variable(2.0, name="allow_pickle")
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        prefix = tf.train.Saver().save(sess, str(tmp_path / "m"))
        sess.run([file.assign(0.0), pickle.assign(0.0)])
        tf.train.Saver().restore(sess, prefix)
        assert sess.run([file, pickle]) == [1.0, 2.0]


# ---- the index file ---------------------------------------------------------------------
def test_index_is_tf1_text_format(tmp_path):
    _model()
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(4):
            saver.save(sess, str(tmp_path / "m"), global_step=step)
    assert (tmp_path / "checkpoint").read_text() == (
        'model_checkpoint_path: "m-3"\n'
        'all_model_checkpoint_paths: "m-2"\n'
        'all_model_checkpoint_paths: "m-3"\n'
    )
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".npz")) == ["m-2.npz", "m-3.npz"]
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == str(tmp_path / "m-3")
    assert state.all_model_checkpoint_paths == [str(tmp_path / "m-2"), str(tmp_path / "m-3")]
    assert tf.train.get_checkpoint_state(str(tmp_path / "nowhere")) is None


def test_a_new_saver_adopts_earlier_checkpoints_and_retires_them_in_turn(tmp_path):
    _model()
    first = tf.train.Saver(max_to_keep=2)
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(2):
            first.save(sess, str(tmp_path / "m"), global_step=step)
        assert first.last_checkpoints == [str(tmp_path / "m-0"), str(tmp_path / "m-1")]
        # a restarted process: a fresh saver knows nothing until it recovers the list
        second = tf.train.Saver(max_to_keep=2)
        assert second.last_checkpoints == []
        second.recover_last_checkpoints([str(tmp_path / p) for p in ("gone", "m-0", "m-1")])
        assert second.last_checkpoints == [str(tmp_path / "m-0"), str(tmp_path / "m-1")]
        second.save(sess, str(tmp_path / "m"), global_step=2)
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".npz")) == ["m-1.npz", "m-2.npz"]


def test_index_of_older_graphc_and_quoted_names_are_read(saved, tmp_path):
    (tmp_path / "checkpoint").write_text("model_checkpoint_path: 'model'\n")
    assert tf.train.latest_checkpoint(str(tmp_path)) == saved[3]
    odd = 'a "quoted" \\ name'
    text = saver_module.index_text(str(tmp_path), [str(tmp_path / odd)])
    assert saver_module.parse_index(text.decode()) == (odd, [odd])
    timestamps = b'model_checkpoint_path: "model"\nlast_preserved_timestamp: 1.5e9\n'
    (tmp_path / "checkpoint").write_bytes(timestamps)  # TF1 also writes these
    assert tf.train.latest_checkpoint(str(tmp_path)) == saved[3]


@pytest.mark.parametrize(
    "text",
    [
        b"\x00\xff\x80 binary",
        b"hello",
        b'model_checkpoint_path: "model',
        b'model_checkpoint_path: "model" + "x"',
        b'unknown_field: "model"',
        b"model_checkpoint_path: 12",
        b"all_model_checkpoint_paths: 'model'\n",  # no newest one
        b"",
        b"#" * (2 << 20),
    ],
    ids=[
        "binary",
        "word",
        "unterminated",
        "expression",
        "unknown-key",
        "number",
        "no-latest",
        "empty",
        "huge",
    ],
)
def test_garbage_index_means_no_checkpoint_as_in_tf1(saved, tmp_path, caplog, text):
    (tmp_path / "checkpoint").write_bytes(text)
    with caplog.at_level(logging.WARNING, logger="graphc"):
        assert tf.train.latest_checkpoint(str(tmp_path)) is None
    assert "not a checkpoint index" in caplog.text


def test_index_naming_a_missing_checkpoint(saved, tmp_path, caplog):
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "gone"\n')
    with caplog.at_level(logging.WARNING, logger="graphc"):
        assert tf.train.latest_checkpoint(str(tmp_path)) is None
    assert "missing" in caplog.text
    assert tf.train.latest_checkpoint(str(tmp_path / "no-such-folder")) is None


# ---- saves that fail --------------------------------------------------------------------
def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _half_written(f, values):
    f.write(b"PK\x03\x04 half a zip file")
    _disk_full()


FAILURES = {
    "data-write": ("write_arrays", _half_written),
    "data-fsync": ("os.fsync", _disk_full),
    "rename": ("os.replace", _disk_full),
    "index-write": ("index_text", _disk_full),
}


@pytest.mark.parametrize("stage", list(FAILURES))
def test_failed_save_leaves_the_previous_checkpoint_and_index(saved, tmp_path, monkeypatch, stage):
    sess, w, _, prefix = saved
    saver = tf.train.Saver(max_to_keep=1)
    prefix = saver.save(sess, str(tmp_path / "model"))
    index = (tmp_path / "checkpoint").read_bytes()
    sess.run(w.assign(w * 0.0))
    name, fail = FAILURES[stage]
    target = os if name.startswith("os.") else saver_module
    monkeypatch.setattr(target, name.removeprefix("os."), fail)
    with pytest.raises(GraphcError, match=r"No space left.*previous checkpoint and index"):
        saver.save(sess, str(tmp_path / "model"), global_step=1)
    monkeypatch.undo()
    assert (tmp_path / "checkpoint").read_bytes() == index
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "model.npz"]  # no temp file left
    assert tf.train.latest_checkpoint(str(tmp_path)) == prefix
    saver.restore(sess, prefix)
    np.testing.assert_array_equal(sess.run(w), W0)


def test_save_into_a_missing_folder_or_onto_a_folder(saved, tmp_path):
    sess, *_ = saved
    index = (tmp_path / "checkpoint").read_bytes()
    with pytest.raises(NotFoundError, match="does not exist"):
        tf.train.Saver().save(sess, str(tmp_path / "missing" / "model"))
    with pytest.raises(InvalidArgumentError, match="is a folder"):
        tf.train.Saver().save(sess, str(tmp_path))
    (tmp_path / "taken.npz").mkdir()
    with pytest.raises(GraphcError, match="could not write checkpoint"):
        tf.train.Saver().save(sess, str(tmp_path / "taken"))
    assert (tmp_path / "checkpoint").read_bytes() == index
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "model.npz", "taken.npz"]


# ---- restores of damaged and hostile files ----------------------------------------------
def _npy(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=True)
    return buf.getvalue()


def _npy_header(descr, shape, data=b""):
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + data


def _zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _good_members():
    return {"w.npy": _npy(W0 * 5.0), "s.npy": _npy(np.int64(9))}


def _patch_central_directory(path, offset, value):
    data = bytearray(path.read_bytes())
    at = data.index(b"PK\x01\x02") + offset
    data[at : at + 4] = struct.pack("<I", value)
    path.write_bytes(bytes(data))


def _assert_unchanged(sess, w, s):
    np.testing.assert_array_equal(sess.run(w), W0)
    assert sess.run(s) == 7


def _corrupt(kind, path):
    """Rewrites the good checkpoint at `path` as the damaged file `kind`; returns the
    message the DataLossError must match."""
    good = path.read_bytes()
    if kind.startswith("truncated"):
        path.write_bytes(good[: {"truncated-half": len(good) // 2, "truncated-1": -1}[kind]])
        return "not a readable .npz"
    if kind == "empty":
        path.write_bytes(b"")
        return "not a readable .npz"
    if kind == "not-a-zip":
        path.write_bytes(b"hello world\n" * 40)
        return "not a readable .npz"
    if kind == "bad-crc":
        at = good.index(W0.tobytes()) + 5
        path.write_bytes(good[:at] + bytes([good[at] ^ 0x10]) + good[at + 1 :])
        return r"member 'w.npy'.*CRC"
    if kind == "bad-magic":
        _zip(path, {**_good_members(), "w.npy": b"NOTNUMPY" + _npy(W0)[8:]})
        return r"member 'w.npy'.*magic"
    if kind == "bad-header":
        npy = _npy(W0).replace(b"'shape': (2, 3)", b"'shape': [2, 3]")
        _zip(path, {**_good_members(), "w.npy": npy})
        return r"member 'w.npy'.*shape"
    if kind == "header-and-data-disagree":
        _zip(path, {**_good_members(), "w.npy": _npy_header("<f4", (2, 3), b"\0" * 20)})
        return r"member 'w.npy'.*declares shape \[2, 3\] of float32 \(24 bytes\), but holds 20"
    if kind == "strings":
        _zip(path, {**_good_members(), "w.npy": _npy(np.array(["abc"]))})
        return r"member 'w.npy'.*<U3, not an array of booleans or numbers"
    if kind == "huge-zip-size":
        _zip(path, _good_members())
        _patch_central_directory(path, 20, 0xFFFFFFF0)  # compressed size
        _patch_central_directory(path, 24, 0xFFFFFFF0)  # uncompressed size
        return r"member 'w.npy'.*declares 4294967280 bytes"
    if kind == "member-beyond-the-end":
        _zip(path, _good_members())
        _patch_central_directory(path, 42, 10**9)  # where the member's local header is
        return r"member 'w.npy'.*cannot hold"
    if kind == "lost-entry":  # the first entry's comment swallows the second entry
        _zip(path, _good_members())
        data = bytearray(path.read_bytes())
        at = data.index(b"PK\x01\x02") + 32
        path.write_bytes(bytes(data[:at]) + struct.pack("<H", 255) + bytes(data[at + 2 :]))
        return "lost a member"
    if kind == "compressed":
        _zip(path, _good_members(), zipfile.ZIP_DEFLATED)
        return r"member 'w.npy'.*compressed"
    if kind == "not-an-array":
        _zip(path, {**_good_members(), "notes.txt": b"hello"})
        return r"member 'notes.txt' is not a .npy array"
    raise AssertionError(kind)


CORRUPT = [
    "truncated-half",
    "truncated-1",
    "empty",
    "not-a-zip",
    "bad-crc",
    "bad-magic",
    "bad-header",
    "header-and-data-disagree",
    "strings",
    "huge-zip-size",
    "member-beyond-the-end",
    "lost-entry",
    "compressed",
    "not-an-array",
]


@pytest.mark.parametrize("kind", CORRUPT)
def test_damaged_checkpoints_are_data_loss_errors(saved, kind):
    sess, w, s, prefix = saved
    path = prefix + ".npz"
    match = _corrupt(kind, pathlib.Path(path))
    with pytest.raises(DataLossError, match=match) as info:
        tf.train.Saver().restore(sess, prefix)
    assert repr(path) in str(info.value)
    assert isinstance(info.value, OSError)
    _assert_unchanged(sess, w, s)


def test_pickled_arrays_are_never_unpickled(saved, tmp_path):
    sess, w, s, prefix = saved
    sentinel = tmp_path / "sentinel"
    sentinel.write_text("still here")

    class Payload:
        def __reduce__(self):
            return (os.remove, (str(sentinel),))

    hostile = np.empty(1, dtype=object)
    hostile[0] = Payload()
    np.savez(prefix + ".npz", w=hostile, s=np.int64(1))
    with pytest.raises(DataLossError, match=r"member 'w.npy'.*pickle"):
        tf.train.Saver().restore(sess, prefix)
    assert sentinel.exists()
    _assert_unchanged(sess, w, s)


def test_a_huge_declared_shape_allocates_nothing(saved):
    sess, w, s, prefix = saved
    huge = _npy_header("<f4", (100_000, 1_000_000), b"\0" * 64)  # 373 GiB declared
    _zip(prefix + ".npz", {**_good_members(), "w.npy": huge})
    tracemalloc.start()
    try:
        with pytest.raises(DataLossError, match=r"declares shape \[100000, 1000000\]"):
            tf.train.Saver().restore(sess, prefix)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    _assert_unchanged(sess, w, s)


def test_every_flipped_byte_is_detected_or_harmless(saved):
    """Each byte of a checkpoint flipped in turn: the restore raises DataLossError or
    restores the saved values exactly (a flip in a field no reader uses, such as a date)."""
    sess, w, s, prefix = saved
    path = pathlib.Path(prefix + ".npz")
    good = path.read_bytes()
    detected = 0
    for at in range(len(good)):
        path.write_bytes(good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1 :])
        try:
            tf.train.Saver().restore(sess, prefix)
        except DataLossError:
            detected += 1
        _assert_unchanged(sess, w, s)
    assert detected > len(good) // 2  # most bytes matter; the rest are dates, versions, ...


def test_mismatches_with_the_model(saved, tmp_path):
    sess, w, s, prefix = saved
    only_s = tf.train.Saver([s]).save(sess, str(tmp_path / "only_s"))
    with pytest.raises(NotFoundError, match="'w' is not in the checkpoint"):
        tf.train.Saver().restore(sess, only_s)
    with pytest.raises(NotFoundError, match="no checkpoint"):
        tf.train.Saver().restore(sess, str(tmp_path / "missing"))
    _zip(prefix + ".npz", {**_good_members(), "s.npy": _npy(np.float64(1.5))})
    with pytest.raises(DTypeError, match="'s' as float64"):
        tf.train.Saver().restore(sess, prefix)
    _zip(prefix + ".npz", {**_good_members(), "w.npy": _npy(np.zeros((3, 2), np.float32))})
    with pytest.raises(ShapeError, match=r"'w' with shape \[3, 2\]"):
        tf.train.Saver().restore(sess, prefix)
    _assert_unchanged(sess, w, s)  # w was valid each time, and is not assigned either


def test_restore_is_all_or_nothing(saved):
    sess, w, s, prefix = saved
    path = pathlib.Path(prefix + ".npz")
    _zip(path, {"w.npy": _npy(W0 * 5.0), "s.npy": _npy(np.int64(9))})
    good = path.read_bytes()
    at = good.rindex(np.int64(9).tobytes())  # damage s, which comes after a valid w
    path.write_bytes(good[:at] + b"\x08" + good[at + 1 :])
    with pytest.raises(DataLossError, match=r"member 's\.npy'"):
        tf.train.Saver().restore(sess, prefix)
    _assert_unchanged(sess, w, s)
    path.write_bytes(good)
    tf.train.Saver().restore(sess, prefix)
    np.testing.assert_array_equal(sess.run(w), W0 * 5.0)
    assert sess.run(s) == 9


def test_fortran_order_and_big_endian_arrays_are_read(saved):
    sess, w, s, prefix = saved
    fortran = np.asfortranarray(W0 * 3.0).astype(">f4")
    _zip(prefix + ".npz", {"w.npy": _npy(fortran), "s.npy": _npy(np.int32(4))})
    tf.train.Saver().restore(sess, prefix)
    np.testing.assert_array_equal(sess.run(w), W0 * 3.0)
    assert sess.run(s) == 4


def test_checkpoints_of_earlier_graphc_versions_are_read(saved, tmp_path):
    sess, w, s, prefix = saved
    np.savez(prefix + ".npz", w=W0 * 4.0, s=np.int64(2))  # what Saver.save wrote before
    (tmp_path / "checkpoint").write_text("model_checkpoint_path: 'model'\n")
    tf.train.Saver().restore(sess, tf.train.latest_checkpoint(str(tmp_path)))
    np.testing.assert_array_equal(sess.run(w), W0 * 4.0)
    assert sess.run(s) == 2
