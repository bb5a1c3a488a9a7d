"""The "cpu" target: steps compiled by the Numba code generator (`graphc.codegen`).

Specialization policy: a program is compiled once per (fetches, feeds): dtypes
come from the placeholders and ranks are static (a placeholder of unknown rank
gets the rank of its fed value first: `needs_ranks`, graphc.specialize), while
the sizes of unknown (`None`) dims are read at run time, so a smaller final
batch reuses the same compiled code. Every argument passed to compiled code is C-contiguous, so
Numba also compiles one specialization only.

Invariants: checks run before the compiled call (feeds, uninitialized
variables); new variable buffers are committed only after the call returns;
existing buffers are written by the compiled code at its very end, through
views the executable takes again whenever the store's version changes. Results are
arrays the caller owns: never a buffer, a feed, a constant or another result.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from graphc.backends.reference import ReferenceExecutable
from graphc.codegen import background
from graphc.codegen import compile as modules
from graphc.codegen.allocator import tune_allocator
from graphc.codegen.context import Program
from graphc.codegen.cpu import EMITTERS, generate
from graphc.errors import DTypeError, GraphcError, InvalidArgumentError
from graphc.executable import Backend, Executable, Options, Step, check_emitters, unshared
from graphc.export import export
from graphc.feeds import convert_feed
from graphc.ir import Node
from graphc.ops import REGISTRY, Fusion
from graphc.ops.collective import COLLECTIVES
from graphc.progress import progress
from graphc.store import VariableStore, uninitialized
from graphc.types import is_compatible

log = logging.getLogger("graphc")

# Numba's warning about a print op's objmode block (nogil still holds everywhere else)
_OBJMODE = "Code running in object mode"


def _check_compilable(node: Node) -> None:
    """Raises for a tensor the Numba CPU target cannot hold, naming it."""
    if node.type is None:
        return
    if node.type.shape is None:
        why = (
            "give the placeholder a shape, with None for unknown sizes, or feed it"
            if node.opdef.name == "placeholder"
            else f"it depends on values known only at run time (created at {node.site})"
        )
        raise GraphcError(
            f"'{node.name}' has unknown rank: compiled targets need known ranks ({why})"
        )
    if node.dtype.name == "float16":  # Numba has no float16 arithmetic on the CPU
        raise DTypeError(
            f"'{node.name}' is float16, which the cpu target does not support: cast to "
            f"float32, or use Session(target='numpy') (created at {node.site})"
        )


def build_program(step: Step) -> Program:
    """The Program for a step: argument lists in a deterministic order."""
    plan = step.plan
    order = [n for n in plan.order if id(n) not in plan.fed]
    variables: dict[int, Node] = {}
    for n in plan.order:
        if n.opdef.name == "variable" and id(n) not in plan.fed:
            variables.setdefault(id(n), n)
        if n.opdef.takes_ref:
            variables.setdefault(id(n.inputs[0]), n.inputs[0])
    return Program(
        order=order,
        feeds=list(step.feeds),
        fetches=step.fetches,
        variables=list(variables.values()),
        consts=[n for n in order if n.opdef.name == "const" and n.type.shape != ()],
        scalars=[n for n in order if n.opdef.name == "const" and n.type.shape == ()],
        randoms=[n for n in order if n.opdef.random],
        targets=list(step.targets),
        blocks=tuple(n for n in plan.blocks if not (isinstance(n, Node) and id(n) in plan.fed)),
    )


class CpuExecutable(Executable):
    """A step compiled to one `@njit` function; `.source` is its generated module."""

    target = "cpu"

    def __init__(
        self,
        step: Step,
        store: VariableStore,
        options: Options,
        rebuild: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        super().__init__(step, store, rebuild)
        tune_allocator()
        self._cache_dir = options.cache_dir
        self._targets = step.targets
        fetches = step.fetches
        self._fetch_index = {id(n): k for k, n in enumerate(fetches)}
        self._arrays_fetched = sum(1 for n, is_op in step.targets if not is_op and n.type.shape)
        self.program = build_program(step)
        self._constants = self.program.constant_arrays()
        for node in self.feeds + self.program.order:  # name the placeholder first
            _check_compilable(node)
        self.source, self._check_sites = generate(self.program)
        if options.debug:
            _show(self)
        self._module = modules.load(self.source, self._cache_dir)
        self._fn = self._module.step
        # graphc.blas.one_thread, which a threaded step runs inside (None: any other step)
        self._one_thread = getattr(self._module, "one_thread", None)
        self._tail: tuple | None = None
        self._tail_version = -1
        self.compile_seconds: float | None = None
        self._ran = False  # whether the compiled step has run once
        # fast start: a process compiling the step while the reference interprets it;
        # not for a step that talks to other ranks: every rank must run the same code, or
        # the tiers' different rounding would drift their replicas apart
        self._fast_start = options.fast_start and not any(
            n.opdef.name in COLLECTIVES for n in self.program.order
        )
        self._background: subprocess.Popen | None = None
        self._interpreter: Executable | None = None

    def argument(self, node: Node, value: Any) -> Any:
        """The fed value as compiled code takes it (copied only if needed)."""
        if (
            type(value) is np.ndarray
            and value.dtype == node.type.dtype.np
            and value.flags.c_contiguous
            and value.ndim
            and is_compatible(node.type.shape, value.shape)
        ):
            return value
        array = convert_feed(node, value)
        return np.ascontiguousarray(array) if array.ndim else array[()]

    def _call(self, arrays: list[Any]) -> Any:
        """The compiled step's results for the feed `arrays` and the variables' state."""
        if self._ran:
            return self._fn(*arrays, *self._tail)
        with warnings.catch_warnings():  # Numba compiles a print op's objmode block now
            warnings.filterwarnings("ignore", _OBJMODE)
            out = self._fn(*arrays, *self._tail)
        self._ran = True
        return out

    def run_flat(self, arrays: list[Any]) -> list[Any]:
        if self._fast_start and self.compile_seconds is None:
            interpreted = self._interpreted(arrays)
            if interpreted is not None:
                return interpreted
        store = self._store
        if self._tail is None or self._tail_version != store.version:
            fresh = self._prepare_state()
        else:
            fresh = None
        try:
            if self.compile_seconds is None:  # compiled for the types of these arguments
                self._compile(self._signature(arrays))
            if self._one_thread is None:
                out = self._call(arrays)
            else:  # a threaded step (graphc.codegen.context) keeps BLAS on each of its threads
                with self._one_thread():
                    out = self._call(arrays)
        except GraphcError:
            raise
        except Exception as exc:
            site = self._check_site(exc)
            if site is None:
                raise InvalidArgumentError(f"compiled step failed: {exc}") from exc
            message = exc.args[0].format(*exc.args[1:])
            raise InvalidArgumentError(f"{message} (created at {site})") from None
        if fresh:
            store.commit(fresh)
        results = [None if is_op else self._result(out, n) for n, is_op in self._targets]
        # the generated code copies fetches that alias a buffer, a feed or a constant once;
        # a tensor fetched twice (or with a view of it) still needs a copy per extra fetch
        return unshared(results) if self._arrays_fetched > 1 else results

    def _check_site(self, exc: Exception) -> str | None:
        """Where the op of a failed run-time check (graphc.codegen.checks) was created;
        None for any other exception out of the compiled step."""
        args = exc.args
        return self._check_sites.get(args[0]) if args and isinstance(args[0], str) else None

    def compile(self, *values: Any) -> CpuExecutable:
        """Compiles the step without running it, for the feeds' declared dtypes and ranks
        (or those of example `values`, one per feed); returns the executable. A call with
        feeds of those dtypes and ranks then runs without compiling; a step compiled
        already is not compiled again."""
        if self.compile_seconds is not None:
            return self
        if values and len(values) != len(self.feeds):
            raise GraphcError(f"expected {len(self.feeds)} feed values, got {len(values)}")
        feeds = (
            [self.argument(n, v) for n, v in zip(self.feeds, values, strict=True)]
            if values
            else [_example(n) for n in self.feeds]
        )
        if self._background is not None:  # fast start: its code is about to be cached
            self._background.wait()
            modules.verify(self._module)
        self._fast_start = False
        self._compile(self._signature(feeds))
        return self

    @property
    def interpreting(self) -> bool:
        """True while a fast start interprets the step (until its code is compiled)."""
        return self._fast_start and self._interpreter is not None

    def _signature(self, feeds: list[Any]) -> list[Any]:
        """Numba's argument types of the step for feed values as `argument` gives them."""
        variables = [
            _typeof(np.empty((0,) * (len(v.type.shape) or 1), v.dtype.np))
            for v in self.program.variables
        ]
        consts = [_typeof(a) for a in self._constants]
        rngs = [_typeof(self._store.rng(n)) for n in self.program.randoms]
        return [*map(_typeof, feeds), *variables, *consts, *rngs]

    def _interpreted(self, arrays: list[Any]) -> list[Any] | None:
        """Fast start: the step's results from the reference executor until its compiled
        code is cached; None once it can be loaded (the caller then compiles in-process,
        a cache hit) or cannot be made elsewhere (then the caller compiles it).

        The first run only interprets: a step run once (an initializer) is not worth a
        compile. From the second run on, another process compiles it, once no other
        compile this process started is running (`background.busy()`)."""
        if self._background is None:
            if modules.sealed(self._module) or not background.possible(self._module):
                self._fast_start = False  # cached already (loading it is quick), or not
                return None
            if self._interpreter is None:
                self._interpreter = ReferenceExecutable(self.step, self._store)
                log.info("interpreting the step until its compiled code is cached")
            elif not background.busy():
                self._background = background.start(self._module, self._signature(arrays))
                if self._background is None:
                    log.warning("cannot start a process to compile in: compiling in this one")
                    self._fast_start = False
                    return None
                log.info("compiling in process %d; interpreting meanwhile", self._background.pid)
        if self._background is None:
            return self._interpreter.run_flat(arrays)
        if self._background.poll() is None:
            # NumPy's BLAS on one thread: the compiling process keeps a core to itself
            # (W4 on 2 cores: it compiled in 30 s instead of 19 s beside NumPy's two threads)
            from graphc.blas import every_blas_on_one_thread

            with every_blas_on_one_thread():
                return self._interpreter.run_flat(arrays)
        if self._background.returncode != 0:
            log.warning("the background compile failed: compiling in this process")
        modules.verify(self._module)  # its Numba files against the manifest it wrote
        self._fast_start = False
        return None

    def export(self, path: Any, overwrite: bool = False) -> Path:
        """Writes the step, its variables' current values and its constants as a Python
        package that runs with numpy and numba only, compiled for this CPU
        (graphc.export); returns the package's folder."""
        return export(self, path, overwrite)

    def _compile(self, signature: list[Any]) -> None:
        """Compiles (or loads from the cache) the step for argument types `signature`,
        reporting through the `graphc` logger and, on a terminal, a progress line."""
        what = f"the step for {_names([n for n, _ in self._targets]) or 'nothing'}"
        log.info("compiling %s (%d lines)", what, self.source.count("\n"))
        started = time.perf_counter()
        earlier = tuple(signature) in self._fn.overloads  # by another executable
        with warnings.catch_warnings(), progress(f"compiling {what}"):
            warnings.filterwarnings("ignore", _OBJMODE)
            try:
                self._fn.compile(tuple(signature))
            except Exception as exc:
                if not modules.raised_by_numba_cache(exc):
                    raise
                # an unreadable on-disk cache (truncated or corrupt files): drop it, compile
                # in memory
                modules.purge(self.source, self._cache_dir)
                name = modules.module_name(self.source)
                self._module = modules.load_in_memory(name, self.source)
                self._fn = self._module.step
                self._fn.compile(tuple(signature))
        modules.seal(self._module)  # checksums of the compiled code Numba just cached
        self.compile_seconds = time.perf_counter() - started
        path = getattr(self._module, "__file__", None)
        if earlier:
            where = "compiled earlier in this process"
        elif path is None:
            where = "compiled in memory, not cached"
        elif self._fn.stats.cache_hits:
            where = f"cache hit: loaded from {path}"
        else:
            where = f"cache miss: compiled and saved to {path}"
        log.info("compiled %s in %.2f s (%s)", what, self.compile_seconds, where)

    def _result(self, out: tuple, node: Node) -> Any:
        value = out[self._fetch_index[id(node)]]
        if node.type.shape == ():
            return node.dtype.np.type(value)
        return value

    def _prepare_state(self) -> dict[Node, np.ndarray]:
        """Checks variables and builds the argument tail; returns buffers to create.

        Compiled code takes each variable as a C-contiguous buffer, rank 0 as shape (1,):
        views of the store's arrays, so its end-of-step writes land in the store."""
        store, program = self._store, self.program
        store.require(self.step.plan.snapshot_reads)
        guards = self.step.plan.guards  # a write in a tf.cond branch may not happen
        written = {
            id(n.inputs[0])
            for n in program.order
            if n.opdef.name == "assign" and id(n) not in guards
        }
        fresh: dict[Node, np.ndarray] = {}
        buffers = []
        for var in program.variables:
            value = store.values.get(var)
            if value is None:
                if id(var) not in written:
                    raise uninitialized(var)
                value = fresh[var] = np.empty(var.type.shape, var.dtype.np)
            buffers.append(value.reshape(var.type.shape or (1,)))
        consts = self._constants
        rngs = [store.rng(n) for n in program.randoms]
        self._tail = (*buffers, *consts, *rngs)
        self._tail_version = store.version if not fresh else -1
        return fresh


def _typeof(value: Any) -> Any:
    """Numba's type of an argument value (Numba is imported when a step is compiled, not
    at `import graphc`: it is half of that import's time)."""
    import numba

    return numba.typeof(value)


def _example(node: Node) -> Any:
    """A value of a feed's declared dtype and rank, as `argument` passes it (for compile)."""
    shape = tuple(1 if d is None else d for d in node.type.shape)
    array = np.zeros(shape, node.dtype.np)
    return array if array.ndim else array[()]


def _names(nodes: list[Node]) -> str:
    """Tensor names for a message: the first three, then how many more."""
    names = [n.op_name for n in nodes[:3]]
    more = f" and {len(nodes) - 3} more" if len(nodes) > 3 else ""
    return ", ".join(names) + more


def _show(exe: CpuExecutable) -> None:
    """The debug printout (GRAPHC_DEBUG=1): optimized IR, pass report, generated source."""
    rule = "-" * 78
    text = f"{rule}\n{exe.graph}\n{rule}\n{exe.report.details()}\n{rule}\n{exe.source}{rule}\n"
    sys.stderr.write(text)


class CpuBackend(Backend):
    """Compiles steps to Numba `@njit` functions on the CPU."""

    name = "cpu"
    needs_ranks = True

    def __init__(self) -> None:
        needed = [
            name
            for name, op in REGISTRY.items()
            if op.fusion is not Fusion.ELEMENTWISE and not op.kernel_only
        ]
        check_emitters(self.name, EMITTERS, needed)

    def compile(
        self,
        step: Step,
        store: VariableStore,
        options: Options,
        rebuild: Callable[[list[Any]], Any] | None = None,
    ) -> Executable:
        return CpuExecutable(step, store, options, rebuild)
