"""Config and registry: typed loading, overrides and every error path."""

import dataclasses

import pytest

import ganzoo
from ganzoo.config import NULL, Config, ConfigError, apply_overrides, parse_set_option
from ganzoo.registry import UnknownModelError, config_dir


def test_every_entry_is_a_yaml_file_with_its_stem_as_name():
    names = ganzoo.list_models()
    assert names == sorted(p.stem for p in config_dir().glob("*.yaml"))
    expected = {"gan_mnist", "dcgan_mnist", "dcgan_cifar10", "dcgan_celeba", "cgan_mnist", "cgan_cifar10",
                "wgan_mnist", "wgan_gp_mnist", "wgan_gp_cifar10", "lsgan_cifar10", "hinge_cifar10"}
    assert expected <= set(names)
    for name in names:
        config = ganzoo.get_config(name)
        assert config.name == name
        assert config.paper and config.source, f"{name} must name its paper and the source of its hyperparameters"


def test_model_and_network_tables_match_config_choices():
    from ganzoo import config as cfg
    from ganzoo.losses import LOSSES
    from ganzoo.models import MODEL_CLASSES
    from ganzoo.networks import DISCRIMINATORS, GENERATORS

    assert set(MODEL_CLASSES) == set(cfg.MODEL_CLASSES)
    assert set(LOSSES) == set(cfg.LOSS_NAMES)
    assert set(GENERATORS) == set(cfg.GENERATOR_ARCHS) and cfg.GENERATOR_ARCHS == ("mlp", "dcgan", "sngan", "srresnet", "resnet", "pggan",
                                                         "stylegan")
    assert set(DISCRIMINATORS) == set(cfg.DISCRIMINATOR_ARCHS) and cfg.DISCRIMINATOR_ARCHS == ("mlp", "dcgan", "sngan", "srgan", "patchgan",
                                                                 "pggan", "stylegan")


def test_yaml_holds_only_differences_and_defaults_fill_the_rest():
    c = ganzoo.get_config("wgan_gp_mnist")
    assert c.model.gradient_penalty == 10.0 and c.model.n_critic == 5
    assert c.train.beta_1 == 0.0 and c.train.learning_rate == pytest.approx(1e-4)
    assert c.data.shuffle_buffer == Config().data.shuffle_buffer


def test_wildcards():
    assert ganzoo.list_models("wgan*") == ["wgan_gp_cifar10", "wgan_gp_mnist", "wgan_mnist"]
    assert all(n.endswith("_mnist") for n in ganzoo.list_models("*_mnist"))
    assert ganzoo.list_models("nothing*") == []


def test_unknown_name_lists_closest():
    with pytest.raises(UnknownModelError) as err:
        ganzoo.get_config("cgan_mnsit")
    assert "cgan_mnist" in str(err.value) and "ganzoo list" in str(err.value)


def _write(tmp_path, text, name="mine.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_unknown_key_names_file_key_and_suggestion(tmp_path):
    path = _write(tmp_path, "train:\n  lerning_rate: 1.0e-3\n")
    with pytest.raises(ConfigError) as err:
        ganzoo.get_config(path)
    msg = str(err.value)
    assert "mine.yaml" in msg and "train.lerning_rate" in msg and "did you mean 'learning_rate'" in msg


def test_unknown_section(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'train'"):
        ganzoo.get_config(_write(tmp_path, "trian:\n  epochs: 3\n"))


@pytest.mark.parametrize("text, key", [
    ("train:\n  batch_size: big\n", "train.batch_size"),
    ("train:\n  batch_size: 2.5\n", "train.batch_size"),
    ("generator:\n  spectral_norm: 3\n", "generator.spectral_norm"),
    ("generator:\n  hidden: 128\n", "generator.hidden"),
    ("model: 5\n", "model"),
])
def test_wrong_type(tmp_path, text, key):
    with pytest.raises(ConfigError) as err:
        ganzoo.get_config(_write(tmp_path, text))
    assert key in str(err.value) and "mine.yaml" in str(err.value)


@pytest.mark.parametrize("text, key, fragment", [
    ("train:\n  batch_size: -4\n", "train.batch_size", "> 0"),
    ("train:\n  learning_rate: 0\n", "train.learning_rate", "> 0"),
    ("generator:\n  base_size: 7\ndata:\n  image_size: 30\n", "data.image_size", "cannot"),
    ("data:\n  image_size: 48\n", "data.image_size", "base_size"),
    ("data:\n  channels: 2\n", "data.channels", "1 or 3"),
    ("model:\n  loss: hinje\n", "model.loss", "did you mean 'hinge'"),
    ("model:\n  cls: ConditionalGAN\n", "model.num_classes", "needs num_classes"),
    ("model:\n  cls: WassersteinGAN\n  loss: wasserstein\n", "model.clip_value", "Lipschitz"),
    ("model:\n  cls: WassersteinGAN\n  loss: wasserstein\n  gradient_penalty: 10\n", "discriminator.norm",
     "batch norm"),
    ("model:\n  loss: hinge\n  label_smoothing: 0.1\n", "model.label_smoothing", "real target to smooth"),
    ("train:\n  lr_schedule: linear\n", "train.decay_steps", "decay_steps"),
    ("data:\n  source: folder\n", "data.path", "data.path"),
])
def test_impossible_values(tmp_path, text, key, fragment):
    with pytest.raises(ConfigError) as err:
        ganzoo.get_config(_write(tmp_path, text))
    assert key in str(err.value) and fragment in str(err.value)


def test_yaml_is_loaded_safely(tmp_path):
    path = _write(tmp_path, "description: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        ganzoo.get_config(path)


def test_overrides_forms_and_none_ignored():
    base = ganzoo.get_config("dcgan_mnist")
    c = apply_overrides(base, {"learning_rate": 1e-3, "train__batch_size": 32, "data.limit": 100,
                               "generator": {"filters": 32}, "epochs": None})
    assert c.train.learning_rate == 1e-3 and c.train.batch_size == 32 and c.data.limit == 100
    assert c.generator.filters == 32 and c.train.epochs == base.train.epochs
    with pytest.raises(ConfigError, match="ambiguous"):
        apply_overrides(base, {"filters": 8})
    with pytest.raises(ConfigError, match="did you mean 'batch_size'"):
        apply_overrides(base, {"train.bach_size": 8})
    with pytest.raises(ConfigError, match="> 0"):
        ganzoo.get_config("dcgan_mnist", batch_size=-1)


def test_set_option_parsing():
    assert parse_set_option("train.learning_rate=2e-4") == ("train.learning_rate", "2e-4")
    c = apply_overrides(ganzoo.get_config("cgan_mnist"), dict([parse_set_option("train.learning_rate=2e-4")]))
    assert c.train.learning_rate == pytest.approx(2e-4)
    assert parse_set_option("generator.hidden=[8, 16]") == ("generator.hidden", [8, 16])
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_option("learning_rate")
    # null switches an optional setting off (a plain None override is "not given").
    base = ganzoo.get_config("cgan_mnist")
    assert base.model.ema_decay == 0.999
    assert parse_set_option("generator.norm=none") == ("generator.norm", "none")  # a value, not null
    for text in ("model.ema_decay=null", "model.ema_decay=~"):
        assert apply_overrides(base, dict([parse_set_option(text)])).model.ema_decay is None
    assert apply_overrides(base, {"model.ema_decay": None}).model.ema_decay == 0.999
    assert apply_overrides(base, {"model": {"ema_decay": NULL}}).model.ema_decay is None
    with pytest.raises(ConfigError, match="train.batch_size"):
        apply_overrides(base, dict([parse_set_option("train.batch_size=null")]))


def test_config_round_trips_through_yaml(tmp_path):
    c = ganzoo.get_config("cgan_cifar10")
    path = tmp_path / "cgan_cifar10.yaml"
    path.write_text(c.to_yaml())
    again = Config.from_yaml(path)
    assert dataclasses.asdict(again) == dataclasses.asdict(c)
    assert again.hash() == c.hash()
    assert ganzoo.get_config("cgan_cifar10", learning_rate=1e-3).hash() != c.hash()


def test_checkpoint_identity_differs_from_the_hash_where_documented():
    # config_identity (written into every checkpoint) and Config.hash (published weights) differ
    # on purpose: see config_identity's docstring.
    from ganzoo.checkpoint import config_identity

    c = ganzoo.get_config("dcgan_mnist")
    longer = apply_overrides(c, {"train.epochs": c.train.epochs + 5})
    assert config_identity(longer) == config_identity(c)  # a resume may extend the run
    assert longer.hash() != c.hash()  # more epochs learn something else
    renamed = c.copy()
    renamed.name = "my_dcgan"
    assert renamed.hash() == c.hash()
    assert config_identity(renamed) != config_identity(c)
    threads = apply_overrides(c, {"train.cpu_threads": [1, 2]})
    assert threads.hash() == c.hash()  # a speed-only key
    assert config_identity(threads) != config_identity(c)
    other = apply_overrides(c, {"train.learning_rate": 1e-3})
    assert config_identity(other) != config_identity(c) and other.hash() != c.hash()


def test_keys_added_at_a_neutral_default_change_neither_hashes_nor_checkpoint_identities():
    """data.pad_b / data.resize_b came after weights were published and runs checkpointed: at their
    defaults (the old behaviour) both digests are what they were without them; set, both change."""
    from ganzoo.checkpoint import config_identity
    from ganzoo.config import dict_digest

    c = ganzoo.get_config("dcgan_mnist")
    old = c.hash_dict()
    for key in ("pad_b", "resize_b"):
        del old["data"][key]
    old["train"].pop("epochs")
    for key in ("description", "paper", "source"):
        old.pop(key)
    assert config_identity(c) == dict_digest(old)
    entry = ganzoo.get_config("cyclegan_mnist2uci")  # the shipped recipe: full-frame UCI digits
    assert (entry.data.pad_b, entry.data.resize_b) == (0, "bilinear")
    for overrides in ({"data.pad_b": 4}, {"data.resize_b": "bicubic"}):
        other = apply_overrides(entry, overrides)
        assert other.hash() != entry.hash() and config_identity(other) != config_identity(entry)
    unframed = entry
    legacy = unframed.hash_dict()
    for key in ("name", "description", "paper", "source"):
        legacy.pop(key)
    for key in ("pad_b", "resize_b"):
        del legacy["data"][key]
    del legacy["train"]["cpu_threads"]
    assert unframed.hash() == dict_digest(legacy)  # the recipe of the shipped weights hashes as before


def test_model_and_network_sections_share_one_section_type():
    """ModelConfig and NetworkConfig are one kind of section (keys from a signature): both read
    with a fallback (``get``), copy with changes (``replace``) and compare by every key's value."""
    from ganzoo.config import ModelConfig, NetworkConfig, SettingsSection

    d = NetworkConfig("dcgan", "discriminator", filters=8)
    assert isinstance(d, SettingsSection) and isinstance(ModelConfig(), SettingsSection)
    smaller = d.replace(filters=4)
    assert (smaller.arch, smaller.role, smaller.filters, d.filters) == ("dcgan", "discriminator", 4, 8)
    assert d.replace() == d and smaller != d and d.replace(filters=64) == NetworkConfig("dcgan", "discriminator")
    assert d.get("filters") == 8 and d.get("filtrs", "none") == "none"
    with pytest.raises(AttributeError, match="the 'dcgan' discriminator takes no key 'filtrs'; did you mean 'filters'"):
        d.filtrs
    m = ModelConfig("StyleGAN", style_mixing_prob=0.5)
    assert m.replace(cls="GAN").cls == "GAN" and m.replace().style_mixing_prob == 0.5 and m.get("nope", 7) == 7
    assert repr(d) == "NetworkConfig(arch='dcgan', filters=8)" and repr(m) == "ModelConfig(cls='StyleGAN', style_mixing_prob=0.5)"
