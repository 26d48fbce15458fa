"""Inception-V3 features: the protocol's preprocessing runs (random weights, tiny inputs), and
missing ImageNet weights fail at once with instructions instead of a download attempt."""

import socket

import keras
import numpy as np
import pytest

from ganzoo.cli import main
from ganzoo.evaluation import features
from ganzoo.evaluation.features import (
    INCEPTION_FILES,
    InceptionExtractor,
    InceptionWeightsError,
    resolve_inception_weights,
)


@pytest.fixture
def no_keras_cache(tmp_path, monkeypatch):
    """Keras' model cache is an empty folder; no env path; any real InceptionV3 build is an error."""
    monkeypatch.setattr(features, "_keras_models_dirs", lambda: [tmp_path / "models"])
    monkeypatch.delenv(features.INCEPTION_WEIGHTS_ENV, raising=False)
    return tmp_path / "models"


def test_inception_pool3_and_probabilities_on_tiny_grayscale_inputs():
    keras.utils.set_random_seed(0)
    extractor = InceptionExtractor(weights=None, resize=299, logits=True)
    gray = np.random.default_rng(0).uniform(-1, 1, (2, 28, 28, 1)).astype("float32")
    feats, probs = extractor.predict(gray, batch_size=2)
    assert feats.shape == (2, 2048) and probs.shape == (2, 1000)
    assert np.all(feats >= 0) and feats.std() > 0  # post-ReLU average pool
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert extractor.name == "inception_v3-random-pool3-299px"
    assert not extractor.cacheable  # random weights never key a reference file
    assert extractor.model.get_layer("avg_pool").output.shape[-1] == 2048


def test_preprocessing_is_bilinear_299_and_gray_to_rgb():
    extractor = InceptionExtractor.__new__(InceptionExtractor)  # preprocessing only, no network
    extractor.resize = 299
    gray = np.random.default_rng(1).uniform(-1, 1, (2, 28, 28, 1)).astype("float32")
    out = np.asarray(extractor.preprocess(gray))
    assert out.shape == (2, 299, 299, 3)
    np.testing.assert_array_equal(out[..., 0], out[..., 2])  # grayscale repeated to 3 channels
    np.testing.assert_allclose(out, np.asarray(extractor.preprocess(np.repeat(gray, 3, axis=-1))), atol=1e-6)
    # Bilinear (half-pixel centres, no antialiasing): constant stays constant, range stays [-1, 1].
    np.testing.assert_allclose(np.asarray(extractor.preprocess(np.full((1, 28, 28, 1), 0.25, "float32"))), 0.25,
                               atol=1e-6)
    assert out.min() >= -1.0 - 1e-6 and out.max() <= 1.0 + 1e-6
    ramp = np.tile(np.linspace(-1, 1, 28, dtype="float32"), (28, 1))[None, :, :, None]
    row = np.asarray(extractor.preprocess(ramp))[0, 0, :, 0]
    assert np.all(np.diff(row) >= -1e-6) and len(np.unique(np.round(row, 5))) > 250  # interpolated, not nearest
    with pytest.raises(ValueError, match="75x75"):
        InceptionExtractor(weights=None, resize=32)


def test_preprocessing_is_tensorflows_bilinear_on_every_backend():
    """The Inception preprocessing runs in keras.ops (inside a JAX test_step too) and is, on
    either backend, the TTUR/TensorFlow resize the reference statistics were computed with
    (``tf.image.resize`` bilinear, half-pixel centres, no antialiasing)."""
    import tensorflow as tf

    extractor = InceptionExtractor.__new__(InceptionExtractor)
    extractor.resize = 299
    images = np.random.default_rng(2).uniform(-1, 1, (2, 28, 28, 3)).astype("float32")
    expected = tf.image.resize(images, (299, 299), method="bilinear", antialias=False).numpy()
    np.testing.assert_allclose(np.asarray(extractor.preprocess(images)), expected, atol=1e-5)


def test_missing_weights_fail_at_once_with_instructions(no_keras_cache, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("InceptionV3 must not be built (Keras would try to download)")

    attempts = []  # "at once": no download and no connection is even tried (a time bound would depend on the CPU)

    def record(*args, **kwargs):
        attempts.append(args)
        raise OSError("no network in tests")

    monkeypatch.setattr(keras.applications, "InceptionV3", forbidden)
    monkeypatch.setattr(keras.utils, "get_file", record)
    monkeypatch.setattr(socket, "create_connection", record)
    with pytest.raises(InceptionWeightsError) as err:
        InceptionExtractor(weights="imagenet")
    assert attempts == []
    message = str(err.value)
    assert INCEPTION_FILES[True][0] in message and str(no_keras_cache) in message
    assert "--inception-weights PATH" in message and features.INCEPTION_WEIGHTS_ENV in message
    assert "GANZOO_OFFLINE" in message


def test_weights_found_in_keras_cache_env_or_path(no_keras_cache, tmp_path, monkeypatch):
    no_keras_cache.mkdir()
    (no_keras_cache / INCEPTION_FILES[False][0]).write_bytes(b"")
    # Only the no-top file is cached: enough for FID, not for IS.
    assert resolve_inception_weights("imagenet", include_top=False) == "imagenet"
    with pytest.raises(InceptionWeightsError):
        resolve_inception_weights("imagenet", include_top=True)
    # Only the full file: serves the features-only extractor too (it builds with the top).
    (no_keras_cache / INCEPTION_FILES[False][0]).unlink()
    (no_keras_cache / INCEPTION_FILES[True][0]).write_bytes(b"")
    built = {}

    def record(**kwargs):
        built.update(kwargs)
        raise RuntimeError("stop after the weights decision")

    monkeypatch.setattr(keras.applications, "InceptionV3", record)
    with pytest.raises(RuntimeError, match="stop after"):
        InceptionExtractor(weights="imagenet", logits=False)
    assert built["include_top"] is True and built["weights"] == "imagenet"
    local = tmp_path / "inception.h5"
    local.write_bytes(b"")
    assert resolve_inception_weights(str(local)) == str(local)
    monkeypatch.setenv(features.INCEPTION_WEIGHTS_ENV, str(local))
    assert resolve_inception_weights("imagenet") == str(local)
    monkeypatch.setenv(features.INCEPTION_WEIGHTS_ENV, str(tmp_path / "missing.h5"))
    with pytest.raises(InceptionWeightsError, match="missing.h5"):
        resolve_inception_weights("imagenet")
    with pytest.raises(InceptionWeightsError, match="not a file"):
        resolve_inception_weights(str(tmp_path / "nope.h5"))
    assert resolve_inception_weights(None) is None


def test_cli_reports_missing_weights_in_one_line(no_keras_cache, capsys, tmp_path, monkeypatch):
    """The default network is the 2015 FID Inception; Keras' InceptionV3 only when asked. Each
    missing set of weights is a user error naming its own file."""
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANZOO_FID_WEIGHTS", raising=False)
    code = main(["eval", "real:mnist:test", "--metrics", "fid", "-n", "10"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("ganzoo eval: error: the FID Inception weights")
    assert "pt_inception-2015-12-05-6726825d.pth" in err and "Traceback" not in err
    code = main(["eval", "real:mnist:test", "--metrics", "fid", "-n", "10", "--inception", "keras"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("ganzoo eval: error: the Inception-V3 ImageNet weights")
    assert "Traceback" not in err
    assert main(["eval", "real:mnist:test", "--metrics", "fid", "--inception-weights", "x.h5"]) == 2
    assert "add --inception keras" in capsys.readouterr().err
