"""Every registered op against an independent NumPy oracle (values, dtypes, static shapes)."""

import numpy as np
import pytest
from op_cases import ALL, COVERED_ELSEWHERE, Case, input_dtype, make_input, missing_ops

import graphc as tf
from graphc.ops import REGISTRY, Kind

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
    assert isinstance(op.kind, Kind)
    assert op.type_name[0].isupper()
    if op.differentiable:
        assert op.partials is not None or op.vjp is not None
        assert op.partials is not None or op.jvp is not None or op.linear
    if op.kind is Kind.ELEMWISE:
        assert isinstance(op.expr, str)


def test_defop_rejects_missing_facets():
    from graphc.ops import defop

    with pytest.raises(ValueError, match="neither partials nor vjp"):
        defop("bad1", "Bad1", Kind.OPAQUE, infer=lambda x: x, numpy=lambda x: x)
    with pytest.raises(ValueError, match="no jvp"):
        defop(
            "bad2", "Bad2", Kind.OPAQUE, infer=lambda x: x, numpy=lambda x: x, vjp=lambda g, n: (g,)
        )
    with pytest.raises(ValueError, match="scalar expr"):
        defop(
            "bad3",
            "Bad3",
            Kind.ELEMWISE,
            infer=lambda x: x,
            numpy=lambda x: x,
            differentiable=False,
        )
    assert not {"bad1", "bad2", "bad3"} & set(REGISTRY)
