"""Nonlinear regression: a small tanh MLP fits a noisy curve, with MSE and Momentum.

The data is generated from a fixed seed (nothing is downloaded).
"""

import numpy as np

import graphc as tf

rng = np.random.default_rng(0)
inputs = rng.uniform(-3, 3, (512, 1)).astype(np.float32)
targets = (np.sin(inputs) + 0.3 * inputs + rng.normal(0, 0.1, inputs.shape)).astype(np.float32)

tf.set_random_seed(0)
x = tf.placeholder(tf.float32, [None, 1], name="x")
y = tf.placeholder(tf.float32, [None, 1], name="y")
w1 = tf.Variable(tf.random_normal([1, 32], stddev=1.0), name="w1")
b1 = tf.Variable(tf.zeros([32]), name="b1")
w2 = tf.Variable(tf.random_normal([32, 1], stddev=0.1), name="w2")
b2 = tf.Variable(tf.zeros([1]), name="b2")
prediction = tf.matmul(tf.tanh(tf.matmul(x, w1) + b1), w2) + b2
loss = tf.losses.mean_squared_error(y, prediction)
train = tf.train.MomentumOptimizer(0.05, momentum=0.9).minimize(loss)

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    step = sess.make_callable([train, loss], [x, y])
    for epoch in range(300):
        _, value = step(inputs, targets)
        if epoch % 50 == 0 or epoch == 299:
            print(f"epoch {epoch:3d}  mse {value:.4f}")
    grid = np.linspace(-3, 3, 7, dtype=np.float32)[:, None]
    fitted = sess.run(prediction, {x: grid})
    for g, f in zip(grid[:, 0], fitted[:, 0], strict=True):
        print(f"x={g:+.1f}  fit {f:+.3f}  truth {np.sin(g) + 0.3 * g:+.3f}")
