"""A TF1 `tf.layers` CNN on the bundled 8x8 digits, written as for TF1 but for the import.

conv2d + max_pooling2d twice, flatten, a dense layer with dropout while training, and a
dense read-out. The model is built by a function under a `variable_scope`, once for
training and once more, sharing its variables (`reuse=True`), for evaluation without
dropout: TF1's train/eval tower pattern.

Run with `python examples/layers_digits.py`.
"""

import numpy as np

import graphc as tf
from graphc.datasets import digits_split

EPOCHS, BATCH = 15, 32

x_train, y_train, x_test, y_test = digits_split(test_fraction=0.2, seed=0)
tf.set_random_seed(0)


def model(images, training, reuse=None):
    with tf.variable_scope("cnn", reuse=reuse):
        net = tf.reshape(images, [-1, 8, 8, 1])
        net = tf.layers.conv2d(net, 16, 3, padding="same", activation=tf.nn.relu, name="conv1")
        net = tf.layers.max_pooling2d(net, 2, 2, name="pool1")
        net = tf.layers.conv2d(net, 32, 3, padding="same", activation=tf.nn.relu, name="conv2")
        net = tf.layers.max_pooling2d(net, 2, 2, name="pool2")
        net = tf.layers.flatten(net)
        net = tf.layers.dense(net, 128, activation=tf.nn.relu, name="fc1")
        net = tf.layers.dropout(net, rate=0.5, training=training)
        return tf.layers.dense(net, 10, name="fc2")


images = tf.placeholder(tf.float32, [None, 64], name="images")
labels = tf.placeholder(tf.int64, [None], name="labels")
logits = model(images, training=True)
eval_logits = model(images, training=False, reuse=True)  # the same variables
loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
train_op = tf.train.AdamOptimizer(3e-3).minimize(loss)
correct = tf.equal(tf.argmax(eval_logits, 1), labels)
accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
print("variables:", ", ".join(v.op.name for v in tf.trainable_variables()))

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(0)
    for epoch in range(EPOCHS):
        order = rng.permutation(len(y_train))
        losses = []
        for i in range(0, len(order), BATCH):
            batch = order[i : i + BATCH]
            _, value = sess.run([train_op, loss], {images: x_train[batch], labels: y_train[batch]})
            losses.append(value)
        if epoch % 5 == 0 or epoch == EPOCHS - 1:
            print(f"epoch {epoch:2d}  loss {np.mean(losses):.4f}")
    test_accuracy = sess.run(accuracy, {images: x_test, labels: y_test})
    print(f"test accuracy {test_accuracy:.4f} on {len(y_test)} held-out digits")
