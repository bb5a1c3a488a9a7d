"""BENCH.md workloads implemented identically in graphc, NumPy by hand, and the optional
peers JAX, TensorFlow 1 graph mode (`tf1`) and PyTorch eager (`torch`).

Each builder returns `step()`: one training step on fixed data, returning the
loss computed before that step's update (W3's builders return its result).
Initial values come from one seed.
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np

W1 = {"sizes": (784, 256, 256, 10), "batch": 128, "lr": 1e-3}
W2 = {"sizes": (16, 32, 1), "batch": 8, "lr": 0.01}
W3 = {"n": 10_000_000}
W4 = {"batch": 64, "lr": 1e-4}  # TF1's mnist_deep: conv 5x5x32, pool, conv 5x5x64, pool, fc 1024


def init_w4(seed: int = 0) -> list[np.ndarray]:
    """mnist_deep's weights (stddev 0.1 truncated-normal like) and biases (0.1)."""
    rng = np.random.default_rng(seed)
    shapes = [(5, 5, 1, 32), (5, 5, 32, 64), (7 * 7 * 64, 1024), (1024, 10)]
    params = []
    for shape in shapes:
        params.append(np.clip(rng.normal(0, 0.1, shape), -0.2, 0.2).astype(np.float32))
        params.append(np.full(shape[-1], 0.1, np.float32))
    return params


def data_w4(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((W4["batch"], 28, 28, 1), dtype=np.float32)
    return x, rng.integers(0, 10, W4["batch"]).astype(np.int64)


def init(sizes: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        params.append((rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32))
        params.append(np.zeros(fan_out, np.float32))
    return params


def data_w1(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((W1["batch"], 784), dtype=np.float32)
    return x, rng.integers(0, 10, W1["batch"]).astype(np.int64)


def data_w2(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((W2["batch"], 16)).astype(np.float32)
    return x, rng.standard_normal((W2["batch"], 1)).astype(np.float32)


def data_w3(seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal(W3["n"], dtype=np.float32),
        rng.standard_normal(W3["n"], dtype=np.float32),
    )


# ---- graphc and TF1 graph mode: one program builds each graph in either module ------------
def _w1_graph(tf):
    """W1 in `tf` (graphc, or TensorFlow's compat.v1): (graph, train op, loss, x, y)."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 784], name="x")
        y = tf.placeholder(tf.int64, [None], name="y")
        params = [tf.Variable(p) for p in init(W1["sizes"])]
        h = x
        for i in range(0, len(params), 2):
            h = tf.matmul(h, params[i]) + params[i + 1]
            if i + 2 < len(params):
                h = tf.nn.relu(h)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
        train = tf.train.AdamOptimizer(W1["lr"]).minimize(loss)
    return g, train, loss, x, y


def _w2_graph(tf):
    """W2 in `tf`: (graph, train op, loss, x, y)."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 16], name="x")
        y = tf.placeholder(tf.float32, [None, 1], name="y")
        w1, b1, w2, b2 = (tf.Variable(p) for p in init(W2["sizes"]))
        pred = tf.matmul(tf.tanh(tf.matmul(x, w1) + b1), w2) + b2
        loss = tf.losses.mean_squared_error(y, pred)
        train = tf.train.GradientDescentOptimizer(W2["lr"]).minimize(loss)
    return g, train, loss, x, y


def _w4_graph(tf):
    """W4 (TF1's mnist_deep) in `tf`: (graph, train op, loss, x, y)."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 28, 28, 1], name="x")
        y = tf.placeholder(tf.int64, [None], name="y")
        wc1, bc1, wc2, bc2, wf1, bf1, wf2, bf2 = (tf.Variable(p) for p in init_w4())

        def block(h, w, b):
            h = tf.nn.relu(tf.nn.conv2d(h, w, [1, 1, 1, 1], "SAME") + b)
            return tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")

        h = block(block(x, wc1, bc1), wc2, bc2)
        h = tf.nn.relu(tf.matmul(tf.reshape(h, [-1, 7 * 7 * 64]), wf1) + bf1)
        logits = tf.matmul(h, wf2) + bf2
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        )
        train = tf.train.AdamOptimizer(W4["lr"]).minimize(loss)
    return g, train, loss, x, y


def _train_step(tf, built, data, **session_options):
    """A step running `built`'s train op in a `tf.Session` with the variables initialized,
    giving the loss computed before the update."""
    g, train, loss, x, y = built
    with g.as_default():
        init_op = tf.global_variables_initializer()
    sess = tf.Session(graph=g, **session_options)
    sess.run(init_op)
    fn = sess.make_callable([train, loss], [x, y])
    return lambda: float(fn(*data)[1])


def _w3_fn(tf, gradient: bool, **session_options):
    """z = tanh(x*y + sin(x)) * exp(-x*x) + 0.5*y, or the gradients of sum(z), run in `tf`."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None], name="x")
        y = tf.placeholder(tf.float32, [None], name="y")
        z = tf.tanh(x * y + tf.sin(x)) * tf.exp(-x * x) + 0.5 * y
        fetch = tf.gradients(tf.reduce_sum(z), [x, y]) if gradient else z
    fn = tf.Session(graph=g, **session_options).make_callable(fetch, [x, y])
    xv, yv = data_w3()
    return lambda: fn(xv, yv)


def graphc_w1(cache_dir: str | None = None, passes=None, **options):
    import graphc as tf

    built = _w1_graph(tf)
    return _train_step(tf, built, data_w1(), cache_dir=cache_dir, passes=passes, **options)


def graphc_w2(cache_dir: str | None = None, passes=None, **options):
    import graphc as tf

    built = _w2_graph(tf)
    return _train_step(tf, built, data_w2(), cache_dir=cache_dir, passes=passes, **options)


def graphc_w3(cache_dir: str | None = None, passes=None, gradient: bool = False, **options):
    import graphc as tf

    return _w3_fn(tf, gradient, cache_dir=cache_dir, passes=passes, **options)


def graphc_w4(cache_dir: str | None = None, passes=None, **options):
    import graphc as tf

    built = _w4_graph(tf)
    return _train_step(tf, built, data_w4(), cache_dir=cache_dir, passes=passes, **options)


def _tf1():
    """TensorFlow's compat.v1 API in graph mode (eager execution off, C++ logs quiet)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    return tf.compat.v1


def tf1_w1():
    """W1 as a TF1 user writes it: graphc's program, run by TensorFlow's own Session."""
    tf1 = _tf1()
    return _train_step(tf1, _w1_graph(tf1), data_w1())


def tf1_w2():
    """W2 in a TensorFlow Session (TF1's GradientDescentOptimizer)."""
    tf1 = _tf1()
    return _train_step(tf1, _w2_graph(tf1), data_w2())


def tf1_w3(gradient: bool = False):
    """W3's z, or the gradients of sum(z), in a TensorFlow Session."""
    return _w3_fn(_tf1(), gradient)


def tf1_w4():
    """W4 (NHWC conv2d and max_pool, AdamOptimizer) in a TensorFlow Session."""
    tf1 = _tf1()
    return _train_step(tf1, _w4_graph(tf1), data_w4())


# ---- NumPy by hand --------------------------------------------------------------------------
def numpy_w1():
    params = init(W1["sizes"])
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    xv, yv = data_w1()
    onehot = np.eye(10, dtype=np.float32)[yv]
    state = {"t": 0}

    def step():
        w1, b1, w2, b2, w3, b3 = params
        a1 = xv @ w1 + b1
        h1 = np.maximum(a1, 0)
        a2 = h1 @ w2 + b2
        h2 = np.maximum(a2, 0)
        z = h2 @ w3 + b3
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(1, keepdims=True)
        loss = float(-np.mean(np.log(p[np.arange(len(yv)), yv])))
        dz = (p - onehot) / len(yv)
        dh2 = dz @ w3.T * (a2 > 0)
        dh1 = dh2 @ w2.T * (a1 > 0)
        grads = [xv.T @ dh1, dh1.sum(0), h1.T @ dh2, dh2.sum(0), h2.T @ dz, dz.sum(0)]
        state["t"] += 1
        t = state["t"]
        lr_t = W1["lr"] * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            params[i] -= (lr_t * m[i] / (np.sqrt(v[i]) + 1e-8)).astype(np.float32)
        return loss

    return step


def numpy_w2():
    params = init(W2["sizes"])
    xv, yv = data_w2()
    lr = np.float32(W2["lr"])

    def step():
        w1, b1, w2, b2 = params
        h = np.tanh(xv @ w1 + b1)
        pred = h @ w2 + b2
        diff = pred - yv
        loss = float(np.mean(diff * diff))
        d = 2 * diff / diff.size
        dh = (d @ w2.T) * (1 - h * h)
        grads = (xv.T @ dh, dh.sum(0), h.T @ d, d.sum(0))
        for p, g in zip(params, grads, strict=True):
            p -= lr * g
        return loss

    return step


def numpy_w3(gradient: bool = False):
    xv, yv = data_w3()

    def forward():
        return np.tanh(xv * yv + np.sin(xv)) * np.exp(-xv * xv) + np.float32(0.5) * yv

    def backward():
        t = np.tanh(xv * yv + np.sin(xv))
        e = np.exp(-xv * xv)
        dt = (1 - t * t) * e
        return [dt * (yv + np.cos(xv)) - 2 * xv * t * e, dt * xv + np.float32(0.5)]

    return backward if gradient else forward


# ---- JAX ---------------------------------------------------------------------------------------
def _jax_adam_step(loss_fn, params, lr: float, xv, yv):
    """A step of Adam (TF1's formulas, jitted) on `loss_fn(params, x, y)`, giving the loss."""
    import jax
    import jax.numpy as jnp

    @jax.jit
    def train(ps, m, v, t, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(ps, x, y)
        t = t + 1
        lr_t = lr * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        m = [0.9 * a + 0.1 * g for a, g in zip(m, grads, strict=True)]
        v = [0.999 * a + 0.001 * g * g for a, g in zip(v, grads, strict=True)]
        ps = [p - lr_t * a / (jnp.sqrt(b) + 1e-8) for p, a, b in zip(ps, m, v, strict=True)]
        return ps, m, v, t, loss

    state = [params, [jnp.zeros_like(p) for p in params], [jnp.zeros_like(p) for p in params], 0.0]

    def step():
        *new, loss = train(*state, xv, yv)
        state[:] = new
        return float(loss)

    return step


def jax_w1():
    import jax
    import jax.numpy as jnp

    params = [jnp.asarray(p) for p in init(W1["sizes"])]
    xv, yv = (jnp.asarray(a) for a in data_w1())

    def loss_fn(ps, x, y):
        h = x
        for i in range(0, len(ps), 2):
            h = h @ ps[i] + ps[i + 1]
            if i + 2 < len(ps):
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(logp[jnp.arange(y.shape[0]), y])

    return _jax_adam_step(loss_fn, params, W1["lr"], xv, yv)


def jax_w2():
    import jax
    import jax.numpy as jnp

    params = [jnp.asarray(p) for p in init(W2["sizes"])]
    xv, yv = (jnp.asarray(a) for a in data_w2())

    def loss_fn(ps, x, y):
        w1, b1, w2, b2 = ps
        pred = jnp.tanh(x @ w1 + b1) @ w2 + b2
        return jnp.mean((y - pred) ** 2)

    @jax.jit
    def train(ps, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(ps, x, y)
        return [p - W2["lr"] * g for p, g in zip(ps, grads, strict=True)], loss

    state = [params]

    def step():
        state[0], loss = train(state[0], xv, yv)
        return float(loss)

    return step


def jax_w4():
    import jax
    import jax.numpy as jnp

    params = [jnp.asarray(p) for p in init_w4()]
    xv, yv = (jnp.asarray(a) for a in data_w4())

    def block(h, w, b):
        h = jax.lax.conv_general_dilated(
            h, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        h = jax.nn.relu(h + b)
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")

    def loss_fn(ps, x, y):
        wc1, bc1, wc2, bc2, wf1, bf1, wf2, bf2 = ps
        h = block(block(x, wc1, bc1), wc2, bc2).reshape(x.shape[0], -1)
        logits = jax.nn.relu(h @ wf1 + bf1) @ wf2 + bf2
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(logp[jnp.arange(y.shape[0]), y])

    return _jax_adam_step(loss_fn, params, W4["lr"], xv, yv)


def jax_w3(gradient: bool = False):
    import jax
    import jax.numpy as jnp

    xv, yv = (jnp.asarray(a) for a in data_w3())

    def f(x, y):
        return jnp.tanh(x * y + jnp.sin(x)) * jnp.exp(-x * x) + 0.5 * y

    fn = jax.jit(jax.grad(lambda x, y: jnp.sum(f(x, y)), argnums=(0, 1)) if gradient else f)
    return lambda: jax.block_until_ready(fn(xv, yv))


# ---- PyTorch eager ------------------------------------------------------------------------------
def _torch_adam_step(loss_fn, params, lr: float, xv, yv, device: str = "cpu"):
    """A step of `torch.optim.Adam` on `loss_fn(params, x, y)`, giving the loss.

    PyTorch adds eps to sqrt(v / (1 - 0.999**t)), TF1 to sqrt(v) (the bias corrections folded
    into the rate); eps / sqrt(1 - 0.999**t) at step t makes PyTorch's update TF1's.
    """
    import torch

    ps = [torch.tensor(np.ascontiguousarray(p), device=device, requires_grad=True) for p in params]
    xv, yv = xv.to(device), yv.to(device)
    opt = torch.optim.Adam(ps, lr, betas=(0.9, 0.999))
    steps = itertools.count(1)

    def step():
        opt.zero_grad()
        loss = loss_fn(ps, xv, yv)
        loss.backward()
        opt.param_groups[0]["eps"] = 1e-8 / math.sqrt(1 - 0.999 ** next(steps))
        opt.step()
        return loss.item()

    return step


def _torch_dense(h, ps):
    """h @ w + b through the layers (w, b) of `ps`, ReLU between them (addmm, as nn.Linear)."""
    import torch

    for i in range(0, len(ps), 2):
        h = torch.addmm(ps[i + 1], h, ps[i])
        if i + 2 < len(ps):
            h = torch.relu(h)
    return h


def torch_w1(device: str = "cpu"):
    """W1: the MLP (addmm layers), mean cross-entropy, TF1's Adam."""
    import torch
    import torch.nn.functional as F

    xv, yv = (torch.from_numpy(a) for a in data_w1())

    def loss_fn(ps, x, y):
        return F.cross_entropy(_torch_dense(x, ps), y)

    return _torch_adam_step(loss_fn, init(W1["sizes"]), W1["lr"], xv, yv, device)


def torch_w2():
    """W2 with `torch.optim.SGD` (p -= lr * grad, as TF1's GradientDescentOptimizer)."""
    import torch
    import torch.nn.functional as F

    w1, b1, w2, b2 = ps = [torch.tensor(p, requires_grad=True) for p in init(W2["sizes"])]
    xv, yv = (torch.from_numpy(a) for a in data_w2())
    opt = torch.optim.SGD(ps, W2["lr"])

    def step():
        opt.zero_grad()
        loss = F.mse_loss(torch.addmm(b2, torch.tanh(torch.addmm(b1, xv, w1)), w2), yv)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def torch_w3(gradient: bool = False, device: str = "cpu"):
    """W3's z, or (with autograd) the gradients of sum(z). On a GPU the inputs are copied
    in and the results out each step, as graphc's feeds and fetches are."""
    import torch

    data = [torch.from_numpy(a) for a in data_w3()]

    def f(x, y):
        return torch.tanh(x * y + torch.sin(x)) * torch.exp(-x * x) + 0.5 * y

    def step():
        xv, yv = (a.to(device).requires_grad_(gradient) for a in data)
        if gradient:
            return [g.cpu() for g in torch.autograd.grad(f(xv, yv).sum(), [xv, yv])]
        return f(xv, yv).cpu()

    return step


def torch_w4(device: str = "cpu"):
    """W4 in NCHW: data and HWIO filters are transposed once here (to NCHW and OIHW), and the
    first dense layer's rows reordered from NHWC's (h, w, c) flattening to NCHW's (c, h, w)."""
    import torch
    import torch.nn.functional as F

    wc1, bc1, wc2, bc2, wf1, bf1, wf2, bf2 = init_w4()
    wf1 = wf1.reshape(7, 7, 64, 1024).transpose(2, 0, 1, 3).reshape(7 * 7 * 64, 1024)
    params = [wc1.transpose(3, 2, 0, 1), bc1, wc2.transpose(3, 2, 0, 1), bc2, wf1, bf1, wf2, bf2]
    x, y = data_w4()
    xv, yv = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y)

    def block(h, w, b):
        return F.max_pool2d(torch.relu(F.conv2d(h, w, b, padding=2)), 2, 2)

    def loss_fn(ps, x, y):
        h = block(block(x, ps[0], ps[1]), ps[2], ps[3]).flatten(1)
        return F.cross_entropy(_torch_dense(h, ps[4:]), y)

    return _torch_adam_step(loss_fn, params, W4["lr"], xv, yv, device)


SYSTEMS = {
    "graphc": {
        "W1": graphc_w1,
        "W2": graphc_w2,
        "W3": graphc_w3,
        "W3-grad": lambda cache_dir=None, passes=None: graphc_w3(cache_dir, passes, True),
        "W4": graphc_w4,
    },
    "numpy": {"W1": numpy_w1, "W2": numpy_w2, "W3": numpy_w3, "W3-grad": lambda: numpy_w3(True)},
    "jax": {
        "W1": jax_w1,
        "W2": jax_w2,
        "W3": jax_w3,
        "W3-grad": lambda: jax_w3(True),
        "W4": jax_w4,
    },
    "tf1": {
        "W1": tf1_w1,
        "W2": tf1_w2,
        "W3": tf1_w3,
        "W3-grad": lambda: tf1_w3(True),
        "W4": tf1_w4,
    },
    "torch": {
        "W1": torch_w1,
        "W2": torch_w2,
        "W3": torch_w3,
        "W3-grad": lambda: torch_w3(True),
        "W4": torch_w4,
    },
}
