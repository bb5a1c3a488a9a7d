"""A TF1 name graphc lacks raises an AttributeError that says so and points to the
compatibility page, without disturbing hasattr, imports or dunder probes; tf.errors has
TF1's names and codes; tf.train reads the checkpoint index."""

import importlib
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import graphc as tf
from graphc import errors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODULES = {
    "tf": tf,
    "tf.nn": tf.nn,
    "tf.train": tf.train,
    "tf.losses": tf.losses,
    "tf.errors": tf.errors,
    "tf.test": tf.test,
    "tf.app": tf.app,
    "tf.flags": tf.flags,
    "tf.gfile": tf.gfile,
    "tf.logging": tf.logging,
    "tf.io": tf.io,
    "tf.initializers": tf.initializers,
    "tf.layers": tf.layers,
    "tf.metrics": tf.metrics,
    "tf.debugging": tf.debugging,
    "tf.summary": tf.summary,
}


@pytest.mark.parametrize("public", list(MODULES))
def test_a_missing_name_says_graphc_does_not_provide_it(public):
    module = MODULES[public]
    with pytest.raises(AttributeError) as error:
        module.something_we_lack  # noqa: B018
    message = str(error.value)
    assert f"graphc does not provide TF1's {public}.something_we_lack" in message
    assert "docs/tf1-compat.md" in message
    assert error.value.name == "something_we_lack"
    assert error.value.obj is module
    assert not hasattr(module, "something_we_lack")


def test_the_page_it_points_to_exists():
    page = os.path.join(ROOT, "docs", "tf1-compat.md")
    with open(page) as f:
        text = f.read()
    assert "## scripts: app, flags, gfile, logging, config" in text


def test_names_that_exist_are_untouched():
    assert hasattr(tf, "Variable")
    assert hasattr(tf.nn, "relu")
    assert getattr(tf, "nope", "default") == "default"
    assert tf.train.Saver is tf.train.Saver


@pytest.mark.parametrize("name", ["__path__", "__wrapped__", "__getstate_x__", "_private"])
def test_private_and_dunder_names_raise_plain_attribute_errors(name):
    with pytest.raises(AttributeError) as error:
        getattr(tf.nn, name)
    assert str(error.value) == f"module 'graphc.nn' has no attribute {name!r}"


def test_imports_pickle_and_introspection_still_work():
    from graphc import datasets

    assert importlib.import_module("graphc.datasets") is datasets
    assert pickle.loads(pickle.dumps(tf.train.Saver)) is tf.train.Saver
    assert pickle.loads(pickle.dumps(tf.gfile.Exists)) is tf.gfile.Exists
    assert "reduce_mean" in dir(tf)


def test_python_suggests_the_name_meant():
    done = subprocess.run(
        [sys.executable, "-c", "import graphc as tf; tf.reduce_meen"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=120,
    )
    assert "graphc does not provide TF1's tf.reduce_meen" in done.stderr
    assert "Did you mean: 'reduce_mean'?" in done.stderr


# ---- tf.errors: TF1's names and codes ---------------------------------------------------
CODES = {
    "InvalidArgumentError": 3,
    "NotFoundError": 5,
    "AlreadyExistsError": 6,
    "PermissionDeniedError": 7,
    "ResourceExhaustedError": 8,
    "FailedPreconditionError": 9,
    "UnimplementedError": 12,
    "DataLossError": 15,
    "UnknownError": 2,
}


@pytest.mark.parametrize("name", list(CODES))
def test_errors_carry_tf1s_codes(name):
    kind = getattr(tf.errors, name)
    error = kind("what happened")
    assert issubclass(kind, tf.errors.OpError)
    assert issubclass(kind, errors.GraphcError)
    assert error.error_code == CODES[name]
    assert error.message == "what happened"
    assert (error.node_def, error.op) == (None, None)


def test_status_code_constants_are_tf1s():
    names = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED"]
    names += ["NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED"]
    names += ["FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL"]
    names += ["UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"]
    assert [getattr(tf.errors, n) for n in names] == list(range(17))


def test_errors_keep_their_builtin_bases():
    assert issubclass(tf.errors.NotFoundError, FileNotFoundError)
    assert issubclass(tf.errors.AlreadyExistsError, FileExistsError)
    assert issubclass(tf.errors.PermissionDeniedError, PermissionError)
    assert issubclass(tf.errors.InvalidArgumentError, ValueError)
    assert issubclass(tf.errors.FailedPreconditionError, RuntimeError)
    assert issubclass(tf.errors.UnimplementedError, NotImplementedError)


# ---- tf.train: the checkpoint index -----------------------------------------------------
def test_get_checkpoint_state_and_checkpoint_exists(tmp_path):
    folder = str(tmp_path)
    assert tf.train.get_checkpoint_state(folder) is None
    w = tf.Variable(np.float32(1.0), name="w")
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        saved = [saver.save(sess, os.path.join(folder, "model"), global_step=s) for s in (1, 2, 3)]
    state = tf.train.get_checkpoint_state(folder)
    assert state.model_checkpoint_path == saved[-1]
    assert state.all_model_checkpoint_paths == saved[1:]
    assert tf.train.latest_checkpoint(folder) == saved[-1]
    assert [tf.train.checkpoint_exists(p) for p in saved] == [False, True, True]
    assert tf.train.checkpoint_exists(os.path.join(folder, "model-*"))
    assert not tf.train.checkpoint_exists(os.path.join(folder, "other"))
    assert not tf.train.checkpoint_exists(folder)
    assert w.name == "w:0"
