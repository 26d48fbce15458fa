"""Mixed precision: which Keras dtype policy a model is built under.

``train.precision`` (or ``ganzoo train --precision``) is one of

* ``float32``: everything in float32 (the default);
* ``mixed_float16``: layers compute in float16, variables stay float32. float16 gradients
  underflow, so both optimizers are wrapped in ``keras.optimizers.LossScaleOptimizer``
  (``GANBase.compile``), the loss scale is applied inside the gradient tape
  (``AdversarialModel.apply_gradients``) and also to the inner input-gradient of the gradient
  penalty and R1 (``ganzoo.losses``, ``loss_scale=``);
* ``mixed_bfloat16``: layers compute in bfloat16 (float32's exponent range: no loss scaling).
* ``auto`` (:func:`resolve_precision`): ``mixed_bfloat16`` on a machine without GPU whose CPU
  computes bfloat16 natively (flags ``avx512_bf16`` or ``amx_bf16``: oneDNN then runs the
  wider convolutions and dense layers 1.5-2x faster, and a whole cgan_mnist/dcgan_mnist step
  1.4-1.5x, README "Performance"), ``float32`` everywhere else (CPUs without them emulate
  bfloat16 and are slower). Opt-in; ``benchmarks/quality_bf16.py`` compares its quality with
  float32's.

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

__all__ = ["PRECISIONS", "policy_scope", "check_precision", "resolve_precision", "cpu_has_native_bf16"]


def check_precision(name: str) -> str:
    """Return ``name`` if it is one of :data:`PRECISIONS`, else raise ValueError listing them."""
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision '{name}'; use one of {', '.join(PRECISIONS)}")
    return name


def cpu_has_native_bf16() -> bool:
    """Whether this (Linux) CPU has bfloat16 instructions (AVX512_BF16 or AMX-BF16)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve_precision(name: str) -> str:
    """The Keras policy a precision name means here (``auto`` resolved, others unchanged)."""
    check_precision(name)
    if name != "auto":
        return name
    import tensorflow as tf  # noqa: PLC0415

    if tf.config.list_physical_devices("GPU") or not cpu_has_native_bf16():
        return "float32"
    return "mixed_bfloat16"


@contextlib.contextmanager
def policy_scope(name: str):
    """Build layers under the dtype policy ``name`` (``float32``, ``mixed_float16`` or
    ``mixed_bfloat16``), then restore the previous global policy."""
    policy = resolve_precision(name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
