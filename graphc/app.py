"""`tf.app`: TF1's `run(main, argv)` entry point, and `tf.app.flags`.

Invariants of `run` (TF1's, which runs absl's `app.run`):
- It parses the flags `tf.flags.FLAGS` defines from `argv` (`sys.argv` if None) and
  calls `main` with the arguments left (program name first, then the arguments and
  flags it does not define, in order).
- It never returns: it exits with `main`'s return value through `sys.exit` (None is
  status 0, an int that status; anything else is printed and gives status 1).
- A flag value that its type refuses prints `FATAL Flags parsing error: ...` to stderr
  and exits with status 1 before `main` runs; `--help` (`-h`, `--helpshort`,
  `--helpfull`) prints the script's docstring and every flag's help to stdout and exits
  with status 1, as absl does.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from graphc import flags
from graphc.compat import missing_names
from graphc.flag_values import HelpRequested

__all__ = ["flags", "run", "usage"]


def run(
    main: Callable[[list[str]], Any] | None = None, argv: Sequence[str] | None = None
) -> NoReturn:
    """Parses the known flags, then `sys.exit(main(remaining_argv))`.

    Args:
      main: the function to run (the `main` of the `__main__` module if None).
      argv: the command line (`sys.argv` if None), program name first.
    """
    main = main or _main_of_script()
    try:
        args = flags.FLAGS(sys.argv if argv is None else argv, known_only=True, with_help=True)
    except HelpRequested:
        usage()
        sys.exit(1)
    except flags.Error as exc:
        sys.stderr.write(f"FATAL Flags parsing error: {exc}\n")
        sys.stderr.write("Pass --help to see help on flags.\n")
        sys.exit(1)
    sys.exit(main(args))


def _main_of_script() -> Callable[[list[str]], Any]:
    main = getattr(sys.modules.get("__main__"), "main", None)
    if not callable(main):
        raise AttributeError(
            "tf.app.run() needs a main function: define main(argv) in the script, "
            "or call tf.app.run(main=...)"
        )
    return main


def usage() -> None:
    """Prints the script's docstring (or a USAGE line) and every flag's help to stdout."""
    program = sys.argv[0] if sys.argv else "python"
    doc = getattr(sys.modules.get("__main__"), "__doc__", None)
    if doc:
        # absl's convention: each %s in the docstring is the program's name
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            doc %= (program,) * (doc.count("%") - 2 * doc.count("%%"))
    else:
        doc = f"\nUSAGE: {program} [flags]\n"
    text = doc + (f"\nflags:\n{flags.FLAGS.get_help()}\n" if len(flags.FLAGS) else "")
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `script.py --help | head` is fine
        pass


__getattr__ = missing_names(__name__, "tf.app")
