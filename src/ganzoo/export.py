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

__all__ = ["FORMATS", "export_generator", "serving_function"]

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
