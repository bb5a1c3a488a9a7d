"""What a TF1 name graphc lacks raises: an AttributeError that says so and where to look.

Each public module (`graphc`, `graphc.nn`, `graphc.train`, ...) ends with
`__getattr__ = missing_names(__name__, "tf.nn")`.

Invariants:
- Python calls a module's `__getattr__` only after normal lookup failed, so names that
  exist, `hasattr` on them, and `from graphc import <submodule>` (which falls back to
  importing the submodule on AttributeError) behave as without it.
- Names that start with an underscore, dunders included (`__path__`, `__wrapped__`,
  `__file__`, which import machinery, pickle, doctest and inspect probe), raise the
  plain AttributeError Python raises, without building a hint: they are never TF1 names.
- The error carries `name` and `obj` (the module), so Python's "Did you mean" hint works.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

COMPAT_PAGE = "docs/tf1-compat.md"


def missing_names(module: str, public: str) -> Callable[[str], NoReturn]:
    """A module-level `__getattr__` for the module named `module`, which scripts spell
    `public` (such as "tf.nn"): a missing name raises an AttributeError naming it."""

    def __getattr__(name: str) -> NoReturn:
        plain = f"module {module!r} has no attribute {name!r}"
        if name.startswith("_"):
            raise AttributeError(plain)
        raise AttributeError(
            f"{plain}: graphc does not provide TF1's {public}.{name}; {COMPAT_PAGE} lists "
            "the TF1 names graphc provides and the alternatives to those it does not",
            name=name,
            obj=sys.modules.get(module),
        )

    return __getattr__
