"""tf.app.run and tf.flags: absl's command-line syntax, typed values, bad input, and a
TF1-style script run as a program."""

import os
import subprocess
import sys
import textwrap
import types

import pytest

import graphc as tf
from graphc import flags
from graphc.flags import FlagValues, IllegalFlagValueError, UnrecognizedFlagError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def fv():
    values = FlagValues()
    flags.DEFINE_string("data_dir", "/tmp/data", "Where the data is.", flag_values=values)
    flags.DEFINE_integer("batch_size", 32, "Examples per step.", flag_values=values)
    flags.DEFINE_float("learning_rate", 0.01, "Step size.", flag_values=values)
    flags.DEFINE_boolean("fake_data", False, "Use fake data.", flag_values=values)
    flags.DEFINE_bool("verbose", True, "Say more.", flag_values=values)
    flags.DEFINE_enum("mode", "train", ["train", "eval"], "What to do.", flag_values=values)
    flags.DEFINE_list("layers", "128,64", "Hidden sizes.", flag_values=values)
    return values


def test_defaults_are_typed_before_any_flag_is_given(fv):
    fv(["prog"])
    assert fv.flag_values_dict() == {
        "data_dir": "/tmp/data",
        "batch_size": 32,
        "learning_rate": 0.01,
        "fake_data": False,
        "verbose": True,
        "mode": "train",
        "layers": ["128", "64"],
    }


@pytest.mark.parametrize(
    "argv, name, value",
    [
        (["--batch_size=64"], "batch_size", 64),
        (["--batch_size", "64"], "batch_size", 64),
        (["-batch_size=64"], "batch_size", 64),
        (["-batch_size", "64"], "batch_size", 64),
        (["--batch_size=0x40"], "batch_size", 64),
        (["--batch_size=-3"], "batch_size", -3),
        (["--batch_size=1", "--batch_size=2"], "batch_size", 2),
        (["--learning_rate=1e-3"], "learning_rate", 1e-3),
        (["--learning_rate", "-0.5"], "learning_rate", -0.5),
        (["--data_dir="], "data_dir", ""),
        (["--data_dir", "a b"], "data_dir", "a b"),
        (["--fake_data"], "fake_data", True),
        (["--fake_data=true"], "fake_data", True),
        (["--fake_data=T"], "fake_data", True),
        (["--fake_data=1"], "fake_data", True),
        (["--noverbose"], "verbose", False),
        (["--verbose=false"], "verbose", False),
        (["--verbose=0"], "verbose", False),
        (["--mode=eval"], "mode", "eval"),
        (["--layers=3, 4 ,5"], "layers", ["3", "4", "5"]),
        (["--layers="], "layers", []),
        (['--layers="a,b",c'], "layers", ["a,b", "c"]),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_command_line_syntax(fv, argv, name, value):
    fv(["prog", *argv])
    assert getattr(fv, name) == value
    assert type(getattr(fv, name)) is type(value)
    assert fv[name].present


def test_arguments_left_for_main_keep_their_order(fv):
    argv = ["prog", "a", "--batch_size=8", "--unknown=1", "b", "--fake_data", "--other", "c"]
    assert fv(argv, known_only=True) == ["prog", "a", "--unknown=1", "b", "--other", "c"]
    assert (fv.batch_size, fv.fake_data) == (8, True)


def test_double_dash_ends_the_flags(fv):
    assert fv(["prog", "--", "--batch_size=1"]) == ["prog", "--batch_size=1"]
    assert fv(["p", "-", "--", "--mode=eval"], known_only=True) == ["p", "-", "--", "--mode=eval"]
    assert fv.batch_size == 32
    assert fv.mode == "train"


def test_a_boolean_flag_does_not_take_the_next_argument(fv):
    assert fv(["prog", "--fake_data", "false"]) == ["prog", "false"]
    assert fv.fake_data is True


def test_reading_a_flag_parses_sys_argv_once_leaving_unknown_flags(fv, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["prog", "--batch_size=7", "--pytest-style", "x"])
    assert not fv.is_parsed()
    assert fv.batch_size == 7
    assert fv.is_parsed()
    monkeypatch.setattr(sys, "argv", ["prog", "--batch_size=9"])
    assert fv.batch_size == 7  # parsed already


def test_assignment_stores_the_value_and_survives_the_implicit_parse(fv, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["prog"])
    fv.learning_rate = 0.5
    assert fv.learning_rate == 0.5
    with pytest.raises(UnrecognizedFlagError, match="no flag --nope"):
        fv.nope = 1


def test_old_tf1_spellings(fv, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["prog", "--mode=eval", "rest"])
    assert fv._parse_flags() == ["rest"]
    assert fv.__flags["mode"] == "eval"
    old = flags.DEFINE_integer(
        flag_name="steps", default_value="5", docstring="Steps.", flag_values=fv
    )
    assert old.value == 5
    assert fv.steps == 5


def test_unparse_and_flag_objects(fv):
    fv(["prog", "--batch_size=3"])
    assert "batch_size" in fv
    assert fv["batch_size"].default == 32
    assert len(fv) == 7
    assert list(fv)[:2] == ["data_dir", "batch_size"]
    assert fv.get_flag_value("missing", "dflt") == "dflt"
    fv.unparse_flags()
    assert not fv.is_parsed()
    assert fv["batch_size"].value == 32
    del fv.batch_size
    assert "batch_size" not in fv


def test_help_names_each_flag_its_default_and_type(fv):
    text = fv.get_help()
    assert "--batch_size: Examples per step.\n    (default: '32')\n    (an integer)" in text
    assert "--[no]fake_data: Use fake data." in text
    assert "(one of train|eval)" in text
    assert "(default: '128,64')" in text
    assert str(fv) == text


# ---- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batch_size=abc"], r"flag --batch_size=abc: invalid literal for int"),
        (["--batch_size=1.5"], r"--batch_size=1.5"),
        (["--learning_rate=fast"], r"--learning_rate=fast: could not convert"),
        (["--fake_data=maybe"], r"--fake_data=maybe: a boolean flag takes true or false"),
        (["--mode=predict"], r"--mode=predict: takes one of train\|eval"),
        (["--batch_size"], r"flag --batch_size needs a value"),
        (["--nofake_data=1"], r"--nofake_data takes no value"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_a_bad_value_raises_and_changes_no_flag(fv, argv, message):
    with pytest.raises(IllegalFlagValueError, match=message):
        fv(["prog", "--mode=eval", "--verbose=false", *argv])
    assert (fv["mode"].value, fv["verbose"].value) == ("train", True)
    assert not fv.is_parsed()


def test_unknown_flags_raise_unless_known_only(fv):
    with pytest.raises(UnrecognizedFlagError, match="--bacth_size=3"):
        fv(["prog", "--bacth_size=3"])
    with pytest.raises(UnrecognizedFlagError):
        fv(["prog", "--nobatch_size"])  # --noX only for booleans
    assert fv(["prog", "--nobatch_size"], known_only=True) == ["prog", "--nobatch_size"]
    with pytest.raises(AttributeError, match="no flag --bacth_size is defined"):
        fv.bacth_size  # noqa: B018


@pytest.mark.parametrize(
    "define, message",
    [
        (lambda v: flags.DEFINE_integer("n", "ten", "", flag_values=v), r"--n: default 'ten'"),
        (lambda v: flags.DEFINE_integer("n", 2.5, "", flag_values=v), r"takes an int, not float"),
        (lambda v: flags.DEFINE_integer("n", True, "", flag_values=v), r"not bool"),
        (lambda v: flags.DEFINE_string("s", 3, "", flag_values=v), r"takes a string, not int"),
        (lambda v: flags.DEFINE_float("f", "x", "", flag_values=v), r"could not convert"),
        (lambda v: flags.DEFINE_boolean("b", "yes", "", flag_values=v), r"true or false"),
        (lambda v: flags.DEFINE_enum("e", "c", ["a", "b"], "", flag_values=v), r"one of a\|b"),
        (lambda v: flags.DEFINE_list("l", 5, "", flag_values=v), r"list or a string"),
        (
            lambda v: flags.DEFINE_integer("n", 0, "", lower_bound=1, flag_values=v),
            r"0 is below the lower bound 1",
        ),
    ],
    ids=["int-text", "int-float", "int-bool", "str-int", "float", "bool", "enum", "list", "bound"],
)
def test_a_bad_default_raises_where_the_flag_is_defined(define, message):
    with pytest.raises(IllegalFlagValueError, match=message):
        define(FlagValues())


def test_bad_definitions(fv):
    with pytest.raises(flags.DuplicateFlagError, match="--mode is defined twice"):
        flags.DEFINE_string("mode", "x", "", flag_values=fv)
    with pytest.raises(ValueError, match="enum_values must be non-empty"):
        flags.DEFINE_enum("e", None, [], "", flag_values=fv)
    with pytest.raises(flags.Error, match="is a FlagValues method"):
        flags.DEFINE_string("get_help", "", "", flag_values=fv)
    with pytest.raises(flags.Error, match="not a flag name"):
        flags.DEFINE_string("a=b", "", "", flag_values=fv)
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        flags.DEFINE_string("x", "", "", flag_values=fv, short_name="x")
    with pytest.raises(TypeError, match="non-empty list of strings"):
        fv("--batch_size=3")


def test_bounds_and_required_flags(fv):
    flags.DEFINE_integer("n", 5, "", lower_bound=1, upper_bound=9, flag_values=fv)
    flags.DEFINE_string("out", None, "Output.", flag_values=fv)
    flags.mark_flags_as_required(["out"], flag_values=fv)
    with pytest.raises(IllegalFlagValueError, match="--n=10: 10 is above the upper bound 9"):
        fv(["prog", "--n=10", "--out=x"])
    with pytest.raises(IllegalFlagValueError, match="--out must have a value other than None"):
        fv(["prog", "--n=2"])
    fv(["prog", "--n=9", "--out=x"])
    assert (fv.n, fv.out) == (9, "x")


def test_flags_module_and_app_module_names():
    assert tf.app.flags is tf.flags is flags
    assert isinstance(tf.flags.FLAGS, FlagValues)
    with pytest.raises(AttributeError, match=r"does not provide TF1's tf\.flags\.DEFINE_multi"):
        tf.flags.DEFINE_multi_string  # noqa: B018
    with pytest.raises(AttributeError, match=r"tf\.app\.usage_error"):
        tf.app.usage_error  # noqa: B018


# ---- tf.app.run ---------------------------------------------------------------------------
@pytest.fixture
def global_flags(monkeypatch):
    fresh = FlagValues()
    monkeypatch.setattr(flags, "FLAGS", fresh)
    flags.DEFINE_integer("steps", 3, "Steps.")
    return fresh


def test_run_calls_main_with_the_rest_and_exits_with_its_value(global_flags):
    seen = []

    def main(argv):
        seen.append((argv, global_flags.steps))
        return 4

    with pytest.raises(SystemExit) as exit_:
        tf.app.run(main=main, argv=["prog", "--steps=5", "extra", "--x"])
    assert exit_.value.code == 4
    assert seen == [(["prog", "extra", "--x"], 5)]


def test_run_finds_the_scripts_main(global_flags, monkeypatch):
    script = types.ModuleType("__main__")
    script.main = lambda argv: None
    monkeypatch.setitem(sys.modules, "__main__", script)
    with pytest.raises(SystemExit) as exit_:
        tf.app.run(argv=["prog"])
    assert exit_.value.code is None
    del script.main
    with pytest.raises(AttributeError, match=r"tf.app.run\(\) needs a main function"):
        tf.app.run(argv=["prog"])


def test_run_reports_a_bad_flag_and_exits_1_before_main(global_flags, capsys):
    with pytest.raises(SystemExit) as exit_:
        tf.app.run(main=pytest.fail, argv=["prog", "--steps=many"])
    assert exit_.value.code == 1
    assert "FATAL Flags parsing error: flag --steps=many" in capsys.readouterr().err


SCRIPT = '''\
"""Trains nothing, in TF1 style."""
import graphc as tf

flags = tf.app.flags
flags.DEFINE_integer("steps", 2, "How many steps.")
flags.DEFINE_float("lr", 0.5, "Learning rate.")
flags.DEFINE_boolean("fail", False, "Exit with status 3.")
FLAGS = flags.FLAGS


def main(argv):
    x = tf.placeholder(tf.float32, [None], name="x")
    y = tf.reduce_sum(x * FLAGS.lr)
    with tf.Session(target="numpy") as sess:
        total = sess.run(y, {x: [float(FLAGS.steps)] * FLAGS.steps})
    print("steps", FLAGS.steps, "lr", FLAGS.lr, "total", total, "argv", argv[1:])
    return 3 if FLAGS.fail else None


if __name__ == "__main__":
    tf.app.run()
'''


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("app") / "train.py"
    path.write_text(textwrap.dedent(SCRIPT))
    return str(path)


def _run(script, *args):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run(
        [sys.executable, script, *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_tf1_script_runs_with_its_flags_and_exit_status(script):
    done = _run(script, "--steps", "4", "--lr=0.25", "left", "--unknown")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "steps 4 lr 0.25 total 4.0 argv ['left', '--unknown']"
    failed = _run(script, "--fail")
    assert failed.returncode == 3
    assert failed.stdout.startswith("steps 2 lr 0.5 total 2.0")


def test_a_tf1_script_prints_help_and_flag_errors(script):
    helped = _run(script, "--help")
    assert helped.returncode == 1
    assert helped.stdout.startswith("Trains nothing, in TF1 style.")
    assert "--steps: How many steps.\n    (default: '2')\n    (an integer)" in helped.stdout
    assert "--[no]fail" in helped.stdout
    bad = _run(script, "--steps=two")
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert "FATAL Flags parsing error: flag --steps=two" in bad.stderr


def test_flag_values_copy_and_probe_like_objects(fv):
    import copy

    fv(["prog", "--batch_size=5"])
    assert copy.copy(fv).batch_size == 5
    assert not hasattr(fv, "__wrapped__")
