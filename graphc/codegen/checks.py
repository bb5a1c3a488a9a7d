"""Run-time checks in generated code: sizes a step assumes equal, indices in range.

A check is one `if` raising a built-in exception whose first argument is a message
template (`{}` where run-time values go) and whose other arguments are those values.
`Checks.sites` maps each template to the line of user code that created the op; the
executable adds it when it turns the exception into `InvalidArgumentError`. Generated
code holds no file paths, so its bytes do not depend on where a script lives.

Sizes known to be equal are tracked in a union-find over size expressions
(`x.shape[0]`, `128`): derivations (an array allocated with given dims has those dims)
and checks already made (once a check passed, both sides are one size) make later
checks of the same pair disappear. A check whose two sides are sizes of the step's
arguments (or literals) runs once, on entry, before any work; the others run where
their op is, still before any variable is written. Inside a branch of a tf.cond
(`scoped`) checks stay where their op is, and what they established is forgotten
when the branch ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from graphc.codegen.source import Source
from graphc.ir import Node
from graphc.ops.dims import Equal, op_label


def _literal(expr: str) -> bool:
    return expr.isdigit()


class Sizes:
    """Size expressions known equal (union-find). The representative of a class is a
    literal if it has one, else a size available on entry, else the expression seen
    first (so it is in scope wherever a later member is)."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}
        self._seen: dict[str, int] = {}
        self.on_entry: set[str] = set()  # sizes of the step's arguments

    def find(self, expr: str) -> str:
        self._seen.setdefault(expr, len(self._seen))
        root = self._parent.get(expr, expr)
        if root != expr:
            root = self._parent[expr] = self.find(root)
        return root

    def unite(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            keep, drop = sorted((ra, rb), key=self._rank)
            self._parent[drop] = keep

    def _rank(self, expr: str) -> tuple[int, int]:
        kind = 0 if _literal(expr) else 1 if expr in self.on_entry else 2
        return kind, self._seen[expr]

    def available_on_entry(self, expr: str) -> bool:
        return _literal(expr) or expr in self.on_entry


class Checks:
    """The checks of one step: message sites, the entry checks, and known-equal sizes."""

    def __init__(self) -> None:
        self.sizes = Sizes()
        self.sites: dict[str, str] = {}  # message template -> where the op was created
        self.entry = Source()  # checks run on entry (at the step's body level)
        self.entry._level = 1
        self._scopes = 0  # how many branches the code being emitted is in

    @contextlib.contextmanager
    def scoped(self) -> Iterator[None]:
        """Checks made inside run only sometimes (a branch of a tf.cond): none of them
        moves to the step's entry, and what they establish is forgotten after."""
        saved = dict(self.sizes._parent)
        self._scopes += 1
        try:
            yield
        finally:
            self._scopes -= 1
            self.sizes._parent = saved

    def shaped(self, array: str, dims: list[str]) -> None:
        """Records that `array` was allocated with `dims`."""
        for k, d in enumerate(dims):
            self.sizes.unite(f"{array}.shape[{k}]", d)

    def equal(self, src: Source, node: Node, eq: Equal, a: str, b: str) -> None:
        """Emits the check of `eq` (its sides as the expressions `a` and `b`), unless the
        two sizes are already known equal: on entry if both are available there."""
        ra, rb = self.sizes.find(a), self.sizes.find(b)
        if ra == rb:
            return
        template = eq.message(node)
        self.sites[template] = node.site
        values = [ra] if isinstance(eq.b, int) else [ra, rb]
        entry = not self._scopes and all(map(self.sizes.available_on_entry, (ra, rb)))
        target = self.entry if entry else src
        if entry and not target.lines:
            target("# sizes the graph assumes equal, checked once before any work")
        with target.indent(f"if {ra} != {rb}:"):
            target(raise_line("ValueError", template, values))
        self.sizes.unite(ra, rb)

    def require(
        self, src: Source, node: Node, failed: str, message: str, values: list[str]
    ) -> None:
        """Emits `if failed: raise` with `message` (after the op's label; `{}` where
        `values` go)."""
        template = f"{op_label(node)}: {message}"
        self.sites[template] = node.site
        with src.indent(f"if {failed}:"):
            src(raise_line("ValueError", template, values))

    def in_range(self, src: Source, node: Node, what: str, value: str, bound: str) -> None:
        """Emits `0 <= value < bound` or raise, naming `what` (such as "index")."""
        failed = f"{value} < 0 or {value} >= {bound}"
        self.require(src, node, failed, f"{what} {{}} is not in [0, {{}})", [value, bound])


def raise_line(exception: str, template: str, values: list[str]) -> str:
    """`raise exception(template, *values)` as source text."""
    return f"raise {exception}({template!r}, {', '.join(values)})"
