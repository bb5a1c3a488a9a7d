"""TF1's `variable_scope`, `get_variable` and the per-graph store of shared variables.

Naming and reuse follow TF1 (`variable_scope.py`):
- A variable made by `get_variable(name)` is named `<scope>/<name>` after the variable
  scope only; ops get the name scope that `variable_scope` also opens. Re-entering a
  scope "a" opens name scope "a_1" for ops while variables stay under "a/".
- `reuse` is True, None (inherit: a scope's reuse is its own or its parent's) or
  `AUTO_REUSE`; False means None. At the root it is False: `get_variable` of an existing
  name raises "Variable a/w already exists, disallowed...", with reuse=True a missing
  one raises "... does not exist, or was not created with tf.get_variable()...",
  and AUTO_REUSE creates or returns.
- `default_name` is made unique among the scopes opened in the current scope
  (`dense`, `dense_1`, ...); the counts of a scope's subscopes start again each time it
  is entered, so re-entering a scope with reuse finds the same names.
- A new variable's initializer is the one given, else the scope's, else
  glorot_uniform for floats and zeros for ints and bools.

Invariants: each graph has one `_Store` (the variables `get_variable` made, by full
name; the current scope; the counts of opened scopes), kept here by weak reference so
the graph itself knows nothing of this layer. Variables made here are ordinary
`Variable`s, listed in the graph's collections like any other.
"""

from __future__ import annotations

import contextlib
import enum
import inspect
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from graphc.errors import InvalidArgumentError
from graphc.graph import Graph, GraphKeys, get_default_graph
from graphc.initializers import GlorotUniform, Zeros
from graphc.ir import Node
from graphc.ops import graph_of, to_array
from graphc.types import DType, as_dtype, float32
from graphc.variables import Variable


class _ReuseMode(enum.Enum):
    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE


@dataclass
class VariableScope:
    """The defaults `get_variable` takes from the scope it is called in (TF1's VariableScope).

    `name` prefixes variable names; `original_name_scope` is the name scope opened when the
    scope was first entered (ops re-entering it go there).
    """

    reuse: Any
    name: str = ""
    initializer: Any = None
    regularizer: Any = None
    dtype: DType = float32
    original_name_scope: str = ""
    caching_device: Any = None
    partitioner: Any = None
    custom_getter: Any = None
    use_resource: Any = None
    constraint: Any = None

    def reuse_variables(self) -> None:
        """From now on, `get_variable` in this scope returns existing variables."""
        self.reuse = True

    def set_initializer(self, initializer: Any) -> None:
        self.initializer = initializer

    def set_regularizer(self, regularizer: Any) -> None:
        self.regularizer = regularizer

    def set_dtype(self, dtype: Any) -> None:
        self.dtype = as_dtype(dtype)

    def get_collection(self, name: str) -> list[Any]:
        """The items of collection `name` under this scope's name."""
        return get_default_graph().get_collection(name, self.name + "/" if self.name else "")

    def global_variables(self) -> list[Any]:
        return self.get_collection(GraphKeys.GLOBAL_VARIABLES)

    def trainable_variables(self) -> list[Any]:
        return self.get_collection(GraphKeys.TRAINABLE_VARIABLES)

    def local_variables(self) -> list[Any]:
        return self.get_collection(GraphKeys.LOCAL_VARIABLES)


@dataclass
class _Store:
    """A graph's shared variables, current variable scope and counts of opened scopes."""

    variables: dict[str, Variable] = field(default_factory=dict)
    scope: VariableScope = field(default_factory=lambda: VariableScope(False))
    counts: dict[str, int] = field(default_factory=dict)

    def open(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def close_subscopes(self, name: str) -> None:
        for key in self.counts:
            if key.startswith(name + "/"):
                self.counts[key] = 0

    def unique(self, prefix: str) -> str:
        """`prefix`, or `prefix_1`, `prefix_2`, ...: the first not yet opened here."""
        base = f"{self.scope.name}/{prefix}" if self.scope.name else prefix
        if not self.counts.get(base):
            return prefix
        index = 1
        while self.counts.get(f"{base}_{index}"):
            index += 1
        return f"{prefix}_{index}"


_STORES: weakref.WeakKeyDictionary[Graph, _Store] = weakref.WeakKeyDictionary()


def _store(graph: Graph | None = None) -> _Store:
    graph = graph or get_default_graph()
    store = _STORES.get(graph)
    if store is None:
        store = _STORES[graph] = _Store()
    return store


def get_variable_scope() -> VariableScope:
    """The current variable scope of the default graph (the root scope has name "")."""
    return _store().scope


def no_regularizer(_: Any) -> None:
    """A regularizer that adds nothing (turns off a scope's regularizer)."""
    return None


# ---- variable_scope ---------------------------------------------------------------------------
def _check_scope_arguments(
    name_or_scope: Any, default_name: str | None, reuse: Any, auxiliary_name_scope: Any
) -> Any:
    """`reuse` as TF1 reads it (False means None: scopes always inherit); InvalidArgumentError
    with TF1's messages for arguments TF1 refuses."""
    if reuse is False:
        reuse = None
    if reuse is not True and reuse is not None and reuse is not AUTO_REUSE:
        raise InvalidArgumentError("The reuse parameter must be True or False or None.")
    if name_or_scope is None and default_name is None:
        raise InvalidArgumentError("If default_name is None then name_or_scope is required")
    if name_or_scope is not None and not isinstance(name_or_scope, str | VariableScope):
        raise InvalidArgumentError(
            "VariableScope: name_or_scope must be a string or VariableScope."
        )
    if not isinstance(auxiliary_name_scope, bool):
        raise InvalidArgumentError(
            f"The auxiliary_name_scope must be `True` or `False`, got {auxiliary_name_scope!r}"
        )
    if name_or_scope is None and reuse:
        raise InvalidArgumentError("reuse=True cannot be used without a name_or_scope")
    return reuse


@contextlib.contextmanager
def variable_scope(
    name_or_scope: str | VariableScope | None,
    default_name: str | None = None,
    values: Any = None,
    initializer: Any = None,
    regularizer: Any = None,
    caching_device: Any = None,
    partitioner: Any = None,
    custom_getter: Any = None,
    reuse: Any = None,
    dtype: Any = None,
    use_resource: Any = None,
    constraint: Any = None,
    auxiliary_name_scope: bool = True,
) -> Iterator[VariableScope]:
    """Opens a variable scope (and a name scope for ops), yielding its `VariableScope`.

    `name_or_scope` is a name (relative to the current scope), a captured `VariableScope`
    (entered by its full name), or None with `default_name` (made unique). `values`
    only selects the graph, as TF1's.
    """
    reuse = _check_scope_arguments(name_or_scope, default_name, reuse, auxiliary_name_scope)
    _refuse(custom_getter=custom_getter, partitioner=partitioner, constraint=constraint)
    values = [values] if isinstance(values, Node) else list(values or [])
    graph = graph_of(values) if values else get_default_graph()
    overrides = {
        "initializer": initializer,
        "regularizer": regularizer,
        "dtype": dtype,
        "caching_device": caching_device,
        "use_resource": use_resource,
    }
    store = _store(graph)
    with (
        graph.as_default(),
        _name_scope(graph, name_or_scope, default_name, auxiliary_name_scope) as ns,
        _pure_scope(store, name_or_scope, default_name, reuse, ns, overrides) as scope,
    ):
        yield scope


def _refuse(**arguments: Any) -> None:
    for key, value in arguments.items():
        if value is not None:
            raise InvalidArgumentError(f"{key}= is not supported by graphc's variable scopes")


@contextlib.contextmanager
def _name_scope(
    graph: Graph, name_or_scope: Any, default_name: str | None, opens: bool
) -> Iterator[str | None]:
    """The name scope a variable scope opens for ops: its own last name component, made
    unique (TF1), or, with `auxiliary_name_scope=False`, the current one unchanged."""
    if not opens:
        yield graph.scope_prefix()
        return
    if isinstance(name_or_scope, VariableScope):
        name = name_or_scope.name.split("/")[-1]
    else:
        name = name_or_scope if name_or_scope is not None else default_name
    if not name:  # the root variable scope: no name scope
        yield None
        return
    with graph.name_scope(name) as opened:
        yield opened


@contextlib.contextmanager
def _pure_scope(
    store: _Store,
    name_or_scope: Any,
    default_name: str | None,
    reuse: Any,
    name_scope: str | None,
    overrides: dict[str, Any],
) -> Iterator[VariableScope]:
    """Makes the VariableScope current: a captured scope by its own name and reuse (unless
    `reuse` is given), a name relative to the current scope, inheriting its defaults."""
    outer = store.scope
    if isinstance(name_or_scope, VariableScope):
        scope = replace(name_or_scope, reuse=reuse or name_or_scope.reuse)
    else:
        relative = name_or_scope if name_or_scope is not None else store.unique(default_name)
        full = f"{outer.name}/{relative}" if outer.name else relative
        scope = replace(outer, name=full, reuse=reuse or outer.reuse)
        scope.original_name_scope = name_scope if name_scope is not None else relative
    for key, value in overrides.items():
        if value is not None:
            setattr(scope, key, as_dtype(value) if key == "dtype" else value)
    store.open(scope.name)
    saved_counts = dict(store.counts)  # TF1 restores these on leaving a captured scope
    store.scope = scope
    try:
        yield scope
    finally:
        if isinstance(name_or_scope, VariableScope):
            store.counts = saved_counts
        else:
            store.close_subscopes(scope.name)
        store.scope = outer


# ---- get_variable -----------------------------------------------------------------------------
def get_variable(
    name: str,
    shape: Any = None,
    dtype: Any = None,
    initializer: Any = None,
    regularizer: Any = None,
    trainable: bool | None = None,
    collections: Any = None,
    caching_device: Any = None,
    partitioner: Any = None,
    validate_shape: bool = True,
    use_resource: Any = None,
    custom_getter: Any = None,
    constraint: Any = None,
    synchronization: Any = None,
    aggregation: Any = None,
) -> Variable:
    """The variable `<scope>/<name>`: created, or returned when the scope reuses (TF1).

    `initializer` is an initializer (called with the shape and dtype), a class of one, a
    callable of no arguments, or a value or tensor (then `shape` must be None; the
    variable takes its shape). Raises ValueError (InvalidArgumentError) with TF1's
    messages for a reuse violation or a shape or dtype that does not match.
    """
    _refuse(custom_getter=custom_getter, partitioner=partitioner, constraint=constraint)
    graph = get_default_graph()
    scope = _store(graph).scope
    if dtype is not None and initializer is not None and not callable(initializer):
        _check_value_dtype(initializer, as_dtype(dtype))
    full = f"{scope.name}/{name}" if scope.name else name
    request = _Request(
        full,
        shape,
        as_dtype(dtype if dtype is not None else scope.dtype),
        initializer if initializer is not None else scope.initializer,
        regularizer if regularizer is not None else scope.regularizer,
        scope.reuse,
    )
    with graph.name_scope(None):  # variable names depend on the variable scope only
        return _get_or_create(_store(graph), request, trainable, collections, validate_shape)


def get_local_variable(name: str, *args: Any, collections: Any = None, **kwargs: Any) -> Variable:
    """`get_variable` of a non-trainable variable in LOCAL_VARIABLES (and `collections`)."""
    kwargs["trainable"] = False
    local = [*(collections or []), GraphKeys.LOCAL_VARIABLES]
    return get_variable(name, *args, collections=local, **kwargs)


@dataclass
class _Request:
    name: str
    shape: Any
    dtype: DType
    initializer: Any
    regularizer: Any
    reuse: Any


def _check_value_dtype(value: Any, dtype: DType) -> None:
    """TF1 compares an initial value's own dtype (Python floats: float32) with `dtype`."""
    own = value.dtype if isinstance(value, Node) else as_dtype(to_array(value).dtype)
    if own is not dtype:
        raise InvalidArgumentError(
            f"Initializer type '{own.name}' and explicit dtype '{dtype.name}' don't match."
        )


def _get_or_create(
    store: _Store, request: _Request, trainable: Any, collections: Any, validate_shape: bool
) -> Variable:
    from_value = request.initializer is not None and not callable(request.initializer)
    if request.shape is not None and from_value:
        raise InvalidArgumentError("If initializer is a constant, do not specify shape.")
    shape = _as_shape(request.shape)
    found = store.variables.get(request.name)
    if found is not None:
        return _reused(found, request, shape)
    if request.reuse is True:
        raise InvalidArgumentError(
            f"Variable {request.name} does not exist, or was not created with "
            "tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in VarScope?"
        )
    initial, dtype = _initial_value(request, shape, from_value)
    var = Variable(
        initial,
        trainable=trainable,
        collections=collections,
        validate_shape=validate_shape,
        name=request.name,
        dtype=dtype,
    )
    store.variables[request.name] = var
    _regularize(var, request)
    return var


def _as_shape(shape: Any) -> tuple[int | None, ...] | None:
    if shape is None:
        return None
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    return tuple(None if d is None else int(d) for d in dims)


def _reused(found: Variable, request: _Request, shape: Any) -> Variable:
    """The existing variable, when reuse allows it and its shape and dtype fit the request."""
    if not request.reuse:
        raise InvalidArgumentError(
            f"Variable {request.name} already exists, disallowed. Did you mean to set "
            f"reuse=True or reuse=tf.AUTO_REUSE in VarScope? Originally defined at: {found.site}"
        )
    have = found.type.shape
    if shape is not None and (
        len(shape) != len(have)
        or any(d is not None and d != k for d, k in zip(shape, have, strict=True))
    ):
        raise InvalidArgumentError(
            f"Trying to share variable {request.name}, but specified shape {list(shape)} "
            f"and found shape {list(have)}."
        )
    if request.dtype is not found.dtype:
        raise InvalidArgumentError(
            f"Trying to share variable {request.name}, but specified dtype "
            f"{request.dtype.name} and found dtype {found.dtype.name}."
        )
    return found


def _initial_value(request: _Request, shape: Any, from_value: bool) -> tuple[Any, DType | None]:
    """(initial value or thunk, dtype) for a new variable, with TF1's default initializer."""
    init = request.initializer
    if from_value:
        return init, None
    if init is None:
        init = _default_initializer(request.dtype)
    if inspect.isclass(init):
        init = init()
    if shape is not None and None not in shape:
        return (lambda: init(list(shape), dtype=request.dtype)), request.dtype
    if _takes_no_arguments(init):
        return init, None
    raise InvalidArgumentError(
        "The initializer passed is not valid. It should be a callable with no arguments and "
        "the shape should not be provided or an instance of `tf.keras.initializers.*' and "
        f"`shape` should be fully defined. (variable {request.name}, shape {shape})"
    )


def _default_initializer(dtype: DType) -> Any:
    """TF1's: glorot_uniform for floats, zeros for integers and bools (every other dtype)."""
    return GlorotUniform() if dtype.is_floating else Zeros()


def _takes_no_arguments(fn: Any) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params
    )


def _regularize(var: Variable, request: _Request) -> None:
    """Adds `regularizer(var)` (built under "<name>/Regularizer/") to REGULARIZATION_LOSSES."""
    if not request.regularizer:
        return
    graph = var.graph
    with graph.name_scope(request.name + "/Regularizer/"):
        loss = request.regularizer(var)
    if loss is not None:
        graph.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
