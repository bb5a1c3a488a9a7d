"""`tf.logging`: TF1's logging functions, on the standard `logging` logger named "graphc".

Invariants (TF1's `tf_logging`, with "graphc" for "tensorflow"):
- The verbosity is the logger's level; until `set_verbosity` it is inherited (WARN
  with an unconfigured root logger), so `info` prints nothing by default.
- The first call of any function here installs, once, a stderr handler printing
  `INFO:graphc:message` on the "graphc" logger, unless the root logger already has a
  handler (then records reach it by propagation instead, never twice). In an
  interactive session the handler writes to stdout and the verbosity starts at INFO.
  Importing graphc installs nothing: only scripts that use `tf.logging` get the handler.
- Records name the caller's file and line, not this module's.
- `fatal` logs at FATAL and returns, as TF1's does (it does not exit).
- `log_every_n` and `log_first_n` count calls per call site (file and line).
"""

from __future__ import annotations

import logging
import sys
import threading
from logging import DEBUG, ERROR, FATAL, INFO, WARN
from typing import Any

from graphc.compat import missing_names

__all__ = [
    "DEBUG",
    "ERROR",
    "FATAL",
    "INFO",
    "WARN",
    "TaskLevelStatusMessage",
    "debug",
    "error",
    "fatal",
    "flush",
    "get_logger",
    "get_verbosity",
    "info",
    "log",
    "log_every_n",
    "log_first_n",
    "log_if",
    "set_verbosity",
    "vlog",
    "warn",
    "warning",
]

LOGGER = "graphc"
_configured = False
_lock = threading.Lock()
_counts: dict[tuple[str, int], int] = {}


def get_logger() -> logging.Logger:
    """The "graphc" logger, with TF1's handler installed on first use (see the module)."""
    global _configured
    logger = logging.getLogger(LOGGER)
    if _configured:
        return logger
    with _lock:
        if not _configured and not logging.getLogger().handlers:
            interactive = hasattr(sys, "ps1") or bool(sys.flags.interactive)
            handler = logging.StreamHandler(sys.stdout if interactive else sys.stderr)
            handler.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
            logger.addHandler(handler)
            if interactive and logger.level == logging.NOTSET:
                logger.setLevel(INFO)
        _configured = True
    return logger


def _emit(level: int, msg: Any, args: tuple, kwargs: dict[str, Any], depth: int = 1) -> None:
    # stacklevel: the record names the script's line, `depth` frames above our function
    kwargs.setdefault("stacklevel", 2 + depth)
    get_logger().log(level, msg, *args, **kwargs)


def log(level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
    """Logs `msg % args` at `level`."""
    _emit(level, msg, args, kwargs)


def debug(msg: Any, *args: Any, **kwargs: Any) -> None:
    _emit(DEBUG, msg, args, kwargs)


def info(msg: Any, *args: Any, **kwargs: Any) -> None:
    _emit(INFO, msg, args, kwargs)


def warning(msg: Any, *args: Any, **kwargs: Any) -> None:
    _emit(WARN, msg, args, kwargs)


def warn(msg: Any, *args: Any, **kwargs: Any) -> None:
    """TF1's older spelling of `warning`."""
    _emit(WARN, msg, args, kwargs)


def error(msg: Any, *args: Any, **kwargs: Any) -> None:
    _emit(ERROR, msg, args, kwargs)


def fatal(msg: Any, *args: Any, **kwargs: Any) -> None:
    """Logs at FATAL (CRITICAL); it does not exit the program (as in TF1)."""
    _emit(FATAL, msg, args, kwargs)


def vlog(level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
    """Logs at `level` (TF1's verbose log is a plain `log`)."""
    _emit(level, msg, args, kwargs)


def TaskLevelStatusMessage(msg: Any) -> None:  # TF1's name
    """Logs `msg` at ERROR, as TF1 does."""
    _emit(ERROR, msg, (), {})


def flush() -> None:
    """Flushes the handlers of the "graphc" logger."""
    for handler in get_logger().handlers:
        handler.flush()


def log_if(level: int, msg: Any, condition: Any, *args: Any) -> None:
    """Logs `msg % args` at `level` if `condition` holds."""
    if condition:
        _emit(level, msg, args, {})


def log_every_n(level: int, msg: Any, n: int, *args: Any) -> None:
    """Logs on the 1st, (n+1)th, (2n+1)th... call from the same line of code."""
    if n < 1:
        raise ValueError(f"log_every_n needs n >= 1, got {n}")
    if _next_count(sys._getframe(1)) % n == 0:
        _emit(level, msg, args, {})


def log_first_n(level: int, msg: Any, n: int, *args: Any) -> None:
    """Logs on the first `n` calls from the same line of code only."""
    if _next_count(sys._getframe(1)) < n:
        _emit(level, msg, args, {})


def _next_count(frame: Any) -> int:
    """How many times the line of `frame` called before (0 the first time)."""
    site = (frame.f_code.co_filename, frame.f_lineno)
    with _lock:
        _counts[site] = count = _counts.get(site, -1) + 1
    return count


def get_verbosity() -> int:
    """The effective level of the "graphc" logger (WARN unless set or configured)."""
    return get_logger().getEffectiveLevel()


def set_verbosity(v: int | str) -> None:
    """Logs below level `v` (DEBUG, INFO, WARN, ERROR, FATAL) are dropped."""
    get_logger().setLevel(v)


__getattr__ = missing_names(__name__, "tf.logging")
