"""Small-data training (issue 10): DiffAugment and ADA ops, the p controller, checkpoints,
no augmentation in generated images, feature matching, the folder report and the
nearest-training-image panel. Runs on both Keras backends (TensorFlow and JAX): the
augmentation is keras.ops, traced as a tf.function or inside the jitted JAX step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf  # tf.data input pipelines (fit takes them on both backends)
from keras import ops

import ganzoo
from ganzoo import augment as A
from ganzoo.builders import build_model, compile_model
from ganzoo.config import ConfigError
from tests.helpers import tiny_config

# Passes on JAX too (KERAS_BACKEND=jax pytest -m "" this file); not in CI's JAX phase, which
# keeps to the harness, the losses and the backend-specific tests to stay within its time.


BACKEND = keras.backend.backend()


def _images(n=6, size=16, channels=3, seed=0):
    return ops.convert_to_tensor(np.random.default_rng(seed).uniform(-1, 1, (n, size, size, channels)).astype("float32"))


def _np(x):
    """A backend tensor (or a Keras variable) as a NumPy array."""
    return ops.convert_to_numpy(x.value if isinstance(x, keras.Variable) else x)


def _value_and_input_gradient(fn, x, weights):
    """``fn(x)`` and the gradient of ``sum(fn(x) * weights)`` with respect to ``x``, on the
    running backend (on JAX in a StatelessScope, so the seed generator's state is threaded as
    in a step)."""
    if BACKEND == "jax":
        import jax

        with keras.StatelessScope():
            y, pullback = jax.vjp(fn, x)
            (grad,) = pullback(ops.convert_to_tensor(weights))
        return y, grad
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        loss = tf.reduce_sum(y * weights)
    return y, tape.gradient(loss, x)


def _compiled(fn, variables):
    """``fn`` compiled as a training step is: a tf.function on TensorFlow; on JAX a jax.jit of
    a pure function of ``variables``' values (the seed generator's state, the pipeline's
    weights) run in a keras.StatelessScope, whose new values are assigned after each call
    (what the model's jitted step does with its whole state)."""
    if BACKEND != "jax":
        return tf.function(fn)
    import jax

    @jax.jit
    def pure(values, *args):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))) as scope:
            out = fn(*args)
        return out, [scope.get_current_value(v) for v in variables]

    def call(*args):
        out, values = pure([v.value for v in variables], *args)
        for v, value in zip(variables, values):
            v.assign(value)
        return out

    return call


OPS = {
    "color": A.augment_color,
    "translation": A.augment_translation,
    "cutout": A.augment_cutout,
    "ada_p1": lambda x, seed: A.ada_augment(x, 1.0, seed),
    "ada_p05": lambda x, seed: A.ada_augment(x, 0.5, seed),
}


# ---------------------------------------------------------------------- the ops

@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("op", sorted(OPS))
def test_ops_are_differentiable_and_keep_shape_and_range(op, channels):
    x = _images(channels=channels)
    seed = keras.random.SeedGenerator(1)
    weights = np.random.default_rng(12).normal(size=x.shape).astype("float32")
    y, grad = _value_and_input_gradient(lambda v: OPS[op](v, seed=seed), x, weights)
    assert y.shape == x.shape and y.dtype == x.dtype
    y, grad, x = _np(y), _np(grad), _np(x)
    assert y.min() >= -1.0 and y.max() <= 1.0
    assert grad is not None and np.all(np.isfinite(grad))
    assert np.mean(np.abs(grad)) > 1e-3, "no gradient reaches the input"
    assert np.max(np.abs(y - x)) > 1e-2, f"{op} left the images unchanged"


def test_ops_run_in_a_traced_graph():
    # A tf.function on TensorFlow, jax.jit on JAX (where the model's step is always jitted).
    # (On TF they also compile with XLA, jit_compile=True; that takes ~30 s of CPU, so not here.)
    seed = keras.random.SeedGenerator(3)
    fn = _compiled(lambda x: A.ada_augment(A.diff_augment(x, "color,translation,cutout", seed), 0.7, seed),
                   [seed.state])
    a, b = _np(fn(_images())), _np(fn(_images()))
    assert a.shape == (6, 16, 16, 3) and np.max(np.abs(a - b)) > 0, "fresh draws every call"


def test_translation_is_an_integer_shift_with_zero_fill():
    x = _np(_images(n=8, size=12, channels=1, seed=4))
    y = _np(A.augment_translation(x, seed=keras.random.SeedGenerator(5)))
    limit = int(12 * 0.125 + 0.5)
    shifted = 0
    for img, out in zip(x, y):
        matches = []
        for dy in range(-limit, limit + 1):
            for dx in range(-limit, limit + 1):
                padded = np.pad(img, ((limit, limit), (limit, limit), (0, 0)))
                want = padded[limit - dy:limit - dy + 12, limit - dx:limit - dx + 12]
                if np.allclose(out, want, atol=1e-6):
                    matches.append((dy, dx))
        assert matches, "the output is not an integer shift of the input"
        shifted += matches[0] != (0, 0)
    assert shifted > 0


def test_cutout_zeroes_one_square_and_keeps_the_rest():
    x = _np(_images(n=8, size=16, channels=3, seed=6))
    y = _np(A.augment_cutout(x, seed=keras.random.SeedGenerator(7)))
    for img, out in zip(x, y):
        cut = np.all(out == 0, axis=-1)
        np.testing.assert_array_equal(out[~cut], img[~cut])
        rows, cols = np.where(cut)
        assert 0 < cut.sum() <= 8 * 8
        assert cut.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1), "not one rectangle"


def test_warp_identity_and_quarter_turn_are_exact():
    x = _images(n=2, size=9, channels=3, seed=8)
    eye = np.tile(np.eye(3, dtype="float32"), (2, 1, 1))
    np.testing.assert_array_equal(_np(A.warp_images(x, eye)), _np(x))
    # Output (x, y) reads the input at R(90 deg) (x, y) = (-y, x), i.e. out[i, j] = in[j, -i]: np.rot90.
    quarter = A._rotation(np.full([2], np.pi / 2, "float32"))
    np.testing.assert_allclose(_np(A.warp_images(x, quarter)), np.rot90(_np(x), k=1, axes=(1, 2)), atol=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
def test_ada_pipeline_at_p0_is_the_identity(channels):
    x = _images(channels=channels)
    seed = keras.random.SeedGenerator(9)
    np.testing.assert_array_equal(_np(A.ada_augment(x, 0.0, seed)), _np(x))
    graph = _compiled(lambda v, p: A.ada_augment(v, p, seed), [seed.state])
    np.testing.assert_array_equal(_np(graph(x, ops.convert_to_tensor(0.0))), _np(x))
    pipe = A.AugmentPipeline(ada=True)
    assert float(_np(pipe.p)) == 0.0
    np.testing.assert_array_equal(_np(pipe.apply(x, seed=seed)), _np(x))


def test_ada_share_of_changed_images_follows_p():
    x = _images(n=400, size=8, channels=3, seed=10)
    seed = keras.random.SeedGenerator(11)
    for p, low, high in ((0.05, 0.3, 0.55), (0.5, 0.98, 1.0)):
        changed = np.mean(np.abs(_np(A.ada_augment(x, p, seed)) - _np(x)).max(axis=(1, 2, 3)) > 1e-5)
        # 1 - (1 - p/2)^2 (1 - 3p/4)^2 (1 - p)^8: x-flip and luma flip at p/2, quarter turns and
        # (at 8 px) a non-zero integer shift at 3p/4, the 8 others (both rotations as one) at p:
        # p=0.05 -> 0.42.
        assert low <= changed <= high, (p, changed)


# ---------------------------------------------------------------------- TensorFlow and JAX agree

class _FixedDraws:
    """Stand-ins for ganzoo.augment's three draw functions: every number from one NumPy stream,
    so both backends augment with the same random numbers (keras.random's generators differ
    between backends); the order and shapes of the draws are the module's own."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def uniform(self, shape, seed, low=0.0, high=1.0):
        return ops.convert_to_tensor(self.rng.uniform(low, high, tuple(shape)).astype("float32"))

    def normal(self, shape, seed):
        return ops.convert_to_tensor(self.rng.normal(size=tuple(shape)).astype("float32"))

    def randint(self, shape, low, high, seed):
        return ops.convert_to_tensor(self.rng.integers(low, high, tuple(shape)).astype("int32"))


def _backend_case() -> dict:
    """The whole pipeline (DiffAugment color,translation,cutout, then ADA at p = 0.7) on fixed
    RGB and grey batches with fixed random numbers: outputs and input gradients, and the p
    controller after a fixed run of logits, as NumPy arrays."""
    out = {}
    for channels in (3, 1):
        draws = _FixedDraws(100 + channels)
        x = _images(n=6, size=12, channels=channels, seed=30 + channels)
        weights = np.random.default_rng(40).normal(size=(6, 12, 12, channels)).astype("float32")
        pipe = A.AugmentPipeline(policy="color,translation,cutout", ada=True, initial_p=0.7)
        with mock.patch.object(A, "_uniform", draws.uniform), mock.patch.object(A, "_normal", draws.normal), \
                mock.patch.object(A, "_randint", draws.randint):
            y, grad = _value_and_input_gradient(lambda v: pipe.apply(v, seed=keras.random.SeedGenerator(0)), x,
                                                weights)
        out[f"y{channels}"], out[f"grad{channels}"] = _np(y), _np(grad)
    pipe = A.AugmentPipeline(ada=True, kimg=0.05, interval=2, initial_p=0.1)
    for logits in np.random.default_rng(50).normal(0.3, 1.0, (7, 5, 1)).astype("float32"):
        pipe.observe(logits)
    out["controller"] = np.array([_np(v) for v in (pipe.p, pipe.rt, pipe.sign_sum, pipe.sign_count)])
    return out


def test_tensorflow_and_jax_augment_alike(tmp_path):
    """The same pipeline with the same random numbers gives the same images and input
    gradients on both backends: computed here and in a subprocess on the other backend."""
    other = "jax" if BACKEND == "tensorflow" else "tensorflow"
    pytest.importorskip(other, reason=f"the {other} backend is not installed")
    root = Path(__file__).resolve().parents[1]
    code = ("import sys, numpy as np; from tests.test_augment import _backend_case; "
            "np.savez(sys.argv[1], **_backend_case())")
    env = {**os.environ, "KERAS_BACKEND": other,
           "PYTHONPATH": os.pathsep.join([str(root), str(root / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "case.npz")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = dict(np.load(tmp_path / "case.npz"))
    ours = _backend_case()
    assert sorted(ours) == sorted(theirs)
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, atol=1e-5, err_msg=f"{key}: {BACKEND} vs {other}")
    for channels in (3, 1):  # the case is not trivial: the images changed and gradients flow
        assert np.abs(ours[f"y{channels}"] - _np(_images(n=6, size=12, channels=channels,
                                                          seed=30 + channels))).max() > 0.1
        assert np.abs(ours[f"grad{channels}"]).mean() > 1e-3
    assert ours["controller"][0] != pytest.approx(0.1)  # p moved


# ---------------------------------------------------------------------- ADA against the reference
# (stylegan2-ada-pytorch training/augment.py; issue 16)

def _rate_within_binomial(hits, n, rate, what):
    """Assert hits / n = rate within 4 binomial standard deviations (seeded draws: deterministic)."""
    tol = 4.0 * np.sqrt(rate * (1.0 - rate) / n)
    assert abs(hits / n - rate) <= tol, f"{what}: {hits / n:.4f}, want {rate:.4f} +- {tol:.4f}"


def test_ada_xflip_mirrors_with_probability_half_p():
    # i ~ U{0, 1} applied with probability p: mirrored at rate p / 2 (flip rate 0.5 at p = 0.5 leaks).
    # A mirror is the only factor with a negative determinant (rotations +1, scalings > 0).
    n = 20000
    for p, rate in ((0.5, 0.25), (1.0, 0.5), (1.5, 0.5)):  # p > 1 (the controller allows it) acts as 1
        m = _np(A._geometric_matrices(n, ops.convert_to_tensor(p), 8, 8, keras.random.SeedGenerator(21)))
        mirrored = int(np.sum(np.linalg.det(m[:, :2, :2]) < 0))
        _rate_within_binomial(mirrored, n, rate, f"x-flip rate at p={p}")


def test_ada_post_rotation_follows_the_anisotropic_scaling():
    # Linear part L of G_inv. With both rotations before the anisotropic scaling A (the old order),
    # L = (similarity) @ A^-1, so L^T L = c^2 A^-2 is diagonal for every image; the reference's
    # post-rotation R makes it R^T A^-2 R, off-diagonal whenever an image gets both.
    m = _np(A._geometric_matrices(2000, ops.convert_to_tensor(1.0), 8, 8, keras.random.SeedGenerator(22)))
    gram = np.einsum("nki,nkj->nij", m[:, :2, :2], m[:, :2, :2])
    off = np.abs(gram[:, 0, 1]) / np.abs(gram[:, [0, 1], [0, 1]]).max(axis=1)
    assert np.mean(off > 1e-3) > 0.9, np.mean(off > 1e-3)


def _np_rot(t):
    return np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1.0]])


def _np_scale(sx, sy):
    return np.diag([sx, sy, 1.0])


def _np_shift(tx, ty):
    return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1.0]])


def test_ada_geometric_matrix_is_composed_in_the_reference_order():
    # Inverse transforms, composed left to right in the reference's order: flip, quarter turns,
    # integer shift, isotropic scale, pre-rotation, anisotropic scale, post-rotation, fractional shift.
    params = {"xflip": 1.0, "rotate90": 3.0, "xint": [2.0, -1.0], "scale": 1.3, "rotate_pre": 0.4,
              "aniso": 1.5, "rotate_post": -1.1, "xfrac": [0.7, 1.9]}
    tensors = {k: ops.convert_to_tensor(np.array([v], "float32")) for k, v in params.items()}
    got = _np(A._ada_geometric_matrix(tensors))[0]
    s, a = params["scale"], params["aniso"]
    head = _np_scale(-1, 1) @ _np_rot(3 * np.pi / 2) @ _np_shift(-2.0, 1.0) @ _np_scale(1 / s, 1 / s)
    want = head @ _np_rot(0.4) @ _np_scale(1 / a, a) @ _np_rot(-1.1) @ _np_shift(-0.7, -1.9)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # Both rotations before the anisotropic scaling (the old order) is a different matrix.
    old = head @ _np_rot(0.4) @ _np_rot(-1.1) @ _np_scale(1 / a, a) @ _np_shift(-0.7, -1.9)
    assert np.abs(old - want).max() > 0.1


def test_ada_transforms_are_drawn_with_the_reference_probabilities():
    n, p = 20000, 0.5
    geo = {k: _np(v) for k, v in A._ada_geometric_params(n, ops.convert_to_tensor(p), 64, 64,
                                                         keras.random.SeedGenerator(23)).items()}
    col = {k: _np(v) for k, v in A._ada_color_params(n, ops.convert_to_tensor(p), 3,
                                                     keras.random.SeedGenerator(24)).items()}
    p_rot = 1 - np.sqrt(1 - p)  # P(pre or post) = p
    expected = {  # share of images whose parameter differs from the identity value
        "xflip": (geo["xflip"] != 0, p / 2), "rotate90": (geo["rotate90"] != 0, 3 * p / 4),
        "scale": (geo["scale"] != 1, p), "rotate_pre": (geo["rotate_pre"] != 0, p_rot),
        "aniso": (geo["aniso"] != 1, p), "rotate_post": (geo["rotate_post"] != 0, p_rot),
        "either rotation": ((geo["rotate_pre"] != 0) | (geo["rotate_post"] != 0), p),
        "xfrac": (np.any(geo["xfrac"] != 0, axis=1), p),
        "brightness": (col["brightness"] != 0, p), "contrast": (col["contrast"] != 1, p),
        "lumaflip": (col["lumaflip"] != 0, p / 2), "hue": (col["hue"] != 0, p),
        "saturation": (col["saturation"] != 1, p),
    }
    for name, (hits, rate) in expected.items():
        _rate_within_binomial(int(hits.sum()), n, rate, name)
    assert set(np.unique(geo["xflip"])) == {0.0, 1.0} and set(np.unique(geo["rotate90"])) == {0.0, 1.0, 2.0, 3.0}
    # Integer translation: whole pixels up to 1/8 of the size (8 px at 64), one draw for both axes.
    assert np.all(geo["xint"] == np.round(geo["xint"])) and np.abs(geo["xint"]).max() == 8
    # t ~ U(-8, 8) px per axis rounds to 0 with probability 1/16; both axes at once: 1/256.
    _rate_within_binomial(int(np.any(geo["xint"] != 0, axis=1).sum()), n, p * (1 - 1 / 256), "xint")


def _np_color(b, c, flip, theta, s):
    v = np.array([1, 1, 1, 0]) / np.sqrt(3)
    vv = np.outer(v, v)
    bright = np.eye(4)
    bright[:3, 3] = b
    contrast = np.diag([c, c, c, 1.0])
    householder = np.eye(4) - 2 * vv * flip
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    hue = np.eye(4)
    hue[:3, :3] = np.eye(3) + np.sin(theta) * k + (1 - np.cos(theta)) * (k @ k)  # Rodrigues
    saturation = vv + (np.eye(4) - vv) * s
    return saturation @ hue @ householder @ contrast @ bright


def test_ada_color_matrix_is_composed_in_the_reference_order():
    params = {"brightness": 0.3, "contrast": 1.7, "lumaflip": 1.0, "hue": 0.9, "saturation": 0.6}
    got = _np(A._ada_color_matrix({k: ops.convert_to_tensor(np.array([v], "float32")) for k, v in params.items()}))[0]
    np.testing.assert_allclose(got, _np_color(*params.values()), atol=1e-5)


def test_ada_luma_flip_happens_at_half_p_and_inverts_grey_images():
    # Brightness, contrast, hue and saturation keep det(C[:3, :3]) > 0; the luma flip negates it.
    n = 20000
    c = _np(A._color_matrices(n, ops.convert_to_tensor(0.5), 3, keras.random.SeedGenerator(25)))
    _rate_within_binomial(int(np.sum(np.linalg.det(c[:, :3, :3]) < 0)), n, 0.25, "luma flip rate at p=0.5")
    # Grey images use the mean of C's colour rows (as the reference): the flip alone is x -> -x.
    x = _images(n=2, size=4, channels=1, seed=26)
    zeros, ones = np.zeros(2, "float32"), np.ones(2, "float32")
    flip = A._ada_color_matrix({"brightness": zeros, "contrast": ones, "lumaflip": ones, "hue": zeros,
                                "saturation": ones})
    np.testing.assert_allclose(_np(A._apply_color(x, flip)), -_np(x), atol=1e-6)
    mixed = _np_color(0.3, 1.7, 1.0, 0.0, 1.0)[None].astype("float32")
    want = _np(x) * (1.7 * -1) + np.mean(_np_color(0.3, 1.7, 1.0, 0.0, 1.0)[:3, 3])
    np.testing.assert_allclose(_np(A._apply_color(x, mixed)), want, atol=1e-5)


def test_policy_names_are_checked():
    assert A.parse_policy("color, translation,cutout") == ["color", "translation", "cutout"]
    assert A.parse_policy("") == []
    with pytest.raises(ValueError, match="did you mean 'cutout'"):
        A.parse_policy("cutuot")
    from ganzoo.config import DIFF_AUGMENT_OPS

    assert DIFF_AUGMENT_OPS == A.DIFF_AUGMENT_OPS


# ---------------------------------------------------------------------- config

@pytest.mark.parametrize("overrides, key", [
    ({"augment.policy": "color,flip"}, "augment.policy"),
    ({"augment.ada_target": 1.5}, "augment.ada_target"),
    ({"augment.ada_kimg": 0}, "augment.ada_kimg"),
    ({"augment.ada_interval": 0}, "augment.ada_interval"),
    ({"augment.initial_p": 0.3}, "augment.initial_p"),  # without ada
    ({"model.feature_matching": -1.0}, "model.feature_matching"),
])
def test_bad_augment_settings_name_the_key(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        ganzoo.get_config("dcgan_mnist", **overrides)


@pytest.mark.parametrize("entry", ["srgan_div2k", "cyclegan_monet2photo"])
def test_image_to_image_classes_reject_augmentation(entry):
    for overrides in ({"augment.ada": True}, {"augment.policy": "translation"}):
        with pytest.raises(ConfigError, match="latent GANs") as err:
            ganzoo.get_config(entry, **overrides)
        assert "augment" in str(err.value)


@pytest.mark.parametrize("entry", ["wgan_gp_mnist", "pggan_mnist", "lsgan_cifar10"])
def test_ada_needs_logits_whose_sign_means_real(entry):
    with pytest.raises(ConfigError, match="augment.ada.*DiffAugment"):
        ganzoo.get_config(entry, **{"augment.ada": True})
    assert ganzoo.get_config(entry, **{"augment.policy": "translation,cutout"}).augment.policy


def test_feature_matching_is_refused_where_d_has_no_feature_vector():
    with pytest.raises(ConfigError, match="model.feature_matching"):
        ganzoo.get_config("pggan_mnist", **{"model.feature_matching": 1.0})


# ---------------------------------------------------------------------- the p controller

def _observer(pipe, mode):
    """``pipe.observe`` as called eagerly, or compiled as inside a training step (tf.function
    on TensorFlow; jax.jit over the pipeline's weights on JAX, where p is assigned in the step)."""
    return pipe.observe if mode == "eager" else _compiled(pipe.observe, pipe.weights)


def _logits(value, n=4):
    return np.full((n, 1), value, "float32")


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_p_update_rule_matches_the_paper(mode):
    pipe = A.AugmentPipeline(ada=True, target=0.6, kimg=0.5, interval=4)  # 16 images -> step 16/500
    observe = _observer(pipe, mode)
    for _ in range(3):
        observe(_logits(1.0))
    assert float(_np(pipe.p)) == 0.0, "p must only move every `interval` minibatches"
    observe(_logits(1.0))
    assert float(_np(pipe.p)) == pytest.approx(16 / 500)
    assert float(_np(pipe.rt)) == pytest.approx(1.0)
    # r_t = 0.5 < 0.6: down by the same step; never below 0.
    for logit in (1.0, -1.0, 1.0, -1.0):
        observe(_logits(logit))
    assert float(_np(pipe.p)) == pytest.approx(0.0, abs=1e-7)
    assert float(_np(pipe.rt)) == pytest.approx(0.0)
    for _ in range(8):
        observe(_logits(-1.0))
    assert float(_np(pipe.p)) == 0.0
    assert int(_np(pipe.batches)) == 16 and float(_np(pipe.sign_count)) == 0.0
    assert float(A.ada_adjustment(0.9, 0.6, 64 * 4, 500)) == pytest.approx(256 / 500_000)
    assert float(A.ada_adjustment(0.1, 0.6, 64 * 4, 500)) == pytest.approx(-256 / 500_000)


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_p_is_kept_non_negative_but_not_capped_at_one(mode):
    # As the official training loop: p = max(p + adjust, 0), no upper bound.
    pipe = A.AugmentPipeline(ada=True, target=0.6, kimg=0.5, interval=1, initial_p=1.0)
    observe = _observer(pipe, mode)
    observe(_logits(1.0))
    assert float(_np(pipe.p)) == pytest.approx(1.0 + 4 / 500)
    for _ in range(2):
        observe(_logits(-1.0))
    assert float(_np(pipe.p)) == pytest.approx(1.0 - 4 / 500)


def _ada_model(**extra):
    config = tiny_config("dcgan_mnist", **{"augment.ada": True, "augment.ada_kimg": 0.2, "train.batch_size": 8,
                                           **extra})
    model = build_model(config)
    compile_model(model, config)
    return model, config


def test_p_rises_when_d_overfits_a_fixed_tiny_set():
    # D (fast) learns to tell 8 fixed images from G's (barely moving) samples: memorisation.
    # p steps by 32 / 1000 per adjustment: with kimg 0.2 (0.16 a step) it overshot, since the luma
    # flip (an inversion of grey images, at p/2) hides this symmetric noise "data set" from D.
    model, _ = _ada_model(**{"train.learning_rate": 1e-12, "train.d_learning_rate": 5e-3,
                             "augment.ada_kimg": 1.0})
    x = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    history = model.fit(tf.data.Dataset.from_tensors(x).repeat(), steps_per_epoch=24, epochs=2, verbose=0)
    assert "augment_p" in history.history and "augment_rt" in history.history
    # r_t first exceeds the target; then p rises and the augmentation brings r_t down again.
    assert history.history["augment_rt"][0] > 0.6, history.history
    p = history.history["augment_p"]
    assert p[-1] > p[0] > 0.0, p


def test_p_falls_when_d_does_not_overfit():
    model, _ = _ada_model(**{"augment.initial_p": 0.5, "train.d_learning_rate": 1e-12})
    # A discriminator that calls every real image fake (r_t = -1): it has not memorised anything.
    logit_layer = model.discriminator.layers[-1]
    logit_layer.bias.assign(-50.0 * np.ones(logit_layer.bias.shape, "float32"))
    x = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    history = model.fit(tf.data.Dataset.from_tensors(x).repeat(), steps_per_epoch=8, epochs=1, verbose=0)
    assert history.history["augment_rt"][-1] == pytest.approx(-1.0)
    assert float(_np(model.augment_pipe.p)) == pytest.approx(0.5 - 2 * 32 / 200, abs=1e-6)


def test_checkpoints_and_saved_models_restore_p(tmp_path):
    from ganzoo.checkpoint import CheckpointManager

    model, config = _ada_model()
    x = np.random.default_rng(1).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    model.fit(tf.data.Dataset.from_tensors(x).repeat(), steps_per_epoch=4, epochs=1, verbose=0)
    model.augment_pipe.p.assign(0.4375)
    model.augment_pipe.sign_sum.assign(3.0)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert float(_np(again.augment_pipe.p)) == 0.4375
    assert float(_np(again.augment_pipe.sign_sum)) == 3.0
    manager = CheckpointManager(tmp_path / "checkpoints")
    manager.save(model, 4, 1, config)
    restored, ckpt = manager.load_latest(config)
    assert ckpt.step == 4 and float(_np(restored.augment_pipe.p)) == 0.4375
    assert restored.augment_pipe.ada and restored.augment_pipe.kimg == 0.2


# ---------------------------------------------------------------------- no leaks into generated images

def test_generated_images_never_pass_through_augmentation(tmp_path, monkeypatch):
    config = tiny_config("dcgan_mnist", **{"augment.ada": True, "augment.initial_p": 1.0,
                                           "augment.policy": "color,translation,cutout", "model.ema_decay": 0.9})
    model = build_model(config)
    compile_model(model, config)
    calls = []
    original = model.augment_pipe.apply
    monkeypatch.setattr(model.augment_pipe, "apply", lambda images, seed=None: calls.append(1) or original(images, seed))
    model.run_eagerly = True  # so that the spy sees every call of the train step
    x = np.random.default_rng(2).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    model.fit(tf.data.Dataset.from_tensors(x), epochs=1, verbose=0)
    assert len(calls) >= 3, "the train step must augment what D sees (real, fake, fake in G's step)"

    calls.clear()
    images = model.generate(6, seed=5)
    z = model.latents(6, seed=5)
    np.testing.assert_array_equal(images, _np(model.ema_generator(z, training=False)))
    np.testing.assert_array_equal(model.generate(6, seed=5, use_ema=False), _np(model.generator(z, training=False)))
    grid = ganzoo.callbacks.SampleGrid(tmp_path / "samples", n=4, seed=5)
    grid.set_model(model)
    grid.on_epoch_end(0)
    from ganzoo.callbacks import NearestNeighbourPanel

    panel = NearestNeighbourPanel(tmp_path / "nearest", x, n=2, seed=5)
    panel.set_model(model)
    panel.on_epoch_end(0)
    assert calls == [], "sampling called the augmentation pipeline"
    from ganzoo.images import to_uint8

    from PIL import Image

    written = np.asarray(Image.open(grid.paths[0]))
    want = to_uint8(model.generate(4, seed=5))
    assert written[2:30, 2:30].tolist() == want[0, ..., 0].tolist()


# ---------------------------------------------------------------------- feature matching

def test_feature_matching_uses_the_penultimate_features_of_a_projection_discriminator():
    config = tiny_config("cgan_cifar10", **{"model.feature_matching": 1.0})  # SN, logit = Dense(h) + <embed(y), h>
    model = build_model(config)
    features = model.discriminator_features
    dense = [l for l in model.discriminator.layers if "spectral" in l.name.lower() or isinstance(l, keras.layers.Dense)]
    width = int(features.outputs[0].shape[-1])
    assert width == model.discriminator.get_layer("projection_embedding").output_dim
    images = ops.convert_to_tensor(np.random.default_rng(3).uniform(-1, 1, (4, 32, 32, 3)).astype("float32"))
    labels = ops.convert_to_tensor(np.array([0, 1, 2, 3], "int32"))
    np.testing.assert_allclose(_np(features([images, labels], training=False)[1]),
                               _np(model.discriminator([images, labels], training=False)), rtol=1e-5, atol=1e-6)
    assert dense, "expected a Dense logit layer"


def test_feature_matching_compares_d_features_and_survives_saving(tmp_path):
    config = tiny_config("cgan_mnist", **{"model.feature_matching": 0.5})
    model = build_model(config)
    compile_model(model, config)
    assert model.discriminator_features is not None
    images = np.random.default_rng(3).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    labels = ops.convert_to_tensor(np.array([0, 1, 2, 3], "int32"))
    images = ops.convert_to_tensor(images)
    logits, fm = model.generator_view(images, labels, images, labels)
    assert float(fm) == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_allclose(_np(logits), _np(model.discriminator([images, labels], training=True)),
                               rtol=1e-5, atol=1e-5)
    other = ops.flip(images, axis=0)
    _, fm = model.generator_view(other, labels, images, labels)
    f_real, _ = model.discriminator_features([images, labels], training=True)
    f_fake, _ = model.discriminator_features([other, labels], training=True)
    want = np.mean((_np(f_real).mean(0) - _np(f_fake).mean(0)) ** 2)
    assert float(fm) == pytest.approx(want, rel=1e-4) and want > 0
    history = model.fit(tf.data.Dataset.from_tensors((_np(images), _np(labels))), epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][0])
    model.save(tmp_path / "fm.keras")
    again = keras.saving.load_model(tmp_path / "fm.keras")
    assert again.feature_matching == 0.5 and again.discriminator_features is not None


def test_feature_matching_takes_a_declared_features_layer_and_no_private_keras_api():
    """A discriminator may name its feature layer 'features' (used even when it is not the
    logit's input); without one, the logit layer's input; a D whose logit is not a Dense on a
    vector is refused by name. The lookup uses Keras' public functional API only."""
    from pathlib import Path

    from ganzoo.models import GAN
    from ganzoo.models.discriminator_view import feature_model

    def networks(declared: bool, head: str = "dense"):
        z = keras.Input((4,))
        generator = keras.Model(z, keras.layers.Reshape((2, 2, 1))(keras.layers.Dense(4, activation="tanh")(z)))
        image = keras.Input((2, 2, 1))
        x = keras.layers.Flatten()(image)
        x = keras.layers.Dense(8, name="features" if declared else "wide")(x)
        x = keras.layers.Dense(3, name="narrow")(x)
        if head == "dense":
            logit = keras.layers.Dense(1, name="logit")(x)
        else:  # a patch logit: no feature vector feeds it
            logit = keras.layers.Flatten()(keras.layers.Conv2D(1, 2)(image))
        return generator, keras.Model(image, logit)

    declared = GAN(*networks(True), feature_matching=1.0, seed=0)
    assert [int(t.shape[-1]) for t in declared.discriminator_features.outputs] == [8, 1]
    assert declared.discriminator_features.outputs[0] is declared.discriminator.get_layer("features").output
    plain = GAN(*networks(False), feature_matching=1.0, seed=0)
    assert plain.discriminator_features.outputs[0] is plain.discriminator.get_layer("logit").input
    images = ops.convert_to_tensor(np.random.default_rng(0).uniform(-1, 1, (3, 2, 2, 1)).astype("float32"))
    np.testing.assert_allclose(_np(plain.discriminator_features(images)[1]), _np(plain.discriminator(images)))
    with pytest.raises(ValueError, match="feature matching needs .* ends in Flatten"):
        feature_model(networks(False, head="patch")[1])
    source = Path(ganzoo.__file__).parent
    assert not [str(p) for p in source.rglob("*.py") if "_keras_history" in p.read_text()]


# ---------------------------------------------------------------------- the folder workflow

def _png(path, size, mode="RGB", seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    array = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(array[..., 0] if channels == 1 else array, mode).save(path)


def make_collection(folder, n=10, size=(40, 48)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        _png(folder / f"art_{i:03d}.png", size, seed=i)
    return folder


def test_folder_report_counts_bad_files(tmp_path):
    from ganzoo.data import scan_folder

    folder = make_collection(tmp_path / "art", n=5)
    _png(folder / "alpha.png", (40, 40), "RGBA", seed=50)
    _png(folder / "grey.png", (64, 64), "L", seed=51)
    _png(folder / "tiny.png", (12, 20), seed=52)  # short side 12 < 32: upscaled
    (folder / "copy_of_0.png").write_bytes((folder / "art_000.png").read_bytes())
    (folder / "sub").mkdir()
    (folder / "sub" / "copy_again.png").write_bytes((folder / "art_000.png").read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.png").write_bytes(b"ignored")
    report = scan_folder(folder, image_size=32)
    assert report.files == 12 and report.readable == 10
    assert sorted(p.name for p in report.unreadable) == ["broken.png", "empty.jpg"]
    assert report.modes == {"RGB": 8, "RGBA": 1, "L": 1}
    assert report.too_small == 1
    assert len(report.duplicates) == 1 and len(report.duplicates[0]) == 3
    assert report.sizes[(40, 48)] == 7
    text = report.summary()
    assert "2 unreadable" in text and "duplicates: 1 groups" in text and "smaller than 32px (upscaled): 1" in text


def test_check_folder_prints_the_report_and_warns(tmp_path, capsys):
    from ganzoo.commands.train import check_folder
    from ganzoo.data import DataError

    folder = make_collection(tmp_path / "art", n=6)
    (folder / "dup.png").write_bytes((folder / "art_001.png").read_bytes())
    (folder / "bad.png").write_bytes(b"junk")
    config = ganzoo.get_config("dcgan_folder_64", **{"data.path": str(folder), "train.batch_size": 4,
                                                     "augment.ada": False})
    warnings = check_folder(config)
    out = capsys.readouterr().out
    assert "7 readable, 1 unreadable" in out and "warning:" in out
    assert any("duplicate" in w for w in warnings) and any("cannot be read" in w for w in warnings)
    assert any("too small" in w or "upscaled" in w for w in warnings)  # 40x48 < 64
    assert any("augment.ada=true" in w for w in warnings)
    with pytest.raises(DataError, match="fewer than one batch"):
        check_folder(ganzoo.get_config("dcgan_folder_64", **{"data.path": str(folder)}))


def test_nearest_neighbour_search_and_panel(tmp_path):
    from ganzoo.callbacks import NearestNeighbourPanel, nearest_training_images

    rng = np.random.default_rng(4)
    train = rng.uniform(-1, 1, (20, 8, 8, 1)).astype("float32")
    samples = train[[3, 17]] + 0.01
    index, dist = nearest_training_images(samples, train)
    assert index.tolist() == [3, 17] and np.allclose(dist, 0.01, atol=1e-4)
    brute = np.sqrt(((train[:, None] - train[None]) ** 2).reshape(20, 20, -1).mean(-1))
    np.fill_diagonal(brute, np.inf)
    own_index, own = nearest_training_images(train, train, exclude_self=True)
    assert own_index.tolist() == brute.argmin(1).tolist()
    np.testing.assert_allclose(own, brute.min(1), rtol=1e-4)

    class Copier:  # a "model" that returns training images: the panel must say so
        name = "copier"

        def generate(self, n, seed=None):
            return train[:n]

    panel = NearestNeighbourPanel(tmp_path, train, n=4, every=2)
    panel.set_model(Copier())
    panel.on_epoch_end(0)
    assert panel.paths == []
    panel.on_epoch_end(1)
    assert (tmp_path / "epoch_0002.png").is_file()
    record = json.loads((tmp_path / "nearest.jsonl").read_text().splitlines()[0])
    assert record["nearest_index"] == [0, 1, 2, 3] and record["ratio"] < 1e-3


@pytest.mark.slow  # ~35 s of CPU (two 64x64 networks traced and trained, panels, checkpoints)
def test_a_folder_trains_end_to_end_from_the_cli(tmp_path, capsys):
    """`ganzoo train dcgan_folder_64 --data-path DIR --out RUN`: folder report, ADA's p in the
    log, sample grids and nearest-training-image panels, a model that loads with its p."""
    from ganzoo.cli import main

    folder = make_collection(tmp_path / "my_paintings", n=10, size=(72, 80))
    (folder / "again.png").write_bytes((folder / "art_002.png").read_bytes())
    run = tmp_path / "runs" / "mine"
    args = ["train", "dcgan_folder_64", "--data-path", str(folder), "--out", str(run), "--epochs", "2",
            "--steps", "2", "--batch-size", "4", "--quiet", "--set", "generator.filters=8", "--set",
            "discriminator.filters=8", "--set", "model.latent_dim=8", "--set", "augment.ada_kimg=0.01"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "checking the training folder:" in out and "11 image files, 11 readable, 0 unreadable" in out
    assert "1 duplicate file(s)" in out
    assert (run / "samples" / "epoch_0002.png").is_file()
    assert (run / "nearest" / "epoch_0001.png").is_file() and (run / "nearest" / "epoch_0002.png").is_file()
    records = [json.loads(line) for line in (run / "nearest" / "nearest.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2] and all(len(r["nearest_index"]) == 16 for r in records)
    header, *rows = (run / "log.csv").read_text().splitlines()
    assert "augment_p" in header.split(",") and len(rows) == 2
    p_logged = float(rows[-1].split(",")[header.split(",").index("augment_p")])
    model = keras.saving.load_model(run / "model.keras")
    assert float(_np(model.augment_pipe.p)) == pytest.approx(p_logged, abs=1e-6)
    assert model.generate(2, seed=0).shape == (2, 64, 64, 3)
