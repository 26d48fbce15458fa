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
import tensorflow as tf

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
        for half in tf.split(real, self.critic_steps):
            z = self.sample_latent(tf.shape(half)[0])
            with tf.GradientTape() as tape:
                d_loss = losses.discriminator_loss(self.loss_name, D(half, training=True),
                                                   D(G(z, training=True), training=True))
            self.apply_gradients(self.d_optimizer, tape, d_loss, D.trainable_variables)
        z = self.sample_latent(tf.shape(half)[0])
        with tf.GradientTape() as tape:
            g_loss = losses.generator_loss(self.loss_name, D(G(z, training=True), training=True))
        self.apply_gradients(self.g_optimizer, tape, g_loss, G.trainable_variables)
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


def test_a_new_gan_is_its_class_and_one_yaml(own_folder):
    """The README's promise: a decorated class and a YAML file in a folder of one's own, no table
    edited; ganzoo.load(name) builds it, load_dataset asks it how many examples a step takes,
    and it trains."""
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
