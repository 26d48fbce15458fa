"""SRGAN (Ledig et al. 2017): photo-realistic single-image super-resolution.

Two phases in one ``train_step``, switched inside the step by the generator optimizer's step counter (saved
with the model, so a resumed run continues in the right phase):

1. ``pretrain_steps`` steps of SRResNet training: minimise the pixel MSE between G(LR) and HR.
2. Adversarial training: D learns real HR crops = 1, G(LR) = 0; G minimises
   ``content_weight * content + adversarial_weight * adversarial``, the content loss being
   the MSE between VGG19 features (VGG54, scaled by 1/12.75 as in the paper) or, with
   ``content_loss="pixel"``, between pixels.
"""

from __future__ import annotations

from typing import Annotated, Optional

import keras
import numpy as np
from keras import ops

from ganzoo import losses
from ganzoo.constraints import NonNegative, OneOf
from ganzoo import seam
from ganzoo.models.image2image import ImageToImageModel
from ganzoo.model_registry import register_model_class

#: ImageNet mean of VGG's BGR input ("caffe" preprocessing of keras.applications.vgg19).
VGG_MEAN_BGR = (103.939, 116.779, 123.68)
#: Ledig et al. 2017: VGG feature maps are rescaled by 1/12.75 "to obtain VGG losses of a
#: scale that is comparable to the MSE loss".
VGG_FEATURE_SCALE = 1.0 / 12.75
CONTENT_LOSSES = ("vgg", "pixel")
#: Upscaling factors of the SRResNet generator (pixel-shuffle upsampling by 2s, or one 3).
SR_SCALES = (2, 3, 4, 8)


@register_model_class
@keras.saving.register_keras_serializable(package="ganzoo")
class SRGAN(ImageToImageModel):
    """Super-resolution GAN; ``fit`` on ``(lr, hr)`` batches, ``upscale(images)`` afterwards.

    Args:
        generator: fully convolutional LR -> HR network (``scale`` times larger), tanh output.
        discriminator: HR crop -> one logit.
        feature_extractor: VGG19 features for the ``vgg`` content loss (None for ``pixel``).
        scale: upscaling factor of the generator.
        loss: adversarial loss name in :mod:`ganzoo.losses` (paper: ``non_saturating``).
        content_loss: ``vgg`` or ``pixel``.
        content_weight, adversarial_weight: weights of G's two terms (paper: 1 and 1e-3).
        pretrain_steps: generator steps of pixel-MSE pre-training before the adversarial phase.
    """

    data_kind = "paired_lr_hr"
    #: Built from an SRResNet generator and the SRGAN discriminator (``ganzoo.networks.srresnet``).
    network_archs = ("srresnet", "srgan")
    network_keys = ("generator", "discriminator", "feature_extractor")
    config_arguments = {"scale": "data.scale"}
    loss_names = ("g_loss", "d_loss", "pixel_loss", "content_loss", "adversarial_loss")

    def __init__(self, generator, discriminator, feature_extractor=None, scale: int = 4,
                 loss: str = "non_saturating", content_loss: Annotated[str, OneOf(CONTENT_LOSSES)] = "vgg",
                 content_weight: Annotated[float, NonNegative()] = 1.0,
                 adversarial_weight: Annotated[float, NonNegative()] = 1e-3,
                 pretrain_steps: Annotated[int, NonNegative()] = 0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.feature_extractor = feature_extractor
        losses.get_loss(loss)
        if content_loss == "vgg" and feature_extractor is None:
            raise ValueError("the 'vgg' content loss needs a feature_extractor (ganzoo.networks.srresnet."
                             "build_vgg19_features); or use content_loss='pixel'")
        self.scale = int(scale)
        self.loss_name = loss
        self.content_loss = content_loss
        self.content_weight = float(content_weight)
        self.adversarial_weight = float(adversarial_weight)
        self.pretrain_steps = int(pretrain_steps)
        self._check_scale()
        self.built = True

    @staticmethod
    def check_config(config, fail):
        """An upscaling factor the generator has, and HR crops it divides."""
        data = config.data
        if data.scale not in SR_SCALES:
            fail("data.scale", f"must be one of {', '.join(map(str, SR_SCALES))} (pixel-shuffle "
                 f"upsampling by 2s, or one 3), got {data.scale}")
        if data.image_size % data.scale or data.image_size // data.scale < 2:
            fail("data.image_size", f"the HR crop ({data.image_size}) must be a multiple of data.scale "
                 f"({data.scale}) with an LR crop of at least 2 pixels (SRGAN: 96 at x4)")

    def _check_scale(self):
        probe = keras.ops.convert_to_numpy(self.generator(np.zeros((1, 3, 5, self.channels), np.float32)))
        if probe.shape[1:3] != (3 * self.scale, 5 * self.scale):
            raise ValueError(f"the generator maps 3x5 images to {probe.shape[1]}x{probe.shape[2]}, "
                             f"not x{self.scale}")

    @property
    def discriminator_training(self) -> bool:
        """False until D's first step: during pixel pre-training D rests and ``d_loss`` is not
        measured (ganzoo.guard then skips its collapse check)."""
        return self.d_optimizer is not None and int(self.d_optimizer.iterations.numpy()) > 0

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "loss": self.loss_name, "content_loss": self.content_loss,
                       "content_weight": self.content_weight, "adversarial_weight": self.adversarial_weight,
                       "pretrain_steps": self.pretrain_steps})
        return config

    def call(self, lr, training=False):
        """``model(lr)`` upscales a batch (no tiling; see :meth:`upscale` for any size)."""
        return self.generator(lr, training=training)

    # ------------------------------------------------------------------ losses
    def vgg_features(self, images):
        """VGG19 features of images in [-1, 1], scaled by 1/12.75."""
        x = (ops.cast(images, "float32") + 1.0) * 127.5
        x = ops.flip(x, axis=-1) - ops.convert_to_tensor(VGG_MEAN_BGR, "float32")
        return self.feature_extractor(x, training=False) * VGG_FEATURE_SCALE

    def content_term(self, hr, sr):
        """The content loss between HR and SR images: pixel MSE, or MSE of the VGG19 features
        (``vgg_features``, the paper's VGG54 by default).
        """
        if self.content_loss == "pixel":
            return losses.mean_squared_error(hr, sr)
        return losses.mean_squared_error(self.vgg_features(hr), self.vgg_features(sr))

    # ------------------------------------------------------------------ training
    def train_step(self, data):
        lr, hr = data
        if self.pretrain_steps:
            # The phase is read from a variable inside the step (the generator optimizer's step
            # count), never from Python state: one traced step holds both phases.
            pretraining = self.g_optimizer.iterations < self.pretrain_steps
            pixel, content, adversarial, d_loss, g_loss, adv_on = seam.cond(
                pretraining, lambda: self._pretrain_step(lr, hr), lambda: self._adversarial_step(lr, hr))
        else:
            pixel, content, adversarial, d_loss, g_loss, adv_on = self._adversarial_step(lr, hr)
        # d_loss / adversarial_loss are not measured while pre-training: weight 0.
        return self.record(weights={"d_loss": adv_on, "adversarial_loss": adv_on},
                           g_loss=g_loss, d_loss=d_loss, pixel_loss=pixel, content_loss=content,
                           adversarial_loss=adversarial)

    def _pretrain_step(self, lr, hr):
        """SRResNet: G alone, pixel MSE."""
        def pixel_loss():
            return losses.mean_squared_error(hr, self.generator(lr, training=True))

        pixel, _ = self.descend(self.g_optimizer, pixel_loss, self.generator_variables())
        zero = ops.zeros_like(pixel)
        return pixel, pixel, zero, zero, pixel, zero

    def _adversarial_step(self, lr, hr):
        G, D = self.generator, self.discriminator

        def generator_loss():
            # One forward pass of G (its batch-norm statistics move once per step) serves both
            # updates: D's step is taken inside G's loss, on the super-resolved images as
            # constants, so G's gradient does not reach through D's update.
            sr = G(lr, training=True)
            fake = ops.stop_gradient(sr)

            # 1. D: real HR crops -> 1, super-resolved -> 0.
            def discriminator_loss():
                return losses.discriminator_loss(self.loss_name, D(hr, training=True), D(fake, training=True))

            d_loss, _ = self.descend(self.d_optimizer, discriminator_loss, self.discriminator_variables())
            # 2. G: perceptual loss = content + 1e-3 * adversarial (against the updated D).
            adversarial = losses.generator_loss(self.loss_name, D(sr, training=True))
            content = self.content_term(hr, sr)
            g_loss = self.content_weight * content + self.adversarial_weight * adversarial
            return g_loss, (sr, d_loss, content, adversarial)

        g_loss, (sr, d_loss, content, adversarial) = self.descend(self.g_optimizer, generator_loss,
                                                                  self.generator_variables())
        pixel = losses.mean_squared_error(hr, sr)
        return pixel, content, adversarial, d_loss, g_loss, ops.ones_like(pixel)

    # ------------------------------------------------------------------ inference
    def preview_images(self, batch) -> list:
        """Rows of a progress grid for an ``(lr, hr)`` batch: bicubic, SR, HR (all HR size)."""
        lr, hr = (np.asarray(x, np.float32) for x in batch)
        sr = keras.ops.convert_to_numpy(self.generator(lr, training=False))
        bicubic = np.clip(keras.ops.convert_to_numpy(ops.image.resize(lr, sr.shape[1:3], interpolation="bicubic")),
                          -1.0, 1.0)
        return [("bicubic", bicubic), ("sr", sr), ("hr", hr)]

    def upscale(self, images, tile: Optional[int] = 128, overlap: int = 32, batch_size: int = 4) -> np.ndarray:
        """Upscale images of any size by ``scale``: float32 in [-1, 1], (H*s, W*s, 3) per image.

        ``images``: uint8 or float [-1, 1], one (H, W, 3) or a batch (N, H, W, 3). Images larger
        than ``tile`` LR pixels are processed in overlapping tiles blended without seams
        (:mod:`ganzoo.tiling`); ``tile=None`` runs each image whole.
        """
        return self.run_network(self.generator, images, tile, overlap, scale=self.scale, batch_size=batch_size)


__all__ = ["SRGAN"]
