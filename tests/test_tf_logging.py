"""tf.logging: TF1's functions on the standard logger "graphc", its default verbosity,
its handler, the caller's line in records, and the every-n/first-n counters."""

import logging
import os
import subprocess
import sys

import pytest

import graphc as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def logged(caplog):
    """Records of the "graphc" logger; its level is restored afterwards."""
    logger = logging.getLogger("graphc")
    level = logger.level
    caplog.set_level(logging.DEBUG)  # the root's threshold: the verbosity decides
    yield caplog
    logger.setLevel(level)


def test_constants_are_the_standard_levels():
    levels = (tf.logging.DEBUG, tf.logging.INFO, tf.logging.WARN, tf.logging.ERROR)
    assert levels == (10, 20, 30, 40)
    assert tf.logging.FATAL == logging.CRITICAL == 50


def test_verbosity_decides_what_is_logged(logged):
    tf.logging.set_verbosity(tf.logging.WARN)
    tf.logging.info("hidden")
    tf.logging.warning("shown %d", 1)
    tf.logging.set_verbosity(tf.logging.INFO)
    assert tf.logging.get_verbosity() == tf.logging.INFO
    tf.logging.info("now shown %s", "too")
    tf.logging.debug("hidden")
    assert [(r.name, r.levelname, r.getMessage()) for r in logged.records] == [
        ("graphc", "WARNING", "shown 1"),
        ("graphc", "INFO", "now shown too"),
    ]


def test_every_function_logs_at_its_level_and_names_the_callers_line(logged):
    tf.logging.set_verbosity(tf.logging.DEBUG)
    line = sys._getframe().f_lineno + 1
    tf.logging.debug("d")
    tf.logging.info("i")
    tf.logging.warn("w")
    tf.logging.warning("w2")
    tf.logging.error("e")
    tf.logging.fatal("f")  # logs; does not exit
    tf.logging.log(tf.logging.INFO, "l %s", "x")
    tf.logging.vlog(tf.logging.WARN, "v")
    tf.logging.log_if(tf.logging.INFO, "if", True)
    tf.logging.log_if(tf.logging.INFO, "not", False)
    tf.logging.TaskLevelStatusMessage("task")
    levels = [(r.levelno, r.getMessage()) for r in logged.records]
    assert levels == [
        (10, "d"),
        (20, "i"),
        (30, "w"),
        (30, "w2"),
        (40, "e"),
        (50, "f"),
        (20, "l x"),
        (30, "v"),
        (20, "if"),
        (40, "task"),
    ]
    assert {r.filename for r in logged.records} == {os.path.basename(__file__)}
    assert [r.lineno for r in logged.records[:3]] == [line, line + 1, line + 2]
    tf.logging.flush()


def test_every_n_and_first_n_count_per_line(logged):
    for i in range(7):
        tf.logging.log_every_n(tf.logging.WARN, "every %d", 3, i)
        tf.logging.log_first_n(tf.logging.WARN, "first %d", 2, i)
    tf.logging.log_first_n(tf.logging.WARN, "another line %d", 2, 9)
    assert [r.getMessage() for r in logged.records] == [
        "every 0",
        "first 0",
        "first 1",
        "every 3",
        "every 6",
        "another line 9",
    ]
    assert {r.filename for r in logged.records} == {os.path.basename(__file__)}
    with pytest.raises(ValueError, match="n >= 1"):
        tf.logging.log_every_n(tf.logging.WARN, "x", 0)


def test_a_missing_logging_name_says_so():
    with pytest.raises(AttributeError, match=r"graphc does not provide TF1's tf\.logging\.nope"):
        tf.logging.nope  # noqa: B018


def _python(code):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_script_sees_tf1s_output_and_default_verbosity():
    done = _python(
        "import logging, graphc as tf\n"
        "assert logging.getLogger('graphc').handlers == []  # importing installs nothing\n"
        "assert tf.logging.get_verbosity() == tf.logging.WARN\n"
        "tf.logging.info('not shown')\n"
        "tf.logging.warning('careful %d', 1)\n"
        "tf.logging.set_verbosity(tf.logging.INFO)\n"
        "tf.logging.info('step %d', 2)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "WARNING:graphc:careful 1\nINFO:graphc:step 2\n"
    assert done.stdout == ""


def test_a_configured_root_logger_is_left_to_print_once():
    done = _python(
        "import logging, graphc as tf\n"
        "logging.basicConfig(format='root %(name)s %(message)s')\n"
        "tf.logging.warning('once')\n"
    )
    assert done.stderr == "root graphc once\n"
