"""Optimizer options checked by value against TF1's update formulas written by hand in NumPy.

One float64 graph holds one variable per optimizer configuration (Adam with non-default
betas and a large epsilon, RMSProp centered / with momentum / both, Momentum with Nesterov,
Adagrad with a non-default initial accumulator, learning rates given as Python floats,
`tf.constant`s and a placeholder fed a different value every step), plus `var_list`,
`global_step` and `compute_gradients` + `apply_gradients` with a doubled gradient. Each loss
is `sum(c * w**2 + x * w)` with `x` fed per step, so the gradient `2 c w + x` changes every
step. Compiled, one graph holds every configuration (two compiles: the training run, the
state read); on the NumPy reference target each test builds only its own configuration.
The graph runs for several steps; after every step the variables, slots
(`get_slot`), fetched losses and gradients are compared with the hand-computed
trajectories, float64 at rtol 1e-10, so changing any constant of a formula (epsilon, beta1
vs beta2, the step count, a sqrt) fails. float32 configurations ride in the same graph at
float32 tolerance; float16 has its own small graph (by value on the reference target; the
cpu target must refuse it with DTypeError).
Variables, views of them and slots fetched in the training run must hold their values from
before the run (SPEC §4).
"""

import numpy as np
import pytest

import graphc as tf

STEPS = 4
C = np.array([0.5, 1.0, 2.0, 1.5])
W0 = np.array([0.8, -1.5, 2.0, -0.3])
XS = np.array(  # the x fed at training run k (row STEPS is never fed)
    [
        [0.3, -0.2, 0.1, 0.7],
        [-0.5, 0.4, 0.9, -0.1],
        [0.2, 0.6, -0.8, 0.5],
        [1.1, -0.7, 0.3, -0.4],
        [0.0, 0.0, 0.0, 0.0],
    ]
)
LRS = np.array([0.05, 0.11, 0.02, 0.08, 0.0])  # the learning rate fed at training run k
RTOL = {np.float64: 1e-10, np.float32: 2e-5}
ATOL = {np.float64: 1e-12, np.float32: 2e-6}

# lr_as: "python" (a float), "constant" (tf.constant of the variable's dtype), "fed"
# (a float64 placeholder fed LRS[k] at run k; cast for float32 variables).
CASES = {
    "sgd_fed_lr": dict(kind="sgd", lr_as="fed"),
    "sgd_constant_lr": dict(kind="sgd", lr=0.07, lr_as="constant"),
    "momentum": dict(kind="momentum", lr=0.1, momentum=0.7),
    "nesterov": dict(kind="momentum", lr=0.1, momentum=0.7, nesterov=True),
    "nesterov_fed_lr": dict(kind="momentum", momentum=0.6, nesterov=True, lr_as="fed"),
    "momentum_constant_lr": dict(kind="momentum", lr=0.08, momentum=0.5, lr_as="constant"),
    "adam_defaults": dict(kind="adam", lr=0.1, defaults=True),
    "adam": dict(kind="adam", lr=0.05, beta1=0.8, beta2=0.95, epsilon=0.1),
    "adam_fed_lr": dict(kind="adam", beta1=0.6, beta2=0.7, epsilon=0.05, lr_as="fed"),
    "adam_constant_lr": dict(
        kind="adam", lr=0.2, beta1=0.5, beta2=0.9, epsilon=0.3, lr_as="constant"
    ),
    "rmsprop_defaults": dict(kind="rmsprop", lr=0.05, defaults=True),
    "rmsprop": dict(kind="rmsprop", lr=0.05, decay=0.8, epsilon=0.05),
    "rmsprop_centered": dict(kind="rmsprop", lr=0.05, decay=0.8, epsilon=0.05, centered=True),
    "rmsprop_momentum": dict(kind="rmsprop", lr=0.05, decay=0.7, epsilon=0.05, momentum=0.6),
    "rmsprop_centered_momentum": dict(
        kind="rmsprop", lr=0.05, decay=0.75, epsilon=0.02, momentum=0.5, centered=True
    ),
    "rmsprop_centered_momentum_fed_lr": dict(
        kind="rmsprop", decay=0.6, epsilon=0.03, momentum=0.4, centered=True, lr_as="fed"
    ),
    "adagrad_defaults": dict(kind="adagrad", lr=0.3, defaults=True),
    "adagrad": dict(kind="adagrad", lr=0.3, initial=0.5),
    "adagrad_fed_lr": dict(kind="adagrad", initial=2.0, lr_as="fed"),
    "adam_float32": dict(kind="adam", lr=0.05, beta1=0.8, beta2=0.95, epsilon=0.1, dtype="f4"),
    "rmsprop_centered_momentum_float32": dict(
        kind="rmsprop", lr=0.05, decay=0.8, epsilon=0.05, momentum=0.5, centered=True, dtype="f4"
    ),
    "momentum_fed_lr_float32": dict(kind="momentum", momentum=0.7, lr_as="fed", dtype="f4"),
}
SLOT_NAMES = {  # TF1's slot names
    "sgd": [],
    "momentum": ["momentum"],
    "adam": ["m", "v"],
    "rmsprop": ["momentum", "rms"],
    "adagrad": ["accumulator"],
}
TARGETS = ["numpy", "cpu"]


def _dtype(case):
    return np.dtype(case.get("dtype", "f8")).type


def _make_optimizer(case, lr_ph):
    """The graphc optimizer for a case; defaults=True passes nothing but the learning rate."""
    dtype = _dtype(case)
    lr_as = case.get("lr_as", "python")
    if lr_as == "fed":
        lr = lr_ph
    elif lr_as == "constant":
        lr = tf.constant(case["lr"], dtype=dtype)
    else:
        lr = case["lr"]
    kind, defaults = case["kind"], case.get("defaults", False)
    if kind == "sgd":
        return tf.train.GradientDescentOptimizer(lr)
    if kind == "momentum":
        return tf.train.MomentumOptimizer(
            lr, case["momentum"], use_nesterov=case.get("nesterov", False)
        )
    if kind == "adam":
        if defaults:
            return tf.train.AdamOptimizer(lr)
        return tf.train.AdamOptimizer(
            lr, beta1=case["beta1"], beta2=case["beta2"], epsilon=case["epsilon"]
        )
    if kind == "rmsprop":
        if defaults:
            return tf.train.RMSPropOptimizer(lr)
        return tf.train.RMSPropOptimizer(
            lr,
            decay=case["decay"],
            momentum=case.get("momentum", 0.0),
            epsilon=case["epsilon"],
            centered=case.get("centered", False),
        )
    if defaults:
        return tf.train.AdagradOptimizer(lr)
    return tf.train.AdagradOptimizer(lr, initial_accumulator_value=case["initial"])


# ---- the hand-written oracle ------------------------------------------------------------------
def _hand_step(kind, p, w, g, lr, t, s):
    """One TF1 update of `w` with gradient `g` at step t (1-based); `s` holds the slots."""
    if kind == "sgd":
        return w - lr * g
    if kind == "momentum":
        s["momentum"] = p["momentum"] * s["momentum"] + g
        if p.get("nesterov"):
            return w - lr * (g + p["momentum"] * s["momentum"])
        return w - lr * s["momentum"]
    if kind == "adam":
        b1, b2, eps = p["beta1"], p["beta2"], p["epsilon"]
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        return w - lr_t * s["m"] / (np.sqrt(s["v"]) + eps)
    if kind == "rmsprop":
        rho, mu, eps = p["decay"], p.get("momentum", 0.0), p["epsilon"]
        s["rms"] = rho * s["rms"] + (1 - rho) * g * g
        denom = s["rms"]
        if p.get("centered"):
            s["mg"] = rho * s["mg"] + (1 - rho) * g
            denom = s["rms"] - s["mg"] ** 2
        s["momentum"] = mu * s["momentum"] + lr * g / np.sqrt(denom + eps)
        return w - s["momentum"]
    s["accumulator"] = s["accumulator"] + g * g
    return w - lr * g / np.sqrt(s["accumulator"])


TF1_DEFAULTS = {  # TF1's documented defaults
    "adam": dict(beta1=0.9, beta2=0.999, epsilon=1e-8),
    "rmsprop": dict(decay=0.9, momentum=0.0, epsilon=1e-10, centered=False),
    "adagrad": dict(initial=0.1),
}


def _hand_slots(kind, p, w):
    zeros = np.zeros_like(w)
    if kind == "momentum":
        return {"momentum": zeros}
    if kind == "adam":
        return {"m": zeros, "v": zeros.copy()}
    if kind == "rmsprop":
        slots = {"rms": np.ones_like(w), "momentum": zeros}  # TF1 starts ms at ones
        if p.get("centered"):
            slots["mg"] = zeros.copy()
        return slots
    if kind == "adagrad":
        return {"accumulator": np.full_like(w, p["initial"])}
    return {}


def hand_trajectory(case, grad_scale=1.0, w0=W0, c=C, xs=XS, lrs=LRS):
    """[(w, slots, loss, grad)] before each run 0..STEPS, computed in float64 from the
    case's inputs rounded to its dtype."""
    dtype = _dtype(case)
    kind = case["kind"]
    p = {**TF1_DEFAULTS.get(kind, {}), **case} if case.get("defaults") else case
    rounded = [np.asarray(a, dtype).astype(np.float64) for a in (w0, c, xs)]
    w, c, xs = rounded
    fed = case.get("lr_as") == "fed"
    s = _hand_slots(kind, p, w)
    out = []
    for k in range(STEPS + 1):
        g = 2 * c * w + xs[k]
        out.append((w, {n: v.copy() for n, v in s.items()}, np.sum(c * w * w + xs[k] * w), g))
        lr = float(np.asarray(lrs[k] if fed else p["lr"], dtype))
        w = _hand_step(kind, p, w, grad_scale * g, lr, k + 1, s)
    return out


def hand_var_list(lr=0.1):
    """GD on loss = sum(c w1 w2 + w1^2 + x w2) over w1 only: g1 = c w2 + 2 w1."""
    w1, w2 = W0.copy(), W0[::-1].copy()
    out = []
    for _ in range(STEPS + 1):
        out.append((w1, w2))
        w1 = w1 - lr * (C * w2 + 2 * w1)
    return out


# ---- the graph, run on both targets -----------------------------------------------------------
def build_model(names):
    """The graph of the optimizer cases `names` ("adam" always: the views and the global
    step read it), plus the var_list, doubled-gradient and view cases."""
    names = ["adam", *(n for n in names if n != "adam")]
    g = tf.Graph()
    m = {"graph": g, "w": {}, "opt": {}, "loss": {}}
    with g.as_default():
        x = m["x"] = tf.placeholder(tf.float64, [4], name="x")
        lr = m["lr"] = tf.placeholder(tf.float64, [], name="lr")
        gs = m["global_step"] = tf.train.get_or_create_global_step()
        trains = []
        for name in names:
            case = CASES[name]
            dtype = _dtype(case)
            w = m["w"][name] = tf.Variable(W0.astype(dtype), name=name)
            xk = x if dtype is np.float64 else tf.cast(x, tf.float32)
            loss = m["loss"][name] = tf.reduce_sum(tf.constant(C.astype(dtype)) * w * w + xk * w)
            opt = m["opt"][name] = _make_optimizer(case, lr)
            trains.append(opt.minimize(loss, global_step=gs if name == "adam" else None))
        # var_list: only w1 trains, w2 must stay bit-identical
        w1 = m["w1"] = tf.Variable(W0, name="w1")
        w2 = m["w2"] = tf.Variable(W0[::-1].copy(), name="w2")
        joint = tf.reduce_sum(tf.constant(C) * w1 * w2 + w1 * w1 + x * w2)
        trains.append(tf.train.GradientDescentOptimizer(0.1).minimize(joint, var_list=[w1]))
        # compute_gradients + apply_gradients with the gradient doubled, own int32 step
        wd = m["w"]["doubled"] = tf.Variable(W0, name="doubled")
        m["loss"]["doubled"] = tf.reduce_sum(tf.constant(C) * wd * wd + x * wd)
        opt = m["opt"]["doubled"] = tf.train.MomentumOptimizer(0.1, 0.5)
        pairs = opt.compute_gradients(m["loss"]["doubled"], var_list=[wd])
        m["pairs"] = pairs
        grad = m["grad"] = next(g for g, v in pairs if v is wd)
        step32 = m["step32"] = tf.Variable(np.int32(0), trainable=False, name="step32")
        trains.append(opt.apply_gradients([(grad * 2.0, wd)], global_step=step32))
        m["train"] = tf.group(*trains)
        wa = m["w"]["adam"]
        m["views"] = {
            "identity": tf.identity(wa),
            "reshape": tf.reshape(wa, [2, 2]),
            "plus_zero": wa + 0.0,
            "slice": wa[1:3],
        }
        m["init"] = tf.global_variables_initializer()
        m["trainable"] = list(tf.trainable_variables())
    return m


def _state(m):
    """Every variable and slot: fetched alone after each run."""
    slots = {
        name: {s: opt.get_slot(m["w"][name], s) for s in opt.get_slot_names()}
        for name, opt in m["opt"].items()
    }
    return {
        "w": m["w"],
        "slots": slots,
        "w12": [m["w1"], m["w2"]],
        "global_step": m["global_step"],
        "step32": m["step32"],
    }


def _step(m):
    """The training run's fetches: the op, losses, a gradient, and (SPEC §4: values from
    before the run) variables, views of them and a slot."""
    w = m["w"]["adam"]
    return {
        "train": m["train"],
        "loss": m["loss"],
        "grad": m["grad"],
        "global_step": m["global_step"],
        "w": m["w"],
        "views": m["views"],
        "m": m["opt"]["adam"].get_slot(w, "m"),
    }


def run_model(m, **session):
    """{"after": state after 0..STEPS runs, "during": the fetches of the runs 0..STEPS-1}."""
    state, step = _state(m), _step(m)
    with tf.Session(m["graph"], **session) as sess:
        sess.run(m["init"])
        after, during = [sess.run(state)], []
        for k in range(STEPS):
            during.append(sess.run(step, {m["x"]: XS[k], m["lr"]: LRS[k]}))
            after.append(sess.run(state))
    return {"after": after, "during": during}


def _case_names(request):
    """The optimizer case a test is about (its `name` parameter), as a list."""
    name = getattr(request.node, "callspec", None) and request.node.callspec.params.get("name")
    return [name] if name in CASES else []


@pytest.fixture
def model(request):
    # the reference target builds only the test's own case: cheap, and a mutation run
    # then charges each optimizer's code to the tests about it
    return build_model(_case_names(request))


@pytest.fixture(scope="module")
def compiled_runs(tmp_path_factory):
    """Every case in one graph, compiled once."""
    return run_model(build_model(list(CASES)), cache_dir=tmp_path_factory.mktemp("graphc-cache"))


@pytest.fixture(params=TARGETS, ids=TARGETS)
def runs(request):
    if request.param == "cpu":
        return request.getfixturevalue("compiled_runs")
    return run_model(build_model(_case_names(request)), target="numpy")


def _close(got, want, dtype=np.float64):
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=ATOL[dtype])


# ---- tests ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_variable_follows_hand_formula(runs, name):
    case = CASES[name]
    want = hand_trajectory(case)
    for k in range(STEPS + 1):
        got = runs["after"][k]["w"][name]
        assert got.dtype == _dtype(case)
        _close(got, want[k][0], _dtype(case))


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_fetched_loss_is_the_one_the_update_used(runs, name):
    want = hand_trajectory(CASES[name])
    for k in range(STEPS):
        _close(runs["during"][k]["loss"][name], want[k][2], _dtype(CASES[name]))


SLOTTED = [n for n, c in CASES.items() if c["kind"] != "sgd"]


@pytest.mark.parametrize("name", SLOTTED, ids=SLOTTED)
def test_slots_hold_hand_computed_state(runs, name):
    case = CASES[name]
    want = hand_trajectory(case)
    for k in range(STEPS + 1):
        got = runs["after"][k]["slots"][name]
        assert sorted(got) == sorted(want[k][1])
        for slot, value in want[k][1].items():
            _close(got[slot], value, _dtype(case))


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_slot_names_and_slot_variables(model, name):
    case, opt, w = CASES[name], model["opt"][name], model["w"][name]
    expected = SLOT_NAMES[case["kind"]] + (["mg"] if case.get("centered") else [])
    assert opt.get_slot_names() == sorted(expected)
    for slot in expected:
        var = opt.get_slot(w, slot)
        assert var.shape == w.shape and var.dtype == w.dtype
        assert all(var is not t for t in model["trainable"])  # slots are not trained
        assert opt.get_slot(model["w1"], slot) is None  # not a variable of this optimizer
    assert opt.get_slot(w, "no_such_slot") is None
    assert len({id(opt.get_slot(w, s)) for s in expected}) == len(expected)  # distinct


def test_var_list_trains_only_listed_variables(runs):
    want = hand_var_list()
    for k in range(STEPS + 1):
        w1, w2 = runs["after"][k]["w12"]
        _close(w1, want[k][0])
        np.testing.assert_array_equal(w2, W0[::-1])  # bit-identical, never touched


def test_global_step_increments_once_per_run(runs):
    after = runs["after"]
    assert [int(r["global_step"]) for r in after] == list(range(STEPS + 1))
    assert [int(r["step32"]) for r in after] == list(range(STEPS + 1))
    assert after[0]["global_step"].dtype == np.int64 and after[0]["step32"].dtype == np.int32
    # fetched with the training op: the value from before the run
    assert [int(r["global_step"]) for r in runs["during"]] == list(range(STEPS))


def test_compute_gradients_pairs_only_var_list(model):
    ((grad, var),) = model["pairs"]
    assert var is model["w"]["doubled"] and grad is model["grad"]


def test_apply_gradients_with_doubled_gradient(runs):
    case = dict(kind="momentum", lr=0.1, momentum=0.5)
    want = hand_trajectory(case, grad_scale=2.0)
    plain = hand_trajectory(case)  # the same w_k, but without the doubling
    for k in range(STEPS + 1):
        _close(runs["after"][k]["w"]["doubled"], want[k][0])
        _close(runs["after"][k]["slots"]["doubled"]["momentum"], want[k][1]["momentum"])
    for k in range(STEPS):
        _close(runs["during"][k]["grad"], want[k][3])  # compute_gradients: the plain gradient
    assert not np.allclose(want[STEPS][0], plain[STEPS][0], rtol=1e-3)


VIEWS = {
    "variable": lambda w: w,
    "identity": lambda w: w,
    "reshape": lambda w: w.reshape(2, 2),
    "plus_zero": lambda w: w,
    "slice": lambda w: w[1:3],
}


@pytest.mark.parametrize("view", list(VIEWS), ids=list(VIEWS))
def test_variable_fetched_with_train_op_is_pre_update(runs, view):
    """SPEC §4: every read of a variable in a run sees its value from before the run."""
    for k in range(STEPS):
        during = runs["during"][k]
        got = during["w"]["adam"] if view == "variable" else during["views"][view]
        before = runs["after"][k]["w"]["adam"]
        np.testing.assert_array_equal(got, VIEWS[view](before))


def test_slot_fetched_with_train_op_is_pre_update(runs):
    for k in range(STEPS):
        np.testing.assert_array_equal(
            runs["during"][k]["m"], runs["after"][k]["slots"]["adam"]["m"]
        )


# ---- float16 ----------------------------------------------------------------------------------
F16_CASES = {
    "adam": dict(kind="adam", lr=0.5, beta1=0.8, beta2=0.95, epsilon=0.1, dtype="f2"),
    "rmsprop_centered_momentum": dict(
        kind="rmsprop", lr=0.2, decay=0.8, epsilon=0.05, momentum=0.5, centered=True, dtype="f2"
    ),
    "nesterov": dict(kind="momentum", lr=0.2, momentum=0.7, nesterov=True, dtype="f2"),
}


def _float16_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float16, [4], name="x")
        ws, trains = {}, []
        for name, case in F16_CASES.items():
            w = ws[name] = tf.Variable(W0.astype(np.float16), name=name)
            loss = tf.reduce_sum(tf.constant(C.astype(np.float16)) * w * w + x * w)
            trains.append(_make_optimizer(case, None).minimize(loss))
        return g, x, ws, tf.group(*trains), tf.global_variables_initializer()


def test_float16_variables_on_reference_target():
    g, x, ws, train, init = _float16_graph()
    with tf.Session(g, target="numpy") as sess:
        sess.run(init)
        got = [sess.run(ws)]
        for k in range(STEPS):
            sess.run(train, {x: XS[k].astype(np.float16)})
            got.append(sess.run(ws))
    for name, case in F16_CASES.items():
        want = hand_trajectory(case)
        for k in range(1, STEPS + 1):
            assert got[k][name].dtype == np.float16
            # float16 keeps ~3 digits; a wrong constant moves w by far more than 2e-2 here
            np.testing.assert_allclose(got[k][name], want[k][0], rtol=1e-2, atol=2e-2)


def test_float16_on_cpu_target_raises_dtype_error(tmp_path):
    """Numba has no CPU float16: the cpu target refuses it by name before running."""
    g, x, _, train, init = _float16_graph()
    with tf.Session(g, cache_dir=tmp_path) as sess:
        sess.run(init)  # interpreted
        with pytest.raises(tf.errors.DTypeError, match="float16"):
            sess.run(train, {x: XS[0].astype(np.float16)})
