"""A new GAN for the zoo in one file: the relativistic average GAN (Jolicoeur-Martineau 2019).

A standard discriminator judges each image alone ("is this real?"). A relativistic average
discriminator judges it against the other kind ("is this more real than the average
fake?"), so the generator's loss also pushes real images' scores down: both halves of the
batch carry gradient to G. Any adversarial loss of ganzoo.losses gets this form by feeding it
relativistic logits; with ``non_saturating`` it is RaSGAN, with ``hinge`` RaHingeGAN.

Use it (examples/README.md, the README's "Add a new GAN")::

    import relativistic_gan, ganzoo             # the import registers model.cls: RelativisticGAN
    model = ganzoo.load("examples/ragan_mnist.yaml")
"""

import keras
from keras import ops

from ganzoo import losses
from ganzoo.models import GAN
from ganzoo.registry import register_model_class

#: Losses with a relativistic form here (a Wasserstein critic needs a Lipschitz constraint instead).
RELATIVISTIC_LOSSES = ("minimax", "non_saturating", "least_squares", "hinge")


def relativistic_average_logits(real_logits, fake_logits):
    """``(C(x_r) - mean C(x_f), C(x_f) - mean C(x_r))``: how much more real each image looks
    than the average image of the other kind (means over the replica's batch)."""
    real_logits, fake_logits = ops.cast(real_logits, "float32"), ops.cast(fake_logits, "float32")
    return real_logits - ops.mean(fake_logits), fake_logits - ops.mean(real_logits)


def relativistic_discriminator_loss(name, real_logits, fake_logits):
    """D's loss: the loss ``name`` on relativistic logits (reals above average fakes)."""
    real_rel, fake_rel = relativistic_average_logits(real_logits, fake_logits)
    return losses.discriminator_loss(name, real_rel, fake_rel)


def relativistic_generator_loss(name, real_logits, fake_logits):
    """G's loss: D's with the roles swapped (fakes above average reals, reals below fakes)."""
    real_rel, fake_rel = relativistic_average_logits(real_logits, fake_logits)
    return losses.discriminator_loss(name, fake_rel, real_rel)


@register_model_class  # model.cls: RelativisticGAN, for configs and ganzoo.load
@keras.saving.register_keras_serializable(package="ganzoo_examples")  # for keras.saving.load_model
class RelativisticGAN(GAN):
    """Unconditional relativistic average GAN; constructor and config are :class:`GAN`'s."""

    def __init__(self, generator, discriminator, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        if self.conditional:
            raise ValueError("RelativisticGAN is unconditional: remove model.num_classes")
        if self.loss_name not in RELATIVISTIC_LOSSES:
            raise ValueError(f"RelativisticGAN takes model.loss in {', '.join(RELATIVISTIC_LOSSES)}, "
                             f"got '{self.loss_name}'")
        if self.label_smoothing or getattr(self, "augment_pipe", None) is not None:
            raise ValueError("this example implements neither label smoothing nor augmentation")

    def train_step(self, data):
        real, _ = self.unpack(data)
        batch_size = ops.shape(real)[0]
        G, D = self.generator, self.discriminator

        # 1. Discriminator: real images should score above the average fake, fakes below the average real.
        z = self.sample_latent(batch_size)

        def discriminator_loss():
            real_logits = D(real, training=True)
            fake_logits = D(G(z, training=True), training=True)
            d_loss = relativistic_discriminator_loss(self.loss_name, real_logits, fake_logits)
            if self.r1_gamma > 0:
                d_loss += 0.5 * self.r1_gamma * losses.r1_penalty(
                    lambda x: D(x, training=True), real, loss_scale=self.loss_scale(self.d_optimizer))
            return d_loss

        d_loss, _ = self.descend(self.d_optimizer, discriminator_loss, D.trainable_variables)

        # 2. Generator: a fresh z; unlike a standard GAN, G's loss also sees D's scores of the reals.
        z = self.sample_latent(batch_size)

        def generator_loss():
            return relativistic_generator_loss(self.loss_name, D(real, training=True),
                                               D(G(z, training=True), training=True))

        g_loss, _ = self.descend(self.g_optimizer, generator_loss, G.trainable_variables)
        self.update_ema(z)  # the EMA generator (model.ema_decay) tracks its own batch-norm statistics on z

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return self._metric_results()
