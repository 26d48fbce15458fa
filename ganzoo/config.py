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
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "NetworkConfig",
    "TrainConfig",
    "AugmentConfig",
    "apply_overrides",
    "parse_set_option",
]

#: Names accepted for each choice-valued key. The model, network and loss tables in
#: ``ganzoo.registry`` / ``ganzoo.losses`` are checked against these in the tests.
MODEL_CLASSES = ("GAN", "ConditionalGAN", "WassersteinGAN")
LOSS_NAMES = ("minimax", "non_saturating", "least_squares", "hinge", "wasserstein")
SMOOTHABLE_LOSSES = ("minimax", "non_saturating", "least_squares")
GENERATOR_ARCHS = ("mlp", "dcgan")
DISCRIMINATOR_ARCHS = ("mlp", "dcgan", "sngan")
NORMS = ("batch", "layer", "none")
CONDITIONINGS = ("concat", "projection")
DATA_SOURCES = ("tfds", "folder")
OPTIMIZERS = ("adam", "rmsprop")
LR_SCHEDULES = ("constant", "linear", "cosine")


class ConfigError(ValueError):
    """A zoo config (or an override) has an unknown key, a wrong type or an impossible value."""


@dataclass
class NetworkConfig:
    """Builder arguments of one network (generator or discriminator)."""

    #: ``mlp`` (fully connected, Goodfellow et al. 2014), ``dcgan`` (Radford et al. 2016),
    #: ``sngan`` (the "standard CNN" discriminator of Miyato et al. 2018; D only).
    arch: str = "dcgan"
    #: Width of the widest convolution (dcgan/sngan); halves at each larger resolution.
    filters: int = 64
    #: Hidden layer widths of an ``mlp`` network, input side first.
    hidden: list[int] = field(default_factory=lambda: [256, 512, 1024])
    #: Normalisation after hidden layers: ``batch``, ``layer`` or ``none``.
    norm: str = "batch"
    #: Wrap every Dense/Conv in spectral normalisation (Miyato et al. 2018).
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


@dataclass
class ModelConfig:
    """The training scheme: which model class, its loss and its tricks."""

    #: ``GAN`` (unconditional), ``ConditionalGAN`` or ``WassersteinGAN``.
    cls: str = "GAN"
    latent_dim: int = 100
    #: Number of classes of a conditional model (None: unconditional).
    num_classes: Optional[int] = None
    loss: str = "non_saturating"
    #: One-sided label smoothing of the real target (Salimans et al. 2016).
    label_smoothing: float = 0.0
    #: Gradient-penalty weight lambda (WGAN-GP, Gulrajani et al. 2017); 0 disables.
    gradient_penalty: float = 0.0
    #: R1 penalty weight gamma (Mescheder et al. 2018); 0 disables.
    r1_gamma: float = 0.0
    #: WGAN weight clipping bound c (Arjovsky et al. 2017); None disables.
    clip_value: Optional[float] = None
    #: Critic updates per generator update (WassersteinGAN).
    n_critic: int = 1
    #: Decay of the exponential moving average of G's weights used for sampling; None disables.
    ema_decay: Optional[float] = None


@dataclass
class AugmentConfig:
    """Augmentation in the discriminator's path (DiffAugment / ADA); off by default."""

    policy: str = ""


@dataclass
class DataConfig:
    """Where the images come from and how they are shaped."""

    #: ``tfds`` (a TensorFlow Datasets name) or ``folder`` (a local folder of images).
    source: str = "tfds"
    #: TFDS dataset name, e.g. ``mnist``, ``cifar10``, ``celeb_a``.
    name: str = "mnist"
    #: Folder of images for ``source: folder``.
    path: Optional[str] = None
    split: str = "train"
    #: Output height and width in pixels.
    image_size: int = 32
    #: 1 (grayscale) or 3 (RGB).
    channels: int = 1
    #: Center-crop a square of this many pixels before resizing (CelebA: 140).
    crop: Optional[int] = None
    #: Use only the first N examples of the split (small-data entries).
    limit: Optional[int] = None
    #: Cache decoded, resized uint8 images in memory after the first epoch.
    cache: bool = True
    shuffle_buffer: int = 10000
    image_key: str = "image"
    label_key: str = "label"


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
    #: XLA: ``auto`` (what measured faster on this platform), true or false.
    jit_compile: Union[bool, str] = "auto"
    steps_per_execution: int = 1
    seed: int = 0


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
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def copy(self) -> "Config":
        return copy.deepcopy(self)

    def hash(self) -> str:
        """A short stable hash of everything that changes what the entry learns."""
        d = self.to_dict()
        for key in ("name", "description", "paper", "source"):
            d.pop(key, None)
        blob = json.dumps(d, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def conditional(self) -> bool:
        return self.model.num_classes is not None

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

        choice("model.cls", m.cls, MODEL_CLASSES)
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
        choice("train.optimizer", t.optimizer, OPTIMIZERS)
        choice("train.lr_schedule", t.lr_schedule, LR_SCHEDULES)

        positive("model.latent_dim", m.latent_dim)
        positive("model.n_critic", m.n_critic)
        positive("model.clip_value", m.clip_value, allow_none=True)
        if m.num_classes is not None and m.num_classes < 2:
            fail("model.num_classes", f"a conditional model needs at least 2 classes, got {m.num_classes}")
        if m.cls == "ConditionalGAN" and m.num_classes is None:
            fail("model.num_classes", "ConditionalGAN needs num_classes (e.g. 10 for MNIST)")
        if m.cls == "GAN" and m.num_classes is not None:
            fail("model.cls", "num_classes is set: use ConditionalGAN for a conditional model")
        if not 0.0 <= m.label_smoothing < 1.0:
            fail("model.label_smoothing", f"must be in [0, 1), got {m.label_smoothing}")
        if m.label_smoothing > 0 and m.loss not in SMOOTHABLE_LOSSES:
            fail("model.label_smoothing", f"the '{m.loss}' loss has no real target to smooth; "
                 f"use one of {', '.join(SMOOTHABLE_LOSSES)} or set label_smoothing: 0")
        for key in ("gradient_penalty", "r1_gamma"):
            if getattr(m, key) < 0:
                fail(f"model.{key}", f"must be >= 0, got {getattr(m, key)}")
        if m.ema_decay is not None and not 0.0 < m.ema_decay < 1.0:
            fail("model.ema_decay", f"must be in (0, 1), got {m.ema_decay}")
        if m.cls == "WassersteinGAN":
            if m.loss != "wasserstein":
                fail("model.loss", "WassersteinGAN trains a critic with the 'wasserstein' loss")
            if m.clip_value is None and m.gradient_penalty == 0:
                fail("model.clip_value", "a WassersteinGAN needs a Lipschitz constraint: set clip_value "
                     "(WGAN) or gradient_penalty (WGAN-GP)")
            if m.gradient_penalty > 0 and d.norm == "batch":
                fail("discriminator.norm", "batch norm breaks the per-example gradient penalty "
                     "(Gulrajani et al. 2017, sec. 4); use 'layer' or 'none'")
        elif m.n_critic != 1 or m.clip_value is not None:
            fail("model.n_critic" if m.n_critic != 1 else "model.clip_value",
                 f"only WassersteinGAN uses n_critic/clip_value; model.cls is '{m.cls}'")

        if data.channels not in (1, 3):
            fail("data.channels", f"must be 1 or 3, got {data.channels}")
        positive("data.image_size", data.image_size)
        positive("data.crop", data.crop, allow_none=True)
        positive("data.limit", data.limit, allow_none=True)
        positive("data.shuffle_buffer", data.shuffle_buffer)
        if data.source == "folder" and not data.path:
            fail("data.path", "a folder source needs the folder of images: set data.path "
                 "(or pass --data-path on the command line)")
        if g.arch == "dcgan":
            size, base = data.image_size, g.base_size
            ratio = size // base if base > 0 else 0
            if base <= 0 or size % base or ratio < 2 or ratio & (ratio - 1):
                examples = ", ".join(str(base * 2 ** k) for k in range(1, 5)) if base > 0 else "32"
                fail("data.image_size",
                     f"the dcgan generator doubles generator.base_size={base} at each block, so it cannot "
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
        if t.lr_schedule != "constant" and t.decay_steps is None:
            fail("train.decay_steps", f"lr_schedule '{t.lr_schedule}' needs decay_steps (the number of "
                 "optimizer steps over which the learning rate decays)")


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
        if dataclasses.is_dataclass(tp):
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
        if dataclasses.is_dataclass(tp):
            for sub in dataclasses.fields(tp):
                paths.setdefault(sub.name, []).append(f"{f.name}.{sub.name}")
        else:
            paths.setdefault(f.name, []).append(f.name)
    return paths


def apply_overrides(config: Config, overrides: dict, origin: str = "overrides") -> Config:
    """Return a new config with ``overrides`` applied and validated.

    Keys may be dotted paths (``"train.learning_rate"``), section names with a dict value
    (``train={"learning_rate": 1e-4}``), a double-underscore path (``train__learning_rate``)
    or a leaf name that is unique across sections (``learning_rate``). ``None`` values are
    ignored, as in ``timm.create_model``, so callers can pass optional CLI flags through.
    """
    raw = config.to_dict()
    leaves = _leaf_paths()
    sections = {f.name for f in dataclasses.fields(Config) if dataclasses.is_dataclass(f.type) or
                f.name in ("model", "generator", "discriminator", "data", "train", "augment")}
    for key, value in overrides.items():
        if value is None:
            continue
        key = key.replace("__", ".")
        if "." not in key and key in sections and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                _set_path(raw, f"{key}.{sub_key}", sub_value)
            continue
        if "." not in key and key not in raw:
            paths = leaves.get(key)
            if paths and len(paths) > 1:
                raise ConfigError(f"{origin}: '{key}' is ambiguous: say which one of {', '.join(paths)}")
            if paths:
                key = paths[0]
        _set_path(raw, key, value)
    return Config.from_dict(raw, origin=f"{origin} on top of {config.name}")


def parse_set_option(text: str) -> tuple[str, Any]:
    """Parse a CLI ``--set key=value``; the value is read as a YAML scalar (``2e-4``, ``true``, ``[1, 2]``)."""
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
    return key, parsed
