"""Public names checked by value against independent oracles, on the reference and compiled targets.

Each `@check` below builds a few fetches from placeholders and states the
expected values with NumPy formulas written here, hand-derived numbers, or
TF1's documented rules (never graphc's own `numpy` facets). On the reference
target each check runs on its own graph; compiled, all checks share one session
running a few programs (the module-scoped `compiled_results`: one huge program
compiles slower than several small ones). A check that fails to build, or a
program that fails to compile, fails only the checks concerned.

The remaining tests cover what is not a tensor value: collections and
variable lists, aliases, the pass report and debug printouts, and
`test_every_public_name_is_exercised`, which asks that every public callable
of graphc, graphc.nn, graphc.losses and graphc.train be referenced (as
`tf.<name>`, `tf.nn.<name>`, ... or imported from graphc) in some test file.
"""

from __future__ import annotations

import ast
import inspect
import os
import pathlib
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.special

import graphc as tf
from graphc.errors import DTypeError, FailedPreconditionError

TARGETS = ["numpy", pytest.param("cpu", marks=pytest.mark.compiled)]
F32 = {"rtol": 2e-6, "atol": 1e-7}
F64 = {"rtol": 1e-12, "atol": 1e-14}


# ---- the check table ---------------------------------------------------------------------
@dataclass
class Want:
    """An expected value of `tensor`: an array (dtype and shape must match) or a predicate."""

    tensor: Any
    value: Any
    rtol: float = 1e-6
    atol: float = 0.0


@dataclass
class Check:
    build: Callable[[Callable[..., Any]], dict[str, Want]]
    group: str = "main"
    cpu_raises: type | None = None  # what the compiled target raises instead (documented)


CHECKS: dict[str, Check] = {}


def check(name: str, group: str = "main", cpu_raises: type | None = None) -> Callable:
    def register(build: Callable) -> Callable:
        CHECKS[name] = Check(build, group, cpu_raises)
        return build

    return register


def want(tensor: Any, value: Any, tol: dict | None = None) -> Want:
    tol = tol if tol is not None else (F64 if np.asarray(value).dtype == np.float64 else F32)
    return Want(tensor, value, **tol)


def f32(*values: Any) -> np.ndarray:
    return np.asarray(values if len(values) != 1 else values[0], np.float32)


def f64(*values: Any) -> np.ndarray:
    return np.asarray(values if len(values) != 1 else values[0], np.float64)


def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def expit(x: np.ndarray) -> np.ndarray:
    return scipy.special.expit(x)


# Non-square on purpose, so that an axis mix-up changes the result.
X23 = f64([[0.5, -1.0, 2.0], [3.0, 0.25, -2.0]])
LOGITS = f64([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0], [1000.0, 0.0, -1000.0], [-3.0, 4.0, 1.0]])
ONEHOT = f64(np.eye(3)[[0, 2, 1, 1]])


@check("log_sigmoid-f32")
def _(feed):
    x = f32(-100, -50, -10, -1, 0, 1, 10, 50, 100)
    y = tf.log_sigmoid(feed(x))
    oracle = -np.logaddexp(0.0, -x.astype(np.float64))
    return {"value": want(y, oracle.astype(np.float32), {"rtol": 2e-6, "atol": 1e-40})}


@check("log_sigmoid-f64")
def _(feed):
    x = f64(-800, -50, -1, 0, 1e-9, 2, 50, 800)  # exp(800) overflows a naive formula
    px = feed(x)
    y = tf.log_sigmoid(px)
    (g,) = tf.gradients(tf.reduce_sum(y), px)
    return {
        "value": want(y, -np.logaddexp(0.0, -x)),
        "grad-away-from-0": want(tf.gather(g, [0, 1, 2, 4, 5, 6, 7]), expit(-np.delete(x, 3))),
    }


@check("sigmoid_cross_entropy_with_logits")
def _(feed):
    x, z = f64(-800, -2, 0, 0, 3, 800), f64(1, 1, 1, 0, 0.25, 0)
    loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=feed(z), logits=feed(x))
    return {"value": want(loss, np.logaddexp(0.0, x) - x * z)}


@check("softplus-family-grad-at-0")
def _(feed):
    # softplus is smooth: softplus'(x) = sigmoid(x), exactly 0.5 at x = 0 (logits of a
    # zero-initialized model), and so are d/dx log_sigmoid(x) = sigmoid(-x) and the
    # logistic loss's d/dx = sigmoid(x) - z
    x, z = f64(-30, -1, 0, 1, 30), f64(1, 0, 1, 0.25, 1)
    px = feed(x)
    (gs,) = tf.gradients(tf.reduce_sum(tf.nn.softplus(px)), px)
    (gl,) = tf.gradients(tf.reduce_sum(tf.log_sigmoid(px)), px)
    xent = tf.nn.sigmoid_cross_entropy_with_logits(labels=feed(z), logits=px)
    (gx,) = tf.gradients(tf.reduce_sum(xent), px)
    return {
        "softplus": want(gs, expit(x)),
        "log_sigmoid": want(gl, expit(-x)),
        "sigmoid_xent": want(gx, expit(x) - z),
    }


@check("losses-softmax_cross_entropy")
def _(feed):
    logits = feed(LOGITS, shape=[None, 3])
    loss = tf.losses.softmax_cross_entropy(feed(ONEHOT, shape=[None, 3]), logits)
    (g,) = tf.gradients(loss, logits)
    oracle = -(ONEHOT * np_log_softmax(LOGITS, -1)).sum(-1).mean()
    grad = (np_softmax(LOGITS, -1) - ONEHOT) / len(LOGITS)
    return {"loss": want(loss, f64(oracle)), "grad": want(g, grad)}


@check("losses-softmax_cross_entropy-soft-labels-f32")
def _(feed):
    labels = f32([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    logits = f32([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])
    loss = tf.losses.softmax_cross_entropy(feed(labels), feed(logits))
    per_row = -(labels * np_log_softmax(logits.astype(np.float64), -1)).sum(-1)
    v2 = tf.nn.softmax_cross_entropy_with_logits_v2(labels=feed(labels), logits=feed(logits))
    return {
        "loss": want(loss, np.float32(per_row.mean())),
        "v2": want(v2, per_row.astype(np.float32)),
    }


@check("losses-sparse_softmax_cross_entropy")
def _(feed):
    labels = np.array([0, 2, 1, 1])
    out = {}
    for dtype in ("int32", "int64"):
        loss = tf.losses.sparse_softmax_cross_entropy(
            feed(labels.astype(dtype), shape=[None]), feed(LOGITS, shape=[None, 3])
        )
        oracle = -np_log_softmax(LOGITS, -1)[np.arange(4), labels].mean()
        out[dtype] = want(loss, f64(oracle))
    return out


@check("losses-mean_squared_error")
def _(feed):
    labels = f32([[1.0, -2.0, 0.5], [4.0, 0.0, -1.5]])
    preds = f32([[0.5, -1.0, 0.5], [1.0, 2.0, -3.0]])
    pp = feed(preds, shape=[None, 3])
    loss = tf.losses.mean_squared_error(feed(labels, shape=[None, 3]), pp)
    (g,) = tf.gradients(loss, pp)
    d = preds.astype(np.float64) - labels
    return {
        "loss": want(loss, np.float32((d**2).mean())),  # (0.25+1+0+9+4+2.25)/6
        "hand": want(loss, np.float32(16.5 / 6)),
        "grad": want(g, (2 * d / d.size).astype(np.float32)),
    }


@check("rank-size-shape")
def _(feed):
    p3 = feed(np.zeros((2, 3, 4), np.float32), shape=[None, 3, None])
    p0 = feed(np.float32(1.5), shape=[])
    p1 = feed(np.arange(5, dtype=np.int64), shape=[None])
    empty = feed(np.zeros((0, 3), np.float32), shape=[None, 3])
    w = tf.constant(np.ones((3, 2), np.float32))
    prod = tf.matmul(feed(np.ones((5, 3), np.float32), shape=[None, 3]), w)
    int32, int64 = np.int32, np.int64
    return {
        "rank3": want(tf.rank(p3), int32(3)),
        "rank0": want(tf.rank(p0), int32(0)),
        "rank1": want(tf.rank(p1), int32(1)),
        "rank4": want(tf.rank(tf.zeros([1, 2, 1, 3])), int32(4)),
        "rank-of-op": want(tf.rank(prod), int32(2)),
        "size3": want(tf.size(p3), int32(24)),
        "size0": want(tf.size(p0), int32(1)),
        "size-empty": want(tf.size(empty), int32(0)),
        "size-int64": want(tf.size(p1, out_type=tf.int64), int64(5)),
        "shape3": want(tf.shape(p3), np.array([2, 3, 4], int32)),
        "shape0": want(tf.shape(p0), np.zeros(0, int32)),
        "shape-empty": want(tf.shape(empty), np.array([0, 3], int32)),
        "shape-of-op": want(tf.shape(prod), np.array([5, 2], int32)),
        "shape-int64": want(tf.shape(p3, out_type=tf.int64), np.array([2, 3, 4], int64)),
    }


@check("softmax-axes")
def _(feed):
    x = feed(X23)
    return {
        "default": want(tf.nn.softmax(x), np_softmax(X23, -1)),
        "axis1": want(tf.nn.softmax(x, axis=1), np_softmax(X23, 1)),
        "axis0": want(tf.nn.softmax(x, axis=0), np_softmax(X23, 0)),
        "log-axis0": want(tf.nn.log_softmax(x, axis=0), np_log_softmax(X23, 0)),
        "log-axis-1": want(tf.nn.log_softmax(x, axis=-1), np_log_softmax(X23, -1)),
    }


@check("activations")
def _(feed):
    x = f64(-800, -7, -1, -0.5, 0, 0.5, 3, 6, 9, 800)
    px = feed(x)
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    small = np.minimum(x, 0)  # exp of the clamped value: no overflow in the oracle
    return {
        "leaky_relu-0.1": want(tf.nn.leaky_relu(px, alpha=0.1), np.where(x > 0, x, 0.1 * x)),
        "leaky_relu-default": want(tf.nn.leaky_relu(px), np.where(x > 0, x, 0.2 * x)),
        "relu": want(tf.nn.relu(px), np.maximum(x, 0)),
        "relu6": want(tf.nn.relu6(px), np.clip(x, 0, 6)),
        "elu": want(tf.nn.elu(px), np.where(x > 0, x, np.exp(small) - 1)),
        "selu": want(tf.nn.selu(px), scale * np.where(x > 0, x, alpha * np.expm1(small))),
        "softplus": want(tf.nn.softplus(px), np.logaddexp(0.0, x)),
        "nn.sigmoid": want(tf.nn.sigmoid(px), expit(x)),
        "nn.tanh": want(tf.nn.tanh(px), np.tanh(x)),
    }


@check("activations-f32")
def _(feed):
    x = f32(-100, -7, -0.5, 0, 0.5, 6.5, 100)
    px, x64 = feed(x), x.astype(np.float64)
    return {
        "leaky_relu-0.1": want(tf.nn.leaky_relu(px, 0.1), np.where(x > 0, x, x * np.float32(0.1))),
        "relu6": want(tf.nn.relu6(px), np.clip(x, 0, 6)),
        "elu": want(tf.nn.elu(px), np.where(x > 0, x, np.expm1(np.minimum(x64, 0))).astype("f4")),
        "softplus": want(
            tf.nn.softplus(px), np.logaddexp(0.0, x64).astype(np.float32), {"rtol": 2e-6, "atol": 0}
        ),
    }


def _zero_or_scaled(x: np.ndarray, keep: float) -> Callable[[np.ndarray], None]:
    def assert_ok(got: np.ndarray) -> None:
        assert got.shape == x.shape and got.dtype == x.dtype
        kept = got != 0
        np.testing.assert_allclose(got[kept], x[kept] / keep, rtol=1e-6)
        assert kept.any() and not kept.all()  # >= 24 draws: all-or-nothing has p < 1e-4

    return assert_ok


def _whole_rows(x: np.ndarray, keep: float, axis: int) -> Callable[[np.ndarray], None]:
    def assert_ok(got: np.ndarray) -> None:
        _zero_or_scaled(x, keep)(got)
        kept = got != 0
        assert (kept.all(axis=axis) | ~kept.any(axis=axis)).all(), got

    return assert_ok


@check("dropout")
def _(feed):
    x = np.arange(1, 41, dtype=np.float32).reshape(8, 5)
    px = feed(x)
    keep = feed(np.float32(0.25), shape=[])
    rows = np.arange(1, 49, dtype=np.float32).reshape(24, 2)
    return {
        "keep1-identity": want(tf.nn.dropout(px, keep_prob=1.0, seed=1), x),
        "rate0-identity": want(tf.nn.dropout(px, rate=0.0, seed=2), x),
        "keep0.5": want(tf.nn.dropout(px, keep_prob=0.5, seed=3), _zero_or_scaled(x, 0.5)),
        "rate0.75": want(tf.nn.dropout(px, rate=0.75, seed=4), _zero_or_scaled(x, 0.25)),
        "keep-fed": want(tf.nn.dropout(px, keep_prob=keep, seed=5), _zero_or_scaled(x, 0.25)),
        "noise-rows": want(
            tf.nn.dropout(feed(rows), keep_prob=0.5, noise_shape=[24, 1], seed=6),
            _whole_rows(rows, 0.5, 1),
        ),
    }


LEGACY = {
    "reduce_sum": np.sum,
    "reduce_mean": np.mean,
    "reduce_max": np.max,
    "reduce_min": np.min,
    "reduce_prod": np.prod,
    "reduce_logsumexp": scipy.special.logsumexp,
}


def _legacy_check(name: str, fn: Callable) -> None:
    @check(f"legacy-{name}")
    def _(feed):
        x = feed(X23)
        op = getattr(tf, name)
        return {
            "ri1-keep": want(op(x, reduction_indices=1, keep_dims=True), fn(X23, 1, keepdims=True)),
            "ri0": want(op(x, reduction_indices=[0]), fn(X23, axis=0)),
        }


for _name, _fn in LEGACY.items():
    _legacy_check(_name, _fn)


@check("argmax-argmin")
def _(feed):
    x = feed(X23)
    return {
        "argmax1-int64": want(tf.argmax(x, 1), np.argmax(X23, 1).astype(np.int64)),
        "argmax1-int32": want(tf.argmax(x, 1, output_type=tf.int32), np.array([2, 0], np.int32)),
        "argmax0-int32": want(
            tf.argmax(x, axis=0, output_type=tf.int32), np.array([1, 1, 0], np.int32)
        ),
        "argmax-default-axis": want(tf.argmax(x), np.array([1, 1, 0], np.int64)),
        "argmax-dimension": want(tf.argmax(x, dimension=1), np.array([2, 0], np.int64)),
        "argmin-dimension": want(tf.argmin(x, dimension=0), np.array([0, 0, 1], np.int64)),
        "argmin-int32": want(tf.argmin(x, -1, output_type=tf.int32), np.array([1, 2], np.int32)),
    }


@check("reduce-extremes")
def _(feed):
    neg = f32([[-3.0, -1.0, -2.0], [-5.0, -4.0, -6.0]])
    pos = f32([[3.0, 1.5, 2.0], [5.0, 4.0, 6.0]])
    ties = f32([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    pn, pp, pt = feed(neg), feed(pos, shape=[None, 3]), feed(ties)
    out = {}
    for axis in (None, 0, 1):
        out[f"max-neg-{axis}"] = want(tf.reduce_max(pn, axis), np.max(neg, axis))
        out[f"min-pos-{axis}"] = want(tf.reduce_min(pp, axis), np.min(pos, axis))
    out["max-ties-1"] = want(tf.reduce_max(pt, 1), f32(3, 2))
    # reductions of elementwise values (fused into one loop when compiled)
    out["max-fused"] = want(tf.reduce_max(-tf.abs(pp) - 1.0, 1), np.max(-pos - 1, 1))
    out["min-fused"] = want(tf.reduce_min(tf.abs(pn) + 1.0, 0), np.min(-neg + 1, 0))
    out["max-int"] = want(
        tf.reduce_max(feed(np.array([[-7, -3], [-9, -8]], np.int32)), 1), np.array([-3, -8], "i4")
    )
    return out


@check("reduce-empty")
def _(feed):
    e = np.zeros((0, 3), np.float32)
    pe = feed(e, shape=[None, 3])
    mean = np.full(3, np.nan, np.float32)  # np.mean over an empty axis: 0 / 0
    inf = np.full(3, np.inf, np.float32)
    return {
        "sum0": want(tf.reduce_sum(pe, 0), np.sum(e, 0)),
        "sum1": want(tf.reduce_sum(pe, 1), np.zeros(0, np.float32)),
        "sum-all": want(tf.reduce_sum(pe), np.float32(0)),
        "mean0": want(tf.reduce_mean(pe, 0), mean),
        "prod0": want(tf.reduce_prod(pe, 0), np.prod(e, 0)),
        # NumPy raises here; TF1 (and graphc's documented rule) give the identity element
        "max0": want(tf.reduce_max(pe, 0), -inf),
        "min0": want(tf.reduce_min(pe, 0), inf),
    }


@check("grad-maximum-minimum-ties")
def _(feed):
    x, y, g = f64(1, 2, 3, 4), f64(1, 0, 5, 4), f64(2, 3, 5, 7)  # ties at 0 and 3
    px, py, pg = feed(x), feed(y), feed(g)
    gx, gy = tf.gradients(tf.maximum(px, py), [px, py], grad_ys=pg)
    hx, hy = tf.gradients(tf.minimum(px, py), [px, py], grad_ys=pg)
    s = feed(f64(2.0), shape=[])  # a broadcast scalar that ties with x[1]
    sx, ss = tf.gradients(tf.maximum(px, s), [px, s], grad_ys=pg)
    return {
        # TF1: the whole gradient goes to x where x >= y (maximum) / x <= y (minimum)
        "max-dx": want(gx, f64(2, 3, 0, 7)),
        "max-dy": want(gy, f64(0, 0, 5, 0)),
        "max-sum": want(gx + gy, g),
        "min-dx": want(hx, f64(2, 0, 5, 7)),
        "min-dy": want(hy, f64(0, 3, 0, 0)),
        "min-sum": want(hx + hy, g),
        "max-scalar-dx": want(sx, f64(0, 3, 5, 7)),
        "max-scalar-dy": want(ss, f64(2.0)),
    }


@check("grad-reduce-max-ties")
def _(feed):
    x = f64([[1, 3, 3], [2, 2, 2], [5, 1, 0]])
    px, up = feed(x), f64(1, 6, 2)
    (g1,) = tf.gradients(tf.reduce_max(px, 1), px, grad_ys=feed(up))
    pm = feed(f64([[1, 2, 0], [1, 2, 5], [3, 2, 0]]))
    (g0,) = tf.gradients(tf.reduce_min(pm, 0), pm, grad_ys=feed(f64(4, 3, 8)))
    y = feed(f64([[4, 1], [4, 4]]))
    (gall,) = tf.gradients(tf.reduce_max(y), y)
    # TF1 splits the gradient evenly among the tied extremes
    return {
        "max-axis1": want(g1, f64([[0, 0.5, 0.5], [2, 2, 2], [2, 0, 0]])),
        "max-axis1-rowsum": want(tf.reduce_sum(g1, 1), up),
        "min-axis0": want(g0, f64([[2, 1, 4], [2, 1, 0], [0, 1, 4]])),
        "max-all": want(gall, f64([[1, 0], [1, 1]]) / 3),
    }


@check("gradients-stop-and-grad_ys")
def _(feed):
    a = f64(1, 2, 3)
    pa = feed(a)
    b = 2.0 * pa
    y = tf.reduce_sum(pa * b)  # = 2 a^2 when b is not held constant
    (stopped,) = tf.gradients(y, pa, stop_gradients=[b])
    (through,) = tf.gradients(y, pa)
    sa, sb = tf.gradients(y, [pa, b], stop_gradients=[b])
    (blocked,) = tf.gradients(tf.reduce_sum(pa * tf.stop_gradient(2.0 * pa)), pa)
    seed = f64(1, -2, 0.5)
    (seeded,) = tf.gradients(pa * pa, pa, grad_ys=feed(seed))
    g2 = tf.gradients([pa * pa, 3.0 * pa], pa, grad_ys=[feed(seed), feed(f64(1, 1, 2))])[0]
    return {
        "stop_gradients": want(stopped, 2 * a),  # dy/da = b
        "no-stop": want(through, 4 * a),  # b + 2a
        "stop-and-wrt-b": want(sa, 2 * a),
        "wrt-stopped-b": want(sb, a),
        "stop_gradient-op": want(blocked, 2 * a),
        "grad_ys": want(seeded, 2 * a * seed),
        "grad_ys-list": want(g2, 2 * a * seed + 3 * f64(1, 1, 2)),
    }


@check("elementwise-values")
def _(feed):
    x = f32([[-2.0, 0.5, 3.0], [1.0, -1.0, 2.0]])
    px = feed(x)
    lo, hi = feed(f32(-1.0, 0.0, 1.0)), feed(f32(2.0), shape=[])
    cond = np.array([True, False, True])
    c, d = feed(np.array([[True], [False]])), feed(cond)
    pc = feed(f32([[10.0], [20.0]]))
    tie = f32(-1.5, -1.0, 0.0, 2.0, 2.5)
    out = {
        "clip": want(tf.clip_by_value(px, -1.0, 2.0), np.clip(x, -1, 2)),
        "clip-at-bounds": want(tf.clip_by_value(feed(tie), -1.0, 2.0), f32(-1, -1, 0, 2, 2)),
        "clip-tensor-bounds": want(
            tf.clip_by_value(px, lo, hi), np.minimum(np.maximum(x, f32(-1, 0, 1)), 2)
        ),
        "add_n-3": want(tf.add_n([px, px * 2.0, feed(x + 1)]), x + 2 * x + (x + 1)),
        "add_n-1": want(tf.add_n([px]), x),
        "where-col": want(tf.where(c, px, 0.0), np.where([[True], [False]], x, 0)),
        "where-row": want(tf.where(d, px, pc), np.where(cond, x, f32([[10.0], [20.0]]))),
    }
    pw = feed(f32([[10.0], [20.0]]))
    (gw,) = tf.gradients(tf.reduce_sum(tf.where(d, px, pw)), pw)
    out["where-grad-broadcast"] = want(gw, f32([[1.0], [1.0]]))  # one False per row
    return out


@check("cast-round-floordiv-mod-sign")
def _(feed):
    t = f32(-2.7, -2.5, -0.5, 0.5, 2.5, 2.7)
    half = f32(0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 0.4999, -0.4999)
    a, b = np.array([-7, 7, -7, 7, 6, -6], np.int32), np.array([2, -2, -2, 2, -4, 4], np.int32)
    fa, fb = a.astype(np.float64) + 0.5, b.astype(np.float64)
    pa, pb, pfa, pfb = feed(a), feed(b), feed(fa), feed(fb)
    zeros = f64(0.0, -0.0, 3.0, -0.25)
    ints = np.array([0, -4, 9], np.int32)
    return {
        "cast-int32": want(tf.cast(feed(t), tf.int32), np.array([-2, -2, 0, 0, 2, 2], np.int32)),
        "cast-int64": want(tf.cast(feed(t), "int64"), np.array([-2, -2, 0, 0, 2, 2], np.int64)),
        "round-half-even": want(tf.round(feed(half)), f32(0, 2, 2, 4, 0, -2, -2, 0, 0)),
        "floordiv-int": want(tf.floordiv(pa, pb), np.array([-4, -4, 3, 3, -2, -2], np.int32)),
        "floor_div-int": want(tf.floor_div(pa, pb), a // b),
        "op-floordiv-int": want(pa // pb, a // b),
        "mod-int": want(tf.mod(pa, pb), np.array([1, -1, -1, 1, -2, 2], np.int32)),
        "floormod-int": want(tf.floormod(pa, pb), a % b),
        "op-mod-int": want(pa % pb, a % b),
        "floordiv-float": want(tf.floordiv(pfa, pfb), np.floor_divide(fa, fb)),
        "mod-float": want(tf.mod(pfa, pfb), f64(1.5, -0.5, -0.5, 1.5, -1.5, 2.5)),
        "mod-float-np": want(pfa % pfb, np.mod(fa, fb)),
        "sign-float": want(tf.sign(feed(zeros)), f64(0, 0, 1, -1)),
        "sign-int": want(tf.sign(feed(ints)), np.array([0, -1, 1], np.int32)),
        "pow": want(tf.pow(pfb, 3.0), fb**3),
        "pow-int": want(tf.pow(pb, 2), b**2),
        "op-pow": want(feed(f64(4.0, 9.0)) ** 0.5, f64(2.0, 3.0)),
    }


@check("tf1-conversions")
def _(feed):
    t = f64(-2.7, -0.5, 0.5, 2.5, 3.0)
    i = np.array([-3, 0, 7], np.int32)
    pt, pi = feed(t), feed(i)
    return {
        "to_float": want(tf.to_float(pt), f32(-2.7, -0.5, 0.5, 2.5, 3.0)),
        "to_float-int": want(tf.to_float(pi), f32(-3, 0, 7)),
        "to_double": want(tf.to_double(tf.to_float(pi)), f64(-3, 0, 7)),
        "to_int32": want(tf.to_int32(pt), np.array([-2, 0, 0, 2, 3], np.int32)),  # toward 0
        "to_int64": want(tf.to_int64(pi), np.array([-3, 0, 7], np.int64)),
    }


@check("saturate_cast")
def _(feed):
    x = f32(300.0, -5.0, 12.7, 255.0, np.nan, np.inf, -np.inf)
    big = f32(3e9, -3e9, 1.5, 2147483520.0)
    wide = np.array([-1, 70000, 5, -40000], np.int32)
    doubles = f64(1e300, -1e300, 1.0, np.inf)
    return {
        # clamped to [0, 255], then truncated; NaN -> 0, infinities -> the bounds
        "f32-to-u8": want(
            tf.saturate_cast(feed(x), tf.uint8), np.array([255, 0, 12, 255, 0, 255, 0], np.uint8)
        ),
        # 2**31 - 1 rounds up in float32: the bound is the float32 below it, 2**31 - 128
        "f32-to-i32": want(
            tf.saturate_cast(feed(big), "int32"),
            np.array([2147483520, -2147483648, 1, 2147483520], np.int32),
        ),
        "i32-to-i16": want(
            tf.saturate_cast(feed(wide), tf.int16), np.array([-1, 32767, 5, -32768], np.int16)
        ),
        "i32-to-u8": want(
            tf.saturate_cast(feed(wide), tf.uint8), np.array([0, 255, 5, 0], np.uint8)
        ),
        "f64-to-f32": want(
            tf.saturate_cast(feed(doubles), tf.float32),
            f32(3.4028234663852886e38, -3.4028234663852886e38, 1.0, 3.4028234663852886e38),
        ),
        "i32-to-f64": want(tf.saturate_cast(feed(wide), tf.float64), wide.astype(np.float64)),
    }


@check("reduce_any-reduce_all")
def _(feed):
    x = feed(np.array([[True, True], [False, False]]))  # TF1's documented example
    lit = feed(f32([[0.5, -1.0, 2.0], [-3.0, -0.5, -2.0]]))
    return {
        "any": want(tf.reduce_any(x), np.bool_(True)),
        "any0": want(tf.reduce_any(x, 0), np.array([True, True])),
        "any1": want(tf.reduce_any(x, 1), np.array([True, False])),
        "all": want(tf.reduce_all(x), np.bool_(False)),
        "all0": want(tf.reduce_all(x, 0), np.array([False, False])),
        "all1": want(tf.reduce_all(x, 1), np.array([True, False])),
        "all1-keep": want(tf.reduce_all(x, 1, keepdims=True), np.array([[True], [False]])),
        "any-keep_dims": want(tf.reduce_any(x, keep_dims=True), np.array([[True]])),
        "any-indices": want(tf.reduce_any(x, reduction_indices=[0]), np.array([True, True])),
        "any-positive-rows": want(tf.reduce_any(lit > 0, axis=-1), np.array([True, False])),
        "all-negative-cols": want(tf.reduce_all(lit < 0, axis=0), np.array([False, True, False])),
    }


@check("cumsum")
def _(feed):
    abc = f64(1.0, 10.0, 100.0)  # a, b, c of TF1's documented examples
    p = feed(abc)
    m = feed(np.array([[1, 2, 3], [4, 5, 6]], np.int32))
    (g,) = tf.gradients(tf.reduce_sum(tf.cumsum(p) * feed(f64(1.0, 2.0, 3.0))), p)
    return {
        "plain": want(tf.cumsum(p), f64(1, 11, 111)),  # [a, a + b, a + b + c]
        "exclusive": want(tf.cumsum(p, exclusive=True), f64(0, 1, 11)),  # [0, a, a + b]
        "reverse": want(tf.cumsum(p, reverse=True), f64(111, 110, 100)),  # [a+b+c, b+c, c]
        "both": want(tf.cumsum(p, exclusive=True, reverse=True), f64(110, 100, 0)),
        "axis0-int": want(tf.cumsum(m, 0), np.array([[1, 2, 3], [5, 7, 9]], np.int32)),
        "axis1-int": want(tf.cumsum(m, axis=1), np.array([[1, 3, 6], [4, 9, 15]], np.int32)),
        "axis-tensor": want(tf.cumsum(m, tf.constant(-1)), np.array([[1, 3, 6], [4, 9, 15]], "i4")),
        # d/dx_i sum_j w_j cumsum(x)_j = sum_{j >= i} w_j: the reverse cumsum of the weights
        "grad": want(g, f64(6, 5, 3)),
    }


@check("count_nonzero")
def _(feed):
    x = feed(np.array([[0, 1, 0], [1, 1, 0]], np.int32))  # TF1's documented example
    f = feed(f32(0.0, -0.0, np.nan, 2.5))
    return {
        "all": want(tf.count_nonzero(x), np.int64(3)),
        "axis0": want(tf.count_nonzero(x, 0), np.array([1, 2, 0], np.int64)),
        "axis1": want(tf.count_nonzero(x, 1), np.array([1, 2], np.int64)),
        "keepdims": want(tf.count_nonzero(x, 1, keepdims=True), np.array([[1], [2]], np.int64)),
        "axes": want(tf.count_nonzero(x, [0, 1]), np.int64(3)),
        "dtype": want(tf.count_nonzero(x, 0, dtype=tf.int32), np.array([1, 2, 0], np.int32)),
        "floats": want(tf.count_nonzero(f), np.int64(2)),  # -0.0 is zero, NaN is not
        "bools": want(tf.count_nonzero(x > 0, 1), np.array([1, 2], np.int64)),
    }


@check("arg_max-arg_min")
def _(feed):
    x = feed(X23)  # [[0.5, -1, 2], [3, 0.25, -2]]
    return {
        "arg_max1": want(tf.arg_max(x, 1), np.array([2, 0], np.int64)),
        "arg_max0": want(tf.arg_max(x, dimension=0), np.array([1, 1, 0], np.int64)),
        "arg_min1-int32": want(tf.arg_min(x, 1, tf.int32), np.array([1, 2], np.int32)),
        "arg_min0": want(tf.arg_min(x, 0, output_type="int64"), np.array([0, 0, 1], np.int64)),
    }


@check("round-specials")
def _(feed):
    x = f32(-0.5, -0.25, np.nan, np.inf, -np.inf, 3e19, -1e10)
    expected = f32(-0.0, -0.0, np.nan, np.inf, -np.inf, 3e19, -1e10)  # NumPy's and TF1's

    def same_bits(got: np.ndarray) -> None:  # signed zeros included
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))

    return {"round": want(tf.round(feed(x)), same_bits)}


@check("sign-nan")
def _(feed):
    return {"sign": want(tf.sign(feed(f64(np.nan, -1.0))), f64(np.nan, -1.0))}


@check("aliases-values")
def _(feed):
    x, y = f64(5.0, -3.0), f64(2.0, 4.0)
    px, py = feed(x), feed(y)
    return {
        "sub": want(tf.sub(px, py), x - y),
        "mul": want(tf.mul(px, py), x * y),
        "div": want(tf.div(px, py), x / y),
        "truediv": want(tf.truediv(px, py), x / y),
        "realdiv": want(tf.realdiv(px, py), x / y),
        # TF1's tf.div keeps Python 2 semantics: integers floor-divide and stay integers
        "div-int-python2": want(
            tf.div(feed(np.array([7, -7], np.int32)), 2), np.array([3, -4], np.int32)
        ),
        "truediv-int": want(tf.truediv(feed(np.array([7, -7], np.int32)), 2), f64(3.5, -3.5)),
    }


@check("divide-compare-logic")
def _(feed):
    x, y = f32(1, 2, 3, -4), f32(2, 2, 1, -4)  # ties at indices 1 and 3
    px, py = feed(x), feed(y)
    p, q = np.array([True, True, False, False]), np.array([True, False, True, False])
    pp, pq = feed(p), feed(q)
    return {
        "divide": want(tf.divide(px, py), f32(0.5, 1, 3, 1)),
        "divide-int": want(tf.divide(feed(np.array([7, -7], np.int32)), 2), f64(3.5, -3.5)),
        "greater_equal": want(tf.greater_equal(px, py), np.array([False, True, True, True])),
        "less_equal": want(tf.less_equal(px, py), np.array([True, True, False, True])),
        "logical_and": want(tf.logical_and(pp, pq), np.array([True, False, False, False])),
        "logical_or": want(tf.logical_or(pp, pq), np.array([True, True, True, False])),
    }


@check("variables-and-optimizer")
def _(feed):
    w = tf.Variable(f32([1.0, -2.0]), name="w")
    frozen = tf.Variable(f32(3.0), trainable=False, name="frozen")
    step = tf.train.create_global_step()
    loss = tf.reduce_sum(tf.square(w)) * frozen
    opt = tf.train.GradientDescentOptimizer(0.5)
    ((grad, var),) = opt.compute_gradients(loss)
    assert var is w and isinstance(opt, tf.train.Optimizer)
    return {
        "grad": want(grad, f32([6.0, -12.0])),  # 2 * w * frozen
        "read": want(w, f32([1.0, -2.0])),
        "frozen": want(frozen, np.float32(3.0)),
        "global_step": want(step, np.int64(0)),
        "loss": want(loss, np.float32(15.0)),
    }


@check("float16", group="float16", cpu_raises=DTypeError)  # Numba has no CPU float16
def _(feed):
    a = np.array([[0.5, -1.25, 2.0], [3.0, 0.125, -0.75]], np.float16)
    b = np.array([[1.0, 2.0], [-0.5, 0.25], [4.0, -1.0]], np.float16)
    pa, pb = feed(a), feed(b)
    tol = {"rtol": 2e-3, "atol": 2e-3}
    wide = a.astype(np.float32)
    return {
        "add": want(pa + pa, (a + a), tol),
        "multiply": want(tf.multiply(pa, pa), a * a, tol),
        "reduce_sum": want(tf.reduce_sum(pa, 1), wide.sum(1).astype(np.float16), tol),
        "matmul": want(tf.matmul(pa, pb), (wide @ b.astype(np.float32)).astype(np.float16), tol),
        "exp": want(tf.exp(pa), np.exp(wide).astype(np.float16), tol),
    }


# ---- running the table on both targets ---------------------------------------------------
def _feeder(feeds: dict) -> Callable[..., Any]:
    def feed(value: Any, shape: Any = "same") -> Any:
        array = np.asarray(value)
        node = tf.placeholder(array.dtype, array.shape if shape == "same" else shape)
        feeds[node] = array
        return node

    return feed


def _run(sess: Any, names: list[str], wants: dict, feeds: dict) -> dict[str, Any]:
    """Values per check; a group that fails is rerun check by check, keeping each error."""
    fetches = {n: {k: w.tensor for k, w in wants[n].items()} for n in names}
    feed_dict = {p: v for n in names for p, v in feeds[n].items()}
    try:
        return sess.run(fetches, feed_dict)
    except Exception as exc:
        if len(names) == 1:
            return {names[0]: exc}
        out: dict[str, Any] = {}
        for name in names:
            out.update(_run(sess, [name], wants, feeds))
        return out


CHUNKS = 3  # programs for the "main" group: Numba's compile time grows faster than linearly


def _build(names: list[str]) -> tuple[Any, dict, dict, Any]:
    """One graph holding the checks `names`: (graph, wants, feeds, initializer)."""
    graph = tf.Graph()
    feeds: dict[str, dict] = {}
    wants: dict[str, Any] = {}
    with graph.as_default():
        for name in names:
            feeds[name] = {}
            try:
                wants[name] = CHECKS[name].build(_feeder(feeds[name]))
            except Exception as exc:
                wants[name] = exc
        init = tf.global_variables_initializer()
    return graph, wants, feeds, init


def _evaluate(names: list[str], chunks: int = 1, **session: Any) -> tuple[dict, dict]:
    """(wants, values) of the checks `names`, run in `chunks` programs per group."""
    graph, wants, feeds, init = _build(names)
    built = [n for n in names if not isinstance(wants[n], Exception)]
    programs = []
    for group in sorted({CHECKS[n].group for n in built}):
        members = [n for n in built if CHECKS[n].group == group]
        k = min(chunks, len(members)) if group == "main" else 1
        programs += [members[i * len(members) // k : (i + 1) * len(members) // k] for i in range(k)]
    got: dict[str, Any] = {}
    with tf.Session(graph, **session) as sess:
        sess.run(init)
        for members in programs:
            got.update(_run(sess, members, wants, feeds))
    return wants, got


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("graphc-cache")


@pytest.fixture(scope="module")
def compiled_results(cache):
    """Every check compiled in a few shared programs (compiling each alone costs seconds)."""
    return _evaluate(list(CHECKS), CHUNKS, cache_dir=cache)


def _assert_matches(got: Any, spec: Want, where: str) -> None:
    if callable(spec.value):
        spec.value(np.asarray(got))
        return
    expected, got = np.asarray(spec.value), np.asarray(got)
    assert got.dtype == expected.dtype, f"{where}: dtype {got.dtype}, expected {expected.dtype}"
    assert got.shape == expected.shape, f"{where}: shape {got.shape}, expected {expected.shape}"
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(
            got, expected, rtol=spec.rtol, atol=spec.atol, equal_nan=True, err_msg=where
        )
    else:
        np.testing.assert_array_equal(got, expected, err_msg=where)


@pytest.mark.parametrize("name", list(CHECKS), ids=list(CHECKS))
@pytest.mark.parametrize("target", TARGETS)
def test_value(request, target, name):
    # the reference target evaluates each check on its own (cheap, and a mutation run
    # then charges each check's code to its own test); compiled checks share programs
    if target == "numpy":
        wants, values = _evaluate([name], target="numpy")
    else:
        wants, values = request.getfixturevalue("compiled_results")
    if isinstance(wants[name], Exception):
        raise wants[name]
    got = values[name]
    if target == "cpu" and CHECKS[name].cpu_raises is not None:
        assert isinstance(got, CHECKS[name].cpu_raises), f"{name}: expected an error, got {got}"
        return
    if isinstance(got, Exception):
        raise got
    failures = []
    for key, spec in wants[name].items():
        try:
            _assert_matches(got[key], spec, f"{name}/{key} on {target}")
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


# ---- graph-level names: collections, variable lists, aliases -----------------------------
def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def test_variable_lists_and_collections():
    a = tf.Variable(1.0, name="a")
    counter = tf.Variable(0, trainable=False, name="counter")
    b = tf.Variable([1.0, 2.0], name="b")
    mine = tf.Variable(2.0, name="mine", collections=["my_vars"])
    assert _same(tf.global_variables(), [a, counter, b])  # creation order
    assert _same(tf.trainable_variables(), [a, b, mine])  # trainable=False left out
    # TF1's GraphKeys.GLOBAL_VARIABLES / TRAINABLE_VARIABLES are these strings
    assert _same(tf.get_collection("variables"), [a, counter, b])
    assert _same(tf.get_collection("trainable_variables"), [a, b, mine])
    assert _same(tf.get_collection("my_vars"), [mine])
    assert tf.get_collection("no such key") == []

    x = tf.placeholder(tf.float32, [2])
    tf.add_to_collection("things", x)
    tf.add_to_collection("things", "a string")
    tf.add_to_collection("things", x)
    things = tf.get_collection("things")
    assert len(things) == 3 and things[0] is x and things[1] == "a string" and things[2] is x
    things.clear()  # get_collection returns a copy
    assert len(tf.get_collection("things")) == 3
    assert tf.get_default_graph().get_collection("things")[0] is x

    loss = tf.reduce_sum(tf.square(b)) + a * mine
    tf.train.AdamOptimizer(0.1).minimize(loss)
    step = tf.train.get_or_create_global_step()
    assert _same(tf.trainable_variables(), [a, b, mine])  # slots are not trainable
    everything = tf.global_variables()
    assert _same(everything[:3], [a, counter, b]) and everything[-1] is step
    assert len(everything) > 5 and not any(v is mine for v in everything)
    trainable_ids = {id(v) for v in tf.trainable_variables()}
    assert all(id(v) not in trainable_ids for v in everything[3:])
    assert _same(tf.get_collection("global_step"), [step])

    with tf.Graph().as_default():  # collections belong to a graph
        assert tf.global_variables() == [] and tf.get_collection("things") == []


def test_variables_initializer_initializes_only_its_list(cache):
    a = tf.Variable(f32([1.0, 2.0]), name="a")
    b = tf.Variable(f32(5.0), name="b")
    for target in ("numpy", "cpu"):
        with tf.Session(target=target, cache_dir=cache) as sess:
            sess.run(tf.variables_initializer([a]))
            np.testing.assert_array_equal(sess.run(a * 2.0), [2.0, 4.0])
            with pytest.raises(FailedPreconditionError, match="'b"):
                sess.run(b + 1.0)
            sess.run(tf.initialize_all_variables())
            assert sess.run(b) == np.float32(5.0)


def test_global_step_helpers():
    assert tf.train.get_global_step() is None
    step = tf.train.create_global_step()
    assert tf.train.get_global_step() is step and tf.train.get_or_create_global_step() is step
    assert tf.train.create_global_step is tf.train.get_or_create_global_step
    assert step.dtype == tf.int64 and not any(v is step for v in tf.trainable_variables())
    w = tf.Variable(f32([1.0, -1.0]), name="w")
    train = tf.train.GradientDescentOptimizer(0.25).minimize(
        tf.reduce_sum(tf.square(w)), global_step=step
    )
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        sess.run(train)
        assert sess.run(step) == 2
        np.testing.assert_allclose(sess.run(w), [0.25, -0.25])  # w *= 1 - 2 * 0.25, twice


@pytest.mark.parametrize(
    ("alias", "target"),
    [
        ("sub", "subtract"),
        ("mul", "multiply"),
        ("truediv", "divide"),
        ("realdiv", "divide"),
        ("floor_div", "floordiv"),
        ("floormod", "mod"),
    ],
    ids=lambda v: str(v),
)
def test_aliases(alias, target):
    assert getattr(tf, alias) is getattr(tf, target)


def test_nn_aliases_and_types():
    assert tf.nn.softmax_cross_entropy_with_logits_v2 is tf.nn.softmax_cross_entropy_with_logits
    assert tf.nn.sigmoid is tf.sigmoid and tf.nn.tanh is tf.tanh
    x = tf.placeholder(tf.float32, [2], name="x")
    v = tf.Variable(f32([1.0, 2.0]))
    assert isinstance(x, tf.Tensor) and isinstance(v, tf.Tensor) and isinstance(x * 2.0, tf.Tensor)
    assert isinstance(x.op, tf.Operation) and isinstance(tf.group(v.assign(x)), tf.Operation)
    assert all(isinstance(op, tf.Operation) for op in tf.get_default_graph().get_operations())


def test_shape_size_of_unknown_rank_on_reference():
    x = tf.placeholder(tf.float32)  # unknown rank: the reference target reads it at run time
    with tf.Session(target="numpy") as sess:
        shape, size = sess.run([tf.shape(x), tf.size(x)], {x: np.zeros((2, 5, 1), np.float32)})
    np.testing.assert_array_equal(shape, np.array([2, 5, 1], np.int32))
    assert size == 10 and shape.dtype == np.int32


# ---- the pass report and the debug printouts ---------------------------------------------
def _fold_merge_fuse_graph():
    """A graph where `six` folds, `e2` merges into `e1`, and three ops fuse."""
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    six = tf.multiply(tf.constant(2.0, name="two"), tf.constant(3.0, name="three"), name="six")
    e1 = tf.exp(x, name="e1")
    e2 = tf.exp(x, name="e2")
    return x, tf.add(e1 * six, e2, name="out")


FEED = np.array([[0.0, 1.0, -1.0], [0.5, 2.0, -3.0]], np.float32)
EXPECTED = 7.0 * np.exp(FEED)


@pytest.mark.compiled
def test_report_details_name_the_folded_merged_and_fused_nodes(cache, capsys, monkeypatch):
    monkeypatch.setenv("GRAPHC_DEBUG", "0")
    x, out = _fold_merge_fuse_graph()
    with tf.Session(cache_dir=cache) as sess:
        step = sess.make_callable(out, [x])
        np.testing.assert_allclose(step(FEED), EXPECTED, rtol=1e-6)
    assert isinstance(step, tf.Executable)
    details = step.report.details()
    assert "folded six (Mul) into a constant" in details
    assert "merged e2 with e1" in details
    assert "fused 3 ops into kernel" in details and "e1, Mul, out" in details
    assert step.report.changes("cse") == ["merged e2 with e1"]
    assert [k.ops for k in step.kernels] == [("e1", "Mul", "out")]
    assert capsys.readouterr().err == ""  # GRAPHC_DEBUG=0 and debug=False print nothing


@pytest.mark.compiled
def test_session_debug_prints_ir_report_and_source(cache, capsys, monkeypatch):
    monkeypatch.delenv("GRAPHC_DEBUG", raising=False)
    x, out = _fold_merge_fuse_graph()
    with tf.Session(debug=True, cache_dir=cache) as sess:
        np.testing.assert_allclose(sess.run(out, {x: FEED}), EXPECTED, rtol=1e-6)
    err = capsys.readouterr().err
    assert "graph(x: f32[?,3])" in err and "six: f32[] = const[value=6.]" in err  # the IR
    assert "merged e2 with e1" in err and "constant_folding" in err  # the report
    assert (
        "@njit(" in err
        and "def step(\n    # feeds\n    x,\n    # constants\n    scalars,\n):" in err
        and "# e1" in err
    )


@pytest.mark.compiled
def test_graphc_debug_environment_variable(cache):
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import graphc as tf

        x = tf.placeholder(tf.float32, [None, 3], name="x")
        probe = tf.exp(x, name="debug_probe") * 4.0
        with tf.Session(cache_dir=sys.argv[1]) as sess:
            print(sess.run(probe, {x: np.zeros((1, 3), np.float32)}).tolist())
        """
    )
    env = {**os.environ, "GRAPHC_DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(cache)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[[4.0, 4.0, 4.0]]"
    err = done.stderr
    assert "graph(x: f32[?,3])" in err and "debug_probe" in err
    assert (
        "@njit(" in err
        and "def step(\n    # feeds\n    x,\n    # constants\n    scalars,\n):" in err
    )
    assert "# debug_probe" in err


# ---- every public name is used by some test ----------------------------------------------
TESTS = pathlib.Path(__file__).parent
MODULES = {"": tf, "nn.": tf.nn, "losses.": tf.losses, "train.": tf.train}


def _public_callables(module: Any) -> list[str]:
    """__all__ when given; graphc's own namespace; else what the module defines or re-exports."""
    if hasattr(module, "__all__"):
        names = list(module.__all__)
    elif module is tf:
        names = dir(module)
    else:
        tree = ast.parse(inspect.getsource(module))
        names = []
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.append(node.name)
            elif isinstance(node, ast.Assign):
                names += [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.ImportFrom):  # `from m import x as x`: an explicit re-export
                names += [a.name for a in node.names if a.asname == a.name]
    return sorted(
        n
        for n in names
        if not n.startswith("_")
        and "__mutmut_" not in n  # mutmut's copies of a function, under `make mutation`
        and callable(getattr(module, n))
        and not inspect.ismodule(getattr(module, n))
    )


def _referenced_names() -> set[str]:
    """`tf.x`, `tf.nn.x`, `graphc.train.x`, ... and `from graphc[.nn] import x` in tests/."""
    found: set[str] = set()
    for path in sorted(TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                chain, cur = [], node
                while isinstance(cur, ast.Attribute):
                    chain.append(cur.attr)
                    cur = cur.value
                if isinstance(cur, ast.Name) and cur.id in ("tf", "graphc"):
                    found.add(".".join(reversed(chain)))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("graphc"):
                prefix = node.module[len("graphc.") :] + "." if node.module != "graphc" else ""
                found.update(prefix + a.name for a in node.names)
    return found


def test_every_public_name_is_exercised():
    referenced = _referenced_names()
    missing = [
        f"tf.{prefix}{name}"
        for prefix, module in MODULES.items()
        for name in _public_callables(module)
        if prefix + name not in referenced
    ]
    assert not missing, f"public names no test uses: {missing}"
