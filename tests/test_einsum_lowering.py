"""Two-operand einsums that are one matrix product compile to BLAS (`np.dot` on reshaped
views), every other form to loops; both agree with `np.einsum`."""

import numpy as np
import pytest

import graphc as tf
from graphc.ops.linalg import matrix_product

SIZES = {"i": 3, "j": 4, "k": 5, "n": 2, "h": 3, "w": 2, "c": 3, "o": 4, "b": 2}

# (equation, lowered to np.dot): the conv forms are conv2d and both of its gradients
FORMS = [
    ("ij,jk->ik", True),
    ("ij,kj->ik", True),
    ("ji,jk->ik", True),
    ("ji,kj->ik", True),
    ("ij,jk->ki", True),
    ("i,j->ij", True),
    ("ij,j->i", True),
    ("j,jk->k", True),
    ("nhwijc,ijco->nhwo", True),
    ("nhwo,ijco->nhwijc", True),
    ("nhwo,nhwijc->ijco", True),
    ("bij,bjk->bik", False),  # a batch letter
    ("ij,jk->", False),  # a scalar result
    ("ij,k->ik", False),  # j summed in one operand alone
    ("ijk,jk->i", True),
    ("ijk,kj->i", False),  # the summed letters in another order
    ("ijk,jk->ik", False),  # k is a batch letter
]


def _shape(spec):
    return tuple(SIZES[c] for c in spec)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    g = tf.Graph()
    rng = np.random.default_rng(0)
    with g.as_default():
        fetches, feeds, values = [], [], []
        for eq, _ in FORMS:
            a_spec, b_spec = eq.split("->")[0].split(",")
            a = tf.placeholder(tf.float64, _shape(a_spec))
            b = tf.placeholder(tf.float64, _shape(b_spec))
            fetches.append(tf.einsum(eq, a, b))
            feeds += [a, b]
            values += [rng.normal(size=_shape(a_spec)), rng.normal(size=_shape(b_spec))]
    with tf.Session(g, cache_dir=tmp_path_factory.mktemp("einsum"), passes=[]) as sess:
        step = sess.make_callable(fetches, feeds)
        results = step(*values)
    return step.source, results, values


@pytest.mark.parametrize("k", range(len(FORMS)), ids=[eq for eq, _ in FORMS])
def test_every_form_agrees_with_numpy(compiled, k):
    _, results, values = compiled
    eq, lowered = FORMS[k]
    want = np.einsum(eq, values[2 * k], values[2 * k + 1])
    np.testing.assert_allclose(results[k], want, rtol=1e-12, atol=1e-12)
    lhs, out = eq.split("->")
    assert (matrix_product(lhs.split(","), out) is not None) == lowered


def test_the_lowered_forms_are_np_dot_calls(compiled):
    source = compiled[0]
    lowered = sum(1 for _, yes in FORMS if yes)
    assert source.count("np.dot(") == lowered
    # the conv forms reshape in place: no transposed copy of an operand
    assert "ascontiguousarray" not in source


def test_a_conv_step_uses_blas_and_matches_the_reference(tmp_path):
    x = tf.placeholder(tf.float32, [None, 6, 6, 2])
    w = tf.Variable(np.random.default_rng(1).normal(size=(3, 3, 2, 4)).astype(np.float32))
    y = tf.nn.relu(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"))
    loss = tf.reduce_sum(y * y)
    gx, gw = tf.gradients(loss, [x, w])
    xv = np.random.default_rng(2).normal(size=(2, 6, 6, 2)).astype(np.float32)
    out = {}
    for target in ("numpy", "cpu"):
        with tf.Session(target=target, cache_dir=tmp_path) as sess:
            sess.run(tf.global_variables_initializer())
            f = sess.make_callable([loss, gx, gw], [x])
            out[target] = f(xv)
            if target == "cpu":
                # forward and input gradient by np.dot, the filter gradient's sums by gemm
                assert f.source.count("np.dot(") >= 2
                assert "gemm32(" in f.source
    for got, want in zip(out["cpu"], out["numpy"], strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-3)
