"""The "numpy" target: the reference executor behind the backend interface.

It interprets the step's schedule op by op with each op's NumPy semantics
(`graphc.reference`). By default it runs the graph as written (no passes), so it
stays an oracle independent of the optimizer; `Session(passes=...)` can still give
it an optimized graph (fused nodes interpret their kernel's inner graph).

Invariants: every value it returns is a copy (never a variable's or a feed's array);
writes are committed to the store only after the whole step ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graphc import reference
from graphc.executable import Backend, Executable, Options, Step
from graphc.store import VariableStore


class ReferenceExecutable(Executable):
    """A step the reference executor interprets; `.source` is the listing it runs."""

    target = "numpy"

    def __init__(
        self, step: Step, store: VariableStore, rebuild: Callable[[list[Any]], Any] | None = None
    ) -> None:
        super().__init__(step, store, rebuild)
        self.source = step.graph.as_text()

    def run_flat(self, arrays: list[Any]) -> list[Any]:
        step, store = self.step, self._store
        ctx = reference.RunContext(store.values, store.rng)
        values = reference.execute(step.plan, dict(zip(step.feeds, arrays, strict=True)), ctx)
        store.commit(ctx.writes)
        return [None if is_op else _copy(values[id(n)]) for n, is_op in step.targets]


def _copy(value: Any) -> Any:
    """A fetched value: a NumPy scalar for rank 0, else an array the caller owns."""
    value = np.array(value)
    return value[()] if value.ndim == 0 else value


class ReferenceBackend(Backend):
    """Interprets steps with the ops' NumPy semantics (the oracle the compilers are tested
    against)."""

    name = "numpy"
    default_passes = ()  # the graph as written

    def compile(
        self,
        step: Step,
        store: VariableStore,
        options: Options,
        rebuild: Callable[[list[Any]], Any] | None = None,
    ) -> Executable:
        return ReferenceExecutable(step, store, rebuild)
