"""Linear algebra: batched `matmul` with transposes, `einsum`, and `tensordot` (via einsum).

Invariants: matmul operands have rank >= 2 and equal dtypes; batch dims
broadcast as in NumPy and their gradients are summed back (`unbroadcast`).
einsum equations are explicit (`ij,jk->ik`; an implicit output is made
explicit as NumPy does) without ellipses.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from graphc.errors import DTypeError, ShapeError
from graphc.ir import OPERATORS, Node
from graphc.ops import Fusion, convert_operands, defop, same_dtype, unbroadcast
from graphc.ops.dims import Dim, Equal, broadcast_equalities, same_dims
from graphc.ops.reduce import broadcast_like
from graphc.ops.reshape import expand_dims
from graphc.types import TensorType, broadcast_shapes


def _matmul_infer(
    a: TensorType, b: TensorType, *, transpose_a: bool, transpose_b: bool
) -> TensorType:
    dtype = same_dtype(a, b)
    if dtype.is_bool:
        raise DTypeError("matmul of bool tensors")
    if (a.shape is None) != (b.shape is None) and len(a.shape or b.shape) == 2:
        # TF1's tf.matmul takes an operand of unknown rank beside a matrix as a matrix
        a, b = (TensorType(x.shape or (None, None), x.dtype) for x in (a, b))
    if a.shape is None or b.shape is None:
        return TensorType(None, dtype)
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise ShapeError(f"matmul needs rank >= 2 operands, got {a} and {b}")
    m, k = a.shape[-2:][::-1] if transpose_a else a.shape[-2:]
    k2, n = b.shape[-2:][::-1] if transpose_b else b.shape[-2:]
    if k is not None and k2 is not None and k != k2:
        raise ShapeError(f"inner dimensions differ: {a} @ {b} ({k} != {k2})")
    try:
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ShapeError(f"batch dims of {a} and {b} do not broadcast") from None
    return TensorType((*batch, m, n), dtype)


def _t(x: np.ndarray, flag: bool) -> np.ndarray:
    return np.swapaxes(x, -1, -2) if flag else x


def _matmul_vjp(g: Node, n: Node) -> tuple[Node, Node]:
    a, b = n.inputs
    ta, tb = n.attrs["transpose_a"], n.attrs["transpose_b"]
    if not ta:
        ga = _matmul(g, b, transpose_a=False, transpose_b=not tb)
    else:
        ga = _matmul(b, g, transpose_a=tb, transpose_b=True)
    if not tb:
        gb = _matmul(a, g, transpose_a=not ta, transpose_b=False)
    else:
        gb = _matmul(g, a, transpose_a=True, transpose_b=ta)
    return unbroadcast(ga, a), unbroadcast(gb, b)


def _matmul_jvp(tangents: tuple, n: Node) -> Node | None:
    (a, b), attrs = n.inputs, n.attrs
    terms = []
    if tangents[0] is not None:
        terms.append(_matmul(tangents[0], b, **attrs))
    if tangents[1] is not None:
        terms.append(_matmul(a, tangents[1], **attrs))
    return None if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1]


def _matmul_assumes(n: Node) -> list[Equal]:
    """The inner dims are equal; batch dims broadcast."""
    a, b = n.inputs
    if a.type.shape is None or b.type.shape is None:
        return []
    ka = len(a.type.shape) - (2 if n.attrs["transpose_a"] else 1)
    kb = len(b.type.shape) - (1 if n.attrs["transpose_b"] else 2)
    inner = same_dims([((b, kb), (a, ka))])
    batch = [(a, a.type.shape[:-2]), (b, b.type.shape[:-2])]
    return inner + broadcast_equalities(batch, n.type.shape[:-2])


_matmul = defop(
    "matmul",
    "MatMul",
    Fusion.OPAQUE,
    infer=_matmul_infer,
    numpy=lambda a, b, *, transpose_a, transpose_b: np.matmul(
        _t(a, transpose_a), _t(b, transpose_b)
    ),
    vjp=_matmul_vjp,
    jvp=_matmul_jvp,
    assumes=_matmul_assumes,
    product=True,
)


def matmul(
    a: Any,
    b: Any,
    transpose_a: bool = False,
    transpose_b: bool = False,
    name: str | None = None,
    adjoint_a: bool = False,
    adjoint_b: bool = False,
) -> Node:
    """a @ b over the last two axes, with NumPy-broadcast batch axes."""
    a, b = convert_operands(a, b, op_name="MatMul")
    flags = {
        "transpose_a": bool(transpose_a or adjoint_a),
        "transpose_b": bool(transpose_b or adjoint_b),
    }
    return _matmul(a, b, name=name, **flags)


OPERATORS["matmul"] = matmul


# ---- einsum ---------------------------------------------------------------------------------
def _parse(equation: str, n_inputs: int) -> tuple[list[str], str]:
    eq = equation.replace(" ", "")
    if "." in eq:
        raise ShapeError(f"einsum {equation!r}: ellipses are not supported")
    lhs, arrow, out = eq.partition("->")
    specs = lhs.split(",")
    if len(specs) != n_inputs:
        raise ShapeError(f"einsum {equation!r} names {len(specs)} operands, got {n_inputs}")
    if not arrow:
        letters = "".join(specs)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return specs, out


def _einsum_infer(*xs: TensorType, equation: str) -> TensorType:
    dtype = same_dtype(*xs)
    specs, out = _parse(equation, len(xs))
    sizes: dict[str, int | None] = {}
    for spec, x in zip(specs, xs, strict=True):
        if x.shape is None:
            return TensorType(None, dtype)
        if len(spec) != len(x.shape):
            raise ShapeError(f"einsum {equation!r}: '{spec}' does not match {x}")
        for c, d in zip(spec, x.shape, strict=True):
            if d is not None and sizes.get(c) not in (None, d):
                raise ShapeError(f"einsum {equation!r}: index '{c}' has sizes {sizes[c]} and {d}")
            sizes[c] = d if d is not None else sizes.get(c)
    if any(c not in sizes for c in out):
        raise ShapeError(f"einsum {equation!r}: an output index appears in no input")
    return TensorType(tuple(sizes[c] for c in out), dtype)


def _einsum_vjp(g: Node, n: Node) -> tuple[Node, ...]:
    specs, out = _parse(n.attrs["equation"], len(n.inputs))
    grads = []
    for i, (spec, x) in enumerate(zip(specs, n.inputs, strict=True)):
        if len(set(spec)) != len(spec):
            raise NotImplementedError(f"gradient of einsum '{n.op_name}' with a repeated index")
        others = [s for j, s in enumerate(specs) if j != i]
        available = set(out).union(*others)
        kept = "".join(c for c in spec if c in available)
        eq = ",".join([out, *others]) + "->" + kept
        part = _einsum(g, *(y for j, y in enumerate(n.inputs) if j != i), equation=eq)
        if kept != spec:  # indices summed inside this operand alone: broadcast back
            for pos, c in enumerate(spec):
                if c not in available:
                    part = expand_dims(part, pos)
            part = broadcast_like(part, x)
        grads.append(part)
    return tuple(grads)


def _einsum_jvp(tangents: tuple, n: Node) -> Node | None:
    terms = [
        _einsum(*(t if j == i else x for j, x in enumerate(n.inputs)), **n.attrs)
        for i, t in enumerate(tangents)
        if t is not None
    ]
    if not terms:
        return None
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _einsum_assumes(n: Node) -> list[Equal]:
    """Every occurrence of one index letter has one size."""
    specs = n.attrs["equation"].split("->")[0].split(",")
    axes = [
        (c, (x, j)) for spec, x in zip(specs, n.inputs, strict=True) for j, c in enumerate(spec)
    ]
    static = {c: x.type.shape[j] for c, (x, j) in axes if x.type.shape[j] is not None}
    first: dict[str, Dim] = {}
    out = []
    for c, (x, j) in axes:
        if x.type.shape[j] is not None:
            continue
        if c in static:
            out.append(Equal((x, j), static[c]))
        elif c in first:
            out.append(Equal((x, j), first[c]))
        else:
            first[c] = (x, j)
    return out


_einsum = defop(
    "einsum",
    "Einsum",
    Fusion.OPAQUE,
    infer=_einsum_infer,
    numpy=lambda *xs, equation: np.einsum(equation, *xs),
    vjp=_einsum_vjp,
    jvp=_einsum_jvp,
    assumes=_einsum_assumes,
    product=True,
)


def matrix_product(specs: list[str], out: str) -> tuple[str, str, str, bool] | None:
    """(free letters of a, summed letters, free letters of b, swapped) when `a,b->out` is
    one matrix product of the operands reshaped in place: each operand holds its free and
    its summed letters as two contiguous groups (either first), the summed ones in one
    order in both; the output is a's free letters then b's (or, swapped, b's then a's).
    None for anything else (batch letters, a letter summed in one operand alone,
    repeats), which stays loops."""
    if len(specs) != 2 or not out:
        return None
    a, b = specs
    if any(len(set(s)) != len(s) for s in (a, b, out)):
        return None
    summed = "".join(c for c in a if c in b)
    if any(c in out for c in summed) or set(a + b) - set(summed) != set(out):
        return None
    free_a = "".join(c for c in a if c not in summed)
    free_b = "".join(c for c in b if c not in summed)
    if a not in (free_a + summed, summed + free_a) or b not in (summed + free_b, free_b + summed):
        return None
    if out not in (free_a + free_b, free_b + free_a):
        return None
    return free_a, summed, free_b, out != free_a + free_b


def einsum(equation: str, *inputs: Any, name: str | None = None) -> Node:
    """Einstein summation, as NumPy's `einsum` (explicit or implicit output, no ellipsis)."""
    nodes = convert_operands(*inputs, op_name="Einsum")
    specs, out = _parse(equation, len(nodes))
    return _einsum(*nodes, equation=",".join(specs) + "->" + out, name=name)


def tensordot(a: Any, b: Any, axes: Any, name: str | None = None) -> Node:
    """Contracts `axes` of a with `axes` of b (an int N: a's last N with b's first N)."""
    a, b = convert_operands(a, b, op_name="Tensordot")
    ra, rb = a.type.rank, b.type.rank
    if ra is None or rb is None:
        raise ShapeError("tensordot needs operands of known rank")
    if isinstance(axes, int | np.integer):
        axes_a, axes_b = list(range(ra - int(axes), ra)), list(range(int(axes)))
    else:
        axes_a, axes_b = (
            [axes[0]] if isinstance(axes[0], int) else list(axes[0]),
            [axes[1]] if isinstance(axes[1], int) else list(axes[1]),
        )
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in range(ra)]
    sb = [next(letters) for _ in range(rb)]
    for i, j in zip(axes_a, axes_b, strict=True):
        sb[j % rb] = sa[i % ra]
    contracted = {sa[i % ra] for i in axes_a}
    out = [c for c in sa if c not in contracted] + [c for c in sb if c not in contracted]
    return _einsum(a, b, equation=f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", name=name)
