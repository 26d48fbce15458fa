"""Mixed precision: which Keras dtype policy a model is built under.

``train.precision`` (or ``ganzoo train --precision``) is one of

* ``float32``: everything in float32 (the default);
* ``mixed_float16``: layers compute in float16, variables stay float32. float16 gradients
  underflow, so both optimizers are wrapped in ``keras.optimizers.LossScaleOptimizer``
  (``GANBase.compile``), the loss scale is applied inside the gradient tape
  (``AdversarialModel.apply_gradients``) and also to the inner input-gradient of the gradient
  penalty and R1 (``ganzoo.losses``, ``loss_scale=``);
* ``mixed_bfloat16``: layers compute in bfloat16 (float32's exponent range: no loss scaling).

Either way the last layer of every network runs in float32 (``ganzoo.networks``) and the
losses are computed in float32 (``ganzoo.losses``), so logits, images and losses are float32.

A policy is a process-wide Keras setting read when layers are *created*; :func:`policy_scope`
sets it only while a model is built and restores the previous one, so building a
mixed-precision entry does not change what the next model gets. A saved model keeps each
layer's policy, so loading needs no scope.
"""

from __future__ import annotations

import contextlib

import keras

from ganzoo.config import PRECISIONS

__all__ = ["PRECISIONS", "policy_scope", "check_precision"]


def check_precision(name: str) -> str:
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision '{name}'; use one of {', '.join(PRECISIONS)}")
    return name


@contextlib.contextmanager
def policy_scope(name: str):
    """Build layers under the dtype policy ``name`` (``float32``, ``mixed_float16`` or
    ``mixed_bfloat16``), then restore the previous global policy."""
    check_precision(name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
