"""Wasserstein GAN (Arjovsky et al. 2017) and WGAN-GP (Gulrajani et al. 2017).

One ``train_step`` is one generator iteration of the papers' Algorithm 1: the batch holds
``n_critic`` minibatches; the critic takes one update on each (fresh z every time), with
weight clipping (WGAN) and/or the gradient penalty on random interpolates (WGAN-GP), then
the generator takes one update. ``ganzoo.load_dataset`` batches WGAN entries with
``batch_size * n_critic`` images for this reason. The critic loop is a Python loop over the
config's ``n_critic``: traced once, it unrolls into ``n_critic`` updates inside the step (a
``tf.function`` or JAX's jitted step alike).
"""

from __future__ import annotations

from typing import Annotated, Optional

import keras
from keras import ops

from ganzoo import losses
from ganzoo.constraints import NonNegative, Positive
from ganzoo.models.base import GANBase
from ganzoo.model_registry import register_model_class


@register_model_class
@keras.saving.register_keras_serializable(package="ganzoo")
class WassersteinGAN(GANBase):
    """Critic/generator training with the Wasserstein loss.

    Args (besides :class:`GANBase`'s):
        n_critic: critic updates per generator update (5 in both papers).
        clip_value: clip every critic weight to [-c, c] after each update (WGAN: 0.01).
        gradient_penalty: lambda of the gradient penalty (WGAN-GP: 10).
        drift: weight of the drift term eps * E[D(x)^2] (Karras et al. 2018); 0 = off.
    """

    @classmethod
    def batches_per_step(cls, config) -> int:
        """``model.n_critic``: each critic update takes a minibatch of its own."""
        return int(config.model.n_critic)

    def __init__(self, generator, discriminator, n_critic: Annotated[int, Positive()] = 5,
                 clip_value: Annotated[Optional[float], Positive()] = None,
                 gradient_penalty: Annotated[float, NonNegative()] = 0.0, drift: Annotated[float, NonNegative()] = 0.0,
                 loss: str = "wasserstein", **kwargs):
        if loss != "wasserstein":
            raise ValueError(f"WassersteinGAN trains with the 'wasserstein' loss, got '{loss}'")
        super().__init__(generator, discriminator, loss=loss, **kwargs)
        if clip_value is None and not gradient_penalty:
            raise ValueError("a WassersteinGAN needs clip_value (WGAN) or gradient_penalty (WGAN-GP)")
        self.n_critic = int(n_critic)
        self.clip_value = None if clip_value is None else float(clip_value)
        self.gradient_penalty = float(gradient_penalty)
        self.drift = float(drift)
        self.gp_tracker = keras.metrics.Mean(name="gp")
        self.wd_tracker = keras.metrics.Mean(name="wasserstein_distance")

    @staticmethod
    def check_config(config, fail):
        """A critic with the Wasserstein loss, under a Lipschitz constraint that batch norm does not break."""
        m = config.model
        if m.loss != "wasserstein":
            fail("model.loss", "WassersteinGAN trains a critic with the 'wasserstein' loss")
        if m.clip_value is None and m.gradient_penalty == 0:
            fail("model.clip_value", "a WassersteinGAN needs a Lipschitz constraint: set clip_value "
                 "(WGAN) or gradient_penalty (WGAN-GP)")
        if m.gradient_penalty > 0 and config.discriminator.norm == "batch":
            fail("discriminator.norm", "batch norm breaks the per-example gradient penalty "
                 "(Gulrajani et al. 2017, sec. 4); use 'layer' or 'none'")

    def get_config(self):
        config = super().get_config()
        config.update({"n_critic": self.n_critic, "clip_value": self.clip_value,
                       "gradient_penalty": self.gradient_penalty, "drift": self.drift})
        return config

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.wd_tracker]
        return trackers + ([self.gp_tracker] if self.gradient_penalty else [])

    def _split_batch(self, real, labels):
        batch = real.shape[0]
        if batch is not None and batch % self.n_critic:
            raise ValueError(f"WassersteinGAN with n_critic={self.n_critic} takes n_critic minibatches per step, "
                             f"but got a batch of {batch}; batch the dataset with batch_size * n_critic images "
                             f"(ganzoo.load_dataset does this)")
        if batch is None:
            # Only a TensorFlow graph has an unknown batch size (a dataset batched without
            # drop_remainder); on JAX every shape is concrete and the check above applies.
            import tensorflow as tf
            tf.debugging.assert_equal(
                tf.shape(real)[0] % self.n_critic, 0,
                message=f"WassersteinGAN with n_critic={self.n_critic} takes n_critic minibatches per step: "
                        f"batch the dataset with batch_size * n_critic images (ganzoo.load_dataset does this)")
        # Strided, not contiguous: minibatch k is rows k, k + n_critic, ... Under tf.distribute
        # each replica holds a contiguous block of the global batch, and this split gives every
        # critic update the same examples as on one device (tests/test_distribute.py).
        reals = [real[k::self.n_critic] for k in range(self.n_critic)]
        label_parts = ([labels[k::self.n_critic] for k in range(self.n_critic)] if labels is not None
                       else [None] * self.n_critic)
        return reals, label_parts

    def train_step(self, data):
        real, labels = self.unpack(data)
        labels = self._check_labels(labels)
        G, D = self.generator, self.discriminator
        reals, real_labels = self._split_batch(real, labels)

        # 1. n_critic critic updates, one minibatch each: maximise D(x) - D(G(z)). A Python loop
        #    over the config's n_critic: the traced step holds n_critic critic updates in a row.
        for real_mb, labels_mb in zip(reals, real_labels):
            batch_size = ops.shape(real_mb)[0]
            z = self.sample_latent(batch_size)
            fake_labels = self.sample_labels(batch_size) if self.conditional else None

            def critic_loss(real_mb=real_mb, labels_mb=labels_mb, z=z, fake_labels=fake_labels,
                            batch_size=batch_size):
                fake = G(self.generator_inputs(z, fake_labels), training=True)
                # What the critic sees (augmented when configured; the penalty acts there too).
                real_in, fake_in = self.augment_images(real_mb), self.augment_images(fake)
                real_logits = D(self.discriminator_inputs(real_in, labels_mb), training=True)
                fake_logits = D(self.discriminator_inputs(fake_in, fake_labels), training=True)
                d_loss = losses.wasserstein_discriminator_loss(real_logits, fake_logits)
                gp = None
                if self.gradient_penalty:
                    # Interpolates of a real and a fake of the same class: real labels for both.
                    critic = lambda x: D(self.discriminator_inputs(x, labels_mb), training=True)  # noqa: E731
                    gp = losses.wasserstein_gradient_penalty(
                        critic, real_in, fake_in,
                        alpha=self.sample_interpolation_weights(batch_size, len(real_mb.shape)),
                        loss_scale=self.loss_scale(self.d_optimizer))
                    d_loss += self.gradient_penalty * gp
                if self.drift:
                    d_loss += self.drift * ops.mean(ops.square(ops.cast(real_logits, "float32")))
                return d_loss, (real_logits, fake_logits, gp)

            d_loss, (real_logits, fake_logits, gp) = self.descend(self.d_optimizer, critic_loss,
                                                                  D.trainable_variables)
            self.observe_real_logits(real_logits)
            if self.clip_value is not None:
                losses.clip_weights(D.trainable_variables, self.clip_value)
            if gp is not None:
                self.gp_tracker.update_state(gp)
            self.d_loss_tracker.update_state(d_loss)
            self.wd_tracker.update_state(ops.mean(real_logits) - ops.mean(fake_logits))

        # 2. One generator update: maximise D(G(z)).
        batch_size = ops.shape(reals[0])[0]
        z = self.sample_latent(batch_size)
        fake_labels = self.sample_labels(batch_size) if self.conditional else None

        def generator_loss():
            fake = G(self.generator_inputs(z, fake_labels), training=True)
            fake_logits, fm = self.generator_view(fake, fake_labels, reals[0], real_labels[0])
            return losses.wasserstein_generator_loss(fake_logits) + self.feature_matching * fm

        g_loss, _ = self.descend(self.g_optimizer, generator_loss, G.trainable_variables)
        self.update_ema(self.generator_inputs(z, fake_labels))
        self.g_loss_tracker.update_state(g_loss)
        return self._metric_results()
