"""Augmentation in the discriminator's path, for training on a few hundred images.

With little data the discriminator memorises the training set and the generator collapses.
Two cures from 2020, both applied to *every* image the discriminator sees (real and fake, in
the D step and in the G step) and differentiable, so the generator's gradients pass through:

* **DiffAugment** (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
  Training", arXiv:2006.10738): a fixed policy of ``color`` (brightness, saturation,
  contrast), ``translation`` (up to 1/8 of the image, zero fill) and ``cutout`` (a square of
  half the image size set to 0), each on every image. The ops follow the official
  TensorFlow implementation (``DiffAugment_tf.py``).
* **ADA** (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data",
  arXiv:2006.06676): a pipeline of geometric and colour transforms, each applied to an image
  with probability ``p``; ``p`` is adjusted from the overfitting heuristic
  ``r_t = E[sign(D(real))]`` towards a target (0.6): every ``interval`` (4) D minibatches,
  ``p += sign(r_t - target) * batch * interval / (kimg * 1000)``, so that p can go from 0 to
  1 in ``kimg`` (500) thousand images; as in the official code p is kept >= 0 but not capped
  at 1 (above 1 every transform is always applied). The pipeline ("bgc" of the paper, as the
  official ``training/augment.py``) holds x-flips (an image is mirrored with probability
  p / 2), rotations by multiples of 90 degrees, integer translation (up to 1/8), isotropic
  scaling, a pre-rotation, anisotropic scaling, a post-rotation, fractional translation
  (composed into one affine warp, bilinear with reflection padding), then brightness,
  contrast, luma flip, hue rotation and saturation (one colour matrix; grey images get
  brightness, contrast and the luma flip, which inverts them).

Deviations from both papers: colour ops clip their output to [-1, 1], so the discriminator
never sees values a real image cannot have (a tanh generator cannot make them either); the
gradient is unchanged for every pixel that is not clipped. ADA's warp samples bilinearly
without the official code's 2x-upsampled, wavelet-filtered resampling (see the ADA section).

Generated images never pass through here: ``generate``, ``SampleGrid`` and export use the
generator alone (tests/test_augment.py checks it). At ``p = 0`` the ADA pipeline is the
identity (every per-image matrix is the identity and the bilinear warp samples at pixel
centres).

:class:`AugmentPipeline` is a Keras layer owned by the model, so its state (``p``, the sign
accumulator) is part of ``model.weights``: ``model.save`` and ``ganzoo.checkpoint`` keep it
and a resumed run continues with the same ``p``.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import keras
import numpy as np
from keras import ops

# The ops below are keras.ops only, so they run in a TensorFlow graph (tf.function, XLA) and
# inside the jitted JAX step alike; only the cross-replica sum of the p controller's
# statistics under tf.distribute needs TensorFlow itself.
_BACKEND = keras.backend.backend()
if _BACKEND == "tensorflow":
    import tensorflow as tf

__all__ = [
    "DIFF_AUGMENT_OPS",
    "ADA_OPS",
    "AugmentPipeline",
    "parse_policy",
    "diff_augment",
    "augment_color",
    "augment_translation",
    "augment_cutout",
    "ada_augment",
    "ada_adjustment",
    "warp_images",
]

#: DiffAugment policy names (Zhao et al. 2020).
DIFF_AUGMENT_OPS = ("color", "translation", "cutout")
#: The ADA pipeline's transforms, in the order they are applied (Karras et al. 2020, appendix B;
#: the official AugmentPipe's names). ``rotate`` is two rotations, before and after ``aniso``.
ADA_OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
           "brightness", "contrast", "lumaflip", "hue", "saturation")


def parse_policy(policy: str) -> list[str]:
    """``"color,translation,cutout"`` -> the list of DiffAugment ops; ``""`` -> ``[]``.

    Raises ValueError naming the unknown op and the valid ones.
    """
    names = [p.strip() for p in str(policy or "").split(",") if p.strip()]
    for op in names:
        if op not in DIFF_AUGMENT_OPS:
            import difflib  # noqa: PLC0415

            close = difflib.get_close_matches(op, DIFF_AUGMENT_OPS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"unknown DiffAugment op '{op}'{hint} (choose from {', '.join(DIFF_AUGMENT_OPS)}, "
                             f"comma-separated)")
    if len(set(names)) != len(names):
        raise ValueError(f"DiffAugment policy '{policy}' names an op twice")
    return names


# Every random number of this module is drawn by one of these three, from the caller's
# keras.random.SeedGenerator (the model's, in a train step).

def _uniform(shape, seed, low=0.0, high=1.0):
    return keras.random.uniform(shape, minval=low, maxval=high, seed=seed)


def _normal(shape, seed):
    return keras.random.normal(shape, seed=seed)


def _randint(shape, low: int, high: int, seed):
    """Integers in ``[low, high)`` (int32)."""
    return keras.random.randint(shape, low, high, seed=seed)


def _batch(images):
    """The batch size: a Python int where it is static (JAX), a scalar tensor in a TF graph."""
    return ops.shape(images)[0]


def _pair(first: float, second: float):
    """A float32 (2,) constant (per-axis sizes)."""
    return ops.convert_to_tensor(np.array([first, second], "float32"))


# ====================================================================== DiffAugment

def augment_color(images, seed=None):
    """DiffAugment ``color``: per image, brightness + U(-0.5, 0.5), saturation x U(0, 2)
    around the pixel's channel mean, contrast x U(0.5, 1.5) around the image mean; clipped to
    [-1, 1]."""
    x = ops.convert_to_tensor(images)
    n = _batch(x)
    x = x + (_uniform((n, 1, 1, 1), seed) - 0.5)
    mean = ops.mean(x, axis=3, keepdims=True)
    x = (x - mean) * (_uniform((n, 1, 1, 1), seed) * 2.0) + mean
    mean = ops.mean(x, axis=[1, 2, 3], keepdims=True)
    x = (x - mean) * (_uniform((n, 1, 1, 1), seed) + 0.5) + mean
    return ops.clip(x, -1.0, 1.0)


def augment_translation(images, seed=None, ratio: float = 0.125):
    """DiffAugment ``translation``: shift each image by an integer in
    ``[-(ratio * size + 0.5), ratio * size + 0.5]`` pixels on each axis, filling with 0."""
    x = ops.convert_to_tensor(images)
    n = _batch(x)
    height, width = int(x.shape[1]), int(x.shape[2])
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    ty = ops.cast(_randint((n,), -shift_y, shift_y + 1, seed), "float32")
    tx = ops.cast(_randint((n,), -shift_x, shift_x + 1, seed), "float32")
    # Output pixel (x, y) reads input pixel (x - tx, y - ty).
    return warp_images(x, _translation(-tx, -ty), fill="zeros")


def augment_cutout(images, seed=None, ratio: float = 0.5):
    """DiffAugment ``cutout``: set a square of ``ratio * size`` pixels at a random position
    (it may leave the image partly) to 0."""
    x = ops.convert_to_tensor(images)
    n = _batch(x)
    height, width = int(x.shape[1]), int(x.shape[2])
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    off_y = _randint((n, 1, 1), 0, height + (1 - cut_h % 2), seed)
    off_x = _randint((n, 1, 1), 0, width + (1 - cut_w % 2), seed)
    ys = ops.arange(height, dtype="int32")[None, :, None] - (off_y - cut_h // 2)
    xs = ops.arange(width, dtype="int32")[None, None, :] - (off_x - cut_w // 2)
    inside = (ys >= 0) & (ys < cut_h) & (xs >= 0) & (xs < cut_w)
    return x * ops.cast(ops.logical_not(inside), x.dtype)[..., None]


_DIFF_OPS = {"color": augment_color, "translation": augment_translation, "cutout": augment_cutout}


def diff_augment(images, policy: Sequence[str], seed=None):
    """Apply the DiffAugment ops of ``policy`` (a list or ``"color,translation,cutout"``) in order."""
    names = parse_policy(policy) if isinstance(policy, str) else list(policy)
    x = images
    for op in names:
        x = _DIFF_OPS[op](x, seed=seed)
    return x


# ====================================================================== warping

def _matrix(rows):
    """(n, 3, 3) from nested lists of (n,) tensors."""
    return ops.stack([ops.stack(r, axis=-1) for r in rows], axis=-2)


def _translation(tx, ty):
    one, zero = ops.ones_like(tx), ops.zeros_like(tx)
    return _matrix([[one, zero, tx], [zero, one, ty], [zero, zero, one]])


def _scale(sx, sy):
    one, zero = ops.ones_like(sx), ops.zeros_like(sx)
    return _matrix([[sx, zero, zero], [zero, sy, zero], [zero, zero, one]])


def _rotation(angle):
    angle = ops.convert_to_tensor(angle)
    c, s = ops.cos(angle), ops.sin(angle)
    one, zero = ops.ones_like(angle), ops.zeros_like(angle)
    return _matrix([[c, -s, zero], [s, c, zero], [zero, zero, one]])


def _reflect(index, size: int):
    """Reflection padding without repeating the edge (``d c b | a b c d | c b a``), for any
    integer index (unbounded: it folds as often as needed)."""
    if size == 1:
        return ops.zeros_like(index)
    period = 2 * (size - 1)
    index = ops.mod(index, period)  # floor modulo: in [0, period) for negative indices too
    return ops.where(index > size - 1, period - index, index)


def warp_images(images, matrices, fill: str = "reflect"):
    """Bilinear warp: output pixel ``(x, y)`` (pixel centres 0..W-1, 0..H-1, measured from
    the image centre) reads the input at ``matrices[i] @ (x, y, 1)``.

    ``fill`` is ``reflect`` (ADA) or ``zeros`` (DiffAugment translation). Identity matrices
    give the input exactly. Differentiable with respect to ``images`` (a gather and a
    weighted sum); XLA-compatible on both backends.
    """
    x = ops.convert_to_tensor(images)
    n = _batch(x)
    height, width, channels = int(x.shape[1]), int(x.shape[2]), int(x.shape[3])
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    # Output pixel centres relative to the image centre, homogeneous: (3, HW), x fastest.
    gy, gx = np.meshgrid(np.arange(height, dtype="float32") - np.float32(cy),
                         np.arange(width, dtype="float32") - np.float32(cx), indexing="ij")
    grid = ops.convert_to_tensor(np.stack([gx.reshape(-1), gy.reshape(-1), np.ones(height * width, "float32")]))
    src = ops.einsum("nij,jk->nik", ops.cast(matrices, "float32"), grid)  # (n, 3, HW)
    sx, sy = src[:, 0] + cx, src[:, 1] + cy
    x0, y0 = ops.floor(sx), ops.floor(sy)
    fx, fy = sx - x0, sy - y0
    x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
    # One gather over all images: rows of (n * H * W, C), image i's pixels from i * H * W.
    flat = ops.reshape(x, [-1, channels])
    first = ops.arange(n, dtype="int32")[:, None] * (height * width)  # (n, 1)

    def tap(ix, iy, weight):
        if fill == "reflect":
            ix, iy = _reflect(ix, width), _reflect(iy, height)
        else:
            inside = (ix >= 0) & (ix < width) & (iy >= 0) & (iy < height)
            weight = weight * ops.cast(inside, weight.dtype)
            ix, iy = ops.clip(ix, 0, width - 1), ops.clip(iy, 0, height - 1)
        values = ops.take(flat, first + iy * width + ix, axis=0)  # (n, HW, C)
        return values * ops.cast(weight, x.dtype)[..., None]

    out = (tap(x0, y0, (1 - fx) * (1 - fy)) + tap(x0 + 1, y0, fx * (1 - fy))
           + tap(x0, y0 + 1, (1 - fx) * fy) + tap(x0 + 1, y0 + 1, fx * fy))
    return ops.reshape(out, [n, height, width, channels])


# ====================================================================== ADA
#
# The pipeline follows training/augment.py of the official stylegan2-ada-pytorch (AugmentPipe
# with the "bgc" multipliers, all 1): the same transforms, order, parameter distributions and
# probabilities. Two deliberate simplifications, both in how the warp is executed, not in
# what is drawn: the reference upsamples 2x with a sym6 wavelet low-pass filter, samples
# bilinearly and downsamples again (less aliasing under rotation and scaling); ganzoo samples
# the input bilinearly at the output pixels directly, with unbounded reflection instead of
# the reference's reflect pad of at most one image size plus zeros beyond it.

#: Strengths of the ADA "bgc" pipeline (Karras et al. 2020, appendix B.2; official defaults).
ADA_STRENGTH = {"xint_max": 0.125, "scale_std": 0.2, "rotate_max": 1.0, "aniso_std": 0.2, "xfrac_std": 0.125,
                "brightness_std": 0.2, "contrast_std": 0.5, "hue_max": 1.0, "saturation_std": 1.0}


def _chosen(p, n, seed):
    """(n,) bool: which images get this transform (each with probability p)."""
    return _uniform((n,), seed) < p


def _ada_geometric_params(n, p, size_h: int, size_w: int, seed) -> dict:
    """Per-image parameters of ADA's geometric transforms; an image that skips a transform
    gets its identity value (flip 0, quarter turns 0, shifts 0, scales 1, angles 0).

    ``xflip``: i ~ U{0, 1}, applied with probability p, so an image is mirrored with
    probability p / 2. The augmented distribution (1 - p/2) D + (p/2) mirror(D) then still
    determines D for every p < 1 (non-leaking); mirroring with probability p itself reaches
    the 50/50 mix, where an image and its mirror are indistinguishable, at p = 0.5 already.
    ``rotate90``: i ~ U{0..3} quarter turns, with probability p. ``xint``/``xfrac``: one draw
    decides both axes; shifts in pixels. ``rotate_pre``/``rotate_post``: each with probability
    ``1 - sqrt(1 - p)``, so that P(pre or post) = p.
    """
    s = ADA_STRENGTH
    p = ops.cast(p, "float32")
    flip = ops.floor(_uniform((n,), seed) * 2.0)
    flip = ops.where(_chosen(p, n, seed), flip, 0.0)
    quarter = ops.floor(_uniform((n,), seed) * 4.0)
    quarter = ops.where(_chosen(p, n, seed), quarter, 0.0)
    t = _uniform((n, 2), seed, -1.0, 1.0) * s["xint_max"]
    t = ops.where(_chosen(p, n, seed)[:, None], t, 0.0)
    xint = ops.round(t * _pair(size_w, size_h))
    scale = ops.power(2.0, _normal((n,), seed) * s["scale_std"])
    scale = ops.where(_chosen(p, n, seed), scale, 1.0)
    p_rot = 1.0 - ops.sqrt(ops.clip(1.0 - p, 0.0, 1.0))
    rotate_pre = _uniform((n,), seed, -1.0, 1.0) * (math.pi * s["rotate_max"])
    rotate_pre = ops.where(_chosen(p_rot, n, seed), rotate_pre, 0.0)
    aniso = ops.power(2.0, _normal((n,), seed) * s["aniso_std"])
    aniso = ops.where(_chosen(p, n, seed), aniso, 1.0)
    rotate_post = _uniform((n,), seed, -1.0, 1.0) * (math.pi * s["rotate_max"])
    rotate_post = ops.where(_chosen(p_rot, n, seed), rotate_post, 0.0)
    t = _normal((n, 2), seed) * s["xfrac_std"]
    t = ops.where(_chosen(p, n, seed)[:, None], t, 0.0)
    xfrac = t * _pair(size_w, size_h)
    return {"xflip": flip, "rotate90": quarter, "xint": xint, "scale": scale, "rotate_pre": rotate_pre,
            "aniso": aniso, "rotate_post": rotate_post, "xfrac": xfrac}


def _ada_geometric_matrix(params: dict):
    """ADA's ``G_inv`` (n, 3, 3), output pixel -> input pixel, composed in the reference's order:
    x-flip, quarter turns, integer translation, isotropic scaling, pre-rotation, anisotropic
    scaling, post-rotation, fractional translation. Each factor is the inverse of its
    transform: rotations by the drawn angles (the reference's ``rotate2d_inv(-theta)``),
    scalings by 1/s, translations by -t."""
    params = {k: ops.cast(v, "float32") for k, v in params.items()}
    flip = params["xflip"]
    one = ops.ones_like(flip)
    m = _scale(1.0 - 2.0 * flip, one)  # a mirror is its own inverse
    m = ops.matmul(m, _rotation(params["rotate90"] * (math.pi / 2)))
    m = ops.matmul(m, _translation(-params["xint"][:, 0], -params["xint"][:, 1]))
    m = ops.matmul(m, _scale(1.0 / params["scale"], 1.0 / params["scale"]))
    m = ops.matmul(m, _rotation(params["rotate_pre"]))
    m = ops.matmul(m, _scale(1.0 / params["aniso"], params["aniso"]))
    m = ops.matmul(m, _rotation(params["rotate_post"]))
    return ops.matmul(m, _translation(-params["xfrac"][:, 0], -params["xfrac"][:, 1]))


def _geometric_matrices(n, p, size_h: int, size_w: int, seed):
    """Per-image 3x3 matrices mapping output to input coordinates (ADA's ``G_inv``)."""
    return _ada_geometric_matrix(_ada_geometric_params(n, p, size_h, size_w, seed))


#: ADA's luma axis (1, 1, 1) / sqrt(3), in homogeneous RGB.
_LUMA = (1.0 / math.sqrt(3.0),) * 3 + (0.0,)


def _ada_color_params(n, p, channels: int, seed) -> dict:
    """Per-image colour parameters (identity where skipped): ``brightness`` b ~ N(0, 0.2^2),
    ``contrast`` c = 2^N(0, 0.5^2), ``lumaflip`` i ~ U{0, 1}, ``hue`` theta ~ U(-pi, pi),
    ``saturation`` s = 2^N(0, 1), each with probability p; hue and saturation only on RGB."""
    s = ADA_STRENGTH
    p = ops.cast(p, "float32")
    b = ops.where(_chosen(p, n, seed), _normal((n,), seed) * s["brightness_std"], 0.0)
    c = ops.where(_chosen(p, n, seed), ops.power(2.0, _normal((n,), seed) * s["contrast_std"]), 1.0)
    flip = ops.where(_chosen(p, n, seed), ops.floor(_uniform((n,), seed) * 2.0), 0.0)
    params = {"brightness": b, "contrast": c, "lumaflip": flip, "hue": ops.zeros((n,)), "saturation": ops.ones((n,))}
    if channels > 1:
        params["hue"] = ops.where(_chosen(p, n, seed),
                                  _uniform((n,), seed, -1.0, 1.0) * (math.pi * s["hue_max"]), 0.0)
        params["saturation"] = ops.where(_chosen(p, n, seed),
                                         ops.power(2.0, _normal((n,), seed) * s["saturation_std"]), 1.0)
    return params


def _ada_color_matrix(params: dict):
    """ADA's colour matrix C (n, 4, 4), homogeneous RGB, applied left to right: brightness
    (add b), contrast (times c), luma flip (Householder reflection about the luma plane),
    hue (rotation by theta about the luma axis, Rodrigues), saturation (scale the chroma
    by s)."""
    params = {k: ops.cast(v, "float32") for k, v in params.items()}
    b = params["brightness"]
    one, zero = ops.ones_like(b), ops.zeros_like(b)
    v = np.array(_LUMA, "float32")
    vv = ops.convert_to_tensor(np.outer(v, v))  # v v^T
    eye = ops.eye(4)
    c = _matrix([[one, zero, zero, b], [zero, one, zero, b], [zero, zero, one, b], [zero, zero, zero, one]])
    c = ops.matmul(eye * ops.concatenate([ops.tile(params["contrast"][:, None], [1, 3]), one[:, None]],
                                         axis=1)[:, None, :], c)
    c = ops.matmul(eye - 2.0 * vv * params["lumaflip"][:, None, None], c)
    theta = params["hue"][:, None, None]
    a = np.float32(_LUMA[0])
    cross = ops.convert_to_tensor(np.array([[0.0, -a, a, 0.0], [a, 0.0, -a, 0.0], [-a, a, 0.0, 0.0],
                                            [0.0, 0.0, 0.0, 0.0]], "float32"))  # [v]_x
    w = np.array([0.0, 0.0, 0.0, 1.0], "float32")
    ww = ops.convert_to_tensor(np.outer(w, w))  # keeps the homogeneous coordinate
    rotation = ops.cos(theta) * (eye - ww) + ops.sin(theta) * cross + (1.0 - ops.cos(theta)) * vv + ww
    c = ops.matmul(rotation, c)
    return ops.matmul(vv + (eye - vv) * params["saturation"][:, None, None], c)


def _color_matrices(n, p, channels: int, seed):
    """Per-image 4x4 colour matrices (homogeneous RGB)."""
    return _ada_color_matrix(_ada_color_params(n, p, channels, seed))


def _apply_color(images, matrices):
    """RGB: ``C[:3, :3] @ rgb + C[:3, 3]``. Grey (as the reference): the mean of C's three colour
    rows, so grey images get brightness, contrast and the luma flip (an inversion)."""
    images = ops.convert_to_tensor(images)
    c = ops.cast(matrices, images.dtype)
    if int(images.shape[-1]) == 3:
        return ops.einsum("nij,nhwj->nhwi", c[:, :3, :3], images) + c[:, None, None, :3, 3]
    grey = ops.mean(c[:, :3, :], axis=1)  # (n, 4)
    return images * ops.sum(grey[:, :3], axis=1)[:, None, None, None] + grey[:, 3][:, None, None, None]


def ada_augment(images, p, seed=None):
    """The ADA pipeline at probability ``p`` (a float or scalar tensor >= 0; values above 1 act
    as 1): one affine warp (reflection padding), then one colour matrix (output clipped to
    [-1, 1]). Images must have 1 or 3 channels."""
    x = ops.convert_to_tensor(images)
    n = _batch(x)
    p = ops.cast(p, "float32")
    height, width, channels = int(x.shape[1]), int(x.shape[2]), int(x.shape[3])
    if channels not in (1, 3):
        raise ValueError(f"ADA's colour transforms need RGB (3 channels) or grey (1) images, got {channels} "
                         f"channels")
    x = warp_images(x, _geometric_matrices(n, p, height, width, seed), fill="reflect")
    x = _apply_color(x, _color_matrices(n, p, channels, seed))
    return ops.clip(x, -1.0, 1.0)


def ada_adjustment(sign_mean, target: float, batch_images: int, kimg: float):
    """ADA's step of ``p``: ``sign(r_t - target) * batch_images / (kimg * 1000)``, where
    ``batch_images`` is the number of real images over which ``r_t`` was measured."""
    images = ops.cast(batch_images, "float32")
    return ops.sign(ops.cast(sign_mean, "float32") - target) * images / (float(kimg) * 1000.0)


@keras.saving.register_keras_serializable(package="ganzoo")
class AugmentPipeline(keras.layers.Layer):
    """The discriminator's augmentation: DiffAugment (``policy``) and/or ADA (``ada=True``).

    The model calls :meth:`apply` on every image batch it gives the discriminator, and with
    ADA :meth:`observe` on the discriminator's logits of (augmented) real images after each
    D step; every ``interval`` observed minibatches ``p`` moves by
    ``sign(r_t - target) * images / (kimg * 1000)`` and is kept >= 0 (not capped at 1, as the
    official training loop: above 1 every transform is always applied, and p must come back
    below 1 before the augmentation weakens).

    Args:
        policy: DiffAugment ops, ``"color,translation,cutout"`` (empty: none).
        ada: adapt ``p`` and apply the ADA pipeline with it.
        target: ADA's target of ``r_t = E[sign(D(real))]`` (paper: 0.6).
        kimg: thousands of images over which p can move from 0 to 1 (paper: 500).
        interval: D minibatches between adjustments (paper: 4).
        initial_p: p at the start of training.
    """

    def __init__(self, policy: str = "", ada: bool = False, target: float = 0.6, kimg: float = 500.0,
                 interval: int = 4, initial_p: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.policy = ",".join(parse_policy(policy))
        self.ops = parse_policy(policy)
        self.ada = bool(ada)
        if not 0.0 <= float(target) <= 1.0:
            raise ValueError(f"the ADA target must be in [0, 1] (paper: 0.6), got {target}")
        if float(kimg) <= 0 or int(interval) < 1 or not 0.0 <= float(initial_p) <= 1.0:
            raise ValueError(f"need kimg > 0, interval >= 1 and initial_p in [0, 1], got {kimg}, {interval}, "
                             f"{initial_p}")
        self.target, self.kimg, self.interval = float(target), float(kimg), int(interval)
        self.initial_p = float(initial_p)
        # State: weights of the model, so saved and restored with every checkpoint.
        self.p = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.initial_p),
                                 trainable=False, name="p", aggregation="only_first_replica")
        self.sign_sum = self.add_weight(shape=(), initializer="zeros", trainable=False, name="sign_sum",
                                        aggregation="only_first_replica")
        self.sign_count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="sign_count",
                                          aggregation="only_first_replica")
        self.batches = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False,
                                       name="batches", aggregation="only_first_replica")
        #: The last measured r_t (for the logs).
        self.rt = self.add_weight(shape=(), initializer="zeros", trainable=False, name="rt",
                                  aggregation="only_first_replica")
        self.built = True

    @property
    def enabled(self) -> bool:
        """True if this pipeline changes anything (a DiffAugment op or ADA)."""
        return bool(self.ops) or self.ada

    def get_config(self):
        config = super().get_config()
        config.update({"policy": self.policy, "ada": self.ada, "target": self.target, "kimg": self.kimg,
                       "interval": self.interval, "initial_p": self.initial_p})
        return config

    def call(self, images):
        """Keras entry point: :meth:`apply` with the layer's own unseeded draws."""
        return self.apply(images)

    def apply(self, images, seed=None):
        """Augment a batch the discriminator is about to see (real or fake; differentiable)."""
        x = images
        if self.ops:
            x = diff_augment(x, self.ops, seed=seed)
        if self.ada:
            x = ada_augment(x, self.p.value, seed=seed)
        return x

    def observe(self, real_logits):
        """ADA: accumulate ``sign(D(real))`` of one D minibatch; every ``interval`` minibatches
        adjust ``p`` (no-op without ADA). Summed over replicas under tf.distribute.

        Written with assignments and ``where`` only (no branch on a tensor), so it runs inside
        the jitted JAX step, where ``p`` and the accumulators are part of the model's state."""
        if not self.ada:
            return
        logits = ops.reshape(ops.cast(real_logits, "float32"), [-1])
        total = ops.sum(ops.sign(logits))
        count = ops.cast(ops.size(logits), "float32")
        if _BACKEND == "tensorflow":
            ctx = tf.distribute.get_replica_context()
            if ctx is not None and ctx.num_replicas_in_sync > 1:
                total, count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [total, count])
        self.sign_sum.assign(self.sign_sum.value + total)
        self.sign_count.assign(self.sign_count.value + count)
        self.batches.assign(self.batches.value + 1)

        due = ops.equal(ops.mod(self.batches.value, self.interval), 0)
        sign_sum, sign_count = self.sign_sum.value, self.sign_count.value
        rt = sign_sum / ops.maximum(sign_count, 1.0)
        step = ada_adjustment(rt, self.target, sign_count, self.kimg)
        self.p.assign(ops.where(due, ops.maximum(self.p.value + step, 0.0), self.p.value))
        self.rt.assign(ops.where(due, rt, self.rt.value))
        self.sign_sum.assign(ops.where(due, 0.0, sign_sum))
        self.sign_count.assign(ops.where(due, 0.0, sign_count))

    def logs(self) -> dict:
        """Values for the training logs: ``augment_p`` and ``augment_rt`` (ADA only)."""
        if not self.ada:
            return {}
        # The variables' current values (a read, not the TF variable itself; the traced value
        # inside a JAX step).
        return {"augment_p": ops.convert_to_tensor(self.p), "augment_rt": ops.convert_to_tensor(self.rt)}


def pipeline_from_config(augment: Optional[dict]) -> Optional[AugmentPipeline]:
    """An :class:`AugmentPipeline` from a model's ``augment`` dict (the config's ``augment``
    section), or None when it asks for nothing."""
    if not augment:
        return None
    policy = augment.get("policy", "") or ""
    ada = bool(augment.get("ada", False))
    if not parse_policy(policy) and not ada:
        return None
    return AugmentPipeline(policy=policy, ada=ada, target=augment.get("ada_target", 0.6),
                           kimg=augment.get("ada_kimg", 500.0), interval=augment.get("ada_interval", 4),
                           initial_p=augment.get("initial_p", 0.0), name="augment_pipe")
