"""A model class owns the rules of its settings: ranges in its constructor's annotations
(``Annotated[float, Interval(0, 1)]``, ganzoo.constraints), rules across keys in its
``@staticmethod check_config(config, fail)``. ganzoo.config applies them generically, and
before a class's module is imported ganzoo.model_registry reads both from its source, so
configs validate without TensorFlow."""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import importlib
import inspect
import re
import sys
import textwrap
from pathlib import Path

import pytest

import ganzoo
from ganzoo import model_registry
from ganzoo.config import ConfigError
from ganzoo.constraints import AtLeast, Interval, NonNegative, OneOf, Positive, split_annotated

#: (entry, overrides, key, message): one probe of each rule about a model class's settings,
#: with the message it gave when the rules were branches of Config.validate (kept verbatim).
PROBES = [
    ("dcgan_mnist", {"model.latent_dim": 0}, "model.latent_dim", "must be > 0, got 0"),
    ("dcgan_mnist", {"model.r1_gamma": -1.0}, "model.r1_gamma", "must be >= 0, got -1.0"),
    ("dcgan_mnist", {"model.feature_matching": -1.0}, "model.feature_matching", "must be >= 0, got -1.0"),
    ("dcgan_mnist", {"model.label_smoothing": 1.0}, "model.label_smoothing", "must be in [0, 1), got 1.0"),
    ("dcgan_mnist", {"model.ema_decay": 0.0}, "model.ema_decay", "must be in (0, 1), got 0.0"),
    ("dcgan_mnist", {"model.ema_decay": 0.99, "model.ema_rampup": 0.0}, "model.ema_rampup",
     "must be > 0 (e.g. 0.05), or null for no ramp-up; got 0.0"),
    ("cgan_mnist", {"model.num_classes": 1}, "model.num_classes", "a conditional model needs at least 2 classes, got 1"),
    ("dcgan_mnist", {"model.cls": "ConditionalGAN"}, "model.num_classes",
     "ConditionalGAN needs num_classes (e.g. 10 for MNIST)"),
    ("wgan_gp_mnist", {"model.n_critic": 0}, "model.n_critic", "must be > 0, got 0"),
    ("wgan_mnist", {"model.clip_value": 0.0}, "model.clip_value", "must be > 0, got 0.0"),
    ("wgan_gp_mnist", {"model.drift": -1.0}, "model.drift", "must be >= 0, got -1.0"),
    ("wgan_gp_mnist", {"model.loss": "hinge"}, "model.loss", "WassersteinGAN trains a critic with the 'wasserstein' loss"),
    ("wgan_gp_mnist", {"model.gradient_penalty": 0.0}, "model.clip_value", "a WassersteinGAN needs a Lipschitz "
     "constraint: set clip_value (WGAN) or gradient_penalty (WGAN-GP)"),
    ("wgan_gp_mnist", {"discriminator.norm": "batch"}, "discriminator.norm", "batch norm breaks the per-example "
     "gradient penalty (Gulrajani et al. 2017, sec. 4); use 'layer' or 'none'"),
    ("dcgan_mnist", {"generator.arch": "srresnet"}, "generator.arch",
     "the srresnet/dcgan networks map images to images; use model.cls SRGAN or CycleGAN"),
    ("dcgan_mnist", {"discriminator.arch": "patchgan"}, "discriminator.arch",
     "the dcgan/patchgan networks map images to images; use model.cls SRGAN or CycleGAN"),
    ("srgan_div2k", {"generator.arch": "resnet"}, "generator.arch", "SRGAN is built from a 'srresnet' generator, "
     "got 'resnet'"),
    ("cyclegan_monet2photo", {"discriminator.arch": "dcgan"}, "discriminator.arch",
     "CycleGAN is built from a 'patchgan' discriminator, got 'dcgan'"),
    ("srgan_div2k", {"model.loss": "wasserstein"}, "model.loss", "SRGAN has no Lipschitz constraint for a "
     "Wasserstein critic; use non_saturating, least_squares or hinge"),
    ("cyclegan_monet2photo", {"model.loss": "wasserstein"}, "model.loss", "CycleGAN has no Lipschitz constraint for "
     "a Wasserstein critic; use non_saturating, least_squares or hinge"),
    ("srgan_div2k", {"generator.residual_blocks": 0}, "generator.residual_blocks", "must be > 0, got 0"),
    ("srgan_div2k", {"data.crops_per_image": 0}, "data.crops_per_image", "must be > 0, got 0"),
    ("srgan_div2k", {"model.pretrain_steps": -1}, "model.pretrain_steps", "must be >= 0, got -1"),
    ("srgan_div2k", {"model.content_loss": "pixle"}, "model.content_loss",
     "'pixle' is not one of vgg, pixel; did you mean 'pixel'?"),
    ("srgan_div2k", {"model.vgg_layer": "block6_conv1"}, "model.vgg_layer", "'block6_conv1' is not one of "
     "block1_conv1, block1_conv2, block2_conv1, block2_conv2, block3_conv1, block3_conv2, block3_conv3, "
     "block3_conv4, block4_conv1, block4_conv2, block4_conv3, block4_conv4, block5_conv1, block5_conv2, "
     "block5_conv3, block5_conv4; did you mean 'block5_conv1'?"),
    ("srgan_div2k", {"data.scale": 5}, "data.scale",
     "must be one of 2, 3, 4, 8 (pixel-shuffle upsampling by 2s, or one 3), got 5"),
    ("srgan_div2k", {"data.image_size": 90}, "data.image_size", "the HR crop (90) must be a multiple of data.scale "
     "(4) with an LR crop of at least 2 pixels (SRGAN: 96 at x4)"),
    ("srgan_div2k", {"data.source": "uci_digits"}, "data.source",
     "the UCI digits are 8x8 grids, no high-resolution images; use tfds or folder"),
    ("srgan_div2k", {"data.source": "folder"}, "data.path", "a folder source needs the folder of high-resolution "
     "images: set data.path (or pass --data-path on the command line)"),
    ("cyclegan_monet2photo", {"model.pool_size": -1}, "model.pool_size", "must be >= 0, got -1"),
    ("cyclegan_monet2photo", {"data.image_size": 30, "data.load_size": 30}, "data.image_size",
     "the CycleGAN generator downsamples twice and the PatchGAN three times: use a multiple of 4 of at least 16 "
     "(paper: 256), got 30"),
    ("cyclegan_monet2photo", {"data.load_size": 200}, "data.load_size",
     "the jitter resize (200) must be at least the crop data.image_size (256); paper: 286 for 256"),
    ("cyclegan_monet2photo", {"model.domains": ["a", "b-c"]}, "model.domains", "must be two different names of "
     "letters (no '2', it separates directions such as photo2painting), got ['a', 'b-c']"),
    ("cyclegan_monet2photo", {"data.source": "folder"}, "data.path_a", "a CycleGAN folder source needs two folders: "
     "set data.path_a and data.path_b (or data.path holding trainA/ and trainB/)"),
    ("cyclegan_mnist2uci", {"data.pad_b": 14}, "data.pad_b", "the border of domain B's digits must be >= 0 and leave "
     "room for the digit (data.image_size - 2 * pad_b > 0; MNIST's framing at 28 px: 4), got 14 at image_size 28"),
    ("dcgan_mnist", {"discriminator.arch": "stylegan"}, "discriminator.arch",
     "the 'stylegan' networks grow or take styles and are trained by model.cls StyleGAN"),
    ("dcgan_mnist", {"model.cls": "ProgressiveGAN"}, "generator.arch",
     "ProgressiveGAN is built from 'pggan' networks, got 'dcgan'"),
    ("stylegan_mnist", {"discriminator.arch": "pggan"}, "discriminator.arch",
     "StyleGAN is built from 'stylegan' networks, got 'pggan'"),
    ("pggan_mnist", {"data.image_size": 28, "data.pad": 0}, "data.image_size", "ProgressiveGAN doubles its resolution "
     "from 4x4, so image_size must be a power of two (e.g. 32, 64, 128), got 28; pad small images with data.pad "
     "(MNIST: image_size 32, pad 2)"),
    ("pggan_mnist", {"model.loss": "hinge"}, "model.loss",
     "ProgressiveGAN trains with WGAN-GP: loss: wasserstein and gradient_penalty > 0 (paper: 10)"),
    ("pggan_mnist", {"model.gradient_penalty": 0.0}, "model.gradient_penalty",
     "ProgressiveGAN trains with WGAN-GP: loss: wasserstein and gradient_penalty > 0 (paper: 10)"),
    ("pggan_mnist", {"model.start_resolution": 12}, "model.start_resolution",
     "must be a power of two from 4 to data.image_size (32), got 12"),
    ("pggan_mnist", {"model.fade_images": -1}, "model.fade_images", "must be >= 0, got -1"),
    ("pggan_mnist", {"model.stabilize_images": 0}, "model.stabilize_images", "must be > 0, got 0"),
    ("pggan_mnist", {"train.lr_schedule": "linear", "train.decay_steps": 100}, "train.lr_schedule",
     "ProgressiveGAN resets its optimizers (step count included) at every new level of detail, as the official "
     "code, which would restart a schedule; use constant"),
    ("stylegan_mnist", {"model.loss": "wasserstein"}, "model.loss", "StyleGAN has no Lipschitz constraint for a "
     "Wasserstein critic; use non_saturating (the papers' loss), hinge or least_squares"),
    ("stylegan_mnist", {"model.mapping_lr_mul": 0.0}, "model.mapping_lr_mul", "must be > 0, got 0.0"),
    ("stylegan_mnist", {"model.r1_interval": 0}, "model.r1_interval", "must be > 0, got 0"),
    ("stylegan_mnist", {"model.style_mixing_prob": 1.5}, "model.style_mixing_prob", "must be in [0, 1], got 1.5"),
    ("stylegan_mnist", {"model.w_avg_beta": 1.0}, "model.w_avg_beta", "must be in [0, 1), got 1.0"),
]


@pytest.mark.parametrize("entry, overrides, key, message", PROBES, ids=[f"{p[0]}-{p[2]}" for p in PROBES])
def test_each_rule_names_its_key_and_keeps_its_message(entry, overrides, key, message):
    with pytest.raises(ConfigError) as err:
        ganzoo.get_config(entry, **overrides)
    assert str(err.value) == f"overrides on top of zoo_configs/{entry}.yaml: {key}: {message}"


def test_the_rules_live_in_the_classes_not_in_config_py():
    """The constraints are read from the annotations; the cross-key rules are the classes' check_config."""
    from ganzoo import config

    settings = model_registry.model_settings("StyleGAN")
    assert settings["style_mixing_prob"].constraints == (Interval(0, 1),)
    assert settings["w_avg_beta"].constraints == (Interval(0, 1, open_high=True),)
    assert settings["style_mixing_prob"].type is float  # the annotation's type, without its metadata
    assert model_registry.model_settings("WassersteinGAN")["n_critic"].constraints == (Positive(),)
    assert model_registry.model_settings("SRGAN")["content_loss"].constraints == (OneOf(("vgg", "pixel")),)
    assert [c.__qualname__ for c in model_registry.class_signature("SRGAN").checks] == [
        "ImageToImageModel.check_config", "SRGAN.check_config"]  # base first
    assert model_registry.class_signature("GAN").checks == ()
    assert model_registry.class_signature("CycleGAN").network_archs == ("resnet", "patchgan")
    # the whole ganzoo.config package (every module of it)
    source = "\n".join(inspect.getsource(module) for module in
                       [config, *(importlib.import_module(f"ganzoo.config.{path.stem}")
                                  for path in sorted(Path(config.__file__).parent.glob("*.py"))
                                  if path.stem != "__init__")])
    assert "def validate_config" in source and "def used_keys" in source
    for name in model_registry.model_class_names():  # no rule of config.py tests or tabulates a class name
        for pattern in (f'== "{name}"', f'!= "{name}"', f'"{name}":'):
            assert pattern not in source, pattern
    own = {key for name in ("WassersteinGAN", "ProgressiveGAN", "StyleGAN", "SRGAN", "CycleGAN")
           for key, setting in model_registry.model_settings(name).items() if setting.owner == name}
    assert {"style_mixing_prob", "n_critic", "start_resolution", "domains", "pool_size"} <= own
    read = {node.attr for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Attribute)}
    # loss: every class has one (its name is checked against the losses table); content_loss: read to
    # know whether vgg_layer is (KEYS_READ_WHEN)
    assert own & read == {"loss", "content_loss"}


def _probe_config(entry, overrides):
    """``entry``'s config with ``overrides`` set without validation (the rules see the bad value)."""
    config = ganzoo.get_config(entry)
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        if section == "model" and key == "cls":
            config.model.cls = value
        else:
            setattr(getattr(config, section), key, copy.deepcopy(value))
    return config


def _failures(checks, config):
    out = []

    def fail(key, message):
        out.append((key, message))
        raise ConfigError(message)

    for check in checks:
        try:
            check(config, fail)
        except ConfigError:
            pass
    return out


def test_check_config_compiled_from_source_is_the_imported_method():
    """Before its module is imported, a class's check_config is compiled from its source with
    builtins and the module's literal constants only; it must be the method the imported class has."""
    names = model_registry.model_class_names()
    for name in names:
        model_registry.model_class(name)
    probes = [(entry, overrides) for entry, overrides, _, _ in PROBES] + [("wgan_mnist", {})]
    compared = 0
    for name in names:
        imported = model_registry.class_signature(name)
        source = model_registry.source_class_signature(name)
        assert [c.__qualname__ for c in imported.checks] == [c.__qualname__ for c in source.checks], name
        assert source.network_archs == imported.network_archs, name
        assert {k: s.constraints for k, s in source.settings.items()} == \
            {k: s.constraints for k, s in imported.settings.items()}, name
        assert all(c.__globals__["__builtins__"] is builtins for c in source.checks)
        for entry, overrides in probes:
            config = _probe_config(entry, {**overrides, "model.cls": name})
            try:
                expected = _failures(imported.checks, config)
            except (AttributeError, TypeError):  # a setting this class does not take
                continue
            assert _failures(source.checks, config) == expected, (name, entry, overrides)
            compared += bool(expected)
    assert compared >= 15  # the probes exercise the rules, not only the passing paths


def test_check_config_reads_only_its_arguments_builtins_and_literal_constants():
    for name in model_registry.model_class_names():
        klass = model_registry.model_class(name)
        module = sys.modules[klass.__module__]
        for k in klass.__mro__:
            if "check_config" not in vars(k):
                continue
            free = model_registry.check_config_free_names(inspect.getsource(vars(k)["check_config"].__func__))
            for global_name in free - set(dir(builtins)):
                value = getattr(module, global_name)
                assert ast.literal_eval(repr(value)) == value, (k.__qualname__, global_name)
    bad = ast.parse(textwrap.dedent('''
        @staticmethod
        def check_config(config, fail):
            if config.data.scale not in SR_SCALES and np.isnan(config.data.scale):
                fail("data.scale", "nan")
    ''')).body[0]
    with pytest.raises(TypeError, match="SRGAN.check_config reads 'np', which is neither a builtin nor a module-level"):
        model_registry.compile_check_config("ganzoo.models.srgan", bad, "SRGAN")
    bad.body = bad.body[:0] + [ast.parse("assert SR_SCALES == (2, 3, 4, 8)").body[0]]
    model_registry.compile_check_config("ganzoo.models.srgan", bad, "SRGAN")(None, None)  # a literal constant
    bad.decorator_list = []
    with pytest.raises(TypeError, match="must be a @staticmethod"):
        model_registry.compile_check_config("ganzoo.models.srgan", bad, "SRGAN")


def test_constraints():
    assert Positive().problem(0) == "must be > 0, got 0" and Positive().problem(None) is None
    assert NonNegative().problem(0) is None and NonNegative().problem(-1) == "must be >= 0, got -1"
    assert Interval(0, 1).problem(1) is None and Interval(0, 1, open_high=True).problem(1) == "must be in [0, 1), got 1"
    assert Interval(0, 1, open_low=True, open_high=True).problem(0.0) == "must be in (0, 1), got 0.0"
    assert AtLeast(2, message="needs {value} >= 2").problem(1) == "needs 1 >= 2"
    assert OneOf(("alpha", "beta")).problem("betta") == "'betta' is not one of alpha, beta; did you mean 'beta'?"
    from typing import Annotated

    assert split_annotated(Annotated[int, Positive()]) == (int, (Positive(),)) and split_annotated(int) == (int, ())
    with pytest.raises(TypeError, match="ganzoo.constraints"):
        split_annotated(Annotated[int, "positive"])


#: A class of the user's own with its own ranges and rules, and a subclass of WassersteinGAN:
#: config.py knows nothing of either.
OWN_RULES_MODULE = '''
from typing import Annotated, Optional

import keras

from ganzoo.constraints import Interval, Positive
from ganzoo.models import GAN, WassersteinGAN
from ganzoo.registry import register_model_class


@register_model_class
@keras.saving.register_keras_serializable(package="ganzoo_test_model_rules")
class SplitBatchGAN(GAN):
    """``splits`` D updates per G update, each on a share of the batch; ``keep`` of each share kept."""

    def __init__(self, generator, discriminator, splits: Annotated[int, Positive()] = 1,
                 keep: Annotated[float, Interval(0, 1, open_low=True)] = 1.0, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.splits, self.keep = int(splits), float(keep)

    @staticmethod
    def check_config(config, fail):
        if config.train.batch_size % config.model.splits:
            fail("model.splits", f"must divide train.batch_size ({config.train.batch_size}), "
                 f"got {config.model.splits}")


@register_model_class
@keras.saving.register_keras_serializable(package="ganzoo_test_model_rules")
class CappedCriticGAN(WassersteinGAN):
    """A WGAN whose critic takes at most ``max_critic`` updates (its bases' rules still hold)."""

    def __init__(self, generator, discriminator, max_critic: Optional[int] = None, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.max_critic = max_critic

    @staticmethod
    def check_config(config, fail):
        if config.model.max_critic is not None and config.model.n_critic > config.model.max_critic:
            fail("model.n_critic", f"must be at most model.max_critic ({config.model.max_critic})")
'''


@pytest.fixture
def own_rules(tmp_path, monkeypatch):
    (tmp_path / "my_rules.py").write_text(OWN_RULES_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("my_rules")
    sys.modules.pop("my_rules", None)
    for name in ("SplitBatchGAN", "CappedCriticGAN"):
        if name in model_registry.model_class_names():
            model_registry.unregister_model_class(name)


def test_a_new_class_brings_its_own_ranges_and_rules(own_rules):
    """A class of one's own declares its ranges in its signature and its rules in check_config;
    validation applies them (and its bases' rules) with no table of ganzoo edited."""
    get = ganzoo.get_config
    base = {"model.cls": "SplitBatchGAN", "model.latent_dim": 8, "train.batch_size": 8}
    assert get("dcgan_mnist", **base, **{"model.splits": 4}).model.splits == 4
    with pytest.raises(ConfigError, match=r"model.splits: must be > 0, got 0$"):
        get("dcgan_mnist", **base, **{"model.splits": 0})
    with pytest.raises(ConfigError, match=r"model.keep: must be in \(0, 1\], got 0.0$"):
        get("dcgan_mnist", **base, **{"model.keep": 0.0})
    with pytest.raises(ConfigError, match=r"model.splits: must divide train.batch_size \(8\), got 3$"):
        get("dcgan_mnist", **base, **{"model.splits": 3})
    with pytest.raises(ConfigError, match="model.r1_gamma: must be >= 0"):  # GAN's own range still holds
        get("dcgan_mnist", **base, **{"model.r1_gamma": -1.0})

    capped = {"model.cls": "CappedCriticGAN", "model.max_critic": 4}
    assert get("wgan_gp_mnist", **capped, **{"model.n_critic": 4}).model.n_critic == 4
    with pytest.raises(ConfigError, match=r"model.n_critic: must be at most model.max_critic \(4\)$"):
        get("wgan_gp_mnist", **capped)  # the entry's n_critic is 5
    with pytest.raises(ConfigError, match="model.loss: WassersteinGAN trains a critic"):  # the base's rule first
        get("wgan_gp_mnist", **capped, **{"model.loss": "hinge", "model.n_critic": 9})
    with pytest.raises(ConfigError, match="model.n_critic: must be > 0"):  # and the base's range
        get("wgan_gp_mnist", **capped, **{"model.n_critic": 0})


# ---------------------------------------------------------------------- a direct constructor call
def _refused_values(limit) -> list:
    """Values ``limit`` refuses: each end of its range just outside (or on an open end)."""
    if isinstance(limit, Positive):
        return [0]
    if isinstance(limit, NonNegative):
        return [-1]
    if isinstance(limit, AtLeast):
        return [limit.minimum - 1]
    if isinstance(limit, Interval):
        return [limit.low if limit.open_low else limit.low - 1, limit.high if limit.open_high else limit.high + 1]
    if isinstance(limit, OneOf):
        return ["no_such_option"]
    raise AssertionError(f"give _refused_values a case for {type(limit).__name__}")


#: (class, setting, refused value, constraint): every annotated setting of every registered class.
CONSTRUCTOR_PROBES = [(name, key, value, limit)
                      for name in model_registry.model_class_names()
                      for key, setting in model_registry.model_settings(name).items()
                      for limit in setting.constraints for value in _refused_values(limit)]


@functools.lru_cache(maxsize=None)
def _tiny_arguments(name):
    """Networks and valid keyword arguments of a tiny model of class ``name`` (its harness entry)."""
    import keras

    from ganzoo.builders import build_network
    from ganzoo.config import model_kwargs
    from tests.harness import class_entry
    from tests.helpers import tiny_config

    config = tiny_config(class_entry(name))
    keras.utils.set_random_seed(0)
    networks = {role: build_network(role, config) for role in model_registry.class_signature(name).network_keys}
    return networks, model_kwargs(config)


@pytest.mark.parametrize("name, key, value, limit", CONSTRUCTOR_PROBES,
                         ids=[f"{p[0]}-{p[1]}={p[2]}" for p in CONSTRUCTOR_PROBES])
def test_a_direct_constructor_call_checks_every_annotated_range(name, key, value, limit):
    """``StyleGAN(g, d, style_mixing_prob=2)`` from a pipeline of one's own is refused as the
    config is, in the config's words (less ``model.``): the range is written once, in the signature."""
    networks, kwargs = _tiny_arguments(name)
    with pytest.raises(ValueError) as err:
        model_registry.model_class(name)(**networks, **{**kwargs, key: value})
    assert f"{key}: {limit.problem(value)}" in str(err.value)
    assert str(err.value).startswith(f"{name} argument")


def test_constructor_checks_bind_positional_arguments_and_pass_none():
    """Arguments are bound to the signature (positional ones too), keyword arguments a class passes on
    are checked against its bases' annotations, None passes, a wrong type is named, every problem reported."""
    from ganzoo.models import GAN, StyleGAN

    networks, kwargs = _tiny_arguments("GAN")
    g, d = networks["generator"], networks["discriminator"]
    with pytest.raises(ValueError, match=re.escape("GAN argument label_smoothing: must be in [0, 1), got 1.5")):
        GAN(g, d, 1.5)
    with pytest.raises(ValueError, match=re.escape("GAN arguments r1_gamma: must be >= 0, got -1; ema_decay: "
                                                   "must be in (0, 1), got 1.0")):
        GAN(g, d, r1_gamma=-1, ema_decay=1.0)
    with pytest.raises(ValueError, match=re.escape("GAN argument ema_decay: must be float or None, got '0.9'")):
        GAN(g, d, ema_decay="0.9")
    model = GAN(g, d, ema_decay=None, ema_rampup=None)  # None: an optional setting left unset
    assert model.ema_generator is None and model.ema_rampup is None
    assert model_registry.argument_constraints(StyleGAN)["style_mixing_prob"] == (float, (Interval(0, 1),))
    assert "num_classes" in model_registry.argument_constraints(StyleGAN)  # checked when passed, though refused
