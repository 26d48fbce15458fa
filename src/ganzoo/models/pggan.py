"""Progressive growing of GANs (Karras et al. 2018), grown inside one ``model.fit``.

Training starts at a low resolution (4x4) and doubles it phase by phase. Each new phase
first *fades in* its block (alpha 0 -> 1 over ``fade_images`` images) and then *stabilises*
(``stabilize_images`` images at alpha = 1); the first phase only stabilises. The loss is
WGAN-GP (lambda = 10) plus the drift term ``eps * E[D(x)^2]`` (eps = 0.001), one critic step
per generator step, as in the paper.

How growth works without rebuilding or recompiling:

* every block of both networks exists from the start (``ganzoo.networks.pggan``), so the
  optimizers are built once and ``model.weights`` is the same at every phase;
* ``images_seen`` (int64), ``phase`` (int32) and ``alpha`` (float32) are non-trainable model
  variables. ``train_step`` derives phase and alpha from images_seen
  (:func:`growth_schedule`) and runs the networks' ``grow`` with them as tensors: every
  block runs and the ones above the phase are gated to zero (the official code's "linear"
  structure). The gates are arithmetic in ``keras.ops`` (``where`` on the level, a blend
  weighted by alpha), not Python branches: one traced step serves all phases on TensorFlow
  (``tf.function``, XLA) and on JAX (``jax.jit``, which would trace every branch of a
  ``cond`` anyway), with no retracing when the model grows. The price: early phases cost
  as much compute as the last one (the official "recursive" structure skips unused blocks
  with tf.cond; measured here, a tf.switch_case over phases made the graph several times
  larger and far slower to build);
* the same images with the same weights give the same outputs, critic input gradients,
  schedule and optimizer restarts on both backends (tests/models/test_pggan.py trains one
  model on each);
* the dataset serves full-resolution images; ``train_step`` average-pools them to the
  phase's resolution and, while fading in, blends them with their 2x-downsampled version by
  the same alpha as the networks (the paper's treatment of the training set). Images travel
  through the networks as nearest-upsampled full-resolution copies; the gradient penalty is
  rescaled so that it equals the penalty at the phase's own resolution;
* the three counters are model weights, so ``model.save`` / ``keras.saving.load_model`` and
  every checkpoint carry them: a resumed run continues the schedule exactly.

Variables of blocks that a phase does not use receive zero gradients; with the paper's
Adam beta_1 = 0 they do not move.

**Optimizer reset at each new level of detail**, as the official code
(``reset_opt_for_new_lod=True``: ``reset_optimizer_state`` re-initialises every variable of
both Adam optimizers, the moments and the ``beta1_power``/``beta2_power`` of its bias
correction, whenever ``floor(lod)`` or ``ceil(lod)`` changes): when a block starts fading in
and again when its fade-in ends. Without it a block that starts learning meets a second-moment
estimate near zero under a spent bias correction, and its first steps are ~1/sqrt(1 - beta_2)
= 10x the learning rate. ``train_step`` compares the level of detail of this step with the
previous step's (the ``phase``/``alpha`` weights), so the reset happens inside the compiled
step (on JAX as ``where`` assignments recorded in the step's state, on TensorFlow a
``tf.cond``, under ``tf.distribute`` in a merge call) and a resumed run resets exactly where
an uninterrupted one does. In Keras terms both
optimizers' ``iterations`` (their bias-correction step) and slots go back to zero; the
learning-rate variable and a loss scale are kept. ``iterations`` therefore counts the steps
since the last new level of detail (``images_seen`` counts the training), and a
learning-rate schedule, which would restart with it, is refused (the reference's rate is
constant).

The EMA generator (``ema_decay``) is ramped up as in :mod:`ganzoo.models.base`
(``ema_rampup``); the official code averages at decay 0.999 from the first step, which a
run as long as the paper's forgets (``ema_rampup: null`` gives exactly that).
"""

from __future__ import annotations

from typing import Annotated, Optional

import keras
import numpy as np
from keras import ops

from ganzoo import losses
from ganzoo.constraints import NonNegative, Positive
from ganzoo.models.base import GANBase, check_image_count
from ganzoo.models.distributed import replicas_in_sync
from ganzoo.seam import BACKEND, COUNTER_DTYPE
from ganzoo.networks.pggan import blend_levels, downsample, lerp, resolution_levels, upsample2x, upsample_to
from ganzoo.model_registry import register_model_class

__all__ = ["ProgressiveGAN", "growth_schedule", "level_of_detail_segment", "optimizer_state_variables",
           "reset_optimizer_state"]


def growth_schedule(images_seen, num_phases: int, fade_images: int, stabilize_images: int):
    """``(phase, alpha)`` after ``images_seen`` training images (tensors; int32, float32).

    Phase 0 lasts ``stabilize_images``; phase p >= 1 starts at
    ``stabilize + (p - 1) * (fade + stabilize)`` and ramps alpha linearly from 0 to 1 over its
    first ``fade_images``; the last phase then trains on for ever.

    The phase is integer arithmetic on the image count, exact at any count on either backend
    (JAX computes in 32 bits unless x64 is enabled, so the float64 quotient this once was is
    not available there); alpha is the float32 quotient of the images into the fade (fewer
    than ``fade_images``) by ``fade_images``: correctly rounded, the value the float64
    quotient rounds to.
    """
    n = ops.convert_to_tensor(images_seen)
    n = ops.cast(n, n.dtype if "int" in str(n.dtype) else COUNTER_DTYPE)
    fade, stable = int(fade_images), int(stabilize_images)
    grown = ops.floor_divide(n - stable, fade + stable) + 1
    phase = ops.clip(ops.where(n < stable, ops.zeros_like(grown), grown), 0, num_phases - 1)
    start = stable + (phase - 1) * (fade + stable)
    if fade_images == 0:
        alpha = ops.ones((), "float32")
    else:
        alpha = ops.clip(ops.cast(ops.minimum(n - start, fade), "float32") / float(fade), 0.0, 1.0)
    alpha = ops.where(phase == 0, ops.ones((), "float32"), alpha)
    return ops.cast(phase, "int32"), ops.cast(alpha, "float32")


def level_of_detail_segment(phase, alpha):
    """Which stretch of constant level of detail ``(phase, alpha)`` is in (int32 tensor):
    ``2 * phase`` while the phase is stable (alpha = 1), ``2 * phase - 1`` while its block
    fades in. The official code resets its optimizers whenever this changes (its ``lod`` leaves
    an integer when a fade-in starts, and reaches the next one when it ends)."""
    phase = ops.cast(phase, "int32")
    return 2 * phase - ops.cast(ops.convert_to_tensor(alpha, "float32") < 1.0, "int32")


def optimizer_state_variables(optimizer) -> list:
    """The state of ``optimizer`` that a reset re-initialises: its step count (Adam's bias
    correction) and its slots (Adam's moments); not its learning-rate variable, nor the
    loss scale of a ``LossScaleOptimizer`` (the inner optimizer's state is reset)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    learning_rate = getattr(inner, "_learning_rate", None)
    return [v for v in inner.variables if v is not learning_rate]


def reset_optimizer_state(optimizers, when) -> None:
    """Set the state of every optimizer in ``optimizers`` back to zero where the scalar bool
    tensor ``when`` holds.

    On JAX (inside the jitted step's StatelessScope) every state variable is assigned
    ``where(when, 0, value)``: both outcomes are traced, the assignment is recorded in the
    scope, and the step's new state carries it. On TensorFlow (graph mode and XLA) a
    ``tf.cond`` assigns only when it holds; in a replica context under ``tf.distribute`` the
    assignment happens in a merge call, on every replica's copy (a replica may not assign a
    mirrored variable on its own): the one ``tf.distribute`` detail of this class.
    """
    variables = [v for opt in optimizers for v in optimizer_state_variables(opt)]
    if BACKEND != "tensorflow":
        when = ops.convert_to_tensor(when)
        for v in variables:
            v.assign(ops.where(when, ops.zeros_like(v.value), v.value))
        return
    import tensorflow as tf

    variables = [v.value if isinstance(v, keras.Variable) else v for v in variables]

    def reset(strategy, flag):
        flag = strategy.experimental_local_results(flag)[0]  # every replica computed the same value

        def zero():
            for v in variables:
                v.assign(tf.zeros_like(v))
            return tf.constant(True)

        return tf.cond(flag, zero, lambda: tf.constant(False))

    tf.__internal__.distribute.interim.maybe_merge_call(reset, tf.distribute.get_strategy(),
                                                        tf.convert_to_tensor(when))


@register_model_class
@keras.saving.register_keras_serializable(package="ganzoo")
class ProgressiveGAN(GANBase):
    """PGGAN: a progressive generator/critic pair trained with WGAN-GP + drift.

    Args (besides :class:`GANBase`'s):
        gradient_penalty: lambda of the WGAN-GP penalty (paper: 10).
        drift: epsilon of the drift penalty on real scores (paper: 0.001).
        fade_images: training images over which a new block fades in (paper: 800k).
        stabilize_images: training images per phase at alpha = 1 (paper: 800k).
        start_resolution: resolution of phase 0 (paper: 4); lower blocks are always on.
    """

    #: GANBase arguments this class does not use: a conditional PGGAN and feature matching are not built.
    refused_settings = ("num_classes", "feature_matching")
    #: Built from the PGGAN networks (``ganzoo.networks.pggan``): (generator, discriminator) arch.
    network_archs = ("pggan", "pggan")

    def __init__(self, generator, discriminator, gradient_penalty: Annotated[float, NonNegative()] = 10.0,
                 drift: Annotated[float, NonNegative()] = 1e-3, fade_images: Annotated[int, NonNegative()] = 800_000,
                 stabilize_images: Annotated[int, Positive()] = 800_000, start_resolution: int = 4,
                 loss: str = "wasserstein", **kwargs):
        if loss != "wasserstein":
            raise ValueError(f"ProgressiveGAN trains with the 'wasserstein' loss (WGAN-GP), got '{loss}'")
        super().__init__(generator, discriminator, loss=loss, **kwargs)
        if self.conditional:
            raise ValueError("ProgressiveGAN is unconditional; remove num_classes")
        if self.feature_matching:
            raise ValueError("ProgressiveGAN has no feature-matching term; remove feature_matching")
        self.levels = resolution_levels(self.image_shape[0])
        if start_resolution not in self.levels:
            raise ValueError(f"start_resolution must be one of {self.levels}, got {start_resolution}")
        self.gradient_penalty = float(gradient_penalty)
        self.drift = float(drift)
        self.fade_images = int(fade_images)
        self.stabilize_images = int(stabilize_images)
        self.start_resolution = int(start_resolution)
        self.first_level = self.levels.index(self.start_resolution)
        self.num_phases = len(self.levels) - self.first_level
        # The growth state: model weights, hence saved and restored with every checkpoint.
        self.images_seen = self.add_weight(shape=(), dtype=COUNTER_DTYPE, initializer="zeros", trainable=False,
                                           name="images_seen", aggregation="only_first_replica")
        self.phase = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False,
                                     name="phase", aggregation="only_first_replica")
        self.alpha = self.add_weight(shape=(), dtype="float32", initializer="ones", trainable=False,
                                     name="alpha", aggregation="only_first_replica")
        self.gp_tracker = keras.metrics.Mean(name="gp")
        self.wd_tracker = keras.metrics.Mean(name="wasserstein_distance")

    @staticmethod
    def check_config(config, fail):
        """WGAN-GP, a start resolution the networks have, and a constant learning rate."""
        m, size = config.model, config.data.image_size
        if m.loss != "wasserstein" or m.gradient_penalty <= 0:
            fail("model.loss" if m.loss != "wasserstein" else "model.gradient_penalty",
                 "ProgressiveGAN trains with WGAN-GP: loss: wasserstein and gradient_penalty > 0 (paper: 10)")
        start = m.start_resolution
        if start < 4 or start & (start - 1) or start > size:
            fail("model.start_resolution", f"must be a power of two from 4 to data.image_size ({size}), got {start}")
        if config.train.lr_schedule != "constant":
            fail("train.lr_schedule", "ProgressiveGAN resets its optimizers (step count included) at every new "
                 "level of detail, as the official code, which would restart a schedule; use constant")

    def get_config(self):
        config = super().get_config()
        config.update({"gradient_penalty": self.gradient_penalty, "drift": self.drift,
                       "fade_images": self.fade_images, "stabilize_images": self.stabilize_images,
                       "start_resolution": self.start_resolution})
        return config

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.wd_tracker, self.gp_tracker]

    def compile(self, *args, **kwargs):
        """As :meth:`GANBase.compile`; the learning rates must be constant: the optimizers'
        step counts restart at every new level of detail, and a schedule would restart with them."""
        super().compile(*args, **kwargs)
        for key, optimizer in (("g_optimizer", self.g_optimizer), ("d_optimizer", self.d_optimizer)):
            rate = getattr(getattr(optimizer, "inner_optimizer", optimizer), "_learning_rate", None)
            if callable(rate):
                raise ValueError(f"ProgressiveGAN resets its optimizers at every new level of detail (as the "
                                 f"official code), which would restart the learning-rate schedule of {key}; give "
                                 f"it a constant learning rate (config: train.lr_schedule: constant)")

    # ------------------------------------------------------------------ structure
    @staticmethod
    def _body(net, kind: str):
        return net.get_layer(f"progressive_{kind}")

    def phase_resolution(self, phase: int) -> int:
        """Image side (pixels) of growth phase ``phase`` (0 = ``start_resolution``)."""
        return self.levels[self.first_level + int(phase)]

    def schedule(self, images_seen):
        """``(phase, alpha)`` as Python numbers after ``images_seen`` images."""
        phase, alpha = growth_schedule(images_seen, self.num_phases, self.fade_images, self.stabilize_images)
        return int(phase), float(alpha)

    @property
    def grown_images(self) -> int:
        """Training images after which the model is fully grown: the last phase at alpha 1 (the
        end of its fade-in; it starts at ``stabilize + (last - 1) * (fade + stabilize)``)."""
        last = self.num_phases - 1
        return 0 if last == 0 else self.stabilize_images + (last - 1) * (self.fade_images + self.stabilize_images) \
            + self.fade_images

    @property
    def fully_grown(self) -> bool:
        """Whether the growth state is the last phase at alpha 1."""
        phase, alpha = self._growth_now()
        return phase == self.num_phases - 1 and alpha == 1.0

    def mark_fully_grown(self) -> None:
        """Give the model the growth state of fully grown generator weights loaded on their own
        (the bundled weights hold the generator, not the model's growth counters): last phase,
        alpha 1, and ``images_seen`` at least :attr:`grown_images`, so that ``generate`` draws at
        full resolution and a further ``fit`` trains on at full resolution instead of growing
        again from the first phase."""
        self.images_seen.assign(max(int(ops.convert_to_numpy(self.images_seen.value)), self.grown_images))
        self.phase.assign(self.num_phases - 1)
        self.alpha.assign(1.0)

    def _fades(self, phase: int) -> bool:
        return phase > 0 and self.fade_images > 0

    def fake_images(self, net, z, phase: int, alpha=None, training=False):
        """Images of the generator ``net`` grown to ``phase`` (static int) at its own resolution."""
        return self._body(net, "generator")(z, level=self.first_level + phase,
                                            alpha=alpha if self._fades(phase) else None, training=training)

    def critic(self, images, phase: int, alpha=None, training=False):
        """Critic logits for images at the resolution of ``phase`` (static int)."""
        return self._body(self.discriminator, "discriminator")(
            images, level=self.first_level + phase, alpha=alpha if self._fades(phase) else None, training=training)

    def real_images(self, real, phase: int, alpha):
        """Full-resolution reals -> the phase's resolution (static ``phase``); faded like the
        networks (the paper blends each real image with its 2x-downsampled copy while a block
        fades in)."""
        x = downsample(real, self.image_shape[0] // self.phase_resolution(phase))
        if self._fades(phase):
            x = lerp(upsample2x(downsample(x, 2)), x, alpha)
        return x

    # ------------------------------------------------------------------ training
    def _level(self, phase):
        return self.first_level + phase

    def grown_reals(self, real, phase, alpha):
        """:meth:`real_images` for a phase tensor, upsampled back to full resolution."""
        size = self.image_shape[0]
        per_level = [upsample_to(downsample(real, size // res), size) for res in self.levels]
        return blend_levels(per_level, self._level(phase), alpha)

    def train_step(self, data):
        real, _ = self.unpack(data)
        if tuple(real.shape[1:]) != self.image_shape:
            raise ValueError(f"ProgressiveGAN takes full-resolution images {self.image_shape} at every phase "
                             f"(it downsamples them itself), got {tuple(real.shape[1:])}")
        batch_size = ops.shape(real)[0]
        phase, alpha = growth_schedule(self.images_seen, self.num_phases, self.fade_images, self.stabilize_images)
        # A new level of detail (a fade-in starts or ends): fresh optimizers, as the official code.
        reset_optimizer_state((self.g_optimizer, self.d_optimizer), ops.not_equal(
            level_of_detail_segment(phase, alpha), level_of_detail_segment(self.phase, self.alpha)))
        self.phase.assign(phase)
        self.alpha.assign(alpha)
        level = self._level(phase)
        G = self._body(self.generator, "generator")
        D = self._body(self.discriminator, "discriminator")
        # Images travel at full resolution as upsampled copies of the phase's images; the
        # critic's input gradient there is the phase-resolution gradient divided by the
        # upsampling factor f, so the penalty is taken w.r.t. x / f: exactly the paper's.
        factor = float(self.image_shape[0]) / ops.cast(
            ops.take(ops.convert_to_tensor(self.levels, "int32"), level), "float32")

        def critic(x):
            return D.grow(x, level, alpha, training=True)

        # 1. Critic: maximise D(x) - D(G(z)), gradient penalty on interpolates, drift on D(x).
        z = self.sample_latent(batch_size)
        eps = self.sample_interpolation_weights(batch_size)
        real = self.grown_reals(real, phase, alpha)

        def critic_loss():
            fake = G.grow(z, level, alpha, training=True)
            # The critic's view: augmented (ADA / DiffAugment) when configured; the penalty too.
            real_in, fake_in = self.augment_images(real), self.augment_images(fake)
            real_logits, fake_logits = critic(real_in), critic(fake_in)
            d_loss = losses.wasserstein_discriminator_loss(real_logits, fake_logits)
            gp = losses.wasserstein_gradient_penalty(lambda u: critic(u * factor), real_in / factor,
                                                     fake_in / factor, alpha=eps,
                                                     loss_scale=self.loss_scale(self.d_optimizer))
            total = d_loss + self.gradient_penalty * gp + self.drift * ops.mean(ops.square(real_logits))
            return total, (d_loss, gp, real_logits)

        total, (d_loss, gp, real_logits) = self.descend(self.d_optimizer, critic_loss,
                                                        self.discriminator.trainable_variables)
        self.observe_real_logits(real_logits)

        # 2. Generator: a fresh z, raise D(G(z)).
        z = self.sample_latent(batch_size)

        def generator_loss():
            return losses.wasserstein_generator_loss(
                critic(self.augment_images(G.grow(z, level, alpha, training=True))))

        g_loss, _ = self.descend(self.g_optimizer, generator_loss, self.generator.trainable_variables)
        self.update_ema()
        self.images_seen.assign_add(ops.cast(batch_size * replicas_in_sync(), self.images_seen.value.dtype))

        self.d_loss_tracker.update_state(total)
        self.g_loss_tracker.update_state(g_loss)
        self.wd_tracker.update_state(-d_loss)
        self.gp_tracker.update_state(gp)
        return {**self._metric_results(), "phase": phase, "alpha": alpha}

    def validation_fakes(self, real, labels):
        """Validation fakes at the current phase, upsampled to full resolution."""
        z = self.sample_latent(ops.shape(real)[0])
        return self.sample_with(lambda net: self._body(net, "generator").grow(z, self._level(self.phase), self.alpha))

    def serving_images(self, net, inputs):
        """``net``'s images at the current phase and alpha (as ``generate``), at full resolution."""
        phase, alpha = self._growth_now()
        return self._full_size(net, inputs, phase, ops.convert_to_tensor(alpha, "float32"))

    def _growth_now(self) -> tuple:
        """``(phase, alpha)`` as Python numbers, read now (eagerly) even inside a traced
        function: an export serves the phase the model is at."""
        if BACKEND == "tensorflow":
            import tensorflow as tf
            with tf.init_scope():
                return int(self.phase.numpy()), float(self.alpha.numpy())
        return int(ops.convert_to_numpy(self.phase.value)), float(ops.convert_to_numpy(self.alpha.value))

    def _full_size(self, net, z, phase, alpha):
        return upsample_to(self.fake_images(net, z, phase, alpha), self.image_shape[0])

    # ------------------------------------------------------------------ sampling
    def generate_from_latents(self, z, labels=None, batch_size: int = 256, use_ema: Optional[bool] = None,
                              phase: Optional[int] = None, native_resolution: bool = False) -> np.ndarray:
        """Images for latents at ``phase`` (default: the current phase with the current alpha;
        an earlier, finished phase at alpha 1). Upsampled (nearest) to the full resolution
        unless ``native_resolution``."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"latents must have shape (n, {self.latent_dim}), got {z.shape}")
        self.resolve_labels(len(z), labels)
        current, current_alpha = self._growth_now()
        if phase is None:
            phase, alpha = current, current_alpha
        else:
            if isinstance(phase, bool) or not isinstance(phase, (int, np.integer)) or not 0 <= phase < self.num_phases:
                raise ValueError(f"phase must be an integer in [0, {self.num_phases - 1}], got {phase!r}")
            if phase > current:
                raise ValueError(f"phase {phase} ({self.phase_resolution(phase)}x{self.phase_resolution(phase)}) "
                                 f"has not been trained yet: the model is at phase {current} "
                                 f"({self.phase_resolution(current)}x{self.phase_resolution(current)})")
            phase, alpha = int(phase), 1.0 if phase < current else current_alpha
        net = self.sampling_generator(use_ema)
        alpha = ops.convert_to_tensor(alpha, "float32")
        make = self.fake_images if native_resolution else self._full_size
        out = [keras.ops.convert_to_numpy(make(net, z[i:i + batch_size], phase, alpha))
               for i in range(0, len(z), batch_size)]
        return np.concatenate(out, axis=0).astype(np.float32)

    def generate(self, n: int, labels=None, seed: Optional[int] = None, truncation: Optional[float] = None,
                 batch_size: int = 256, use_ema: Optional[bool] = None, phase: Optional[int] = None,
                 native_resolution: bool = False) -> np.ndarray:
        """As :meth:`GANBase.generate`, at ``phase`` (default: the current one; see
        :meth:`generate_from_latents`)."""
        n = check_image_count(n)
        z = self.latents(n, seed=seed, truncation=truncation)
        return self.generate_from_latents(z, labels, batch_size=batch_size, use_ema=use_ema, phase=phase,
                                          native_resolution=native_resolution)

