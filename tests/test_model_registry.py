"""ganzoo.model_registry: one table of model classes, filled by the decorator where each class
is defined; classes declare what data and training need from them (data_kind,
batches_per_step), and a new GAN needs only its class and one YAML file (README, "Add a new GAN")."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ganzoo
from ganzoo import model_registry, registry

REPO = Path(__file__).resolve().parents[1]

#: A GAN of the user's own: two discriminator updates per generator update, each on half of the
#: examples of a step, so it declares batches_per_step = 2 (data and training must ask it).
NEW_GAN_MODULE = '''
import keras
from keras import ops

from ganzoo import losses
from ganzoo.models import GAN
from ganzoo.registry import register_model_class


@register_model_class
@keras.saving.register_keras_serializable(package="ganzoo_test_model_registry")
class TwoStepCriticGAN(GAN):
    """``critic_steps`` D updates (one per minibatch) per G update."""

    def __init__(self, generator, discriminator, critic_steps: int = 1, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.critic_steps = int(critic_steps)

    def get_config(self):
        return {**super().get_config(), "critic_steps": self.critic_steps}

    @classmethod
    def batches_per_step(cls, config):
        return config.model.critic_steps

    def train_step(self, data):
        real, _ = self.unpack(data)
        G, D = self.generator, self.discriminator
        for half in ops.split(real, self.critic_steps):
            z = self.sample_latent(ops.shape(half)[0])
            d_loss, _ = self.descend(self.d_optimizer, lambda: losses.discriminator_loss(
                self.loss_name, D(half, training=True), D(G(z, training=True), training=True)), D.trainable_variables)
        z = self.sample_latent(ops.shape(half)[0])
        g_loss, _ = self.descend(self.g_optimizer, lambda: losses.generator_loss(
            self.loss_name, D(G(z, training=True), training=True)), G.trainable_variables)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return self._metric_results()
'''

NEW_GAN_YAML = '''
description: A GAN of the user's own, from a folder outside ganzoo (tests/test_model_registry.py).
paper: 'none (a test)'
source: tiny networks so that two steps take a second
model:
  cls: TwoStepCriticGAN
  latent_dim: 8
  critic_steps: 2
generator:
  arch: mlp
  hidden: [16]
discriminator:
  arch: mlp
  hidden: [16]
data:
  source: uci_digits
  image_size: 8
  channels: 1
train:
  batch_size: 4
  epochs: 1
'''


@pytest.fixture
def own_folder(tmp_path, monkeypatch):
    """A folder with a model class module and a configs/ folder; registry state restored after."""
    (tmp_path / "my_gans.py").write_text(NEW_GAN_MODULE)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "twostep_digits.yaml").write_text(NEW_GAN_YAML)
    monkeypatch.syspath_prepend(str(tmp_path))
    extra_dirs = list(getattr(registry, "_EXTRA_DIRS", []))
    yield tmp_path
    sys.modules.pop("my_gans", None)
    if "TwoStepCriticGAN" in model_registry.model_class_names():
        model_registry.unregister_model_class("TwoStepCriticGAN")
    registry._EXTRA_DIRS[:] = extra_dirs
    registry._entries.cache_clear()


@pytest.mark.both_backends
def test_a_new_gan_is_its_class_and_one_yaml(own_folder):
    """The README's promise: a decorated class and a YAML file in a folder of one's own, no table
    edited; ganzoo.load(name) builds it, load_dataset asks it how many examples a step takes,
    and it trains (on TensorFlow and on JAX: its steps are keras.ops closures handed to descend)."""
    assert "twostep_digits" not in ganzoo.list_models()
    importlib.import_module("my_gans")  # the decorator registers model.cls: TwoStepCriticGAN
    assert registry.add_config_dir(own_folder / "configs") == ["twostep_digits"]
    assert "twostep_digits" in ganzoo.list_models("twostep_*")
    assert "TwoStepCriticGAN" in ganzoo.models.MODEL_CLASSES
    assert "TwoStepCriticGAN" in ganzoo.config.MODEL_CLASSES
    assert "TwoStepCriticGAN" not in ganzoo.config.IMAGE_TO_IMAGE_CLASSES

    # The constructor is the class's configuration: its new keyword argument is a model: key,
    # typed and checked from the signature, with no table edited.
    assert ganzoo.get_config("twostep_digits").model.critic_steps == 2
    with pytest.raises(ganzoo.ConfigError, match="unknown key 'model.critic_step' .*did you mean 'critic_steps'"):
        ganzoo.get_config("twostep_digits", **{"model.critic_step": 3})
    with pytest.raises(ganzoo.ConfigError, match="model.critic_steps: expected int"):
        ganzoo.get_config("twostep_digits", **{"model.critic_steps": "two"})

    model = ganzoo.load("twostep_digits")
    assert type(model).__name__ == "TwoStepCriticGAN" and model.latent_dim == 8 and model.critic_steps == 2
    ds = ganzoo.load_dataset("twostep_digits")
    batch = next(iter(ds))
    assert tuple(batch.shape) == (8, 8, 8, 1)  # batches_per_step (2) x train.batch_size (4)

    before = [w.copy() for w in model.generator.get_weights()]
    history = model.fit(ds.take(2), epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert int(model.d_optimizer.iterations.numpy()) == 4 and int(model.g_optimizer.iterations.numpy()) == 2
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.generator.get_weights()))


def test_model_classes_are_views_of_the_one_registry():
    from ganzoo.models import MODEL_CLASSES, SRGAN, WassersteinGAN

    names = model_registry.model_class_names()
    assert tuple(MODEL_CLASSES) == names == ganzoo.config.MODEL_CLASSES
    assert ganzoo.config.IMAGE_TO_IMAGE_CLASSES == ("SRGAN", "CycleGAN")
    for name in names:  # each class is registered where it is defined, under its own name
        cls = MODEL_CLASSES[name]
        info = model_registry.model_class_info(name)
        assert cls.__name__ == name and cls.__module__ == info.module and cls.data_kind == info.data_kind
    with pytest.raises(TypeError, match="register_model_class"):
        MODEL_CLASSES["Mine"] = SRGAN
    config = ganzoo.get_config("wgan_gp_mnist")
    assert WassersteinGAN.batches_per_step(config) == config.model.n_critic > 1
    assert WassersteinGAN.examples_per_step(config) == config.train.batch_size * config.model.n_critic
    assert MODEL_CLASSES["GAN"].batches_per_step(ganzoo.get_config("dcgan_mnist")) == 1
    assert (MODEL_CLASSES["GAN"].data_kind, SRGAN.data_kind, MODEL_CLASSES["CycleGAN"].data_kind) == (
        "latent", "paired_lr_hr", "unpaired_ab")


def test_the_decorator_refuses_what_would_be_ambiguous():
    from ganzoo.models import GAN

    class NoKind:
        pass

    with pytest.raises(TypeError, match="data_kind"):
        model_registry.register_model_class(NoKind)
    impostor = type("GAN", (GAN,), {"__module__": "somewhere_else"})
    with pytest.raises(ValueError, match="one of ganzoo's own"):
        model_registry.register_model_class(impostor)
    first = type("Twice", (GAN,), {"__module__": "mod_a"})
    second = type("Twice", (GAN,), {"__module__": "mod_b"})
    model_registry.register_model_class(first)
    try:
        assert model_registry.model_class("Twice") is first
        with pytest.raises(ValueError, match="already registered to mod_a.Twice"):
            model_registry.register_model_class(second)
        model_registry.register_model_class(second, name="TwiceB")
        assert model_registry.model_class("TwiceB") is second
        model_registry.unregister_model_class("TwiceB")
    finally:
        model_registry.unregister_model_class("Twice")
    assert "Twice" not in ganzoo.config.MODEL_CLASSES
    with pytest.raises(ValueError, match="stays registered"):
        model_registry.unregister_model_class("GAN")
    with pytest.raises(KeyError, match="unknown model class 'Nope'"):
        model_registry.model_class("Nope")


def test_the_zoo_classes_are_read_from_their_decorators_in_source():
    """No second class table: ganzoo's own classes (name, module, data kind) are read from the
    @register_model_class decorators in the source of BUILT_IN_MODEL_MODULES, data_kind from the
    class body or a base (GAN's from GANBase), and the decorator refuses a class whose data_kind
    differs from what its source was read as."""
    from ganzoo.models import GAN
    from ganzoo.source_reader import source_model_classes

    read = source_model_classes(model_registry.BUILT_IN_MODEL_MODULES)
    assert read == {"GAN": ("ganzoo.models.gan", "latent"), "ConditionalGAN": ("ganzoo.models.gan", "latent"),
                    "WassersteinGAN": ("ganzoo.models.wgan", "latent"),
                    "SRGAN": ("ganzoo.models.srgan", "paired_lr_hr"),
                    "CycleGAN": ("ganzoo.models.cyclegan", "unpaired_ab"),
                    "ProgressiveGAN": ("ganzoo.models.pggan", "latent"),
                    "StyleGAN": ("ganzoo.models.stylegan", "latent")}
    assert model_registry.model_class_names()[:7] == tuple(read)  # the zoo table's order
    liar = type("SRGAN", (GAN,), {"__module__": "ganzoo.models.srgan"})  # data_kind latent, read as paired_lr_hr
    with pytest.raises(TypeError, match="declares data_kind 'latent' but its source reads as 'paired_lr_hr'"):
        model_registry.register_model_class(liar)
    assert model_registry.model_class("SRGAN").__name__ == "SRGAN" and model_registry.model_class("SRGAN") is not liar


def test_add_config_dir_refuses_to_shadow_an_entry(tmp_path):
    (tmp_path / "dcgan_mnist.yaml").write_text("model:\n  cls: GAN\n")
    with pytest.raises(ValueError, match="dcgan_mnist.yaml .* would shadow"):
        registry.add_config_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        registry.add_config_dir(tmp_path / "missing")
    assert registry.get_config("dcgan_mnist").model.cls == "GAN"


def test_configs_validate_without_tensorflow():
    """Class names and data kinds of the zoo's own classes are known before their modules load."""
    code = textwrap.dedent("""
        import sys, ganzoo
        for name in ganzoo.list_models():
            ganzoo.get_config(name)
        from ganzoo.config import IMAGE_TO_IMAGE_CLASSES
        assert IMAGE_TO_IMAGE_CLASSES == ("SRGAN", "CycleGAN"), IMAGE_TO_IMAGE_CLASSES
        print("tensorflow" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True,
                         env={**__import__("os").environ, "GANZOO_LAZY_IMPORT": "1",
                              "PYTHONPATH": str(REPO / "src")})
    assert out.stdout.strip() == "False", out.stderr


NETWORK_MODULE = '''
from typing import Annotated

import keras

from ganzoo.constraints import Interval
from ganzoo.network_registry import register_network

ROOMY = 4


def check_width(config, role, fail):
    if getattr(config, role).width > ROOMY * config.data.image_size:
        fail(f"{role}.width", f"must be at most {ROOMY} x data.image_size")


@register_network("generator", "tiny_dense", config_arguments={"latent_dim": "model.latent_dim"}, check=check_width)
def build_tiny_dense(image_size, channels, latent_dim, width: Annotated[int, Interval(1, 512)] = 16,
                     name="generator"):
    z = keras.Input((latent_dim,))
    x = keras.layers.Dense(width, activation="relu")(z)
    x = keras.layers.Dense(image_size * image_size * channels, activation="tanh", dtype="float32")(x)
    return keras.Model(z, keras.layers.Reshape((image_size, image_size, channels))(x), name=name)
'''


def test_a_network_builder_brings_its_own_keys_ranges_and_rules(tmp_path, monkeypatch):
    """A builder registered from a module of one's own is a valid ``generator.arch``; its keyword
    arguments are the section's keys (with their annotated ranges and its check), refused for
    other archs, and config.py knows nothing of them."""
    from ganzoo import config as cfg
    from ganzoo.builders import build_generator
    from ganzoo.config import ConfigError
    from ganzoo.network_registry import unregister_network

    (tmp_path / "my_tiny_net.py").write_text(NETWORK_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("my_tiny_net")
    try:
        assert "tiny_dense" in cfg.GENERATOR_ARCHS and "width" not in cfg.Config().to_dict()["generator"]
        config = ganzoo.get_config("gan_mnist", **{"generator.arch": "tiny_dense", "generator.width": 24,
                                                   "model.latent_dim": 8, "data.image_size": 8})
        assert config.generator.width == 24 and config.to_dict()["generator"]["width"] == 24
        assert "generator.width" in cfg.used_keys(config) and "generator.hidden" not in cfg.used_keys(config)
        assert build_generator(config).output_shape == (None, 8, 8, 1)
        assert ganzoo.get_config("gan_mnist", **{"generator.arch": "tiny_dense"}).generator.width == 16
        with pytest.raises(ConfigError, match=r"generator\.width: must be in \[1, 512\], got 0"):
            ganzoo.get_config("gan_mnist", **{"generator.arch": "tiny_dense", "generator.width": 0})
        with pytest.raises(ConfigError, match=r"generator\.width: must be at most 4 x data\.image_size"):
            ganzoo.get_config("gan_mnist", **{"generator.arch": "tiny_dense", "generator.width": 200,
                                              "data.image_size": 8})
        with pytest.raises(ConfigError, match=r"unknown key 'generator\.widht'.*did you mean 'width'"):
            ganzoo.get_config("gan_mnist", **{"generator.arch": "tiny_dense", "generator.widht": 3})
        with pytest.raises(ConfigError, match=r"generator\.width is not used by the 'mlp' generator .*applies to "
                                              r"the tiny_dense generators"):
            ganzoo.get_config("gan_mnist", **{"generator.width": 3})
    finally:
        unregister_network("generator", "tiny_dense")
    assert "tiny_dense" not in cfg.GENERATOR_ARCHS
    with pytest.raises(ConfigError, match="generator.arch: 'tiny_dense' is not one of"):
        ganzoo.get_config("gan_mnist", **{"generator.arch": "tiny_dense"})


def test_network_sections_are_read_from_builder_source_without_tensorflow():
    """The built-in builders' keys, ranges and checks come from their source (no TensorFlow)."""
    code = ("import sys; from ganzoo.model_registry import network_spec; "
            "s = network_spec('generator', 'dcgan'); "
            "assert {'filters', 'base_size', 'kernel_size', 'embedding_dim'} <= set(s.options), s.options; "
            "assert s.options['filters'].constraints and s.check is not None; "
            "assert network_spec('discriminator', 'pggan').note; "
            "assert 'embedding_dim' not in network_spec('discriminator', 'dcgan').options; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    import os

    env = {**os.environ, "GANZOO_LAZY_IMPORT": "1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
