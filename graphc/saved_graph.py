"""Saved graphs: `graph.save(path)` and `load_graph(path)`, and TF1's
`export_meta_graph` / `import_meta_graph` on top.

The file is an uncompressed .npz (the reader is the checkpoint reader of
graphc.saver, which refuses pickles, compressed or overlapping members and sizes the
file cannot hold): member `graph` holds UTF-8 JSON of the structure, and each
constant's array is a member of its own (`c0`, `c1`, ...). The JSON (format
"graphc.graph", version 1) lists the nodes in creation order, each with its op's
registered name, its inputs and control inputs as indices of earlier nodes, its
attributes (JSON values; tagged objects for tuples, dtypes, constants and
non-finite floats), its output type, the user's line that created it, and for a
variable whether it is trainable and its initial value; then the graph's random
seed, its variables' initializers and its collections (of nodes, ops, tf.summary
values and JSON values; other Python objects in a collection are left out, with a log
line).

Invariants: loading executes nothing from the file (no pickle, no code) and trusts
nothing in it: every op must be registered, every index must point backwards, every
attribute must decode to a known kind, and every node's type is inferred again from
its inputs and attributes by the op's own rule and must agree with the type stored
(a file that claims other shapes could otherwise make compiled code index past an
array). Any violation raises DataLossError naming the file and the node. A file of a
newer format version is refused with a message saying so. Names, sites and
collections come back as they were, so a Saver's checkpoint restores into the loaded
graph, and new ops get fresh names.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import numpy as np

from graphc._version import __version__
from graphc.durable import durable_write
from graphc.errors import DataLossError, GraphcError
from graphc.graph import WRITERS, Graph, get_default_graph
from graphc.ir import Attrs, ConstValue, Node, Operation
from graphc.ops import REGISTRY
from graphc.saver import Saver, read_arrays, write_arrays
from graphc.summary import Histogram, Merged, Scalar, SummaryTensor
from graphc.types import DType, TensorType, as_dtype
from graphc.variables import Variable

FORMAT, VERSION = "graphc.graph", 1
SUMMARIES = {kind.__name__: kind for kind in (Scalar, Histogram, Merged)}
log = logging.getLogger("graphc")


# ---- saving ---------------------------------------------------------------------------------
def save_graph(graph: Graph, path: Any) -> str:
    """Writes `graph` to `path` (atomically and durably); returns the path."""
    index = {id(n): k for k, n in enumerate(graph.nodes)}
    arrays: dict[str, np.ndarray] = {}
    nodes = [_node_entry(n, index, arrays) for n in graph.nodes]
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "graphc": __version__,
        "seed": graph.seed,
        "nodes": nodes,
        "initializers": [[index[id(v)], index[id(a)]] for v, a in graph.initializers.items()],
        "collections": _collections_entry(graph, index),
    }
    text = json.dumps(doc, sort_keys=True, allow_nan=False).encode()
    arrays = {"graph": np.frombuffer(text, np.uint8), **arrays}
    path = str(path)
    durable_write(path, lambda f: write_arrays(f, arrays))
    return path


def _node_entry(n: Node, index: dict[int, int], arrays: dict[str, np.ndarray]) -> dict:
    entry: dict[str, Any] = {
        "name": n.op_name,
        "op": n.opdef.name,
        "inputs": [index[id(x)] for x in n.inputs],
        "control": [index[id(c)] for c in n.control_inputs],
        "attrs": {k: _encode(v, n, k, arrays) for k, v in n.attrs.items()},
        "type": None if n.type is None else _type_entry(n.type),
        "site": n.site,
        "origin": list(n.origin),
    }
    if isinstance(n, Variable):
        initial = None if n.initial_value is None else index.get(id(n.initial_value))
        entry["variable"] = {"trainable": n.trainable, "initial_value": initial}
    return entry


def _type_entry(t: TensorType) -> dict:
    return {"dtype": t.dtype.name, "shape": None if t.shape is None else list(t.shape)}


def _encode(value: Any, n: Node, key: str, arrays: dict[str, np.ndarray]) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, tuple | list):
        items = [_encode(v, n, key, arrays) for v in value]
        return {"tuple": items} if isinstance(value, tuple) else {"list": items}
    if isinstance(value, DType):
        return {"dtype": value.name}
    if isinstance(value, ConstValue | np.ndarray | np.generic):
        name = f"c{len(arrays)}"
        arrays[name] = np.asarray(value.array if isinstance(value, ConstValue) else value)
        return {"const" if isinstance(value, ConstValue) else "array": name}
    raise GraphcError(
        f"cannot save op '{n.op_name}' ({n.opdef.type_name}): its attribute {key!r} holds "
        f"a {type(value).__name__}, which saved graphs do not store"
    )


def _collections_entry(graph: Graph, index: dict[int, int]) -> dict[str, list]:
    out: dict[str, list] = {}
    for name, items in graph.collections.items():
        if not isinstance(name, str):
            continue
        kept = []
        for item in items:
            node = item.node if isinstance(item, Operation) else item
            if isinstance(node, Node) and id(node) in index:
                kind = "op" if isinstance(item, Operation) else "node"
                kept.append({kind: index[id(node)]})
            elif isinstance(item, SummaryTensor) and type(item).__name__ in SUMMARIES:
                kept.append({"summary": _summary_entry(item, index)})
            elif item is None or isinstance(item, bool | int | float | str):
                kept.append({"value": item})
            else:
                log.warning(
                    "saving the graph: left out a %s in collection %r (only tensors, ops "
                    "and plain values are saved)",
                    type(item).__name__,
                    name,
                )
        out[name] = kept
    return out


WRITERS["graph"] = save_graph


def _summary_entry(summary: SummaryTensor, index: dict[int, int]) -> dict:
    """A summary (graphc.summary: a value computed on the host from fetched tensors) by
    kind, name, tag and inputs: tensors, or the summaries a merge holds."""
    inputs = [
        {"summary": _summary_entry(t, index)}
        if isinstance(t, SummaryTensor)
        else {"node": index[id(t)]}
        for t in summary.tensors
    ]
    kind = type(summary).__name__
    return {"kind": kind, "name": summary.op_name, "tag": summary.tag, "inputs": inputs}


# ---- loading --------------------------------------------------------------------------------
def load_graph(path: Any, graph: Graph | None = None) -> Graph:
    """The graph saved at `path`, as a new Graph (or added to `graph`, whose names must
    not clash with the file's)."""
    path = str(path)
    arrays = read_arrays(path, what="saved graph")
    doc = _document(path, arrays)
    into = graph if graph is not None else Graph()
    taken = {n.op_name for n in into.nodes}
    nodes: list[Node] = []
    for k, entry in enumerate(_list(doc, "nodes", path)):
        where = f"saved graph {path!r}, node {k}"
        try:
            node = _node(entry, nodes, into, arrays, where)
        except DataLossError:
            raise
        except (GraphcError, ValueError, TypeError, KeyError) as exc:
            raise DataLossError(f"{where}: {exc}") from None
        if node.op_name in taken:
            raise GraphcError(f"cannot load {path!r}: the graph has an op named {node.op_name!r}")
        taken.add(node.op_name)
        nodes.append(into.add(node))
        into.register_name(node.op_name)
    _finish(doc, nodes, into, path)
    return into


def _document(path: str, arrays: dict[str, np.ndarray]) -> dict:
    raw = arrays.get("graph")
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise DataLossError(f"{path!r} is not a saved graph (no 'graph' member of bytes)")
    try:
        doc = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataLossError(f"saved graph {path!r}: its structure is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DataLossError(f"{path!r} is not a saved graph (format {doc.get('format')!r})")
    version = doc.get("version")
    if not isinstance(version, int) or version < 1:
        raise DataLossError(f"saved graph {path!r}: bad format version {version!r}")
    if version > VERSION:
        raise DataLossError(
            f"saved graph {path!r} has format version {version}, written by graphc "
            f"{doc.get('graphc', '?')}; this graphc ({__version__}) reads up to version "
            f"{VERSION}: upgrade graphc to load it"
        )
    return doc


def _list(doc: dict, key: str, path: str) -> list:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise DataLossError(f"saved graph {path!r}: {key!r} is not a list")
    return value


def _node(
    entry: Any, nodes: list[Node], graph: Graph, arrays: dict[str, np.ndarray], where: str
) -> Node:
    if not isinstance(entry, dict):
        raise DataLossError(f"{where}: not an object")
    op = REGISTRY.get(entry.get("op"))
    if op is None:
        raise DataLossError(f"{where}: unknown op {entry.get('op')!r}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise DataLossError(f"{where}: bad name {name!r}")
    Graph.check_name(name.rpartition("/")[2])
    inputs = tuple(_earlier(k, nodes, where) for k in entry.get("inputs", []))
    control = tuple(_earlier(k, nodes, where) for k in entry.get("control", []))
    attrs = Attrs({str(k): _decode(v, arrays, where) for k, v in entry.get("attrs", {}).items()})
    inferred = op.infer(*(x.type for x in inputs), **attrs)
    stored = entry.get("type")
    if (stored is None) != (inferred is None) or (
        stored is not None and not _agrees(_type(stored, where), inferred)
    ):
        raise DataLossError(f"{where} ({name}): the stored type {stored} is not what its op gives")
    site, origin = entry.get("site", ""), entry.get("origin", [])
    if not isinstance(site, str) or not all(isinstance(o, str) for o in origin):
        raise DataLossError(f"{where}: bad site or origin")
    fields = (op, inputs, attrs, inferred, name, graph, control, site, tuple(origin))
    if "variable" not in entry:
        return Node(*fields)
    if op.name != "variable":
        raise DataLossError(f"{where}: a {op.type_name} op saved as a variable")
    trainable = entry["variable"].get("trainable", True)
    return Variable(*fields, bool(trainable), None)


def _earlier(k: Any, nodes: list[Node], where: str) -> Node:
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(nodes):
        raise DataLossError(f"{where}: input {k!r} is not an earlier node")
    return nodes[k]


def _type(entry: Any, where: str) -> TensorType:
    if not isinstance(entry, dict):
        raise DataLossError(f"{where}: bad type {entry!r}")
    shape = entry.get("shape")
    if shape is not None and not (
        isinstance(shape, list)
        and all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in shape
        )
    ):
        raise DataLossError(f"{where}: bad shape {shape!r}")
    return TensorType(None if shape is None else tuple(shape), as_dtype(entry.get("dtype")))


def _agrees(stored: TensorType, inferred: TensorType | None) -> bool:
    """The stored type is the inferred one, or less specific (a placeholder refined by
    set_shape after its readers were made: they are inferred again from the new shape)."""
    if inferred is None or stored.dtype != inferred.dtype:
        return False
    if stored.shape is None:
        return True
    if inferred.shape is None or len(stored.shape) != len(inferred.shape):
        return False
    return all(s is None or s == i for s, i in zip(stored.shape, inferred.shape, strict=True))


def _decode(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):  # JSON lists only appear tagged
        raise DataLossError(f"{where}: an untagged list in an attribute")
    if not isinstance(value, dict) or len(value) != 1:
        raise DataLossError(f"{where}: bad attribute value {value!r}")
    ((tag, inner),) = value.items()
    if tag in ("tuple", "list") and isinstance(inner, list):
        items = [_decode(v, arrays, where) for v in inner]
        return tuple(items) if tag == "tuple" else items
    if tag == "dtype":
        return as_dtype(inner)
    if tag == "float" and inner in ("inf", "-inf", "nan"):
        return float(inner)
    if (
        tag in ("const", "array")
        and isinstance(inner, str)
        and inner in arrays
        and inner != "graph"
    ):
        return ConstValue(arrays[inner]) if tag == "const" else arrays[inner]
    raise DataLossError(f"{where}: bad attribute value {value!r}")


def _finish(doc: dict, nodes: list[Node], graph: Graph, path: str) -> None:
    """Initial values, initializers, the seed and the collections."""
    where = f"saved graph {path!r}"
    for k, entry in enumerate(doc["nodes"]):
        initial = entry.get("variable", {}).get("initial_value") if "variable" in entry else None
        if initial is not None:
            object.__setattr__(nodes[k], "initial_value", _index(initial, nodes, where))
    for pair in _list(doc, "initializers", path):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise DataLossError(f"{where}: bad initializer entry {pair!r}")
        var, assign = (_index(k, nodes, where) for k in pair)
        graph.initializers[var] = assign
    seed = doc.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise DataLossError(f"{where}: bad seed {seed!r}")
    if graph.seed is None:  # a graph loaded into keeps its own seed
        graph.seed = seed
    collections = doc.get("collections", {})
    made: dict[str, SummaryTensor] = {}  # summaries by name: one object per name
    if not isinstance(collections, dict):
        raise DataLossError(f"{where}: 'collections' is not an object")
    for name, items in collections.items():
        if not isinstance(items, list):
            raise DataLossError(f"{where}: collection {name!r} is not a list")
        loaded = [_item(item, nodes, graph, where, made) for item in items]
        graph.collections.setdefault(name, []).extend(loaded)  # after what the graph had


def _index(k: Any, nodes: list[Node], where: str) -> Node:
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(nodes):
        raise DataLossError(f"{where}: {k!r} is not a node")
    return nodes[k]


def _item(item: Any, nodes: list[Node], graph: Graph, where: str, made: dict) -> Any:
    if isinstance(item, dict) and len(item) == 1:
        ((kind, value),) = item.items()
        if kind == "summary":
            return _summary(value, nodes, graph, where, made)
        if kind == "node":
            return _index(value, nodes, where)
        if kind == "op":
            return graph.operation(_index(value, nodes, where))
        if kind == "value" and (value is None or isinstance(value, bool | int | float | str)):
            return value
    raise DataLossError(f"{where}: bad collection item {item!r}")


def _summary(
    entry: Any, nodes: list[Node], graph: Graph, where: str, made: dict[str, SummaryTensor]
) -> SummaryTensor:
    """A summary from its entry; one object per name (`made`), as the saved graph had."""
    if not isinstance(entry, dict) or entry.get("kind") not in SUMMARIES:
        raise DataLossError(f"{where}: bad summary {entry!r}")
    name, tag = entry.get("name"), entry.get("tag")
    if not isinstance(name, str) or not isinstance(tag, str):
        raise DataLossError(f"{where}: bad summary name or tag")
    if name not in made:
        inputs = tuple(_item(i, nodes, graph, where, made) for i in entry.get("inputs", []))
        if not all(isinstance(i, Node | SummaryTensor) for i in inputs):
            raise DataLossError(f"{where}: summary {name!r} reads something that is not a tensor")
        made[name] = SUMMARIES[entry["kind"]](name, tag, inputs, graph)
        graph.register_name(name)
    return made[name]


# ---- TF1's spelling -------------------------------------------------------------------------
def export_meta_graph(
    filename: Any = None, graph: Graph | None = None, **ignored: Any
) -> dict[str, Any]:
    """TF1's `tf.train.export_meta_graph`: writes the graph (default: the default graph)
    to `filename` when given; returns a small description (TF1 returns the MetaGraphDef)."""
    graph = graph if graph is not None else get_default_graph()
    if filename is not None:
        save_graph(graph, filename)
    return {"format": FORMAT, "version": VERSION, "ops": len(graph.nodes)}


def import_meta_graph(meta_graph_or_file: Any, clear_devices: bool = False, **ignored: Any) -> Any:
    """TF1's `tf.train.import_meta_graph`: adds the saved graph to the default graph and
    returns a `Saver` of its global variables (None when it has none), ready to restore
    a checkpoint into it."""
    graph = load_graph(meta_graph_or_file, get_default_graph())
    variables = graph.get_collection("variables")
    return Saver(variables) if variables else None
