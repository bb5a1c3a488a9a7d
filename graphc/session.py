"""`Session`: feeds, fetches and a variable store around one backend (TF1's Session).

The session resolves fetches and feeds, keeps one `Executable` per (fetches, feeds)
made by the backend its `target` names (`graphc.backends`), and owns the
`VariableStore` every executable runs against. It compares no target names: a new
backend plugs in through `graphc.backends.register`.

As in TF1, `with Session(...) as sess:` makes both the session and its graph the
defaults inside the block; `sess.as_default()` only the session (TF1's documented
behaviour); an InteractiveSession makes both default until it is closed.

Invariants: every check that can fail (graph membership, feed dtype and
shape, unfed placeholders, uninitialized variables) runs before any op; the
variable state is replaced only after a whole run succeeded, so a failed run
changes no variable. Fetch results mirror the fetch structure.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from graphc import backends, reference
from graphc.config import ConfigProto, RunMetadata, RunOptions, check_message, ignored_fields
from graphc.errors import (
    FailedPreconditionError,
    GraphcError,
    GraphMismatchError,
    InvalidArgumentError,
)
from graphc.executable import Executable, Options, Specializing, lower
from graphc.feeds import convert_feed, flatten
from graphc.graph import Graph, enter_default, get_default_graph, leave_default
from graphc.ir import SESSION, Node, Operation
from graphc.schedule import Plan, plan
from graphc.specialize import unknown_rank
from graphc.store import VariableStore, closed_session

_DEFAULT_SESSIONS: list[Session] = []
_LOGGER = logging.getLogger("graphc")
_REPORTED: set[tuple[str, ...]] = set()


def _report_ignored(message: Any) -> None:
    """Logs once per process, on the "graphc" logger, the fields of a ConfigProto or
    RunOptions that graphc accepts but does not act on (docs/tf1-compat.md)."""
    ignored = tuple(sorted(ignored_fields(message)))
    if ignored and ignored not in _REPORTED:
        _REPORTED.add(ignored)
        kind = type(message).__name__
        _LOGGER.warning("graphc ignores these %s fields: %s", kind, ", ".join(ignored))


def _run_options(options: Any, run_metadata: Any) -> None:
    if options is not None:
        _report_ignored(check_message(options, RunOptions, "options"))
    if run_metadata is not None:
        check_message(run_metadata, RunMetadata, "run_metadata")


def get_default_session() -> Session | None:
    """The innermost session entered with `with` (or an InteractiveSession), else None."""
    return _DEFAULT_SESSIONS[-1] if _DEFAULT_SESSIONS else None


def default_session_or_raise() -> Session:
    session = get_default_session()
    if session is None:
        raise GraphcError(
            "no default session: use `with graphc.Session() as sess:` or pass session="
        )
    return session


SESSION["default"] = default_session_or_raise


class Session:
    """Runs parts of a graph: `sess.run(fetches, feed_dict)`.

    Args:
      graph: the graph to run (the default graph if None).
      target: a registered backend (`graphc.backends`): "cpu" (Numba, the default),
        "numpy" (the reference interpreter) or "cuda" (numba CUDA kernels on an NVIDIA
        GPU, or on numba's simulator with NUMBA_ENABLE_CUDASIM=1; the session says what
        is missing otherwise).
      passes: optimization passes: a `passes.Pipeline` or a list (None: the target's
        default, the default pipeline on "cpu" and the graph as written on "numpy";
        [] runs the graph as written).
      cache_dir: where compiled code is cached (compiled targets only).
      debug: print each compiled program's optimized IR, pass report and source to
        stderr (also on when the environment sets GRAPHC_DEBUG=1).
      fast_start: on the "cpu" target, a step whose code is not in the cache yet runs
        on the reference executor, while (from its second run on) another process
        compiles it; it switches to the compiled code once that is cached. On unless
        False, or unless the environment sets GRAPHC_FAST_START=0 (None: the
        environment decides). Not for steps that exchange values with other ranks. The
        interpreted steps differ from compiled ones by float rounding, so a run with an
        empty cache and one with a warm cache may differ in their last bits.
    """

    def __init__(
        self,
        graph: Graph | None = None,
        target: str = "cpu",
        passes: Any = None,
        cache_dir: str | None = None,
        config: Any = None,
        debug: bool = False,
        fast_start: bool | None = None,
    ) -> None:
        if isinstance(graph, str):  # TF1's positional order: Session(target, graph, config)
            tf1_target, graph = graph, target if isinstance(target, Graph) else None
            target = tf1_target or "cpu"  # TF1's '' is the in-process runtime
            if isinstance(passes, ConfigProto) and config is None:
                passes, config = None, passes
        if config is not None:
            _report_ignored(check_message(config, ConfigProto, "config"))
        self.backend = backends.get(target)
        self.backend.check_available()
        self.graph = graph if graph is not None else get_default_graph()
        self.target, self.passes, self.cache_dir = target, passes, cache_dir
        self.debug = debug or os.environ.get("GRAPHC_DEBUG", "") not in ("", "0")
        if fast_start is None:
            fast_start = os.environ.get("GRAPHC_FAST_START", "1") not in ("", "0")
        self.fast_start = bool(fast_start)
        self.store = VariableStore()
        self._executables: dict[tuple, Executable] = {}
        self._entered = False

    # ---- context management ---------------------------------------------------------
    def __enter__(self) -> Session:
        """Makes this session and its graph the defaults (TF1: not re-entrant)."""
        if self._entered:
            raise FailedPreconditionError(
                "Session context managers are not re-entrant. "
                "Use `Session.as_default()` if you want to enter a session multiple times."
            )
        self._entered = True
        enter_default(self.graph)
        _DEFAULT_SESSIONS.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _remove_last(self)
        leave_default(self.graph)
        self._entered = False
        self.close()

    @contextlib.contextmanager
    def as_default(self) -> Iterator[Session]:
        """The default session inside the block; the default graph does not change (as TF1:
        enter `sess.graph.as_default()` too when the session runs another graph)."""
        _DEFAULT_SESSIONS.append(self)
        try:
            yield self
        finally:
            _remove_last(self)

    def close(self) -> None:
        """Closes the session: `run`, and calling an executable it made, then raise."""
        self.store.closed = True  # what run and its executables check

    def __repr__(self) -> str:
        state = "closed" if self.store.closed else "open"
        return f"<graphc.Session target={self.target!r} graph={self.graph!r} {state}>"

    # ---- running ----------------------------------------------------------------------
    def run(
        self,
        fetches: Any,
        feed_dict: dict | None = None,
        options: Any = None,
        run_metadata: Any = None,
    ) -> Any:
        """Runs what `fetches` need; returns values in the same structure (ops give None).
        `options` (a RunOptions) and `run_metadata` (a RunMetadata) are checked and
        accepted as TF1's; graphc acts on no RunOptions field and traces nothing."""
        _run_options(options, run_metadata)
        if self.store.closed:
            raise closed_session()
        leaves, rebuild = flatten(fetches)
        targets = [self._resolve(leaf) for leaf in leaves]
        feeds = self._feeds(feed_dict or {})
        order = sorted(feeds, key=lambda n: n.op_name)
        ranks = {id(n): np.ndim(feeds[n]) for n in self._per_rank(order)}
        key = (
            tuple((id(n), is_op) for n, is_op in targets),
            tuple(id(n) for n in order),
            tuple(sorted(ranks.items())),
        )
        exe = self._executables.get(key)
        if exe is None:
            if not feeds and all(is_op for _, is_op in targets):
                p = plan([n for n, _ in targets], [])
                if p.initializes_only:
                    self._initialize(p)
                    return rebuild([None] * len(targets))
            exe = self._executables[key] = self._compile(targets, order, ranks=ranks)
        return rebuild(exe.run_flat([exe.argument(n, feeds[n]) for n in order]))

    def _per_rank(self, feeds: list[Node]) -> list[Node]:
        """The feeds of unknown rank, whose fed values' ranks select the compiled program
        when this target compiles per rank (graphc.specialize); none otherwise."""
        if not self.backend.needs_ranks:
            return []
        return [n for n in feeds if unknown_rank(n)]

    def _initialize(self, p: Plan) -> None:
        """Runs a run that only sets variables (such as global_variables_initializer) with
        the reference executor on every target: it runs once, so compiling it would cost
        more (about 1 s) than it saves."""
        ctx = reference.RunContext({}, self.store.rng)
        reference.execute(p, {}, ctx)
        self.store.commit(ctx.writes)

    def _compile(
        self,
        targets: list[tuple[Node, bool]],
        feeds: list[Node],
        rebuild: Callable | None = None,
        ranks: dict[int, int] | None = None,
    ) -> Executable:
        passes = self.passes if self.passes is not None else self.backend.default_passes
        step = lower(targets, feeds, passes, ranks)
        options = Options(self.cache_dir, self.debug, self.fast_start)
        return self.backend.compile(step, self.store, options, rebuild)

    def make_callable(
        self, fetches: Any, feed_list: Any = (), accept_options: bool = False, compile: bool = False
    ) -> Executable:
        """A function of the `feed_list` values that runs `fetches` (TF1's make_callable):
        an `Executable`, compiled once, with `.graph`, `.report`, `.source` and `.kernels`.
        It always accepts TF1's `options=` and `run_metadata=` (`accept_options` too).
        With `compile=True` it is compiled now, for the feeds' declared dtypes and ranks
        (`Executable.compile()`), rather than by its first call."""
        leaves, rebuild = flatten(fetches)
        targets = [self._resolve(leaf) for leaf in leaves]
        feeds = [self._feed_node(k) for k in feed_list]
        if self._per_rank(feeds):  # compiled per rank, once called
            exe: Executable = Specializing(
                feeds,
                self.store,
                rebuild,
                lambda ranks: self._compile(targets, feeds, rebuild, ranks),
            )
        else:
            exe = self._compile(targets, feeds, rebuild)
        return exe.compile() if compile else exe

    def _resolve(self, fetch: Any) -> tuple[Node, bool]:
        if isinstance(fetch, str):
            fetch = self._by_name(fetch)
        if isinstance(fetch, Operation):
            node, is_op = fetch.node, True
        elif isinstance(fetch, Node):
            node, is_op = fetch, fetch.type is None
        else:
            raise InvalidArgumentError(
                f"cannot fetch {fetch!r} (of type {type(fetch).__name__}): "
                "expected a tensor, an op or a tensor or op name"
            )
        if node.graph is not self.graph:
            raise GraphMismatchError(f"'{node.op_name}' is not an element of this session's graph")
        return node, is_op

    def _by_name(self, name: str) -> Node | Operation:
        try:
            if ":" in name:
                return self.graph.get_tensor_by_name(name)
            return self.graph.get_operation_by_name(name)
        except KeyError as exc:
            raise GraphcError(str(exc)) from None

    def _feeds(self, feed_dict: dict) -> dict[Node, np.ndarray]:
        if not isinstance(feed_dict, Mapping):
            raise InvalidArgumentError(
                f"feed_dict must be a dict of tensors to values, got a {type(feed_dict).__name__}"
            )
        feeds: dict[Node, np.ndarray] = {}
        for key, value in feed_dict.items():
            node = self._feed_node(key)
            feeds[node] = convert_feed(node, value)
        return feeds

    def _feed_node(self, key: Any) -> Node:
        node = self._by_name(key) if isinstance(key, str) else key
        if isinstance(node, Operation):
            raise GraphcError(f"cannot feed op '{node.name}'; feed one of its tensors")
        if not isinstance(node, Node):
            raise InvalidArgumentError(
                f"cannot feed {key!r} (of type {type(key).__name__}): a feed_dict key must be "
                "a tensor or a tensor name"
            )
        if node.graph is not self.graph:
            raise GraphMismatchError(
                f"cannot feed '{node.name}': it belongs to another graph than this session's"
            )
        return node

    # ---- variable state -------------------------------------------------------------------
    def variable_value(self, var: Node) -> np.ndarray:
        """A copy of a variable's current value (natural shape)."""
        return self.store.value(var)

    def load_variable(self, var: Node, value: Any) -> None:
        """Sets a variable's value directly (TF1's Variable.load)."""
        self.store.load(var, value)


def _remove_last(session: Session) -> None:
    """Drops the innermost entry of `session` from the default-session stack."""
    for i in range(len(_DEFAULT_SESSIONS) - 1, -1, -1):
        if _DEFAULT_SESSIONS[i] is session:
            del _DEFAULT_SESSIONS[i]
            return


class InteractiveSession(Session):
    """A Session that makes itself and its graph the defaults from its creation until it is
    closed, as TF1's (for notebooks and shells): ops built afterwards go to its graph."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _DEFAULT_SESSIONS.append(self)
        enter_default(self.graph)
        self._default = True

    def close(self) -> None:
        if self._default:  # once: close() may be called again, or by __exit__
            self._default = False
            _remove_last(self)
            leave_default(self.graph)
        super().close()
