"""Train the digits MLP with the step examples/export_digits.py exported: no graphc.

Run with `python examples/train_exported.py FOLDER` (FOLDER holds `digits_step/` and
`digits.npz`). Only numpy and numba are imported; the exported package loads its
compiled code from its own cache on the CPU that exported it.
"""

import sys
import time

import numpy as np

EPOCHS, BATCH = 30, 64
folder = sys.argv[1]
sys.path.insert(0, folder)

started = time.perf_counter()
import digits_step  # noqa: E402  (found through the folder just put on the path)

step = digits_step.load()
step(np.zeros((1, 64), np.float32), np.zeros(1, np.int64))  # loads the compiled code
step = digits_step.load()  # start again from the exported values
print(f"loaded the exported step in {time.perf_counter() - started:.2f} s")
print(f"graphc imported: {'graphc' in sys.modules and sys.modules['graphc'] is not None}")

data = np.load(f"{folder}/digits.npz")
x_train, y_train, x_test, y_test = (data[k] for k in ("x_train", "y_train", "x_test", "y_test"))
rng = np.random.default_rng(0)
started = time.perf_counter()
for epoch in range(EPOCHS):
    order = rng.permutation(len(y_train))
    losses = [
        step(x_train[order[i : i + BATCH]], y_train[order[i : i + BATCH]])[0]
        for i in range(0, len(order), BATCH)
    ]
    if epoch % 10 == 0 or epoch == EPOCHS - 1:
        print(f"epoch {epoch:2d}  loss {np.mean(losses):.4f}")
print(f"trained {EPOCHS} epochs in {time.perf_counter() - started:.2f} s")

v = step.variables  # the trained values, by variable name: the forward pass in NumPy
hidden = np.maximum(x_test @ v["hidden/weights"] + v["hidden/biases"], 0)
logits = hidden @ v["softmax_linear/weights"] + v["softmax_linear/biases"]
print(f"test accuracy {np.mean(logits.argmax(1) == y_test):.4f} on {len(y_test)} held-out digits")
