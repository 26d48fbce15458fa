"""Golden-value tests for ganzoo.losses, on the TensorFlow and the JAX backend.

Expected values are computed independently in NumPy from the textbook
formulas (no TensorFlow), plus a few literals worked out by hand. Gradients
go through ganzoo's backend seam (:func:`ganzoo.seam.gradients`), as
in a training step.
"""

import keras
import numpy as np
import pytest
from keras import ops

from ganzoo import losses
from ganzoo import seam

pytestmark = pytest.mark.both_backends

_np = ops.convert_to_numpy


def _grad(loss_fn, variables):
    """Gradients of ``loss_fn()`` with respect to ``variables`` (a list), on this backend."""
    return seam.gradients(loss_fn, variables)[2]


def _compiled(fn):
    """``fn`` compiled with XLA: ``tf.function(jit_compile=True)`` or ``jax.jit``."""
    if seam.BACKEND == "jax":
        import jax
        return jax.jit(fn)
    import tensorflow as tf
    return tf.function(fn, jit_compile=True)

REAL = np.array([2.0, -1.0, 0.5], dtype=np.float32)
FAKE = np.array([-1.5, 0.3, 1.0], dtype=np.float32)


# ---------------------------------------------------------------- NumPy refs


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def np_neg_log_sigmoid(x):
    """-log(sigmoid(x)) = log(1 + exp(-x))."""
    return np.log1p(np.exp(-np.asarray(x, np.float64)))


def np_bce(x, target):
    s = np_sigmoid(x)
    return -(target * np.log(s) + (1.0 - target) * np.log(1.0 - s))


def np_minimax_d(real, fake, ls=0.0):
    return np.mean(np_bce(real, 1.0 - ls)) + np.mean(np_bce(fake, 0.0))


def np_minimax_g(fake):
    # log(1 - sigmoid(x)) = -log(1 + exp(x))
    return -np.mean(np.log1p(np.exp(np.asarray(fake, np.float64))))


def np_ns_g(fake):
    return np.mean(np_neg_log_sigmoid(fake))


def np_ls_d(real, fake, ls=0.0):
    return 0.5 * np.mean((real - (1.0 - ls)) ** 2) + 0.5 * np.mean(fake**2)


def np_ls_g(fake):
    return 0.5 * np.mean((fake - 1.0) ** 2)


def np_hinge_d(real, fake):
    return np.mean(np.maximum(0.0, 1.0 - real)) + np.mean(np.maximum(0.0, 1.0 + fake))


def np_hinge_g(fake):
    return -np.mean(fake)


def np_w_d(real, fake):
    return np.mean(fake) - np.mean(real)


def np_w_g(fake):
    return -np.mean(fake)


D_CASES = [
    ("minimax", losses.minimax_discriminator_loss, np_minimax_d),
    ("non_saturating", losses.non_saturating_discriminator_loss, np_minimax_d),
    ("least_squares", losses.least_squares_discriminator_loss, np_ls_d),
    ("hinge", losses.hinge_discriminator_loss, np_hinge_d),
    ("wasserstein", losses.wasserstein_discriminator_loss, np_w_d),
]
G_CASES = [
    ("minimax", losses.minimax_generator_loss, np_minimax_g),
    ("non_saturating", losses.non_saturating_generator_loss, np_ns_g),
    ("least_squares", losses.least_squares_generator_loss, np_ls_g),
    ("hinge", losses.hinge_generator_loss, np_hinge_g),
    ("wasserstein", losses.wasserstein_generator_loss, np_w_g),
]


def assert_scalar_f32(value):
    assert ops.is_tensor(value)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    assert tuple(value.shape) == ()


# ------------------------------------------------------------ golden values


@pytest.mark.parametrize("name,fn,ref", D_CASES, ids=[c[0] for c in D_CASES])
def test_discriminator_losses_match_numpy(name, fn, ref):
    out = fn(ops.convert_to_tensor(REAL), ops.convert_to_tensor(FAKE))
    assert_scalar_f32(out)
    np.testing.assert_allclose(_np(out), ref(REAL, FAKE), rtol=1e-5, atol=1e-6)
    # Lookup by name gives the same value.
    by_name = losses.discriminator_loss(name, REAL, FAKE)
    np.testing.assert_allclose(_np(by_name), _np(out), rtol=1e-6)


@pytest.mark.parametrize("name,fn,ref", G_CASES, ids=[c[0] for c in G_CASES])
def test_generator_losses_match_numpy(name, fn, ref):
    out = fn(ops.convert_to_tensor(FAKE))
    assert_scalar_f32(out)
    np.testing.assert_allclose(_np(out), ref(FAKE), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        _np(losses.generator_loss(name, FAKE)), _np(out), rtol=1e-6
    )


def test_hand_computed_literals():
    # hinge: mean(relu(1-[2,0])) + mean(relu(1+[-2,0])) = 0.5 + 0.5
    assert _np(losses.hinge_discriminator_loss([2.0, 0.0], [-2.0, 0.0])) == pytest.approx(1.0)
    assert _np(losses.hinge_generator_loss([1.0, 3.0])) == pytest.approx(-2.0)
    # BCE at logit 0 is log 2 for either target.
    assert _np(losses.minimax_discriminator_loss([0.0], [0.0])) == pytest.approx(1.3862944, abs=1e-6)
    assert _np(losses.non_saturating_generator_loss([0.0, 0.0])) == pytest.approx(0.6931472, abs=1e-6)
    assert _np(losses.minimax_generator_loss([0.0])) == pytest.approx(-0.6931472, abs=1e-6)
    # LS: 0.5*mean([0,4]) + 0.5*mean([0,4]) = 2
    assert _np(losses.least_squares_discriminator_loss([1.0, 3.0], [0.0, 2.0])) == pytest.approx(2.0)
    assert _np(losses.least_squares_generator_loss([1.0, 3.0])) == pytest.approx(1.0)
    # W: mean([0,2]) - mean([1,3]) = -1
    assert _np(losses.wasserstein_discriminator_loss([1.0, 3.0], [0.0, 2.0])) == pytest.approx(-1.0)
    assert _np(losses.wasserstein_generator_loss([1.0, 3.0])) == pytest.approx(-2.0)


def test_minimax_losses_are_stable_for_large_logits():
    big = ops.convert_to_tensor([80.0, -80.0])
    for value in (
        losses.minimax_discriminator_loss(big, -big),
        losses.minimax_generator_loss(big),
        losses.non_saturating_generator_loss(-big),
    ):
        assert np.isfinite(_np(value))
    # D perfectly right on real=+80 and fake=-80 except the swapped halves:
    # BCE(80,1)~0, BCE(-80,1)=80 -> mean 40; same for fakes.
    assert _np(losses.minimax_discriminator_loss(big, -big)) == pytest.approx(80.0, rel=1e-5)
    assert _np(losses.non_saturating_generator_loss([-80.0])) == pytest.approx(80.0, rel=1e-5)


# ----------------------------------------------------------- label smoothing


def test_minimax_label_smoothing_matches_numpy_and_only_affects_real():
    ls = 0.1
    out = losses.minimax_discriminator_loss(REAL, FAKE, label_smoothing=ls)
    np.testing.assert_allclose(_np(out), np_minimax_d(REAL, FAKE, ls), rtol=1e-5)
    plain = losses.minimax_discriminator_loss(REAL, FAKE)
    assert not np.isclose(_np(out), _np(plain))
    # BCE(x, t) = softplus(x) - t*x, so BCE(x, 1-ls) = BCE(x, 1) + ls*x and
    # the loss shifts by +ls*mean(real) = 0.1 * 0.5.
    np.testing.assert_allclose(_np(out) - _np(plain), 0.05, rtol=1e-4)
    # One-sided: changing the fakes changes both by the same amount.
    fake2 = FAKE + 1.0
    delta_smooth = losses.minimax_discriminator_loss(REAL, fake2, label_smoothing=ls) - out
    delta_plain = losses.minimax_discriminator_loss(REAL, fake2) - plain
    np.testing.assert_allclose(_np(delta_smooth), _np(delta_plain), rtol=1e-5)


def test_least_squares_label_smoothing():
    # real target 0.9: 0.5*(1-0.9)^2 + 0.5*0^2 = 0.005
    out = losses.least_squares_discriminator_loss([1.0], [0.0], label_smoothing=0.1)
    assert _np(out) == pytest.approx(0.005, rel=1e-4)
    np.testing.assert_allclose(
        _np(losses.least_squares_discriminator_loss(REAL, FAKE, label_smoothing=0.2)),
        np_ls_d(REAL, FAKE, 0.2),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        _np(losses.discriminator_loss("least_squares", REAL, FAKE, label_smoothing=0.2)),
        np_ls_d(REAL, FAKE, 0.2),
        rtol=1e-5,
    )


@pytest.mark.parametrize("name", ["hinge", "wasserstein"])
def test_label_smoothing_rejected_for_unsupported_losses(name):
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.discriminator_loss(name, REAL, FAKE, label_smoothing=0.1)
    # Zero smoothing is fine.
    losses.discriminator_loss(name, REAL, FAKE, label_smoothing=0.0)


def test_invalid_label_smoothing_value():
    with pytest.raises(ValueError):
        losses.minimax_discriminator_loss(REAL, FAKE, label_smoothing=1.5)
    with pytest.raises(ValueError):
        losses.least_squares_discriminator_loss(REAL, FAKE, label_smoothing=-0.1)


def test_smoothable_losses_table():
    assert set(losses.SMOOTHABLE_LOSSES) == {"minimax", "non_saturating", "least_squares"}
    for name in losses.SMOOTHABLE_LOSSES:
        losses.discriminator_loss(name, REAL, FAKE, label_smoothing=0.1)


# --------------------------------------------------------- shapes and dtypes


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_patch_logits_are_averaged_over_everything(name):
    rng = np.random.default_rng(0)
    real = rng.normal(size=(2, 3, 3, 1)).astype(np.float32)
    fake = rng.normal(size=(2, 3, 3, 1)).astype(np.float32)
    pair = losses.get_loss(name)
    d_patch = pair.discriminator(real, fake)
    g_patch = pair.generator(fake)
    assert_scalar_f32(d_patch)
    assert_scalar_f32(g_patch)
    np.testing.assert_allclose(
        _np(d_patch), _np(pair.discriminator(real.ravel(), fake.ravel())), rtol=1e-5
    )
    np.testing.assert_allclose(_np(g_patch), _np(pair.generator(fake.ravel())), rtol=1e-5)
    ref_d = dict((c[0], c[2]) for c in D_CASES)[name]
    np.testing.assert_allclose(_np(d_patch), ref_d(real.ravel(), fake.ravel()), rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_low_precision_logits_give_float32(name, dtype):
    pair = losses.get_loss(name)
    real = ops.cast(REAL, dtype)
    fake = ops.cast(FAKE, dtype)
    d = pair.discriminator(real, fake)
    g = pair.generator(fake)
    assert_scalar_f32(d)
    assert_scalar_f32(g)
    # Compare with the reference on the rounded low-precision inputs.
    ref_d = dict((c[0], c[2]) for c in D_CASES)[name]
    ref_g = dict((c[0], c[2]) for c in G_CASES)[name]
    real_np = _np(ops.cast(real, "float32")).astype(np.float64)
    fake_np = _np(ops.cast(fake, "float32")).astype(np.float64)
    np.testing.assert_allclose(_np(d), ref_d(real_np, fake_np), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(g), ref_g(fake_np), rtol=1e-5, atol=1e-6)


def test_losses_under_xla():
    d_fn = _compiled(lambda real, fake: losses.minimax_discriminator_loss(real, fake, label_smoothing=0.1))
    np.testing.assert_allclose(
        _np(d_fn(ops.convert_to_tensor(REAL), ops.convert_to_tensor(FAKE))),
        np_minimax_d(REAL, FAKE, 0.1),
        rtol=1e-5,
    )
    hinge_fn = _compiled(losses.hinge_discriminator_loss)
    np.testing.assert_allclose(
        _np(hinge_fn(ops.convert_to_tensor(REAL), ops.convert_to_tensor(FAKE))), np_hinge_d(REAL, FAKE), rtol=1e-5
    )
    g_fn = _compiled(losses.non_saturating_generator_loss)
    np.testing.assert_allclose(_np(g_fn(ops.convert_to_tensor(FAKE))), np_ns_g(FAKE), rtol=1e-5)


# --------------------------------------------------------- gradient penalty

IMG_SHAPE = (2, 3, 2)  # H, W, C


def make_linear_critic(w_value, b=0.5):
    """D(x) = sum(w * x) + b per example; input gradient is w everywhere."""
    w = keras.Variable(np.asarray(w_value, np.float32).reshape((1,) + IMG_SHAPE))
    b = keras.Variable(b)

    def critic(x):
        return ops.sum(w.value * x, axis=[1, 2, 3])[:, None] + b.value

    return critic, w


def random_images(seed, batch=4, low=-1.0, high=1.0):
    rng = np.random.default_rng(seed)
    return ops.convert_to_tensor(rng.uniform(low, high, size=(batch,) + IMG_SHAPE).astype(np.float32))


def unit_vector(seed):
    v = np.random.default_rng(seed).normal(size=IMG_SHAPE)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("norm,expected", [(2.0, 1.0), (1.0, 0.0), (3.0, 4.0)])
def test_gradient_penalty_linear_critic(norm, expected):
    critic, _ = make_linear_critic(norm * unit_vector(1))
    real, fake = random_images(2), random_images(3)
    gp = losses.wasserstein_gradient_penalty(critic, real, fake)
    assert_scalar_f32(gp)
    assert _np(gp) == pytest.approx(expected, abs=1e-5)
    # Independent of alpha.
    for a in (0.0, 0.3, 1.0):
        alpha = ops.full([4, 1, 1, 1], a)
        gp_a = losses.wasserstein_gradient_penalty(critic, real, fake, alpha=alpha)
        assert _np(gp_a) == pytest.approx(expected, abs=1e-5)


def test_gradient_penalty_is_differentiable_wrt_critic_weights():
    # GP = (||w|| - 1)^2  ->  dGP/dw = 2 (||w|| - 1) w / ||w||
    w_value = 2.0 * unit_vector(4)
    critic, w = make_linear_critic(w_value)
    gp, _, (grad,) = seam.gradients(
        lambda: losses.wasserstein_gradient_penalty(critic, random_images(5), random_images(6)), [w])
    assert grad is not None
    expected = 2.0 * (2.0 - 1.0) * w_value / 2.0
    np.testing.assert_allclose(_np(grad)[0], expected, rtol=1e-4, atol=1e-6)


def test_gradient_penalty_zero_gradient_is_finite():
    critic, w = make_linear_critic(np.zeros(IMG_SHAPE))
    real, fake = random_images(7), random_images(8)
    gp, _, (grad,) = seam.gradients(lambda: losses.wasserstein_gradient_penalty(critic, real, fake), [w])
    expected = (np.sqrt(1e-10) - 1.0) ** 2
    assert _np(gp) == pytest.approx(expected, rel=1e-5)
    assert _np(gp) == pytest.approx(1.0, abs=1e-4)
    assert np.all(np.isfinite(_np(grad)))
    # Sanity check that the epsilon matters: with no epsilon sqrt'(0) = inf
    # and the gradient becomes NaN.
    (grad0,) = _grad(lambda: losses.wasserstein_gradient_penalty(critic, real, fake, epsilon=0.0), [w])
    assert not np.all(np.isfinite(_np(grad0)))


def test_gradient_penalty_target():
    critic, _ = make_linear_critic(2.0 * unit_vector(9))
    gp = losses.wasserstein_gradient_penalty(critic, random_images(1), random_images(2), target=2.0)
    assert _np(gp) == pytest.approx(0.0, abs=1e-5)


class RecordingCritic:
    """D(x) = sum(x), remembering every input it saw (on JAX through a host callback: the input
    is a tracer of the penalty's input gradient)."""

    def __init__(self):
        self.inputs = []

    def __call__(self, x):
        if seam.BACKEND == "jax":
            import jax
            jax.debug.callback(lambda value: self.inputs.append(np.asarray(value)), x)
        else:
            self.inputs.append(x)
        return ops.sum(x, axis=[1, 2, 3])


def test_gradient_penalty_alpha_is_per_example_on_segment():
    batch = 8
    real = random_images(10, batch, -2.0, -1.0)
    fake = random_images(11, batch, 1.0, 2.0)  # fake - real >= 2 everywhere
    critic = RecordingCritic()
    losses.wasserstein_gradient_penalty(critic, real, fake, seed=123)
    (x_hat,) = critic.inputs
    assert x_hat.shape == real.shape
    alpha = _np(((x_hat - real) / (fake - real)))
    per_example = alpha.reshape(batch, -1)
    # One alpha per example (shape [B,1,1,1] broadcast), in [0, 1].
    np.testing.assert_allclose(per_example, per_example[:, :1] * np.ones_like(per_example), atol=1e-5)
    assert np.all(per_example >= -1e-6) and np.all(per_example <= 1 + 1e-6)
    assert len(np.unique(np.round(per_example[:, 0], 5))) > 1


def test_gradient_penalty_explicit_alpha():
    real, fake = random_images(12), random_images(13)
    alpha = ops.convert_to_tensor([0.0, 0.25, 0.5, 1.0])[:, None, None, None]
    critic = RecordingCritic()
    losses.wasserstein_gradient_penalty(critic, real, fake, alpha=alpha)
    np.testing.assert_allclose(
        _np(critic.inputs[0]), _np((real + alpha * (fake - real))), rtol=1e-6, atol=1e-6
    )


def _alphas(seed, calls=1):
    real = ops.zeros((5,) + IMG_SHAPE)
    fake = ops.ones((5,) + IMG_SHAPE)  # x_hat == alpha
    critic = RecordingCritic()
    for _ in range(calls):
        losses.wasserstein_gradient_penalty(critic, real, fake, seed=seed)
    return [_np(x)[:, 0, 0, 0] for x in critic.inputs]


def test_gradient_penalty_seed_reproduces_alpha():
    np.testing.assert_array_equal(_alphas(42)[0], _alphas(42)[0])
    assert not np.allclose(_alphas(42)[0], _alphas(43)[0])
    # A SeedGenerator gives a reproducible sequence of different draws.
    first = _alphas(keras.random.SeedGenerator(7), calls=2)
    second = _alphas(keras.random.SeedGenerator(7), calls=2)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.allclose(first[0], first[1])
    # seed=None draws from Keras' global generator: fresh alphas each call.
    unseeded = _alphas(None, calls=2)
    assert np.all((unseeded[0] >= 0) & (unseeded[0] <= 1))
    assert not np.allclose(unseeded[0], unseeded[1])


def test_gradient_penalty_under_xla():
    w_value = 2.0 * unit_vector(14)
    critic, w = make_linear_critic(w_value)

    @_compiled
    def step(real, fake):
        gp, _, (grad,) = seam.gradients(lambda: losses.wasserstein_gradient_penalty(critic, real, fake, seed=0), [w])
        return gp, grad

    gp, grad = step(random_images(15), random_images(16))
    assert _np(gp) == pytest.approx(1.0, abs=1e-5)
    # dGP/dw = 2 (||w|| - 1) w / ||w|| = w for ||w|| = 2.
    np.testing.assert_allclose(_np(grad)[0], w_value, rtol=1e-4, atol=1e-6)


def test_gradient_penalty_with_keras_critic_and_low_precision_images():
    critic = keras.Sequential(
        [keras.Input(IMG_SHAPE), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    # A fixed kernel of norm 2 (GP = 1): random initial weights made the float16 round-off
    # of the input gradient a varying share of (||w|| - 1)^2 and the test flaky.
    kernel = critic.layers[-1].kernel
    w = np.random.default_rng(5).normal(size=kernel.shape).astype("float32")
    kernel.assign(2.0 * w / np.linalg.norm(w))
    real = ops.cast(random_images(17), "float16")
    fake = ops.cast(random_images(18), "float16")

    def critic_f16(x):
        return critic(ops.cast(x, "float32"))

    gp, _, (kernel_grad, bias_grad) = seam.gradients(
        lambda: losses.wasserstein_gradient_penalty(critic_f16, real, fake, seed=1),
        [critic.layers[-1].kernel, critic.layers[-1].bias])
    assert_scalar_f32(gp)
    kernel = critic.layers[-1].kernel
    expected = (np.linalg.norm(_np(kernel)) - 1.0) ** 2
    assert _np(gp) == pytest.approx(expected, rel=1e-3)
    k = _np(kernel)
    norm = np.linalg.norm(k)
    np.testing.assert_allclose(
        _np(kernel_grad), 2.0 * (norm - 1.0) * k / norm, rtol=1e-2, atol=1e-3
    )
    # The bias does not affect input gradients: unconnected (None) or zero.
    assert bias_grad is None or np.allclose(_np(bias_grad), 0.0)


# ---------------------------------------------------------------------- R1


def test_r1_linear_critic():
    w_value = 3.0 * unit_vector(20)
    critic, w = make_linear_critic(w_value)
    r1, _, (grad,) = seam.gradients(lambda: losses.r1_penalty(critic, random_images(21)), [w])
    assert_scalar_f32(r1)
    assert _np(r1) == pytest.approx(9.0, rel=1e-5)  # ||w||^2, no gamma/2
    np.testing.assert_allclose(_np(grad)[0], 2.0 * w_value, rtol=1e-5)


def test_r1_quadratic_critic():
    real = random_images(22)

    def critic(x):
        return ops.sum(ops.square(x), axis=[1, 2, 3])

    r1 = losses.r1_penalty(critic, real)
    x = _np(real).astype(np.float64)
    expected = np.mean(np.sum((2.0 * x) ** 2, axis=(1, 2, 3)))
    assert _np(r1) == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------- weight clipping


def test_clip_weights():
    keras_var = keras.Variable([[1.0, -2.0], [0.003, 0.0]])
    if seam.BACKEND == "tensorflow":  # plain tf.Variables too
        import tensorflow as tf
        tf_var = tf.Variable([-0.5, 0.005, 0.02, -0.01])
        losses.clip_weights([tf_var], 0.01)
        np.testing.assert_allclose(tf_var.numpy(), [-0.01, 0.005, 0.01, -0.01])
    losses.clip_weights([keras_var], 0.01)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras_var), [[0.01, -0.01], [0.003, 0.0]]
    )


def test_clip_weights_keras_layer():
    layer = keras.layers.Dense(3)
    layer.build((None, 4))
    layer.kernel.assign(np.full((4, 3), 5.0, np.float32))
    losses.clip_weights(layer.trainable_variables, 0.1)
    assert np.max(np.abs(keras.ops.convert_to_numpy(layer.kernel))) == pytest.approx(0.1)


@pytest.mark.parametrize("bad", [0.0, -0.01, 0])
def test_clip_weights_rejects_non_positive(bad):
    v = keras.Variable([1.0])
    with pytest.raises(ValueError, match="clip_value"):
        losses.clip_weights([v], bad)
    assert _np(v)[0] == 1.0


# -------------------------------------------------------- feature matching


def test_feature_matching_literal():
    real = [[1.0, 2.0], [3.0, 4.0]]  # batch mean [2, 3]
    fake = [[0.0, 0.0], [2.0, 2.0]]  # batch mean [1, 1]
    out = losses.feature_matching_loss(real, fake)
    assert_scalar_f32(out)
    assert _np(out) == pytest.approx(2.5)  # mean([1, 4])


def test_feature_matching_numpy():
    rng = np.random.default_rng(30)
    real = rng.normal(size=(5, 3, 4)).astype(np.float32)
    fake = rng.normal(size=(7, 3, 4)).astype(np.float32)
    expected = np.mean((real.mean(axis=0) - fake.mean(axis=0)) ** 2)
    np.testing.assert_allclose(
        _np(losses.feature_matching_loss(real, ops.cast(fake, "float16"))),
        np.mean((real.mean(axis=0) - fake.astype(np.float16).astype(np.float32).mean(axis=0)) ** 2),
        rtol=1e-4,
    )
    np.testing.assert_allclose(_np(losses.feature_matching_loss(real, fake)), expected, rtol=1e-5)
    assert _np(losses.feature_matching_loss(real, real)) == pytest.approx(0.0, abs=1e-12)


# ------------------------------------------------------------------ lookup


def test_loss_table():
    assert set(losses.LOSSES) == {
        "minimax",
        "non_saturating",
        "least_squares",
        "hinge",
        "wasserstein",
    }
    pair = losses.get_loss("hinge")
    assert isinstance(pair, losses.LossPair)
    assert pair.discriminator is losses.hinge_discriminator_loss
    assert pair.generator is losses.hinge_generator_loss
    assert losses.get_loss("non_saturating").generator is losses.non_saturating_generator_loss
    assert losses.get_loss("minimax").generator is losses.minimax_generator_loss


def test_get_loss_unknown_name_suggests_closest():
    with pytest.raises(ValueError) as info:
        losses.get_loss("hinje")
    message = str(info.value)
    assert "hinje" in message
    assert "did you mean 'hinge'" in message
    for name in losses.LOSSES:
        assert name in message


def test_get_loss_unknown_name_without_close_match():
    with pytest.raises(ValueError, match="Valid losses") as info:
        losses.get_loss("xyzzy")
    assert "did you mean" not in str(info.value)
    with pytest.raises(ValueError):
        losses.generator_loss("least_square_s_", FAKE)
    with pytest.raises(ValueError):
        losses.discriminator_loss("wgan", REAL, FAKE)
