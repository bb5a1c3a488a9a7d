"""Training on the reference target: TF1 tutorial models, and optimizer formulas by hand."""

import numpy as np
import pytest

import graphc as tf
from graphc.datasets import digits_split


@pytest.fixture(scope="module")
def digits():
    return digits_split()


def test_softmax_regression_tutorial(digits):
    x_train, y_train, x_test, y_test = digits
    x = tf.placeholder(tf.float32, [None, 64])
    y_ = tf.placeholder(tf.float32, [None, 10])
    W = tf.Variable(tf.zeros([64, 10]))
    b = tf.Variable(tf.zeros([10]))
    y = tf.matmul(x, W) + b
    cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y))
    train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
    correct = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    onehot = np.eye(10, dtype=np.float32)
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        losses = []
        for step in range(60):
            batch = slice((step * 100) % 1400, (step * 100) % 1400 + 100)
            _, loss = sess.run(
                [train_step, cross_entropy], {x: x_train[batch], y_: onehot[y_train[batch]]}
            )
            losses.append(loss)
        acc = sess.run(accuracy, {x: x_test, y_: onehot[y_test]})
    assert losses[0] == pytest.approx(np.log(10), rel=1e-5)  # zero weights: uniform softmax
    assert np.mean(losses[-10:]) < 0.5 * losses[0]
    assert acc > 0.85


def test_two_layer_mlp_loss_falls(digits):
    x_train, y_train, _, _ = digits
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 64])
    labels = tf.placeholder(tf.int64, [None])
    w1 = tf.Variable(tf.truncated_normal([64, 32], stddev=0.1))
    b1 = tf.Variable(tf.zeros([32]))
    w2 = tf.Variable(tf.truncated_normal([32, 10], stddev=0.1))
    b2 = tf.Variable(tf.zeros([10]))
    logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2) + b2
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        feed = {x: x_train[:256], labels: y_train[:256]}
        history = [sess.run([train, loss], feed)[1] for _ in range(40)]
    assert history[-1] < 0.5 * history[0]


def _numpy_updates(name, w, grad_fn, steps, lr=0.1):
    """Hand-written NumPy versions of TF1's update rules: w after each step."""
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    out = []
    for t in range(1, steps + 1):
        g = grad_fn(w)
        if name == "sgd":
            w = w - lr * g
        elif name == "momentum":
            m = 0.9 * m + g
            w = w - lr * m
        elif name == "nesterov":
            m = 0.9 * m + g
            w = w - lr * (g + 0.9 * m)
        elif name == "adam":
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            lr_t = lr * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
            w = w - lr_t * m / (np.sqrt(v) + 1e-8)
        elif name == "rmsprop":
            v = (np.ones_like(w) if t == 1 else v) * 0.9 + 0.1 * g * g
            m = 0.0 * m + lr * g / np.sqrt(v + 1e-10)
            w = w - m
        elif name == "adagrad":
            v = (np.full_like(w, 0.1) if t == 1 else v) + g * g
            w = w - lr * g / np.sqrt(v)
        out.append(w)
    return out


OPTIMIZERS = {
    "sgd": lambda: tf.train.GradientDescentOptimizer(0.1),
    "momentum": lambda: tf.train.MomentumOptimizer(0.1, 0.9),
    "nesterov": lambda: tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
    "adam": lambda: tf.train.AdamOptimizer(0.1),
    "rmsprop": lambda: tf.train.RMSPropOptimizer(0.1),
    "adagrad": lambda: tf.train.AdagradOptimizer(0.1),
}


@pytest.mark.parametrize("target", ["numpy", "cpu"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_matches_handwritten_numpy(name, target):
    # loss = sum(c * w**2) so grad = 2 c w: the NumPy side recomputes it from its own w.
    c = np.array([0.5, 1.0, 2.0])
    w0 = np.array([1.0, -2.0, 3.0])
    w = tf.Variable(w0)
    loss = tf.reduce_sum(tf.constant(c) * tf.square(w))
    global_step = tf.train.get_or_create_global_step()
    train = OPTIMIZERS[name]().minimize(loss, global_step=global_step)
    got = []
    with tf.Session(target=target) as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(5):
            sess.run(train)
            got.append(sess.run(w))
        assert sess.run(global_step) == 5
    expected = _numpy_updates(name, w0, lambda w: 2 * c * w, steps=5)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_compute_and_apply_gradients_with_none():
    a = tf.Variable(1.0)
    b = tf.Variable(1.0)
    opt = tf.train.GradientDescentOptimizer(1.0)
    pairs = opt.compute_gradients(tf.square(a), var_list=[a, b])
    assert pairs[1][0] is None and pairs[1][1] is b
    train = opt.apply_gradients(pairs)
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        assert sess.run([a, b]) == [-1.0, 1.0]
    with pytest.raises(ValueError, match="no gradients"):
        opt.apply_gradients([(None, a)])


@pytest.mark.parametrize(
    "make,name,slots",
    [
        (lambda **kw: tf.train.AdamOptimizer(0.1, **kw), "Adam", ["w/{}", "w/{}_1"]),
        (lambda **kw: tf.train.MomentumOptimizer(0.1, 0.9, **kw), "Momentum", ["w/{}"]),
        (
            lambda **kw: tf.train.RMSPropOptimizer(0.1, momentum=0.5, **kw),
            "RMSProp",
            ["w/{}", "w/{}_1"],
        ),
        (lambda **kw: tf.train.AdagradOptimizer(0.1, **kw), "Adagrad", ["w/{}"]),
        (lambda **kw: tf.train.GradientDescentOptimizer(0.1, **kw), "GradientDescent", []),
    ],
    ids=["adam", "momentum", "rmsprop", "adagrad", "sgd"],
)
@pytest.mark.parametrize("custom", [False, True], ids=["default-name", "custom-name"])
def test_optimizer_variables_have_tf1_names_dtypes_and_are_not_trainable(make, name, slots, custom):
    # checkpoints written by TF1 code name slots "<var>/<optimizer name>[_k]" and Adam's
    # step powers "beta1_power"/"beta2_power"; all of them float32 here and not trainable
    w = tf.Variable(np.ones(2, np.float32), name="w")
    loss = tf.reduce_sum(w * w)
    opt = make(name="Mine") if custom else make()
    train = opt.minimize(loss)
    label = "Mine" if custom else name
    expected = ["w:0"] + (["beta1_power:0", "beta2_power:0"] if name == "Adam" else [])
    expected += [s.format(label) + ":0" for s in slots]
    assert sorted(v.name for v in tf.global_variables()) == sorted(expected)
    assert tf.trainable_variables() == [w]
    assert all(v.dtype == tf.float32 for v in tf.global_variables())
    assert train.name.split("/")[0] == label
    (g,) = tf.gradients(loss, [w])
    assert g.name.startswith("gradients") and "/" in g.name


def test_global_step_is_named_as_in_tf1_and_made_once():
    step = tf.train.get_or_create_global_step()
    assert step.name == "global_step:0" and step.dtype == tf.int64
    assert tf.train.get_or_create_global_step() is step
    other = tf.Graph()
    with other.as_default():
        assert tf.train.get_or_create_global_step() is not step
    assert tf.train.get_or_create_global_step(other) is not step
    assert tf.train.get_global_step(other) is tf.train.get_or_create_global_step(other)


def test_adam_default_learning_rate_is_tf1s():
    # first step of Adam moves each weight by lr * m_hat / (sqrt(v_hat) + eps) = lr / (1 + eps)
    w = tf.Variable(np.zeros(2), name="w")
    train = tf.train.AdamOptimizer().minimize(tf.reduce_sum(w * np.array([1.0, -3.0])))
    with tf.Session(target="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        np.testing.assert_allclose(sess.run(w), [-0.001, 0.001], rtol=1e-6)
