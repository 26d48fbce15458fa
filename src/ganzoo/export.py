"""Export a trained generator alone, for serving.

``export_generator(model, directory, format)`` (and ``ganzoo export RUN --format ... -o DIR``)
writes the *sampling* generator (as ``model.generate``: the EMA generator once it is warm,
else the raw G; ``use_ema`` / ``--raw`` choose) without the discriminator or optimizers:

* ``savedmodel``: ``DIR/saved_model/``, a TensorFlow SavedModel whose ``serving_default``
  signature takes ``z`` (float32 ``[batch, latent_dim]``) and, for conditional models,
  ``label`` (int32 ``[batch]``), and returns ``images``: uint8 ``[batch, H, W, C]``
  (``round((x + 1) * 127.5)``, exactly :func:`ganzoo.images.to_uint8`). TF Serving, TF.js
  converters and ``tf.saved_model.load`` read it without ganzoo or Keras.
* ``tflite``: ``DIR/generator.tflite``, converted from the same serving function with the
  weights folded into constants, TFLite built-in ops only; same signature
  (``serving_default``: ``z`` [, ``label``] -> ``images``).
* ``keras``: ``DIR/generator.keras``, the generator as a plain Keras model (float images in
  [-1, 1], like ``model.generator``), for fine-tuning or embedding in another Keras model.

**From JAX.** The SavedModel and TFLite formats are TensorFlow graphs. A model that lives in a
process running Keras on JAX (``KERAS_BACKEND=jax``) is exported through TensorFlow in a
subprocess (:func:`export_through_tensorflow`): its weights go to a temporary ``.keras`` file
(saving is backend-neutral), a ``KERAS_BACKEND=tensorflow`` Python loads it and writes exactly
what a TensorFlow process writes, with the same serving signature. Without TensorFlow installed
this fails with what to do instead. ``keras`` exports are written in-process on any backend.

Every export also writes ``DIR/export.json``: entry, format, latent_dim, num_classes,
image shape, which generator (``generator``, ``uses_ema_generator``), input and output names. Files are written to a temporary name and renamed,
so an interrupted export never leaves a half-written file under the final name.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["FORMATS", "export_generator", "export_through_tensorflow", "needs_tensorflow_process",
           "serving_function"]

FORMATS = ("savedmodel", "tflite", "keras")


def _uint8(images):
    import tensorflow as tf  # noqa: PLC0415

    scaled = (tf.cast(images, tf.float32) + 1.0) * 127.5
    return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)  # round half to even, as np.rint


def serving_function(model, use_ema=None):
    """A ``tf.function`` with a fixed input signature: latents (and labels) -> uint8 images
    (of ``model.sampling_generator(use_ema)``)."""
    import tensorflow as tf  # noqa: PLC0415

    generator = model.sampling_generator(use_ema)
    z_spec = tf.TensorSpec([None, model.latent_dim], tf.float32, name="z")
    if model.conditional:
        @tf.function(input_signature=[z_spec, tf.TensorSpec([None], tf.int32, name="label")])
        def serve(z, label):
            return {"images": _uint8(model.serving_images(generator, [z, label]))}
    else:
        @tf.function(input_signature=[z_spec])
        def serve(z):
            return {"images": _uint8(model.serving_images(generator, z))}
    return serve


def _metadata(model, fmt: str, use_ema=None) -> dict:
    zoo = model.zoo_config or {}
    choice = model.sampling_choice(use_ema)
    return {
        "entry": zoo.get("name", model.name),
        "format": fmt,
        "latent_dim": model.latent_dim,
        "num_classes": model.num_classes,
        "image_shape": list(model.image_shape),
        "uses_ema_generator": choice.ema,
        "generator": choice.description,
        "inputs": {"z": f"float32 [batch, {model.latent_dim}]", **({"label": "int32 [batch]"} if model.conditional
                                                                    else {})},
        "outputs": ({"images": "uint8 [batch, H, W, C]"} if fmt != "keras"
                    else {"images": "float32 [batch, H, W, C] in [-1, 1]"}),
        "signature": "serving_default" if fmt != "keras" else None,
    }


def _write_saved_model(model, path: Path, use_ema=None) -> None:
    import tensorflow as tf  # noqa: PLC0415

    module = tf.Module()
    module.generator = model.sampling_generator(use_ema)
    module.serve = serving_function(model, use_ema)
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})


def export_generator(model, directory, fmt: str = "savedmodel", use_ema=None) -> Path:
    """Export ``model``'s sampling generator into ``directory`` (created); return the file
    or folder written (``saved_model/``, ``generator.tflite`` or ``generator.keras``).
    ``use_ema`` as in ``model.generate``: None the EMA generator once warm, else G; True / False."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format '{fmt}'; use one of {', '.join(FORMATS)}")
    if not hasattr(model, "sampling_generator") or not hasattr(model, "latent_dim"):
        raise ValueError(f"{type(model).__name__} has no latent generator to export (export works for the "
                         "latent-to-image GANs)")
    model.sampling_choice(use_ema)  # a use_ema the model cannot honour fails before any writing
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".ganzoo-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise PermissionError(f"cannot write to the export folder {directory} ({err.strerror}); "
                              "choose another -o") from None
    if needs_tensorflow_process(fmt):
        return export_through_tensorflow(model, directory, fmt, use_ema)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=directory))
    try:
        if fmt == "keras":
            name = "generator.keras"
            model.sampling_generator(use_ema).save(str(work / name))
        else:
            if fmt == "tflite":
                name = "generator.tflite"
                (work / name).write_bytes(_to_tflite(model, work / "frozen_saved_model", use_ema))
            else:
                name = "saved_model"
                _write_saved_model(model, work / name, use_ema)
        (work / "export.json").write_text(json.dumps(_metadata(model, fmt, use_ema), indent=2) + "\n")
        target = directory / name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(work / name, target)
        os.replace(work / "export.json", directory / "export.json")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def needs_tensorflow_process(fmt: str) -> bool:
    """Whether exporting ``fmt`` from this process goes through a TensorFlow subprocess: a
    TensorFlow graph format (SavedModel, TFLite) while Keras runs on another backend."""
    import keras  # noqa: PLC0415

    return fmt != "keras" and keras.backend.backend() != "tensorflow"


#: What the TensorFlow subprocess of :func:`export_through_tensorflow` runs.
_EXPORT_SCRIPT = """
import sys
import keras
import ganzoo.models  # registers the classes
from ganzoo.export import export_generator
model_file, directory, fmt, use_ema = sys.argv[1:5]
model = keras.saving.load_model(model_file)
print(export_generator(model, directory, fmt, use_ema={"True": True, "False": False}[use_ema]))
"""


def export_through_tensorflow(model, directory, fmt: str, use_ema=None, timeout: float = 1800) -> Path:
    """Export ``model`` (of a process running Keras on JAX) as ``fmt`` through a TensorFlow
    subprocess: the model is saved to a temporary ``.keras`` file, which a
    ``KERAS_BACKEND=tensorflow`` Python loads and exports with :func:`export_generator`. The
    result is what a TensorFlow process writes from the same weights; returns its path."""
    import importlib.util  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    import keras  # noqa: PLC0415

    backend = keras.backend.backend()
    if importlib.util.find_spec("tensorflow") is None:
        raise ValueError(f"--format {fmt} writes a TensorFlow graph, and TensorFlow is not installed (this process "
                         f"runs Keras on {backend}). Install it (pip install tensorflow) and export again, or "
                         "export --format keras here and run `KERAS_BACKEND=tensorflow ganzoo export "
                         f"RUN --format {fmt} -o DIR` where TensorFlow is")
    ema = model.sampling_choice(use_ema).ema  # the generator chosen here, whatever the reloaded model thinks
    directory = Path(directory)
    package_root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, KERAS_BACKEND="tensorflow",
               PYTHONPATH=os.pathsep.join([package_root, *filter(None, [os.environ.get("PYTHONPATH")])]))
    with tempfile.TemporaryDirectory(prefix=".export-jax-", dir=directory) as work:
        model_file = Path(work) / "model.keras"
        model.save(str(model_file))
        done = subprocess.run([sys.executable, "-c", _EXPORT_SCRIPT, str(model_file), str(directory), fmt, str(ema)],
                              env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(f"exporting {fmt} through TensorFlow (this process runs Keras on {backend}) failed: "
                           + (lines[-1] if lines else f"exit status {done.returncode}")
                           + f"\n{done.stderr[-3000:]}")
    return directory / ("saved_model" if fmt == "savedmodel" else "generator.tflite")


def _frozen_serving_module(model, use_ema=None):
    """The serving function with every variable folded into a constant, in a ``tf.Module``.

    The TFLite converter keeps the generator's (Keras 3) variables as resource variables
    that the interpreter never initialises (measured: the images came out as noise, and
    without the XNNPACK delegate READ_VARIABLE fails), so it gets a graph without variables.
    """
    import tensorflow as tf  # noqa: PLC0415
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2  # noqa: PLC0415

    serve = serving_function(model, use_ema)
    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    if model.conditional:
        def call(z, label):
            return {"images": frozen(z=z, label=label)[0]}
    else:
        def call(z):
            return {"images": frozen(z=z)[0]}
    module = tf.Module()
    module.serve = tf.function(call, input_signature=serve.input_signature)
    return module


def _to_tflite(model, work: Path, use_ema=None) -> bytes:
    import tensorflow as tf  # noqa: PLC0415

    module = _frozen_serving_module(model, use_ema)
    tf.saved_model.save(module, str(work), signatures={"serving_default": module.serve})
    converter = tf.lite.TFLiteConverter.from_saved_model(str(work), signature_keys=["serving_default"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        return converter.convert()
    except Exception as err:  # noqa: BLE001 - the converter raises ConverterError and others
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"TFLite conversion failed ({first}); an op of this generator has no TFLite "
                         "built-in kernel. Export --format savedmodel instead") from None
