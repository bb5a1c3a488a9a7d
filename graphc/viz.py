"""Pictures of graphs: DOT text, rendered files, a self-contained HTML view, and the
backprop view (one step's values and gradients drawn on the forward graph).

`picture(obj)` turns a Graph (all of it, or what some fetches need), an Executable
(its optimized graph) or a Session (its graph) into boxes and arrows: each box knows
its op, type, name scope, the user's line, what the passes did to it and, for a fused
kernel, its member ops. Gradient ops (TF1's `gradients/<op>_grad/...` names) are
styled apart and linked to the forward op they differentiate. `to_dot` writes DOT with
name scopes as clusters (`collapse` draws a scope as one box); `to_html` a page that
needs nothing but a browser (its own layered layout, pan and zoom, a details panel on
click; `page.html#select=NAME` opens with that op clicked); `render` picks by suffix
and runs Graphviz for .svg/.png/.pdf.

`backprop(sess, loss, feed_dict)` adds the gradients of `loss` with respect to every
floating tensor it depends on (under the name scope `backprop_view`, as tf.gradients
would), runs them once with the values (and, given `train_op`, one training step to
measure each variable's update), and returns a `BackpropView`: per tensor the value's
shape, mean, std, min and max and the gradient's norm and largest magnitude; arrows
coloured on a log scale of the gradient's root mean square, so vanishing and exploding
paths stand out; trainable variables that get no gradient, with the ops that cut their
path to the loss. `.text()` is the terminal form. `tangents(sess, output, xs,
directions)` draws forward mode the same way: each tensor's derivative along a
direction (`graphc.jvp`).

Invariants: the same graph gives the same bytes (nodes in the graph's order, fixed
number formats); every name written into DOT, HTML or JSON is escaped; only
`backprop` runs anything, and only the fetches it names.
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphc.autodiff import gradients, jvp
from graphc.durable import durable_write
from graphc.errors import GraphcError
from graphc.graph import Graph
from graphc.ir import Node, Operation

GRADIENT_SCOPE = re.compile(r"^(gradients|backprop_view)(_\d+)?$")
KINDS = ("forward", "gradient", "argument", "constant", "folded", "kernel")
FILL = {
    "forward": "#dbe9f6",
    "gradient": "#fbe3d6",
    "argument": "#e2f0d9",
    "constant": "#eeeeee",
    "folded": "#fff2cc",
    "kernel": "#fff8dc",
}


@dataclass
class Box:
    """One drawn op."""

    name: str
    op: str  # TF's type name (MatMul, Conv2D, ...)
    type: str  # its output: "f32[?,10]", or "()" for an op without one
    kind: str  # one of KINDS
    site: str = ""  # the user's file:line
    forward: str | None = None  # the forward op a gradient op differentiates
    members: tuple[str, ...] = ()  # a fused kernel's ops
    changes: list[str] = field(default_factory=list)  # what the passes did to it
    stats: dict[str, Any] | None = None  # the backprop view's numbers

    @property
    def scope(self) -> str:
        return self.name.rpartition("/")[0]


@dataclass
class Arrow:
    """A data edge (labelled with the tensor's type) or a control edge."""

    src: str
    dst: str
    label: str
    control: bool = False
    level: float | None = None  # backprop view: the gradient's place on the log scale, 0..1


@dataclass
class Picture:
    boxes: list[Box]
    arrows: list[Arrow]
    title: str = "graphc"


# ---- what to draw ---------------------------------------------------------------------------
def picture(obj: Any, fetches: Any = None) -> Picture:
    """The boxes and arrows of a Graph, Session or Executable (see the module docstring);
    with `fetches`, only what they need."""
    report = None
    if hasattr(obj, "report") and hasattr(obj, "graph") and isinstance(obj.graph, Graph):
        report, graph = obj.report, obj.graph  # an Executable: its optimized graph
    elif isinstance(obj, Graph):
        graph = obj
    elif hasattr(obj, "graph") and isinstance(obj.graph, Graph):
        graph = obj.graph  # a Session
    else:
        raise GraphcError(
            f"cannot draw {type(obj).__name__}: expected a Graph, Session or Executable"
        )
    nodes = graph.nodes
    if fetches is not None:
        wanted = [f.node if isinstance(f, Operation) else f for f in _as_list(fetches)]
        nodes = Graph.from_outputs(wanted).nodes
    names = {n.op_name for n in nodes}
    changes = report.changes() if report is not None else []
    boxes, arrows = [], []
    for n in nodes:
        boxes.append(_box(n, names, changes))
        for x in n.inputs:
            if x.op_name in names:
                arrows.append(Arrow(x.op_name, n.op_name, _type_text(x)))
        for c in n.control_inputs:
            if c.op_name in names:
                arrows.append(Arrow(c.op_name, n.op_name, "", control=True))
    return Picture(boxes, arrows)


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, list | tuple) else [x]


def _type_text(n: Node) -> str:
    return "()" if n.type is None else str(n.type)


def _box(n: Node, names: set[str], changes: list[str]) -> Box:
    kind, members = "forward", ()
    forward = forward_op(n.op_name)
    if n.opdef.name == "fused":
        kind, members = "kernel", tuple(n.attrs["kernel"].ops)
    elif n.opdef.name in ("placeholder", "variable"):
        kind = "argument"
    elif n.opdef.name == "const":
        kind = "constant"
        folded = f"folded {n.op_name} ("
        if any(c.startswith(folded) for c in changes):
            kind = "folded"
    elif forward is not None:
        kind = "gradient"
    mine = re.compile(rf"(?<![\w/]){re.escape(n.op_name)}(?![\w/])")
    return Box(
        name=n.op_name,
        op=n.opdef.type_name,
        type=_type_text(n),
        kind=kind,
        site=n.site,
        forward=forward if forward in names else None,
        members=members,
        changes=[c for c in changes if mine.search(c)],
    )


def forward_op(name: str) -> str | None:
    """The forward op a gradient op differentiates, by TF1's naming
    (`gradients/dense/MatMul_grad/MatMul` differentiates `dense/MatMul`); None for an op
    outside a gradients scope."""
    parts = name.split("/")
    if not parts or not GRADIENT_SCOPE.match(parts[0]):
        return None
    for k in range(len(parts) - 1, 0, -1):
        if parts[k].endswith("_grad"):
            return "/".join([*parts[1:k], parts[k][: -len("_grad")]])
    return None


# ---- DOT ------------------------------------------------------------------------------------
def to_dot(obj: Any, fetches: Any = None, collapse: Iterable[str] = ()) -> str:
    """DOT text: name scopes as clusters (each scope in `collapse` as one box), gradient
    ops styled apart with a dotted arrow to their forward op, fused kernels listing their
    member ops, folded constants marked; edges labelled with the tensor type."""
    pic = obj if isinstance(obj, Picture) else picture(obj, fetches)
    return _dot(pic, tuple(collapse))


def _dot(pic: Picture, collapse: tuple[str, ...]) -> str:
    where = {b.name: _collapsed(b.name, collapse) for b in pic.boxes}
    lines = [
        "digraph graphc {",
        "  compound=true; rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="monospace", fontsize=10];',
        '  edge [fontname="monospace", fontsize=8];',
    ]
    drawn: dict[str, str] = {}  # drawn name -> its node statement
    for b in pic.boxes:
        name = where[b.name]
        if name == b.name:
            drawn[name] = f"{_quote(name)} [{_dot_node_attrs(b)}];"
            if b.members:  # a box around the kernel and the ops it computes
                drawn[name] = _kernel_cluster(b, drawn[name])
        elif name not in drawn:
            count = sum(1 for x in pic.boxes if where[x.name] == name)
            label = f"{name}\n(collapsed: {count} ops)"
            drawn[name] = (
                f'{_quote(name)} [label={_quote(label)}, shape=box3d, fillcolor="#d9d9d9"];'
            )
    tree: dict[str, Any] = {}
    for name, statement in drawn.items():
        node = tree
        for part in [p for p in name.split("/")[:-1] if p]:
            node = node.setdefault(part, {})
        node.setdefault("", []).append(statement)
    lines += _dot_scope(tree, "", "  ")
    seen = set()
    for a in pic.arrows:
        src, dst = where[a.src], where[a.dst]
        if src == dst or (src, dst, a.control) in seen:
            continue
        seen.add((src, dst, a.control))
        attrs = [f"label={_quote(a.label)}"] if a.label and src == a.src else []
        if a.control:
            attrs.append("style=dashed")
        if a.level is not None:
            attrs += [f'color="{_colour(a.level)}"', f"penwidth={1 + 3 * a.level:.2f}"]
        lines.append(f"  {_quote(src)} -> {_quote(dst)} [{', '.join(attrs)}];")
    for b in pic.boxes:
        if b.forward and where[b.name] == b.name and where[b.forward] == b.forward:
            lines.append(
                f"  {_quote(b.name)} -> {_quote(b.forward)} "
                '[style=dotted, color="#c55a11", arrowhead=none, constraint=false];'
            )
    return "\n".join([*lines, "}"]) + "\n"


def _collapsed(name: str, collapse: tuple[str, ...]) -> str:
    """The box `name` is drawn in: the collapsed scope holding it, or itself."""
    for scope in collapse:
        scope = scope.rstrip("/")
        if name == scope or name.startswith(scope + "/"):
            return scope
    return name


def _dot_scope(tree: dict, path: str, indent: str) -> list[str]:
    """A scope's node statements, then each inner scope as a cluster."""
    lines = [indent + statement for statement in tree.get("", [])]
    for part in sorted(k for k in tree if k):
        scope = f"{path}/{part}" if path else part
        lines.append(f"{indent}subgraph {_quote('cluster_' + scope)} {{")
        lines.append(f'{indent}  label={_quote(scope)}; style=rounded; color="#999999";')
        lines += _dot_scope(tree[part], scope, indent + "  ")
        lines.append(f"{indent}}}")
    return lines


def _kernel_cluster(b: Box, statement: str) -> str:
    """A fused kernel's node inside a cluster that also lists the ops it computes (one
    plain node `kernel::ops`, a line per op, so the box stays narrow)."""
    label = f"kernel {b.name.rpartition('/')[2]}: {len(b.members)} ops"
    ops = _quote("\n".join(b.members))
    return "\n".join(
        [
            f"subgraph {_quote('cluster_kernel_' + b.name)} {{",
            f'  label={_quote(label)}; style="rounded,filled"; fillcolor="{FILL["kernel"]}";',
            f"  {statement}",
            f"  {_quote(b.name + '::ops')} [label={ops}, shape=plaintext, style=solid];",
            "}",
        ]
    )


def _dot_node_attrs(b: Box) -> str:
    label = f"{b.name.rpartition('/')[2]}\n{b.op} {b.type}"
    if b.kind == "folded":
        label += "\n(folded constant)"
    if b.stats:
        label += "\n" + "\n".join(_stats_lines(b.stats))
    attrs = [f"label={_quote(label)}", f'fillcolor="{FILL[b.kind]}"']
    if b.kind == "argument":
        attrs.append("shape=ellipse")
    if b.kind == "kernel":
        attrs.append('style="filled,bold"')
    if b.stats and b.stats.get("no_gradient"):
        attrs += ['color="#c00000"', "penwidth=2.5"]
    if b.site:
        attrs.append(f"tooltip={_quote(b.site)}")
    return ", ".join(attrs)


def _quote(text: str) -> str:
    """A DOT string: backslashes and quotes escaped, line breaks as DOT's centred ones."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


def _colour(level: float) -> str:
    """Blue (small gradients) through grey to red (large), for `level` in [0, 1]."""
    level = min(max(level, 0.0), 1.0)
    low, high = (0x1F, 0x4E, 0x9A), (0xC0, 0x1C, 0x1C)
    r, g, b = (round(a + (z - a) * level) for a, z in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


# ---- HTML -----------------------------------------------------------------------------------
def to_html(obj: Any, fetches: Any = None, sources: dict[str, str] | None = None) -> str:
    """A self-contained page: the graph laid out in layers (its own layout, no Graphviz),
    pan (drag) and zoom (wheel), and a details panel for the clicked box: op, type, the
    user's line, what the passes did, the kernel's members and generated code
    (`sources`: box name -> code), and the backprop view's numbers."""
    pic = obj if isinstance(obj, Picture) else picture(obj, fetches)
    if sources is None and hasattr(obj, "source") and hasattr(obj, "graph"):
        sources = {b.name: _kernel_code(obj.source, b.name) for b in pic.boxes if b.members}
    place = _layout(pic)
    width = max((x for x, _ in place.values()), default=0) + BOX_W + 40
    height = max((y for _, y in place.values()), default=0) + BOX_H + 40
    svg = [
        f'<svg id="view" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>'
        "</defs>",
        '<g id="scene">',
    ]
    for a in pic.arrows:
        (x1, y1), (x2, y2) = place[a.src], place[a.dst]
        x1, y1, x2, y2 = x1 + BOX_W / 2, y1 + BOX_H, x2 + BOX_W / 2, y2
        colour = "#888" if a.level is None else _colour(a.level)
        width_ = 1.2 if a.level is None else 1 + 3 * a.level
        dash = ' stroke-dasharray="4 3"' if a.control else ""
        mid = (y1 + y2) / 2
        svg.append(
            f'<path d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} '
            f'{x2:.1f},{y2:.1f}" '
            f'fill="none" stroke="{colour}" stroke-width="{width_:.2f}"{dash} '
            f'marker-end="url(#arrow)"><title>{html.escape(a.label)}</title></path>'
        )
    details = {}
    for k, b in enumerate(pic.boxes):
        x, y = place[b.name]
        stroke = "#c00000" if b.stats and b.stats.get("no_gradient") else "#666"
        svg.append(
            f'<g class="box" data-k="{k}" transform="translate({x:.1f},{y:.1f})">'
            f'<rect width="{BOX_W}" height="{BOX_H}" rx="6" fill="{FILL[b.kind]}" '
            f'stroke="{stroke}"/>'
            f'<text x="6" y="16">{html.escape(b.name.rpartition("/")[2][:26])}</text>'
            f'<text x="6" y="32" class="small">{html.escape((b.op + " " + b.type)[:34])}</text>'
            "</g>"
        )
        details[k] = _details(b, (sources or {}).get(b.name))
    svg += ["</g>", "</svg>"]
    data = json.dumps(details, sort_keys=True).replace("</", "<\\/")
    return _PAGE.format(
        title=html.escape(pic.title), svg="\n".join(svg), data=data, legend=_legend()
    )


BOX_W, BOX_H, GAP_X, GAP_Y = 200, 42, 30, 46


def _layout(pic: Picture) -> dict[str, tuple[float, float]]:
    """Layers by longest path from the sources (data edges), ordered within a layer by
    the mean position of their inputs (two sweeps): a small Sugiyama layout."""
    layer: dict[str, int] = {}
    inputs: dict[str, list[str]] = {b.name: [] for b in pic.boxes}
    for a in pic.arrows:
        inputs[a.dst].append(a.src)
    for b in pic.boxes:  # the boxes come in a topological order
        layer[b.name] = 1 + max((layer[s] for s in inputs[b.name] if s in layer), default=-1)
    rows: dict[int, list[str]] = {}
    for b in pic.boxes:
        rows.setdefault(layer[b.name], []).append(b.name)
    position = {name: float(k) for row in rows.values() for k, name in enumerate(row)}
    for _ in range(2):
        for depth in sorted(rows):
            row = rows[depth]
            key = {
                n: (
                    sum(position[s] for s in inputs[n]) / len(inputs[n])
                    if inputs[n]
                    else position[n]
                )
                for n in row
            }
            row.sort(key=lambda n: (key[n], n))
            for k, n in enumerate(row):
                position[n] = float(k)
    return {
        n: (20 + position[n] * (BOX_W + GAP_X), 20 + layer[n] * (BOX_H + GAP_Y)) for n in position
    }


def _details(b: Box, code: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": b.name, "op": b.op, "type": b.type, "kind": b.kind}
    for key, value in (
        ("line", b.site),
        ("differentiates", b.forward),
        ("kernel ops", list(b.members)),
        ("passes", b.changes),
        ("code", code),
        ("backprop", b.stats),
    ):
        if value:
            out[key] = value
    return out


def _kernel_code(source: str, name: str) -> str | None:
    """The generated lines of one fused kernel (from its `# kernel NAME` comment to the
    next op's comment)."""
    lines = source.splitlines()
    start = next(
        (k for k, ln in enumerate(lines) if ln.strip().startswith(f"# kernel {name} ")), None
    )
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and not (
        lines[end].startswith("    # ") and not lines[end].startswith("    #     ")
    ):
        end += 1
    return "\n".join(ln[4:] for ln in lines[start:end])


def _legend() -> str:
    return "".join(f'<span class="key" style="background:{FILL[k]}">{k}</span>' for k in KINDS)


_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ margin: 0; font: 13px monospace; display: flex; height: 100vh; }}
#canvas {{ flex: 1; overflow: hidden; cursor: grab; background: #fcfcfc; }}
#view {{ width: 100%; height: 100%; }}
#panel {{ width: 380px; overflow: auto; border-left: 1px solid #ccc; padding: 8px; }}
.box {{ cursor: pointer; }} .box text {{ font: 12px monospace; }} .small {{ font-size: 10px; }}
.key {{ padding: 1px 6px; margin-right: 4px; border: 1px solid #999; }}
pre {{ white-space: pre-wrap; }}
</style></head>
<body><div id="canvas">{svg}</div>
<div id="panel"><div>{legend}</div><p id="hint">Click a box for its details; drag to pan,
wheel to zoom.</p><pre id="details"></pre></div>
<script>
const DATA = {data};
const svg = document.getElementById("view"), scene = document.getElementById("scene");
let tx = 0, ty = 0, s = 1, drag = null;
function apply() {{ scene.setAttribute("transform", `translate(${{tx}},${{ty}}) scale(${{s}})`); }}
svg.addEventListener("wheel", e => {{ e.preventDefault();
  const f = e.deltaY < 0 ? 1.15 : 1 / 1.15; s *= f; apply(); }});
svg.addEventListener("mousedown", e => {{ drag = [e.clientX - tx, e.clientY - ty]; }});
window.addEventListener("mousemove", e => {{ if (drag) {{ tx = e.clientX - drag[0];
  ty = e.clientY - drag[1]; apply(); }} }});
window.addEventListener("mouseup", () => {{ drag = null; }});
for (const g of document.querySelectorAll(".box")) {{
  g.addEventListener("click", e => {{ e.stopPropagation();
    document.getElementById("details").textContent =
      JSON.stringify(DATA[g.dataset.k], null, 2); }});
}}
// a link to one box: page.html#select=NAME opens with that box clicked
const wanted = location.hash.match(/^#select=(.+)$/);
if (wanted) {{
  const name = decodeURIComponent(wanted[1]);
  const k = Object.keys(DATA).find(key => DATA[key].name === name);
  if (k !== undefined) document.querySelector(`.box[data-k="${{k}}"]`)
    .dispatchEvent(new MouseEvent("click", {{ bubbles: true }}));
}}
</script></body></html>
"""


# ---- files ----------------------------------------------------------------------------------
def render(obj: Any, path: Any, fetches: Any = None, collapse: Iterable[str] = ()) -> Path:
    """Writes a picture chosen by `path`'s suffix: .dot (text), .html (the page), .txt
    (a BackpropView's text), or .svg/.png/.pdf through Graphviz's `dot` program (and
    the `graphviz` package's error when it is missing). Returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    pic = obj.picture if isinstance(obj, BackpropView) else obj
    if suffix == ".dot":
        data = to_dot(pic, fetches, collapse).encode()
    elif suffix == ".html":
        data = to_html(pic, fetches).encode()
    elif suffix == ".txt" and isinstance(obj, BackpropView):
        data = obj.text().encode()
    elif suffix in (".svg", ".png", ".pdf"):
        data = _graphviz(to_dot(pic, fetches, collapse), suffix[1:])
    else:
        raise GraphcError(f"cannot write {path.name}: use .dot, .html, .svg, .png or .pdf")
    durable_write(str(path), lambda f: f.write(data))
    return path


def _graphviz(dot: str, fmt: str) -> bytes:
    exe = shutil.which("dot")
    if exe is None:
        raise GraphcError(
            "rendering needs Graphviz's `dot` program: install Graphviz (Debian: apt install "
            "graphviz; macOS: brew install graphviz), or write .html or .dot instead"
        )
    done = subprocess.run([exe, f"-T{fmt}"], input=dot.encode(), capture_output=True, check=False)
    if done.returncode != 0:
        raise GraphcError(f"Graphviz failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


# ---- the backprop view ----------------------------------------------------------------------
@dataclass
class BackpropView:
    """One step's values and gradients on the forward graph of a loss (see `backprop`)."""

    picture: Picture
    loss: float  # the drawn output's value (a scalar loss, or the mean of a tangent view's)
    no_gradient: dict[str, list[str]]  # variable -> the ops that cut its path to the loss
    derivative: str = "grad"  # "grad" (the backprop view) or "tangent" (`tangents`)

    def text(self) -> str:
        """A table for terminals: each tensor's values and gradient, then the variables
        that get no gradient."""
        head = f"{'tensor':<40} {'shape':<14} {'mean':>10} {'std':>10} {'min':>10} {'max':>10}"
        d = self.derivative
        lines = [f"{'loss' if d == 'grad' else 'output mean'} = {self.loss:.6g}"]
        lines.append(f"{head} {f'|{d}|':>10} {f'max|{d}|':>10}")
        for b in self.picture.boxes:
            s = b.stats
            if not s:
                continue
            keys = ("mean", "std", "min", "max", f"{d}_norm", f"{d}_max")
            vals = [_num(s.get(k)) for k in keys]
            name = b.name if len(b.name) <= 40 else "..." + b.name[-37:]
            lines.append(f"{name:<40} {s['shape']:<14} {' '.join(vals)}")
            if "update_ratio" in s:
                lines.append(f"{'':<40} update/value = {s['update_ratio']:.3g}")
        for var, cuts in self.no_gradient.items():
            where = f"cut by {', '.join(cuts)}" if cuts else "the loss does not use it"
            lines.append(f"NO GRADIENT: {var} ({where})")
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        return to_dot(self.picture)

    def to_html(self) -> str:
        return to_html(self.picture)


def _num(x: Any) -> str:
    return f"{'-':>10}" if x is None else f"{x:>10.3g}"


def backprop(
    sess: Any,
    loss: Any,
    feed_dict: Any = None,
    path: Any = None,
    train_op: Any = None,
) -> BackpropView:
    """Runs the forward graph of `loss` once and draws each tensor's values and the
    gradient of the loss at it (see the module docstring); with `train_op`, also runs
    one training step and gives each variable's update-to-value ratio. Writes the view to
    `path` when given (.html, .dot, .txt, .svg, .png, .pdf) and returns it."""
    graph = sess.graph
    cut = Graph.from_outputs([loss])
    tensors = _drawn_tensors(cut)
    with graph.as_default(), graph.name_scope("backprop_view"):
        grads = gradients(loss, tensors)
    variables = [v for v in graph.get_collection("trainable_variables") if isinstance(v, Node)]
    fetch = {
        "values": {n.op_name: n for n in tensors},
        "grads": {n.op_name: g for n, g in zip(tensors, grads, strict=True) if g is not None},
        "loss": loss,
    }
    got = sess.run(fetch, feed_dict)
    before, updates = {}, {}
    if train_op is not None and variables:
        read = {v.op_name: v for v in variables}
        before = sess.run(read)
        sess.run(train_op, feed_dict)
        updates = {name: value - before[name] for name, value in sess.run(read).items()}
    stats = _stats(got["values"], got["grads"], "grad", before, updates)
    no_grad = {
        v.op_name: _cuts(v, cut.nodes, got["grads"])
        for v in variables
        if v.op_name not in got["grads"]
    }
    for name in no_grad:
        stats[name] = {**stats.get(name, {}), "no_gradient": True}
    pic = _annotated(cut, f"backprop view of {loss.op_name}", stats, "grad")
    view = BackpropView(pic, float(got["loss"]), no_grad)
    if path is not None:
        render(view, path)
    return view


def tangents(
    sess: Any,
    output: Any,
    xs: Any,
    directions: Any,
    feed_dict: Any = None,
    path: Any = None,
) -> BackpropView:
    """The forward-mode view: runs the graph of `output` once and draws each tensor's
    values and its tangent, the derivative along `directions` (one per x in `xs`: arrays
    or tensors) computed by `graphc.jvp`, with arrows coloured by the tangent's RMS the
    way `backprop` colours gradients. Writes it to `path` when given."""
    cut = Graph.from_outputs([output])
    tensors = _drawn_tensors(cut)
    with sess.graph.as_default(), sess.graph.name_scope("tangents_view"):
        ts = jvp(tensors, _as_list(xs), _as_list(directions))
    fetch = {
        "values": {n.op_name: n for n in tensors},
        "tangents": {n.op_name: t for n, t in zip(tensors, ts, strict=True) if t is not None},
        "output": output,
    }
    got = sess.run(fetch, feed_dict)
    stats = _stats(got["values"], got["tangents"], "tangent", {}, {})
    pic = _annotated(cut, f"tangents of {output.op_name}", stats, "tangent")
    view = BackpropView(pic, float(np.mean(got["output"])), {}, derivative="tangent")
    if path is not None:
        render(view, path)
    return view


def _drawn_tensors(cut: Graph) -> list[Node]:
    """The tensors a view gives numbers for: floating ones of known rank."""
    return [
        n
        for n in cut.nodes
        if n.type is not None and n.type.shape is not None and n.dtype.is_floating
    ]


def _annotated(cut: Graph, title: str, stats: dict[str, dict[str, Any]], d: str) -> Picture:
    """The picture of `cut` with each box's numbers and the arrows placed on the log
    scale of derivative `d`."""
    pic = picture(cut)
    pic.title = title
    for b in pic.boxes:
        b.stats = stats.get(b.name)
    _level_arrows(pic, stats, d)
    return pic


def _stats(
    values: dict[str, Any], grads: dict[str, Any], d: str, before: dict, updates: dict
) -> dict[str, dict[str, Any]]:
    """Per tensor: its values' statistics and the norm, largest magnitude and RMS of its
    derivative (`d`: "grad" or "tangent"); for a variable, its update over its value."""
    out = {}
    for name, value in values.items():
        v = np.asarray(value, np.float64)
        finite = v[np.isfinite(v)] if v.size else v
        s: dict[str, Any] = {"shape": str(list(v.shape)).replace(" ", "")}
        if finite.size:
            s.update(
                mean=float(finite.mean()),
                std=float(finite.std()),
                min=float(finite.min()),
                max=float(finite.max()),
            )
        if name in grads:
            g = np.asarray(grads[name], np.float64)
            s[f"{d}_norm"] = float(np.linalg.norm(g))
            s[f"{d}_max"] = float(np.abs(g).max()) if g.size else 0.0
            s[f"{d}_rms"] = float(np.sqrt(np.mean(g * g))) if g.size else 0.0
        out[name] = s
    for name, delta in updates.items():
        norm = float(np.linalg.norm(before[name]))
        if norm:  # a variable at zero (a fresh bias) has no ratio
            out.setdefault(name, {"shape": str(list(np.shape(delta))).replace(" ", "")})
            out[name]["update_ratio"] = float(np.linalg.norm(delta)) / norm
    return out


def _stats_lines(s: dict[str, Any]) -> list[str]:
    lines = []
    if "mean" in s:
        lines.append(f"{s['shape']} mean {s['mean']:.3g} std {s['std']:.3g}")
        lines.append(f"min {s['min']:.3g} max {s['max']:.3g}")
    for d in ("grad", "tangent"):
        if f"{d}_norm" in s:
            lines.append(f"|{d}| {s[f'{d}_norm']:.3g} max|{d}| {s[f'{d}_max']:.3g}")
    if "update_ratio" in s:
        lines.append(f"update/value {s['update_ratio']:.3g}")
    if s.get("no_gradient"):
        lines.append("NO GRADIENT")
    return lines


def _level_arrows(pic: Picture, stats: dict[str, dict[str, Any]], d: str) -> None:
    """Each data arrow's place on the log scale of the derivative's (`d`: "grad" or
    "tangent") RMS at its source tensor:
    0 at the 5th percentile of the picture's nonzero RMS values, 1 at the 95th (a few
    numerically-zero gradients, such as what reaches a stop_gradient, do not squeeze
    every other colour together)."""
    rms = {
        name: math.log10(s[f"{d}_rms"])
        for name, s in stats.items()
        if s.get(f"{d}_rms", 0.0) > 0 and math.isfinite(s[f"{d}_rms"])
    }
    if not rms:
        return
    low, high = np.percentile(list(rms.values()), [5, 95])
    for a in pic.arrows:
        if not a.control and a.src in rms:
            level = 0.5 if high <= low else (rms[a.src] - low) / (high - low)
            a.level = min(max(float(level), 0.0), 1.0)


def _cuts(var: Node, forward: list[Node], grads: dict[str, Any]) -> list[str]:
    """Where the gradient stops on its way back to `var`: the tensors reached from `var`
    through tensors without a gradient form a dead region, and the ops reading the region
    whose output has a gradient (an integer cast back to float, argmax, stop_gradient,
    ...) cut the path. Empty when the loss does not depend on `var`."""
    dead = {id(var)}
    cuts = []
    for n in forward:
        if not any(id(x) in dead for x in n.inputs):
            continue
        if n.op_name in grads:
            cuts.append(n.op_name)
        else:
            dead.add(id(n))
    return cuts
