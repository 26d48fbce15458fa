"""A model class's constructor is its configuration: the ``model:`` keys of an entry are the
keyword arguments of its class's constructor (ganzoo.model_registry.model_settings), read from
the signature, with no second table to keep in step."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import ganzoo
from ganzoo import model_registry
from ganzoo.config import LEGACY_MODEL_DEFAULTS, Config, ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_settings_read_from_source_agree_with_the_imported_classes():
    """Before its module is imported a class's settings are read from its source (no
    TensorFlow); that reading must give exactly what inspect gives on the imported class."""
    code = textwrap.dedent("""
        import json, sys
        from ganzoo import model_registry as r
        out = {n: [[s.name, repr(s.type), repr(s.default)] for s in r.model_settings(n).values()]
               + [list(r.class_signature(n).network_keys), sorted(r.class_signature(n).config_arguments.items())]
               for n in r.model_class_names()}
        print(json.dumps([out, "tensorflow" in sys.modules]))
    """)
    import json

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True,
                          env={**__import__("os").environ, "GANZOO_LAZY_IMPORT": "1", "PYTHONPATH": str(REPO / "src")})
    from_source, tf_imported = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not tf_imported
    for name in model_registry.model_class_names():
        model_registry.model_class(name)
    model_registry.class_signature.cache_clear()
    imported = {n: [[s.name, repr(s.type), repr(s.default)] for s in model_registry.model_settings(n).values()]
                + [list(model_registry.class_signature(n).network_keys),
                   [list(p) for p in sorted(model_registry.class_signature(n).config_arguments.items())]]
                for n in model_registry.model_class_names()}
    assert from_source == imported


def test_settings_are_the_constructor_arguments():
    from ganzoo.models import StyleGAN

    settings = model_registry.model_settings("StyleGAN")
    assert settings["style_mixing_prob"].default == 0.9 and settings["style_mixing_prob"].type is float
    assert settings["r1_interval"].owner == "StyleGAN" and settings["ema_decay"].owner == "GANBase"
    # networks, arguments from other sections, provenance and refused base arguments are no settings
    for name in ("generator", "discriminator", "seed", "augment", "zoo_config", "num_classes"):
        assert name not in settings
    assert "num_classes" in model_registry.model_settings("ConditionalGAN")
    assert "scale" not in model_registry.model_settings("SRGAN")
    config = ganzoo.get_config("stylegan_mnist", **{"model.style_mixing_prob": 0.5})
    assert config.model.style_mixing_prob == 0.5
    assert ganzoo.get_config("stylegan_mnist").model.w_avg_beta == StyleGAN.__init__.__defaults__[3] == 0.995


def test_unknown_and_unused_model_keys_name_the_fix():
    with pytest.raises(ConfigError, match=r"unknown key 'model.style_mixing' .*did you mean 'style_mixing_prob'"):
        ganzoo.get_config("stylegan_mnist", **{"model.style_mixing": 0.5})
    with pytest.raises(ConfigError, match=r"model.style_mixing_prob is not used by GAN .*applies to StyleGAN"):
        ganzoo.get_config("dcgan_mnist", **{"model.style_mixing_prob": 0.5})
    with pytest.raises(ConfigError, match=r"model.feature_matching is not used by ProgressiveGAN"):
        ganzoo.get_config("pggan_mnist", **{"model.feature_matching": 1.0})
    with pytest.raises(ConfigError, match=r"model.style_mixing_prob: expected float, got 'lots'"):
        ganzoo.get_config("stylegan_mnist", **{"model.style_mixing_prob": "lots"})
    with pytest.warns(DeprecationWarning, match="takes no setting 'style_mixing_prob'"):  # old reads still work
        assert ganzoo.get_config("dcgan_mnist").model.style_mixing_prob == 0.9


def test_a_run_folder_config_written_in_the_legacy_shape_loads():
    """Run folders hold config.yaml files written when the model section listed every key of
    every class; their keys at the old defaults are accepted, and the hashes are the same."""
    config = ganzoo.get_config("wgan_gp_mnist")
    raw = yaml.safe_load(config.to_yaml())
    raw["model"] = {**dict(LEGACY_MODEL_DEFAULTS), **raw["model"]}
    again = Config.from_dict(raw, origin="runs/old/config.yaml")
    assert again.hash() == config.hash() and again.model == config.model
    raw["model"]["style_mixing_prob"] = 0.5  # not the old default: a real setting WGAN ignores
    with pytest.raises(ConfigError, match="style_mixing_prob is not used by WassersteinGAN"):
        Config.from_dict(raw, origin="runs/old/config.yaml")


def test_a_key_of_the_old_schema_the_class_does_not_take_still_reads_its_old_default_with_a_warning():
    """``config.model.n_critic`` of a GAN returned 1 before settings moved to the constructors; user
    code that reads it keeps working (DeprecationWarning), a name that never existed still fails."""
    import pytest

    model = ganzoo.get_config("dcgan_mnist").model
    with pytest.warns(DeprecationWarning, match=r"n_critic.*get\('n_critic'"):
        assert model.n_critic == 1
    assert model.get("n_critic", 1) == 1
    with pytest.raises(AttributeError, match="did you mean 'latent_dim'"):
        model.latent_dimm
