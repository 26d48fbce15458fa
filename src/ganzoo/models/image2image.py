"""What the image-to-image models (SRGAN, CycleGAN) share: serialisation of their named
networks, loss trackers, and running a generator on user images of any size.

They are not :class:`~ganzoo.models.base.GANBase` subclasses: there is no latent space and
no ``generate(n)``; their data are image pairs and their output a transformed image. The
optimizer plumbing (``compile(g_optimizer, d_optimizer)``, saved with the model) is the
same :class:`~ganzoo.models.base.AdversarialModel`.
"""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np

from ganzoo.models.adversarial import AdversarialModel, deserialize as _deserialize, serialize as _serialize
from ganzoo.tiling import tiled_apply


class ImageToImageModel(AdversarialModel):
    """Base of the image-to-image models (no ``train_step`` here).

    Subclasses list their sub-networks in ``network_keys`` (constructor arguments, serialized
    with ``keras.saving``) and their loss names in ``loss_names`` (one ``keras.metrics.Mean``
    each, exposed through ``metrics`` so Keras resets them every epoch).
    """

    #: Lets generic code (tests, CLI, callbacks) tell image-to-image models from latent GANs.
    task = "image2image"
    network_keys: tuple = ()
    loss_names: tuple = ()
    #: Constructor arguments read from other config sections (see :attr:`GANBase.config_arguments`).
    config_arguments = {"seed": "train.seed"}

    def __init__(self, seed: Optional[int] = None, zoo_config: Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.zoo_config = zoo_config
        self.g_optimizer = None
        self.d_optimizer = None
        self.trackers = [keras.metrics.Mean(name=n) for n in self.loss_names]

    # ------------------------------------------------------------------ config
    @staticmethod
    def check_config(config, fail):
        """No Wasserstein critic: nothing keeps these discriminators Lipschitz."""
        if config.model.get("loss") == "wasserstein":
            fail("model.loss", f"{config.model.cls} has no Lipschitz constraint for a Wasserstein critic; use "
                 "non_saturating, least_squares or hinge")

    def get_config(self):
        config = super().get_config()
        config.update({key: _serialize(getattr(self, key)) for key in self.network_keys})
        config.update({"seed": self.seed, "zoo_config": self.zoo_config})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in cls.network_keys:
            config[key] = _deserialize(config.get(key))
        return cls(**config)

    # ------------------------------------------------------------------ metrics
    @property
    def metrics(self):
        return list(self.trackers)

    @property
    def channels(self) -> int:
        """Channels of the pictures the model takes and returns (3 for RGB, 1 for grey digits):
        its first network's input channels (SRGAN's generator, CycleGAN's ``generator_ab``)."""
        return int(getattr(self, self.network_keys[0]).inputs[0].shape[-1])

    def record(self, weights: Optional[dict] = None, **values) -> dict:
        """Update the trackers (``weights``: per-loss sample weights, 0 = not measured this
        step) and return all results, as ``train_step`` must."""
        weights = weights or {}
        for tracker in self.trackers:
            if tracker.name in values:
                tracker.update_state(values[tracker.name], sample_weight=weights.get(tracker.name))
        return {t.name: t.result() for t in self.trackers}

    # ------------------------------------------------------------------ inference
    @staticmethod
    def as_images(images, channels: int):
        """User images -> (float32 batch in [-1, 1], whether one image was given).

        Accepts uint8 (0-255) or float in [-1, 1], shaped (H, W, C) or (N, H, W, C)."""
        arr = np.asarray(images)
        if arr.ndim not in (3, 4):
            raise ValueError(f"expected an image (height, width, {channels}) or a batch (n, height, width, "
                             f"{channels}), got an array of shape {arr.shape}")
        single = arr.ndim == 3
        if single:
            arr = arr[None]
        if arr.shape[-1] != channels:
            raise ValueError(f"expected {channels}-channel images, got {arr.shape[-1]} channels (shape {arr.shape}); "
                             "convert RGBA / grayscale first (ganzoo.data.read_image_file does)")
        if min(arr.shape[1:3]) < 1:
            raise ValueError(f"the image is empty: shape {arr.shape}")
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 127.5 - 1.0
        elif arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
            if not np.all(np.isfinite(arr)) or arr.min() < -1.001 or arr.max() > 1.001:
                raise ValueError("float images must be finite and in [-1, 1] (ganzoo's convention); "
                                 "pass uint8 images for 0-255 values")
        else:
            raise ValueError(f"images must be uint8 or float in [-1, 1], got dtype {arr.dtype}")
        return arr, single

    def run_network(self, network, images, tile: Optional[int], overlap: int, scale: int = 1,
                    multiple: int = 1, min_size: int = 1, batch_size: int = 4) -> np.ndarray:
        """Apply ``network`` to each image, tiled when larger than ``tile`` (see
        :func:`ganzoo.tiling.tiled_apply`); float32 output in [-1, 1], same batch layout."""
        batch, single = self.as_images(images, int(network.inputs[0].shape[-1]))

        def apply(x):
            return keras.ops.convert_to_numpy(network(x, training=False))

        out = np.stack([tiled_apply(apply, image, tile=tile, overlap=overlap, scale=scale, multiple=multiple,
                                    min_size=min_size, batch_size=batch_size) for image in batch])
        out = np.clip(out, -1.0, 1.0)
        return out[0] if single else out


__all__ = ["ImageToImageModel"]
