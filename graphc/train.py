"""`graphc.train`: TF1's optimizers with their exact update formulas, and the global step.

Invariants: an optimizer's update ops read every variable and slot as it was
before the run (the run semantics of graphc), so `sess.run([train_op, loss])`
returns the loss the gradients came from. Slots are non-trainable variables
named `<var>/<Optimizer>` (and `<var>/<Optimizer>_1`), as in TF1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphc.autodiff import gradients
from graphc.compat import missing_names
from graphc.errors import InvalidArgumentError
from graphc.graph import get_default_graph
from graphc.ir import Node, Operation
from graphc.ops import convert
from graphc.ops.elementwise import cast, floor, less_equal, pow, sqrt, square, where
from graphc.ops.state import group
from graphc.saved_graph import export_meta_graph as export_meta_graph
from graphc.saved_graph import import_meta_graph as import_meta_graph
from graphc.saver import Saver as Saver
from graphc.saver import checkpoint_exists as checkpoint_exists
from graphc.saver import get_checkpoint_state as get_checkpoint_state
from graphc.saver import latest_checkpoint as latest_checkpoint
from graphc.types import float32
from graphc.variables import Variable, trainable_variables

GLOBAL_STEP = "global_step"


def get_global_step(graph: Any = None) -> Variable | None:
    found = (graph or get_default_graph()).get_collection(GLOBAL_STEP)
    return found[0] if found else None


def get_or_create_global_step(graph: Any = None) -> Variable:
    """The graph's int64 step counter (created, non-trainable, on first use)."""
    graph = graph or get_default_graph()
    step = get_global_step(graph)
    if step is None:
        with graph.as_default(), graph.name_scope(None):
            step = Variable(np.int64(0), trainable=False, name=GLOBAL_STEP)
        graph.add_to_collection(GLOBAL_STEP, step)
    return step


create_global_step = get_or_create_global_step


def _check_loss_dtype(loss: Any) -> None:
    """TF1's optimizers take float losses only (ValueError naming the loss otherwise)."""
    if isinstance(loss, Node) and loss.type is not None and not loss.dtype.is_floating:
        raise InvalidArgumentError(
            f"Invalid type {loss.dtype.name} for {loss.name}, expected: "
            "[float16, float32, float64]."
        )


class Optimizer:
    """Base class: `minimize` = `compute_gradients` + `apply_gradients`."""

    def __init__(self, learning_rate: Any, use_locking: bool = False, name: str = "Optimizer"):
        self._lr = learning_rate
        self._name = name
        self._slots: dict[str, dict[Node, Variable]] = {}

    def compute_gradients(
        self,
        loss: Any,
        var_list: Any = None,
        gate_gradients: Any = 1,
        aggregation_method: Any = None,
        colocate_gradients_with_ops: bool = False,
        grad_loss: Any = None,
        **_: Any,
    ) -> list[tuple]:
        """[(gradient or None, variable)] for the trainable variables (or `var_list`).

        A non-scalar loss is summed (TF1's `grad_loss` default: ones of the loss's shape);
        a loss that is not a float raises ValueError, as TF1's.
        """
        _check_loss_dtype(loss)
        var_list = list(var_list) if var_list is not None else trainable_variables()
        if not var_list:
            raise ValueError("no variables to optimize")
        grads = gradients(loss, var_list, grad_ys=None if grad_loss is None else [grad_loss])
        return list(zip(grads, var_list, strict=True))

    def apply_gradients(
        self, grads_and_vars: Any, global_step: Any = None, name: str | None = None
    ) -> Operation:
        """One op applying each (gradient, variable) update, then incrementing global_step."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            names = [v.name for _, v in grads_and_vars]
            raise ValueError(f"no gradients provided for any variable: {names}")
        graph = get_default_graph()
        with graph.name_scope(name or self._name):
            self._create_slots([v for _, v in pairs])
            updates = [self._apply(convert(g), v) for g, v in pairs]
            updates += self._finish()
            if global_step is not None:
                updates.append(global_step.assign_add(1))
            return group(*updates, name="update")

    def minimize(
        self,
        loss: Any,
        global_step: Any = None,
        var_list: Any = None,
        gate_gradients: Any = 1,
        aggregation_method: Any = None,
        colocate_gradients_with_ops: bool = False,
        name: str | None = None,
        grad_loss: Any = None,
        **_: Any,
    ) -> Operation:
        """`compute_gradients` then `apply_gradients` (TF1's `minimize`, its arguments in
        TF1's order; gating, aggregation and colocation change nothing in graphc)."""
        grads = self.compute_gradients(loss, var_list, grad_loss=grad_loss)
        return self.apply_gradients(grads, global_step, name)

    def get_slot(self, var: Node, name: str) -> Variable | None:
        return self._slots.get(name, {}).get(var)

    def get_slot_names(self) -> list[str]:
        return sorted(self._slots)

    # ---- for subclasses ------------------------------------------------------------------
    def _lr_for(self, var: Node, value: Any = None) -> Node:
        value = self._lr if value is None else value
        if isinstance(value, Node) and value.dtype is not var.dtype:
            return cast(value, var.dtype)
        return convert(value, var.dtype)

    def _slot(self, var: Node, name: str, fill: float, suffix: str = "") -> Variable:
        table = self._slots.setdefault(name, {})
        if var not in table:
            graph = get_default_graph()
            with graph.name_scope(None), graph.control_dependencies(None):
                table[var] = Variable(
                    np.full(var.type.shape, fill, var.dtype.np),
                    trainable=False,
                    name=f"{var.op_name}/{self._name}{suffix}",
                )
        return table[var]

    def _create_slots(self, var_list: list[Node]) -> None:
        pass

    def _apply(self, grad: Node, var: Node) -> Node:
        raise NotImplementedError

    def _finish(self) -> list[Node]:
        return []


class GradientDescentOptimizer(Optimizer):
    """var -= lr * grad."""

    def __init__(
        self, learning_rate: Any, use_locking: bool = False, name: str = "GradientDescent"
    ):
        super().__init__(learning_rate, use_locking, name)

    def _apply(self, grad: Node, var: Node) -> Node:
        return var.assign_sub(self._lr_for(var) * grad)


class MomentumOptimizer(Optimizer):
    """accum = momentum * accum + grad; var -= lr * accum.

    With Nesterov: var -= lr * (grad + momentum * accum), accum being the new one.
    """

    def __init__(
        self,
        learning_rate: Any,
        momentum: Any,
        use_locking: bool = False,
        name: str = "Momentum",
        use_nesterov: bool = False,
    ) -> None:
        super().__init__(learning_rate, use_locking, name)
        self._momentum, self._nesterov = momentum, use_nesterov

    def _create_slots(self, var_list: list[Node]) -> None:
        for v in var_list:
            self._slot(v, "momentum", 0.0)

    def _apply(self, grad: Node, var: Node) -> Node:
        accum, lr = self.get_slot(var, "momentum"), self._lr_for(var)
        momentum = self._lr_for(var, self._momentum)
        new_accum = accum * momentum + grad
        step = (grad + momentum * new_accum) * lr if self._nesterov else new_accum * lr
        return group(accum.assign(new_accum), var.assign_sub(step))


class AdamOptimizer(Optimizer):
    """Adam exactly as TF1 updates it.

    lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t); m = beta1 m + (1 - beta1) g;
    v = beta2 v + (1 - beta2) g^2; var -= lr_t * m / (sqrt(v) + eps).
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        use_locking: bool = False,
        name: str = "Adam",
    ) -> None:
        super().__init__(learning_rate, use_locking, name)
        self._beta1, self._beta2, self._epsilon = beta1, beta2, epsilon
        self._powers: tuple[Variable, Variable] | None = None

    def _create_slots(self, var_list: list[Node]) -> None:
        if self._powers is None:
            graph, dtype = get_default_graph(), var_list[0].dtype.np
            with graph.name_scope(None), graph.control_dependencies(None):
                self._powers = (
                    Variable(np.asarray(self._beta1, dtype), trainable=False, name="beta1_power"),
                    Variable(np.asarray(self._beta2, dtype), trainable=False, name="beta2_power"),
                )
        for v in var_list:
            self._slot(v, "m", 0.0)
            self._slot(v, "v", 0.0, "_1")

    def _apply(self, grad: Node, var: Node) -> Node:
        b1p, b2p = (cast(p, var.dtype) for p in self._powers)
        b1, b2 = self._lr_for(var, self._beta1), self._lr_for(var, self._beta2)
        eps = self._lr_for(var, self._epsilon)
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        lr_t = self._lr_for(var) * sqrt(1 - b2p) / (1 - b1p)
        m_t = b1 * m + (1 - b1) * grad
        v_t = b2 * v + (1 - b2) * square(grad)
        return group(m.assign(m_t), v.assign(v_t), var.assign_sub(lr_t * m_t / (sqrt(v_t) + eps)))

    def _finish(self) -> list[Node]:
        b1p, b2p = self._powers
        return [b1p.assign(b1p * self._beta1), b2p.assign(b2p * self._beta2)]


class AdadeltaOptimizer(Optimizer):
    """TF1's Adadelta (its ApplyAdadelta kernel):

    accum = rho accum + (1 - rho) g^2;
    update = sqrt(accum_update + eps) / sqrt(accum + eps) * g; var -= lr update;
    accum_update = rho accum_update + (1 - rho) update^2. Both slots start at zero.
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-8,
        use_locking: bool = False,
        name: str = "Adadelta",
    ) -> None:
        super().__init__(learning_rate, use_locking, name)
        self._rho, self._epsilon = rho, epsilon

    def _create_slots(self, var_list: list[Node]) -> None:
        for v in var_list:
            self._slot(v, "accum", 0.0)
            self._slot(v, "accum_update", 0.0, "_1")

    def _apply(self, grad: Node, var: Node) -> Node:
        rho, eps = self._lr_for(var, self._rho), self._lr_for(var, self._epsilon)
        accum, accum_update = self.get_slot(var, "accum"), self.get_slot(var, "accum_update")
        accum_t = rho * accum + (1 - rho) * square(grad)
        update = sqrt(accum_update + eps) / sqrt(accum_t + eps) * grad
        return group(
            accum.assign(accum_t),
            accum_update.assign(rho * accum_update + (1 - rho) * square(update)),
            var.assign_sub(self._lr_for(var) * update),
        )


class RMSPropOptimizer(Optimizer):
    """TF1's RMSProp.

    ms = decay ms + (1 - decay) g^2; mom = momentum mom + lr g / sqrt(ms + eps); var -= mom.

    The `ms` slot starts at ones, as in TF1; `centered=True` also tracks the mean gradient.
    """

    def __init__(
        self,
        learning_rate: Any,
        decay: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-10,
        use_locking: bool = False,
        centered: bool = False,
        name: str = "RMSProp",
    ) -> None:
        super().__init__(learning_rate, use_locking, name)
        self._decay, self._momentum, self._epsilon, self._centered = (
            decay,
            momentum,
            epsilon,
            centered,
        )

    def _create_slots(self, var_list: list[Node]) -> None:
        for v in var_list:
            self._slot(v, "rms", 1.0)
            self._slot(v, "momentum", 0.0, "_1")
            if self._centered:
                self._slot(v, "mg", 0.0, "_2")

    def _apply(self, grad: Node, var: Node) -> Node:
        rho, mu = self._lr_for(var, self._decay), self._lr_for(var, self._momentum)
        eps, lr = self._lr_for(var, self._epsilon), self._lr_for(var)
        ms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        ms_t = rho * ms + (1 - rho) * square(grad)
        updates = [ms.assign(ms_t)]
        denom = ms_t
        if self._centered:
            mg = self.get_slot(var, "mg")
            mg_t = rho * mg + (1 - rho) * grad
            updates.append(mg.assign(mg_t))
            denom = ms_t - square(mg_t)
        mom_t = mu * mom + lr * grad / sqrt(denom + eps)
        return group(*updates, mom.assign(mom_t), var.assign_sub(mom_t))


class AdagradOptimizer(Optimizer):
    """accum += grad^2; var -= lr * grad / sqrt(accum) (accumulators start at 0.1, as TF1)."""

    def __init__(
        self,
        learning_rate: Any,
        initial_accumulator_value: float = 0.1,
        use_locking: bool = False,
        name: str = "Adagrad",
    ) -> None:
        super().__init__(learning_rate, use_locking, name)
        self._initial = initial_accumulator_value

    def _create_slots(self, var_list: list[Node]) -> None:
        for v in var_list:
            self._slot(v, "accumulator", self._initial)

    def _apply(self, grad: Node, var: Node) -> Node:
        accum = self.get_slot(var, "accumulator")
        accum_t = accum + square(grad)
        return group(
            accum.assign(accum_t), var.assign_sub(self._lr_for(var) * grad / sqrt(accum_t))
        )


# ---- learning-rate schedules ------------------------------------------------------------
def exponential_decay(
    learning_rate: Any,
    global_step: Any,
    decay_steps: Any,
    decay_rate: Any,
    staircase: bool = False,
    name: str | None = None,
) -> Node:
    """learning_rate * decay_rate ** (global_step / decay_steps), the exponent floored when
    `staircase`, computed in the learning rate's dtype (float32 for a Python float)."""
    with get_default_graph().name_scope(name or "ExponentialDecay"):
        lr = convert(learning_rate)
        dtype = lr.dtype if lr.dtype.is_floating else float32
        lr = cast(lr, dtype) if lr.dtype is not dtype else lr
        step = cast(convert(global_step), dtype)
        p = step / convert(decay_steps, dtype)
        if staircase:
            p = floor(p)
        return lr * pow(convert(decay_rate, dtype), p)


def piecewise_constant(x: Any, boundaries: Any, values: Any, name: str | None = None) -> Node:
    """values[0] while x <= boundaries[0], values[i] while boundaries[i-1] < x <=
    boundaries[i], values[-1] after the last boundary (TF1's rule)."""
    boundaries, values = list(boundaries), list(values)
    if len(values) != len(boundaries) + 1:
        raise ValueError(
            f"piecewise_constant needs one more value than boundaries, got {len(values)} "
            f"values and {len(boundaries)} boundaries"
        )
    with get_default_graph().name_scope(name or "PiecewiseConstant"):
        x = convert(x)
        out = convert(values[-1])
        for bound, value in zip(reversed(boundaries), reversed(values[:-1]), strict=True):
            below = less_equal(x, convert(bound, x.dtype))
            out = where(below, convert(value, out.dtype), out)
        return out


__getattr__ = missing_names(__name__, "tf.train")  # a TF1 name graphc lacks says so
