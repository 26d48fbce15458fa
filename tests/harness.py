"""The per-class harness (as keras-hub's ``run_model_saving_test``): build a model from a tiny
config, train it a few steps with ``fit``, save it as ``.keras`` and load it, then check that the
loaded model is the same model (same class, same samples for the same seed, equal weights and
optimizer state) and that it trains on (``fit`` without ``compile``, its generator's weights move).

``tests/models/test_models.py`` runs it over every class of the model registry (with the entry
named in :data:`CLASS_ENTRIES`) and over every other registry entry; a class's own test file
adds only what is particular to it.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

import ganzoo
from ganzoo import model_registry
from ganzoo.builders import build_model, compile_model
from tests.helpers import tiny_config

#: The entry whose tiny config stands for each model class in the per-class test: the smallest
#: image size of the class's usual networks. A class registered without a row here fails that
#: test by name (:func:`class_entry`), so a new class cannot skip the harness.
CLASS_ENTRIES = {
    "GAN": "dcgan_mnist",
    "ConditionalGAN": "cgan_mnist",
    "WassersteinGAN": "wgan_gp_mnist",
    "SRGAN": "srgan_div2k",
    "CycleGAN": "cyclegan_cezanne2photo",
    "ProgressiveGAN": "pggan_mnist",
    "StyleGAN": "stylegan_mnist",
}

#: Entries of more than 32 px train at 32 px: the training scheme, losses and layers are the
#: entry's own, with fewer up/downsampling blocks (tracing a 128 px StyleGAN step alone cost
#: minutes of CPU). tests/models/test_models.py::test_full_resolution_networks_build checks
#: the full size.
SMOKE_MAX_SIZE = 32
#: StyleGAN and ProgressiveGAN entries train at 16 px (4 -> 8 -> 16): tracing their step is
#: what the test pays for (7-11 s of CPU for a StyleGAN entry's first fit at 32 px, against
#: ~1 s for the same step run eagerly), and it grows with every resolution level
#: (ProgressiveGAN traces a branch per level: its first fit cost 6.3 s at 32 px, 3.6 s at
#: 16 px). Each level above 8 px is the same block again (the tiny width is 8 channels at
#: every level), so 16 px still runs every layer kind, style mixing, lazy R1, ADA and a growth
#: step through a fade-in. Training at 16 px is what tests/models/test_stylegan.py and
#: tests/models/test_pggan.py do too; the slow proof grows pggan_mnist to 32 px.
SMOKE_SIZE_BY_CLASS = {"StyleGAN": 16, "ProgressiveGAN": 16}

#: Generator steps after the first ``fit`` of :data:`FIT_STEPS` steps and after one more step
#: on the loaded model. ProgressiveGAN's optimizers restart at each new level of detail: the
#: tiny config's second step starts a fade-in and the third ends it (tests/models/test_pggan.py).
FIT_STEPS = 2
G_STEPS_BY_CLASS = {"ProgressiveGAN": (1, 1)}


def class_entry(cls_name: str) -> str:
    """The registry entry whose tiny config the harness runs for ``cls_name``; a class without
    one fails the test that asks, naming the class and where to add it."""
    if cls_name not in CLASS_ENTRIES:
        pytest.fail(f"model class {cls_name} has no tiny config for the per-class harness: add a registry entry "
                    f"of it to CLASS_ENTRIES in tests/harness.py", pytrace=False)
    return CLASS_ENTRIES[cls_name]


def is_image_to_image(config) -> bool:
    return model_registry.model_class_info(config.model.cls).image_to_image


def smoke_size(config) -> int:
    """The image size an entry's harness run trains at (its own size when that is smaller)."""
    return min(config.data.image_size, SMOKE_SIZE_BY_CLASS.get(config.model.cls, SMOKE_MAX_SIZE))


def tiny_entry_config(name, tmp_path):
    """The tiny config of an entry; entries that read a folder of the user's images
    (``data.source: folder``) get a folder of 12 generated PNGs of mixed sizes in ``tmp_path``."""
    config = tiny_config(name)
    if config.data.source != "folder":
        return config
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        size = (20 + 4 * (i % 3), 24)
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return tiny_config(name, **{"data.path": str(folder)})


def harness_config(name, tmp_path):
    """The config the harness trains for a registry entry: its tiny config at :func:`smoke_size`
    (image-to-image entries keep their tiny crop size)."""
    config = tiny_entry_config(name, tmp_path)
    if not is_image_to_image(config) and config.data.image_size > smoke_size(config):
        config = ganzoo.get_config(config, **{"data.image_size": smoke_size(config)})
    return config


@dataclasses.dataclass
class SavingRun:
    """What :func:`run_model_saving_test` leaves for a caller's own checks."""

    model: keras.Model  # trained FIT_STEPS steps, then saved
    loaded: keras.Model  # loaded from the file, then trained one step more
    history: dict  # the first fit's history
    samples: np.ndarray  # the trained model's samples (generate(5, seed=3), or model(source))
    source: np.ndarray = None  # image-to-image: the batch of inputs ``samples`` came from
    target: np.ndarray = None  # image-to-image: the batch of targets paired with ``source``


def _values(variables) -> list:
    return [keras.ops.convert_to_numpy(v).copy() for v in variables]


def _samples(model, source):
    if source is None:
        return model.generate(5, seed=3)
    return keras.ops.convert_to_numpy(model(source, training=False))


def _assert_finite(history: dict, what: str):
    for key, values in history.items():
        assert np.all(np.isfinite(values)), f"{what}: {key} is not finite: {values}"
    assert {"d_loss", "g_loss"} <= set(history), f"{what}: fit reported {sorted(history)}"


def _assert_moved(before: list, after: list, what: str):
    assert any(np.abs(b - a).max() > 0 for b, a in zip(before, after)), f"{what}: no generator weight changed"


def _assert_same_variables(a_vars, b_vars, what: str):
    a_vars, b_vars = list(a_vars), list(b_vars)
    assert len(a_vars) == len(b_vars), f"{what}: {len(a_vars)} variables saved, {len(b_vars)} loaded"
    for a, b in zip(a_vars, b_vars):
        # (Auto-generated layer names differ between the two in one process: the order is the file's.)
        assert a.shape == b.shape, f"{what}: {a.path} saved {a.shape}, {b.path} loaded {b.shape} in its place"
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b),
                                      err_msg=f"{what}: {a.path}")


def run_model_saving_test(config, tmp_path, *, eager_before: bool = False, eager_after: bool = False,
                          examples: int = 48) -> SavingRun:
    """Build ``config``'s model, ``fit`` it :data:`FIT_STEPS` steps on ``tfds.testing.mock_data``,
    save it as ``.keras``, load it and ``fit`` the loaded model one step more; assert along the way:

    - every reported loss is finite, ``d_loss`` and ``g_loss`` among them, and the generator's
      weights moved in the first fit and again in the fit after loading;
    - the generator and discriminator optimizers took the class's number of steps (``d`` at least one);
    - samples: ``generate(5, seed=3)`` is float32 in [-1, 1] of the config's shape and not
      constant (image-to-image: the data's pairs have the config's sizes, in [-1, 1], and
      ``model(source)`` has the target batch's shape);
    - the loaded model has the same class, gives the same samples (atol 1e-6), and holds equal
      weights (in order, the EMA generator, seed and schedule state included) and equal
      optimizer variables (both optimizers: iterations and slots), so it trains on without
      ``compile``; the fit after loading traces its own step unless ``eager_after``.
    """
    name = config.name or config.model.cls
    i2i = is_image_to_image(config)
    g_steps = G_STEPS_BY_CLASS.get(config.model.cls, (FIT_STEPS, FIT_STEPS + 1))
    source = target = None
    with tfds.testing.mock_data(num_examples=examples):
        ds = ganzoo.load_dataset(config)
        if i2i:
            source, target = (x.numpy() for x in next(iter(ds)))
        model = build_model(config)
        compile_model(model, config)
        model.run_eagerly = eager_before
        g_before = _values(model.generator_variables())
        history = model.fit(ds, epochs=1, steps_per_epoch=FIT_STEPS, verbose=0).history
    _assert_finite(history, name)
    _assert_moved(g_before, _values(model.generator_variables()), name)
    assert int(model.g_optimizer.iterations.numpy()) == g_steps[0]
    assert int(model.d_optimizer.iterations.numpy()) >= 1

    samples = _samples(model, source)
    assert samples.dtype == np.float32
    if i2i:
        # The pairs: (low-resolution, high-resolution) for SRGAN, two domains for CycleGAN.
        size, channels = config.data.image_size, config.data.channels  # 3, or 1 for srgan_mnist
        scale = config.data.scale if model_registry.model_class_info(config.model.cls).data_kind == "paired_lr_hr" else 1
        batch = config.train.batch_size
        assert target.shape == (batch, size, size, channels)
        assert source.shape == (batch, size // scale, size // scale, channels)
        assert source.min() >= -1.0 and source.max() <= 1.0 and target.min() >= -1.0 and target.max() <= 1.0
        assert samples.shape == target.shape
    else:
        size, channels = config.data.image_size, config.data.channels
        assert samples.shape == (5, size, size, channels)
    assert samples.min() >= -1.0 and samples.max() <= 1.0
    assert samples.std() > 0, f"{name}: generator output is constant"

    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_allclose(_samples(loaded, source), samples, atol=1e-6)
    _assert_same_variables(model.weights, loaded.weights, f"{name}: weights")
    for which in ("g_optimizer", "d_optimizer"):
        _assert_same_variables(getattr(model, which).variables, getattr(loaded, which).variables, f"{name}: {which}")

    # Trains on without compile(): the optimizers' state came back with the weights.
    loaded.run_eagerly = eager_after
    g_before = _values(loaded.generator_variables())
    with tfds.testing.mock_data(num_examples=examples):
        again = loaded.fit(ganzoo.load_dataset(config), epochs=1, steps_per_epoch=1, verbose=0).history
    _assert_finite(again, f"{name} after loading")
    _assert_moved(g_before, _values(loaded.generator_variables()), f"{name} after loading")
    assert int(loaded.g_optimizer.iterations.numpy()) == g_steps[1]
    return SavingRun(model, loaded, history, samples, source, target)
