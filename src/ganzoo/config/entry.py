"""The :class:`Config` of a zoo entry: its sections, how it is built from a dict or a YAML file
(typed and validated), serialized and hashed."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import yaml

from ganzoo.config.hashing import config_digest, legacy_shape
from ganzoo.config.keys import model_keys_read
from ganzoo.config.loading import build, read_yaml
from ganzoo.config.schema import AugmentConfig, ConfigError, DataConfig, TrainConfig
from ganzoo.config.sections import ModelConfig, NetworkConfig
from ganzoo.config.validate import validate_config


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
    generator: NetworkConfig = field(default_factory=lambda: NetworkConfig(role="generator"))
    discriminator: NetworkConfig = field(default_factory=lambda: NetworkConfig(role="discriminator"))
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, raw: dict, origin: str = "<dict>") -> "Config":
        """Build and validate a config from a (YAML-shaped) dict; ``origin`` names the file."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{origin}: the top level must be a mapping of sections, got {type(raw).__name__}")
        config = build(cls, raw, origin, prefix="")
        config.validate(origin)
        return config

    @classmethod
    def from_yaml(cls, path: Union[str, Path], name: Optional[str] = None) -> "Config":
        """Load a YAML file with the safe loader; the entry name defaults to the file stem."""
        return cls.from_dict(read_yaml(path, name), origin=str(path))

    def to_dict(self) -> dict:
        """The whole config as plain nested dicts (every key the entry reads, defaults included;
        the ``model`` section: ``cls`` and every setting of the class and its networks)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, NetworkConfig):
                out[f.name] = value.to_dict()
            elif f.name == "model":
                out["model"] = {"cls": value.cls, **{k: copy.deepcopy(getattr(value, k))
                                                     for k in model_keys_read(self)}}
            else:
                out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else copy.deepcopy(value)
        return out

    def hash_dict(self) -> dict:
        """:meth:`to_dict` with the ``model`` section in its legacy shape (the keys of
        :data:`~ganzoo.config.legacy.LEGACY_MODEL_DEFAULTS` that the class does not read at their
        values there): what :meth:`hash` and ``ganzoo.checkpoint.config_identity`` digest,
        unchanged since weights were published and trainings started."""
        return legacy_shape(self.to_dict())

    def to_yaml(self) -> str:
        """The whole config as YAML, in field order (``config.yaml`` of a run folder)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def copy(self) -> "Config":
        """A deep copy that can be changed without touching this config."""
        return copy.deepcopy(self)

    def hash(self) -> str:
        """A short stable hash of everything that changes what the entry learns (not its name,
        texts, speed-only keys, or keys at their legacy values; see ``UNHASHED_KEYS``)."""
        return config_digest(self.hash_dict())

    @property
    def conditional(self) -> bool:
        """Whether the entry is class-conditional (``model.num_classes`` is set)."""
        return self.model.get("num_classes") is not None

    # ------------------------------------------------------------------ validation
    def validate(self, origin: str = "<config>") -> None:
        """Check values that are well-typed but impossible; raise ConfigError naming the key
        (:func:`ganzoo.config.validate.validate_config`)."""
        validate_config(self, origin)
