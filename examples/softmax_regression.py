"""TF1's classic "MNIST for beginners" softmax regression, on the bundled 8x8 digits.

Written exactly as the TF1 tutorial, with `import graphc as tf`.
"""

import numpy as np

import graphc as tf
from graphc.datasets import digits_split

x_train, y_train, x_test, y_test = digits_split()
onehot = np.eye(10, dtype=np.float32)

x = tf.placeholder(tf.float32, [None, 64])
W = tf.Variable(tf.zeros([64, 10]))
b = tf.Variable(tf.zeros([10]))
y = tf.matmul(x, W) + b
y_ = tf.placeholder(tf.float32, [None, 10])

cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y))
train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)

sess = tf.InteractiveSession()
tf.global_variables_initializer().run()
for i in range(1000):
    batch = np.random.default_rng(i).choice(len(y_train), 100, replace=False)
    _, loss = sess.run([train_step, cross_entropy], {x: x_train[batch], y_: onehot[y_train[batch]]})
    if i % 200 == 0:
        print(f"step {i:4d}  cross-entropy {loss:.4f}")

correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
print("test accuracy", sess.run(accuracy, feed_dict={x: x_test, y_: onehot[y_test]}))
sess.close()
