"""Export: each format reloads and gives the images ``model.generate`` gives for the same
latents (and labels), as uint8."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganzoo.builders import build_model, compile_model
from ganzoo.cli import main
from ganzoo.config import NULL
from ganzoo.export import export_generator
from ganzoo.images import to_uint8
from tests.helpers import tiny_config


def _trained(name, **extra):
    config = tiny_config(name, **extra)
    model = build_model(config)
    compile_model(model, config)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, (4,)).astype("int32")
    model.fit(tf.data.Dataset.from_tensors((x, y) if config.conditional else x), epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def models():
    return {
        # EMA: the export must be the generator generate() samples from, not the raw G.
        "unconditional": _trained("dcgan_mnist", **{"model.ema_decay": 0.5}),
        "conditional": _trained("cgan_mnist", **{"model.ema_decay": NULL}),  # and without EMA
    }


def _inputs(model, n=6):
    z = model.latents(n, seed=4)
    labels = np.array([0, 3, 9, 3, 1, 7][:n], np.int32) if model.conditional else None
    return z, labels


def _expected(model, z, labels):
    return to_uint8(model.generate_from_latents(z, labels))


@pytest.mark.parametrize("kind", ["unconditional", "conditional"])
def test_savedmodel_serving_signature_matches_generate(models, kind, tmp_path):
    model = models[kind]
    path = export_generator(model, tmp_path / "out", "savedmodel")
    assert path.name == "saved_model" and (path / "saved_model.pb").is_file()
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    z, labels = _inputs(model)
    kwargs = {"z": tf.constant(z)}
    if labels is not None:
        kwargs["label"] = tf.constant(labels)
    images = serve(**kwargs)["images"].numpy()
    assert images.dtype == np.uint8 and images.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(images, _expected(model, z, labels))
    meta = json.loads((tmp_path / "out" / "export.json").read_text())
    assert meta["latent_dim"] == model.latent_dim and meta["num_classes"] == model.num_classes
    assert meta["uses_ema_generator"] == (kind == "unconditional")


@pytest.mark.parametrize("kind", ["unconditional", "conditional"])
def test_keras_export_is_the_sampling_generator(models, kind, tmp_path):
    model = models[kind]
    path = export_generator(model, tmp_path, "keras")
    assert path.name == "generator.keras"
    generator = keras.saving.load_model(str(path))
    z, labels = _inputs(model)
    out = generator.predict(z if labels is None else [z, labels], verbose=0)
    np.testing.assert_array_equal(to_uint8(out), _expected(model, z, labels))


@pytest.mark.parametrize("kind", ["unconditional", "conditional"])
def test_tflite_export_matches_generate(models, kind, tmp_path):
    model = models[kind]
    path = export_generator(model, tmp_path, "tflite")
    interpreter = tf.lite.Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner("serving_default")
    z, labels = _inputs(model)
    kwargs = {"z": z} if labels is None else {"z": z, "label": labels}
    images = runner(**kwargs)["images"]
    expected = _expected(model, z, labels)
    assert images.dtype == np.uint8 and images.shape == expected.shape
    # TFLite's kernels may round a float a hair differently; a pixel exactly on a .5 boundary
    # could then move by one level. Measured here: identical.
    diff = np.abs(images.astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999, (diff.max(), (diff == 0).mean())


def test_cli_export_from_a_run_folder(models, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    models["conditional"].save(run / "model.keras")
    out = tmp_path / "export"
    assert main(["export", str(run), "--format", "keras", "-o", str(out)]) == 0
    assert (out / "generator.keras").is_file() and (out / "export.json").is_file()
    assert "wrote keras export" in capsys.readouterr().out
    # Exporting again replaces the previous export (never a mix of both).
    assert main(["export", str(run), "--format", "savedmodel", "-o", str(out)]) == 0
    assert (out / "saved_model" / "saved_model.pb").is_file()
    assert json.loads((out / "export.json").read_text())["format"] == "savedmodel"
    assert not [p for p in out.iterdir() if p.name.startswith(".export-")]


def test_export_errors_are_clear(models, tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown export format"):
        export_generator(models["conditional"], tmp_path, "onnx")
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(PermissionError, match="cannot write to the export folder"):
        export_generator(models["conditional"], blocker / "sub", "keras")
    assert main(["export", str(tmp_path / "missing_run"), "-o", str(tmp_path / "o")]) == 2
    assert "neither a run folder" in capsys.readouterr().err


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="from TensorFlow the export is written in-process")
def test_cli_export_from_jax_says_it_goes_through_tensorflow(models, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    models["unconditional"].save(run / "model.keras")
    assert main(["export", str(run), "--format", "savedmodel", "-o", str(tmp_path / "export")]) == 0
    out = capsys.readouterr().out
    backend = keras.backend.backend()
    assert f"this process runs Keras on {backend}: the savedmodel export is written by a TensorFlow" in out
    assert (tmp_path / "export" / "saved_model" / "saved_model.pb").is_file()
    assert not [p for p in (tmp_path / "export").iterdir() if p.name.startswith(".export-")]


def test_export_from_another_backend_without_tensorflow_says_what_to_do(models, tmp_path, monkeypatch):
    import importlib.util

    from ganzoo import export

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real_find_spec(name, *a))
    with pytest.raises(ValueError, match="TensorFlow is not installed .*pip install tensorflow.*export --format keras "
                                         "here and run `KERAS_BACKEND=tensorflow ganzoo export RUN --format tflite"):
        export.export_through_tensorflow(models["conditional"], tmp_path, "tflite")
    assert export.needs_tensorflow_process("keras") is False
    assert export.needs_tensorflow_process("savedmodel") is (keras.backend.backend() != "tensorflow")
