"""GAN objectives and regularisers, written as pure functions on logits.

Conventions used throughout:

* Discriminators (critics) return **logits**, never probabilities, so that the
  cross-entropy losses can be computed in the numerically stable
  ``softplus`` form.
* Real examples have target 1 and generated ("fake") examples target 0.
* Every loss returns a ``float32`` scalar tensor: the mean over the batch and
  over any extra logit dimensions (e.g. PatchGAN maps of shape ``[B, H, W, 1]``
  are averaged over every element).
* Inputs may be ``float16``/``bfloat16`` under mixed precision; they are cast to
  ``float32`` before any arithmetic.

All functions are ``keras.ops`` and work on the TensorFlow and JAX backends, eagerly,
inside ``tf.function`` / ``jax.jit`` and under XLA. The penalties' input gradient is
the one backend-specific piece (:func:`ganzoo.seam.input_gradients`).

The :data:`LOSSES` table maps a name to a :class:`LossPair` of
``(discriminator, generator)`` functions; :func:`get_loss`,
:func:`discriminator_loss` and :func:`generator_loss` look losses up by name.
"""

import collections
import difflib

import keras
import numpy as np
from keras import ops

__all__ = [
    "LossPair",
    "LOSSES",
    "SMOOTHABLE_LOSSES",
    "get_loss",
    "discriminator_loss",
    "generator_loss",
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "non_saturating_discriminator_loss",
    "non_saturating_generator_loss",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "wasserstein_discriminator_loss",
    "wasserstein_generator_loss",
    "wasserstein_gradient_penalty",
    "r1_penalty",
    "clip_weights",
    "feature_matching_loss",
    "mean_squared_error",
    "mean_absolute_error",
]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _f32(x):
    """Converts ``x`` to a float32 tensor (mixed-precision inputs included)."""
    return ops.cast(ops.convert_to_tensor(x), "float32")


def _static(x):
    """The value of ``x`` when it is known outside a traced step (a Python or NumPy number,
    an eager tensor), else None."""
    if isinstance(x, (bool, int, float, np.number, np.ndarray)):
        return np.asarray(x)
    try:
        return np.asarray(ops.convert_to_numpy(x))
    except Exception:  # a symbolic tensor or a tracer: unknown until the step runs
        return None


def _check_label_smoothing(label_smoothing):
    """Validates a static label-smoothing value (tensors are passed through)."""
    value = _static(label_smoothing)
    if value is None:
        return
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(
            f"label_smoothing must be in [0, 1), got {label_smoothing!r}"
        )


def _sum_non_batch(x):
    """Sums ``x`` over every axis except the first (the batch axis)."""
    rank = len(x.shape)
    return ops.sum(x, axis=list(range(1, rank)))


def _overflow_skips_step(penalty):
    """A loss-scaled penalty whose scaled inner gradient overflowed (inf/NaN).

    With dynamic loss scaling an overflow is routine (the scale starts high and is lowered
    on overflow): the ``LossScaleOptimizer`` skips that step. An ordinary loss stays finite
    because only its gradients are scaled; a penalty computed *from* a scaled gradient does
    not, and an inf value would poison the epoch's loss means (and stop training through
    ``ganzoo.guard``). So the value of an overflowed penalty is reported as 0 for that step
    while its gradient is NaN, which makes the optimizer skip the step and lower the scale
    as for any overflow. A genuinely divergent critic drives the scale below 1, which
    ``ganzoo.guard.DivergenceGuard`` reports.
    """

    @ops.custom_gradient
    def finite_value(p):
        finite = ops.isfinite(p)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.where(finite, upstream, ops.full_like(upstream, float("nan")))

        return ops.where(finite, p, ops.zeros_like(p)), grad

    return finite_value(penalty)


def _sigmoid_cross_entropy(labels, logits):
    """Elementwise binary cross-entropy of ``logits`` against ``labels`` in the stable form
    ``max(x, 0) - x * z + log(1 + exp(-|x|))`` (as ``tf.nn.sigmoid_cross_entropy_with_logits``)."""
    return ops.relu(logits) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))


def _input_gradients(critic, x, loss_scale=None):
    """Gradient of ``sum(critic(x))`` with respect to the input ``x``.

    The critic's forward pass is differentiated by the backend
    (:func:`ganzoo.seam.input_gradients`) so that the returned gradient is itself differentiable with respect to the critic's
    variables when this is called inside an outer tape (double backprop, as
    needed by WGAN-GP and R1). Summing the outputs gives per-example input
    gradients because examples in a batch are independent. The outputs are
    summed in float32; the gradient has the dtype of ``x``. A critic whose
    output does not depend on ``x`` yields zero gradients instead of ``None``.

    ``loss_scale`` (mixed precision): the summed outputs are multiplied by it
    before differentiating, so float16 intermediate gradients do not underflow,
    and the float32 result is divided by it again. A non-finite result (the
    scale overflowed) makes the outer gradients non-finite too, which a
    ``LossScaleOptimizer`` answers by skipping the step and lowering the scale.
    """
    from ganzoo.seam import input_gradients

    def total(inputs):
        value = ops.sum(_f32(critic(inputs)))
        return value if loss_scale is None else value * _f32(loss_scale)

    grads = input_gradients(total, x)
    if loss_scale is not None:
        grads = _f32(grads) / _f32(loss_scale)
    return grads


# --------------------------------------------------------------------------
# Minimax / non-saturating (Goodfellow et al., 2014)
# --------------------------------------------------------------------------


def minimax_discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """Binary cross-entropy discriminator loss of the original GAN.

    Goodfellow et al. 2014, "Generative Adversarial Nets": D maximises
    ``log D(x) + log(1 - D(G(z)))``, i.e. minimises
    ``BCE(real, 1) + BCE(fake, 0)``. Computed from logits with
    the stable ``max(x, 0) - x z + log(1 + exp(-|x|))`` form.

    ``label_smoothing`` implements one-sided label smoothing (Salimans et al.
    2016, "Improved Techniques for Training GANs"): the real target becomes
    ``1 - label_smoothing`` while the fake target stays 0.
    """
    _check_label_smoothing(label_smoothing)
    real_logits = _f32(real_logits)
    fake_logits = _f32(fake_logits)
    real_target = ops.ones_like(real_logits) * (
        1.0 - ops.cast(label_smoothing, "float32")
    )
    real_loss = _sigmoid_cross_entropy(
        labels=real_target, logits=real_logits
    )
    fake_loss = _sigmoid_cross_entropy(
        labels=ops.zeros_like(fake_logits), logits=fake_logits
    )
    return ops.mean(real_loss) + ops.mean(fake_loss)


def minimax_generator_loss(fake_logits):
    """Original (saturating) minimax generator loss.

    Goodfellow et al. 2014: G minimises ``E[log(1 - D(G(z)))]``. With logits,
    ``log(1 - sigmoid(x)) = -softplus(x)``, so the loss is
    ``-mean(softplus(fake_logits))``. Its gradient vanishes when D confidently
    rejects the samples (early in training), which is why the non-saturating
    variant is normally preferred; kept for completeness and comparison.
    """
    fake_logits = _f32(fake_logits)
    return -ops.mean(ops.softplus(fake_logits))


def non_saturating_discriminator_loss(
    real_logits, fake_logits, label_smoothing=0.0
):
    """Discriminator loss of the non-saturating GAN.

    Identical to :func:`minimax_discriminator_loss` (Goodfellow et al. 2014):
    only the generator objective differs between the two formulations.
    """
    return minimax_discriminator_loss(
        real_logits, fake_logits, label_smoothing=label_smoothing
    )


def non_saturating_generator_loss(fake_logits):
    """Non-saturating generator loss ``-E[log D(G(z))]``.

    Goodfellow et al. 2014 (Section 3): instead of minimising
    ``log(1 - D(G(z)))``, G maximises ``log D(G(z))``, which gives strong
    gradients when D rejects the samples. Equals BCE with target 1:
    ``mean(softplus(-fake_logits))``.
    """
    fake_logits = _f32(fake_logits)
    return ops.mean(ops.softplus(-fake_logits))


# --------------------------------------------------------------------------
# Least squares (Mao et al., 2017)
# --------------------------------------------------------------------------


def least_squares_discriminator_loss(
    real_logits, fake_logits, label_smoothing=0.0
):
    """LSGAN discriminator loss.

    Mao et al. 2017, "Least Squares Generative Adversarial Networks", with the
    0-1 coding ``a=0, b=1, c=1``:
    ``0.5 * mean((real - b)^2) + 0.5 * mean((fake - a)^2)``. Penalising samples
    by their distance to the decision boundary avoids vanishing gradients.
    ``label_smoothing`` (one-sided) sets ``b = 1 - label_smoothing``.
    """
    _check_label_smoothing(label_smoothing)
    real_logits = _f32(real_logits)
    fake_logits = _f32(fake_logits)
    real_target = 1.0 - ops.cast(label_smoothing, "float32")
    return 0.5 * ops.mean(
        ops.square(real_logits - real_target)
    ) + 0.5 * ops.mean(ops.square(fake_logits))


def least_squares_generator_loss(fake_logits):
    """LSGAN generator loss ``0.5 * mean((fake - c)^2)`` with ``c = 1``.

    Mao et al. 2017: G pulls its samples' scores towards the real target.
    """
    fake_logits = _f32(fake_logits)
    return 0.5 * ops.mean(ops.square(fake_logits - 1.0))


# --------------------------------------------------------------------------
# Hinge (Lim & Ye, 2017; Miyato et al., 2018)
# --------------------------------------------------------------------------


def hinge_discriminator_loss(real_logits, fake_logits):
    """Hinge discriminator loss ``mean(relu(1 - real)) + mean(relu(1 + fake))``.

    Lim & Ye 2017, "Geometric GAN"; popularised by Miyato et al. 2018
    ("Spectral Normalization for GANs") and SAGAN/BigGAN. D is only penalised
    for examples inside the margin, which stabilises training.
    """
    real_logits = _f32(real_logits)
    fake_logits = _f32(fake_logits)
    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(
        ops.relu(1.0 + fake_logits)
    )


def hinge_generator_loss(fake_logits):
    """Hinge generator loss ``-mean(fake)`` (Lim & Ye 2017; Miyato et al. 2018).

    The generator simply raises the critic's score of its samples.
    """
    fake_logits = _f32(fake_logits)
    return -ops.mean(fake_logits)


# --------------------------------------------------------------------------
# Wasserstein (Arjovsky et al., 2017; Gulrajani et al., 2017)
# --------------------------------------------------------------------------


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """WGAN critic loss ``mean(fake) - mean(real)``.

    Arjovsky et al. 2017, "Wasserstein GAN": a 1-Lipschitz critic maximising
    ``E[D(real)] - E[D(fake)]`` estimates the Wasserstein-1 distance. The
    Lipschitz constraint must be enforced separately, by
    :func:`clip_weights` (WGAN) or :func:`wasserstein_gradient_penalty`
    (WGAN-GP).
    """
    real_logits = _f32(real_logits)
    fake_logits = _f32(fake_logits)
    return ops.mean(fake_logits) - ops.mean(real_logits)


def wasserstein_generator_loss(fake_logits):
    """WGAN generator loss ``-mean(fake)`` (Arjovsky et al. 2017)."""
    fake_logits = _f32(fake_logits)
    return -ops.mean(fake_logits)


def wasserstein_gradient_penalty(
    critic, real, fake, alpha=None, seed=None, target=1.0, epsilon=1e-10,
    loss_scale=None,
):
    """WGAN-GP two-sided gradient penalty ``mean((||grad D(x_hat)|| - 1)^2)``.

    Gulrajani et al. 2017, "Improved Training of Wasserstein GANs": the
    Lipschitz constraint is softly enforced on points
    ``x_hat = real + alpha * (fake - real)`` sampled uniformly on straight
    lines between real and generated examples. The caller multiplies the
    result by lambda (10 in the paper).

    Args:
        critic: callable mapping an image batch to logits. For conditional
            critics, close over the labels (``lambda x: critic([x, y])``).
        real: real batch, shape ``[B, ...]``.
        fake: generated batch, same shape as ``real`` (cast to its dtype).
        alpha: optional per-example interpolation weights broadcastable to
            ``[B, 1, ..., 1]``. When ``None`` they are drawn from ``U[0, 1]``
            with ``keras.random.uniform(..., seed=seed)``.
        seed: ``keras.random.SeedGenerator``, int or ``None``; only used when
            ``alpha`` is ``None``. An int gives the same alpha on every call,
            so pass a ``SeedGenerator`` for reproducible yet varying draws.
        target: target gradient norm (1 in the paper).
        epsilon: added **inside** the square root of the norm so its gradient
            stays finite when the input gradient is exactly zero.
        loss_scale: mixed precision: the critic optimizer's loss scale, applied
            to the inner (input) gradient and removed again (see
            ``_input_gradients``); None (float32) leaves it unscaled.

    Returns:
        float32 scalar. Differentiable w.r.t. the critic's variables when
        called inside a gradient closure (``AdversarialModel.descend``). The interpolation uses the
        images' dtype; the norm and penalty are computed in float32.
    """
    real = ops.convert_to_tensor(real)
    fake = ops.cast(ops.convert_to_tensor(fake), real.dtype)
    rank = len(real.shape)
    if alpha is None:
        alpha_shape = [ops.shape(real)[0]] + [1] * (rank - 1)
        alpha = keras.random.uniform(alpha_shape, seed=seed)
    alpha = ops.cast(ops.convert_to_tensor(alpha), real.dtype)
    x_hat = real + alpha * (fake - real)
    grads = _f32(_input_gradients(critic, x_hat, loss_scale=loss_scale))
    norm = ops.sqrt(_sum_non_batch(ops.square(grads)) + epsilon)
    penalty = ops.mean(ops.square(norm - ops.cast(target, "float32")))
    return penalty if loss_scale is None else _overflow_skips_step(penalty)


def r1_penalty(critic, real, loss_scale=None):
    """R1 regulariser: ``mean_batch(||grad D(real)||^2)``.

    Mescheder et al. 2018, "Which Training Methods for GANs do actually
    Converge?": penalising the critic's input-gradient norm on real data only
    makes training locally convergent. Returned WITHOUT the ``gamma / 2``
    factor; the caller multiplies by it. For a conditional critic, close over
    the labels. Float32 scalar, differentiable w.r.t. the critic's variables.
    ``loss_scale`` as in :func:`wasserstein_gradient_penalty`.
    """
    real = ops.convert_to_tensor(real)
    grads = _f32(_input_gradients(critic, real, loss_scale=loss_scale))
    penalty = ops.mean(_sum_non_batch(ops.square(grads)))
    return penalty if loss_scale is None else _overflow_skips_step(penalty)


def clip_weights(variables, clip_value):
    """Clips every variable in place to ``[-clip_value, clip_value]``.

    Arjovsky et al. 2017: weight clipping (0.01 in the paper) is WGAN's crude
    way to keep the critic (roughly) Lipschitz. Call after each critic update.

    Raises:
        ValueError: if ``clip_value`` is not positive.
    """
    static = _static(clip_value)
    if static is None or not float(static) > 0.0:
        raise ValueError(
            f"clip_value must be a positive number, got {clip_value!r}"
        )
    for variable in variables:
        value = ops.convert_to_tensor(variable)
        c = ops.cast(static, value.dtype)
        variable.assign(ops.clip(value, -c, c))


# --------------------------------------------------------------------------
# Feature matching (Salimans et al., 2016)
# --------------------------------------------------------------------------


def feature_matching_loss(real_features, fake_features):
    """Feature-matching generator loss.

    Salimans et al. 2016, "Improved Techniques for Training GANs": G matches
    the batch mean of an intermediate discriminator feature on real data,
    ``mean_features((mean_batch(real) - mean_batch(fake))^2)``. Batch sizes
    of real and fake may differ; feature shapes must agree.
    """
    real_features = _f32(real_features)
    fake_features = _f32(fake_features)
    diff = ops.mean(real_features, axis=0) - ops.mean(
        fake_features, axis=0
    )
    return ops.mean(ops.square(diff))


# --------------------------------------------------------------------------
# Reconstruction terms of image-to-image GANs
# --------------------------------------------------------------------------


def mean_squared_error(target, prediction):
    """``mean((target - prediction)^2)`` over every element.

    SRResNet's pixel loss and, on VGG19 features, SRGAN's content loss
    (Ledig et al. 2017, eqs. 4-5).
    """
    return ops.mean(ops.square(_f32(target) - _f32(prediction)))


def mean_absolute_error(target, prediction):
    """``mean(|target - prediction|)`` over every element.

    CycleGAN's cycle-consistency ``||F(G(x)) - x||_1`` and identity
    ``||G(y) - y||_1`` terms (Zhu et al. 2017, eq. 2 and sec. 5.2).
    """
    return ops.mean(ops.abs(_f32(target) - _f32(prediction)))


# --------------------------------------------------------------------------
# Lookup by name
# --------------------------------------------------------------------------

LossPair = collections.namedtuple("LossPair", ["discriminator", "generator"])
LossPair.__doc__ = "A (discriminator loss, generator loss) pair of functions."

LOSSES = {
    "minimax": LossPair(minimax_discriminator_loss, minimax_generator_loss),
    "non_saturating": LossPair(
        non_saturating_discriminator_loss, non_saturating_generator_loss
    ),
    "least_squares": LossPair(
        least_squares_discriminator_loss, least_squares_generator_loss
    ),
    "hinge": LossPair(hinge_discriminator_loss, hinge_generator_loss),
    "wasserstein": LossPair(
        wasserstein_discriminator_loss, wasserstein_generator_loss
    ),
}

# Losses whose discriminator function accepts ``label_smoothing``.
SMOOTHABLE_LOSSES = ("minimax", "non_saturating", "least_squares")


def get_loss(name):
    """Returns the :class:`LossPair` registered under ``name``.

    Raises:
        ValueError: for an unknown name; the message lists the valid names
            and the closest match, if any.
    """
    if not isinstance(name, str):
        raise ValueError(
            f"loss name must be a string, got {name!r}. "
            f"Valid losses: {', '.join(sorted(LOSSES))}"
        )
    if name in LOSSES:
        return LOSSES[name]
    message = f"unknown loss {name!r}"
    matches = difflib.get_close_matches(name, list(LOSSES), n=1)
    if matches:
        message += f"; did you mean {matches[0]!r}?"
    else:
        message += "."
    raise ValueError(f"{message} Valid losses: {', '.join(sorted(LOSSES))}")


def discriminator_loss(name, real_logits, fake_logits, label_smoothing=0.0):
    """Discriminator loss ``name`` applied to the given logits.

    Raises:
        ValueError: for an unknown name, or a non-zero ``label_smoothing``
            with a loss outside :data:`SMOOTHABLE_LOSSES` (a symbolic
            smoothing value is rejected for those losses too, since it cannot
            be checked).
    """
    pair = get_loss(name)
    if name in SMOOTHABLE_LOSSES:
        return pair.discriminator(
            real_logits, fake_logits, label_smoothing=label_smoothing
        )
    static = _static(label_smoothing)
    if static is None or np.any(np.asarray(static) != 0):
        raise ValueError(
            f"loss {name!r} does not support label_smoothing "
            f"(got {label_smoothing!r}); only {', '.join(SMOOTHABLE_LOSSES)} do."
        )
    return pair.discriminator(real_logits, fake_logits)


def generator_loss(name, fake_logits):
    """Generator loss ``name`` applied to ``fake_logits``."""
    return get_loss(name).generator(fake_logits)
