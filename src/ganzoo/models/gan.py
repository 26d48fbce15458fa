"""The classic GAN training scheme (Goodfellow et al. 2014) and its conditional form.

One discriminator step then one generator step per batch. The adversarial loss is chosen
by name, so this one class trains the vanilla MLP GAN, DCGAN (non-saturating), LSGAN
(least squares) and hinge GANs; R1 and one-sided label smoothing are options.
"""

from __future__ import annotations

from typing import Annotated, Optional

import keras
import numpy as np

from ganzoo import losses
from ganzoo.constraints import AtLeast, Interval, NonNegative
from ganzoo.models.base import NUM_CLASSES_MESSAGE, GANBase
from ganzoo.model_registry import register_model_class


@register_model_class
@keras.saving.register_keras_serializable(package="ganzoo")
class GAN(GANBase):
    """Unconditional GAN: ``D`` learns real = 1 / fake = 0, ``G`` learns to fool it.

    Args (besides :class:`GANBase`'s):
        label_smoothing: one-sided smoothing of D's real target (Salimans et al. 2016).
        r1_gamma: weight of the R1 penalty on real images (Mescheder et al. 2018); 0 = off.
    """

    #: GANBase arguments this class does not use (ConditionalGAN takes num_classes again).
    refused_settings = ("num_classes",)

    def __init__(self, generator, discriminator, label_smoothing: Annotated[float, Interval(0, 1, open_high=True)] = 0.0,
                 r1_gamma: Annotated[float, NonNegative()] = 0.0, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        if self.conditional and type(self) is GAN:
            raise ValueError("GAN is unconditional; use ConditionalGAN for a model with num_classes")
        self.label_smoothing = float(label_smoothing)
        self.r1_gamma = float(r1_gamma)
        if self.label_smoothing and self.loss_name not in losses.SMOOTHABLE_LOSSES:
            raise ValueError(f"label_smoothing does not apply to the '{self.loss_name}' loss")

    def get_config(self):
        config = super().get_config()
        config.update({"label_smoothing": self.label_smoothing, "r1_gamma": self.r1_gamma})
        return config

    def train_step(self, data):
        real, labels = self.unpack(data)
        labels = self._check_labels(labels)
        batch_size = keras.ops.shape(real)[0]
        G, D = self.generator, self.discriminator

        # 1. Discriminator: maximise log D(x) + log(1 - D(G(z))) (or the chosen loss). D sees
        #    real and fake images through the same augmentation (none unless configured).
        z = self.sample_latent(batch_size)
        fake_labels = self.sample_labels(batch_size) if self.conditional else None

        def discriminator_loss():
            fake = G(self.generator_inputs(z, fake_labels), training=True)
            real_logits = D(self.discriminator_inputs(self.augment_images(real), labels), training=True)
            fake_logits = D(self.discriminator_inputs(self.augment_images(fake), fake_labels), training=True)
            d_loss = losses.discriminator_loss(self.loss_name, real_logits, fake_logits,
                                               label_smoothing=self.label_smoothing)
            if self.r1_gamma > 0:
                critic = lambda x: D(self.discriminator_inputs(self.augment_images(x), labels),  # noqa: E731
                                     training=True)
                d_loss += 0.5 * self.r1_gamma * losses.r1_penalty(
                    critic, real, loss_scale=self.loss_scale(self.d_optimizer))
            return d_loss, real_logits

        d_loss, real_logits = self.descend(self.d_optimizer, discriminator_loss, D.trainable_variables)
        self.observe_real_logits(real_logits)

        # 2. Generator: a fresh z, push D(G(z)) towards "real" (+ feature matching if configured).
        z = self.sample_latent(batch_size)
        fake_labels = self.sample_labels(batch_size) if self.conditional else None

        def generator_loss():
            fake = G(self.generator_inputs(z, fake_labels), training=True)
            fake_logits, fm = self.generator_view(fake, fake_labels, real, labels)
            return losses.generator_loss(self.loss_name, fake_logits) + self.feature_matching * fm

        g_loss, _ = self.descend(self.g_optimizer, generator_loss, G.trainable_variables)
        self.update_ema(self.generator_inputs(z, fake_labels))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return self._metric_results()


@register_model_class
@keras.saving.register_keras_serializable(package="ganzoo")
class ConditionalGAN(GAN):
    """Class-conditional GAN (Mirza & Osindero 2014): G and D both see the label.

    Trains exactly like :class:`GAN` (its ``train_step``) with labels threaded through:
    real images with their dataset labels, fakes with labels drawn uniformly. How D uses
    the label (an extra input channel, or a projection head as in Miyato & Koyama 2018) is
    a property of the discriminator network, chosen in the config.
    """

    def __init__(self, generator, discriminator,
                 num_classes: Annotated[Optional[int], AtLeast(2, message=NUM_CLASSES_MESSAGE)] = None, **kwargs):
        if num_classes is None:
            raise ValueError("ConditionalGAN needs num_classes (e.g. 10 for MNIST)")
        super().__init__(generator, discriminator, num_classes=num_classes, **kwargs)

    @staticmethod
    def check_config(config, fail):
        """A conditional model needs its number of classes."""
        if config.model.num_classes is None:
            fail("model.num_classes", "ConditionalGAN needs num_classes (e.g. 10 for MNIST)")

    def interpolate_classes(self, start_label: int, end_label: int, steps: int = 8, seed: int = 0,
                            use_ema: Optional[bool] = None):
        """Images morphing from one class into another for one fixed latent (``steps`` frames):
        the learned label embeddings are mixed linearly and fed to the generator's trunk."""
        self.resolve_labels(2, [start_label, end_label])
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise ValueError(f"steps must be an integer >= 2, got {steps!r}")
        net = self.sampling_generator(use_ema)
        try:
            table = keras.ops.convert_to_numpy(net.get_layer("label_embedding").embeddings)
            trunk = net.get_layer("trunk")
        except ValueError:
            raise ValueError("class interpolation needs a ganzoo generator (label_embedding -> trunk)") from None
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        mixed = (1.0 - t) * table[start_label] + t * table[end_label]
        z = np.repeat(self.latents(1, seed=seed), steps, axis=0)
        return keras.ops.convert_to_numpy(trunk([z, mixed], training=False)).astype(np.float32)
