"""Which object of an entry reads which key: the model class (its constructor's settings),
the network builders (their keyword arguments), the data pipeline of the class's data kind,
training and augmentation; :func:`used_keys`, the messages for a key set where nothing reads it
(with the classes or archs that would), and the keyword arguments a model class is built with."""

from __future__ import annotations

import copy
import dataclasses

from ganzoo.config.legacy import LEGACY_MODEL_DEFAULTS, LEGACY_NETWORK_DEFAULTS
from ganzoo.config.schema import (FEATURE_EXTRACTOR_KEYS, SECTION_TYPES, SECTIONS, SMOOTHABLE_LOSSES, AugmentConfig,
                                  ConfigError, TrainConfig)
from ganzoo.config.sections import all_model_key_types, all_network_key_types
from ganzoo.model_registry import (class_signature, model_class_info, model_class_names, model_settings,
                                   network_arch_names, network_spec)
from ganzoo.network_registry import ROLES

# ---------------------------------------------------------------------- which object uses which key
# Every key of a config reaches the object that uses it, or setting it is refused. A model
# class's ``model`` keys are its constructor's keyword arguments (ganzoo.model_registry.
# model_settings); the tables below say which keys each network builder and data pipeline
# take; a network section's keys are its builder's keyword arguments (ganzoo.model_registry.
# network_spec, from the builder registered with ganzoo.network_registry.register_network). From them ``Config.validate`` refuses a key set (to anything but its default) where the
# entry's objects would ignore it, ``model_kwargs`` hands a model class exactly its settings,
# and tests/config/test_keys.py checks, for every registered entry, that changing each key it
# accepts changes the built model, its data or its training. A new model setting: a keyword
# argument of the class's constructor (nothing else); a new network / data key: a dataclass
# field and its name in the table of each network / pipeline that uses it.

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



def data_kind(config) -> str:
    """The data kind of the entry's model class (:data:`ganzoo.model_registry.DATA_KINDS`)."""
    return model_class_info(config.model.cls).data_kind


def _conditional(config) -> bool:
    return config.model.get("num_classes") is not None


def _tfds(config) -> bool:
    """Whether the data come from TFDS (with uci_digits, a CycleGAN's domain A does)."""
    return config.data.source == "tfds" or (config.data.source == "uci_digits" and data_kind(config) == "unpaired_ab")


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
    "data.cache": (lambda c: _tfds(c) or data_kind(c) == "paired_lr_hr", "a folder source is held in memory "
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



def model_keys(cls: str) -> tuple:
    """The ``model`` keys class ``cls`` takes: the settings of its constructor
    (:func:`ganzoo.model_registry.model_settings`)."""
    return tuple(model_settings(cls))


def model_keys_read(config: "Config") -> list[str]:
    """The ``model`` keys (bare names) the entry's class and networks take, ``cls`` aside."""
    return [k.split(".", 1)[1] for k in key_owners(config, when=False) if k.startswith("model.") and k != "model.cls"]


def key_owners(config: "Config", when: bool = True) -> dict[str, str]:
    """Dotted key -> the object that takes it, for every key the entry's objects take; with
    ``when``, the keys of :data:`KEYS_READ_WHEN` only where they are read."""
    m = config.model
    owners = {"model.cls": "the registry", "generator.arch": "the registry", "discriminator.arch": "the registry"}
    for key in model_keys(m.cls):
        owners.setdefault(f"model.{key}", m.cls)
    if "feature_extractor" in class_signature(m.cls).network_keys:
        for key in FEATURE_EXTRACTOR_KEYS:
            owners.setdefault(f"model.{key}", f"{m.cls}'s feature extractor")
    for role in ROLES:
        arch = getattr(config, role).arch
        for key in network_spec(role, arch).reads():
            owners.setdefault(key, f"the '{arch}' {role}")
    pipeline = data_kind(config)
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
    keys = ["model.cls"] + [f"model.{name}" for name in all_model_key_types()]
    for role in ROLES:
        keys += [f"{role}.arch"] + [f"{role}.{name}" for name in {**LEGACY_NETWORK_DEFAULTS,
                                                                  **all_network_key_types(role)}]
    for section in SECTIONS[3:]:
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(SECTION_TYPES[section])]
    return keys


def used_keys(config: "Config") -> set[str]:
    """The dotted keys (``model.r1_gamma``, ``generator.filters``, ...) that this config's model,
    networks, data pipeline, training or augmentation read; setting any other key to anything but
    its default is a :class:`ConfigError`."""
    return set(key_owners(config))


def _classes_using(key: str) -> list[str]:
    section, name = key.split(".", 1)
    if section == "model":
        users = [c for c in model_class_names() if name in model_keys(c)
                 or (name in FEATURE_EXTRACTOR_KEYS and "feature_extractor" in class_signature(c).network_keys)]
        users += [c for c in model_class_names() if c not in users and class_signature(c).network_archs
                  and any(key in network_spec(role, arch).reads() for role, arch in
                          zip(ROLES, class_signature(c).network_archs))]
        return users
    if section == "data":
        return [c for c in model_class_names() if name in DATA_KEYS[model_class_info(c).data_kind]]
    return []


def unused_key_message(config: "Config", key: str) -> tuple[str, str]:
    """``(who ignores it, why and what to do)`` for ``key``, set yet read by none of the entry's objects."""
    m = config.model
    section, name = key.split(".", 1)
    owners = key_owners(config, when=False)
    if key in owners:  # taken, but not read in this setting
        return f"is not read by {owners[key]}", f"{KEYS_READ_WHEN[key][1]}; remove it"
    if section in ("generator", "discriminator"):
        arch = getattr(config, section).arch
        archs = [a for a in network_arch_names(section) if name in network_spec(section, a).options]
        note = network_spec(section, arch).note
        note = f"{note}; " if note else ""
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


def check_keys_are_used(config: "Config", origin: str) -> None:
    """Refuse a key set to a non-default value that the entry's objects would ignore. A key of
    an older schema (an old run folder's config.yaml) that nothing reads any more is dropped
    when it sits at its old default."""
    used = used_keys(config)

    def refuse(key: str) -> None:
        who, why = unused_key_message(config, key)
        raise ConfigError(f"{key} {who} ({origin}): {why}")

    older = {"model": LEGACY_MODEL_DEFAULTS, **{role: LEGACY_NETWORK_DEFAULTS for role in ROLES}}
    for section, old_defaults in older.items():
        values = getattr(config, section).values
        for name, value in list(values.items()):
            if f"{section}.{name}" in used:
                continue
            if value != old_defaults.get(name, _MISSING):
                refuse(f"{section}.{name}")
            del values[name]  # an old config's key at its old default: nothing reads it
    for section in SECTIONS[3:]:
        ours = getattr(config, section)
        theirs = type(ours)()
        for f in dataclasses.fields(ours):
            key = f"{section}.{f.name}"
            if key not in used and getattr(ours, f.name) != getattr(theirs, f.name):
                refuse(key)


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

