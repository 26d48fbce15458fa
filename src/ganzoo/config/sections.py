"""The ``model`` and network sections of a config, whose keys are the keyword arguments of the
entry's model class (:func:`ganzoo.model_registry.model_settings`) or network builder
(:func:`ganzoo.model_registry.network_spec`), and the key -> type tables read from them."""

from __future__ import annotations

import copy
import warnings

from ganzoo.config.legacy import LEGACY_MODEL_DEFAULTS, LEGACY_NETWORK_DEFAULTS
from ganzoo.config.schema import DEFAULT_MODEL_CLASS, NETWORK_MODEL_SETTINGS, did_you_mean
from ganzoo.constraints import split_annotated
from ganzoo.model_registry import model_class_names, model_settings, network_arch_names, network_spec


class SettingsSection:
    """A section whose keys are the keyword arguments of a signature (a model class's
    constructor, a network builder): the fixed attributes that choose the signature
    (:attr:`FIXED`: ``cls``; ``arch`` and ``role``) and ``values``, the keys the config set. A key
    reads the value given, else its default (:meth:`defaults`); another name is
    :meth:`missing`'s to answer (an AttributeError with the closest key)."""

    #: The attributes that choose the signature, first the one :func:`repr` shows.
    FIXED: tuple = ()

    def __init__(self, fixed: dict, values: dict):
        for name in self.FIXED:
            object.__setattr__(self, name, fixed[name])
        object.__setattr__(self, "values", dict(values))

    def defaults(self) -> dict:
        """Key -> default of every key this section may hold."""
        raise NotImplementedError

    def missing(self, name: str, defaults: dict):
        """What reading ``name``, which is no key of the section, gives: an AttributeError."""
        raise AttributeError(f"{type(self).__name__} has no key '{name}'{did_you_mean(name, defaults)}")

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        defaults = self.defaults()
        if name in defaults:
            return defaults[name]
        return self.missing(name, defaults)

    def __setattr__(self, name: str, value) -> None:
        if name in self.FIXED:
            object.__setattr__(self, name, value)
        else:
            self.values[name] = value

    def get(self, name: str, default=None):
        """The value of ``name`` (given or its default), or ``default`` if the section takes no such key."""
        try:
            return getattr(self, name)
        except AttributeError:
            return default

    def replace(self, **changes):
        """A copy with ``changes`` (fixed attributes and/or keys), as ``dataclasses.replace`` for the
        other sections."""
        values = {**copy.deepcopy(self.values), **changes}
        return type(self)(**{name: values.pop(name, getattr(self, name)) for name in self.FIXED}, **values)

    def __eq__(self, other) -> bool:
        """Same type, same fixed attributes and same value of every key (given or default)."""
        return (type(other) is type(self) and all(getattr(self, n) == getattr(other, n) for n in self.FIXED)
                and {**self.defaults(), **self.values} == {**other.defaults(), **other.values})

    def __repr__(self) -> str:
        head = self.FIXED[0]
        return (f"{type(self).__name__}({head}={getattr(self, head)!r}"
                f"{''.join(f', {k}={v!r}' for k, v in self.values.items())})")


class NetworkConfig(SettingsSection):
    """A ``generator`` / ``discriminator`` section: ``arch``, the builder registered for it
    (:func:`ganzoo.network_registry.register_network`), and the keyword arguments of that
    builder (name, type, range and default from its signature:
    :func:`ganzoo.model_registry.network_spec`). ``config.generator.filters`` reads a key: the
    value the YAML gave, else its default (:data:`LEGACY_NETWORK_DEFAULTS` for the keys that
    existed before, else the builder's); another key is an AttributeError."""

    FIXED = ("arch", "role")

    def __init__(self, arch: str = "dcgan", role: str = "generator", **values):
        super().__init__({"arch": arch, "role": role}, values)

    def defaults(self) -> dict:
        """Key -> default of every key of this section's builder, and the legacy keys."""
        out = copy.deepcopy(dict(LEGACY_NETWORK_DEFAULTS))
        for name, option in network_options(self.role, self.arch).items():
            out.setdefault(name, copy.deepcopy(option.default))
        return out

    def missing(self, name: str, defaults: dict):
        """An AttributeError naming the builder and the closest key."""
        raise AttributeError(f"the '{self.arch}' {self.role} takes no key '{name}'{did_you_mean(name, defaults)}")

    def to_dict(self) -> dict:
        """``arch``, the legacy keys (their frozen shape) and the builder's other keys."""
        return {"arch": self.arch, **{k: copy.deepcopy(getattr(self, k)) for k in self.defaults()}}


def network_options(role: str, arch: str) -> dict:
    """Key -> Setting of the builder of ``role: {arch}`` (empty for an unknown arch)."""
    try:
        return network_spec(role, arch).options
    except KeyError:
        return {}


def all_network_options(role: str) -> dict:
    """Section key -> Setting for every registered builder of ``role`` (the first builder wins)."""
    out = {}
    for arch in network_arch_names(role):
        for name, option in network_spec(role, arch).options.items():
            out.setdefault(name, option)
    return out


def all_network_key_types(role: str) -> dict:
    """Section key -> type for every registered builder of ``role`` (the first builder wins)."""
    return {name: option.type for name, option in all_network_options(role).items()}


def model_key_types(cls: str) -> dict:
    """``model`` key -> type for class ``cls``: its settings, then the networks' keys."""
    types_ = {name: s.type for name, s in model_settings(cls).items()}
    types_.update({name: split_annotated(tp)[0] for name, (tp, _) in NETWORK_MODEL_SETTINGS.items()})
    return types_


def all_model_key_types() -> dict:
    """``model`` key -> type for every registered class (the first class that takes a key wins)."""
    out = {}
    for cls in model_class_names():
        for name, tp in model_key_types(cls).items():
            out.setdefault(name, tp)
    return out


class ModelConfig(SettingsSection):
    """The ``model`` section: ``cls``, the model class (``ganzoo.model_registry``), and the
    keyword arguments of its constructor (its *settings*: name, type and default come from the
    signature, :func:`ganzoo.model_registry.model_settings`), plus the few ``model`` keys that
    network builders read (:data:`NETWORK_MODEL_SETTINGS`).

    ``config.model.style_mixing_prob`` reads a setting: the value the YAML gave, else the
    constructor's default; a key of the old schema that the class does not take
    (``config.model.n_critic`` of a GAN) still reads its old default, with a DeprecationWarning;
    any other name is an AttributeError. :meth:`get` reads with a fallback.
    """

    FIXED = ("cls",)

    def __init__(self, cls: str = DEFAULT_MODEL_CLASS, **values):
        super().__init__({"cls": cls}, values)

    def defaults(self) -> dict:
        """Key -> default of every key this section's class (or a network) may read."""
        out = {name: copy.deepcopy(s.default) for name, s in model_settings(self.cls).items()}
        out.update({name: default for name, (_, default) in NETWORK_MODEL_SETTINGS.items()})
        return out

    def missing(self, name: str, defaults: dict):
        """A key of the old schema: its old default, with a DeprecationWarning; another name: an
        AttributeError naming the class, the closest key and the class's settings."""
        if name in LEGACY_MODEL_DEFAULTS:  # read before settings moved to the constructors: still works
            warnings.warn(f"config.model.{name}: model class {self.cls} takes no setting '{name}'; reading it "
                          f"gives its old default {LEGACY_MODEL_DEFAULTS[name]!r}, and will fail in a later "
                          f"release: use config.model.get('{name}', default)", DeprecationWarning, stacklevel=3)
            return copy.deepcopy(LEGACY_MODEL_DEFAULTS[name])
        raise AttributeError(f"model class {self.cls} takes no setting '{name}'{did_you_mean(name, defaults)} (its "
                             f"settings: {', '.join(model_settings(self.cls))})")
