"""Elementwise ops with NumPy broadcasting: arithmetic, math, comparisons, logic, cast.

Each op gives `partials(node)`: the elementwise derivative of its output with
respect to each input (a node, `1`, `-1`, or None for no gradient). Reverse
mode multiplies by the upstream gradient and undoes broadcasting; forward mode
multiplies by the tangents (see graphc.autodiff). `expr` is the scalar snippet
the code generators inline, with `{0}`, `{1}` for the operands.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from graphc.errors import DTypeError
from graphc.ir import OPERATORS, Node
from graphc.ops import (
    Fusion,
    OpDef,
    checking,
    convert,
    convert_operands,
    defop,
    same_dtype,
    unbroadcast,
)
from graphc.types import DType, TensorType, as_dtype, bool_, broadcast_shapes

_KINDS = {"float": "f", "numeric": "fiu", "int": "iu", "bool": "b", "any": "fiub"}


def _check(dtype: DType, allowed: str) -> None:
    if dtype.np.kind not in _KINDS[allowed]:
        raise DTypeError(f"dtype {dtype.name} is not supported (needs {allowed} operands)")


def _infer(allowed: str, out: DType | None) -> Callable[..., TensorType]:
    def infer(*types: TensorType) -> TensorType:
        dtype = same_dtype(*types)
        _check(dtype, allowed)
        return TensorType(broadcast_shapes(*(t.shape for t in types)), out or dtype)

    return infer


def defelem(
    name: str,
    type_name: str,
    numpy: Callable,
    expr: str,
    partials: Any = None,
    allowed: str = "numeric",
    out: DType | None = None,
    **facets: Any,
) -> OpDef:
    """Defines an elementwise op; without partials (and no vjp) it is not differentiable."""
    differentiable = partials is not None or "vjp" in facets
    return defop(
        name,
        type_name,
        Fusion.ELEMENTWISE,
        infer=_infer(allowed, out),
        numpy=numpy,
        expr=expr,
        partials=partials,
        differentiable=differentiable,
        **facets,
    )


def _unary(op: OpDef, doc: str) -> Callable[..., Node]:
    def builder(x: Any, name: str | None = None) -> Node:
        return op(convert(x), name=name)

    builder.__name__, builder.__doc__ = op.name, doc
    return builder


def _binary(op: OpDef, doc: str) -> Callable[..., Node]:
    def builder(x: Any, y: Any, name: str | None = None) -> Node:
        return op(*convert_operands(x, y, op_name=op.type_name), name=name)

    builder.__name__, builder.__doc__ = op.name, doc
    return builder


def _mask(cond: Node, like: Node) -> Node:
    """1 where `cond` holds, else 0, in `like`'s dtype (a derivative of a piecewise op)."""
    return cast(cond, like.dtype)


# ---- unary math ----------------------------------------------------------------------
def _x(n: Node) -> Node:
    """The first operand of `n`."""
    return n.inputs[0]


def _negative_partials(n: Node) -> tuple[int]:  # d/dx (-x) = -1
    return (-1,)


_neg = defelem("negative", "Neg", np.negative, "(-{0})", _negative_partials)


def _abs_partials(n: Node) -> tuple[Node]:  # d/dx |x| = sign(x)
    return (sign(_x(n)),)


_abs = defelem("abs", "Abs", np.abs, "abs({0})", _abs_partials)
_sign = defelem(
    "sign",
    "Sign",
    np.sign,
    # NaN stays NaN; no arithmetic on comparisons (NumPy's bool scalars, which CUDA's
    # simulator and host code compute with, refuse `-`)
    "(1 if {0} > 0 else (-1 if {0} < 0 else ({0} if {0} != {0} else 0)))",
)


def _exp_partials(n: Node) -> tuple[Node]:  # d/dx e**x = e**x, the output itself
    return (n,)


# graphc.fastmath.NEAR (not imported: fastmath imports Numba's machinery, 0.3 s): below it
# its sin32_near and cos32_near are valid (test_fastmath.py holds the two equal)
NEAR = 524288.0

# float32 exp, sin and cos: graphc.fastmath's, which vectorize (correctly rounded on a
# dense sample of float32)
_exp = defelem(
    "exp",
    "Exp",
    np.exp,
    "math.exp({0})",
    _exp_partials,
    allowed="float",
    expr_float32="exp32({0})",
)


def _log_partials(n: Node) -> tuple[Node]:  # d/dx log(x) = 1/x
    return (1.0 / _x(n),)


_log = defelem("log", "Log", np.log, "math.log({0})", _log_partials, allowed="float")


def _log1p_partials(n: Node) -> tuple[Node]:  # d/dx log(1 + x) = 1/(x + 1)
    return (1.0 / (_x(n) + 1.0),)


_log1p = defelem("log1p", "Log1p", np.log1p, "math.log1p({0})", _log1p_partials, allowed="float")


def _expm1_partials(n: Node) -> tuple[Node]:  # d/dx (e**x - 1) = e**x
    return (exp(_x(n)),)


_expm1 = defelem("expm1", "Expm1", np.expm1, "math.expm1({0})", _expm1_partials, allowed="float")


def _sqrt_partials(n: Node) -> tuple[Node]:  # d/dx sqrt(x) = 1/(2 sqrt(x)) = 0.5/out
    return (0.5 / n,)


_sqrt = defelem("sqrt", "Sqrt", np.sqrt, "math.sqrt({0})", _sqrt_partials, allowed="float")


def _rsqrt_partials(n: Node) -> tuple[Node]:  # d/dx x**-0.5 = -0.5 x**-1.5 = -0.5 out**3
    return (-0.5 * n * n * n,)


_rsqrt = defelem(
    "rsqrt",
    "Rsqrt",
    lambda x: 1 / np.sqrt(x),
    "(1.0 / math.sqrt({0}))",
    _rsqrt_partials,
    allowed="float",
)


def _square_partials(n: Node) -> tuple[Node]:  # d/dx x*x = 2x
    return (2 * _x(n),)


_square = defelem("square", "Square", np.square, "({0} * {0})", _square_partials)


def _sin_partials(n: Node) -> tuple[Node]:  # d/dx sin(x) = cos(x)
    return (cos(_x(n)),)


_sin = defelem(
    "sin",
    "Sin",
    np.sin,
    "math.sin({0})",
    _sin_partials,
    allowed="float",
    expr_float32="sin32({0})",
    near=("sin32_near({0})", NEAR),
)


def _cos_partials(n: Node) -> tuple[Node]:  # d/dx cos(x) = -sin(x)
    return (-sin(_x(n)),)


_cos = defelem(
    "cos",
    "Cos",
    np.cos,
    "math.cos({0})",
    _cos_partials,
    allowed="float",
    expr_float32="cos32({0})",
    near=("cos32_near({0})", NEAR),
)


def _tanh_partials(n: Node) -> tuple[Node]:  # d/dx tanh(x) = 1 - tanh(x)**2 = 1 - out**2
    return (1.0 - n * n,)


# In float32, Numba calls libm's scalar tanhf, about 7x slower than this exp form on 10M
# elements here (and a libm call keeps the loop scalar: graphc.fastmath's exp vectorizes).
# It is computed at |x| and given x's sign (so tanh(-0.0) is -0.0, and odd symmetry is
# exact); clamping |x| at 10 keeps exp finite and still gives exactly 1.0 at +-inf and
# huge x (a clamp at 9 gave 0.99999994). min(NaN, 10) is NaN in Numba: NaN stays NaN.
# Absolute error below 1.2e-7 (measured against NumPy).
_TANH_FLOAT32 = (
    "math.copysign(np.float32(1.0) - np.float32(2.0) / (exp32(np.float32(2.0) * "
    "min(abs({0}), np.float32(10.0))) + np.float32(1.0)), {0})"
)
_tanh = defelem(
    "tanh",
    "Tanh",
    np.tanh,
    "math.tanh({0})",
    _tanh_partials,
    allowed="float",
    expr_float32=_TANH_FLOAT32,
)


def _sigmoid_partials(n: Node) -> tuple[Node]:  # d/dx s(x) = s(x) (1 - s(x)) = out (1 - out)
    return (n * (1.0 - n),)


_sigmoid = defelem(
    "sigmoid",
    "Sigmoid",
    lambda x: 1 / (1 + np.exp(-x)),
    "(1.0 / (1.0 + math.exp(-{0})))",
    _sigmoid_partials,
    allowed="float",
    expr_float32="(np.float32(1.0) / (np.float32(1.0) + exp32(-{0})))",
)


def _erf_partials(n: Node) -> tuple[Node]:  # d/dx erf(x) = 2/sqrt(pi) e**(-x**2)
    return ((2 / math.sqrt(math.pi)) * exp(-square(_x(n))),)


def _erf_numpy(x: np.ndarray) -> np.ndarray:
    """SciPy's erf (imported on first use: it costs `import graphc` 0.2 s otherwise)."""
    import scipy.special

    return scipy.special.erf(x)


_erf = defelem("erf", "Erf", _erf_numpy, "math.erf({0})", _erf_partials, allowed="float")


def _relu_partials(n: Node) -> tuple[Node]:  # d/dx max(x, 0) = 1 where x > 0, else 0
    return (_mask(greater(_x(n), 0), n),)


# maximum(x, 0) as NumPy computes it: NaN stays NaN, -0.0 gives 0.0 (the tie goes to the
# second operand); two compares and a select, no branch (W1 step time unchanged). The
# float32 form keeps its zero float32, so the select does not widen to float64.
_relu = defelem(
    "relu",
    "Relu",
    lambda x: np.maximum(x, 0).astype(x.dtype),
    "({0} if {0} > 0 or {0} != {0} else 0)",
    _relu_partials,
    expr_float32="({0} if {0} > 0 or {0} != {0} else np.float32(0.0))",
)
_floor = defelem("floor", "Floor", np.floor, "np.floor({0})", allowed="float")
_ceil = defelem("ceil", "Ceil", np.ceil, "np.ceil({0})", allowed="float")
_round = defelem("round", "Round", np.round, "np.rint({0})", allowed="float")


def _identity_partials(n: Node) -> tuple[int]:  # d/dx x = 1
    return (1,)


_identity = defelem("identity", "Identity", lambda x: x, "{0}", _identity_partials, allowed="any")
_stop = defelem("stop_gradient", "StopGradient", lambda x: x, "{0}", allowed="any")
_zeros_like = defelem("zeros_like", "ZerosLike", np.zeros_like, "0", allowed="any", shape_only=True)
_ones_like = defelem("ones_like", "OnesLike", np.ones_like, "1", allowed="any", shape_only=True)
_is_nan = defelem("is_nan", "IsNan", np.isnan, "math.isnan({0})", allowed="float", out=bool_)
_is_finite = defelem(
    "is_finite", "IsFinite", np.isfinite, "math.isfinite({0})", allowed="float", out=bool_
)
_not = defelem("logical_not", "LogicalNot", np.logical_not, "(not {0})", allowed="bool")


# ---- binary --------------------------------------------------------------------------
def _y(n: Node) -> Node:
    """The second operand of `n`."""
    return n.inputs[1]


def _add_partials(n: Node) -> tuple[int, int]:  # d(x + y) = dx + dy
    return (1, 1)


_add = defelem("add", "AddV2", np.add, "({0} + {1})", _add_partials, commutative=True)


def _subtract_partials(n: Node) -> tuple[int, int]:  # d(x - y) = dx - dy
    return (1, -1)


_sub = defelem("subtract", "Sub", np.subtract, "({0} - {1})", _subtract_partials)


def _multiply_partials(n: Node) -> tuple[Node, Node]:  # d(x y) = y dx + x dy
    return (_y(n), _x(n))


_mul = defelem("multiply", "Mul", np.multiply, "({0} * {1})", _multiply_partials, commutative=True)


def _divide_partials(n: Node) -> tuple[Node, Node]:  # d(x/y) = dx/y - (x/y)/y dy
    return (1.0 / _y(n), -n / _y(n))


_div = defelem(
    "divide", "RealDiv", np.true_divide, "({0} / {1})", _divide_partials, allowed="float"
)
_floordiv = defelem("floordiv", "FloorDiv", np.floor_divide, "({0} // {1})")


def _mod_partials(n: Node) -> tuple[int, Node]:  # x - floor(x/y) y: 1 and -floor(x/y)
    return (1, -floordiv(_x(n), _y(n)))


_mod = defelem("mod", "FloorMod", np.mod, "({0} % {1})", _mod_partials)


def _pow_partials(n: Node) -> tuple[Node, Node]:
    x, y = n.inputs
    positive = greater(x, 0)
    safe_log = log(where(positive, x, ones_like(x)))  # d/dy x**y = x**y log x, 0 where x <= 0
    return y * pow(x, y - 1), where(positive, n * safe_log, zeros_like(n))


_pow = defelem("pow", "Pow", np.power, "({0} ** {1})", _pow_partials)


def _maximum_partials(n: Node) -> tuple[Node, Node]:  # to x where x >= y (ties), else to y
    return (_mask(greater_equal(_x(n), _y(n)), n), _mask(less(_x(n), _y(n)), n))


_max = defelem(
    "maximum",
    "Maximum",
    np.maximum,
    # as NumPy: NaN in either operand gives NaN, and a tie (0.0 and -0.0) gives the second
    "({0} if {0} > {1} or {0} != {0} else {1})",
    _maximum_partials,
    commutative=True,
)


def _minimum_partials(n: Node) -> tuple[Node, Node]:  # to x where x <= y (ties), else to y
    return (_mask(less_equal(_x(n), _y(n)), n), _mask(greater(_x(n), _y(n)), n))


_min = defelem(
    "minimum",
    "Minimum",
    np.minimum,
    "({0} if {0} < {1} or {0} != {0} else {1})",  # as maximum: NaN wins, ties give {1}
    _minimum_partials,
    commutative=True,
)
_eq = defelem(
    "equal", "Equal", np.equal, "({0} == {1})", allowed="any", out=bool_, commutative=True
)
_ne = defelem(
    "not_equal",
    "NotEqual",
    np.not_equal,
    "({0} != {1})",
    allowed="any",
    out=bool_,
    commutative=True,
)
_lt = defelem("less", "Less", np.less, "({0} < {1})", out=bool_)
_le = defelem("less_equal", "LessEqual", np.less_equal, "({0} <= {1})", out=bool_)
_gt = defelem("greater", "Greater", np.greater, "({0} > {1})", out=bool_)
_ge = defelem("greater_equal", "GreaterEqual", np.greater_equal, "({0} >= {1})", out=bool_)
_and = defelem(
    "logical_and", "LogicalAnd", np.logical_and, "({0} and {1})", allowed="bool", commutative=True
)
_or = defelem(
    "logical_or", "LogicalOr", np.logical_or, "({0} or {1})", allowed="bool", commutative=True
)


# ---- where and cast (explicit vjp/jvp: no products with masks, so inf/nan stay put) -----
def _where_infer(c: TensorType, x: TensorType, y: TensorType) -> TensorType:
    if not c.dtype.is_bool:
        raise DTypeError(f"where needs a bool condition, got {c.dtype.name}")
    return TensorType(broadcast_shapes(c.shape, x.shape, y.shape), same_dtype(x, y))


def _where_vjp(g: Node, n: Node) -> tuple[None, Node, Node]:
    c, x, y = n.inputs
    zero = zeros_like(g)
    return None, unbroadcast(where(c, g, zero), x), unbroadcast(where(c, zero, g), y)


def _where_jvp(tangents: tuple, n: Node) -> Node:
    c, x, y = n.inputs
    tx = tangents[1] if tangents[1] is not None else zeros_like(x)
    ty = tangents[2] if tangents[2] is not None else zeros_like(y)
    return where(c, tx, ty)


_where = defop(
    "where",
    "SelectV2",
    Fusion.ELEMENTWISE,
    infer=_where_infer,
    numpy=np.where,
    expr="({1} if {0} else {2})",
    vjp=_where_vjp,
    jvp=_where_jvp,
)


def _cast_vjp(g: Node, n: Node) -> tuple[Node | None]:
    x = n.inputs[0]
    return (cast(g, x.dtype),) if x.dtype.is_floating and n.dtype.is_floating else (None,)


def _cast_jvp(tangents: tuple, n: Node) -> Node | None:
    t = tangents[0]
    return cast(t, n.dtype) if t is not None and n.dtype.is_floating else None


_cast = defop(
    "cast",
    "Cast",
    Fusion.ELEMENTWISE,
    infer=lambda x, *, dtype: TensorType(x.shape, dtype),
    numpy=lambda x, *, dtype: x.astype(dtype.np),
    expr="np.{dtype.np_name}({0})",
    vjp=_cast_vjp,
    jvp=_cast_jvp,
)


# ---- public builders -----------------------------------------------------------------
negative = _unary(_neg, "-x elementwise.")
abs = _unary(_abs, "|x| elementwise.")
sign = _unary(_sign, "-1, 0 or 1 by the sign of x.")
exp = _unary(_exp, "e**x elementwise.")
log = _unary(_log, "Natural logarithm.")
log1p = _unary(_log1p, "log(1 + x), accurate near 0.")
expm1 = _unary(_expm1, "exp(x) - 1, accurate near 0.")
sqrt = _unary(_sqrt, "Square root.")
rsqrt = _unary(_rsqrt, "1 / sqrt(x).")
square = _unary(_square, "x * x.")
sin = _unary(_sin, "Sine.")
cos = _unary(_cos, "Cosine.")
tanh = _unary(_tanh, "Hyperbolic tangent.")
sigmoid = _unary(_sigmoid, "1 / (1 + exp(-x)).")
erf = _unary(_erf, "The error function.")
relu = _unary(_relu, "max(x, 0).")
floor = _unary(_floor, "Largest integer not above x (no gradient).")
ceil = _unary(_ceil, "Smallest integer not below x (no gradient).")
round = _unary(_round, "Round half to even, as NumPy and TF (no gradient).")
identity = _unary(_identity, "x itself (a new node).")
stop_gradient = _unary(_stop, "x, with no gradient flowing through it.")
zeros_like = _unary(_zeros_like, "Zeros of x's shape and dtype.")
ones_like = _unary(_ones_like, "Ones of x's shape and dtype.")
is_nan = _unary(_is_nan, "True where x is NaN.")
is_finite = _unary(_is_finite, "True where x is neither infinite nor NaN.")
logical_not = _unary(_not, "Logical not of a bool tensor.")
add = _binary(_add, "x + y with broadcasting.")
subtract = _binary(_sub, "x - y with broadcasting.")
multiply = _binary(_mul, "x * y with broadcasting.")
floordiv = _binary(_floordiv, "floor(x / y) (no gradient).")
mod = _binary(_mod, "x mod y, with the sign of y (floor mod, as NumPy and TF).")
maximum = _binary(_max, "Elementwise maximum (gradient to x where x >= y).")
minimum = _binary(_min, "Elementwise minimum (gradient to x where x <= y).")
equal = _binary(_eq, "x == y elementwise (bool).")
not_equal = _binary(_ne, "x != y elementwise (bool).")
less = _binary(_lt, "x < y elementwise (bool).")
less_equal = _binary(_le, "x <= y elementwise (bool).")
greater = _binary(_gt, "x > y elementwise (bool).")
greater_equal = _binary(_ge, "x >= y elementwise (bool).")
logical_and = _binary(_and, "x and y (bool).")
logical_or = _binary(_or, "x or y (bool).")
pow = _binary(_pow, "x ** y elementwise.")


def _truediv_dtype(dtype: DType) -> str:
    """The float dtype TF1's `/` casts integers to (its `_TRUEDIV_TABLE`): float32 for 8- and
    16-bit integers, float64 for int32 and int64, which float32 cannot hold exactly."""
    return "float32" if dtype.np.itemsize <= 2 else "float64"


def divide(x: Any, y: Any, name: str | None = None) -> Node:
    """True division; integer operands are cast to a float dtype first, as TF1's `/` does."""
    x, y = convert_operands(x, y, op_name="RealDiv")
    if x.dtype.is_integer and x.dtype is y.dtype:
        wide = _truediv_dtype(x.dtype)
        x, y = cast(x, wide), cast(y, wide)
    return _div(x, y, name=name)


def div(x: Any, y: Any, name: str | None = None) -> Node:
    """TF1's `tf.div`: Python 2 division, so integers floor-divide and floats divide."""
    x, y = convert_operands(x, y, op_name="Div")
    return (divide if x.dtype.is_floating else floordiv)(x, y, name=name)


def cast(x: Any, dtype: Any, name: str | None = None) -> Node:
    """x converted to `dtype` (float to int truncates toward zero, as NumPy)."""
    with checking("Cast", name):
        x, dtype = convert(x), as_dtype(dtype)
    return x if x.dtype is dtype and name is None else _cast(x, dtype=dtype, name=name)


def where(condition: Any, x: Any, y: Any, name: str | None = None) -> Node:
    """x where `condition` holds, else y (NumPy broadcasting of all three)."""
    x, y = convert_operands(x, y, op_name="SelectV2")
    return _where(convert(condition), x, y, name=name)


def div_no_nan(x: Any, y: Any, name: str | None = None) -> Node:
    """x / y, and 0 where y is 0 (TF1's div_no_nan). Written so that the gradient is
    finite there too: the division only ever sees a nonzero denominator."""
    x, y = convert_operands(x, y, op_name="DivNoNan")
    nonzero = not_equal(y, 0)
    return where(nonzero, x / where(nonzero, y, ones_like(y)), 0 * x, name=name or "div_no_nan")


def clip_by_value(
    t: Any, clip_value_min: Any, clip_value_max: Any, name: str | None = None
) -> Node:
    """min(max(t, lo), hi); the gradient passes where lo <= t <= hi."""
    return minimum(maximum(t, clip_value_min), clip_value_max, name=name)


def add_n(inputs: list[Any], name: str | None = None) -> Node:
    """The sum of a list of tensors of one shape."""
    total = inputs[0]
    for x in inputs[1:-1]:
        total = add(total, x)
    return add(total, inputs[-1], name=name) if len(inputs) > 1 else identity(total, name=name)


OPERATORS.update(
    add=add,
    subtract=subtract,
    multiply=multiply,
    divide=divide,
    floordiv=floordiv,
    mod=mod,
    pow=pow,
    logical_and=logical_and,
    logical_or=logical_or,
    less=less,
    less_equal=less_equal,
    greater=greater,
    greater_equal=greater_equal,
    negative=negative,
    abs=abs,
    logical_not=logical_not,
)
