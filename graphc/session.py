"""`Session`: feeds, fetches and variable state around an executor (TF1's Session).

Invariants: every check that can fail (graph membership, feed dtype and
shape, unfed placeholders, uninitialized variables) runs before any op; the
variable state is replaced only after a whole run succeeded, so a failed run
changes no variable. Fetch results mirror the fetch structure.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from graphc import reference
from graphc.errors import FailedPreconditionError, GraphcError, GraphMismatchError
from graphc.executable import Executable, compiled_argument
from graphc.feeds import convert_feed, flatten
from graphc.graph import Graph, get_default_graph
from graphc.ir import SESSION, Node, Operation

_DEFAULT_SESSIONS: list[Session] = []
TARGETS = ("numpy", "cpu", "cuda")


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
      target: "numpy" (the reference interpreter), "cpu" (Numba), or "cuda".
      passes: optimization passes (None: the default pipeline; [] compiles as written).
      cache_dir: where compiled code is cached (compiled targets only).
      debug: print each compiled program's optimized IR, pass report and source to
        stderr (also on when the environment sets GRAPHC_DEBUG=1).
    """

    def __init__(
        self,
        graph: Graph | None = None,
        target: str = "cpu",
        passes: Any = None,
        cache_dir: str | None = None,
        config: Any = None,
        debug: bool = False,
    ) -> None:
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        if target == "cuda":
            raise NotImplementedError("target 'cuda' is not available yet; use 'cpu' or 'numpy'")
        self.graph = graph if graph is not None else get_default_graph()
        self.target, self.passes, self.cache_dir = target, passes, cache_dir
        self.debug = debug or os.environ.get("GRAPHC_DEBUG", "") not in ("", "0")
        self._state: dict[Node, np.ndarray] = {}
        self._rngs: dict[str, np.random.Generator] = {}
        self._plans: dict[tuple, reference.Plan] = {}
        self._executables: dict[tuple, Any] = {}
        self._version = 0  # bumped whenever the set of variable buffers changes
        self._closed = False

    # ---- context management ---------------------------------------------------------
    def __enter__(self) -> Session:
        _DEFAULT_SESSIONS.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _DEFAULT_SESSIONS.remove(self)
        self.close()

    @contextlib.contextmanager
    def as_default(self) -> Iterator[Session]:
        _DEFAULT_SESSIONS.append(self)
        try:
            yield self
        finally:
            _DEFAULT_SESSIONS.remove(self)

    def close(self) -> None:
        self._closed = True

    # ---- running ----------------------------------------------------------------------
    def run(self, fetches: Any, feed_dict: dict | None = None) -> Any:
        """Runs what `fetches` need; returns values in the same structure (ops give None)."""
        if self._closed:
            raise GraphcError("attempted to use a closed Session")
        leaves, rebuild = flatten(fetches)
        targets = [self._resolve(leaf) for leaf in leaves]
        feeds = self._feeds(feed_dict or {})
        if self.target == "numpy":
            values = self._execute([n for n, _ in targets], feeds)
            return rebuild([None if is_op else _result(values[id(n)]) for n, is_op in targets])
        order = sorted(feeds, key=lambda n: n.op_name)
        key = (tuple((id(n), is_op) for n, is_op in targets), tuple(id(n) for n in order))
        exe = self._executables.get(key)
        if exe is None:
            if self._initializes_only(targets, feeds):
                return rebuild(self._initialize([n for n, _ in targets]))
            exe = self._executables[key] = self._compile(targets, order)
        return rebuild(exe.run_flat([compiled_argument(feeds[n]) for n in order]))

    def _initializes_only(self, targets: list[tuple[Node, bool]], feeds: dict) -> bool:
        """True for a run that only sets variables from constants or random draws (such as
        global_variables_initializer): it runs once, so it is interpreted, not compiled
        (compiling it cost about 1 s, more than the MLP step's own compile saved by caching)."""
        if feeds or not all(is_op for _, is_op in targets):
            return False
        p = reference.plan([n for n, _ in targets], [])
        return not p.snapshot_reads and all(n.opdef.name != "read_variable" for n in p.order)

    def _initialize(self, nodes: list[Node]) -> list[None]:
        """Runs an initialization with the reference executor, storing compiled-layout buffers."""
        ctx = reference.RunContext({}, self._rng)
        reference.execute(reference.plan(nodes, []), {}, ctx)
        buffers = {
            v: np.ascontiguousarray(a).reshape(v.type.shape or (1,)) for v, a in ctx.writes.items()
        }
        self._commit(buffers)
        return [None] * len(nodes)

    def _compile(
        self, targets: list[tuple[Node, bool]], feeds: list[Node], rebuild: Callable | None = None
    ) -> Any:
        return Executable(self, targets, feeds, rebuild)

    def make_callable(self, fetches: Any, feed_list: Any = ()) -> Callable[..., Any]:
        """A function of the `feed_list` values that runs `fetches` (TF1's make_callable).

        On compiled targets it is an `Executable`: compiled once, with `.source`.
        """
        feed_list = list(feed_list)
        if self.target != "numpy":
            leaves, rebuild = flatten(fetches)
            targets = [self._resolve(leaf) for leaf in leaves]
            feeds = [self._feed_node(k) for k in feed_list]
            return self._compile(targets, feeds, rebuild)

        def call(*values: Any) -> Any:
            if len(values) != len(feed_list):
                raise GraphcError(f"expected {len(feed_list)} feed values, got {len(values)}")
            return self.run(fetches, dict(zip(feed_list, values, strict=True)))

        return call

    def _execute(self, targets: list[Node], feeds: dict[Node, np.ndarray]) -> dict[int, Any]:
        key = (tuple(id(t) for t in targets), tuple(id(f) for f in feeds))
        p = self._plans.get(key)
        if p is None:
            p = self._plans[key] = reference.plan(targets, feeds)
        ctx = reference.RunContext(self._state, self._rng)
        values = reference.execute(p, feeds, ctx)
        self._state = {**self._state, **ctx.writes}  # commit only after success
        return values

    def _rng(self, node: Node) -> np.random.Generator:
        rng = self._rngs.get(node.op_name)  # by name: passes may rebuild the node
        if rng is None:
            seed = node.attrs["seed"]
            rng = np.random.default_rng(None if seed is None else list(seed))
            self._rngs[node.op_name] = rng
        return rng

    def _resolve(self, fetch: Any) -> tuple[Node, bool]:
        if isinstance(fetch, str):
            fetch = self._by_name(fetch)
        if isinstance(fetch, Operation):
            node, is_op = fetch.node, True
        elif isinstance(fetch, Node):
            node, is_op = fetch, fetch.type is None
        else:
            raise TypeError(f"cannot fetch {fetch!r}: expected a tensor, an op or a name")
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
        feeds: dict[Node, np.ndarray] = {}
        for key, value in feed_dict.items():
            node = self._feed_node(key)
            feeds[node] = convert_feed(node, value)
        return feeds

    def _feed_node(self, key: Any) -> Node:
        node = self._by_name(key) if isinstance(key, str) else key
        if isinstance(node, Operation):
            raise GraphcError(f"cannot feed op '{node.name}'; feed one of its tensors")
        if not isinstance(node, Node) or node.graph is not self.graph:
            raise GraphMismatchError(f"cannot feed {key!r}: not a tensor of this graph")
        return node

    # ---- variable state -------------------------------------------------------------------
    def _commit(self, fresh: dict[Node, np.ndarray]) -> None:
        self._state = {**self._state, **fresh}
        self._version += 1

    def variable_value(self, var: Node) -> np.ndarray:
        """A copy of a variable's current value (natural shape)."""
        if var not in self._state:
            raise FailedPreconditionError(f"variable '{var.name}' is not initialized")
        return np.array(self._state[var]).reshape(var.type.shape)

    def load_variable(self, var: Node, value: Any) -> None:
        """Sets a variable's value directly (TF1's Variable.load)."""
        array = convert_feed(var, value)
        if self.target == "numpy":
            self._commit({var: np.array(array)})
        elif var in self._state:
            self._state[var][...] = array.reshape(self._state[var].shape)
        else:
            self._commit({var: np.array(array).reshape(var.type.shape or (1,))})


def _result(value: Any) -> Any:
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


class InteractiveSession(Session):
    """A Session that makes itself the default when created (for notebooks and shells)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _DEFAULT_SESSIONS.append(self)

    def close(self) -> None:
        if self in _DEFAULT_SESSIONS:
            _DEFAULT_SESSIONS.remove(self)
        super().close()
