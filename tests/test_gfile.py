"""tf.gfile: TF1's file functions and GFile on local files, TF1's errors, atomic writes."""

import errno
import os

import pytest

import graphc as tf
from graphc import durable
from graphc.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    OpError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnimplementedError,
    UnknownError,
)
from graphc.gfile_file import os_error

gfile = tf.gfile


def _tree(root):
    """Every path under root (temporary files included), relative, sorted."""
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, dirs, files in os.walk(root)
        for name in dirs + files
    )


# ---- GFile --------------------------------------------------------------------------------
def test_text_and_binary_round_trips(tmp_path):
    path = str(tmp_path / "f.txt")
    with gfile.GFile(path, "w") as f:
        f.write("héllo\r\n")
        f.write(b"bytes too\n")
    with open(path, "rb") as f:
        assert f.read() == "héllo\r\nbytes too\n".encode()
    with gfile.GFile(path) as f:  # text: str, no newline translation
        assert f.read() == "héllo\r\nbytes too\n"
    with gfile.GFile(path, "rb") as f:
        assert f.read() == "héllo\r\nbytes too\n".encode()
    with gfile.Open(path, "wb") as f:
        f.write("text in a binary file")
    assert gfile.FastGFile(path, "rb").read() == b"text in a binary file"


def test_lines_seek_tell_and_size(tmp_path):
    path = tmp_path / "lines"
    path.write_bytes(b"one\ntwo\nthree")
    f = gfile.GFile(str(path))
    assert f.readline() == "one\n"
    assert f.tell() == 4
    assert f.read(3) == "two"
    assert f.readlines() == ["\n", "three"]
    assert f.readline() == ""
    f.seek(0)
    assert list(f) == ["one\n", "two\n", "three"]
    f.seek(offset=-5, whence=2)
    assert f.read() == "three"
    f.seek(position=4)
    assert f.read(2) == "tw"
    assert f.size() == 13
    with pytest.raises(InvalidArgumentError, match="Invalid whence argument: 3"):
        f.seek(0, 3)
    f.close()
    f.close()  # a second close does nothing
    assert f.closed
    with pytest.raises(ValueError, match="closed GFile"):
        f.read()


def test_opening_is_lazy_as_in_tf1(tmp_path):
    missing = gfile.GFile(str(tmp_path / "missing"))  # no error yet
    with pytest.raises(NotFoundError, match=r"missing; No such file or directory") as error:
        missing.read()
    assert isinstance(error.value, FileNotFoundError)
    assert error.value.error_code == tf.errors.NOT_FOUND
    with gfile.GFile(str(tmp_path / "unwritten"), "w"):
        pass
    assert not os.path.exists(tmp_path / "unwritten")
    with pytest.raises(NotFoundError, match="no-folder"):
        gfile.GFile(str(tmp_path / "no-folder" / "f"), "w").write("x")


def test_append_starts_from_the_files_content(tmp_path):
    path = str(tmp_path / "log")
    with gfile.GFile(path, "a") as f:
        f.write("1\n")
    with gfile.GFile(path, "a") as f:
        assert f.tell() == 2
        f.write("2\n")
    assert gfile.GFile(path).read() == "1\n2\n"


def test_writes_are_atomic_until_close_or_flush(tmp_path):
    path = tmp_path / "model.txt"
    path.write_text("old")
    f = gfile.GFile(str(path), "w")
    f.write("new, part 1;")
    assert path.read_text() == "old"  # readers never see a half-written file
    f.flush()
    assert path.read_text() == "new, part 1;"
    f.write(" part 2")
    assert path.read_text() == "new, part 1;"
    f.close()
    assert path.read_text() == "new, part 1; part 2"
    assert _tree(tmp_path) == ["model.txt"]  # no temporary file left


def test_an_exception_in_the_with_block_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "model.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="interrupted"), gfile.GFile(str(path), "w") as f:
        f.write("half")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert _tree(tmp_path) == ["model.txt"]


def test_a_dropped_gfile_commits_like_a_python_file(tmp_path):
    path = tmp_path / "f"
    gfile.GFile(str(path), "w").write("written")  # the idiom open(p, "w").write(s)
    assert path.read_text() == "written"


def test_close_fsyncs_the_file_and_its_folder(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.fstat(fd).st_mode) or real(fd))
    with gfile.GFile(str(tmp_path / "f"), "w") as f:
        f.write("x")
    assert len(synced) == 2  # the file, then the folder after the rename
    assert os.path.stat.S_ISDIR(synced[1])


def test_a_failed_write_raises_tf1s_error_and_keeps_the_file(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_text("old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    f = gfile.GFile(str(path), "w")
    f.write("new")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ResourceExhaustedError, match="No space left on device"):
        f.close()
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert _tree(tmp_path) == ["f"]


def test_writing_through_a_symlink_writes_its_target_and_keeps_the_mode(tmp_path):
    target = tmp_path / "target"
    target.write_text("old")
    os.chmod(target, 0o640)
    os.symlink(target, tmp_path / "link")
    with gfile.GFile(str(tmp_path / "link"), "w") as f:
        f.write("new")
    assert os.path.islink(tmp_path / "link")
    assert target.read_text() == "new"
    assert os.stat(target).st_mode & 0o777 == 0o640


def test_bad_gfile_use(tmp_path):
    path = str(tmp_path / "f")
    with pytest.raises(InvalidArgumentError, match="mode 'r\\+' is not 'r', 'w' or 'a'"):
        gfile.GFile(path, "r+")
    with pytest.raises(InvalidArgumentError, match="mode 'x'"):
        gfile.GFile(path, "x")
    with pytest.raises(PermissionDeniedError, match="File isn't open for reading"):
        gfile.GFile(path, "w").read()
    open(path, "w").close()
    with pytest.raises(PermissionDeniedError, match="File isn't open for writing"):
        gfile.GFile(path).write("x")
    with pytest.raises(TypeError, match="Expected binary or unicode string, got 3"):
        gfile.GFile(path, "w").write(3)
    with pytest.raises(FailedPreconditionError, match="Is a directory"):
        gfile.GFile(str(tmp_path)).read()
    with open(path, "wb") as f:
        f.write(b"\xff\xfe")
    with pytest.raises(UnicodeDecodeError):
        gfile.GFile(path).read()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_permission_raises_permission_denied(tmp_path):
    path = tmp_path / "secret"
    path.write_text("x")
    os.chmod(path, 0)
    with pytest.raises(PermissionDeniedError, match="Permission denied") as error:
        gfile.GFile(str(path)).read()
    assert isinstance(error.value, PermissionError)


# ---- the functions ------------------------------------------------------------------------
def test_folders(tmp_path):
    root = str(tmp_path)
    gfile.MakeDirs(os.path.join(root, "a", "b", "c"))
    gfile.MakeDirs(os.path.join(root, "a", "b"))  # exists: nothing happens
    gfile.MkDir(os.path.join(root, "a", "d"))
    assert gfile.IsDirectory(os.path.join(root, "a", "b"))
    assert gfile.Exists(os.path.join(root, "a", "b", "c"))
    assert not gfile.Exists(os.path.join(root, "z"))
    assert not gfile.IsDirectory(os.path.join(root, "z"))
    assert gfile.ListDirectory(os.path.join(root, "a")) == ["b", "d"]
    with pytest.raises(AlreadyExistsError, match="File exists") as error:
        gfile.MkDir(os.path.join(root, "a"))
    assert error.value.error_code == tf.errors.ALREADY_EXISTS
    with pytest.raises(NotFoundError):
        gfile.MkDir(os.path.join(root, "x", "y"))
    open(os.path.join(root, "file"), "w").close()
    with pytest.raises(AlreadyExistsError):
        gfile.MakeDirs(os.path.join(root, "file"))
    with pytest.raises(FailedPreconditionError, match="Not a directory"):
        gfile.MakeDirs(os.path.join(root, "file", "sub"))
    with pytest.raises(NotFoundError, match="Could not find directory"):
        gfile.ListDirectory(os.path.join(root, "file"))
    with pytest.raises(NotFoundError, match="Could not find directory"):
        gfile.ListDirectory(os.path.join(root, "z"))


def test_glob_follows_tf1s_patterns(tmp_path):
    for name in ("a1.txt", "a2.txt", "b.txt", ".hidden.txt", "c[1].txt", "a3.log"):
        (tmp_path / name).write_text("")
    root = str(tmp_path)

    def names(pattern):
        return [os.path.basename(p) for p in gfile.Glob(os.path.join(root, pattern))]

    assert names("*.txt") == [".hidden.txt", "a1.txt", "a2.txt", "b.txt", "c[1].txt"]
    assert names("a?.*") == ["a1.txt", "a2.txt", "a3.log"]
    assert names("a[^1].txt") == ["a2.txt"]
    assert names("[ab]*.txt") == ["a1.txt", "a2.txt", "b.txt"]
    assert names("c\\[1].txt") == ["c[1].txt"]
    assert names("nothing*") == []
    both = gfile.Glob([os.path.join(root, "b.*"), os.path.join(root, "*.log")])
    assert [os.path.basename(p) for p in both] == ["b.txt", "a3.log"]
    assert gfile.Glob(os.path.join(root, "missing", "*")) == []


def test_remove_and_delete_recursively(tmp_path):
    root = str(tmp_path)
    gfile.MakeDirs(os.path.join(root, "d", "e"))
    open(os.path.join(root, "d", "e", "f"), "w").close()
    open(os.path.join(root, "g"), "w").close()
    with pytest.raises(FailedPreconditionError, match="Is a directory"):
        gfile.Remove(os.path.join(root, "d"))
    gfile.Remove(os.path.join(root, "g"))
    with pytest.raises(NotFoundError, match="g; No such file"):
        gfile.Remove(os.path.join(root, "g"))
    os.symlink(os.path.join(root, "d"), os.path.join(root, "link"))
    gfile.DeleteRecursively(os.path.join(root, "link"))  # the link, not what it points to
    assert _tree(root) == ["d", "d/e", "d/e/f"]
    gfile.DeleteRecursively(os.path.join(root, "d", "e", "f"))  # a file is deleted too
    gfile.DeleteRecursively(os.path.join(root, "d"))
    assert _tree(root) == []
    with pytest.raises(NotFoundError):
        gfile.DeleteRecursively(os.path.join(root, "d"))


def test_rename_and_copy_honour_overwrite(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_text("source")
    dst.write_text("taken")
    for move in (gfile.Copy, gfile.Rename):
        with pytest.raises(AlreadyExistsError, match="dst; File already exists"):
            move(str(src), str(dst))
        assert dst.read_text() == "taken"
    gfile.Copy(str(src), str(dst), overwrite=True)
    assert dst.read_text() == "source"
    assert src.read_text() == "source"
    gfile.Copy(str(src), str(tmp_path / "new"))
    gfile.Rename(str(src), str(dst), overwrite=True)
    assert not src.exists()
    assert dst.read_text() == "source"
    assert _tree(tmp_path) == ["dst", "new"]
    with pytest.raises(NotFoundError, match="src; No such file"):
        gfile.Copy(str(src), str(tmp_path / "other"))
    with pytest.raises(NotFoundError, match="src; No such file"):
        gfile.Rename(str(src), str(tmp_path / "other"))
    with pytest.raises(FailedPreconditionError, match="Is a directory"):
        gfile.Copy(str(tmp_path), str(tmp_path / "copy"))
    with pytest.raises(NotFoundError, match="no-folder"):
        gfile.Copy(str(dst), str(tmp_path / "no-folder" / "x"))
    gfile.MkDir(str(tmp_path / "folder"))
    gfile.Rename(str(tmp_path / "folder"), str(tmp_path / "renamed"))
    assert gfile.IsDirectory(str(tmp_path / "renamed"))


def test_stat(tmp_path):
    (tmp_path / "f").write_bytes(b"12345")
    info = gfile.Stat(str(tmp_path / "f"))
    assert (info.length, info.is_directory) == (5, False)
    assert info.mtime_nsec == os.stat(tmp_path / "f").st_mtime_ns
    assert gfile.Stat(str(tmp_path)).is_directory
    with pytest.raises(NotFoundError):
        gfile.Stat(str(tmp_path / "missing"))


def test_walk(tmp_path):
    for path in ("b/y", "a/x", "a/z/w"):
        gfile.MakeDirs(str(tmp_path / path))
    (tmp_path / "f2").write_text("")
    (tmp_path / "a" / "f1").write_text("")
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # listed, not entered
    root = str(tmp_path)
    walked = list(gfile.Walk(root))
    assert walked[:2] == [
        (root, ["a", "b"], ["f2"]),
        (os.path.join(root, "a"), ["loop", "x", "z"], ["f1"]),
    ]
    assert [w[0] for w in walked] == [
        os.path.join(root, p) if p else root for p in ("", "a", "a/x", "a/z", "a/z/w", "b", "b/y")
    ]
    post = [w[0] for w in gfile.Walk(root, in_order=False)]
    assert post[0] == os.path.join(root, "a", "x")
    assert post[-1] == root
    assert list(gfile.Walk(str(tmp_path / "missing"))) == []
    seen = []
    assert list(tf.io.gfile.walk(str(tmp_path / "missing"), onerror=seen.append)) == []
    assert isinstance(seen[0], NotFoundError)


def test_tf_io_gfile_spellings(tmp_path):
    io = tf.io.gfile
    io.makedirs(str(tmp_path / "a"))
    with io.GFile(str(tmp_path / "a" / "f"), "w") as f:
        f.write("x")
    io.copy(str(tmp_path / "a" / "f"), str(tmp_path / "g"))
    io.rename(str(tmp_path / "g"), str(tmp_path / "h"))
    assert io.exists(str(tmp_path / "h"))
    assert io.isdir(str(tmp_path / "a"))
    assert io.listdir(str(tmp_path)) == ["a", "h"]
    assert io.glob(str(tmp_path / "*")) == [str(tmp_path / "a"), str(tmp_path / "h")]
    assert io.stat(str(tmp_path / "h")).length == 1
    io.remove(str(tmp_path / "h"))
    io.rmtree(str(tmp_path / "a"))
    io.mkdir(str(tmp_path / "b"))
    assert io.listdir(str(tmp_path)) == ["b"]
    assert tf.gfile.Exists(tmp_path)  # path-like objects work


@pytest.mark.parametrize("path", ["gs://bucket/f", "hdfs://host/f", "s3://b/f"])
def test_remote_file_systems_are_not_provided(path):
    with pytest.raises(UnimplementedError, match="local files only"):
        gfile.Exists(path)
    with pytest.raises(UnimplementedError, match="local files only"):
        gfile.GFile(path)


@pytest.mark.parametrize(
    "code, kind",
    [
        (errno.ENOENT, NotFoundError),
        (errno.EEXIST, AlreadyExistsError),
        (errno.EACCES, PermissionDeniedError),
        (errno.EROFS, PermissionDeniedError),
        (errno.ENOTEMPTY, FailedPreconditionError),
        (errno.ENOSPC, ResourceExhaustedError),
        (errno.ENAMETOOLONG, InvalidArgumentError),
        (errno.EXDEV, UnimplementedError),
        (errno.EIO, UnknownError),
    ],
    ids=errno.errorcode.get,
)
def test_os_errors_map_to_tf1s_errors(code, kind):
    error = os_error(OSError(code, os.strerror(code)), "/some/path")
    assert type(error) is kind
    assert isinstance(error, OpError)
    assert str(error) == f"/some/path; {os.strerror(code)}"


def test_the_saver_and_gfile_share_one_durable_writer():
    from graphc import saver

    assert saver.durable_write is durable.durable_write


def test_writing_onto_a_folder_fails_at_the_first_write(tmp_path):
    f = gfile.GFile(str(tmp_path), "w")
    with pytest.raises(FailedPreconditionError, match="Is a directory"):
        f.write("x")
    assert _tree(tmp_path) == []
