"""Quality metrics as keras.metrics.Metric: streaming values equal the offline math in
ganzoo.evaluation.stats, and fit(validation_data=...) reports them through save/load."""

import io
import zipfile

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from ganzoo.builders import build_model, make_optimizers
from ganzoo.evaluation import keras_metrics as km
from ganzoo.evaluation import stats
from ganzoo.evaluation.classifier import build_classifier, load_classifier, save_classifier
from tests.helpers import tiny_config


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    """An untrained 28x28x1 classifier (random weights are a fine feature map for math tests)."""
    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("clf") / "tiny.keras"
    save_classifier(build_classifier((28, 28, 1), 10, width=4, feature_dim=8), {"dataset": "tiny"}, path)
    return load_classifier(str(path))


def _images(seed, n=60):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 28, 28, 1)).astype("float32")


#: float64 sums and Frechet math (TensorFlow; JAX with x64), or float32 (JAX's default).
FLOAT64 = km._state_dtype() == "float64"


def test_frechet_distance_tf_matches_scipy_reference():
    rng = np.random.default_rng(0)
    for n, dim in ((300, 6), (5, 12)):  # full-rank and rank-deficient covariances
        a = rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim))
        b = rng.normal(size=(n, dim)) * 1.5 + 0.3
        mu1, s1 = stats.activation_statistics(a)
        mu2, s2 = stats.activation_statistics(b)
        expected = stats.frechet_distance(mu1, s1, mu2, s2)
        got = float(km.frechet_distance_tf(mu1, s1, mu2, s2))
        assert expected > 1.0
        # float32 (JAX without x64), two float32 eigendecompositions: measured 1.2e-6 relative
        # (full rank), 9.5e-5 (rank-deficient: square roots of eigenvalues at float32 round-off).
        rel = 1e-6 if FLOAT64 else (1e-5 if n > dim else 1e-3)
        assert got == pytest.approx(expected, rel=rel, abs=1e-6)
        # Identical statistics: ~0 (rank-deficient sqrt round-off is ~1e-5, as in stats). float32,
        # relative to the trace: measured 8e-6 (full rank) and 5e-4 (rank-deficient).
        near_zero = (1e-8 if n > dim else 1e-4) if FLOAT64 else (1e-4 if n > dim else 2e-3) * float(np.trace(s1))
        assert abs(float(km.frechet_distance_tf(mu1, s1, mu1, s1))) < near_zero


def test_streaming_frechet_distance_equals_offline(tiny_classifier):
    real, fake = _images(1), np.clip(_images(2) * 0.5 + 0.4, -1, 1)
    metric = km.FrechetClassifierDistance(classifier=tiny_classifier)
    for i in range(0, 60, 16):  # uneven last batch
        metric.update_state(real[i:i + 16], fake[i:i + 16])
    f_real, _ = tiny_classifier.predict(real)
    f_fake, _ = tiny_classifier.predict(fake)
    expected = stats.frechet_distance_from_activations(f_real, f_fake)
    assert expected > 1e-3
    assert float(metric.result()) == pytest.approx(expected, rel=1e-4)
    metric.reset_state()
    metric.update_state(real, real)
    assert abs(float(metric.result())) < 1e-4 * expected


def test_streaming_kid_score_coverage_and_accuracy_equal_offline(tiny_classifier):
    real, fake = _images(3, 40), _images(4, 40) * 0.3
    f_real, _ = tiny_classifier.predict(real)
    f_fake, p_fake = tiny_classifier.predict(fake)
    labels = np.arange(40) % 10

    kid = km.KernelClassifierDistance(classifier=tiny_classifier)  # KID's estimator, classifier features
    kid.update_state(real, fake)
    expected_kid, _ = stats.kernel_inception_distance(f_real, f_fake, num_subsets=1, subset_size=40)
    assert float(kid.result()) == pytest.approx(expected_kid, rel=1e-4, abs=1e-7)

    score = km.ClassifierScore(classifier=tiny_classifier)
    coverage = km.ClassCoverage(classifier=tiny_classifier)
    accuracy = km.LabelAccuracy(classifier=tiny_classifier)
    for i in (0, 25):
        chunk = slice(i, i + 25)
        for m in (score, coverage, accuracy):
            m.update_state(real[chunk], fake[chunk], labels[chunk])
    assert float(score.result()) == pytest.approx(stats.classifier_score(p_fake, splits=1)[0], rel=1e-5)
    assert float(coverage.result()) == pytest.approx(stats.class_coverage(p_fake, 10)["coverage"], rel=1e-5)
    assert float(accuracy.result()) == pytest.approx(stats.label_accuracy(p_fake, labels))
    with pytest.raises(ValueError, match="conditional"):
        accuracy.update_state(real, fake)


def test_unknown_or_non_quality_metric_is_refused():
    with pytest.raises(ValueError, match="unknown quality metric 'fdc'"):
        km.get_quality_metrics(["fdc"])
    with pytest.raises(ValueError, match="ganzoo quality metrics"):
        km.get_quality_metrics([keras.metrics.Mean()])


def test_compile_never_trains_a_classifier(tmp_path, monkeypatch, tiny_classifier):
    """compile(metrics=["fcd"]) for a dataset without a shipped or cached domain classifier
    (CIFAR-10) is refused with how to build the metric object; nothing is trained. Metric
    objects built beforehand are taken as they are."""
    from ganzoo.evaluation import classifier as classifier_module

    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "empty_cache"))

    def no_training(*args, **kwargs):
        raise AssertionError("compile() started training a domain classifier")

    monkeypatch.setattr(classifier_module, "train_classifier", no_training)
    config = tiny_config("cgan_cifar10")
    model = build_model(config)
    g_opt, d_opt = make_optimizers(config)
    with pytest.raises(ValueError) as err:
        model.compile(g_optimizer=g_opt, d_optimizer=d_opt, jit_compile=False, metrics=["fcd", "coverage"])
    message = str(err.value)
    assert "compile(metrics=...)" in message and "'fcd'" in message and "tfds-cifar10" in message
    assert "ganzoo.zoo_eval.load_classifier(config)" in message and "FrechetClassifierDistance(classifier=clf)" in message
    assert not (tmp_path / "empty_cache").exists()

    # The objects: compile takes them (any classifier the user chose; here a tiny 28x28 one,
    # which compile does not second-guess), and keeps them.
    fcd = km.FrechetClassifierDistance(classifier=tiny_classifier)
    model.compile(g_optimizer=g_opt, d_optimizer=d_opt, jit_compile=False, metrics=[fcd])
    assert model.quality_metrics == [fcd]


def test_fit_reports_validation_quality_and_survives_save_load(tmp_path):
    config = tiny_config("cgan_mnist")
    model = build_model(config)
    g_opt, d_opt = make_optimizers(config)
    # Names resolve to the shipped MNIST classifier through the model's zoo_config.
    model.compile(g_optimizer=g_opt, d_optimizer=d_opt, jit_compile=False,
                  metrics=["fcd", "coverage", "label_accuracy"])
    x, y = _images(5, 16), (np.arange(16) % 10).astype("int32")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    history = model.fit(ds, validation_data=ds, epochs=1, verbose=0).history
    assert set(history) == {"d_loss", "g_loss", "val_fcd", "val_coverage", "val_label_accuracy"}
    for key in ("val_fcd", "val_coverage", "val_label_accuracy"):
        assert np.all(np.isfinite(history[key])), key
    assert history["val_fcd"][-1] > 0
    assert 0.0 <= history["val_coverage"][-1] <= 1.0

    # Every validation pass starts from zero: after fit's pass, evaluate() counts 16 images, not 32.
    first = model.evaluate(ds, return_dict=True, verbose=0)
    assert set(first) == {"fcd", "coverage", "label_accuracy"}
    accuracy = model.quality_metrics[2]
    assert float(accuracy.total.numpy()) == 16
    assert float(accuracy.result()) == pytest.approx(first["label_accuracy"])
    spec = model.get_compile_config()["metrics"]
    assert [m["config"]["classifier"] for m in spec] == ["mnist_classifier"] * 3

    path = tmp_path / "cgan.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    assert [m.name for m in again.quality_metrics] == ["fcd", "coverage", "label_accuracy"]
    assert int(again.g_optimizer.iterations.numpy()) == 2
    assert np.isfinite(again.evaluate(ds, return_dict=True, verbose=0)["fcd"])
    assert float(again.quality_metrics[2].total.numpy()) == 16
    # The classifier's weights are not copied into the GAN's file (its 256x128 features kernel).
    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5"))) as h5:
        shapes = []
        h5.visititems(lambda name, obj: shapes.append(obj.shape) if isinstance(obj, h5py.Dataset) else None)
    assert shapes and (256, 128) not in shapes and (3, 3, 64, 64) not in shapes
