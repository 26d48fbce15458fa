"""Inside a training or validation step: what ``tf.distribute`` and mixed precision need.

:mod:`ganzoo.distribute` creates strategies and :mod:`ganzoo.precision` picks dtype
policies; this module is their in-graph side, used by the model classes' steps:

* :func:`scale_for_replicas`: each replica's loss is its local mean divided by the number of
  replicas, so the summed gradients are the gradient of the global-batch mean;
* :func:`replica_rows`: random draws are made for the whole global batch and sliced, so
  replicas do not share latents and two replicas draw what one device draws;
* :func:`agree_on_finiteness`: a loss-scaled step is skipped by all replicas or none;
* :func:`logs_for_strategy` / :func:`global_metric_results`: what a step returns is the
  global value (loss means averaged; quality metrics computed from the summed state);
* :func:`loss_scaled` / :func:`loss_scale`: the ``LossScaleOptimizer`` of a ``mixed_float16``
  model, and its scale (inner gradients such as a penalty's must carry it too);
* :func:`resolve_jit_compile`: what ``jit_compile="auto"`` means on this platform.

On the JAX backend there are no replica contexts: ``keras.distribution.DataParallel`` runs
one program over global arrays sharded across devices (the batch is split by the data
layout, the gradients of the global-batch mean are reduced by XLA), so every function here
is the one-device identity there.
"""

from __future__ import annotations

from typing import Union

import keras

from ganzoo.seam import BACKEND

if BACKEND == "tensorflow":
    import tensorflow as tf

__all__ = ["replicas_in_sync", "replica_rows", "scale_for_replicas", "agree_on_finiteness",
           "logs_for_strategy", "global_metric_results", "StatelessLossScaleOptimizer", "loss_scaled", "loss_scale",
           "resolve_jit_compile"]


def replicas_in_sync() -> int:
    """Replicas of the enclosing replica context (1 outside tf.distribute or cross-replica,
    and always on JAX)."""
    if BACKEND != "tensorflow":
        return 1
    ctx = tf.distribute.get_replica_context()
    return ctx.num_replicas_in_sync if ctx is not None else 1


def replica_rows(draw, batch_size):
    """``draw(n)`` for the whole global batch, and this replica's rows of it.

    Replicas share the seed-generator state, so each would otherwise draw the *same*
    numbers. Drawing for all and keeping its slice gives replica r exactly what a
    one-device run draws for rows r*b..(r+1)*b of the global batch, the rows
    ``tf.distribute`` gives it (tests/test_distribute.py checks the weights match).
    """
    replicas = replicas_in_sync()
    if replicas == 1:
        return draw(batch_size)
    ctx = tf.distribute.get_replica_context()
    start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * tf.cast(batch_size, tf.int32)
    return draw(batch_size * replicas)[start:start + batch_size]


def scale_for_replicas(loss):
    """Per-replica loss -> share of the global-batch mean, so summed gradients across
    replicas equal the single-device gradient (tf.distribute convention)."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync if BACKEND == "tensorflow" else 1
    return loss / tf.cast(replicas, loss.dtype) if replicas > 1 else loss


def agree_on_finiteness(grads):
    """Make every replica see a non-finite gradient if any replica has one.

    ``LossScaleOptimizer`` checks finiteness on each replica's *local* gradients (Keras 3
    all-reduces later, inside the inner optimizer) and under MirroredStrategy acts on replica
    0's answer alone, so an overflow on another replica would be applied (and without merge
    calls the replicas could disagree). With one all-reduced flag all skip the step and halve
    the loss scale together. Called in a replica context with dense gradients.
    """
    ctx = tf.distribute.get_replica_context()
    finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads if g is not None])
    bad = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.logical_not(finite), tf.float32))
    poison = tf.where(bad > 0, float("nan"), 0.0)
    return [None if g is None else g + tf.cast(poison, g.dtype) for g in grads]


def _for_fit(logs: dict) -> dict:
    """Keras 3 (3.15) reduces step outputs under MultiWorkerMirroredStrategy with
    ``strategy.reduce("MEAN", value, axis=0)``, which fails on scalars ("Invalid reduction
    dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388); 1-element
    vectors reduce to the scalar."""
    if BACKEND == "tensorflow" and isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return {key: tf.reshape(value, [1]) for key, value in logs.items()}
    return logs


def logs_for_strategy(logs: dict) -> dict:
    """Metric results of one replica -> the global values, in a shape ``fit`` can reduce.

    Each replica's loss trackers hold the mean over *its* examples. They are averaged over
    the replicas here (equal replica batches: the global mean), because Keras reduces step
    outputs differently per strategy: the mean under Mirrored, replica 0's value under TPU.
    Unchanged on one replica.
    """
    if BACKEND != "tensorflow":
        return logs
    ctx = tf.distribute.get_replica_context()
    if not logs or ctx is None or ctx.num_replicas_in_sync == 1:
        return logs
    keys = list(logs)
    values = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, [tf.cast(logs[k], tf.float32) for k in keys])
    return _for_fit(dict(zip(keys, values)))


def global_metric_results(metrics) -> dict:
    """``{name: result}`` of ``metrics`` over the examples of *all* replicas.

    A replica's metric variables hold its own examples only (Keras makes them sync-on-read,
    summed when read across replicas). Averaging each replica's *result* is wrong for any
    metric that is not a mean of equal parts: the Frechet distance of each half of the data,
    the entropy of each half's class histogram. Every ganzoo quality metric's state is a sum
    (:class:`ganzoo.evaluation.keras_metrics.QualityMetric`), so the state is all-reduced
    (summed) here and each result computed from the global state with
    ``metric.result_of(state)``; every replica then returns the same, global value, whatever
    reduction Keras applies to step outputs. Unchanged on one replica.
    """
    ctx = tf.distribute.get_replica_context() if BACKEND == "tensorflow" else None
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return {m.name: m.result() for m in metrics}
    logs = {}
    for metric in metrics:
        local = [tf.convert_to_tensor(v.value) for v in metric.variables]
        summed = ctx.all_reduce(tf.distribute.ReduceOp.SUM, local) if local else []
        logs[metric.name] = metric.result_of(list(summed))
    return _for_fit(logs)


@keras.saving.register_keras_serializable(package="ganzoo")
class StatelessLossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
    """Keras's ``LossScaleOptimizer`` whose ``apply`` also works inside a JAX training step.

    On JAX a ganzoo step runs in a ``keras.StatelessScope`` under ``jax.jit``
    (:class:`ganzoo.seam.StatefulSteps`). Keras's stateful ``apply`` there branches
    with ``ops.cond`` whose branches *assign* (the inner optimizer's update, the scale), and
    assignments made inside a ``lax.cond`` branch leak that branch's tracers into the
    enclosing scope (``UnexpectedTracerError``). Inside a stateless scope this ``apply`` calls
    Keras's own ``stateless_apply`` instead (the cond returns the new values, as Keras's JAX
    ``fit`` does for a single optimizer) and assigns what it returns. Everywhere else (TensorFlow,
    eager calls) it is Keras's ``apply`` unchanged; ganzoo uses this class on JAX only
    (:func:`loss_scaled`), so TensorFlow runs and files keep Keras's class.
    """

    def apply(self, grads, trainable_variables=None):
        from keras.src.backend.common.stateless_scope import in_stateless_scope  # noqa: PLC0415

        if BACKEND != "jax" or not in_stateless_scope():
            return super().apply(grads, trainable_variables)
        if not self.built:
            self.build(trainable_variables)
            self.built = True
        variables = list(trainable_variables) if trainable_variables is not None else list(self._trainable_variables)
        if [id(v) for v in variables] != [id(v) for v in self._trainable_variables]:
            raise ValueError(f"{self.name}: apply() on JAX takes the variables the optimizer was built with "
                             f"({len(self._trainable_variables)}), in order; got {len(variables)} others")
        new_values, new_state = self.stateless_apply([v.value for v in self.variables], list(grads),
                                                     [v.value for v in variables])
        for variable, value in zip(variables, new_values):
            variable.assign(value)
        for variable, value in zip(self.variables, new_state):
            variable.assign(value)


def loss_scaled(optimizer, dtype_policy):
    """Under a ``mixed_float16`` policy, ``optimizer`` wrapped in ``LossScaleOptimizer`` (as
    Keras's own ``compile`` does for its single optimizer): float16 gradients underflow unscaled.

    On JAX the wrapper is :class:`StatelessLossScaleOptimizer` (applicable inside a jitted
    step); a Keras ``LossScaleOptimizer`` (a file saved on TensorFlow) is re-wrapped with the
    same inner optimizer and scale settings."""
    if BACKEND == "jax":
        if isinstance(optimizer, StatelessLossScaleOptimizer):
            return optimizer
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return StatelessLossScaleOptimizer(optimizer.inner_optimizer, initial_scale=optimizer.initial_scale,
                                               dynamic_growth_steps=optimizer.dynamic_growth_steps)
        if dtype_policy.name == "mixed_float16":
            return StatelessLossScaleOptimizer(optimizer)
        return optimizer
    if dtype_policy.name == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def loss_scale(optimizer):
    """The mixed-precision loss scale of ``optimizer`` (None without loss scaling). Inner
    gradients that feed that optimizer (a gradient penalty's) must be scaled by it too."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.dynamic_scale
    return None


def resolve_jit_compile(value: Union[bool, str]) -> bool:
    """``"auto"`` means what measured faster on this platform: XLA on GPU/TPU, plain graph
    mode on CPU (benchmarks/train_throughput.py measured XLA slower for the small
    MNIST/CIFAR networks on a 2-core CPU; see the README's benchmark table). On JAX a step
    is always jitted (``jax.jit``, which is XLA): "auto" is True there."""
    if value == "auto" and BACKEND != "tensorflow":
        return True
    if value == "auto":
        if tf.distribute.has_strategy() and not isinstance(tf.distribute.get_strategy(), tf.distribute.TPUStrategy):
            # Keras XLA-compiles the function that calls strategy.run; like Keras's own "auto",
            # no XLA under MirroredStrategy / MultiWorkerMirroredStrategy (TPUs compile anyway).
            return False
        return bool(tf.config.list_physical_devices("GPU") or tf.config.list_logical_devices("TPU"))
    return bool(value)
