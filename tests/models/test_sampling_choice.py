"""Which generator sampling uses (the EMA generator once warm, ``--raw`` / ``use_ema``), what
``ganzoo eval ENTRY`` scores, and every command on every model family: it works or says why."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from ganzoo.builders import build_model, compile_model
from ganzoo.cli import main
from ganzoo.config import NULL
from ganzoo.images import read_metadata, to_uint8
from tests.helpers import shared_tfds_dir, tiny_config

# Passes on JAX too (KERAS_BACKEND=jax pytest -m "" this file); not in CI's JAX phase, which
# keeps to the harness, the losses and the backend-specific tests to stay within its time.

_np = keras.ops.convert_to_numpy

TINY_SET = ["--set", "generator.filters=8", "--set", "discriminator.filters=8", "--set", "model.latent_dim=8"]
needs_mnist = pytest.mark.skipif(shared_tfds_dir() is None, reason="real MNIST (../shared/tfds) is not available")


def _fit(model, steps, conditional=False):
    x = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices(x).repeat().batch(4)
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    return model


def _model(steps, **extra):
    config = tiny_config("dcgan_mnist", **extra)
    return _fit(compile_model(build_model(config), config), steps) if steps else build_model(config)


# ---------------------------------------------------------------------- the rule, in Python

def test_a_cold_ema_generator_is_not_sampled_from_by_default():
    """The newcomer's case: decay 0.999 without ramp-up holds 0.999 ** 3 = 99.7% of the random
    initial weights after 3 updates; generate() must show the raw G's images, and say so."""
    model = _model(3, **{"model.ema_rampup": NULL})
    assert model.ema_state.warm_updates == 4603  # 0.999 ** 4603 < 1% <= 0.999 ** 4602
    assert model.ema_updates() == 3 and not model.ema_is_warm()
    choice = model.sampling_choice()
    assert not choice.ema and "raw generator" in str(choice) and "not warm" in str(choice) and "100%" in str(choice)
    assert model.sampling_generator() is model.generator
    raw, ema = model.generate(3, seed=1, use_ema=False), model.generate(3, seed=1, use_ema=True)
    assert np.abs(raw - ema).max() > 1e-3
    np.testing.assert_array_equal(model.generate(3, seed=1), raw)
    assert model.sampling_choice(True).ema and "asked for" in str(model.sampling_choice(True))


def test_the_ramped_up_ema_generator_is_warm_after_its_first_update():
    fresh = _model(0)
    assert not fresh.ema_is_warm() and fresh.sampling_generator() is fresh.generator  # no update yet
    model = _model(2)
    assert model.ema_state.warm_updates == 1 and model.ema_is_warm()
    choice = model.sampling_choice()
    assert choice.ema and str(choice).startswith("EMA generator (warm")
    assert model.sampling_generator() is model.ema_generator
    np.testing.assert_array_equal(model.generate(2, seed=0), model.generate(2, seed=0, use_ema=True))
    assert "raw generator (asked for" in str(model.sampling_choice(False))
    # A file saved before ganzoo counted EMA updates: the generator optimizer's steps stand in.
    model.ema_state.counted = False
    assert model.ema_updates() == int(_np(model.g_optimizer.iterations)) == 2


def _traced(model, fn):
    """``fn`` traced as a training step traces it: a ``tf.function`` on TensorFlow; on JAX a
    ``jax.jit`` over the model's variables, read through a StatelessScope (as ganzoo's step)."""
    if keras.backend.backend() != "jax":
        return tf.function(fn)
    import jax

    variables = model.variables

    def pure(values, *args):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return fn(*args)

    jitted = jax.jit(pure)
    return lambda *args: jitted([v.value for v in variables], *args)


def test_use_ema_true_needs_an_ema_generator_and_the_rule_holds_when_traced():
    no_ema = _model(0, **{"model.ema_decay": NULL})
    with pytest.raises(ValueError, match="keeps no EMA generator"):
        no_ema.generate(1, use_ema=True)
    assert "keeps no EMA generator" in str(no_ema.sampling_choice())
    cold = _model(1, **{"model.ema_rampup": NULL})
    z = keras.ops.convert_to_tensor(cold.latents(2, seed=3))
    traced = _traced(cold, lambda z: cold.sample_with(lambda net: net(z, training=False)))
    np.testing.assert_allclose(_np(traced(z)), cold.generate_from_latents(_np(z), use_ema=False), atol=1e-6)
    cold.ema_state.updates.assign(cold.ema_state.warm_updates)  # now warm: the same traced function switches
    np.testing.assert_allclose(_np(traced(z)), cold.generate_from_latents(_np(z), use_ema=True), atol=1e-6)


# ---------------------------------------------------------------------- the rule, on the command line

@pytest.fixture(scope="module")
def cold_run(tmp_path_factory):
    """A 4-step dcgan_mnist run without EMA ramp-up (its EMA generator is cold) and its output."""
    run = tmp_path_factory.mktemp("cold") / "run"
    import contextlib
    import io

    out = io.StringIO()
    with tfds.testing.mock_data(num_examples=16), contextlib.redirect_stdout(out):
        code = main(["train", "dcgan_mnist", "--epochs", "2", "--steps", "2", "--batch-size", "4", "--out", str(run),
                     "--quiet", "--set", "model.ema_rampup=null", *TINY_SET])
    assert code == 0
    return run, out.getvalue()


def test_training_grids_sample_and_walk_use_the_raw_generator_while_the_ema_is_cold(cold_run, tmp_path, capsys):
    run, train_out = cold_run
    assert "sample grids" in train_out and "from the raw generator (the EMA generator is not warm" in train_out
    assert "`ganzoo sample" in train_out.splitlines()[-1]
    assert "raw generator" in read_metadata(run / "samples" / "epoch_0002.png")["generator"]
    model = keras.saving.load_model(run / "model.keras")

    out = tmp_path / "grid.png"
    assert main(["sample", str(run), "-n", "4", "--seed", "1", "--nrow", "4", "-o", str(out)]) == 0
    assert "sampling from the raw generator (the EMA generator is not warm yet: 4 update(s)" in capsys.readouterr().out
    meta = read_metadata(out)
    assert "raw generator" in meta["generator"] and meta["weights"] == "run" and meta["step"] == 4
    pixels = np.asarray(__import__("PIL.Image").Image.open(out))
    tile = pixels[2:30, 2:30]  # the first image of the grid (2 px padding)
    np.testing.assert_array_equal(tile, to_uint8(model.generate(1, seed=1, use_ema=False))[0][..., 0])
    assert np.abs(tile.astype(int) - to_uint8(model.generate(1, seed=1, use_ema=True))[0][..., 0]).max() > 0

    walk = tmp_path / "walk.gif"
    assert main(["interpolate", str(run), "--frames", "3", "--raw", "-o", str(walk)]) == 0
    assert "raw generator (asked for" in capsys.readouterr().out
    assert "raw generator (asked for" in read_metadata(walk)["generator"]


def test_export_says_which_generator_and_raw_picks_g(tmp_path, capsys):
    model = _model(2)  # ramped up: warm
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    assert main(["export", str(run), "--format", "keras", "-o", str(tmp_path / "ema")]) == 0
    assert "exporting the EMA generator (warm" in capsys.readouterr().out
    meta = json.loads((tmp_path / "ema" / "export.json").read_text())
    assert meta["uses_ema_generator"] and meta["generator"].startswith("EMA generator (warm")
    assert main(["export", str(run), "--format", "keras", "--raw", "-o", str(tmp_path / "raw")]) == 0
    meta = json.loads((tmp_path / "raw" / "export.json").read_text())
    assert not meta["uses_ema_generator"] and meta["generator"].startswith("raw generator")
    z = model.latents(2, seed=0)
    raw = keras.saving.load_model(tmp_path / "raw" / "generator.keras")
    np.testing.assert_allclose(_np(raw(z)), model.generate_from_latents(z, use_ema=False), atol=1e-6)


def test_bundled_weights_are_one_generator(tmp_path, capsys):
    out = tmp_path / "g.png"
    assert main(["sample", "dcgan_mnist", "-n", "2", "-o", str(out)]) == 0
    assert "sampling from the bundled generator" in capsys.readouterr().out
    assert read_metadata(out)["weights"] == "bundled"
    assert main(["sample", "dcgan_mnist", "-n", "2", "--raw", "-o", str(out)]) == 2
    assert "--raw: the bundled weights of dcgan_mnist are one generator" in capsys.readouterr().err


# ---------------------------------------------------------------------- ganzoo eval ENTRY

@needs_mnist
def test_eval_of_an_entry_scores_its_bundled_weights_and_says_which(tmp_path, capsys):
    common = ["-n", "20", "--ref-samples", "100", "--cache-dir", str(tmp_path / "cache"),
              "--data-dir", shared_tfds_dir(), "--metrics", "fcd,coverage"]
    assert main(["eval", "dcgan_mnist", *common, "-o", str(tmp_path / "bundled.json")]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("dcgan_mnist (bundled pretrained weights), bundled generator"), header
    bundled = json.loads((tmp_path / "bundled.json").read_text())
    assert bundled["protocol"]["weights"] == "bundled" and len(bundled["protocol"]["weights_sha256"]) == 64
    assert main(["eval", "dcgan_mnist", "--weights", "untrained", *common, "-o", str(tmp_path / "u.json")]) == 0
    assert "dcgan_mnist (UNTRAINED: random initial weights)" in capsys.readouterr().out.splitlines()[0]
    untrained = json.loads((tmp_path / "u.json").read_text())
    assert untrained["protocol"]["weights"] == "untrained"
    assert bundled["metrics"]["fcd"] < untrained["metrics"]["fcd"]  # measured: 112.7 vs 292.7 on 20 images


@needs_mnist
def test_eval_of_a_run_folder_names_file_step_and_generator(tmp_path, capsys):
    model = _model(2)
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    assert main(["eval", str(run), "-n", "20", "--ref-samples", "100", "--cache-dir", str(tmp_path / "cache"),
                 "--data-dir", shared_tfds_dir(), "--metrics", "coverage"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    # model.save() writes no training state: the step is unknown, and the table says so.
    assert header.startswith(f"{run / 'model.keras'} (step unknown), EMA generator (warm: 2 update(s)) (seed 0)")
    assert json.loads((run / "eval.json").read_text())["protocol"]["weights"] == "run"


def test_eval_of_an_entry_without_bundled_weights_says_how_to_get_a_model(capsys):
    assert main(["eval", "dcgan_celeba"]) == 2
    err = capsys.readouterr().err
    assert "no trained weights are bundled for 'dcgan_celeba'" in err
    assert "`ganzoo train dcgan_celeba --out runs/dcgan_celeba`" in err and "--weights untrained" in err


# ---------------------------------------------------------------------- every command x family

@pytest.fixture(scope="module")
def family_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("families")
    files = {}
    for entry, extra in (("dcgan_mnist", {}), ("srgan_div2k", {"model.content_loss": "pixel"}),
                         ("cyclegan_monet2photo", {})):
        build_model(tiny_config(entry, **extra)).save(folder / f"{entry}.keras")
        files[entry] = str(folder / f"{entry}.keras")
    from PIL import Image

    Image.fromarray(np.full((12, 16, 3), 128, np.uint8)).save(folder / "pic.png")
    files["pic"] = str(folder / "pic.png")
    return files


@pytest.mark.parametrize("argv, fragment", [
    (["sample", "{srgan_div2k}"], "Use `ganzoo upscale {srgan_div2k} PICTURE"),
    (["generate", "{cyclegan_monet2photo}"], "Use `ganzoo stylize {cyclegan_monet2photo} PICTURE"),
    (["interpolate", "{srgan_div2k}"], "Use `ganzoo upscale"),
    (["stylemix", "{cyclegan_monet2photo}", "--rows", "1", "--cols", "2"], "Use `ganzoo stylize"),
    (["stylemix", "{dcgan_mnist}", "--rows", "1", "--cols", "2"], "needs a StyleGAN (e.g. stylegan_mnist). Use `ganzoo sample"),
    (["export", "{srgan_div2k}", "-o", "unused"], "Use `ganzoo upscale"),
    (["eval", "{cyclegan_monet2photo}"], "a CycleGAN has no ground truth to score against here. Use `ganzoo stylize"),
    (["upscale", "{dcgan_mnist}", "{pic}"], "it draws new images from random latents); `ganzoo upscale` needs a "
                                            "super-resolution model (e.g. srgan_div2k). Use `ganzoo sample"),
    (["stylize", "{dcgan_mnist}", "{pic}"], "Use `ganzoo sample {dcgan_mnist} -n 64"),
    (["upscale", "{cyclegan_monet2photo}", "{pic}"], "Use `ganzoo stylize"),
    (["stylize", "{srgan_div2k}", "{pic}"], "Use `ganzoo upscale"),
    # entry names are checked before anything is loaded (no "no weights bundled" detour)
    (["sample", "srgan_div2k"], "Use `ganzoo upscale srgan_div2k PICTURE"),
    (["interpolate", "cyclegan_horse2zebra"], "Use `ganzoo stylize cyclegan_horse2zebra PICTURE"),
    (["demo", "--entry", "cyclegan_monet2photo"], "Use `ganzoo stylize"),
    (["upscale", "gan_mnist", "{pic}"], "Use `ganzoo sample gan_mnist"),
    (["stylize", "pggan_mnist", "{pic}"], "Use `ganzoo sample pggan_mnist"),
    (["eval", "cyclegan_monet2photo"], "Use `ganzoo stylize"),
])
def test_a_command_that_does_not_fit_the_model_says_which_does(argv, fragment, family_files, capsys):
    assert main([a.format(**family_files) for a in argv]) == 2
    err = capsys.readouterr().err
    assert fragment.format(**family_files) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("entry", ["pggan_mnist", "stylegan_mnist"])
def test_export_serves_what_generate_makes_for_progressive_and_style_gans(entry, tmp_path):
    """Both failed before: PGGAN's export served the full-resolution path of an untrained network
    instead of the current phase, StyleGAN's called its generator without the noise inputs."""
    from ganzoo.export import export_generator

    model = build_model(tiny_config(entry))
    path = export_generator(model, tmp_path, "savedmodel")
    z = model.latents(3, seed=2)
    served = _np(tf.saved_model.load(str(path)).signatures["serving_default"](z=tf.constant(z))["images"])
    np.testing.assert_array_equal(served, to_uint8(model.generate_from_latents(z)))


def test_train_closing_hint_names_the_command_of_the_family():
    import ganzoo
    from ganzoo.commands.train import next_step_hint

    assert "`ganzoo sample runs/x -n 64" in next_step_hint(ganzoo.get_config("stylegan_mnist"), "runs/x")
    assert "`ganzoo upscale runs/x picture.png" in next_step_hint(ganzoo.get_config("srgan_div2k"), "runs/x")
    assert ("`ganzoo stylize runs/x picture.png --direction photo2painting"
            in next_step_hint(ganzoo.get_config("cyclegan_monet2photo"), "runs/x"))
