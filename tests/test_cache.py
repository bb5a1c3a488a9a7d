"""The compile cache: cross-process hits, corruption recovery, determinism, fallbacks."""

import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import graphc as tf
from graphc.codegen import compile as modules
from graphc.codegen.compile import CacheWarning

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


def _child(script, cache_dir, env=None):
    """Runs `script` in a child process, so a crash (a signal) fails the test, not pytest."""
    out = subprocess.run(
        [sys.executable, "-c", script, str(cache_dir)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, f"child exited with {out.returncode}:\n{out.stderr[-3000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


_SIZES = iter(range(100, 10_000))  # a fresh static size per fresh program


def _compile_fresh_program(cache_dir):
    """Compiles and runs `x + 1` for an `x` of a size no other test used: a module not
    loaded yet (a constant's value is not part of the module: a size is)."""
    n = next(_SIZES)
    x = tf.placeholder(tf.float32, [n])
    with tf.Session(cache_dir=cache_dir) as sess:
        np.testing.assert_array_equal(sess.run(x + 1.0, {x: np.arange(n)}), np.arange(n) + 1)


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(modules, "_warned", set())  # each test sees its once-per-folder warning


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
    with pytest.warns(CacheWarning, match="cannot be created"):
        _compile_fresh_program(blocker / "cache")


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


# --- integrity: cached machine code is checked against the manifest before Numba loads it


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache folder after one cold run of SCRIPT (module, manifest, Numba files)."""
    cache = tmp_path_factory.mktemp("warm")
    _run(cache)
    return cache


def _flip_one_bit(path, seed):
    rng = np.random.default_rng(seed)
    data = bytearray(path.read_bytes())
    data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
    path.write_bytes(bytes(data))


def _manifest_holds(cache):
    """True when every file the manifest names exists with the recorded sha256."""
    (manifest,) = cache.glob("*.sha256")
    lines = manifest.read_text().splitlines()[1:]
    files = {p.name: p for p in cache.rglob("graphc_*") if p.suffix in (".py", ".nbi", ".nbc")}
    recorded = dict(line.split("  ")[::-1] for line in lines)
    assert recorded.keys() == files.keys()
    return all(modules._sha256(files[name]) == digest for name, digest in recorded.items())


# Before manifests, .nbc seeds 14 and 23 killed the child (LLVM abort, SIGSEGV) and others
# loaded the flipped machine code unnoticed.
FLIPS = [("nbc", 14), ("nbc", 23), ("nbc", 0), ("nbi", 0), ("py", 0), ("sha256", 0)]


@pytest.mark.parametrize(("suffix", "seed"), FLIPS, ids=[f"{s}-{n}" for s, n in FLIPS])
def test_flipped_bits_in_cached_files_recompile_without_crashing(
    warm_cache, tmp_path, suffix, seed
):
    cache = shutil.copytree(warm_cache, tmp_path / "cache")
    victims = [p for p in cache.rglob("graphc_*") if p.suffix == f".{suffix}"]
    assert victims
    for path in victims:
        _flip_one_bit(path, seed)
    result, stderr = _child(SCRIPT, cache)
    np.testing.assert_allclose(result["loss"], _expected_loss(), rtol=1e-6)
    assert "CacheWarning" in stderr
    assert result["misses"] >= 1 and result["hits"] == 0  # compiled again, loaded nothing
    assert _manifest_holds(cache)  # the repaired entry is sealed again


def test_manifest_covers_numba_cache_dir(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    _child(SCRIPT, tmp_path / "cache", env)
    nbc = list((tmp_path / "numba").rglob("*.nbc"))
    assert nbc and not list((tmp_path / "cache").rglob("*.nbc"))
    for path in nbc:
        _flip_one_bit(path, 0)
    result, stderr = _child(SCRIPT, tmp_path / "cache", env)
    assert "does not match its manifest" in stderr
    np.testing.assert_allclose(result["loss"], _expected_loss(), rtol=1e-6)


def test_intact_cache_loads_without_warnings(warm_cache, tmp_path):
    cache = shutil.copytree(warm_cache, tmp_path / "cache")  # relocatable
    result, stderr = _child(SCRIPT, cache)
    assert result["hits"] >= 1 and result["misses"] == 0
    assert "CacheWarning" not in stderr


# --- a read-only cache (a service account: no writable cache folder, no writable $HOME)

# Root ignores file modes, so under root the child simulates them: creating files or folders
# inside the read-only paths fails with EACCES, the errno a chmod 0o555 folder gives.
SIMULATE_READ_ONLY = textwrap.dedent(
    """
    import errno, os
    READ_ONLY = tuple(os.path.realpath(p) for p in os.environ["READ_ONLY"].split(os.pathsep))
    _open, _mkdir = os.open, os.mkdir

    def _inside(path):
        p = os.path.realpath(os.fspath(path))
        return any(p == r or p.startswith(r + os.sep) for r in READ_ONLY)

    def _denied(path):
        return PermissionError(errno.EACCES, "Permission denied (simulated)", os.fspath(path))

    def read_only_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and _inside(path):
            raise _denied(path)
        return _open(path, flags, *args, **kwargs)

    def read_only_mkdir(path, *args, **kwargs):
        if _inside(path):
            if os.path.exists(path):
                raise FileExistsError(errno.EEXIST, "File exists", os.fspath(path))
            raise _denied(path)
        return _mkdir(path, *args, **kwargs)

    os.open, os.mkdir = read_only_open, read_only_mkdir
    """
)

TWO_PROGRAMS = SCRIPT + textwrap.dedent(
    """
    import warnings
    warnings.simplefilter("always")
    with tf.Session(cache_dir=sys.argv[1]) as sess:
        sess.run(w.initializer)
        other = sess.run(loss * 2.0, {x: np.full((2, 3), 0.1, np.float32)})
    print(json.dumps({"loss": float(value), "other": float(other)}))
    """
).replace("import json, sys", "import json, sys, warnings\nwarnings.simplefilter('always')")


def test_read_only_cache_and_home_compile_in_memory(warm_cache, tmp_path):
    cache = shutil.copytree(warm_cache, tmp_path / "cache")
    home = tmp_path / "home"
    home.mkdir()
    read_only = [cache / "__pycache__", cache, home]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "NUMBA_", "GRAPHC_"))}
    env.update(HOME=str(home), READ_ONLY=os.pathsep.join(map(str, read_only)))
    script = (SIMULATE_READ_ONLY if os.geteuid() == 0 else "") + TWO_PROGRAMS
    for folder in read_only:
        folder.chmod(0o555)
    try:
        result, stderr = _child(script, cache, env)
    finally:
        for folder in read_only:
            folder.chmod(0o700)
    np.testing.assert_allclose(result["loss"], _expected_loss(), rtol=1e-6)
    np.testing.assert_allclose(result["other"], 2 * _expected_loss(), rtol=1e-6)
    assert stderr.count("CacheWarning") == 1, stderr  # once for the folder, not per program
    assert "not writable" in stderr


def test_numba_without_a_cache_locator_compiles_in_memory(tmp_path, monkeypatch):
    from numba.core.caching import _CacheLocator

    def unwritable(self):
        raise PermissionError("read-only (simulated)")

    monkeypatch.setattr(_CacheLocator, "ensure_cache_path", unwritable)
    with pytest.warns(CacheWarning, match="no locator available"):
        _compile_fresh_program(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # once per folder
        _compile_fresh_program(tmp_path)


# --- the cache folder is not on sys.path: a file dropped there shadows nothing


def test_a_file_in_the_cache_shadows_no_import(tmp_path):
    (tmp_path / "graphc_shadow_probe.py").write_text(
        "raise SystemExit('imported from the cache')\n"
    )
    (tmp_path / "json.py").write_text("raise SystemExit('imported from the cache')\n")
    x = tf.placeholder(tf.float32, [2])
    with tf.Session(cache_dir=tmp_path) as sess:
        exe = sess.make_callable(x + 1.0, [x])
        np.testing.assert_array_equal(exe([1, 2]), [2, 3])
    assert str(tmp_path) not in sys.path
    assert importlib.util.find_spec("graphc_shadow_probe") is None
    assert importlib.util.find_spec("json").origin != str(tmp_path / "json.py")
    module = sys.modules[modules.module_name(exe.source)]
    assert module.__file__ == str(tmp_path / f"{module.__name__}.py")


# --- trust: a folder other users can write is never loaded from


def _writable_by_others(tmp_path, where, mode):
    cache = tmp_path / "parent" / "cache"
    (cache / "__pycache__").mkdir(parents=True)
    folder = {"cache": cache, "pycache": cache / "__pycache__", "parent": cache.parent}[where]
    folder.chmod(mode)
    return cache


UNSAFE = [("cache", 0o777), ("cache", 0o770), ("pycache", 0o757), ("parent", 0o777)]


@pytest.mark.parametrize(("where", "mode"), UNSAFE, ids=[f"{w}-{m:o}" for w, m in UNSAFE])
def test_cache_writable_by_others_is_not_used(tmp_path, where, mode):
    cache = _writable_by_others(tmp_path, where, mode)
    with pytest.warns(CacheWarning, match="writable by other users"):
        _compile_fresh_program(cache)
    assert not list(cache.glob("graphc_*"))  # nothing written, nothing loaded


def test_sticky_parent_writable_by_others_is_fine(tmp_path):
    cache = _writable_by_others(tmp_path, "parent", 0o1777)  # like /tmp
    assert modules.untrusted_reason(cache) is None


def test_cache_owned_by_another_user_is_not_used(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    if os.geteuid() == 0:
        os.chown(cache, 65534, 65534)
    else:
        uid = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: uid + 1)
    assert "belongs to another user" in modules.untrusted_reason(cache)
    with pytest.warns(CacheWarning, match="belongs to another user"):
        _compile_fresh_program(cache)
    assert not list(cache.glob("graphc_*"))


def test_new_cache_folders_are_private(tmp_path):
    cache = tmp_path / "new" / "cache"
    _compile_fresh_program(cache)
    for folder in (cache, cache / "__pycache__"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
