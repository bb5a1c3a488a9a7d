"""TF1's session configuration messages as plain value objects: `ConfigProto`,
`GPUOptions`, `GraphOptions`, `OptimizerOptions`, `RunOptions`, `RunMetadata`.

`tf.Session(config=tf.ConfigProto(...))` and `sess.run(..., options=tf.RunOptions(...),
run_metadata=tf.RunMetadata())` run unchanged. Which fields graphc honours is listed in
docs/tf1-compat.md; `ignored_fields(message)` names the fields a message sets that graphc
does not honour, so a session can say so instead of pretending.

Invariants:
- A message holds exactly the fields of TF1's proto (the ones TF1 scripts set; the
  rest are missing on purpose), each with the proto's default: keyword arguments and
  attribute assignment to any other name raise (ValueError and AttributeError, as
  protobuf does).
- A value of the wrong type raises TypeError, an enum value TF1 does not define
  ValueError; a nested message field always holds a message (never None), so
  `config.gpu_options.allow_growth = True` works on a fresh ConfigProto.
- `str(message)` is TF1's text format of the fields set to non-default values.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any, ClassVar

__all__ = [
    "ConfigProto",
    "GPUOptions",
    "GraphOptions",
    "Message",
    "OptimizerOptions",
    "RunMetadata",
    "RunOptions",
    "ignored_fields",
    "set_fields",
]


class Message:
    """Base of the messages: `FIELDS` maps each field to its default, which also gives
    its type: a scalar (bool, int, float, str, an IntEnum member), a Message class (a
    nested message), `[type]` (a repeated field) or `{key type: value type}` (a map)."""

    FIELDS: ClassVar[dict[str, Any]] = {}

    def __init__(self, **fields: Any) -> None:
        for name, default in self.FIELDS.items():
            self.__dict__[name] = _fresh(default)
        for name, value in fields.items():
            if name not in self.FIELDS:
                raise ValueError(f'Protocol message {type(self).__name__} has no "{name}" field.')
            setattr(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self.FIELDS:
            raise AttributeError(
                f"{type(self).__name__} has no field {name!r} (graphc's has: "
                f"{', '.join(self.FIELDS)}; see docs/tf1-compat.md)"
            )
        self.__dict__[name] = _checked(f"{type(self).__name__}.{name}", self.FIELDS[name], value)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable, as protobuf messages are

    def __repr__(self) -> str:
        return "".join(line + "\n" for line in _text(self))

    def HasField(self, name: str) -> bool:
        """Whether the nested message field `name` holds a non-default value."""
        if not isinstance(self.FIELDS.get(name), type):
            raise ValueError(f'{type(self).__name__} has no message field "{name}"')
        return getattr(self, name) != _fresh(self.FIELDS[name])

    def ClearField(self, name: str) -> None:
        """Field `name` back to its default."""
        setattr(self, name, _fresh(self.FIELDS[name]))

    def Clear(self) -> None:
        for name in self.FIELDS:
            self.ClearField(name)

    def CopyFrom(self, other: Message) -> None:
        """Makes this message equal to `other` (of the same type)."""
        if type(other) is not type(self):
            raise TypeError(f"CopyFrom needs a {type(self).__name__}, not {type(other).__name__}")
        for name in self.FIELDS:
            setattr(self, name, getattr(other, name))


def _fresh(default: Any) -> Any:
    """A new field value holding `default` (a fresh message, list or dict)."""
    if isinstance(default, type):
        return default()
    if isinstance(default, list):
        return []
    if isinstance(default, dict):
        return {}
    return default


def _checked(where: str, default: Any, value: Any) -> Any:
    """`value` as the field's type; raises TypeError (ValueError for a bad enum)."""
    if isinstance(default, type):
        return _message(where, default, value)
    if isinstance(default, list):
        if isinstance(value, str | bytes | dict) or not hasattr(value, "__iter__"):
            raise TypeError(f"{where} is a repeated field: give a list, not {value!r}")
        if default[0] is object:  # graphc never fills these: any items
            return list(value)
        return [_checked(where, default[0](), item) for item in value]
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise TypeError(f"{where} is a map: give a dict, not {value!r}")
        ((key, item),) = default.items()
        return {_checked(where, key(), k): _checked(where, item(), v) for k, v in value.items()}
    return _scalar(where, default, value)


def _message(where: str, kind: type, value: Any) -> Message:
    if isinstance(value, dict):
        return kind(**value)
    if type(value) is not kind:
        raise TypeError(f"{where} takes a {kind.__name__}, not {type(value).__name__}")
    copy = kind()
    copy.CopyFrom(value)
    return copy


def _scalar(where: str, default: Any, value: Any) -> Any:
    if isinstance(default, enum.IntEnum):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{where} takes a {type(default).__name__} value, not {value!r}")
        if value not in set(type(default)):
            names = ", ".join(f"{m.name}={m.value}" for m in type(default))
            raise ValueError(f"{where}: {value} is not a {type(default).__name__} ({names})")
        return int(value)
    if isinstance(default, bool | int | float) and isinstance(value, bool | int | float):
        if isinstance(default, bool | int) and isinstance(value, float):
            raise TypeError(f"{where} takes an {type(default).__name__}, not the float {value}")
        return type(default)(value)
    if isinstance(default, str) and isinstance(value, str | bytes):
        return value.decode() if isinstance(value, bytes) else value
    kind = type(default).__name__
    article = "an" if kind[0] in "aeiou" else "a"
    raise TypeError(f"{where} takes {article} {kind}, not {type(value).__name__}")


def _text(message: Message, indent: str = "") -> Iterator[str]:
    """TF1's text format of the fields of `message` set to non-default values."""
    for name, default in message.FIELDS.items():
        value = getattr(message, name)
        if value == _fresh(default):
            continue
        if isinstance(value, Message):
            yield f"{indent}{name} {{"
            yield from _text(value, indent + "  ")
            yield f"{indent}}}"
        elif isinstance(value, dict):
            for key, item in value.items():
                yield f"{indent}{name} {{ key: {_literal(key)} value: {_literal(item)} }}"
        elif isinstance(value, list):
            yield from (f"{indent}{name}: {_literal(item)}" for item in value)
        elif isinstance(default, enum.IntEnum):
            yield f"{indent}{name}: {type(default)(value).name}"
        else:
            yield f"{indent}{name}: {_literal(value)}"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


# ---- the messages (fields and defaults of TF1's config.proto) -----------------------------
class GPUOptions(Message):
    """How a session would use GPUs (graphc's targets ignore it: see docs/tf1-compat.md)."""

    FIELDS: ClassVar[dict[str, Any]] = {
        "per_process_gpu_memory_fraction": 0.0,
        "allow_growth": False,
        "allocator_type": "",
        "deferred_deletion_bytes": 0,
        "visible_device_list": "",
        "polling_active_delay_usecs": 0,
        "polling_inactive_delay_msecs": 0,
        "force_gpu_compatible": False,
    }


class OptimizerOptions(Message):
    """TF1's graph optimizer settings (graphc runs its own passes: `Session(passes=)`)."""

    class Level(enum.IntEnum):
        L1 = 0
        L0 = -1

    class GlobalJitLevel(enum.IntEnum):
        DEFAULT = 0
        OFF = -1
        ON_1 = 1
        ON_2 = 2

    L1, L0 = Level.L1, Level.L0
    DEFAULT, OFF, ON_1, ON_2 = GlobalJitLevel
    FIELDS: ClassVar[dict[str, Any]] = {
        "do_common_subexpression_elimination": False,
        "do_constant_folding": False,
        "max_folded_constant_in_bytes": 0,
        "do_function_inlining": False,
        "opt_level": Level.L1,
        "global_jit_level": GlobalJitLevel.DEFAULT,
    }


class GraphOptions(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "enable_recv_scheduling": False,
        "optimizer_options": OptimizerOptions,
        "build_cost_model": 0,
        "build_cost_model_after": 0,
        "infer_shapes": False,
        "place_pruned_graph": False,
        "enable_bfloat16_sendrecv": False,
        "timeline_step": 0,
    }


class ConfigProto(Message):
    """`tf.Session(config=...)`: accepted; which fields graphc honours is in
    docs/tf1-compat.md (`ignored_fields` lists the others a config sets)."""

    FIELDS: ClassVar[dict[str, Any]] = {
        "device_count": {str: int},
        "intra_op_parallelism_threads": 0,
        "inter_op_parallelism_threads": 0,
        "use_per_session_threads": False,
        "placement_period": 0,
        "device_filters": [str],
        "gpu_options": GPUOptions,
        "allow_soft_placement": False,
        "log_device_placement": False,
        "graph_options": GraphOptions,
        "operation_timeout_in_ms": 0,
        "isolate_session_state": False,
    }


class RunOptions(Message):
    """`sess.run(..., options=...)`: accepted; graphc traces nothing (RunMetadata stays
    empty)."""

    class TraceLevel(enum.IntEnum):
        NO_TRACE = 0
        SOFTWARE_TRACE = 1
        HARDWARE_TRACE = 2
        FULL_TRACE = 3

    NO_TRACE, SOFTWARE_TRACE, HARDWARE_TRACE, FULL_TRACE = TraceLevel
    FIELDS: ClassVar[dict[str, Any]] = {
        "trace_level": TraceLevel.NO_TRACE,
        "timeout_in_ms": 0,
        "inter_op_thread_pool": 0,
        "output_partition_graphs": False,
        "report_tensor_allocations_upon_oom": False,
    }


class StepStats(Message):
    """Per-device op timings (TF1 fills them under FULL_TRACE; graphc leaves them empty)."""

    FIELDS: ClassVar[dict[str, Any]] = {"dev_stats": [object]}


class CostGraphDef(Message):
    FIELDS: ClassVar[dict[str, Any]] = {"node": [object]}


class RunMetadata(Message):
    """`sess.run(..., run_metadata=...)`: accepted, and left empty by graphc."""

    FIELDS: ClassVar[dict[str, Any]] = {
        "step_stats": StepStats,
        "cost_graph": CostGraphDef,
        "partition_graphs": [object],
        "function_graphs": [object],
    }


def set_fields(message: Message, prefix: str = "") -> list[str]:
    """The dotted names of the fields of `message` set to non-default values, nested
    messages entered (`gpu_options.allow_growth`)."""
    names = []
    for name, default in message.FIELDS.items():
        value = getattr(message, name)
        if isinstance(value, Message):
            names += set_fields(value, f"{prefix}{name}.")
        elif value != _fresh(default):
            names.append(prefix + name)
    return names


HONOURED: dict[str, frozenset[str]] = {}  # message type -> the fields graphc acts on


def ignored_fields(message: Message) -> list[str]:
    """The fields `message` sets that graphc does not act on (all of them, today: see
    docs/tf1-compat.md), for a session to report."""
    honoured = HONOURED.get(type(message).__name__, frozenset())
    return [name for name in set_fields(message) if name not in honoured]


def check_message(value: Any, kind: type[Message], what: str) -> Message:
    """`value` if it is a `kind` (a ConfigProto, RunOptions, ...), else TypeError naming
    the argument, as TF1 refuses a config of the wrong type."""
    if not isinstance(value, kind):
        raise TypeError(f"{what} must be a tf.{kind.__name__}, got {type(value).__name__}")
    return value
