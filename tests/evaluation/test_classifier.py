"""The shipped MNIST classifier judges real digits correctly, and the classifier metrics see
mode collapse: one-class "generators" get coverage near 0, faithful ones near 1."""

import json

import numpy as np
import pytest
import tensorflow_datasets as tfds

import ganzoo
from ganzoo.config import DataConfig
from ganzoo.evaluation import classifier as classifier_module
from ganzoo.evaluation.classifier import PRETRAINED_DIR, load_classifier
from ganzoo.evaluation.paths import sha256_file
from ganzoo.evaluation.real import ArrayData
from ganzoo.zoo_eval import evaluate, real_batches
from ganzoo.zoo_eval import load_classifier as load_entry_classifier
from tests.helpers import shared_tfds_dir

needs_mnist = pytest.mark.skipif(shared_tfds_dir() is None, reason="real MNIST (../shared/tfds) is not available")


def test_shipped_classifier_metadata_matches_the_file():
    path = PRETRAINED_DIR / "mnist_classifier.keras"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["sha256"] == sha256_file(path)
    assert meta["dataset"] == "tfds-mnist-28x28x1" and meta["train_split"] == "train"
    assert meta["test_accuracy"] >= 0.99 and meta["test_examples"] == 10000
    assert path.stat().st_size < 600_000
    clf = load_entry_classifier("cgan_mnist")
    assert clf.name == f"classifier-tfds-mnist-28x28x1-{meta['sha256'][:12]}"
    assert load_classifier("mnist_classifier") is clf  # the shipped file, from evaluation alone
    assert clf.spec == "mnist_classifier" and clf.num_classes == 10 and clf.feature_dim == 128


def test_corrupt_classifier_is_refused(tmp_path):
    from ganzoo.evaluation.classifier import build_classifier, save_classifier

    path = tmp_path / "c.keras"
    save_classifier(build_classifier((28, 28, 1), 3, width=4, feature_dim=4), {"dataset": "x"}, path)
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["sha256"] = "0" * 64
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="sha256"):
        load_classifier(str(path))


@pytest.fixture(scope="module")
def mnist_test():
    """The first 2,000 real MNIST test images and labels."""
    if shared_tfds_dir() is None:
        pytest.skip("real MNIST (../shared/tfds) is not available")
    config = ganzoo.get_config("cgan_mnist")
    images, labels = zip(*real_batches(config, "test", 2000, 500, shared_tfds_dir(), with_labels=True))
    return np.concatenate(images), np.concatenate(labels)


class ReplayGenerator:
    """A stand-in for a conditional ganzoo model that "generates" given real images: either the
    image of the asked class (a perfect generator) or always digit 1 (total mode collapse)."""

    conditional, num_classes, name = True, 10, "replay"

    def __init__(self, images, labels, only=None):
        self.by_class = {c: images[labels == c] for c in range(10)}
        self.only = only
        self.zoo_config = ganzoo.get_config("cgan_mnist").to_dict()

    def resolve_labels(self, n, labels):
        return np.arange(n) % 10 if labels is None else np.resize(np.asarray(labels), n)

    def latents(self, n, seed=None, truncation=None):
        return np.arange(n, dtype=np.float32)[:, None]

    def generate_from_latents(self, z, labels, batch_size=256, use_ema=None):  # a model's signature
        out = []
        for i, c in zip(z[:, 0].astype(int), labels):
            pool = self.by_class[self.only if self.only is not None else int(c)]
            out.append(pool[i % len(pool)])
        return np.stack(out)


@needs_mnist
def test_coverage_and_label_accuracy_see_mode_collapse(mnist_test, tmp_path):
    images, labels = mnist_test
    kwargs = dict(metrics=["fcd", "coverage", "label_accuracy", "cs"], n=1000, ref_samples=2000,
                  data_dir=shared_tfds_dir(), cache=tmp_path)
    perfect = evaluate(ReplayGenerator(images, labels), **kwargs)["metrics"]
    collapsed = evaluate(ReplayGenerator(images, labels, only=1), **kwargs)
    bad = collapsed["metrics"]
    assert perfect["coverage"] > 0.99 and perfect["label_accuracy"] > 0.98
    assert perfect["cs"] > 9.0  # ~confident and balanced over 10 classes
    assert bad["coverage"] < 0.05
    assert bad["label_accuracy"] == pytest.approx(0.1, abs=0.01)  # right only when asked for a 1
    assert bad["cs"] < 1.2
    assert collapsed["details"]["class_histogram"][1] > 990
    assert bad["fcd"] > 10 * perfect["fcd"]
    assert collapsed["protocol"]["reference"]["classifier"]["reused"]  # computed by the first call


@needs_mnist
def test_real_test_images_are_classified_correctly(mnist_test):
    images, labels = mnist_test
    _, probs = load_classifier("mnist_classifier").predict(images)
    accuracy = float(np.mean(np.argmax(probs, axis=1) == labels))
    assert accuracy > 0.985


def test_other_datasets_get_a_trained_and_cached_classifier(tmp_path, monkeypatch):
    data = DataConfig(name="fashion_mnist", image_size=28, channels=1)
    with tfds.testing.mock_data(num_examples=64):
        clf = load_entry_classifier(data, cache=tmp_path, verbose=0,
                                    recipe={"epochs": 1, "steps_per_epoch": 1, "batch_size": 16})
    path = tmp_path / "classifiers" / "tfds-fashion_mnist-28x28x1.keras"
    assert clf.path == path and path.is_file() and path.with_suffix(".json").is_file()
    assert clf.num_classes == 10 and clf.metadata["test_accuracy"] is not None

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier should have been loaded")

    monkeypatch.setattr(classifier_module, "train_classifier", no_training)
    again = load_classifier(data, cache=tmp_path)  # a cached one: evaluation alone finds it from the description
    assert again.name == clf.name
    with pytest.raises(FileNotFoundError, match="no domain classifier"):
        load_classifier(DataConfig(name="kmnist", image_size=28, channels=1), cache=tmp_path, train=False)


def test_padded_mnist_is_judged_by_the_shipped_classifier_without_its_border():
    clf = load_classifier(DataConfig(name="mnist", image_size=32, channels=1, pad=2))
    plain = load_classifier("mnist_classifier")
    assert clf.image_shape == (32, 32, 1) and clf.spec == "mnist_classifier@pad2"
    assert clf.name == plain.name + "-unpad2"
    x = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=-1.0)
    np.testing.assert_allclose(clf.predict(padded)[0], plain.predict(x)[0], rtol=1e-5, atol=1e-6)
    assert load_classifier(clf.spec).name == clf.name  # the spec round-trips (Keras metric configs)


@needs_mnist
def test_evaluation_takes_arrays_without_a_config(mnist_test, tmp_path):
    """``ganzoo.evaluation.evaluate.evaluate`` on an ArrayData: no config, registry or data loader;
    the same images as the zoo join's reference give the same FCD."""
    from ganzoo.evaluation.evaluate import evaluate as evaluate_on

    images, labels = mnist_test
    generator = ReplayGenerator(images, labels)
    del generator.zoo_config  # nothing to find a dataset by: the RealData is all evaluation knows
    real = ArrayData({"train": (images, labels)}, key="first-2000-mnist-test")
    kwargs = dict(metrics=["fcd", "coverage"], n=500, cache=tmp_path, classifier=load_classifier("mnist_classifier"))
    ours = evaluate_on(generator, data=real, **kwargs)
    assert ours["protocol"]["dataset"] == "first-2000-mnist-test"
    assert ours["protocol"]["resolution"] == [28, 28, 1] and ours["protocol"]["reference"]["classifier"]["count"] == 2000
    assert ours["metrics"]["coverage"] > 0.99 and ours["metrics"]["fcd"] < 5
    # the zoo join over the same 2,000 images (cgan_mnist's test split, first 2,000) agrees
    joined = evaluate(ReplayGenerator(images, labels), ref_split="test", ref_samples=2000,
                      data_dir=shared_tfds_dir(), **kwargs)
    assert joined["metrics"]["fcd"] == pytest.approx(ours["metrics"]["fcd"], rel=1e-6)
    assert joined["metrics"]["coverage"] == ours["metrics"]["coverage"]


def test_config_taking_forms_in_evaluation_warn_and_forward(tmp_path):
    """The 0.1 forms that took an entry or a config still work from their old homes, with a
    DeprecationWarning naming the new one (ganzoo.zoo_eval)."""
    from ganzoo.evaluation import evaluate as evaluate_module

    with pytest.warns(DeprecationWarning, match="ganzoo.zoo_eval.load_classifier"):
        clf = load_classifier("cgan_mnist")
    assert clf is load_classifier("mnist_classifier")
    with pytest.warns(DeprecationWarning, match="ganzoo.zoo_eval.classifier_path"):
        assert classifier_module.classifier_path("cgan_mnist") == PRETRAINED_DIR / "mnist_classifier.keras"
    with pytest.warns(DeprecationWarning, match="ganzoo.zoo_eval.parse_real_source"):
        config, split = evaluate_module.parse_real_source("real:mnist:test")
    assert config.data.name == "mnist" and split == "test"
    with pytest.warns(DeprecationWarning, match="ganzoo.zoo_eval.evaluate"):
        with pytest.raises(ValueError, match="carries no ganzoo config"):
            evaluate_module.evaluate(type("Bare", (), {"name": "bare", "zoo_config": None})(), ["fcd"], 4)
