"""Every registered op against an independent NumPy oracle (values, dtypes, static shapes)."""

import numpy as np
import pytest
from op_cases import ALL, COVERED_ELSEWHERE, Case, input_dtype, make_input, missing_ops

import graphc as tf
from graphc.ops import REGISTRY, Fusion

TOL = {"float32": {"rtol": 2e-5, "atol": 1e-6}, "float64": {"rtol": 1e-11, "atol": 1e-12}}


def run_case(case: Case, seed: int = 0):
    rng = np.random.default_rng(seed)
    arrays = [make_input(k, s, input_dtype(k, case.dtype), rng) for k, s in case.inputs]
    g = tf.Graph()
    with g.as_default():
        feeds = [tf.placeholder(a.dtype, a.shape) for a in arrays]
        out = case.build(*feeds)
    with tf.Session(g, target="numpy") as sess:
        value = sess.run(out, dict(zip(feeds, arrays, strict=True)))
    return out, np.asarray(value), np.asarray(case.ref(*arrays))


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_op_matches_numpy(case):
    out, got, want = run_case(case)
    assert got.shape == want.shape
    assert all(s is None or s == d for s, d in zip(out.shape, got.shape, strict=True))
    assert got.dtype == out.dtype.np
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want.astype(got.dtype), **TOL[got.dtype.name])
    else:
        np.testing.assert_array_equal(got, want)


def test_every_op_has_a_case():
    assert missing_ops() == []
    assert set(COVERED_ELSEWHERE) <= set(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_op_has_all_facets(name):
    op = REGISTRY[name]
    assert callable(op.infer) and callable(op.numpy)
    assert isinstance(op.fusion, Fusion)
    assert op.type_name[0].isupper()
    if op.differentiable:
        assert op.partials is not None or op.vjp is not None
        assert op.partials is not None or op.jvp is not None or op.linear
    if op.fusion is Fusion.ELEMENTWISE:
        assert isinstance(op.expr, str)


def test_defop_rejects_missing_facets():
    from graphc.ops import defop

    with pytest.raises(ValueError, match="neither partials nor vjp"):
        defop("bad1", "Bad1", Fusion.OPAQUE, infer=lambda x: x, numpy=lambda x: x)
    with pytest.raises(ValueError, match="no jvp"):
        defop(
            "bad2",
            "Bad2",
            Fusion.OPAQUE,
            infer=lambda x: x,
            numpy=lambda x: x,
            vjp=lambda g, n: (g,),
        )
    with pytest.raises(ValueError, match="scalar expr"):
        defop(
            "bad3",
            "Bad3",
            Fusion.ELEMENTWISE,
            infer=lambda x: x,
            numpy=lambda x: x,
            differentiable=False,
        )
    with pytest.raises(ValueError, match="reduction role"):
        defop(
            "bad4",
            "Bad4",
            Fusion.REDUCTION,
            infer=lambda x: x,
            numpy=lambda x: x,
            differentiable=False,
        )
    with pytest.raises(ValueError, match="must be effectful"):
        defop(
            "bad5",
            "Bad5",
            Fusion.OPAQUE,
            infer=lambda x: x,
            numpy=lambda x: x,
            differentiable=False,
            random=True,
        )
    assert not {"bad1", "bad2", "bad3", "bad4", "bad5"} & set(REGISTRY)


# ---- the facts on OpDef, each checked against the op's own NumPy semantics ------------------
def _ops_with(flag: str) -> list[str]:
    return sorted(name for name, op in REGISTRY.items() if getattr(op, flag))


def _samples(dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    if dtype == np.bool_:
        return rng.integers(0, 2, (4, 5)).astype(bool)
    values = rng.normal(size=(4, 5)).round(0)  # ties included
    values[0, :2] = np.nan, np.inf
    return values.astype(dtype)


def test_the_flag_sets_are_the_ops_we_know():
    # a flag on the wrong op would silently change CSE, DCE, folding or fusion
    assert _ops_with("commutative") == [
        "add",
        "equal",
        "logical_and",
        "logical_or",
        "maximum",
        "minimum",
        "multiply",
        "not_equal",
    ]
    assert _ops_with("random") == [
        "random_standard_normal",
        "random_uniform",
        "random_uniform_int",
        "truncated_normal",
    ]
    effectful = ["assert", "assign", "check_labels", "print", *_ops_with("random")]
    assert _ops_with("effectful") == effectful
    assert _ops_with("reshape") == ["expand_dims", "reshape", "reshape_like", "squeeze"]
    sinks = [n for n, op in REGISTRY.items() if op.fusion is Fusion.REDUCTION]
    assert sorted(sinks) == [
        "reduce_all",
        "reduce_any",
        "reduce_max",
        "reduce_min",
        "reduce_prod",
        "reduce_sum",
        "sum_to_like",
    ]


@pytest.mark.parametrize("name", _ops_with("commutative"))
def test_commutative_ops_commute(name):
    op = REGISTRY[name]
    rng = np.random.default_rng(0)
    dtype = np.bool_ if name.startswith("logical") else np.float64
    x, y = _samples(dtype, rng), _samples(dtype, rng)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(op.numpy(x, y), op.numpy(y, x))


@pytest.mark.parametrize("name", _ops_with("shape_only"))
def test_shape_only_ops_ignore_the_values(name):
    op = REGISTRY[name]
    attrs = {
        "shape": {"out_type": tf.int32},
        "size": {"out_type": tf.int32},
        "reduced_size": {"axis": (1,), "dtype": tf.float32},
    }.get(name, {})
    rng = np.random.default_rng(1)
    a, b = _samples(np.float32, rng), _samples(np.float32, rng)
    np.testing.assert_array_equal(op.numpy(a, **attrs), op.numpy(b, **attrs))


@pytest.mark.parametrize("name", _ops_with("reshape"))
def test_reshape_ops_keep_the_elements_in_order(name):
    x = np.arange(12.0).reshape(3, 4)
    attrs, extra = {
        "reshape": ({"shape": (4, 3)}, ()),
        "reshape_like": ({}, (np.empty((2, 6)),)),
        "expand_dims": ({"axis": 1}, ()),
        "squeeze": ({"axis": (0,)}, ()),
    }[name]
    x = x[None] if name == "squeeze" else x
    out = REGISTRY[name].numpy(x, *extra, **attrs)
    np.testing.assert_array_equal(np.ravel(out), np.ravel(x))


@pytest.mark.parametrize("name", ["reduce_sum", "reduce_prod", "reduce_max", "reduce_min"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_a_reduction_fact_matches_its_numpy(name, dtype):
    op, rng = REGISTRY[name], np.random.default_rng(2)
    reduction = op.reduction
    empty = op.numpy(np.empty((0, 3), dtype), axis=(0,), keepdims=False)
    np.testing.assert_array_equal(empty, np.full(3, reduction.identity(np.dtype(dtype)), dtype))
    x = (rng.normal(size=(2, 7)) * 3).round().astype(dtype)
    folded = x[:, 0].astype(np.float64)
    for j in range(1, 7):  # the combine snippet, evaluated as Python
        folded = np.array(
            [
                eval(reduction.combine.format(acc="a", v="v"), {"a": a, "v": v})
                for a, v in zip(folded, x[:, j], strict=True)
            ]
        )
    np.testing.assert_allclose(op.numpy(x, axis=(1,), keepdims=False), folded, rtol=1e-6)


@pytest.mark.parametrize("name", ["reduce_any", "reduce_all"])
def test_a_truth_reduction_fact_matches_its_numpy(name):
    op, rng = REGISTRY[name], np.random.default_rng(3)
    reduction = op.reduction
    empty = op.numpy(np.empty((0, 3), bool), axis=(0,), keepdims=False)
    np.testing.assert_array_equal(empty, np.full(3, reduction.identity(np.dtype(bool))))
    x = rng.random((6, 3)) > 0.6
    x[0], x[1] = True, False  # a row of each, so any and all differ from the row sums
    folded = x[:, 0]
    for j in range(1, 3):  # the combine snippet, evaluated as Python
        folded = [
            eval(reduction.combine.format(acc="a", v="v"), {"a": a, "v": v})
            for a, v in zip(folded, x[:, j], strict=True)
        ]
    np.testing.assert_array_equal(op.numpy(x, axis=(1,), keepdims=False), folded)


@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_float32_sums_accumulate_in_float64_everywhere(target, tmp_path):
    # 2**24 + 1 + 1 + 1 + 1: in float32 each +1 rounds away (spacing 2 there); in float64 the
    # sum is 2**24 + 4, which float32 holds exactly. Fused and unfused, scalar and array
    # results, reduce_sum and sum_to_like (a broadcast's gradient) must all agree.
    x = np.array([[2.0**24, 1, 1, 1, 1]] * 2, np.float32)
    g = tf.Graph()
    with g.as_default():
        p = tf.placeholder(tf.float32, [None, 5])
        b = tf.Variable(np.zeros([1], np.float32))
        outs = {
            "total": tf.reduce_sum(p),
            "rows": tf.reduce_sum(p, axis=1),
            "kept": tf.reduce_sum(p, axis=1, keepdims=True),
            "fused total": tf.reduce_sum(p * 1.0 + 0.0),
            "fused rows": tf.reduce_sum(tf.abs(p), axis=1),
            "bias grad": tf.gradients(tf.reduce_sum((p + b) * tf.abs(p)), b)[0],
        }
        init = tf.global_variables_initializer()
    with tf.Session(g, target=target, cache_dir=tmp_path) as sess:
        sess.run(init)
        got = sess.run(outs, {p: x})
    exact = 2**24 + 4  # per row; the bias gradient sums every element of |x|
    assert got["total"] == got["fused total"] == np.float32(2 * exact)
    for key in ("rows", "fused rows"):
        np.testing.assert_array_equal(got[key], [exact] * 2, err_msg=key)
    np.testing.assert_array_equal(got["kept"], [[exact]] * 2)
    np.testing.assert_array_equal(got["bias grad"], [2 * exact])
