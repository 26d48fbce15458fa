"""TensorFlow and JAX run the same train_step: GAN and ConditionalGAN, WassersteinGAN (weight clipping and the gradient
penalty, n_critic critic updates), SRGAN (pixel pre-training, then the adversarial phase with the
VGG content loss) and CycleGAN (the image pools, cycle and identity terms) follow the same losses
on both backends, from the same initial weights on the same data.

The backend under test runs in this process; the other one runs the same function in a
subprocess (``python -m tests.models.test_backend_agreement``; one subprocess for every
case, so the interpreter starts once). The initial weights go from this process to the other
through a ``.weights.h5`` file. What a step draws at random comes from each backend's own
generator (different streams), so the only draws that matter are fixed here: WGAN's latents
and penalty interpolation weights are constants of the case, SRGAN's step draws nothing, and a
CycleGAN pool that is still filling answers each fake with itself (its draws are unused).
With the randomness pinned, the two backends' losses differ only by float rounding
(convolution algorithms, reduction orders), which a few optimizer steps do not amplify past
the tolerance below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from ganzoo.builders import build_model, compile_model

ROOT = Path(__file__).resolve().parents[2]
STEPS = 4
#: Losses agree to 1e-3 relative (+ 1e-6 absolute). Measured (TF in-process, JAX subprocess):
#: at most 6e-6 relative for wgan_clip and cyclegan, 6e-4 for srgan (d_loss), so a step computed
#: differently on one backend (a missed critic update or clip, a wrong pool answer, a phase
#: switched a step late) fails.
RTOL, ATOL = 1e-3, 1e-6
#: WGAN-GP: 1e-2. Its first step agrees to 1.3e-5, then rounding differences grow: the critic
#: has gradient components that are zero in exact arithmetic (its last bias: neither the
#: Wasserstein loss nor the penalty depends on it), so rounding noise of a different size on
#: each backend, which Adam's normalised first steps turn into moves of up to ~lr; and a
#: pre-activation that rounding puts on the other side of a (leaky) ReLU's kink changes the
#: penalty's input gradient discretely. Measured: 2.4e-3 relative (d_loss, step 2) with the
#: entry's Adam; with plain SGD (lr 1e-4) 6e-6 for three steps, then 9e-3 at the fourth.
RTOL_BY_CASE = {"wgan_gp": 1e-2}

#: case -> (registry entry, overrides of its tiny config, batch size of the step's data).
CASES = {
    # GAN (dcgan_mnist: batch norm in G, the EMA generator) and its conditional form (cgan_mnist).
    "gan": ("dcgan_mnist", {}, 4),
    "cgan": ("cgan_mnist", {}, 4),
    # Weight clipping, two critic updates per step (the batch holds n_critic minibatches).
    "wgan_clip": ("wgan_mnist", {"model.n_critic": 2, "train.learning_rate": 1e-3}, 4),
    # The gradient penalty (input gradients differentiated again) in each critic update.
    "wgan_gp": ("wgan_gp_mnist", {"model.n_critic": 2}, 4),
    # One pixel pre-training step, then adversarial steps with the VGG22 content loss.
    "srgan": ("srgan_div2k", {"model.pretrain_steps": 1}, 2),
    # Batch 1, pool of STEPS images: the pools fill over the run, their draws unused.
    "cyclegan": ("cyclegan_cezanne2photo", {"model.pool_size": STEPS}, 1),
}


def _config(case):
    from tests.helpers import tiny_config
    entry, overrides, batch = CASES[case]
    return tiny_config(entry, **{**overrides, "train.batch_size": batch})


def _data(config, batch):
    """One fixed batch (NumPy, the same on both backends) in the shape the class trains on."""
    rng = np.random.default_rng(0)
    size, channels = config.data.image_size, config.data.channels
    if config.model.cls == "WassersteinGAN":
        return rng.uniform(-1, 1, (batch * config.model.n_critic, size, size, channels)).astype("float32")
    if config.model.cls == "GAN":
        return rng.uniform(-1, 1, (batch, size, size, channels)).astype("float32")
    if config.model.cls == "ConditionalGAN":
        return (rng.uniform(-1, 1, (batch, size, size, channels)).astype("float32"),
                rng.integers(0, config.model.num_classes, batch).astype("int32"))
    hr = rng.uniform(-1, 1, (batch, size, size, channels)).astype("float32")
    if config.model.cls == "SRGAN":
        s = config.data.scale
        lr = hr.reshape(batch, size // s, s, size // s, s, channels).mean(axis=(2, 4))  # box-downscaled HR
        return lr.astype("float32"), hr
    return hr, rng.uniform(-1, 1, (batch, size, size, channels)).astype("float32")


def _pin_draws(model, config):
    """WGAN and GAN: the latents (and a conditional model's labels), and WGAN's penalty
    interpolation weights, as constants of the case."""
    if config.model.cls not in ("WassersteinGAN", "GAN", "ConditionalGAN"):
        return
    table = np.random.default_rng(1).normal(size=(64, model.latent_dim)).astype("float32")
    model.sample_latent = lambda n: keras.ops.convert_to_tensor(table)[:n]
    if model.conditional:
        labels = (np.arange(64) % model.num_classes).astype("int32")
        model.sample_labels = lambda n: keras.ops.convert_to_tensor(labels)[:n]
    model.sample_interpolation_weights = lambda n, rank=4: keras.ops.full([n] + [1] * (rank - 1), 0.3)


def run_case(case: str, weights: Path, save: bool) -> dict:
    """Train ``case`` STEPS steps (one ``fit`` epoch each, so each history entry is one step's
    losses) from the weights in ``weights`` (``save``: write this process's initial weights
    there first); returns the history."""
    config = _config(case)
    keras.utils.set_random_seed(0)
    model = build_model(config)
    compile_model(model, config)
    if save:
        model.save_weights(weights)
    else:
        model.load_weights(weights)
    _pin_draws(model, config)
    import tensorflow as tf
    data = _data(config, config.train.batch_size)
    ds = tf.data.Dataset.from_tensors(data).repeat()
    history = model.fit(ds, epochs=STEPS, steps_per_epoch=1, verbose=0).history
    out = {key: [float(v) for v in values] for key, values in history.items()}
    if config.model.cls == "CycleGAN":
        out["pool_count"] = [float(model.pool_a.count.numpy()), float(model.pool_b.count.numpy())]
    if config.model.cls == "WassersteinGAN" and config.model.clip_value is not None:
        out["critic_max_abs"] = [max(float(np.abs(keras.ops.convert_to_numpy(v)).max())
                                     for v in model.discriminator.trainable_variables)]
    return out


def _other_backend() -> str:
    return "tensorflow" if keras.backend.backend() == "jax" else "jax"


@pytest.fixture(scope="module")
def both_backends(tmp_path_factory):
    """case -> (this backend's history, the other backend's history)."""
    folder = tmp_path_factory.mktemp("backends")
    here = {case: run_case(case, folder / f"{case}.weights.h5", save=True) for case in CASES}
    env = {**os.environ, "KERAS_BACKEND": _other_backend(),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "tests.models.test_backend_agreement", str(folder)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"the {_other_backend()} run failed:\n{proc.stderr[-4000:]}"
    there = json.loads((folder / "other.json").read_text())
    if os.environ.get("GANZOO_AGREEMENT_DUMP"):  # the measured losses of both sides, for the record
        Path(os.environ["GANZOO_AGREEMENT_DUMP"]).write_text(json.dumps({"here": here, "there": there}))
    return {case: (here[case], there[case]) for case in CASES}


@pytest.mark.parametrize("case", list(CASES))
def test_tensorflow_and_jax_steps_give_the_same_losses(case, both_backends):
    here, there = both_backends[case]
    assert set(here) == set(there)
    for key in here:
        assert len(here[key]) == len(there[key])
        np.testing.assert_allclose(here[key], there[key], rtol=RTOL_BY_CASE.get(case, RTOL), atol=ATOL,
                                   err_msg=f"{case}: {key} differs between {keras.backend.backend()} and "
                                           f"{_other_backend()}")
    # The steps did something (G's loss moved by far more than the tolerance), so agreeing is not trivial.
    g_loss = np.asarray(here["g_loss"])
    assert np.ptp(g_loss) > 5 * (RTOL_BY_CASE.get(case, RTOL) * np.abs(g_loss).max() + ATOL), g_loss
    # The same trend: each loss moves the same way on both backends from step to step.
    for key in ("g_loss", "d_loss"):
        assert np.array_equal(np.sign(np.diff(here[key])), np.sign(np.diff(there[key]))), (key, here[key], there[key])
    if case == "srgan":  # the pre-training step: D rests (d_loss 0), then the adversarial phase
        assert here["d_loss"][0] == 0.0 and all(v > 0 for v in here["d_loss"][1:])
    if case == "cyclegan":
        assert here["pool_count"] == [STEPS, STEPS]
    if case == "wgan_clip":
        assert here["critic_max_abs"][0] <= 0.01 + 1e-7


if __name__ == "__main__":  # the other backend's side of ``both_backends``
    target = Path(sys.argv[1])
    results = {case: run_case(case, target / f"{case}.weights.h5", save=False) for case in CASES}
    (target / "other.json").write_text(json.dumps(results))
