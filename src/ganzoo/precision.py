"""Mixed precision: which Keras dtype policy a model is built under.

``train.precision`` (or ``ganzoo train --precision``) is one of

* ``float32``: everything in float32 (the default);
* ``mixed_float16``: layers compute in float16, variables stay float32. float16 gradients
  underflow, so both optimizers are wrapped in ``keras.optimizers.LossScaleOptimizer``
  (``AdversarialModel.compile``; on JAX its subclass
  :class:`ganzoo.models.distributed.StatelessLossScaleOptimizer`, which applies inside the
  jitted step's ``StatelessScope``), the loss scale is applied to the differentiated loss
  (``AdversarialModel.descend``) and also to the inner input-gradient of the gradient
  penalty and R1 (``ganzoo.losses``, ``loss_scale=``);
* ``mixed_bfloat16``: layers compute in bfloat16 (float32's exponent range: no loss scaling).

Both policies train on TensorFlow and on JAX (tests/test_precision.py runs on either backend).
* ``auto`` (:func:`resolve_precision`): ``mixed_bfloat16`` on a machine without GPU whose CPU
  computes bfloat16 natively (flags ``avx512_bf16`` or ``amx_bf16``: oneDNN then runs the
  wider convolutions and dense layers 1.5-2x faster, and a whole cgan_mnist/dcgan_mnist step
  1.4-1.5x, README "Performance"), ``float32`` everywhere else (CPUs without them emulate
  bfloat16 and are slower; and on the JAX backend, where that speed-up was not measured).
  Opt-in; ``benchmarks/quality_bf16.py`` compares its quality with float32's.

**CPU threads** (``train.cpu_threads``, :func:`configure_cpu_threads`). With bfloat16 on a CPU
the convolutions are small for AMX and TensorFlow's per-op thread fan-out costs more than it
gains; running each op on half the cores and two independent ops at a time (D on the real and
on the fake batch, forward and backward branches) measured 3-10% more images/s for
cgan_mnist/dcgan_mnist on a 2-core machine (README "Performance"; and 10% *fewer* in float32,
which keeps TensorFlow's default). ``auto`` applies that layout for ``mixed_bfloat16`` in graph mode (the
CPU's ``jit_compile: auto``) on a CPU-only machine with native bfloat16, and never overrides
thread counts already set (``tf.config.threading``); ``tensorflow`` leaves TensorFlow's
default; ``[intra, inter]`` sets them. Thread counts are process-wide and fixed once TensorFlow has run its first op, so they
are applied when a model is built (``ganzoo.build_model`` / ``ganzoo.load``) or by
``ganzoo train``; later they are left as they are (a requested ``[intra, inter]`` then warns).

Either way the last layer of every network runs in float32 (``ganzoo.networks``) and the
losses are computed in float32 (``ganzoo.losses``), so logits, images and losses are float32.

A policy is a process-wide Keras setting read when layers are *created*; :func:`policy_scope`
sets it only while a model is built and restores the previous one, so building a
mixed-precision entry does not change what the next model gets. A saved model keeps each
layer's policy, so loading needs no scope.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from typing import Optional, Union

import keras

from ganzoo.config import CPU_THREADS_HELP, PRECISIONS, valid_cpu_threads

__all__ = ["PRECISIONS", "policy_scope", "check_precision", "resolve_precision", "cpu_has_native_bf16",
           "cpu_thread_layout", "configure_cpu_threads"]

logger = logging.getLogger(__name__)


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
    if keras.backend.backend() == "jax":
        # The bfloat16 speed-up was measured for TensorFlow's oneDNN kernels; XLA's CPU
        # convolutions are not those, and GPUs get float32 on either backend: float32.
        return "float32"
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


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_thread_layout(setting: Union[str, list, tuple] = "auto", precision: str = "float32",
                      jit_compile: Union[bool, str] = "auto") -> Optional[tuple[int, int]]:
    """The ``(intra_op, inter_op)`` thread counts ganzoo uses, or None for TensorFlow's default.

    ``setting`` is ``train.cpu_threads``: ``auto`` gives ``(max(1, cores // 2), 2)`` when
    ``precision`` resolves to ``mixed_bfloat16`` on a CPU-only machine with native bfloat16
    (measured faster there, see the module docstring) in graph mode, and None otherwise (XLA on
    a CPU parallelises inside its own kernels: with one intra-op thread it ran at 0.55x; on JAX
    every step is XLA and TensorFlow runs only the input pipeline);
    ``tensorflow`` gives None; ``[intra, inter]`` is returned as given.
    """
    if isinstance(check_cpu_threads(setting), (list, tuple)):
        return int(setting[0]), int(setting[1])
    if (setting == "tensorflow" or jit_compile is True or keras.backend.backend() == "jax"
            or resolve_precision(precision) != "mixed_bfloat16" or not cpu_has_native_bf16()):
        return None
    import tensorflow as tf  # noqa: PLC0415

    if tf.config.list_physical_devices("GPU"):
        return None
    return max(1, _cpu_count() // 2), 2


def check_cpu_threads(setting):
    """Return ``setting`` if it is a valid ``train.cpu_threads`` value, else raise ValueError."""
    if not valid_cpu_threads(setting):
        raise ValueError(f"cpu_threads {CPU_THREADS_HELP}, got {setting!r}")
    return setting


def configure_cpu_threads(setting: Union[str, list, tuple] = "auto", precision: str = "float32",
                          jit_compile: Union[bool, str] = "auto") -> Optional[tuple[int, int]]:
    """Apply :func:`cpu_thread_layout` to TensorFlow; return the layout now in effect, or None
    when TensorFlow's default is kept.

    ``auto`` does nothing when thread counts were already set (by the user or an earlier call)
    or TensorFlow has already run an op (logged at INFO); an explicit ``[intra, inter]`` that
    can no longer be applied warns, saying how to apply it (before TensorFlow runs anything).
    """
    layout = cpu_thread_layout(setting, precision, jit_compile)
    if layout is None:
        return None
    import tensorflow as tf  # noqa: PLC0415

    threading = tf.config.threading
    current = (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads())
    if current == layout:
        return layout
    if setting == "auto" and current != (0, 0):
        return None  # the user chose thread counts: keep them
    try:
        threading.set_intra_op_parallelism_threads(layout[0])
        threading.set_inter_op_parallelism_threads(layout[1])
    except RuntimeError:
        message = (f"cpu_threads {layout[0]} intra-op / {layout[1]} inter-op could not be applied: TensorFlow has "
                   "already run ops in this process and its thread pools are fixed. Build the model (or call "
                   "ganzoo.precision.configure_cpu_threads) before anything else uses TensorFlow.")
        if setting == "auto":
            logger.info(message)
        else:
            warnings.warn(message, stacklevel=2)
        return None
    return layout
