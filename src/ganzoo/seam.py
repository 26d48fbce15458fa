"""The backend seam of a training step: the one place where TensorFlow and JAX differ.

Every zoo model writes its algorithm once, top to bottom, in ``keras.ops``: its ``train_step``
reads variables, draws from its ``keras.random.SeedGenerator``, assigns (the EMA generator,
ADA's ``p``, batch-norm statistics) and takes gradient steps through
:meth:`ganzoo.models.adversarial.AdversarialModel.descend`. Three things differ per backend,
and only here:

1. :func:`gradients`: the gradient of a loss closure with respect to some variables. On
   TensorFlow the closure runs on a ``tf.GradientTape``. On JAX it becomes a pure function of
   the variables' values, differentiated by ``jax.value_and_grad``: the closure runs inside a
   ``keras.StatelessScope`` that maps those variables to the traced values, and what it assigns
   on the way (batch-norm statistics, the seed generator's state, spectral norm's ``u``) leaves
   the function as an auxiliary output and is assigned in the enclosing scope.
2. :func:`input_gradients`: a penalty's gradient of the critic with respect to its input
   (WGAN-GP, R1), differentiable again by the outer gradient (double backprop).
3. :class:`StatefulSteps`: the step functions ``fit`` and ``evaluate`` call. TensorFlow keeps
   Keras's own (``tf.function`` or XLA around ``train_step(data)``). Keras on JAX hands a step
   the model's state as arrays and expects the new state back (its ``train_step(state, data)``);
   here the same ``train_step(data)`` runs inside a ``keras.StatelessScope`` over that state,
   under ``jax.jit``, and the scope's values after the step are the new state. This is the
   Keras team's guidance for JAX (thread state explicitly: ``stateless_call`` / a
   ``StatelessScope``), applied once for every class instead of seven hand-threaded steps.

The state a JAX step carries is every variable of the model (``trainable_variables``,
``non_trainable_variables``: the EMA generator, seed state, ADA's ``p``, EMA and growth
counters), both optimizers' variables and the metrics' variables, so nothing a step reads is
a stale constant captured at trace time.
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras

__all__ = ["BACKEND", "COUNTER_DTYPE", "StatefulSteps", "cond", "gradients", "input_gradients", "is_traced", "split_loss"]

#: The Keras backend this process runs ("tensorflow" or "jax"); chosen before Keras is
#: imported (``KERAS_BACKEND``, or ``ganzoo train --backend``).
BACKEND = keras.backend.backend()

#: dtype of step and image counters (EMA updates, PGGAN's images seen, StyleGAN's D steps): int64 on
#: TensorFlow (as in the shipped checkpoints); int32 on JAX, which has no 64-bit integers unless
#: x64 is enabled (asking for int64 there warns and truncates). Files load across backends either way.
COUNTER_DTYPE = "int64" if BACKEND == "tensorflow" else "int32"

_SUPPORTED = ("tensorflow", "jax")


def check_backend() -> str:
    """The backend name, or a ValueError saying which ganzoo trains on."""
    if BACKEND not in _SUPPORTED:
        raise ValueError(f"ganzoo trains on the TensorFlow and JAX backends of Keras; this process runs "
                         f"'{BACKEND}'. Set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax before importing "
                         "Keras (or pass `ganzoo train --backend jax`).")
    return BACKEND


def split_loss(out):
    """A loss closure returns ``loss`` or ``(loss, aux)``; this gives ``(loss, aux)``."""
    if isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise ValueError("a loss closure returns the loss, or (loss, aux): got a sequence of "
                             f"{len(out)} values")
        return out[0], out[1]
    return out, None


def is_traced(value) -> bool:
    """Whether ``value`` is a symbolic value of a step being traced (a ``tf.function`` graph
    tensor, a JAX tracer), as opposed to a concrete eager value."""
    if BACKEND == "jax":
        import jax
        return isinstance(value, jax.core.Tracer)
    import tensorflow as tf
    return not tf.executing_eagerly()


# ---------------------------------------------------------------------------------------- JAX

class _RecordingScope(keras.StatelessScope):
    """A StatelessScope that also remembers which variable each update was for."""

    def __init__(self, mapping: dict):
        super().__init__()
        self.state_mapping = dict(mapping)
        self.assigned = {}

    def add_update(self, update):
        variable, value = update
        self.assigned[id(variable)] = variable
        super().add_update(update)


def _current_mapping() -> dict:
    """The enclosing StatelessScope's values (id -> value), or {} outside one (eagerly, variables
    then read their own values)."""
    from keras.src.backend.common.stateless_scope import get_stateless_scope
    scope = get_stateless_scope()
    return {} if scope is None else dict(scope.state_mapping)


def _write_back(writes: dict, variables: dict) -> None:
    """Assign what a differentiated closure assigned: recorded in the enclosing scope inside a
    step, to the variables themselves outside one."""
    for key, value in writes.items():
        variables[key].assign(value)


def _run_in_child_scope(base: dict, fn, *args):
    """``fn(*args)`` in a StatelessScope whose variables read ``base`` (id -> value); returns
    ``(result, writes, variables)``: the values assigned inside (id -> value) and their variables."""
    with _RecordingScope(base) as inner:
        result = fn(*args)
    writes = {key: inner.state_mapping[key] for key in inner.assigned}
    return result, writes, inner.assigned


def _jax_gradients(loss_fn, variables, scale):
    import jax
    base = _current_mapping()
    ids = [id(v) for v in variables]
    start = [base[i] if i in base else v.value for i, v in zip(ids, variables)]
    assigned = {}

    def pure(values):
        mapping = dict(base)
        mapping.update(zip(ids, values))
        (loss, aux), writes, owners = _run_in_child_scope(mapping, lambda: split_loss(loss_fn()))
        assigned.update(owners)
        return scale(loss), (loss, aux, writes)

    (_, (loss, aux, writes)), grads = jax.value_and_grad(pure, has_aux=True)(start)
    _write_back(writes, assigned)
    return loss, aux, list(grads)


def _jax_input_gradients(fn, x):
    import jax
    base = _current_mapping()
    assigned = {}

    def pure(inputs):
        total, writes, owners = _run_in_child_scope(base, fn, inputs)
        assigned.update(owners)
        return total, writes

    grads, writes = jax.grad(pure, has_aux=True)(x)
    _write_back(writes, assigned)
    return grads


# ----------------------------------------------------------------------------------------- TF

def _tf_gradients(loss_fn, variables, scale):
    import tensorflow as tf
    with tf.GradientTape() as tape:
        loss, aux = split_loss(loss_fn())
        scaled = scale(loss)
    grads = tape.gradient(scaled, variables)
    # Label-embedding gradients come as IndexedSlices with repeated rows (a batch repeats
    # labels). Keras's Adam squares such slices row by row (sum of squares, not the square
    # of the summed gradient), and under tf.distribute their size differs between replicas,
    # which breaks the packed all-reduce. The tables are small: make them dense.
    grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
    return loss, aux, grads


def _tf_input_gradients(fn, x):
    import tensorflow as tf
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = fn(x)
    return tape.gradient(total, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)


# ------------------------------------------------------------------------------------ the seam

def gradients(loss_fn: Callable, variables: Sequence, scale: Callable = lambda loss: loss):
    """``(loss, aux, grads)``: ``loss_fn()`` (the loss, or ``(loss, aux)``) and the gradients of
    ``scale(loss)`` with respect to ``variables`` (one per variable, in order).

    ``loss_fn`` is the step's forward pass as a closure over the batch and the model: it reads
    variables and may assign (batch-norm statistics) and draw random numbers; on every backend
    those effects happen exactly once. ``aux`` carries what the rest of the step needs from the
    forward pass (fakes, logits). ``scale`` maps the loss to what is differentiated (the
    replicas' share, a mixed-precision loss scale); the returned ``loss`` is unscaled.
    """
    variables = list(variables)
    if BACKEND == "jax":
        return _jax_gradients(loss_fn, variables, scale)
    return _tf_gradients(loss_fn, variables, scale)


def input_gradients(fn: Callable, x):
    """Gradient of the scalar ``fn(x)`` with respect to the tensor ``x`` (zeros where ``fn``
    does not depend on it), itself differentiable with respect to the variables ``fn`` reads
    when called inside :func:`gradients`' closure: a penalty's double backprop."""
    if BACKEND == "jax":
        return _jax_input_gradients(fn, x)
    return _tf_input_gradients(fn, x)


def cond(pred, true_fn: Callable, false_fn: Callable):
    """``true_fn()`` if the scalar boolean tensor ``pred`` holds, else ``false_fn()``, decided
    inside the step (a phase switch read from a variable): branches that take gradient steps
    and assign variables. Both branches return the same structure of tensors.

    TensorFlow: ``keras.ops.cond`` (``tf.cond`` keeps each branch's variable writes). JAX: a
    ``lax.cond`` branch is a pure function, so each branch runs in a ``keras.StatelessScope``
    over the step's state and returns, besides its result, the value of every state variable
    after it (unchanged ones as they came in); the taken branch's values become the step's.
    """
    if BACKEND != "jax":
        return keras.ops.cond(pred, true_fn, false_fn)
    import jax
    from keras.src.backend.common.stateless_scope import get_stateless_scope
    outer = get_stateless_scope()
    if outer is None:  # eagerly, outside a step: the predicate is a concrete value
        return true_fn() if bool(keras.ops.convert_to_numpy(pred)) else false_fn()
    base = dict(outer.state_mapping)
    keys = list(base)

    def branch(fn):
        def run():
            with keras.StatelessScope() as inner:
                inner.state_mapping = dict(base)
                result = fn()
            if set(inner.state_mapping) - set(base):
                raise RuntimeError("a branch of seam.cond assigned a variable outside the step's state "
                                   "(a model, optimizer or metric variable is expected)")
            return result, [inner.state_mapping[key] for key in keys]
        return run

    result, values = jax.lax.cond(keras.ops.convert_to_tensor(pred), branch(true_fn), branch(false_fn))
    outer.state_mapping.update(zip(keys, values))
    return result


class StatefulSteps:
    """Mixed into :class:`ganzoo.models.adversarial.AdversarialModel`: on the JAX backend,
    ``fit`` / ``evaluate`` / ``train_on_batch`` run the model's imperative ``train_step(data)``
    / ``test_step(data)`` as pure, jitted functions of the model's state (see the module
    docstring). On TensorFlow nothing here is used.

    The state is Keras's ``(trainable, non_trainable, optimizer, metrics)`` tuple, with the
    optimizer slot holding both optimizers' variables (:meth:`step_optimizer_variables`).
    """

    def step_optimizer_variables(self) -> list:
        """Every optimizer variable a step updates: the generator's, then the discriminator's
        optimizer (and any further ``extra_optimizers()``), without repeats."""
        seen, out = set(), []
        for optimizer in self.step_optimizers():
            for v in optimizer.variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    def step_optimizers(self) -> list:
        """The optimizers a training step applies (set by ``compile``)."""
        return [o for o in (getattr(self, "g_optimizer", None), getattr(self, "d_optimizer", None)) if o is not None]

    # Keras's JAX trainer reads and writes the state through these three methods.
    def _state_groups(self, trainable=False, non_trainable=False, optimizer=False, metrics=False) -> list:
        groups = []
        if trainable:
            groups.append(self.trainable_variables)
        if non_trainable:
            groups.append(self.non_trainable_variables)
        if optimizer:
            groups.append(self.step_optimizer_variables())
        if metrics:
            groups.append(self.metrics_variables)
        return groups

    def _get_jax_state(self, trainable_variables=False, non_trainable_variables=False, optimizer_variables=False,
                       metrics_variables=False, purge_model_variables=False):
        # The variables keep their values (no purge): a callback or a sampling call between
        # steps reads the weights of the last sync, never an uninitialised placeholder.
        groups = self._state_groups(trainable_variables, non_trainable_variables, optimizer_variables,
                                    metrics_variables)
        return tuple([v.value for v in group] for group in groups)

    def jax_state_sync(self):
        """Copy the state a JAX ``fit`` carries (``self._jax_state``) back into the variables,
        both optimizers' included (Keras's own version knows one optimizer)."""
        state = getattr(self, "_jax_state", None)
        if not state or self._jax_state_synced:
            return
        for key, refs in (("trainable_variables", self.trainable_variables),
                          ("non_trainable_variables", self.non_trainable_variables),
                          ("optimizer_variables", self.step_optimizer_variables()),
                          ("metrics_variables", self.metrics_variables)):
            values = state.get(key)
            if values:
                for ref, value in zip(refs, values):
                    ref.assign(value)
        self._jax_state_synced = True

    def _stateful(self, step, groups: list):
        """``step(data)`` as ``(state, data) -> (outputs, new_state)`` over ``groups`` of variables."""

        def run(state, data):
            # Eagerly (run_eagerly) the batch comes as NumPy arrays: make every leaf a tensor,
            # as a traced step sees it.
            data = keras.tree.map_structure(lambda x: x if x is None else keras.ops.convert_to_tensor(x), data)
            mapping = [(v, value) for group, values in zip(groups, state) for v, value in zip(group, values)]
            with keras.StatelessScope(state_mapping=mapping) as scope:
                outputs = step(data)
            new_state = tuple([scope.get_current_value(v) for v in group] for group in groups)
            return outputs, new_state

        return run

    def _compiled(self, step):
        # A step is jitted unless run_eagerly: jit_compile=False means "no XLA" on TensorFlow
        # (graph mode still), and JAX has no compiled mode other than jax.jit (XLA).
        if not self.run_eagerly:
            import jax
            return jax.jit(step, donate_argnums=0)
        return step

    def make_train_function(self, force=False):
        """On JAX, ``train_step(data)`` as a jitted ``(state, iterator) -> (logs, state)``
        (:meth:`_stateful`); Keras's own on TensorFlow."""
        if BACKEND != "jax":
            return super().make_train_function(force=force)
        if self.train_function is not None and not force:
            return self.train_function
        step = self._stateful(self.train_step, self._state_groups(True, True, True, True))
        self.train_function = self._make_function(self._compiled(step))
        return self.train_function

    def make_test_function(self, force=False):
        """On JAX, ``test_step(data)`` as a jitted function of the state (no optimizer slot);
        Keras's own on TensorFlow."""
        if BACKEND != "jax":
            return super().make_test_function(force=force)
        if self.test_function is not None and not force:
            return self.test_function
        step = self._stateful(self.test_step, self._state_groups(True, True, False, True))
        self.test_function = self._make_function(self._compiled(step))
        return self.test_function

