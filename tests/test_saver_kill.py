"""A process saves in a loop and is killed with SIGKILL at random moments: after every
kill, `latest_checkpoint` names a complete checkpoint that restores, and the saved state
never goes back (the index names a checkpoint only once its data is durable, and
`max_to_keep` deletes the previous one only after the index moved on).

To keep 25 kills fast, one child (started with `sys.executable`) imports graphc once and
forks a saving process per life; the test kills those."""

import os
import random
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import graphc as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILLS = 25
SHAPE = (256, 256)  # 256 KiB of float32: a save takes long enough to be hit mid-write

# Every checkpoint holds w == step everywhere; each life continues from the latest one.
CHILD = f"""
import os
import sys

import numpy as np

import graphc as tf
import passes  # noqa: F401  (a first run imports it: here, once, not in every life)


def live(folder):
    w = tf.Variable(np.zeros({SHAPE}, np.float32), name="w")
    step = tf.Variable(np.int64(0), name="step")
    advance = [w.assign(w + 1.0), step.assign(step + 1)]
    saver = tf.train.Saver(max_to_keep=1)
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        state = tf.train.get_checkpoint_state(folder)
        if state is not None:
            saver.restore(sess, state.model_checkpoint_path)
            saver.recover_last_checkpoints(state.all_model_checkpoint_paths)
        print("ready", os.getpid(), flush=True)
        while True:
            sess.run(advance)
            saver.save(sess, folder + "/model", global_step=step)


for _ in iter(sys.stdin.readline, ""):  # one life per line
    pid = os.fork()
    if pid == 0:
        try:
            live(sys.argv[1])
        finally:
            os._exit(1)
    print("dead", os.waitpid(pid, 0)[1], flush=True)
"""


def _line(child, timeout=60.0):
    """One line of the child's unbuffered stdout, waiting at most `timeout` seconds."""
    out = bytearray()
    while not out.endswith(b"\n"):
        ready, _, _ = select.select([child.stdout], [], [], timeout)
        byte = child.stdout.read(1) if ready else b""
        if not byte:
            child.kill()
            _, err = child.communicate()
            pytest.fail(f"the saving child stopped: {out!r}\n{err.decode()[-2000:]}")
        out += byte
    return out.decode().split()


def _restored_step(folder):
    """The step of the latest checkpoint, restored in this process (None if none yet)."""
    latest = tf.train.latest_checkpoint(folder)
    if latest is None:
        return None
    g = tf.Graph()
    with g.as_default():
        w = tf.Variable(np.full(SHAPE, -1.0, np.float32), name="w")
        step = tf.Variable(np.int64(-1), name="step")
        with tf.Session(g, target="numpy") as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().restore(sess, latest)
            got_w, got_step = sess.run([w, step])
    assert latest.endswith(f"model-{got_step}")
    np.testing.assert_array_equal(got_w, np.full(SHAPE, got_step, np.float32))
    return int(got_step)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")
def test_sigkill_at_random_moments_leaves_a_restorable_checkpoint(tmp_path):
    rng = random.Random(9)
    folder, last, saves = str(tmp_path), 0, 0
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    command = [sys.executable, "-c", CHILD, folder]
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    with subprocess.Popen(command, cwd=ROOT, env=env, bufsize=0, **pipes) as child:
        for _ in range(KILLS):
            child.stdin.write(b"live\n")
            word, pid = _line(child)
            assert word == "ready"
            time.sleep(rng.uniform(0.0, 0.15))
            os.kill(int(pid), signal.SIGKILL)
            assert _line(child) == ["dead", str(signal.SIGKILL)]  # killed, not crashed
            step = _restored_step(folder)
            assert step is not None or last == 0
            assert (step or 0) >= last, "the latest checkpoint went back"
            saves += (step or 0) > last
            last = step or 0
        child.stdin.close()
    state = tf.train.get_checkpoint_state(folder)
    assert state.all_model_checkpoint_paths == [state.model_checkpoint_path]  # max_to_keep=1
    # a kill between the index write and the deletion leaves the retired file behind (as
    # TF1 does): never named by the index, at most one per kill
    assert len([n for n in os.listdir(folder) if n.endswith(".npz")]) <= KILLS + 1
    assert saves >= KILLS // 2  # most lives saved: the kills hit loops that were saving
