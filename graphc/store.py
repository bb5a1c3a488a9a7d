"""`VariableStore`: the variables of one session, which every backend reads and writes.

Invariants:
- A value is a C-contiguous array the store owns, in the variable's natural shape
  (a backend wanting another layout takes a view, such as `reshape((1,))` of a scalar,
  and writes through it).
- `commit` is the only way buffers are added or replaced, and it runs only after a
  whole run succeeded, so a failed run changes no variable; it bumps `version`, which
  tells executables holding views of the buffers to take them again.
- A fetched or saved value is a copy (`value`), so it never changes afterwards.
- Once the session is closed (`closed`), calling an executable raises
  `closed_session()`, the error `Session.run` raises.
- Each random op draws from one generator per session, kept by the op's name (passes
  may rebuild the node), seeded from the op's `seed` attribute.
- A device target may keep the newest values on its device (`defer`): reading `values`
  copies them back first, in the order they were deferred, so the host never sees an
  older value than the device holds; `commit` does the same before it adds its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from graphc.errors import FailedPreconditionError, GraphcError
from graphc.feeds import convert_feed
from graphc.ir import Node


def uninitialized(var: Node) -> FailedPreconditionError:
    """The error for reading a variable that has no value yet (one message everywhere)."""
    return FailedPreconditionError(
        f"attempting to use uninitialized variable '{var.name}' "
        f"(created at {var.site}); run its initializer first"
    )


def closed_session() -> GraphcError:
    """The error for running anything of a closed session (one message everywhere)."""
    return GraphcError("attempted to use a closed Session")


class VariableStore:
    """Values, a version and random generators: the state one Session keeps between runs."""

    def __init__(self) -> None:
        self._values: dict[Node, np.ndarray] = {}
        # newer values a device holds: functions copying them back, and their variables
        self._deferred: list[Callable[[], dict[Node, np.ndarray]]] = []
        self._deferred_vars: set[Node] = set()
        self.version = 0  # bumped whenever the set of buffers changes
        self._rngs: dict[str, np.random.Generator] = {}
        # state a target keeps on its device per op (the cuda target's random generators)
        self.device: dict[str, Any] = {}
        self.closed = False  # set by Session.close; executables read it once per call

    @property
    def values(self) -> dict[Node, np.ndarray]:
        """Every variable's value on the host (what a device holds is copied back first)."""
        if self._deferred:
            fetchers, self._deferred = self._deferred, []
            values = dict(self._values)
            for fetch in fetchers:
                values.update(fetch())
            self._values, self._deferred_vars = values, set()
        return self._values

    def __contains__(self, var: Node) -> bool:
        return var in self._values or var in self._deferred_vars

    def require(self, variables: Iterable[Node]) -> None:
        """Raises for the first of `variables` without a value (before anything runs)."""
        for var in variables:
            if var not in self:
                raise uninitialized(var)

    def commit(self, fresh: dict[Node, np.ndarray]) -> None:
        """Adds or replaces buffers (after a successful run): arrays the store now owns."""
        if fresh:
            self._values = {**self.values, **fresh}
            self.version += 1

    def defer(self, variables: Iterable[Node], fetch: Callable[[], dict[Node, np.ndarray]]) -> None:
        """Records that a device now holds the newest values of `variables` (after a
        successful run); `fetch()` gives them as host arrays when someone reads `values`."""
        self._deferred.append(fetch)
        self._deferred_vars.update(variables)
        self.version += 1

    def value(self, var: Node) -> np.ndarray:
        """A copy of a variable's current value."""
        if var not in self:
            raise FailedPreconditionError(f"variable '{var.name}' is not initialized")
        return np.array(self.values[var])

    def load(self, var: Node, value: Any) -> None:
        """Sets a variable's value (converted to its dtype and checked against its shape)."""
        self.load_all({var: value})

    def load_all(self, values: dict[Node, Any]) -> None:
        """Sets several variables at once: converts and checks all, then one commit, so
        either every variable changes or (when one value does not fit) none does."""
        self.commit({var: np.array(convert_feed(var, v), order="C") for var, v in values.items()})

    def rng(self, node: Node) -> np.random.Generator:
        """The generator of a random op (by name: passes may rebuild the node)."""
        rng = self._rngs.get(node.op_name)
        if rng is None:
            seed = node.attrs["seed"]
            rng = np.random.default_rng(None if seed is None else list(seed))
            self._rngs[node.op_name] = rng
        return rng
