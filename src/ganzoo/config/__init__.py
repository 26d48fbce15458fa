"""Typed configuration for every zoo entry.

A zoo entry is one YAML file in ``zoo_configs/`` that holds only what differs from the
defaults. The schema is single: the dataclasses of the fixed sections and the signatures of the
model classes and network builders. Loading a YAML file checks every key and value against it,
so a typo or an impossible value fails with the file, the key and the closest valid key
instead of training the wrong model for hours.

One idea a module:

* :mod:`~ganzoo.config.schema`: the ``data`` / ``train`` / ``augment`` dataclasses, the
  choices of each choice-valued key, :class:`ConfigError`;
* :mod:`~ganzoo.config.sections`: the ``model`` and network sections (a class's constructor
  and a builder's keyword arguments);
* :mod:`~ganzoo.config.keys`: which object reads which key (:func:`used_keys`) and the
  messages for a key nothing reads;
* :mod:`~ganzoo.config.validate`: :meth:`Config.validate`'s checks;
* :mod:`~ganzoo.config.loading`: typed loading of a dict or a YAML file;
* :mod:`~ganzoo.config.entry`: :class:`Config` itself;
* :mod:`~ganzoo.config.overrides`: :func:`apply_overrides` and the CLI's ``--set``;
* :mod:`~ganzoo.config.legacy` (frozen records of older schemas) and
  :mod:`~ganzoo.config.hashing` (how a config becomes :meth:`Config.hash`).

Everything public is importable from ``ganzoo.config``. Nothing here imports TensorFlow:
``ganzoo list`` and config validation stay fast.
"""

from __future__ import annotations

from ganzoo.config.entry import Config
from ganzoo.config.hashing import dict_digest, drop_legacy_values
from ganzoo.config.keys import (DATA_KEYS, KEYS_READ_WHEN, config_path_value, model_keys, model_kwargs, schema_keys,
                                used_keys)
from ganzoo.config.legacy import LEGACY_MODEL_DEFAULTS, LEGACY_NETWORK_DEFAULTS, LEGACY_VALUES, UNHASHED_KEYS
from ganzoo.config.overrides import NULL, apply_overrides, parse_set_option
from ganzoo.config.schema import (ADA_LOSSES, CPU_THREADS_HELP, DATA_SOURCES, DIFF_AUGMENT_OPS,
                                  FEATURE_EXTRACTOR_KEYS, LOSS_NAMES, LR_SCHEDULES, METADATA_KEYS,
                                  NETWORK_MODEL_SETTINGS, OPTIMIZERS, PRECISIONS, SECTIONS, SMOOTHABLE_LOSSES,
                                  UCI_DIGITS_SPLITS, UCI_RESIZE_METHODS, VGG19_LAYERS, AugmentConfig, ConfigError,
                                  DataConfig, TrainConfig, did_you_mean, valid_cpu_threads)
from ganzoo.config.sections import ModelConfig, NetworkConfig, SettingsSection
from ganzoo.model_registry import image_to_image_class_names, model_class_names, network_arch_names

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


def __getattr__(name):
    """``MODEL_CLASSES`` / ``IMAGE_TO_IMAGE_CLASSES``: the registered model class names (all /
    the image-to-image ones) as tuples, and ``GENERATOR_ARCHS`` / ``DISCRIMINATOR_ARCHS``, the
    registered architectures, read from ``ganzoo.model_registry`` at each access."""
    if name == "MODEL_CLASSES":
        return model_class_names()
    if name == "IMAGE_TO_IMAGE_CLASSES":
        return image_to_image_class_names()
    if name == "GENERATOR_ARCHS":
        return network_arch_names("generator")
    if name == "DISCRIMINATOR_ARCHS":
        return network_arch_names("discriminator")
    raise AttributeError(f"module 'ganzoo.config' has no attribute '{name}'")
