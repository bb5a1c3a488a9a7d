"""Float32 `exp`, `sin` and `cos` that LLVM vectorizes: range reduction and polynomials in
plain arithmetic, no libm calls (the llvmlite wheel has no vector math library, and one
scalar libm call keeps a whole fused loop scalar).

The compiled step imports these (`from graphc.fastmath import exp32`), Numba inlines
them, and an exported step ships this file as it is: it imports nothing from graphc.
`sin32_near` and `cos32_near` skip the exact reduction of large arguments (twice as
fast, valid below `NEAR`): a fused kernel uses them, counts its inputs beyond, and
computes again with `sin32`/`cos32` when there are any (graphc.codegen.kernels).

Error bounds, measured against NumPy's float64 results rounded to float32 over every
4099th float32 (test_fastmath.py), including subnormals, +-inf and NaN:
- each is computed in float64 and rounded to float32 once: on the sample every result is
  the correctly rounded one (at most 0.5 ulp, which the tests hold).
- `exp32`: subnormal results within one subnormal step; +inf above 88.7228..., 0 far
  below -103.97; NaN for NaN.
- `sin32`, `cos32`: over the whole float32 range (the reduction is exact: Cody-Waite in
  float64 below 2**19 = 524288, Payne-Hanek with 2/pi's bits above); NaN for NaN and
  +-inf; sin32(-0.0) is -0.0.
Float64 keeps libm.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.core.extending import intrinsic

__all__ = ["cos32", "cos32_near", "exp32", "sin32", "sin32_near"]


@intrinsic
def _float32_from_bits(typingctx, bits):  # type: ignore[no-untyped-def]
    """The float32 whose bits are the int32 `bits` (a bitcast, which LLVM vectorizes)."""

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return types.float32(types.int32), codegen


@intrinsic
def _bits_of_float32(typingctx, x):  # type: ignore[no-untyped-def]
    """The int32 holding the bits of the float32 `x`."""

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], context.get_value_type(types.int32))

    return types.int32(types.float32), codegen


@intrinsic
def _float64_from_bits(typingctx, bits):  # type: ignore[no-untyped-def]
    """The float64 whose bits are the int64 `bits`."""

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


_EXP_HI = np.float32(88.72283935546875)  # exp rounds to +inf above this
_EXP_LO = -104.0  # and to 0 below this


@njit(inline="always", error_model="numpy")
def exp32(x: float) -> float:
    """e**x for a float32 x, computed in float64 and rounded once: 2**k * exp(r), with
    k = round(x / ln 2), |r| <= ln(2) / 2, exp(r) by its Taylor series to degree 11
    (relative error below 3e-14, so the float32 result is the correctly rounded one but
    where e**x lies within 2e-6 of its ulp from a rounding boundary)."""
    xd = np.float64(x)
    xd = xd if xd < 89.0 else 89.0
    xd = xd if xd > _EXP_LO else _EXP_LO
    k = math.floor(xd * 1.4426950408889634 + 0.5)
    r = (xd - k * 0.6931471805598903) - k * 5.497923018708371e-14  # ln 2 in two parts
    p = 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    scale = _float64_from_bits((np.int64(k) + np.int64(1023)) << np.int64(52))  # 2**k
    out = np.float32(p * scale)
    out = out if x <= _EXP_HI else np.float32(np.inf)
    return out if x == x else x  # NaN stays NaN


# The bits of 2/pi after the binary point, 32 to a word, after one word of zeros (table
# bit 31 + i is b_i, and bits before the point are 0): Payne-Hanek's table.
_TWO_OVER_PI = np.array(
    [0x00000000, 0xA2F9836E, 0x4E441529, 0xFC2757D1, 0xF534DDC0, 0xDB629599, 0x3C439041,
     0xFE5163AB, 0xDEBBC561, 0xB7246E3A, 0x424DD2E0],
    dtype=np.uint64,
)  # fmt: skip
_MASK32 = np.uint64(0xFFFFFFFF)


# Below this |x|, Cody-Waite's reduction in float64 is exact enough: sin32_near and
# cos32_near are valid there (a fused kernel checks and falls back to sin32 and cos32).
NEAR = 524288.0


@njit(inline="always", error_model="numpy")
def _reduced_near(xd: float) -> tuple[float, int]:
    """(r, q) with x = r + q * pi/2 up to rounding, |r| <= pi/4, for |x| < NEAR: Cody-Waite
    with pi/2 in three parts, the first two of 30 bits, so k * part is exact."""
    k = math.floor(xd * 0.6366197723675814 + 0.5)
    r = ((xd - k * 1.570796325802803) - k * 9.920935791635221e-10) - k * 5.170182981794105e-19
    return r, np.int64(k)


@njit(inline="always", error_model="numpy")
def _reduced(x: float) -> tuple[float, int]:
    """(r, q) with x = r + q * pi/2 up to rounding, |r| <= pi/4 (r in float64, q mod 4),
    for every float32 x. Both reductions run for every x (branch-free code vectorizes);
    the exact one is taken from NEAR up, where Cody-Waite's k * pi/2 loses bits."""
    xd = np.float64(x)
    r_small, q_small = _reduced_near(xd)
    # Payne-Hanek: |x| = m * 2**s with m the 24-bit significand. x * 2/pi mod 4 needs the
    # bits b_i of 2/pi (2/pi = sum of b_i 2**-i) from i = s - 1 on (earlier ones add
    # multiples of 4): with V the 96 of them from there, it is m * V * 2**-94 mod 4
    bits = _bits_of_float32(x) & np.int32(0x7FFFFFFF)
    m = np.uint64((bits & np.int32(0x7FFFFF)) | np.int32(0x800000))
    s = (bits >> np.int32(23)) - np.int32(150)
    j = min(max(s + np.int32(30), np.int32(0)), np.int32(135))  # b_(s-1) is table bit s + 30
    word, shift = j >> np.int32(5), np.uint64(j & np.int32(31))
    t0, t1 = _TWO_OVER_PI[word], _TWO_OVER_PI[word + 1]
    t2, t3 = _TWO_OVER_PI[word + 2], _TWO_OVER_PI[word + 3]
    w0 = ((t0 << shift) | (t1 >> (np.uint64(32) - shift))) & _MASK32
    w1 = ((t1 << shift) | (t2 >> (np.uint64(32) - shift))) & _MASK32
    w2 = ((t2 << shift) | (t3 >> (np.uint64(32) - shift))) & _MASK32
    lo = m * w2  # m * V in 32-bit limbs: P = hi * 2**64 + (mid mod 2**32) * 2**32 + ...
    mid = m * w1 + (lo >> np.uint64(32))
    hi = m * w0 + (mid >> np.uint64(32))
    q_big = np.int64((hi >> np.uint64(30)) & np.uint64(3))  # bits 94 and 95 of P
    fraction = ((hi & np.uint64(0x3FFFFFFF)) << np.uint64(32)) | (mid & _MASK32)  # 62 bits
    f = np.float64(fraction) * 2.168404344971009e-19  # / 2**62
    up = f >= 0.5
    f = f - 1.0 if up else f
    q_big = q_big + 1 if up else q_big
    r_big = f * 1.5707963267948966
    if xd < 0:
        r_big, q_big = -r_big, -q_big
    big = abs(xd) >= NEAR
    return (r_big if big else r_small), (q_big if big else q_small)


@njit(inline="always", error_model="numpy")
def _sin_cos_kernel(r: float, q: int) -> float:
    """sin(r + q * pi/2) for |r| <= pi/4, by sin's or cos's Taylor polynomial (float64)."""
    r2 = r * r  # Taylor to degree 13 (sin) and 14 (cos): relative error below 2e-13
    s = r + r * r2 * (
        -1.0 / 6.0
        + r2
        * (
            1.0 / 120.0
            + r2
            * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0 + r2 * (-1.0 / 39916800.0 + r2 / 6227020800.0)))
        )
    )
    c14 = 1.0 / 479001600.0 - r2 / 87178291200.0
    c = 1.0 - r2 * (
        0.5
        - r2
        * (
            1.0 / 24.0
            - r2 * (1.0 / 720.0 - r2 * (1.0 / 40320.0 - r2 * (1.0 / 3628800.0 - r2 * c14)))
        )
    )
    v = s if (q & 1) == 0 else c
    return -v if (q & 2) != 0 else v


@njit(inline="always", error_model="numpy")
def sin32(x: float) -> float:
    """sin(x) for a float32 x, exact range reduction over the whole float32 range."""
    r, q = _reduced(x)
    v = np.float32(_sin_cos_kernel(r, q))
    v = v if x != 0 else x  # sin(-0.0) is -0.0
    return v if x - x == 0 else np.float32(np.nan)  # +-inf and NaN give NaN


@njit(inline="always", error_model="numpy")
def cos32(x: float) -> float:
    """cos(x) for a float32 x, exact range reduction over the whole float32 range."""
    r, q = _reduced(x)
    v = np.float32(_sin_cos_kernel(r, q + 1))
    return v if x - x == 0 else np.float32(np.nan)


@njit(inline="always", error_model="numpy")
def sin32_near(x: float) -> float:
    """sin(x) for a float32 x with |x| < NEAR (about twice as fast as sin32)."""
    r, q = _reduced_near(np.float64(x))
    v = np.float32(_sin_cos_kernel(r, q))
    v = v if x != 0 else x  # sin(-0.0) is -0.0
    return v if x == x else x  # NaN stays NaN


@njit(inline="always", error_model="numpy")
def cos32_near(x: float) -> float:
    """cos(x) for a float32 x with |x| < NEAR."""
    r, q = _reduced_near(np.float64(x))
    v = np.float32(_sin_cos_kernel(r, q + 1))
    return v if x == x else x  # NaN stays NaN
