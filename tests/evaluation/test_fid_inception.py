"""The 2015 FID Inception in Keras against pytorch-fid's own network (random weights).

pytorch-fid's ``InceptionV3`` runs in a separate process (``pytorch_fid_reference.py``: PyTorch
and TensorFlow in one process crash on import here) on the same uint8 images, with a random
state dict that it saves as a ``.pth``; ganzoo converts that file with its PyTorch-free reader
and must reproduce every block's output, the pool3 features and the logits (the issue's bar:
pool3 within 1e-4 relative), at 299x299 and through the protocol's resize from 64x64.

PyTorch, torchvision and pytorch-fid are test dependencies (setup.cfg's ``test`` extra). Outside
CI the tests skip when they are missing; in CI they must run.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ganzoo.evaluation import fid_inception, fid_weights, torch_file

REFERENCE_SCRIPT = Path(__file__).with_name("pytorch_fid_reference.py")
#: The issue's bar for pool3, and the one every block is held to (measured: <= 4e-6).
RELATIVE_TOLERANCE = 1e-4


def _reference_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "torchvision", "pytorch_fid"))


def _relative_error(ours, theirs) -> float:
    return float(np.abs(np.asarray(ours, np.float64) - theirs).max() / np.abs(theirs).max())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """pytorch-fid's activations on random uint8 images at 299 and 64 pixels, and its random .pth
    (zip format) plus the same state dict in PyTorch's legacy format."""
    if not _reference_available():
        if os.environ.get("CI"):
            pytest.fail("CI needs torch, torchvision and pytorch-fid (setup.cfg test extra) for the FID equivalence")
        pytest.skip("torch / torchvision / pytorch-fid not installed (pip install -e .[test])")
    root = tmp_path_factory.mktemp("pytorch_fid")
    rng = np.random.default_rng(0)
    # smooth-ish images (a random field, upsampled) so that resize differences would show
    coarse = rng.integers(0, 256, (2, 16, 16, 3)).astype(np.float64)
    smooth64 = np.clip(np.kron(coarse, np.ones((1, 4, 4, 1))) + rng.normal(0, 20, (2, 64, 64, 3)), 0, 255)
    images = {"images_299": rng.integers(0, 256, (2, 299, 299, 3), dtype=np.uint8),
              "images_64": np.round(smooth64).astype(np.uint8)}
    np.savez(root / "images.npz", **images)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    for args, out in (([], root / "zip"), (["--legacy-format"], root / "legacy")):
        run = subprocess.run([sys.executable, str(REFERENCE_SCRIPT), str(root / "images.npz"), str(out), *args],
                             capture_output=True, text=True, env=env, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
    with np.load(root / "zip" / "activations.npz") as f:
        activations = {k: f[k] for k in f.files}
    return {"root": root, "images": images, "activations": activations,
            "pth": root / "zip" / "pt_inception-random.pth", "legacy_pth": root / "legacy" / "pt_inception-random.pth"}


@pytest.fixture(scope="module")
def converted(reference, tmp_path_factory):
    """ganzoo's conversion of the random .pth (unchecked: it is not the standard file)."""
    return fid_weights.convert_pth(reference["pth"], tmp_path_factory.mktemp("fid") / "random.weights.h5", check=False)


def test_torch_file_reads_both_pytorch_formats(reference):
    zipped = torch_file.load_state_dict(reference["pth"])
    legacy = torch_file.load_state_dict(reference["legacy_pth"])
    assert list(zipped) == list(legacy) and len(zipped) == 566
    for key, value in zipped.items():
        np.testing.assert_array_equal(value, legacy[key], err_msg=key)
    assert zipped["Mixed_7c.branch_pool.conv.weight"].shape == (192, 2048, 1, 1)
    assert zipped["fc.weight"].dtype == np.float32 and zipped["Conv2d_1a_3x3.bn.num_batches_tracked"].dtype == np.int64
    assert float(np.abs(zipped["Mixed_5b.branch1x1.bn.running_var"] - 1).max()) > 0.1  # really random


def test_every_block_matches_pytorch_fid_at_299(reference, converted):
    """Layer by layer: the 19 blocks, pool3 and the logits (with and without the fc bias)."""
    model = fid_inception.build_fid_inception(outputs=fid_inception.BLOCKS + ("logits",))
    model.load_weights(str(converted))
    images = reference["images"]["images_299"].astype(np.float32) / 127.5 - 1.0
    outputs = model.predict(images, verbose=0, batch_size=2)
    acts = reference["activations"]
    errors = {name: _relative_error(out, acts[f"299/{name}"])
              for name, out in zip(fid_inception.BLOCKS + ("logits",), outputs)}
    assert max(errors.values()) < RELATIVE_TOLERANCE, errors
    assert errors["avgpool"] < RELATIVE_TOLERANCE  # pool3


@pytest.mark.both_backends
def test_extractor_matches_pytorch_fid_through_its_resize(reference, converted):
    """64x64 uint8 images given as ganzoo floats in [-1, 1]: quantised, resized bilinearly to
    299 and normalised as pytorch-fid does; pool3 and the IS probabilities match."""
    from ganzoo.evaluation.fid_extractor import FIDInceptionExtractor

    extractor = FIDInceptionExtractor(weights=converted, check=False)
    uint8 = reference["images"]["images_64"]
    floats = uint8.astype(np.float32) / 127.5 - 1.0
    features, probs = extractor.predict_batch(floats)
    acts = reference["activations"]
    assert _relative_error(features, acts["64/avgpool"]) < RELATIVE_TOLERANCE
    logits = acts["64/logits_unbiased"].astype(np.float64)
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    # and at 299, where pytorch-fid's resize is the identity
    features299, _ = extractor.predict_batch(reference["images"]["images_299"].astype(np.float32) / 127.5 - 1.0)
    assert _relative_error(features299, acts["299/avgpool"]) < RELATIVE_TOLERANCE


def test_a_changed_quirk_is_caught(reference, converted, monkeypatch):
    """The comparison can fail: the same weights in a network whose Mixed_7c pools with an
    average (torchvision's Inception) miss pool3 by far more than the tolerance."""
    monkeypatch.setattr(fid_inception, "_block_e", _block_e_average_everywhere(fid_inception._block_e))
    model = fid_inception.build_fid_inception(outputs=("pool3",))
    model.load_weights(str(converted))
    features = model.predict(reference["images"]["images_299"].astype(np.float32) / 127.5 - 1.0, verbose=0)
    assert _relative_error(features, reference["activations"]["299/avgpool"]) > 100 * RELATIVE_TOLERANCE


def _block_e_average_everywhere(original):
    def block_e(x, name, max_pool):
        return original(x, name, max_pool=False)
    return block_e


def test_quantisation_is_part_of_the_protocol(reference, converted):
    """A generated image off the uint8 grid is scored as the PNG it would be saved as."""
    from ganzoo.evaluation.fid_extractor import FIDInceptionExtractor

    extractor = FIDInceptionExtractor(weights=converted, check=False)
    uint8 = reference["images"]["images_64"][:1]
    exact = uint8.astype(np.float32) / 127.5 - 1.0
    jitter = np.random.default_rng(1).uniform(-0.49, 0.49, exact.shape).astype(np.float32) / 127.5
    same, _ = extractor.predict_batch(exact + jitter)
    base, _ = extractor.predict_batch(exact)
    np.testing.assert_array_equal(same, base)
    unquantised = FIDInceptionExtractor(weights=converted, check=False, quantise=False)
    moved, _ = unquantised.predict_batch(exact + jitter)
    assert np.abs(moved - base).max() > 1e-4


def test_the_random_file_is_refused_as_the_standard_one(reference, tmp_path):
    """A .pth whose SHA-256 does not start with 6726825d is not pytorch-fid's file: refused by
    default, with the address of the right one."""
    with pytest.raises(fid_weights.FIDWeightsError, match="6726825d.*pt_inception-2015-12-05-6726825d.pth"):
        fid_weights.resolve_fid_weights(reference["pth"], cache=tmp_path)
    assert not list(tmp_path.rglob("*.weights.h5"))  # nothing converted


def test_standard_file_is_converted_once_into_the_cache(reference, tmp_path, monkeypatch):
    """Treat the random file as the standard one (patched published SHA-256): it is converted into the
    cache under the standard name, found there next time without converting again, and the
    extractor's card names its SHA-256."""
    from ganzoo.evaluation.fid_extractor import FIDInceptionExtractor
    from ganzoo.evaluation.paths import sha256_file

    sha = sha256_file(reference["pth"])
    monkeypatch.setattr(fid_weights, "PTH_SHA256", sha)
    cache = tmp_path / "cache"
    first = fid_weights.resolve_fid_weights(reference["pth"], cache=cache)
    assert first == cache / "weights" / fid_weights.KERAS_NAME
    stamp = first.stat().st_mtime_ns
    assert fid_weights.resolve_fid_weights(reference["pth"], cache=cache) == first
    assert first.stat().st_mtime_ns == stamp  # not converted again
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    assert fid_weights.resolve_fid_weights(None, cache=cache) == first  # found in the cache
    extractor = FIDInceptionExtractor(cache=cache)
    card = extractor.card()
    assert card["weights_sha256"] == sha and card["standard_weights"]
    assert card["resize"] == "bilinear to 299x299" and card["normalise"] == "x/127.5 - 1"
    assert sha[:12] in extractor.name and "pytorch-fid" in extractor.name


def test_a_damaged_converted_file_is_refused(converted, tmp_path):
    import h5py

    damaged = tmp_path / "damaged.weights.h5"
    damaged.write_bytes(converted.read_bytes())
    with h5py.File(damaged, "a") as f:
        f.attrs["ganzoo_fid_weights_digest"] = "0" * 64
    from ganzoo.evaluation.fid_extractor import FIDInceptionExtractor

    with pytest.raises(fid_weights.FIDWeightsError, match="digest"):
        FIDInceptionExtractor(weights=damaged, check=False)
    with pytest.raises(fid_weights.FIDWeightsError, match="not converted from pytorch-fid"):
        FIDInceptionExtractor(weights=converted)  # check=True: the random source is not the standard file


def test_download_goes_to_the_standard_address_then_is_checked_and_converted(reference, tmp_path, monkeypatch):
    """With a network (here a stand-in for keras.utils.get_file), the .pth comes from
    pytorch-fid's release address into the cache, then the same checks and conversion apply."""
    import shutil

    import keras

    from ganzoo.evaluation.paths import sha256_file

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(fid_weights.FID_WEIGHTS_ENV, raising=False)
    asked = []

    def fake_get_file(fname, origin, cache_dir, cache_subdir):
        asked.append(origin)
        target = Path(cache_dir) / cache_subdir / fname
        shutil.copyfile(reference["pth"], target)
        return str(target)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    with pytest.raises(fid_weights.FIDWeightsError, match="is not 6726825d0af5"):  # the random file is not it
        fid_weights.resolve_fid_weights(None, cache=tmp_path / "cache", download=True)
    assert asked == [fid_weights.PTH_URL]
    monkeypatch.setattr(fid_weights, "PTH_SHA256", sha256_file(reference["pth"]))
    path = fid_weights.resolve_fid_weights(None, cache=tmp_path / "cache2", download=True)
    assert path == tmp_path / "cache2" / "weights" / fid_weights.KERAS_NAME

    def failing_get_file(*args, **kwargs):
        raise OSError("no route to host")

    monkeypatch.setattr(keras.utils, "get_file", failing_get_file)
    with pytest.raises(fid_weights.FIDWeightsError, match="the download failed .no route to host"):
        fid_weights.resolve_fid_weights(None, cache=tmp_path / "cache3", download=True)
