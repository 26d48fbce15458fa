"""StyleGAN (Karras et al. 2019) with StyleGAN2's modulated convolutions (Karras et al. 2020).

One ``train_step`` is one discriminator and one generator update with the non-saturating
logistic loss, as in both papers:

* **style mixing regularisation**: each image is drawn from two latents with probability
  ``style_mixing_prob`` (0.9): the first ``cutoff`` style layers take w1, the rest w2
  (cutoff uniform in [1, num_ws));
* **lazy R1** (StyleGAN2 sec. 3.1 and the official code's ``Dreg`` phase): every
  ``r1_interval`` (16) minibatches, after the ordinary D step, D takes a *separate* optimizer
  step on ``gamma / 2 * r1_interval * E[||grad D(real)||^2]`` alone (the weight keeps the
  penalty's average strength). D's optimizer thus steps k + 1 times per k minibatches; as
  the official code, its learning rate is multiplied by ``c = k / (k + 1)`` and its Adam betas
  raised to the power c (:meth:`StyleGAN.lazy_regularization_ratio`, applied by
  :func:`ganzoo.builders.make_optimizers`; a model compiled by hand keeps the optimizers it is
  given), so the YAML holds the uncorrected values. With
  ``r1_interval: 1`` R1 is part of every D step (the official ``Dboth``) and nothing is
  corrected. The minibatch counter ``d_steps`` (a model weight: checkpoints keep it)
  decides; the first minibatch is regularised, as the official ``batch_idx % interval == 0``;
* **running average of w** (``w_avg``, decay ``w_avg_beta`` = 0.995 per step), the centre of
  the truncation trick ``w' = w_avg + psi * (w - w_avg)``;
* **EMA generator** for sampling (``ema_decay``; the papers: a half-life of 10k images).

Why modulation/demodulation rather than AdaIN: see :mod:`ganzoo.networks.stylegan`.
Path-length regularisation (the official ``Greg`` phase) is not included, so G has no lazy
step and no correction (the official code corrects G's optimizer by 4/5 even when its
path-length weight is 0, where that step then changes nothing). Deliberate difference: with
``r1_gamma: 0`` there is no R1 step and D's optimizer is not corrected either (the official
code corrects it for the interval whatever gamma).

Sampling: ``generate(n, seed=s, truncation=psi, noise="const")``. ``noise="const"`` (the
default, as in the official generation scripts) feeds each layer's fixed noise map, so an
image depends on its latent alone (psi = 0 gives w_avg's image for every seed);
``"random"`` draws fresh noise (``noise_seed`` makes it repeatable: image i's noise comes
from the seed and i alone, whatever the batching), ``"none"`` feeds zeros. Metrics use
``"random"`` (:data:`EVALUATION_NOISE`), as the official metrics, which sample with the
networks' default ``noise_mode='random'``: the distribution the generator was trained for.
"""

from __future__ import annotations

from typing import Annotated, Optional, Sequence, Union

import keras
import numpy as np
from keras import ops

from ganzoo import losses
from ganzoo.constraints import Interval, NonNegative, Positive
from ganzoo.models.base import GANBase, check_image_count
from ganzoo import seam
from ganzoo.models.distributed import agree_on_finiteness, replicas_in_sync
from ganzoo.networks.stylegan import NoiseInjection, style_layer_resolutions
from ganzoo.model_registry import register_model_class

__all__ = ["StyleGAN", "NOISE_MODES", "STYLE_GROUPS", "EVALUATION_NOISE"]

NOISE_MODES = ("const", "random", "none")
#: The noise ``ganzoo eval`` (``ganzoo.evaluation.evaluate.generated_source``) samples with.
EVALUATION_NOISE = "random"
#: Named groups of style layers (Karras et al. 2019, sec. 3.1): coarse 4-8 px, middle 16-32 px,
#: fine 64 px and up; below 64 px "fine" is the last resolution alone.
STYLE_GROUPS = ("coarse", "middle", "fine")


@register_model_class
@keras.saving.register_keras_serializable(package="ganzoo")
class StyleGAN(GANBase):
    """Style-based generator (nested ``mapping`` and ``synthesis`` models) and discriminator.

    Args (besides :class:`GANBase`'s):
        r1_gamma: R1 weight gamma (StyleGAN2 FFHQ: 10); 0 disables.
        r1_interval: every this many minibatches, a separate R1 step of D (lazy
            regularisation; StyleGAN2: 16); 1: R1 in every D step.
        style_mixing_prob: share of training images with mixed styles (StyleGAN: 0.9).
        w_avg_beta: decay of the running average of w (StyleGAN: 0.995).
    """

    #: GANBase arguments this class does not use (StyleGAN is unconditional).
    refused_settings = ("num_classes",)
    #: The noise evaluation samples with (read by ``ganzoo.evaluation.evaluate.generated_source``).
    EVALUATION_NOISE = EVALUATION_NOISE
    #: Built from the StyleGAN networks (``ganzoo.networks.stylegan``): (generator, discriminator) arch.
    network_archs = ("stylegan", "stylegan")

    def __init__(self, generator, discriminator, r1_gamma: Annotated[float, NonNegative()] = 10.0,
                 r1_interval: Annotated[int, Positive()] = 16,
                 style_mixing_prob: Annotated[float, Interval(0, 1)] = 0.9,
                 w_avg_beta: Annotated[float, Interval(0, 1, open_high=True)] = 0.995, loss: str = "non_saturating",
                 **kwargs):
        super().__init__(generator, discriminator, loss=loss, **kwargs)
        if self.conditional:
            raise ValueError("StyleGAN is unconditional; remove num_classes")
        if loss == "wasserstein":
            raise ValueError("StyleGAN has no Lipschitz constraint for a Wasserstein critic; use non_saturating")
        self.r1_gamma = float(r1_gamma)
        self.r1_interval = int(r1_interval)
        self.style_mixing_prob = float(style_mixing_prob)
        self.w_avg_beta = float(w_avg_beta)
        self.num_ws = int(self.generator.get_layer("synthesis").inputs[0].shape[1])
        self.noise_shapes = [tuple(int(d) for d in t.shape[1:]) for t in
                             self.generator.get_layer("synthesis").inputs[1:]]
        self.w_avg = self.add_weight(shape=(self.latent_dim,), initializer="zeros", trainable=False, name="w_avg",
                                     aggregation="only_first_replica")
        # Minibatches trained: the lazy-R1 clock (optimizer iterations also count the R1 steps,
        # and a loss-scaled optimizer does not count the steps it skips).
        self.d_steps = self.add_weight(shape=(), dtype=seam.COUNTER_DTYPE,
                                       initializer="zeros", trainable=False,
                                       name="d_steps", aggregation="only_first_replica")
        self.r1_tracker = keras.metrics.Mean(name="r1")

    @staticmethod
    def check_config(config, fail):
        """No Wasserstein critic: nothing keeps StyleGAN's discriminator Lipschitz."""
        if config.model.loss == "wasserstein":
            fail("model.loss", "StyleGAN has no Lipschitz constraint for a Wasserstein critic; use non_saturating "
                 "(the papers' loss), hinge or least_squares")

    @property
    def lazy_r1(self) -> bool:
        """Whether R1 is applied in separate D steps every ``r1_interval`` minibatches."""
        return self.r1_gamma > 0 and self.r1_interval > 1

    @staticmethod
    def lazy_regularization_ratio(r1_interval: int, r1_gamma: float = 1.0) -> float:
        """``c = k / (k + 1)`` for lazy R1 every k minibatches (1 when R1 is off or in every
        step): D's learning rate is multiplied by c and its Adam betas raised to the power c,
        as the official training loop does, so that k + 1 optimizer steps per k minibatches
        move the weights and the moment averages as far as k ordinary steps would."""
        k = int(r1_interval)
        return k / (k + 1) if float(r1_gamma) > 0 and k > 1 else 1.0

    @classmethod
    def optimizer_ratios(cls, config) -> tuple:
        """``(G, D)`` lazy-regularisation ratios of a zoo config (see :meth:`lazy_regularization_ratio`)."""
        return 1.0, cls.lazy_regularization_ratio(config.model.r1_interval, config.model.r1_gamma)

    def get_config(self):
        config = super().get_config()
        config.update({"r1_gamma": self.r1_gamma, "r1_interval": self.r1_interval,
                       "style_mixing_prob": self.style_mixing_prob, "w_avg_beta": self.w_avg_beta})
        return config

    def _check_networks(self) -> None:
        try:
            self.generator.get_layer("mapping"), self.generator.get_layer("synthesis")
        except ValueError:
            raise ValueError("StyleGAN needs a generator with nested 'mapping' and 'synthesis' models "
                             "(ganzoo.networks.stylegan.build_stylegan_generator)") from None
        out_shape = tuple(self.generator.outputs[0].shape[1:])
        in_shape = tuple(self.discriminator.inputs[0].shape[1:])
        if out_shape != in_shape:
            raise ValueError(f"the generator makes images of shape {out_shape} but the discriminator expects {in_shape}")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.r1_tracker]

    @staticmethod
    def mapping(net):
        """The mapping network (z -> w) inside a StyleGAN generator ``net``."""
        return net.get_layer("mapping")

    @staticmethod
    def synthesis(net):
        """The synthesis network (ws and noise -> images) inside a StyleGAN generator ``net``."""
        return net.get_layer("synthesis")

    def call(self, inputs, training=False):
        """``model(z)`` runs the generator with each layer's constant noise."""
        if isinstance(inputs, (list, tuple)):
            return self.generator(list(inputs), training=training)
        return self.generator([inputs] + self._tiled_const_noise(self.generator, inputs), training=training)

    def serving_images(self, net, inputs):
        """``net``'s images for latents ``inputs`` with each layer's constant noise (``generate``'s default)."""
        return net([inputs] + self._tiled_const_noise(net, inputs), training=False)

    def _tiled_const_noise(self, net, inputs):
        batch = ops.shape(inputs)[0]
        return [ops.tile(n[None], [batch, 1, 1, 1]) for n in self._const_noise(net)]

    # ------------------------------------------------------------------ training
    def _random_noise(self, batch_size):
        return [self.replica_rows(lambda n, s=shape: keras.random.normal((n,) + s, seed=self.seed_generator),
                                  batch_size) for shape in self.noise_shapes]

    def mixed_styles(self, mapping, batch_size, training=True):
        """``(ws, w)``: per-layer styles with style mixing (probability ``style_mixing_prob``)
        and the unmixed w of the first latent (for the running average)."""
        w = mapping(self.sample_latent(batch_size), training=training)
        ws = ops.repeat(w[:, None], self.num_ws, axis=1)
        if self.style_mixing_prob > 0:
            w2 = mapping(self.sample_latent(batch_size), training=training)
            mix = self.replica_rows(lambda n: keras.random.uniform((n,), seed=self.seed_generator), batch_size)
            cut = self.replica_rows(lambda n: keras.random.randint((n,), 1, max(self.num_ws, 2),
                                                                   seed=self.seed_generator, dtype="int32"),
                                    batch_size)
            cutoff = ops.where(mix < self.style_mixing_prob, cut, self.num_ws)
            first = ops.arange(self.num_ws, dtype="int32")[None, :] < cutoff[:, None]  # (batch, num_ws)
            ws = ops.where(first[:, :, None], ws, w2[:, None])
        return ws, w

    def train_step(self, data):
        real, _ = self.unpack(data)
        batch_size = ops.shape(real)[0]
        mapping, synthesis, D = self.mapping(self.generator), self.synthesis(self.generator), self.discriminator

        # 1. Discriminator: logistic loss (R1 too when r1_interval is 1).
        ws, _ = self.mixed_styles(mapping, batch_size)
        fake = synthesis([ws] + self._random_noise(batch_size), training=True)

        def discriminator_loss():
            # D sees reals and fakes through the same augmentation (ADA / DiffAugment, if any);
            # R1 differentiates through it to the unaugmented reals, as StyleGAN2-ADA.
            real_logits = D(self.augment_images(real), training=True)
            fake_logits = D(self.augment_images(fake), training=True)
            d_loss = losses.discriminator_loss(self.loss_name, real_logits, fake_logits)
            if self.r1_gamma > 0 and not self.lazy_r1:
                r1 = self._r1_penalty(real)
                return d_loss + 0.5 * self.r1_gamma * r1, (d_loss, real_logits, r1)
            return d_loss, (d_loss, real_logits, ops.zeros((), "float32"))

        _, (d_loss, real_logits, r1) = self.descend(self.d_optimizer, discriminator_loss, D.trainable_variables)
        self.observe_real_logits(real_logits)

        # 1b. Lazy R1: every r1_interval minibatches, a separate D step on the penalty alone.
        #     The minibatch clock is a model variable, so the decision is taken inside the
        #     compiled step (a Python counter would be frozen at trace time on JAX).
        if self.lazy_r1:
            regularize = ops.equal(ops.mod(self.d_steps.value, self.r1_interval), 0)
            r1 = self._lazy_r1_step(real, regularize)
        else:
            regularize = ops.convert_to_tensor(self.r1_gamma > 0)
        self.d_steps.assign_add(1)

        # 2. Generator: non-saturating loss on fresh (mixed) styles and fresh noise.
        def generator_loss():
            ws, w = self.mixed_styles(mapping, batch_size)
            fake = synthesis([ws] + self._random_noise(batch_size), training=True)
            fake_logits, fm = self.generator_view(fake, real=real)
            return losses.generator_loss(self.loss_name, fake_logits) + self.feature_matching * fm, w

        g_loss, w = self.descend(self.g_optimizer, generator_loss, self.generator.trainable_variables)
        w_mean = ops.mean(ops.cast(w, "float32"), axis=0)
        self.w_avg.assign(w_mean + (self.w_avg.value - w_mean) * self.w_avg_beta)
        self.update_ema()

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.r1_tracker.update_state(r1, sample_weight=ops.cast(regularize, "float32"))
        return self._metric_results()

    def _r1_penalty(self, real):
        """E[||grad D(aug(real))||^2] w.r.t. the reals (without gamma / 2), loss-scaled inside."""
        D = self.discriminator
        return losses.r1_penalty(lambda x: D(self.augment_images(x), training=True), real,
                                 loss_scale=self.loss_scale(self.d_optimizer))

    def _lazy_r1_step(self, real, regularize):
        """If ``regularize``: one D optimizer step on ``gamma / 2 * r1_interval * R1``; returns R1 (else 0).

        The penalty, its gradients and the optimizer step happen only when ``regularize``
        holds (a conditional inside the compiled step, :func:`descend_if`)."""

        def r1_loss():
            r1 = self._r1_penalty(real)
            return 0.5 * self.r1_gamma * self.r1_interval * r1, r1

        return descend_if(self, regularize, self.d_optimizer, r1_loss, self.discriminator.trainable_variables)

    def validation_fakes(self, real, labels):
        """Validation fakes: the sampling generator with random noise (as the official metrics)."""
        batch_size = ops.shape(real)[0]
        inputs = [self.sample_latent(batch_size)] + self._random_noise(batch_size)
        return self.sample_with(lambda net: net(inputs, training=False))

    # ------------------------------------------------------------------ styles and noise
    def _latent_numpy(self, n: int, seed: Optional[int], truncation: Optional[float]):
        # Truncation happens in W (see styles()), so z is always a plain N(0, I) draw.
        return super()._latent_numpy(n, seed, None)

    def styles(self, z, truncation: Optional[float] = None, use_ema: Optional[bool] = None, batch_size: int = 256) -> np.ndarray:
        """Per-layer styles ``ws`` (n, num_ws, w_dim) for latents ``z``, truncated towards
        ``w_avg`` by psi: ``w_avg + psi * (w - w_avg)``."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"latents must have shape (n, {self.latent_dim}), got {z.shape}")
        mapping = self.mapping(self.sampling_generator(use_ema))
        w = np.concatenate([keras.ops.convert_to_numpy(mapping(z[i:i + batch_size], training=False))
                            for i in range(0, len(z), batch_size)], axis=0)
        if truncation is not None:
            w_avg = keras.ops.convert_to_numpy(self.w_avg)
            w = w_avg + float(truncation) * (w - w_avg)
        return np.repeat(w[:, None], self.num_ws, axis=1).astype(np.float32)

    def seed_styles(self, seeds: Sequence[int], truncation: Optional[float] = None, use_ema: Optional[bool] = None) -> np.ndarray:
        """``ws`` of each seed's image: row i equals ``styles`` of ``generate(1, seed=seeds[i])``."""
        seeds = list(seeds)
        if not seeds:
            raise ValueError("give at least one seed")
        z = np.concatenate([self.latents(1, seed=s, truncation=truncation) for s in seeds], axis=0)
        return self.styles(z, truncation=truncation, use_ema=use_ema)

    @staticmethod
    def _const_noise(net):
        synthesis = net.get_layer("synthesis")
        layers = sorted((l for l in synthesis.layers if isinstance(l, NoiseInjection)),
                        key=lambda l: int(l.name.rsplit("_", 1)[1]))
        return [l.const_noise for l in layers]

    def noise_inputs(self, n: int, noise: str = "const", noise_seed: Optional[int] = None,
                     use_ema: Optional[bool] = None, first_index: int = 0) -> list:
        """One noise array per convolution for ``n`` images: each layer's fixed map
        (``const``), a fresh N(0, 1) draw (``random``) or zeros. With ``noise_seed``, random
        noise is repeatable per image: image ``first_index + i`` gets the draw of the seed
        sequence ``(noise_seed, first_index + i)``, so a batch of images ``a..b`` equals rows
        ``a..b`` of one large batch."""
        if noise not in NOISE_MODES:
            raise ValueError(f"noise must be one of {', '.join(NOISE_MODES)}, got {noise!r}")
        if noise == "const":
            return [np.repeat(keras.ops.convert_to_numpy(c)[None], n, axis=0)
                    for c in self._const_noise(self.sampling_generator(use_ema))]
        if noise == "none":
            return [np.zeros((n,) + s, np.float32) for s in self.noise_shapes]
        if noise_seed is None:
            rng = np.random.default_rng()
            return [rng.standard_normal((n,) + s).astype(np.float32) for s in self.noise_shapes]
        if isinstance(noise_seed, bool) or not isinstance(noise_seed, (int, np.integer)) or noise_seed < 0:
            raise ValueError(f"noise_seed must be a non-negative integer, got {noise_seed!r}")
        out = [np.empty((n,) + s, np.float32) for s in self.noise_shapes]
        for i in range(n):
            rng = np.random.default_rng([int(noise_seed), int(first_index) + i])
            for arr, s in zip(out, self.noise_shapes):
                arr[i] = rng.standard_normal(s, dtype=np.float32)
        return out

    def synthesize(self, ws, noise: Union[str, list] = "const", noise_seed: Optional[int] = None,
                   use_ema: Optional[bool] = None, batch_size: int = 256, first_index: int = 0) -> np.ndarray:
        """Images (float32 in [-1, 1]) for per-layer styles ``ws`` (n, num_ws, w_dim); ``noise``
        is a mode of :meth:`noise_inputs` (``first_index`` as there) or the list of noise arrays itself."""
        ws = np.asarray(ws, dtype=np.float32)
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.latent_dim):
            raise ValueError(f"styles must have shape (n, {self.num_ws}, {self.latent_dim}), got {ws.shape}")
        noises = (self.noise_inputs(len(ws), noise, noise_seed, use_ema, first_index) if isinstance(noise, str)
                  else noise)
        synthesis = self.synthesis(self.sampling_generator(use_ema))
        out = [keras.ops.convert_to_numpy(synthesis([ws[i:i + batch_size]] + [x[i:i + batch_size] for x in noises],
                                                    training=False))
               for i in range(0, len(ws), batch_size)]
        return np.concatenate(out, axis=0).astype(np.float32)

    def style_layers(self, layers: Union[str, Sequence[int], range, slice] = "coarse") -> list:
        """Indices into ``ws`` of a named group (``coarse``, ``middle``, ``fine``; ``all``) or
        of explicit indices (a list, ``range`` or ``slice``); checked against ``num_ws``."""
        resolutions = style_layer_resolutions(self.image_shape[0])
        final = resolutions[-1]
        if isinstance(layers, str):
            if layers == "all":
                return list(range(self.num_ws))
            groups = {
                "coarse": [i for i, r in enumerate(resolutions) if r <= 8],
                "fine": [i for i, r in enumerate(resolutions) if r >= min(64, final) and r > 8],
            }
            groups["middle"] = [i for i in range(self.num_ws) if i not in groups["coarse"] + groups["fine"]]
            if layers not in groups:
                raise ValueError(f"layers must be one of {', '.join(STYLE_GROUPS)}, all, or a list of style "
                                 f"indices in [0, {self.num_ws}), got {layers!r}")
            if not groups[layers]:
                raise ValueError(f"a {final}x{final} StyleGAN has no '{layers}' style layers; give indices in "
                                 f"[0, {self.num_ws}) instead")
            return groups[layers]
        if isinstance(layers, slice):
            return list(range(self.num_ws))[layers]
        indices = [int(i) for i in layers]
        bad = [i for i in indices if not 0 <= i < self.num_ws]
        if bad:
            raise ValueError(f"style index {bad[0]} is out of range: this model has {self.num_ws} style layers "
                             f"(0..{self.num_ws - 1}; resolutions {resolutions})")
        return sorted(set(indices))

    # ------------------------------------------------------------------ sampling
    def generate_from_latents(self, z, labels=None, batch_size: int = 256, use_ema: Optional[bool] = None,
                              truncation: Optional[float] = None, noise: str = "const",
                              noise_seed: Optional[int] = None, first_index: int = 0) -> np.ndarray:
        """Images for latents ``z``; ``noise``, ``noise_seed`` and ``first_index`` (the index of
        ``z[0]`` in a larger run, for per-image random noise) as in :meth:`noise_inputs`."""
        self.resolve_labels(len(np.asarray(z)), labels)
        ws = self.styles(z, truncation=truncation, use_ema=use_ema, batch_size=batch_size)
        return self.synthesize(ws, noise=noise, noise_seed=noise_seed, use_ema=use_ema, batch_size=batch_size,
                               first_index=first_index)

    def generate(self, n: int, labels=None, seed: Optional[int] = None, truncation: Optional[float] = None,
                 batch_size: int = 256, use_ema: Optional[bool] = None, noise: str = "const",
                 noise_seed: Optional[int] = None) -> np.ndarray:
        """``n`` images; ``truncation`` psi is applied in W (psi = 0: w_avg's image for every
        seed); ``noise`` as in :meth:`noise_inputs` (``random`` with ``noise_seed=None`` uses
        ``seed``)."""
        n = check_image_count(n)
        z = self.latents(n, seed=seed, truncation=truncation)
        if noise == "random" and noise_seed is None:
            noise_seed = seed
        return self.generate_from_latents(z, labels, batch_size=batch_size, use_ema=use_ema, truncation=truncation,
                                          noise=noise, noise_seed=noise_seed)


def descend_if(model, condition, optimizer, loss_fn, variables):
    """``model.descend(optimizer, loss_fn, variables)`` if the boolean scalar ``condition``
    holds, nothing otherwise; returns the closure's aux (``loss_fn`` returns ``(loss, aux)``,
    aux a float32 scalar) or 0 when skipped.

    The forward pass, its gradients and the optimizer step run only when ``condition`` holds
    (a conditional in the compiled step, not a masked update of a step always taken): on
    TensorFlow a ``tf.cond`` (:func:`_tf_descend_if`), on JAX the seam's ``lax.cond`` over the
    step's state (:func:`ganzoo.seam.cond`).
    """
    if seam.BACKEND == "jax":
        return _jax_descend_if(model, condition, optimizer, loss_fn, variables)
    return _tf_descend_if(model, condition, optimizer, loss_fn, variables)


def _tf_descend_if(model, condition, optimizer, loss_fn, variables):
    """The gradients under a ``tf.cond``, then the optimizer step under another.

    The optimizer step syncs replicas, which tf.distribute forbids inside a replica-context
    cond under MirroredStrategy; there the condition moves to the cross-replica context, as
    Keras's LossScaleOptimizer does for its finiteness check (:func:`_apply_if`).
    """
    import tensorflow as tf
    variables = list(variables)

    def aux_and_gradients():
        _, aux, grads = seam.gradients(
            loss_fn, variables, scale=lambda value: optimizer.scale_loss(model.scale_for_replicas(value)))
        return [aux] + [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, variables)]

    def skipped():
        return [tf.constant(0.0)] + [tf.zeros_like(v) for v in variables]

    aux, *grads = tf.cond(condition, aux_and_gradients, skipped)
    if replicas_in_sync() > 1 and isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        grads = agree_on_finiteness(grads)
    _apply_if(optimizer, condition, grads, variables)
    return aux


def _jax_descend_if(model, condition, optimizer, loss_fn, variables):
    """``seam.cond`` around ``model.descend``: on JAX a ``lax.cond`` whose taken branch runs
    the step (optimizer slots and iterations, the variables, the seed state come out of it)
    and whose other branch passes the state through."""
    return seam.cond(condition, lambda: ops.cast(model.descend(optimizer, loss_fn, variables)[1], "float32"),
                     lambda: ops.zeros((), "float32"))


def _apply_if(optimizer, condition, grads, variables) -> None:
    """``optimizer.apply(grads, variables)`` if the boolean scalar ``condition`` holds (called in a
    replica context; every replica must agree on ``condition``).

    Where the strategy syncs gradients through ``merge_call`` (MirroredStrategy), a cond around
    the step must be taken in the cross-replica context; elsewhere (no strategy, multi-worker,
    TPU) a plain cond does.
    """
    import tensorflow as tf

    def apply():
        optimizer.apply(grads, variables)

    if tf.__internal__.distribute.strategy_supports_no_merge_call():
        tf.cond(condition, apply, lambda: None)
        return

    def cross_replica(distribution, condition, grads):
        flag = distribution.experimental_local_results(condition)[0]

        def apply_on_replicas():
            distribution.extended.call_for_each_replica(optimizer.apply, args=(grads, variables))

        tf.cond(flag, apply_on_replicas, lambda: None)

    tf.distribute.get_replica_context().merge_call(cross_replica, args=(condition, grads))
