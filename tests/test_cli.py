"""The inspection commands: `python -m graphc inspect|optimize|source SCRIPT:NAME`.

Oracles: the counts of a model built by hand (ops by type, parameters), the pass
report and generated source the Python API gives for the same graph, and the one-line
errors each command prints for bad input.
"""

import subprocess
import sys

import pytest

import graphc as tf
from graphc.cli import main

MODEL = """
import numpy as np
import graphc as tf
x = tf.placeholder(tf.float32, [None, 4], name="x")
with tf.name_scope("layer"):
    w = tf.Variable(np.ones((4, 3), np.float32), name="w")
    b = tf.Variable(np.zeros(3, np.float32), name="b")
    y = tf.nn.relu(tf.matmul(x, w) + b)
loss = tf.reduce_mean(y * y, name="loss")
graph = tf.get_default_graph()
def make_step():
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return sess.make_callable(loss, [x])
"""


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    return path


def test_inspect_lists_the_graph_its_op_counts_and_parameters(model, capsys):
    assert main(["inspect", f"{model}:graph"]) == 0
    out = capsys.readouterr().out
    assert "layer/MatMul" in out and "layer/Relu" in out
    assert "2 variables, 15 parameters" in out  # 4x3 weights and 3 biases
    counts = out.splitlines()[-2]
    assert counts.startswith("14 ops: ") and "VariableV2 2" in counts and "MatMul 1" in counts
    assert main(["inspect", f"{model}:y"]) == 0  # what y needs: no loss, no initializers
    out = capsys.readouterr().out
    assert "loss" not in out and "Assign" not in out and "2 variables, 15 parameters" in out


def test_optimize_prints_the_report_the_api_gives(model, capsys):
    assert main(["optimize", f"{model}:loss", "--details"]) == 0
    out = capsys.readouterr().out
    namespace = {}
    with tf.Graph().as_default():  # the names the script's run gave
        exec(compile(MODEL, "model.py", "exec"), namespace)
        graph, report = tf.optimize(namespace["loss"])
    assert report.details().splitlines()[-1] in out  # the same changes
    assert "fused" in out and graph.as_text().splitlines()[-1] in out


def test_source_prints_the_generated_module_without_compiling(model, capsys):
    assert main(["source", f"{model}:loss"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# graphc generated: step") and "def step(" in out
    assert "np.dot(x, layer_w_buffer)" in out
    assert main(["source", f"{model}:make_step"]) == 0  # an Executable: its own source
    assert "def step(" in capsys.readouterr().out


def test_the_commands_read_saved_graphs(model, tmp_path, capsys):
    assert main(["inspect", f"{model}:graph"]) == 0
    from_script = capsys.readouterr().out
    namespace = {}
    with tf.Graph().as_default() as graph:
        exec(compile(MODEL, "model.py", "exec"), namespace)
        path = graph.save(tmp_path / "model.graphc")
    assert main(["inspect", path]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == from_script.splitlines()[-2:]
    assert main(["source", path]) == 0
    assert "def step(" in capsys.readouterr().out
    (tmp_path / "bad.graphc").write_bytes(b"junk")
    assert main(["inspect", str(tmp_path / "bad.graphc")]) == 1
    assert "is not a readable .npz" in capsys.readouterr().err


def test_bad_input_is_one_line_and_exit_status_1(model, capsys):
    for argv, words in (
        (["inspect", f"{model}:missing"], "defines no 'missing'"),
        (["optimize", "no_colon_here"], "expected SCRIPT:NAME"),
        (["source", f"{model}:MODEL_NOT_THERE"], "defines no"),
        (["inspect", f"{model}:np"], "expected a graph, session, step, tensor or op"),
    ):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1
    done = subprocess.run(
        [sys.executable, "-m", "graphc", "inspect", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "SCRIPT:NAME" in done.stdout
