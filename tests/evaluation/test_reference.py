"""Reference statistics of a dataset split are computed once and cached under a key that names
dataset, split, resolution, extractor and sample count."""

import numpy as np
import tensorflow_datasets as tfds

from ganzoo.config import DataConfig
from ganzoo.evaluation import stats
from ganzoo.evaluation.features import FeatureExtractor
from ganzoo.evaluation.paths import cache_dir, dataset_key
from ganzoo.evaluation.real import ArrayData
from ganzoo.evaluation.reference import reference_path
from ganzoo.zoo_eval import real_batches, reference_statistics
from tests.helpers import tiny_config


class PooledPixels(FeatureExtractor):
    """4x4 average-pooled pixels as features; counts the images it sees."""

    def __init__(self, name="pooled-4x4", cacheable=True):
        self.name, self.cacheable, self.seen = name, cacheable, 0

    def predict_batch(self, images):
        images = np.asarray(images, np.float32)
        self.seen += len(images)
        n, h, w, c = images.shape
        pooled = images[:, : h // 4 * 4, : w // 4 * 4].reshape(n, h // 4, 4, w // 4, 4, c).mean(axis=(2, 4))
        return pooled.reshape(n, -1), None


def test_second_call_reuses_the_file(tmp_path):
    config = tiny_config("dcgan_mnist")
    extractor = PooledPixels()
    with tfds.testing.mock_data(num_examples=40):
        first = reference_statistics(config, extractor, "train", cache=tmp_path, keep=25, batch_size=16)
        assert extractor.seen == 40 and not first["cached"] and first["count"] == 40
        path = reference_path(config, "train", extractor, None, tmp_path)
        assert first["path"] == str(path) and path.is_file()
        assert path.name == "tfds-mnist-28x28x1-train-pooled-4x4-nall.npz"

        second = reference_statistics(config, extractor, "train", cache=tmp_path, keep=25, batch_size=16)
        assert extractor.seen == 40, "the extractor ran again instead of reading the cache"
        assert second["cached"]
        np.testing.assert_array_equal(second["mu"], first["mu"])
        np.testing.assert_array_equal(second["sigma"], first["sigma"])
        np.testing.assert_array_equal(second["features"], first["features"])
        assert second["features"].shape == (25, 49)  # a kept subset for KID / precision-recall

        # The statistics are those of all 40 images, not of the kept subset.
        everything = np.concatenate([extractor.predict_batch(b)[0] for b in real_batches(config, "train")])
        mu, sigma = stats.activation_statistics(everything)
        np.testing.assert_allclose(first["mu"], mu, rtol=1e-6)
        np.testing.assert_allclose(first["sigma"], sigma, rtol=1e-6, atol=1e-9)

        # Every part of the key gets its own file: split, sample count, extractor.
        seen = extractor.seen
        other = reference_statistics(config, extractor, "test", cache=tmp_path, batch_size=16)
        assert not other["cached"] and extractor.seen > seen
        sub = reference_statistics(config, extractor, "train", n=10, cache=tmp_path, batch_size=16)
        assert sub["count"] == 10 and sub["path"].endswith("-n10.npz")
        renamed = reference_statistics(config, PooledPixels(name="pooled-v2"), "train", cache=tmp_path)
        assert not renamed["cached"]
        refreshed = reference_statistics(config, extractor, "train", cache=tmp_path, refresh=True)
        assert not refreshed["cached"]
    assert len(list((tmp_path / "reference").glob("*.npz"))) == 4


def test_non_reproducible_extractors_are_never_cached(tmp_path):
    config = tiny_config("dcgan_mnist")
    extractor = PooledPixels(cacheable=False)
    with tfds.testing.mock_data(num_examples=20):
        reference_statistics(config, extractor, "train", cache=tmp_path)
        reference_statistics(config, extractor, "train", cache=tmp_path)
    assert extractor.seen == 40
    assert not (tmp_path / "reference").exists()


def test_dataset_key_names_resolution_crop_and_folder(tmp_path, monkeypatch):
    assert dataset_key(DataConfig(name="mnist", image_size=28, channels=1)) == "tfds-mnist-28x28x1"
    assert dataset_key(DataConfig(name="celeb_a", image_size=64, channels=3, crop=140)) == "tfds-celeb_a-crop140-64x64x3"
    assert dataset_key(DataConfig(name="mnist", image_size=32, channels=1, pad=2)) == "tfds-mnist-32x32x1-pad2"
    a = dataset_key(DataConfig(source="folder", path=str(tmp_path / "a" / "faces"), image_size=32, channels=3))
    b = dataset_key(DataConfig(source="folder", path=str(tmp_path / "b" / "faces"), image_size=32, channels=3))
    assert a.startswith("folder-faces-") and a != b
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("GANZOO_CACHE_DIR")
    assert str(cache_dir()).endswith(".cache/ganzoo")


def test_reference_statistics_of_arrays_need_no_config(tmp_path):
    """evaluation's reference_statistics takes a RealData (here arrays) and caches under its key."""
    from ganzoo.evaluation.reference import reference_statistics as reference_of

    images = np.random.default_rng(0).uniform(-1, 1, (30, 8, 8, 1)).astype(np.float32)
    real = ArrayData({"train": images}, key="noise-8x8x1")
    extractor = PooledPixels()
    first = reference_of(real, extractor, "train", cache=tmp_path, batch_size=7)
    assert first["path"].endswith("noise-8x8x1-train-pooled-4x4-nall.npz") and first["count"] == 30
    mu, sigma = stats.activation_statistics(extractor.predict_batch(images)[0])
    np.testing.assert_allclose(first["mu"], mu, rtol=1e-6)
    np.testing.assert_allclose(first["sigma"], sigma, rtol=1e-6, atol=1e-9)
    assert reference_of(real, extractor, "train", cache=tmp_path)["cached"]
    assert reference_of(real, extractor, "train", n=10, cache=tmp_path)["count"] == 10
