"""StyleGAN (Karras et al. 2019) with StyleGAN2's modulated convolutions (Karras et al. 2020).

One ``train_step`` is one discriminator and one generator update with the non-saturating
logistic loss, as in both papers:

* **style mixing regularisation**: each image is drawn from two latents with probability
  ``style_mixing_prob`` (0.9): the first ``cutoff`` style layers take w1, the rest w2
  (cutoff uniform in [1, num_ws));
* **lazy R1** (StyleGAN2 sec. 3.1): the R1 penalty on real images is added every
  ``r1_interval`` (16) discriminator steps, weighted by ``gamma / 2 * r1_interval`` so its
  average strength is unchanged;
* **running average of w** (``w_avg``, decay ``w_avg_beta`` = 0.995 per step), the centre of
  the truncation trick ``w' = w_avg + psi * (w - w_avg)``;
* **EMA generator** for sampling (``ema_decay``; the papers: a half-life of 10k images).

Why modulation/demodulation rather than AdaIN: see :mod:`ganzoo.networks.stylegan`.
Path-length regularisation and the official code's Adam moment tweaks for lazy
regularisation are not included.

Sampling: ``generate(n, seed=s, truncation=psi, noise="const")``. ``noise="const"`` (the
default, as in the official generation scripts) feeds each layer's fixed noise map, so an
image depends on its latent alone (psi = 0 gives w_avg's image for every seed);
``"random"`` draws fresh noise (``noise_seed`` makes it repeatable), ``"none"`` feeds zeros.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import keras
import numpy as np
import tensorflow as tf

from ganzoo import losses
from ganzoo.models.base import GANBase, _check_count
from ganzoo.networks.stylegan import NoiseInjection, style_layer_resolutions

__all__ = ["StyleGAN", "NOISE_MODES", "STYLE_GROUPS"]

NOISE_MODES = ("const", "random", "none")
#: Named groups of style layers (Karras et al. 2019, sec. 3.1): coarse 4-8 px, middle 16-32 px,
#: fine 64 px and up; below 64 px "fine" is the last resolution alone.
STYLE_GROUPS = ("coarse", "middle", "fine")


@keras.saving.register_keras_serializable(package="ganzoo")
class StyleGAN(GANBase):
    """Style-based generator (nested ``mapping`` and ``synthesis`` models) and discriminator.

    Args (besides :class:`GANBase`'s):
        r1_gamma: R1 weight gamma (StyleGAN2 FFHQ: 10); 0 disables.
        r1_interval: apply R1 every this many D steps (lazy regularisation; StyleGAN2: 16).
        style_mixing_prob: share of training images with mixed styles (StyleGAN: 0.9).
        w_avg_beta: decay of the running average of w (StyleGAN: 0.995).
    """

    def __init__(self, generator, discriminator, r1_gamma: float = 10.0, r1_interval: int = 16,
                 style_mixing_prob: float = 0.9, w_avg_beta: float = 0.995, loss: str = "non_saturating", **kwargs):
        super().__init__(generator, discriminator, loss=loss, **kwargs)
        if self.conditional:
            raise ValueError("StyleGAN is unconditional; remove num_classes")
        if loss == "wasserstein":
            raise ValueError("StyleGAN has no Lipschitz constraint for a Wasserstein critic; use non_saturating")
        if int(r1_interval) < 1 or float(r1_gamma) < 0 or not 0.0 <= float(style_mixing_prob) <= 1.0:
            raise ValueError(f"need r1_interval >= 1, r1_gamma >= 0 and style_mixing_prob in [0, 1], got "
                             f"{r1_interval}, {r1_gamma}, {style_mixing_prob}")
        self.r1_gamma = float(r1_gamma)
        self.r1_interval = int(r1_interval)
        self.style_mixing_prob = float(style_mixing_prob)
        self.w_avg_beta = float(w_avg_beta)
        self.num_ws = int(self.generator.get_layer("synthesis").inputs[0].shape[1])
        self.noise_shapes = [tuple(int(d) for d in t.shape[1:]) for t in
                             self.generator.get_layer("synthesis").inputs[1:]]
        self.w_avg = self.add_weight(shape=(self.latent_dim,), initializer="zeros", trainable=False, name="w_avg",
                                     aggregation="only_first_replica")
        self.r1_tracker = keras.metrics.Mean(name="r1")

    @classmethod
    def from_zoo_config(cls, config):
        """Build the mapping/synthesis generator and residual discriminator of a zoo config and the model around them."""
        from ganzoo.config import model_kwargs  # noqa: PLC0415
        from ganzoo.networks import build_discriminator, build_generator  # noqa: PLC0415

        return cls(build_generator(config), build_discriminator(config), **model_kwargs(config))

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
        batch = tf.shape(inputs)[0]
        return self.generator([inputs] + [tf.tile(n[None], [batch, 1, 1, 1]) for n in self._const_noise(self.generator)],
                              training=training)

    # ------------------------------------------------------------------ training
    def _random_noise(self, batch_size):
        return [self.replica_rows(lambda n, s=shape: keras.random.normal((n,) + s, seed=self.seed_generator),
                                  batch_size) for shape in self.noise_shapes]

    def mixed_styles(self, mapping, batch_size, training=True):
        """``(ws, w)``: per-layer styles with style mixing (probability ``style_mixing_prob``)
        and the unmixed w of the first latent (for the running average)."""
        w = mapping(self.sample_latent(batch_size), training=training)
        ws = tf.repeat(w[:, None], self.num_ws, axis=1)
        if self.style_mixing_prob > 0:
            w2 = mapping(self.sample_latent(batch_size), training=training)
            mix = self.replica_rows(lambda n: keras.random.uniform((n,), seed=self.seed_generator), batch_size)
            cut = self.replica_rows(lambda n: keras.random.randint((n,), 1, max(self.num_ws, 2),
                                                                   seed=self.seed_generator, dtype="int32"),
                                    batch_size)
            cutoff = tf.where(mix < self.style_mixing_prob, cut, self.num_ws)
            first = tf.range(self.num_ws)[None, :] < cutoff[:, None]  # (batch, num_ws)
            ws = tf.where(first[:, :, None], ws, w2[:, None])
        return ws, w

    def train_step(self, data):
        real, _ = self.unpack(data)
        batch_size = tf.shape(real)[0]
        mapping, synthesis, D = self.mapping(self.generator), self.synthesis(self.generator), self.discriminator

        # 1. Discriminator: logistic loss; lazy R1 on reals every r1_interval steps.
        ws, _ = self.mixed_styles(mapping, batch_size)
        fake = synthesis([ws] + self._random_noise(batch_size), training=True)
        regularize = tf.equal(self.d_optimizer.iterations % self.r1_interval, 0)
        with tf.GradientTape() as tape:
            # D sees reals and fakes through the same augmentation (ADA / DiffAugment, if any);
            # R1 differentiates through it to the unaugmented reals, as StyleGAN2-ADA.
            real_logits = D(self.augment_images(real), training=True)
            fake_logits = D(self.augment_images(fake), training=True)
            d_loss = losses.discriminator_loss(self.loss_name, real_logits, fake_logits)
            total = d_loss
            r1 = tf.constant(0.0)
            if self.r1_gamma > 0:
                r1 = tf.cond(regularize, lambda: losses.r1_penalty(
                    lambda x: D(self.augment_images(x), training=True), real,
                    loss_scale=self.loss_scale(self.d_optimizer)),
                    lambda: tf.constant(0.0))
                total = d_loss + 0.5 * self.r1_gamma * self.r1_interval * r1
        self.apply_gradients(self.d_optimizer, tape, total, D.trainable_variables)
        self.observe_real_logits(real_logits)

        # 2. Generator: non-saturating loss on fresh (mixed) styles and fresh noise.
        with tf.GradientTape() as tape:
            ws, w = self.mixed_styles(mapping, batch_size)
            fake = synthesis([ws] + self._random_noise(batch_size), training=True)
            fake_logits, fm = self.generator_view(fake, real=real)
            g_loss = losses.generator_loss(self.loss_name, fake_logits) + self.feature_matching * fm
        self.apply_gradients(self.g_optimizer, tape, g_loss, self.generator.trainable_variables)
        w_mean = tf.reduce_mean(tf.cast(w, tf.float32), axis=0)
        self.w_avg.assign(w_mean + (self.w_avg - w_mean) * self.w_avg_beta)
        self.update_ema()

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.r1_tracker.update_state(r1, sample_weight=tf.cast(regularize, tf.float32))
        return self._metric_results()

    def test_step(self, data):
        """Validation: fakes from the sampling generator with random noise."""
        if not self.quality_metrics:
            return {}
        real, labels = self.unpack(data)
        batch_size = tf.shape(real)[0]
        net = self.sampling_generator()
        fake = net([self.sample_latent(batch_size)] + self._random_noise(batch_size), training=False)
        for metric in self.quality_metrics:
            metric.update_state(real, fake, labels)
        return {m.name: m.result() for m in self.quality_metrics}

    # ------------------------------------------------------------------ styles and noise
    def _latent_numpy(self, n: int, seed: Optional[int], truncation: Optional[float]):
        # Truncation happens in W (see styles()), so z is always a plain N(0, I) draw.
        return super()._latent_numpy(n, seed, None)

    def styles(self, z, truncation: Optional[float] = None, use_ema: bool = True, batch_size: int = 256) -> np.ndarray:
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

    def seed_styles(self, seeds: Sequence[int], truncation: Optional[float] = None, use_ema: bool = True) -> np.ndarray:
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
                     use_ema: bool = True) -> list:
        """One noise array per convolution for ``n`` images: each layer's fixed map
        (``const``), a fresh N(0, 1) draw (``random``; repeatable with ``noise_seed``) or zeros."""
        if noise not in NOISE_MODES:
            raise ValueError(f"noise must be one of {', '.join(NOISE_MODES)}, got {noise!r}")
        if noise == "const":
            return [np.repeat(keras.ops.convert_to_numpy(c)[None], n, axis=0)
                    for c in self._const_noise(self.sampling_generator(use_ema))]
        if noise == "none":
            return [np.zeros((n,) + s, np.float32) for s in self.noise_shapes]
        rng = np.random.default_rng(noise_seed)
        return [rng.standard_normal((n,) + s).astype(np.float32) for s in self.noise_shapes]

    def synthesize(self, ws, noise: Union[str, list] = "const", noise_seed: Optional[int] = None,
                   use_ema: bool = True, batch_size: int = 256) -> np.ndarray:
        """Images (float32 in [-1, 1]) for per-layer styles ``ws`` (n, num_ws, w_dim); ``noise``
        is a mode of :meth:`noise_inputs` or the list of noise arrays itself."""
        ws = np.asarray(ws, dtype=np.float32)
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.latent_dim):
            raise ValueError(f"styles must have shape (n, {self.num_ws}, {self.latent_dim}), got {ws.shape}")
        noises = self.noise_inputs(len(ws), noise, noise_seed, use_ema) if isinstance(noise, str) else noise
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
    def generate_from_latents(self, z, labels=None, batch_size: int = 256, use_ema: bool = True,
                              truncation: Optional[float] = None, noise: str = "const",
                              noise_seed: Optional[int] = None) -> np.ndarray:
        self.resolve_labels(len(np.asarray(z)), labels)
        ws = self.styles(z, truncation=truncation, use_ema=use_ema, batch_size=batch_size)
        return self.synthesize(ws, noise=noise, noise_seed=noise_seed, use_ema=use_ema, batch_size=batch_size)

    def generate(self, n: int, labels=None, seed: Optional[int] = None, truncation: Optional[float] = None,
                 batch_size: int = 256, use_ema: bool = True, noise: str = "const",
                 noise_seed: Optional[int] = None) -> np.ndarray:
        """``n`` images; ``truncation`` psi is applied in W (psi = 0: w_avg's image for every
        seed); ``noise`` as in :meth:`noise_inputs` (``random`` with ``noise_seed=None`` uses
        ``seed``)."""
        n = _check_count(n)
        z = self.latents(n, seed=seed, truncation=truncation)
        if noise == "random" and noise_seed is None:
            noise_seed = seed
        return self.generate_from_latents(z, labels, batch_size=batch_size, use_ema=use_ema, truncation=truncation,
                                          noise=noise, noise_seed=noise_seed)
