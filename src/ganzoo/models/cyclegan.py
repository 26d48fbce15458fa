"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation between domains A and B.

Two generators, G: A -> B (``generator_ab``) and F: B -> A (``generator_ba``), and two
discriminators, D_A (is this a real A?) and D_B. One ``train_step`` follows the reference
code: first both generators (one optimizer over G and F) minimise

    adversarial(D_B(G(a))) + adversarial(D_A(F(b)))
    + cycle_weight * (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)
    + identity_weight * (|G(b) - b|_1 + |F(a) - a|_1),

then both discriminators (one optimizer over D_A and D_B) learn real = 1 against fakes drawn
from an :class:`~ganzoo.models.image_pool.ImagePool` of past fakes. With the least-squares
loss (the paper's), D minimises 0.5 * [(D(x) - 1)^2 + D(fake)^2] and G minimises
(D(G(x)) - 1)^2.
"""

from __future__ import annotations

from typing import Annotated, Optional, Sequence

import keras
import numpy as np
from keras import ops

from ganzoo import losses
from ganzoo.constraints import NonNegative
from ganzoo.models.image2image import ImageToImageModel
from ganzoo.models.image_pool import ImagePool
from ganzoo.model_registry import register_model_class


@register_model_class
@keras.saving.register_keras_serializable(package="ganzoo")
class CycleGAN(ImageToImageModel):
    """Unpaired translation; ``fit`` on ``(a, b)`` batches, ``translate(images, "a2b")`` afterwards.

    Args:
        generator_ab, generator_ba: fully convolutional A -> B and B -> A networks (tanh output).
        discriminator_a, discriminator_b: images -> logits (a PatchGAN map or one per image).
        image_shape: shape of the training crops (the image pools store fakes of this shape).
        loss: adversarial loss name in :mod:`ganzoo.losses` (paper: ``least_squares``).
        cycle_weight: lambda of the cycle-consistency terms (paper: 10).
        identity_weight: weight of the identity terms (paper: 0.5 * lambda = 5; 0 = off).
        pool_size: images in each pool of past fakes (paper: 50; 0 = off).
        domains: names of domain A and B; ``translate`` accepts ``"<a>2<b>"`` / ``"<b>2<a>"``.
    """

    data_kind = "unpaired_ab"
    #: Built from ResNet generators and PatchGAN discriminators (``ganzoo.networks.cyclegan``).
    network_archs = ("resnet", "patchgan")
    network_keys = ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b")
    config_arguments = {"image_shape": "data.image_shape"}
    loss_names = ("g_loss", "d_loss", "adversarial_loss", "cycle_loss", "identity_loss")

    def __init__(self, generator_ab, generator_ba, discriminator_a, discriminator_b, image_shape=(256, 256, 3),
                 loss: str = "least_squares", cycle_weight: Annotated[float, NonNegative()] = 10.0,
                 identity_weight: Annotated[float, NonNegative()] = 5.0, pool_size: Annotated[int, NonNegative()] = 50,
                 domains: Sequence[str] = ("a", "b"), **kwargs):
        super().__init__(**kwargs)
        self.generator_ab = generator_ab
        self.generator_ba = generator_ba
        self.discriminator_a = discriminator_a
        self.discriminator_b = discriminator_b
        losses.get_loss(loss)
        if loss == "wasserstein":
            raise ValueError("CycleGAN has no Lipschitz constraint for a Wasserstein critic; use least_squares")
        self.loss_name = loss
        self.image_shape = tuple(int(d) for d in image_shape)
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        self.pool_size = int(pool_size)
        domains = [str(d) for d in domains]
        if len(domains) != 2 or domains[0] == domains[1] or any("2" in d or not d for d in domains):
            raise ValueError(f"domains must be two different names without '2', got {domains}")
        self.domains = domains
        seed = self.seed
        self.pool_a = ImagePool(self.pool_size, self.image_shape, seed=seed, name="pool_a")
        self.pool_b = ImagePool(self.pool_size, self.image_shape, seed=None if seed is None else seed + 1,
                                name="pool_b")
        self.built = True

    @staticmethod
    def check_config(config, fail):
        """Crops the networks can halve, and two domain names that ``translate`` can tell apart."""
        m, data = config.model, config.data
        if data.image_size % 4 or data.image_size < 16:
            fail("data.image_size", f"the CycleGAN generator downsamples twice and the PatchGAN "
                 f"three times: use a multiple of 4 of at least 16 (paper: 256), got {data.image_size}")
        if len(m.domains) != 2 or len(set(m.domains)) != 2 or not all(
                n and n.replace("_", "").isalnum() and "2" not in n for n in m.domains):
            fail("model.domains", f"must be two different names of letters (no '2', it separates "
                 f"directions such as photo2painting), got {m.domains}")

    def get_config(self):
        config = super().get_config()
        config.update({"image_shape": list(self.image_shape), "loss": self.loss_name,
                       "cycle_weight": self.cycle_weight, "identity_weight": self.identity_weight,
                       "pool_size": self.pool_size, "domains": list(self.domains)})
        return config

    def generator_variables(self) -> list:
        return self.generator_ab.trainable_variables + self.generator_ba.trainable_variables

    def discriminator_variables(self) -> list:
        return self.discriminator_a.trainable_variables + self.discriminator_b.trainable_variables

    def call(self, images, training=False):
        """``model(a)`` translates a batch from A to B (no tiling; see :meth:`translate`)."""
        return self.generator_ab(images, training=training)

    # ------------------------------------------------------------------ losses
    def adversarial_term(self, fake_logits):
        """G's adversarial loss; the paper's least-squares G objective is (D(G(x)) - 1)^2, while
        ``ganzoo.losses`` carries Mao et al.'s 1/2, hence the factor 2 (keeps lambda = 10 on the
        paper's scale)."""
        scale = 2.0 if self.loss_name == "least_squares" else 1.0
        return scale * losses.generator_loss(self.loss_name, fake_logits)

    def cycle_loss(self, real_a, real_b, training=False):
        """|F(G(a)) - a|_1 + |G(F(b)) - b|_1 (unweighted)."""
        G, F = self.generator_ab, self.generator_ba
        return (losses.mean_absolute_error(real_a, F(G(real_a, training=training), training=training))
                + losses.mean_absolute_error(real_b, G(F(real_b, training=training), training=training)))

    # ------------------------------------------------------------------ training
    def train_step(self, data):
        real_a, real_b = data
        G, F = self.generator_ab, self.generator_ba
        D_a, D_b = self.discriminator_a, self.discriminator_b

        # 1. Generators: fool both discriminators, close both cycles, keep the identity.
        def generator_loss():
            fake_b = G(real_a, training=True)
            fake_a = F(real_b, training=True)
            adversarial = (self.adversarial_term(D_b(fake_b, training=True))
                           + self.adversarial_term(D_a(fake_a, training=True)))
            cycle = (losses.mean_absolute_error(real_a, F(fake_b, training=True))
                     + losses.mean_absolute_error(real_b, G(fake_a, training=True)))
            g_loss = adversarial + self.cycle_weight * cycle
            if self.identity_weight > 0:
                identity = (losses.mean_absolute_error(real_b, G(real_b, training=True))
                            + losses.mean_absolute_error(real_a, F(real_a, training=True)))
                g_loss += self.identity_weight * identity
            else:
                identity = ops.zeros_like(cycle)
            return g_loss, (fake_a, fake_b, adversarial, cycle, identity)

        g_loss, (fake_a, fake_b, adversarial, cycle, identity) = self.descend(
            self.g_optimizer, generator_loss, self.generator_variables())

        # 2. Discriminators: real = 1 against fakes from the pools of past fakes (the pools'
        #    buffers and fill counts are variables, updated here).
        pooled_a = self.pool_a(ops.stop_gradient(fake_a))
        pooled_b = self.pool_b(ops.stop_gradient(fake_b))

        def discriminator_loss():
            return (losses.discriminator_loss(self.loss_name, D_a(real_a, training=True), D_a(pooled_a, training=True))
                    + losses.discriminator_loss(self.loss_name, D_b(real_b, training=True),
                                                D_b(pooled_b, training=True)))

        d_loss, _ = self.descend(self.d_optimizer, discriminator_loss, self.discriminator_variables())
        return self.record(g_loss=g_loss, d_loss=d_loss, adversarial_loss=adversarial, cycle_loss=cycle,
                           identity_loss=identity)

    # ------------------------------------------------------------------ inference
    def sampling_generator(self):
        """What ships as pretrained weights: both generators in one model (``ganzoo/pretrained/<entry>.weights.h5``;
        the cycle, A -> B -> A, needs both directions). Its weights are those of ``generator_ab`` and
        ``generator_ba``, so loading into it loads them."""
        return _GeneratorPair(self.generator_ab, self.generator_ba, name=f"{self.name}_generators")

    def preview_images(self, batch) -> list:
        """Rows of a progress grid for an ``(a, b)`` batch: A, G(A), B, F(B)."""
        a, b = (np.asarray(x, np.float32) for x in batch)
        name_a, name_b = self.domains
        return [(name_a, a), (f"{name_a}2{name_b}", keras.ops.convert_to_numpy(self.generator_ab(a, training=False))),
                (name_b, b), (f"{name_b}2{name_a}", keras.ops.convert_to_numpy(self.generator_ba(b, training=False)))]

    @property
    def directions(self) -> dict:
        """Accepted ``direction`` names -> generator."""
        a, b = self.domains
        return {"a2b": self.generator_ab, "b2a": self.generator_ba, f"{a}2{b}": self.generator_ab,
                f"{b}2{a}": self.generator_ba}

    def generator_for(self, direction: str):
        """The generator of a direction name (``a2b``, ``photo2painting``, ...); ValueError listing the valid ones."""
        try:
            return self.directions[direction]
        except KeyError:
            raise ValueError(f"unknown direction '{direction}' for this {self.domains[0]}/{self.domains[1]} "
                             f"model; use one of {', '.join(self.directions)}") from None

    def translate(self, images, direction: str = "a2b", tile: Optional[int] = None, overlap: int = 64,
                  batch_size: int = 4) -> np.ndarray:
        """Translate images of any size: float32 in [-1, 1], same shape as the input.

        ``images``: uint8 or float [-1, 1], (H, W, 3) or (N, H, W, 3). Sides are reflect-padded
        to a multiple of 4 and cropped back. By default each image runs whole (instance
        normalisation sees the whole picture); ``tile`` bounds memory for very large images
        (each tile then has its own normalisation statistics, blended across ``overlap``).
        """
        network = self.generator_for(direction)
        # Two stride-2 convolutions, then mirror padding of 1: sides must be multiples of 4, >= 8.
        return self.run_network(network, images, tile, overlap, scale=1, multiple=4, min_size=8,
                                batch_size=batch_size)


class _GeneratorPair(keras.Model):
    """G and F as one model (the weights file of a pretrained CycleGAN); ``(a, b) -> (G(a), F(b))``."""

    def __init__(self, generator_ab, generator_ba, **kwargs):
        super().__init__(**kwargs)
        self.generator_ab = generator_ab
        self.generator_ba = generator_ba
        self.built = True

    def call(self, inputs, training=False):
        a, b = inputs
        return self.generator_ab(a, training=training), self.generator_ba(b, training=training)


__all__ = ["CycleGAN"]
