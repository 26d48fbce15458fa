"""Real data (slow): pggan_mnist grows to 32x32 and covers the ten digits.

Measure: the MNIST classifier that ships with ganzoo (``ganzoo/pretrained/
mnist_classifier.keras``, 99.1% test accuracy) classifies 1,000 samples (the centre 28x28 of
the padded 32x32 images). Coverage is the normalised entropy of the predicted-class
histogram (1 = every digit equally often; ``ganzoo.evaluation.class_coverage``); the
Frechet distance in the classifier's feature space to 2,000 real test digits (FCD) checks
the samples look like digits at all, since blurry blobs can also spread over many classes.

Budget: the pggan_mnist recipe with a shorter schedule and narrower networks (BUDGET below):
growth from 8x8 (8 -> 16 -> 32, the recipe starts at 4x4) with 3,000 images per fade-in and per
stabilisation instead of 20,000 (fully grown after 15,000 images), 16 channels instead of 32
(a step costs 0.085 s against 0.19 s on two quiet cores), 2,800 steps of 32 images = 89,600
images. The reference's optimizer reset at every new level of detail restarts Adam every ~94
steps while it grows. Coverage over training (EMA G, measured every 200 steps by the same
measure, 2026-11-28): seed 0: 0.68 0.85 0.80 0.84 0.82 0.84 0.91 0.90 0.91 0.92 0.94 0.94 0.95
0.93 0.95 at 200..3000 steps, FCD 219 -> 47 at 2,800; train.seed 1: 0.77 0.84 0.85 0.86 0.90 0.85
0.80 0.85 0.90 0.92 0.92 0.94 0.93 0.94 0.94, FCD 238 -> 55. Both curves cross 0.9 for good by
2,000 steps (seed 1 dips to 0.80 at 1,400, while it still learns 32x32), so the test trains 800
steps past that and asserts the bar at 2,800, where both read 0.93-0.94. (With 32 channels, the
previous budget, 2,400 steps reached 0.94-0.98 at 2.2x the cost.) Skipped without real MNIST
(../shared/tfds or TFDS_DATA_DIR) outside CI.
"""

import numpy as np
import pytest

import ganzoo
from ganzoo.builders import build_model, compile_model
from tests.helpers import shared_tfds_dir

pytestmark = [pytest.mark.slow, pytest.mark.longest]  # starts first; the other worker runs the rest

BUDGET = {"model.latent_dim": 64, "generator.filters": 16, "discriminator.filters": 16, "model.start_resolution": 8,
          "model.fade_images": 3000, "model.stabilize_images": 3000, "model.ema_decay": 0.99,
          "train.batch_size": 32}
STEPS = 2800


def _scores(model, classifier, real_features):
    from ganzoo.evaluation import class_coverage, frechet_distance_from_activations

    samples = model.generate(1000, seed=123)[:, 2:30, 2:30, :]
    features, probs = classifier.predict(samples)
    return class_coverage(probs, 10)["coverage"], float(frechet_distance_from_activations(features, real_features))


def test_pggan_mnist_grows_and_covers_the_digits():
    data_dir = shared_tfds_dir()
    if data_dir is None:
        pytest.skip("real MNIST not found (../shared/tfds or TFDS_DATA_DIR)")
    from ganzoo.evaluation.classifier import load_classifier

    classifier = load_classifier("mnist_classifier")
    real = ganzoo.load_dataset("dcgan_mnist", split="test", batch_size=2000, shuffle=False, limit=2000,
                               data_dir=data_dir)
    real_features, _ = classifier.predict(next(iter(real)).numpy())

    config = ganzoo.get_config("pggan_mnist", **BUDGET)
    model = build_model(config)
    compile_model(model, config)
    coverage0, fcd0 = _scores(model, classifier, real_features)
    model.fit(ganzoo.load_dataset(config, data_dir=data_dir, repeat=True), epochs=1, steps_per_epoch=STEPS,
              verbose=0)
    coverage1, fcd1 = _scores(model, classifier, real_features)
    print(f"\npggan_mnist: coverage {coverage0:.3f} -> {coverage1:.3f}, FCD {fcd0:.1f} -> {fcd1:.1f} after "
          f"{int(model.images_seen.numpy())} images (phase {int(model.phase.numpy())})")
    assert int(model.phase.numpy()) == model.num_phases - 1, "the model did not grow to 32x32"
    assert coverage0 < 0.9, "an untrained generator should not already cover the digits"
    assert coverage1 >= 0.9, f"coverage {coverage1:.3f} < 0.9 after {STEPS} steps"
    assert fcd1 < 0.5 * fcd0, f"samples did not move towards real digits: FCD {fcd0:.1f} -> {fcd1:.1f}"
