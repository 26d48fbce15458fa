"""The schema of a zoo entry's fixed sections: the ``data``, ``train`` and ``augment``
dataclasses, the names accepted for each choice-valued key, the ``model`` keys that network
builders read, and :class:`ConfigError`. (The ``model`` and network sections, whose keys come
from a class's or a builder's signature, are in :mod:`ganzoo.config.sections`.)"""

from __future__ import annotations

import difflib
import typing
from dataclasses import dataclass
from typing import Optional, Union

from ganzoo.constraints import OneOf, Positive

#: Names accepted for each choice-valued key. The network and loss tables in
#: ``ganzoo.networks`` / ``ganzoo.losses`` are checked against these in the tests. The model
#: classes are those of ``ganzoo.model_registry`` (``ganzoo.config.MODEL_CLASSES`` and
#: ``IMAGE_TO_IMAGE_CLASSES`` are read-only views of it: see ``ganzoo.config.__getattr__``).
LOSS_NAMES = ("minimax", "non_saturating", "least_squares", "hinge", "wasserstein")
SMOOTHABLE_LOSSES = ("minimax", "non_saturating", "least_squares")
#: Layers of keras.applications.VGG19 a content loss may compare (block5_conv4 = VGG54, block2_conv2 = VGG22).
VGG19_LAYERS = tuple(f"block{b}_conv{c}" for b, n in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4)) for c in range(1, n + 1))
DATA_SOURCES = ("tfds", "folder", "uci_digits")
#: Splits of ``data.source: uci_digits`` (ganzoo.data.digits: a fixed 1,347 / 450 split).
UCI_DIGITS_SPLITS = ("train", "test")
#: How the UCI digits' 8x8 grids may be resized (``tf.image.resize`` methods; ``data.resize_b``).
UCI_RESIZE_METHODS = ("bilinear", "bicubic", "area", "nearest", "lanczos3")
OPTIMIZERS = ("adam", "rmsprop")
LR_SCHEDULES = ("constant", "linear", "cosine")
#: Keras dtype policies a run may train under (``ganzoo.precision``); ``auto`` resolves per machine.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "auto")
#: DiffAugment ops (``augment.policy``); ``ganzoo.augment.DIFF_AUGMENT_OPS`` is checked against it.
DIFF_AUGMENT_OPS = ("color", "translation", "cutout")
#: Losses whose logits say real (> 0) or fake (< 0), as ADA's r_t = E[sign(D(real))] assumes.
ADA_LOSSES = ("non_saturating", "minimax", "hinge")

#: Keys every entry carries for people, not for objects.
METADATA_KEYS = ("name", "description", "paper", "source")
#: The sections whose keys go to objects (model, networks, data pipeline, training, augmentation).
SECTIONS = ("model", "generator", "discriminator", "data", "train", "augment")
#: ``model.cls`` of a config that names none.
DEFAULT_MODEL_CLASS = "GAN"


class ConfigError(ValueError):
    """A zoo config (or an override) has an unknown key, a wrong type or an impossible value."""


def did_you_mean(word, options, cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"`` for the option closest to ``word`` (difflib), or ``""``."""
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=cutoff)
    return f"; did you mean '{close[0]}'?" if close else ""


#: The ``model`` keys read by network builders rather than by the model class: key -> (type,
#: default); the type may carry :mod:`ganzoo.constraints` (``Annotated``), as a class's settings do. Which entry reads which: the ``model.`` keys of a builder's ``config_arguments``
#: (:func:`ganzoo.model_registry.network_spec`), and the VGG19
#: keys for a class with a ``feature_extractor`` network (SRGAN's content loss).
NETWORK_MODEL_SETTINGS = {
    #: Size of z (and of StyleGAN's w).
    "latent_dim": (typing.Annotated[int, Positive()], 100),
    #: StyleGAN: fully connected layers of the mapping network z -> w (StyleGAN: 8).
    "mapping_layers": (typing.Annotated[int, Positive()], 8),
    #: StyleGAN: learning-rate multiplier of the mapping network (StyleGAN: 0.01).
    "mapping_lr_mul": (typing.Annotated[float, Positive()], 0.01),
    #: SRGAN: VGG19 layer whose (post-activation) features the content loss compares (block5_conv4 = VGG54).
    "vgg_layer": (typing.Annotated[str, OneOf(VGG19_LAYERS)], "block5_conv4"),
    #: SRGAN: VGG19 weights: None = the ImageNet file if it is already in ~/.keras/models (or env
    #: GANZOO_VGG19_WEIGHTS), a path to a local ``.h5`` file, or ``random`` (untrained; tests only).
    "vgg_weights": (Optional[str], None),
}
FEATURE_EXTRACTOR_KEYS = ("vgg_layer", "vgg_weights")


@dataclass
class AugmentConfig:
    """Augmentation in the discriminator's path (``ganzoo.augment``); off by default.

    Applied to every image the discriminator sees, real and fake, in both steps, and
    differentiable, so it regularises D without leaking into generated images. For latent
    GANs only (SRGAN/CycleGAN: rejected, they train on crops with their own jitter).
    """

    #: DiffAugment ops (Zhao et al. 2020), comma-separated: ``color``, ``translation``,
    #: ``cutout``; the paper's choice for small data is ``color,translation,cutout``.
    policy: str = ""
    #: Adaptive discriminator augmentation (Karras et al. 2020): the ADA pipeline with a
    #: probability p tuned from r_t = E[sign(D(real))].
    ada: bool = False
    #: ADA's target for r_t (paper: 0.6).
    ada_target: float = 0.6
    #: Thousands of images over which p can move from 0 to 1 (paper: 500).
    ada_kimg: float = 500.0
    #: Discriminator minibatches between two adjustments of p (paper: 4).
    ada_interval: int = 4
    #: Augmentation probability at the start of training (ADA: 0).
    initial_p: float = 0.0


@dataclass
class DataConfig:
    """Where the images come from and how they are shaped."""

    #: ``tfds`` (a TensorFlow Datasets name) or ``folder`` (a local folder of images).
    source: str = "tfds"
    #: TFDS dataset name, e.g. ``mnist``, ``cifar10``, ``celeb_a``.
    name: str = "mnist"
    #: Folder of images for ``source: folder``.
    path: Optional[str] = None
    #: CycleGAN with ``source: folder``: the folders of domain A and domain B (default:
    #: ``path``/trainA and ``path``/trainB, the layout of the CycleGAN datasets).
    path_a: Optional[str] = None
    path_b: Optional[str] = None
    #: Super-resolution: the HR crop (``image_size``) is this many times the LR input.
    scale: int = 4
    #: Random jitter (CycleGAN: 286): resize the short side to this, then crop ``image_size``.
    load_size: Optional[int] = None
    #: Random horizontal flips (image-to-image entries).
    flip: bool = False
    #: CycleGAN with ``source: uci_digits``: black border in pixels (at ``image_size``) around
    #: domain B's digits, whose 8x8 grids are resized to ``image_size - 2 * pad_b`` first. 4 at
    #: 28 px frames them as MNIST's digits were made (size-normalised into a 20x20 box centred in
    #: 28x28), so that the translation learns stroke and grey levels, not a change of scale the
    #: generator cannot make. Domain A (TFDS, MNIST) is not padded. With ``load_size`` the
    #: framed digit is scaled like domain A: the border becomes ``pad_b * load_size / image_size``.
    pad_b: int = 0
    #: CycleGAN with ``source: uci_digits``: how domain B's 8x8 grids are resized
    #: (``tf.image.resize``): ``bilinear``, ``bicubic``, ``area``, ``nearest`` or ``lanczos3``.
    resize_b: str = "bilinear"
    #: Super-resolution: random crops taken from each decoded image (large images decode slowly).
    crops_per_image: int = 1
    split: str = "train"
    #: Output height and width in pixels.
    image_size: int = 32
    #: 1 (grayscale) or 3 (RGB).
    channels: int = 1
    #: Black border in pixels added on each side after resizing to image_size - 2 * pad
    #: (MNIST 28 -> 32 for networks that double from 4x4: image_size 32, pad 2).
    pad: int = 0
    #: Center-crop a square of this many pixels before resizing (CelebA: 140).
    crop: Optional[int] = None
    #: Use only the first N examples of the split (small-data entries).
    limit: Optional[int] = None
    #: Cache decoded, resized uint8 images in memory after the first epoch.
    cache: bool = True
    shuffle_buffer: int = 10000
    image_key: str = "image"
    label_key: str = "label"

    @property
    def image_shape(self) -> tuple:
        """``(image_size, image_size, channels)``: the shape of a training image (or crop)."""
        return (self.image_size, self.image_size, self.channels)


@dataclass
class TrainConfig:
    """Optimisation hyperparameters and execution settings."""

    batch_size: int = 64
    epochs: int = 1
    #: Steps per epoch; None runs through the dataset once per epoch.
    steps_per_epoch: Optional[int] = None
    optimizer: str = "adam"
    learning_rate: float = 2e-4
    #: Discriminator learning rate; None uses ``learning_rate`` (set it for TTUR).
    d_learning_rate: Optional[float] = None
    beta_1: float = 0.5
    beta_2: float = 0.999
    #: ``constant``, ``linear`` (to 0 over ``decay_steps``) or ``cosine``.
    lr_schedule: str = "constant"
    decay_steps: Optional[int] = None
    #: Optimizer steps at the initial learning rate before a ``linear`` decay starts
    #: (CycleGAN: 100 epochs constant, then 100 epochs of decay).
    decay_start: int = 0
    #: XLA: ``auto`` (what measured faster on this platform), true or false.
    jit_compile: Union[bool, str] = "auto"
    steps_per_execution: int = 1
    seed: int = 0
    #: ``float32``, ``mixed_float16`` (loss-scaled, GPUs) or ``mixed_bfloat16`` (TPUs, recent
    #: CPUs/GPUs); network outputs and losses stay float32 either way. ``auto``: mixed_bfloat16
    #: on a CPU-only machine whose CPU has native bfloat16 (AVX512_BF16 / AMX), else float32.
    precision: str = "float32"
    #: TensorFlow's CPU thread layout: ``auto`` (bfloat16 on a CPU: half the cores per op, two
    #: ops at a time; else TensorFlow's default), ``tensorflow`` (its default) or ``[intra_op,
    #: inter_op]``. Speed only (not in the config hash); see ``ganzoo.precision``.
    cpu_threads: Union[str, list[int]] = "auto"


CPU_THREADS_HELP = "must be auto, tensorflow or [intra_op, inter_op] (two positive integers)"


def valid_cpu_threads(value) -> bool:
    """Whether ``value`` is a valid ``train.cpu_threads`` setting."""
    if isinstance(value, (list, tuple)):
        return len(value) == 2 and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value)
    return value in ("auto", "tensorflow")



#: The dataclass sections, by name (the ``model`` and network sections are not dataclasses).
SECTION_TYPES = {"data": DataConfig, "train": TrainConfig, "augment": AugmentConfig}
