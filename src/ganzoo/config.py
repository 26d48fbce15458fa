"""Typed configuration for every zoo entry.

A zoo entry is one YAML file in ``zoo_configs/`` that holds only what differs from the
defaults below. The dataclasses are the single schema: loading a YAML file checks every key
and value against them, so a typo or an impossible value fails with the file, the key and
the closest valid key instead of training the wrong model for hours.

Nothing here imports TensorFlow: ``ganzoo list`` and config validation stay fast.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import inspect
import json
import types
import warnings
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from ganzoo.constraints import OneOf, Positive, split_annotated
from ganzoo.model_registry import (class_signature, image_to_image_class_names, model_class_info, model_class_names,
                                   model_settings)

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "NetworkConfig",
    "TrainConfig",
    "AugmentConfig",
    "apply_overrides",
    "dict_digest",
    "drop_legacy_values",
    "parse_set_option",
]

#: Names accepted for each choice-valued key. The network and loss tables in
#: ``ganzoo.networks`` / ``ganzoo.losses`` are checked against these in the tests. The model
#: classes are those of ``ganzoo.model_registry`` (``MODEL_CLASSES`` and
#: ``IMAGE_TO_IMAGE_CLASSES`` below are read-only views of it: see ``__getattr__``).
LOSS_NAMES = ("minimax", "non_saturating", "least_squares", "hinge", "wasserstein")
SMOOTHABLE_LOSSES = ("minimax", "non_saturating", "least_squares")
GENERATOR_ARCHS = ("mlp", "dcgan", "sngan", "srresnet", "resnet", "pggan", "stylegan")
DISCRIMINATOR_ARCHS = ("mlp", "dcgan", "sngan", "srgan", "patchgan", "pggan", "stylegan")
#: Architectures that double from 4x4 to a power-of-two image size (Karras et al. 2018 / 2020).
DOUBLING_ARCHS = ("pggan", "stylegan")
NORMS = ("batch", "layer", "instance", "none")
#: Layers of keras.applications.VGG19 a content loss may compare (block5_conv4 = VGG54, block2_conv2 = VGG22).
VGG19_LAYERS = tuple(f"block{b}_conv{c}" for b, n in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4)) for c in range(1, n + 1))
CONDITIONINGS = ("concat", "projection")
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

# ---------------------------------------------------------------------- which object uses which key
# Every key of a config reaches the object that uses it, or setting it is refused. A model
# class's ``model`` keys are its constructor's keyword arguments (ganzoo.model_registry.
# model_settings); the tables below say which keys each network builder and data pipeline
# take. From them ``Config.validate`` refuses a key set (to anything but its default) where the
# entry's objects would ignore it, ``model_kwargs`` hands a model class exactly its settings,
# and tests/test_config_keys.py checks, for every registered entry, that changing each key it
# accepts changes the built model, its data or its training. A new model setting: a keyword
# argument of the class's constructor (nothing else); a new network / data key: a dataclass
# field and its name in the table of each network / pipeline that uses it.

_NORM_ACT = ("norm", "spectral_norm", "dropout", "leaky_slope")
#: Network role -> arch -> the keys its builder takes (``ganzoo.networks.build_generator`` /
#: ``build_discriminator``): keys of the network's own section (bare names) and of other
#: sections (dotted). ``data.image_size`` / ``data.channels`` go to every network, and
#: ``model.num_classes`` to the mlp/dcgan/sngan networks of the classes that take it.
NETWORK_KEYS = {
    "generator": {
        "mlp": ("hidden", *_NORM_ACT, "embedding_dim", "model.latent_dim"),
        "dcgan": ("filters", "base_size", "kernel_size", *_NORM_ACT, "embedding_dim", "model.latent_dim"),
        "sngan": ("filters", "base_size", "kernel_size", *_NORM_ACT, "embedding_dim", "model.latent_dim"),
        "srresnet": ("filters", "norm", "residual_blocks", "data.scale"),
        "resnet": ("filters", "norm", "residual_blocks"),
        "pggan": ("filters", "model.latent_dim"),
        "stylegan": ("filters", "model.latent_dim", "model.mapping_layers", "model.mapping_lr_mul"),
    },
    "discriminator": {
        "mlp": ("hidden", *_NORM_ACT, "conditioning"),
        "dcgan": ("filters", "kernel_size", *_NORM_ACT, "conditioning"),
        "sngan": ("filters", "kernel_size", *_NORM_ACT, "conditioning"),
        "srgan": ("filters", "norm", "leaky_slope"),
        "patchgan": ("filters", "norm", "leaky_slope"),
        "pggan": ("filters",),
        "stylegan": ("filters",),
    },
}
#: Why an architecture takes none of the generic layer options (shown when one is set).
NETWORK_NOTES = {
    "pggan": "the PGGAN networks are the paper's own (pixel norm, equalized learning rate, minibatch stddev)",
    "stylegan": "the StyleGAN networks are the papers' own (modulated convolutions, equalized learning rate, "
                "minibatch stddev)",
}

_DATA_COMMON = ("source", "name", "path", "split", "image_size", "channels", "limit", "cache", "shuffle_buffer",
                "image_key")
#: Data pipeline (a model class's ``data_kind``) -> the ``data`` keys it reads: ``latent``
#: (``ganzoo.data``, every class that samples from z) and the image-to-image pipelines of
#: ``ganzoo.data.pairs`` (SRGAN's LR/HR pairs, CycleGAN's two domains); the keys of one
#: source only are in KEYS_READ_WHEN.
DATA_KEYS = {
    "latent": _DATA_COMMON + ("pad", "crop", "label_key"),
    "paired_lr_hr": _DATA_COMMON + ("scale", "flip", "crops_per_image"),
    "unpaired_ab": _DATA_COMMON + ("path_a", "path_b", "load_size", "flip", "pad_b", "resize_b"),
}


def __getattr__(name):
    """``MODEL_CLASSES`` / ``IMAGE_TO_IMAGE_CLASSES``: the registered model class names (all /
    the image-to-image ones) as tuples, read from ``ganzoo.model_registry`` at each access."""
    if name == "MODEL_CLASSES":
        return model_class_names()
    if name == "IMAGE_TO_IMAGE_CLASSES":
        return image_to_image_class_names()
    raise AttributeError(f"module 'ganzoo.config' has no attribute '{name}'")


def _data_kind(config) -> str:
    return model_class_info(config.model.cls).data_kind


def _conditional(config) -> bool:
    return config.model.get("num_classes") is not None


def _tfds(config) -> bool:
    """Whether the data come from TFDS (with uci_digits, a CycleGAN's domain A does)."""
    return config.data.source == "tfds" or (config.data.source == "uci_digits" and _data_kind(config) == "unpaired_ab")


_TFDS_ONLY = "only a TFDS source (data.source: tfds) reads it"
_UCI_FRAMING_ONLY = ("only the UCI digits (data.source: uci_digits) are framed from their 8x8 grids; the images of "
                     "a folder or TFDS domain B are squared and resized whole")


#: Keys that their object takes but reads only in some settings: key -> (whether it is read,
#: what to change instead of leaving it unread).
KEYS_READ_WHEN = {
    "generator.embedding_dim": (_conditional, "only a conditional model (model.num_classes set) embeds labels"),
    "discriminator.conditioning": (_conditional, "only a conditional model (model.num_classes set) feeds labels "
                                                 "to D"),
    "model.ema_rampup": (lambda c: c.model.ema_decay is not None, "only an EMA generator (model.ema_decay set) "
                                                                  "ramps up"),
    "model.label_smoothing": (lambda c: c.model.loss in SMOOTHABLE_LOSSES,
                              f"only the {', '.join(SMOOTHABLE_LOSSES)} losses have a real target to smooth"),
    "model.vgg_layer": (lambda c: c.model.content_loss == "vgg", "only the VGG content loss (model.content_loss: "
                                                                 "vgg) compares VGG19 features"),
    "model.vgg_weights": (lambda c: c.model.content_loss == "vgg", "only the VGG content loss (model.content_loss: "
                                                                   "vgg) loads VGG19"),
    "data.name": (_tfds, _TFDS_ONLY),
    "data.split": (lambda c: _tfds(c) or c.data.source == "uci_digits", "a folder source has no splits"),
    "data.crop": (lambda c: c.data.source != "uci_digits", "the UCI digits' 8x8 grids are resized whole"),
    "data.image_key": (_tfds, _TFDS_ONLY),
    "data.label_key": (lambda c: _tfds(c) and _conditional(c), "only a conditional model (model.num_classes "
                                                                "set) on a TFDS source reads labels"),
    # A folder of images is read into memory (latent GANs, CycleGAN); SRGAN decodes large ones lazily.
    "data.cache": (lambda c: _tfds(c) or _data_kind(c) == "paired_lr_hr", "a folder source is held in memory "
                                                                           "already"),
    "data.path": (lambda c: c.data.source == "folder", "only a folder source (data.source: folder; --data-path "
                                                       "sets both) reads it"),
    "data.path_a": (lambda c: c.data.source == "folder", "only a folder source (data.source: folder) reads it"),
    "data.path_b": (lambda c: c.data.source == "folder", "only a folder source (data.source: folder) reads it"),
    "data.pad_b": (lambda c: c.data.source == "uci_digits", _UCI_FRAMING_ONLY),
    "data.resize_b": (lambda c: c.data.source == "uci_digits", _UCI_FRAMING_ONLY),
    "train.beta_1": (lambda c: c.train.optimizer == "adam", "it is Adam's; train.optimizer is rmsprop"),
    "train.beta_2": (lambda c: c.train.optimizer == "adam", "it is Adam's; train.optimizer is rmsprop"),
    "train.decay_steps": (lambda c: c.train.lr_schedule != "constant", "only a decaying learning rate "
                                                                      "(train.lr_schedule: linear or cosine) reads it"),
    "train.decay_start": (lambda c: c.train.lr_schedule == "linear", "a delayed decay needs lr_schedule: linear"),
    **{f"augment.{key}": (lambda c: c.augment.ada, "only ADA (augment.ada: true) reads it")
       for key in ("ada_target", "ada_kimg", "ada_interval", "initial_p")},
}


class ConfigError(ValueError):
    """A zoo config (or an override) has an unknown key, a wrong type or an impossible value."""


@dataclass
class NetworkConfig:
    """Builder arguments of one network (generator or discriminator)."""

    #: ``mlp`` (fully connected, Goodfellow et al. 2014), ``dcgan`` (Radford et al. 2016),
    #: ``sngan`` (the "standard CNN" of Miyato et al. 2018, table 3);
    #: image-to-image: ``srresnet`` G / ``srgan`` D (Ledig et al. 2017), ``resnet`` G /
    #: ``patchgan`` D (Zhu et al. 2017, after Johnson et al. 2016 and Isola et al. 2017).
    arch: str = "dcgan"
    #: Width of the widest convolution (dcgan/sngan); halves at each larger resolution.
    filters: int = 64
    #: Hidden layer widths of an ``mlp`` network, input side first.
    hidden: list[int] = field(default_factory=lambda: [256, 512, 1024])
    #: Normalisation after hidden layers: ``batch``, ``layer``, ``instance`` or ``none``.
    norm: str = "batch"
    #: Spectral normalisation (Miyato et al. 2018, ``ganzoo.networks.spectral``) on every
    #: Dense/Conv layer and a projection discriminator's class embedding.
    spectral_norm: bool = False
    dropout: float = 0.0
    #: Slope of LeakyReLU (0 gives ReLU).
    leaky_slope: float = 0.2
    #: Generator only: spatial size of the first feature map (image_size / 2**k).
    base_size: int = 4
    kernel_size: int = 4
    #: Conditional models: size of the learned label embedding.
    embedding_dim: int = 50
    #: Conditional discriminator: ``concat`` (label map as an extra input channel, Mirza &
    #: Osindero 2014) or ``projection`` (Miyato & Koyama 2018).
    conditioning: str = "concat"
    #: ``srresnet`` / ``resnet`` generators: number of residual blocks (None: the paper's,
    #: 16 for SRResNet, 9 for the 256px CycleGAN generator).
    residual_blocks: Optional[int] = None


#: The ``model`` keys read by network builders rather than by the model class: key -> (type,
#: default); the type may carry :mod:`ganzoo.constraints` (``Annotated``), as a class's settings do. Which entry reads which: the ``model.`` keys of :data:`NETWORK_KEYS`, and the VGG19
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

#: FROZEN: the ``model`` section as every config had it before the section became the model
#: class's constructor arguments (every key of every class, at its default then). Used only to
#: keep old records valid: :meth:`Config.hash_dict` (so :meth:`Config.hash` and
#: ``ganzoo.checkpoint.config_identity`` of every entry stay what shipped weights and running
#: trainings recorded; tests/test_config_hashes.py pins them) and, when loading a run folder's
#: config.yaml written before, to accept a key its class does not take at exactly this value.
#: Never add to it or change it: a new setting is a constructor argument.
LEGACY_MODEL_DEFAULTS = types.MappingProxyType({
    "cls": "GAN", "latent_dim": 100, "num_classes": None, "loss": "non_saturating", "label_smoothing": 0.0,
    "gradient_penalty": 0.0, "r1_gamma": 0.0, "clip_value": None, "n_critic": 1, "ema_decay": None,
    "ema_rampup": 0.05, "feature_matching": 0.0, "content_loss": "vgg", "vgg_layer": "block5_conv4",
    "vgg_weights": None, "content_weight": 1.0, "adversarial_weight": 1e-3, "pretrain_steps": 0,
    "cycle_weight": 10.0, "identity_weight": 5.0, "pool_size": 50, "domains": ["a", "b"], "drift": 0.0,
    "fade_images": 800_000, "stabilize_images": 800_000, "start_resolution": 4, "mapping_layers": 8,
    "mapping_lr_mul": 0.01, "style_mixing_prob": 0.9, "r1_interval": 1, "w_avg_beta": 0.995,
})


class ModelConfig:
    """The ``model`` section: ``cls``, the model class (``ganzoo.model_registry``), and the
    keyword arguments of its constructor (its *settings*: name, type and default come from the
    signature, :func:`ganzoo.model_registry.model_settings`), plus the few ``model`` keys that
    network builders read (:data:`NETWORK_MODEL_SETTINGS`).

    ``config.model.style_mixing_prob`` reads a setting: the value the YAML gave, else the
    constructor's default; a key of the old schema that the class does not take
    (``config.model.n_critic`` of a GAN) still reads its old default, with a DeprecationWarning;
    any other name is an AttributeError. :meth:`get` reads with a fallback.
    """

    def __init__(self, cls: str = "GAN", **values):
        object.__setattr__(self, "cls", cls)
        object.__setattr__(self, "values", dict(values))

    def defaults(self) -> dict:
        """Key -> default of every key this section's class (or a network) may read."""
        out = {name: copy.deepcopy(s.default) for name, s in model_settings(self.cls).items()}
        out.update({name: default for name, (_, default) in NETWORK_MODEL_SETTINGS.items()})
        return out

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        defaults = self.defaults()
        if name in defaults:
            return defaults[name]
        if name in LEGACY_MODEL_DEFAULTS:  # read before settings moved to the constructors: still works
            warnings.warn(f"config.model.{name}: model class {self.cls} takes no setting '{name}'; reading it "
                          f"gives its old default {LEGACY_MODEL_DEFAULTS[name]!r}, and will fail in a later "
                          f"release: use config.model.get('{name}', default)", DeprecationWarning, stacklevel=2)
            return copy.deepcopy(LEGACY_MODEL_DEFAULTS[name])
        close = difflib.get_close_matches(name, list(defaults), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise AttributeError(f"model class {self.cls} takes no setting '{name}'{hint} (its settings: "
                             f"{', '.join(model_settings(self.cls))})")

    def __setattr__(self, name: str, value) -> None:
        if name == "cls":
            object.__setattr__(self, "cls", value)
        else:
            self.values[name] = value

    def get(self, name: str, default=None):
        """The value of ``name`` (given or the class's default), or ``default`` if the class takes no such key."""
        try:
            return getattr(self, name)
        except AttributeError:
            return default

    def replace(self, **changes) -> "ModelConfig":
        """A copy with ``changes`` (``cls`` and/or settings), as ``dataclasses.replace`` for the other sections."""
        values = {**copy.deepcopy(self.values), **changes}
        return ModelConfig(values.pop("cls", self.cls), **values)

    def __eq__(self, other) -> bool:
        """Same class and same value of every key (given or default)."""
        return (isinstance(other, ModelConfig) and self.cls == other.cls
                and {**self.defaults(), **self.values} == {**other.defaults(), **other.values})

    def __repr__(self) -> str:
        return f"ModelConfig(cls={self.cls!r}{''.join(f', {k}={v!r}' for k, v in self.values.items())})"


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


#: Keys that change how fast an entry trains, not what it learns: left out of :meth:`Config.hash`
#: (added after weights were published; the older speed keys jit_compile and steps_per_execution
#: stay hashed so that published hashes keep matching).
UNHASHED_KEYS = (("train", "cpu_threads"),)
#: Keys added after hashes were recorded (the bundled weights' metadata), with the value that
#: reproduces the behaviour from before they existed: at that value they stay out of the hash,
#: so a recipe run the old way keeps its old hash. Those whose legacy value is also their default
#: (data.pad_b, data.resize_b) stay out of ``ganzoo.checkpoint.config_identity`` at that value
#: too, so that runs checkpointed before they existed still resume.
LEGACY_VALUES = ((("model", "ema_rampup"), None), (("data", "pad_b"), 0), (("data", "resize_b"), "bilinear"))


def drop_legacy_values(d: dict, *, defaults_only: bool = False) -> dict:
    """Remove from the config dict ``d`` (in place; returned) every key of
    :data:`LEGACY_VALUES` that sits at its legacy value. ``defaults_only``: only those whose
    legacy value is also today's default (what :func:`ganzoo.checkpoint.config_identity` drops)."""
    default = Config().to_dict() if defaults_only else None
    for (section, key), legacy in LEGACY_VALUES:
        if (default is None or legacy == default[section][key]) and d[section].get(key) == legacy:
            d[section].pop(key, None)
    return d


def dict_digest(d: dict) -> str:
    """The first 16 hex digits of the sha256 of ``d`` as sorted-key JSON (:meth:`Config.hash`,
    :func:`ganzoo.checkpoint.config_identity`)."""
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Config:
    """A complete zoo entry."""

    name: str = "custom"
    description: str = ""
    #: Paper(s) the entry reproduces.
    paper: str = ""
    #: Where the hyperparameters come from.
    source: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    generator: NetworkConfig = field(default_factory=NetworkConfig)
    discriminator: NetworkConfig = field(default_factory=NetworkConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, raw: dict, origin: str = "<dict>") -> "Config":
        """Build and validate a config from a (YAML-shaped) dict; ``origin`` names the file."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{origin}: the top level must be a mapping of sections, got {type(raw).__name__}")
        config = _build(cls, raw, origin, prefix="")
        config.validate(origin)
        return config

    @classmethod
    def from_yaml(cls, path: Union[str, Path], name: Optional[str] = None) -> "Config":
        """Load a YAML file with the safe loader; the entry name defaults to the file stem."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        raw = dict(raw)
        raw.setdefault("name", name or path.stem)
        return cls.from_dict(raw, origin=str(path))

    def to_dict(self) -> dict:
        """The whole config as plain nested dicts (every key the entry reads, defaults included;
        the ``model`` section: ``cls`` and every setting of the class and its networks)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "model":
                out["model"] = {"cls": value.cls, **{k: copy.deepcopy(getattr(value, k))
                                                     for k in _model_keys_read(self)}}
            else:
                out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else copy.deepcopy(value)
        return out

    def hash_dict(self) -> dict:
        """:meth:`to_dict` with the ``model`` section in its legacy shape (the keys of
        :data:`LEGACY_MODEL_DEFAULTS` that the class does not read at their values there): what
        :meth:`hash` and ``ganzoo.checkpoint.config_identity`` digest, unchanged since weights were
        published and trainings started."""
        d = self.to_dict()
        d["model"] = {**copy.deepcopy(dict(LEGACY_MODEL_DEFAULTS)), **d["model"]}
        return d

    def to_yaml(self) -> str:
        """The whole config as YAML, in field order (``config.yaml`` of a run folder)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def copy(self) -> "Config":
        """A deep copy that can be changed without touching this config."""
        return copy.deepcopy(self)

    def hash(self) -> str:
        """A short stable hash of everything that changes what the entry learns (not its name,
        texts, speed-only keys, or keys at their legacy values; see ``UNHASHED_KEYS``)."""
        d = self.hash_dict()
        for key in ("name", "description", "paper", "source"):
            d.pop(key, None)
        for section, key in UNHASHED_KEYS:
            d[section].pop(key, None)
        return dict_digest(drop_legacy_values(d))

    @property
    def conditional(self) -> bool:
        """Whether the entry is class-conditional (``model.num_classes`` is set)."""
        return self.model.get("num_classes") is not None

    # ------------------------------------------------------------------ validation
    def validate(self, origin: str = "<config>") -> None:
        """Check values that are well-typed but impossible; raise ConfigError naming the key."""
        m, g, d, data, t = self.model, self.generator, self.discriminator, self.data, self.train

        def fail(key: str, message: str) -> None:
            raise ConfigError(f"{origin}: {key}: {message}")

        def choice(key: str, value: str, options: tuple) -> None:
            if value not in options:
                close = difflib.get_close_matches(str(value), options, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                fail(key, f"'{value}' is not one of {', '.join(options)}{hint}")

        def positive(key: str, value, allow_none: bool = False) -> None:
            if value is None and allow_none:
                return
            if value is None or value <= 0:
                fail(key, f"must be > 0, got {value}")

        choice("model.cls", m.cls, model_class_names())
        reads = set(_model_keys_read(self))
        if "loss" in reads:
            choice("model.loss", m.loss, LOSS_NAMES)
        choice("generator.arch", g.arch, GENERATOR_ARCHS)
        choice("discriminator.arch", d.arch, DISCRIMINATOR_ARCHS)
        for net_name, net in (("generator", g), ("discriminator", d)):
            choice(f"{net_name}.norm", net.norm, NORMS)
            choice(f"{net_name}.conditioning", net.conditioning, CONDITIONINGS)
            positive(f"{net_name}.filters", net.filters)
            positive(f"{net_name}.kernel_size", net.kernel_size)
            positive(f"{net_name}.embedding_dim", net.embedding_dim)
            if not net.hidden or any(h <= 0 for h in net.hidden):
                fail(f"{net_name}.hidden", f"must be a non-empty list of positive widths, got {net.hidden}")
            if not 0.0 <= net.dropout < 1.0:
                fail(f"{net_name}.dropout", f"must be in [0, 1), got {net.dropout}")
            if net.leaky_slope < 0:
                fail(f"{net_name}.leaky_slope", f"must be >= 0, got {net.leaky_slope}")
        choice("data.source", data.source, DATA_SOURCES)
        if data.source == "uci_digits" and data.split not in UCI_DIGITS_SPLITS:
            fail("data.split", f"the UCI digits (data.source: uci_digits) have the splits "
                 f"{', '.join(UCI_DIGITS_SPLITS)}, not '{data.split}'")
        choice("train.optimizer", t.optimizer, OPTIMIZERS)
        choice("train.lr_schedule", t.lr_schedule, LR_SCHEDULES)
        choice("train.precision", t.precision, PRECISIONS)
        # The model settings' own constraints (their annotations): choices first, as which keys
        # are read may depend on them (content_loss: vgg reads vgg_layer).
        limits = _model_constraints(self)
        _check_constraints(self, limits, fail, choices=True)
        # Before the value checks: a key that nothing reads is refused as such, whatever its value.
        _check_keys_are_used(self, origin)
        _check_constraints(self, limits, fail, choices=False)

        if data.channels not in (1, 3):
            fail("data.channels", f"must be 1 or 3, got {data.channels}")
        positive("data.image_size", data.image_size)
        positive("data.crop", data.crop, allow_none=True)
        positive("data.limit", data.limit, allow_none=True)
        positive("data.shuffle_buffer", data.shuffle_buffer)
        _check_network_archs(self, fail)
        _validate_pipelines(self, fail, choice, positive)
        # Rules across keys: each class's (and its bases') check_config, base first.
        for check in class_signature(m.cls).checks:
            check(self, fail)
        if data.pad < 0 or data.image_size - 2 * data.pad < 1:
            fail("data.pad", f"must be >= 0 and leave image content (image_size - 2 * pad > 0), got {data.pad}")
        elif data.source == "folder" and not data.path and not model_class_info(m.cls).image_to_image:
            fail("data.path", "a folder source needs the folder of images: set data.path "
                 "(or pass --data-path on the command line)")
        if g.arch in ("dcgan", "sngan"):
            size, base = data.image_size, g.base_size
            ratio = size // base if base > 0 else 0
            if base <= 0 or size % base or ratio < 2 or ratio & (ratio - 1):
                examples = ", ".join(str(base * 2 ** k) for k in range(1, 5)) if base > 0 else "32"
                fail("data.image_size",
                     f"the {g.arch} generator doubles generator.base_size={base} at each block, so it cannot "
                     f"produce {size}x{size}; use an image_size of base_size * 2**k (e.g. {examples}) "
                     f"or change generator.base_size (7 gives 28 for MNIST)")
        if d.arch in ("dcgan", "sngan") and data.image_size < 8:
            fail("data.image_size", f"the {d.arch} discriminator needs images of at least 8x8, got {data.image_size}")

        positive("train.batch_size", t.batch_size)
        positive("train.epochs", t.epochs)
        positive("train.steps_per_epoch", t.steps_per_epoch, allow_none=True)
        positive("train.learning_rate", t.learning_rate)
        positive("train.d_learning_rate", t.d_learning_rate, allow_none=True)
        positive("train.decay_steps", t.decay_steps, allow_none=True)
        positive("train.steps_per_execution", t.steps_per_execution)
        for key in ("beta_1", "beta_2"):
            if not 0.0 <= getattr(t, key) < 1.0:
                fail(f"train.{key}", f"must be in [0, 1), got {getattr(t, key)}")
        if t.jit_compile not in (True, False, "auto"):
            fail("train.jit_compile", f"must be true, false or auto, got {t.jit_compile!r}")
        if not valid_cpu_threads(t.cpu_threads):
            fail("train.cpu_threads", f"{CPU_THREADS_HELP}, got {t.cpu_threads!r}")
        if t.decay_start < 0:
            fail("train.decay_start", f"must be >= 0, got {t.decay_start}")
        _validate_augment(self, fail)
        if t.lr_schedule != "constant" and t.decay_steps is None:
            fail("train.decay_steps", f"lr_schedule '{t.lr_schedule}' needs decay_steps (the number of "
                 "optimizer steps over which the learning rate decays)")


def _validate_augment(config: Config, fail) -> None:
    """The ``augment`` part of :meth:`Config.validate`."""
    a = config.augment
    ops = [op.strip() for op in a.policy.split(",") if op.strip()]
    for op in ops:
        if op not in DIFF_AUGMENT_OPS:
            close = difflib.get_close_matches(op, DIFF_AUGMENT_OPS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            fail("augment.policy", f"unknown DiffAugment op '{op}'{hint}; use a comma-separated list of "
                 f"{', '.join(DIFF_AUGMENT_OPS)} (e.g. 'color,translation,cutout') or '' for none")
    if len(set(ops)) != len(ops):
        fail("augment.policy", f"'{a.policy}' names an op twice")
    if a.ada and config.model.loss not in ADA_LOSSES:
        fail("augment.ada", f"ADA reads overfitting from r_t = E[sign(D(real))], which needs logits whose sign "
             f"means real/fake ({', '.join(ADA_LOSSES)} losses); the '{config.model.loss}' critic has no such "
             f"threshold. Use DiffAugment (augment.policy: color,translation,cutout) instead")
    if not 0.0 <= a.ada_target <= 1.0:
        fail("augment.ada_target", f"must be in [0, 1] (r_t = E[sign(D(real))]; paper: 0.6), got {a.ada_target}")
    if a.ada_kimg <= 0:
        fail("augment.ada_kimg", f"must be > 0 (thousands of images for p to go 0 -> 1; paper: 500), got {a.ada_kimg}")
    if a.ada_interval < 1:
        fail("augment.ada_interval", f"must be >= 1 (paper: 4), got {a.ada_interval}")
    if not 0.0 <= a.initial_p <= 1.0:
        fail("augment.initial_p", f"must be in [0, 1], got {a.initial_p}")


def _model_constraints(config: Config) -> dict:
    """``model`` key -> its :mod:`ganzoo.constraints`, for each key the entry's class (its
    constructor's annotations) or networks (:data:`NETWORK_MODEL_SETTINGS`) read."""
    settings = model_settings(config.model.cls)
    out = {}
    for key in _model_keys_read(config):
        found = settings[key].constraints if key in settings else ()
        if key in NETWORK_MODEL_SETTINGS:
            found += split_annotated(NETWORK_MODEL_SETTINGS[key][0])[1]
        if found:
            out[key] = found
    return out


def _check_constraints(config: Config, limits: dict, fail, choices: bool) -> None:
    """Check the value of each read ``model`` key against its constraints: the
    :class:`~ganzoo.constraints.OneOf` ones (``choices``) or the others."""
    for key, found in limits.items():
        for limit in found:
            if isinstance(limit, OneOf) == choices:
                problem = limit.problem(getattr(config.model, key))
                if problem:
                    fail(f"model.{key}", problem)


def _arch_owners(role: int, arch: str) -> list:
    """The model classes built from ``arch`` as their generator (``role`` 0) or discriminator (1)."""
    return [c for c in model_class_names() if (class_signature(c).network_archs or (None, None))[role] == arch]


def _check_network_archs(config: Config, fail) -> None:
    """A class that declares its networks (``network_archs``) is built from them; a class that
    does not is built from none of the networks another class declares."""
    m, nets = config.model, (("generator", config.generator), ("discriminator", config.discriminator))
    own = class_signature(m.cls).network_archs
    if own is not None:
        for (role, net), arch in zip(nets, own):
            if net.arch != arch:
                what = f"'{arch}' networks" if own[0] == own[1] else f"a '{arch}' {role}"
                fail(f"{role}.arch", f"{m.cls} is built from {what}, got '{net.arch}'")
        return
    for index, (role, net) in enumerate(nets):
        owners = _arch_owners(index, net.arch)
        if not owners:
            continue
        if model_class_info(owners[0]).image_to_image:
            fail(f"{role}.arch", f"the {config.generator.arch}/{config.discriminator.arch} networks map images to "
                 f"images; use model.cls {' or '.join(c for c in image_to_image_class_names() if class_signature(c).network_archs)}")
        fail(f"{role}.arch", f"the '{net.arch}' networks grow or take styles and are trained by model.cls "
             f"{' or '.join(owners)}")


def _validate_pipelines(config: Config, fail, choice, positive) -> None:
    """The rules of the networks' shapes and of the data pipelines (a class's ``data_kind``)
    that hold whichever class reads them."""
    m, g, d, data, used = config.model, config.generator, config.discriminator, config.data, used_keys(config)
    for net_name, net in (("generator", g), ("discriminator", d)):
        if f"{net_name}.residual_blocks" in used:
            positive(f"{net_name}.residual_blocks", net.residual_blocks, allow_none=True)
    size = data.image_size
    if (g.arch in DOUBLING_ARCHS or d.arch in DOUBLING_ARCHS) and (size < 4 or size & (size - 1)):
        fail("data.image_size", f"{m.cls} doubles its resolution from 4x4, so image_size must be a power of two "
             f"(e.g. 32, 64, 128), got {size}; pad small images with data.pad (MNIST: image_size 32, pad 2)")
    kind = _data_kind(config)
    if "data.crops_per_image" in used:
        positive("data.crops_per_image", data.crops_per_image)
    if kind == "paired_lr_hr" and data.source == "uci_digits":
        fail("data.source", "the UCI digits are 8x8 grids, no high-resolution images; use tfds or folder")
    if kind == "paired_lr_hr" and data.source == "folder" and not data.path:
        fail("data.path", "a folder source needs the folder of high-resolution images: set "
             "data.path (or pass --data-path on the command line)")
    if "data.load_size" in used and data.load_size is not None and data.load_size < data.image_size:
        fail("data.load_size", f"the jitter resize ({data.load_size}) must be at least the crop "
             f"data.image_size ({data.image_size}); paper: 286 for 256")
    if "data.resize_b" in used:
        choice("data.resize_b", data.resize_b, UCI_RESIZE_METHODS)
    if "data.pad_b" in used and (data.pad_b < 0 or data.image_size - 2 * data.pad_b < 1):
        fail("data.pad_b", f"the border of domain B's digits must be >= 0 and leave room for the digit "
             f"(data.image_size - 2 * pad_b > 0; MNIST's framing at 28 px: 4), got {data.pad_b} at "
             f"image_size {data.image_size}")
    if kind == "unpaired_ab" and data.source == "folder" and not ((data.path_a and data.path_b) or data.path):
        fail("data.path_a", "a CycleGAN folder source needs two folders: set data.path_a and "
             "data.path_b (or data.path holding trainA/ and trainB/)")


# ---------------------------------------------------------------------- which keys are used

#: Keys every entry carries for people, not for objects.
METADATA_KEYS = ("name", "description", "paper", "source")
#: The sections whose keys go to objects (model, networks, data pipeline, training, augmentation).
SECTIONS = ("model", "generator", "discriminator", "data", "train", "augment")


def model_keys(cls: str) -> tuple:
    """The ``model`` keys class ``cls`` takes: the settings of its constructor
    (:func:`ganzoo.model_registry.model_settings`)."""
    return tuple(model_settings(cls))


def _model_keys_read(config: "Config") -> list[str]:
    """The ``model`` keys (bare names) the entry's class and networks take, ``cls`` aside."""
    return [k.split(".", 1)[1] for k in _key_owners(config, when=False) if k.startswith("model.") and k != "model.cls"]


def _data_pipeline(cls: str) -> str:
    return model_class_info(cls).data_kind


def _key_owners(config: "Config", when: bool = True) -> dict[str, str]:
    """Dotted key -> the object that takes it, for every key the entry's objects take; with
    ``when``, the keys of :data:`KEYS_READ_WHEN` only where they are read."""
    m = config.model
    owners = {"model.cls": "the registry", "generator.arch": "the registry", "discriminator.arch": "the registry"}
    for key in model_keys(m.cls):
        owners.setdefault(f"model.{key}", m.cls)
    if "feature_extractor" in class_signature(m.cls).network_keys:
        for key in FEATURE_EXTRACTOR_KEYS:
            owners.setdefault(f"model.{key}", f"{m.cls}'s feature extractor")
    for role in ("generator", "discriminator"):
        arch = getattr(config, role).arch
        for key in NETWORK_KEYS[role][arch]:
            owners.setdefault(key if "." in key else f"{role}.{key}", f"the '{arch}' {role}")
    pipeline = _data_pipeline(m.cls)
    for key in DATA_KEYS[pipeline]:
        owners.setdefault(f"data.{key}", f"the data pipeline of {m.cls}")
    for f in dataclasses.fields(TrainConfig):
        owners[f"train.{f.name}"] = "training"
    if not model_class_info(m.cls).image_to_image:
        for f in dataclasses.fields(AugmentConfig):
            owners[f"augment.{f.name}"] = f"{m.cls}'s augmentation"
    if when:
        for key, (read, _) in KEYS_READ_WHEN.items():
            if key in owners and not read(config):
                del owners[key]
    return owners


def schema_keys() -> list[str]:
    """Every dotted key a config may hold: ``model.cls``, the ``model`` keys of every registered
    class and network (:func:`ganzoo.model_registry.model_settings`, :data:`NETWORK_MODEL_SETTINGS`),
    and the fields of the other sections."""
    keys = ["model.cls"] + [f"model.{name}" for name in _all_model_key_types()]
    for section in SECTIONS[1:]:
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(getattr(Config(), section))]
    return keys


def used_keys(config: "Config") -> set[str]:
    """The dotted keys (``model.r1_gamma``, ``generator.filters``, ...) that this config's model,
    networks, data pipeline, training or augmentation read; setting any other key to anything but
    its default is a :class:`ConfigError`."""
    return set(_key_owners(config))


def _classes_using(key: str) -> list[str]:
    section, name = key.split(".", 1)
    if section == "model":
        users = [c for c in model_class_names() if name in model_keys(c)
                 or (name in FEATURE_EXTRACTOR_KEYS and "feature_extractor" in class_signature(c).network_keys)]
        users += [c for c in model_class_names() if c not in users and class_signature(c).network_archs
                  and any(key in NETWORK_KEYS[role][arch] for role, arch in
                          zip(("generator", "discriminator"), class_signature(c).network_archs))]
        return users
    if section == "data":
        return [c for c in model_class_names() if name in DATA_KEYS[_data_pipeline(c)]]
    return []


def _unused_key_message(config: "Config", key: str) -> tuple[str, str]:
    """``(who ignores it, why and what to do)`` for ``key``, set yet read by none of the entry's objects."""
    m = config.model
    section, name = key.split(".", 1)
    owners = _key_owners(config, when=False)
    if key in owners:  # taken, but not read in this setting
        return f"is not read by {owners[key]}", f"{KEYS_READ_WHEN[key][1]}; remove it"
    if section in ("generator", "discriminator"):
        arch = getattr(config, section).arch
        archs = [a for a, keys in NETWORK_KEYS[section].items() if name in keys]
        note = f"{NETWORK_NOTES[arch]}; " if arch in NETWORK_NOTES else ""
        who = f"is not used by the '{arch}' {section}"
        if not archs:
            return who, f"{note}no {section} architecture takes it; remove it"
        fixed = class_signature(m.cls).network_archs is not None
        choose = "" if fixed else f" or choose one of them as {section}.arch"
        return who, f"{note}it applies to the {', '.join(archs)} {section}s; remove it{choose}"
    if section == "augment":
        return (f"is not used by {m.cls}", "it maps images to images and trains on random crops with its own "
                "jitter (data.flip, data.load_size); discriminator augmentation is for latent GANs trained on "
                "small data; remove it (and the rest of the augment section)")
    who = f"is not used by {m.cls}" if section == "model" else f"is not used by the data pipeline of {m.cls}"
    users = _classes_using(key)
    if not users:
        return who, "no model class uses it; remove it"
    return who, f"it applies to {', '.join(users)}; remove it or choose one of them as model.cls"


def _check_keys_are_used(config: "Config", origin: str) -> None:
    """Refuse a key set to a non-default value that the entry's objects would ignore."""
    used = used_keys(config)
    default = Config()
    for name, value in list(config.model.values.items()):
        key = f"model.{name}"
        if key in used:
            continue
        if value != LEGACY_MODEL_DEFAULTS.get(name, _MISSING):
            who, why = _unused_key_message(config, key)
            raise ConfigError(f"{key} {who} ({origin}): {why}")
        del config.model.values[name]  # an old run folder's key at its old default: nothing reads it
    for section in SECTIONS[1:]:
        ours, theirs = getattr(config, section), getattr(default, section)
        for f in dataclasses.fields(ours):
            key = f"{section}.{f.name}"
            if key not in used and getattr(ours, f.name) != getattr(theirs, f.name):
                who, why = _unused_key_message(config, key)
                raise ConfigError(f"{key} {who} ({origin}): {why}")


_MISSING = object()


def config_path_value(config: "Config", path: str):
    """The value at a dotted ``path`` of ``config`` (``"train.seed"``); a section gives its dict."""
    value = config
    for part in path.split("."):
        value = getattr(value, part)
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else copy.deepcopy(value)


def model_kwargs(config: "Config") -> dict:
    """The keyword arguments of the entry's model class except its networks: every setting of
    its constructor (the YAML's value or the default), the arguments it takes from other
    sections (its ``config_arguments``, e.g. ``seed`` from ``train.seed``), the entry's name
    and whole config (``zoo_config``, provenance)."""
    m, signature = config.model, class_signature(config.model.cls)
    kwargs = {key: copy.deepcopy(getattr(m, key)) for key in signature.settings}
    kwargs.update({arg: config_path_value(config, path) for arg, path in signature.config_arguments.items()})
    kwargs.update(zoo_config=config.to_dict(), name=config.name)
    return kwargs


# ---------------------------------------------------------------------- typed building

def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp, where: str, origin: str):
    """Return ``value`` as type ``tp`` or raise ConfigError; accepts ints for floats and
    numeric strings such as ``2e-4`` (YAML 1.1 reads those as strings)."""
    type_origin = typing.get_origin(tp)
    if type_origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        # Try exact type matches first so that ``true`` stays a bool in Union[bool, str].
        for arg in sorted((a for a in args if a is not type(None)), key=lambda a: a is str):
            try:
                return _coerce(value, arg, where, origin)
            except ConfigError as err:
                errors.append(err)
        raise ConfigError(f"{origin}: {where}: expected {_type_name(tp)}, got {value!r}")
    if type_origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{origin}: {where}: expected {_type_name(tp)}, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_coerce(v, item, f"{where}[{i}]", origin) for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - schema uses only the types above
        return value
    raise ConfigError(f"{origin}: {where}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__})")


def _model_key_types(cls: str) -> dict:
    """``model`` key -> type for class ``cls``: its settings, then the networks' keys."""
    types_ = {name: s.type for name, s in model_settings(cls).items()}
    types_.update({name: split_annotated(tp)[0] for name, (tp, _) in NETWORK_MODEL_SETTINGS.items()})
    return types_


def _all_model_key_types() -> dict:
    """``model`` key -> type for every registered class (the first class that takes a key wins)."""
    out = {}
    for cls in model_class_names():
        for name, tp in _model_key_types(cls).items():
            out.setdefault(name, tp)
    return out


def _build_model_section(raw, origin: str) -> ModelConfig:
    """The ``model`` section: ``cls`` must be a registered class; each other key a setting of its
    constructor (coerced to the annotation's type) or a network's (:data:`NETWORK_MODEL_SETTINGS`).
    A key some other class takes is kept for :meth:`Config.validate` to refuse as unused (with
    which classes take it); any other key is unknown."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: model: expected a mapping of model keys, got {raw!r}")
    cls = _coerce(raw.get("cls", "GAN"), str, "model.cls", origin)
    if cls not in model_class_names():
        close = difflib.get_close_matches(cls, model_class_names(), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"{origin}: model.cls: '{cls}' is not one of {', '.join(model_class_names())}{hint}")
    ours, everyone = _model_key_types(cls), _all_model_key_types()
    values = {}
    for key, value in raw.items():
        if key == "cls":
            continue
        tp = ours.get(key, everyone.get(key))
        if tp is None:
            valid = ["cls", *ours]
            close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"{origin}: unknown key 'model.{key}' in 'model'{hint} (valid keys for {cls}, from "
                              f"its constructor and its networks: {', '.join(valid)})")
        values[key] = _coerce(value, tp, f"model.{key}", origin)
    return ModelConfig(cls, **values)


def _build(cls, raw: dict, origin: str, prefix: str):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        where = f"{prefix}{key}"
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            section = f" in '{prefix[:-1]}'" if prefix else ""
            raise ConfigError(f"{origin}: unknown key '{where}'{section}{hint} "
                              f"(valid keys: {', '.join(names)})")
        tp = hints[key]
        if tp is ModelConfig:
            kwargs[key] = _build_model_section(value, origin)
        elif dataclasses.is_dataclass(tp):
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: {where}: expected a mapping of {tp.__name__} keys, got {value!r}")
            kwargs[key] = _build(tp, value, origin, prefix=f"{where}.")
        else:
            kwargs[key] = _coerce(value, tp, where, origin)
    return cls(**kwargs)


# ---------------------------------------------------------------------- overrides

def _set_path(raw: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _leaf_paths() -> dict[str, list[str]]:
    """Map each leaf key name to the dotted paths that end in it (``learning_rate`` -> ``train.learning_rate``)."""
    paths: dict[str, list[str]] = {}
    hints = typing.get_type_hints(Config)
    for f in dataclasses.fields(Config):
        tp = hints[f.name]
        if tp is ModelConfig:
            for name in _all_model_key_types():
                paths.setdefault(name, []).append(f"model.{name}")
        elif dataclasses.is_dataclass(tp):
            for sub in dataclasses.fields(tp):
                paths.setdefault(sub.name, []).append(f"{f.name}.{sub.name}")
        else:
            paths.setdefault(f.name, []).append(f.name)
    return paths


class _Null:
    """The value ``null`` in an override: unlike ``None`` (ignored), it sets the key to None."""

    def __repr__(self):
        return "NULL"


#: Pass this to set an optional key to None (``--set model.ema_decay=null`` on the CLI);
#: a plain ``None`` override is ignored.
NULL = _Null()


def apply_overrides(config: Config, overrides: dict, origin: str = "overrides", base: Optional[str] = None) -> Config:
    """Return a new config with ``overrides`` applied and validated; errors name ``origin`` on top
    of ``base`` (default: the config's name; ``ganzoo.get_config`` passes its YAML file).

    Keys may be dotted paths (``"train.learning_rate"``), section names with a dict value
    (``train={"learning_rate": 1e-4}``), a double-underscore path (``train__learning_rate``)
    or a leaf name that is unique across sections (``learning_rate``). ``None`` values are
    ignored, as in ``timm.create_model``, so callers can pass optional CLI flags through;
    :data:`NULL` sets a key to None (e.g. ``{"model.ema_decay": NULL}`` turns EMA off).
    """
    raw = config.to_dict()
    given = set()  # the dotted keys the overrides set
    leaves = _leaf_paths()
    sections = {f.name for f in dataclasses.fields(Config) if dataclasses.is_dataclass(f.type) or
                f.name in ("model", "generator", "discriminator", "data", "train", "augment")}
    for key, value in overrides.items():
        if value is None:
            continue
        if value is NULL:
            value = None
        key = key.replace("__", ".")
        if "." not in key and key in sections and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                _set_path(raw, f"{key}.{sub_key}", None if sub_value is NULL else sub_value)
                given.add(f"{key}.{sub_key}")
            continue
        if "." not in key and key not in raw:
            paths = leaves.get(key)
            if paths and len(paths) > 1:
                raise ConfigError(f"{origin}: '{key}' is ambiguous: say which one of {', '.join(paths)}")
            if paths:
                key = paths[0]
        _set_path(raw, key, value)
        given.add(key)
    where = f"{origin} on top of {base or config.name}"
    _drop_settings_left_behind(config, raw, given, where)
    return Config.from_dict(raw, origin=where)


def _drop_settings_left_behind(config: Config, raw: dict, given: set, origin: str) -> None:
    """An override that switches a mode (``data.source: folder``, ``train.optimizer: rmsprop``,
    ``train.lr_schedule: constant``, ``model.cls``, a network's ``arch``) leaves the base entry's
    settings of the old mode unread: reset those to their defaults instead of refusing them. Keys
    the overrides set themselves are never reset (validation refuses them if unread)."""
    try:
        switched = _build(Config, raw, origin, prefix="")
        before, after = used_keys(config), used_keys(switched)
    except (ConfigError, KeyError):
        return  # an invalid choice: Config.from_dict reports it
    default = Config()
    for key in before - after - given:
        section, name = key.split(".", 1)
        if section == "model":  # a setting the new class does not take: it goes with the old class
            raw["model"].pop(name, None)
        else:
            raw[section][name] = copy.deepcopy(getattr(getattr(default, section), name))


def parse_set_option(text: str) -> tuple[str, Any]:
    """Parse a CLI ``--set key=value``; the value is read as a YAML scalar (``2e-4``, ``true``,
    ``[1, 2]``); ``null`` (or ``~``) gives :data:`NULL`, which sets the key to None."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value (e.g. --set train.learning_rate=2e-4), got '{text}'")
    key, value = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set expects key=value, got '{text}'")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    if parsed is None:  # YAML null: `null`, `Null`, `~` ("none" stays a string: norm=none is a value)
        parsed = NULL
    return key, parsed
