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
  1 in ``kimg`` (500) thousand images. The pipeline ("bgc" of the paper) holds x-flips,
  rotations by multiples of 90 degrees, integer translation (up to 1/8), isotropic scaling,
  arbitrary rotation, anisotropic scaling, fractional translation (composed into one affine
  warp, bilinear with reflection padding), then brightness, contrast, hue rotation and
  saturation (one colour matrix; grey images get brightness and contrast only).

Deviation from both papers: colour ops clip their output to [-1, 1], so the discriminator
never sees values a real image cannot have (a tanh generator cannot make them either); the
gradient is unchanged for every pixel that is not clipped.

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
#: The ADA pipeline's transforms, in the order they are applied (Karras et al. 2020, appendix B).
ADA_OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
           "brightness", "contrast", "hue", "saturation")


def parse_policy(policy: str) -> list[str]:
    """``"color,translation,cutout"`` -> the list of DiffAugment ops; ``""`` -> ``[]``.

    Raises ValueError naming the unknown op and the valid ones.
    """
    ops = [p.strip() for p in str(policy or "").split(",") if p.strip()]
    for op in ops:
        if op not in DIFF_AUGMENT_OPS:
            import difflib  # noqa: PLC0415

            close = difflib.get_close_matches(op, DIFF_AUGMENT_OPS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"unknown DiffAugment op '{op}'{hint} (choose from {', '.join(DIFF_AUGMENT_OPS)}, "
                             f"comma-separated)")
    if len(set(ops)) != len(ops):
        raise ValueError(f"DiffAugment policy '{policy}' names an op twice")
    return ops


def _uniform(shape, seed, low=0.0, high=1.0):
    return keras.random.uniform(shape, minval=low, maxval=high, seed=seed)


def _batch(images):
    return tf.shape(images)[0]


# ====================================================================== DiffAugment

def augment_color(images, seed=None):
    """DiffAugment ``color``: per image, brightness + U(-0.5, 0.5), saturation x U(0, 2)
    around the pixel's channel mean, contrast x U(0.5, 1.5) around the image mean; clipped to
    [-1, 1]."""
    x = tf.convert_to_tensor(images)
    n = _batch(x)
    x = x + (_uniform((n, 1, 1, 1), seed) - 0.5)
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * (_uniform((n, 1, 1, 1), seed) * 2.0) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = (x - mean) * (_uniform((n, 1, 1, 1), seed) + 0.5) + mean
    return tf.clip_by_value(x, -1.0, 1.0)


def augment_translation(images, seed=None, ratio: float = 0.125):
    """DiffAugment ``translation``: shift each image by an integer in
    ``[-(ratio * size + 0.5), ratio * size + 0.5]`` pixels on each axis, filling with 0."""
    x = tf.convert_to_tensor(images)
    n = _batch(x)
    height, width = int(x.shape[1]), int(x.shape[2])
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    ty = tf.cast(keras.random.randint((n,), -shift_y, shift_y + 1, seed=seed), tf.float32)
    tx = tf.cast(keras.random.randint((n,), -shift_x, shift_x + 1, seed=seed), tf.float32)
    # Output pixel (x, y) reads input pixel (x - tx, y - ty).
    return warp_images(x, _translation(-tx, -ty), fill="zeros")


def augment_cutout(images, seed=None, ratio: float = 0.5):
    """DiffAugment ``cutout``: set a square of ``ratio * size`` pixels at a random position
    (it may leave the image partly) to 0."""
    x = tf.convert_to_tensor(images)
    n = _batch(x)
    height, width = int(x.shape[1]), int(x.shape[2])
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    off_y = keras.random.randint((n, 1, 1), 0, height + (1 - cut_h % 2), seed=seed)
    off_x = keras.random.randint((n, 1, 1), 0, width + (1 - cut_w % 2), seed=seed)
    ys = tf.range(height)[None, :, None] - (off_y - cut_h // 2)
    xs = tf.range(width)[None, None, :] - (off_x - cut_w // 2)
    inside = (ys >= 0) & (ys < cut_h) & (xs >= 0) & (xs < cut_w)
    return x * tf.cast(~inside, x.dtype)[..., None]


_DIFF_OPS = {"color": augment_color, "translation": augment_translation, "cutout": augment_cutout}


def diff_augment(images, policy: Sequence[str], seed=None):
    """Apply the DiffAugment ops of ``policy`` (a list or ``"color,translation,cutout"``) in order."""
    ops = parse_policy(policy) if isinstance(policy, str) else list(policy)
    x = images
    for op in ops:
        x = _DIFF_OPS[op](x, seed=seed)
    return x


# ====================================================================== warping

def _matrix(rows):
    """(n, 3, 3) from nested lists of (n,) tensors."""
    return tf.stack([tf.stack(r, axis=-1) for r in rows], axis=-2)


def _translation(tx, ty):
    one, zero = tf.ones_like(tx), tf.zeros_like(tx)
    return _matrix([[one, zero, tx], [zero, one, ty], [zero, zero, one]])


def _scale(sx, sy):
    one, zero = tf.ones_like(sx), tf.zeros_like(sx)
    return _matrix([[sx, zero, zero], [zero, sy, zero], [zero, zero, one]])


def _rotation(angle):
    c, s = tf.cos(angle), tf.sin(angle)
    one, zero = tf.ones_like(angle), tf.zeros_like(angle)
    return _matrix([[c, -s, zero], [s, c, zero], [zero, zero, one]])


def _reflect(index, size: int):
    """Reflection padding without repeating the edge (``d c b | a b c d | c b a``)."""
    if size == 1:
        return tf.zeros_like(index)
    period = 2 * (size - 1)
    index = tf.math.floormod(index, period)
    return tf.where(index > size - 1, period - index, index)


def warp_images(images, matrices, fill: str = "reflect"):
    """Bilinear warp: output pixel ``(x, y)`` (pixel centres 0..W-1, 0..H-1, measured from
    the image centre) reads the input at ``matrices[i] @ (x, y, 1)``.

    ``fill`` is ``reflect`` (ADA) or ``zeros`` (DiffAugment translation). Identity matrices
    give the input exactly. Differentiable with respect to ``images`` (a gather and a
    weighted sum), and XLA-compatible.
    """
    x = tf.convert_to_tensor(images)
    n = _batch(x)
    height, width, channels = int(x.shape[1]), int(x.shape[2]), int(x.shape[3])
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    gy, gx = tf.meshgrid(tf.range(height, dtype=tf.float32) - cy, tf.range(width, dtype=tf.float32) - cx,
                         indexing="ij")
    grid = tf.stack([tf.reshape(gx, [-1]), tf.reshape(gy, [-1]), tf.ones([height * width])], axis=0)  # (3, HW)
    src = tf.einsum("nij,jk->nik", tf.cast(matrices, tf.float32), grid)  # (n, 3, HW)
    sx, sy = src[:, 0] + cx, src[:, 1] + cy
    x0, y0 = tf.floor(sx), tf.floor(sy)
    fx, fy = sx - x0, sy - y0
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    flat = tf.reshape(x, [n, height * width, channels])

    def tap(ix, iy, weight):
        if fill == "reflect":
            ix, iy = _reflect(ix, width), _reflect(iy, height)
        else:
            inside = (ix >= 0) & (ix < width) & (iy >= 0) & (iy < height)
            weight = weight * tf.cast(inside, weight.dtype)
            ix, iy = tf.clip_by_value(ix, 0, width - 1), tf.clip_by_value(iy, 0, height - 1)
        values = tf.gather(flat, iy * width + ix, batch_dims=1)  # (n, HW, C)
        return values * tf.cast(weight, x.dtype)[..., None]

    out = (tap(x0, y0, (1 - fx) * (1 - fy)) + tap(x0 + 1, y0, fx * (1 - fy))
           + tap(x0, y0 + 1, (1 - fx) * fy) + tap(x0 + 1, y0 + 1, fx * fy))
    return tf.reshape(out, [n, height, width, channels])


# ====================================================================== ADA

#: Strengths of the ADA "bgc" pipeline (Karras et al. 2020, appendix B.2; official defaults).
ADA_STRENGTH = {"xint_max": 0.125, "scale_std": 0.2, "rotate_max": 1.0, "aniso_std": 0.2, "xfrac_std": 0.125,
                "brightness_std": 0.2, "contrast_std": 0.5, "hue_max": 1.0, "saturation_std": 1.0}


def _chosen(p, n, seed):
    """(n,) bool: which images get this transform (each with probability p)."""
    return _uniform((n,), seed) < p


def _geometric_matrices(n, p, size_h: int, size_w: int, seed):
    """Per-image 3x3 matrices mapping output to input coordinates (ADA's ``G_inv``)."""
    s = ADA_STRENGTH
    eye = tf.eye(3, batch_shape=[n])
    m = eye
    # x-flip
    flip = tf.where(_chosen(p, n, seed), -1.0, 1.0)
    m = m @ _scale(flip, tf.ones_like(flip))
    # rotation by k * 90 degrees
    k = tf.cast(keras.random.randint((n,), 0, 4, seed=seed), tf.float32)
    k = tf.where(_chosen(p, n, seed), k, 0.0)
    m = m @ _rotation(k * (math.pi / 2))
    # integer translation (whole pixels)
    t = _uniform((n, 2), seed, -1.0, 1.0) * s["xint_max"]
    chosen = _chosen(p, n, seed)
    tx = tf.where(chosen, tf.round(t[:, 0] * size_w), 0.0)
    ty = tf.where(chosen, tf.round(t[:, 1] * size_h), 0.0)
    m = m @ _translation(tx, ty)
    # isotropic scaling (log-normal)
    scale = tf.pow(2.0, keras.random.normal((n,), seed=seed) * s["scale_std"])
    scale = tf.where(_chosen(p, n, seed), scale, 1.0)
    m = m @ _scale(scale, scale)
    # arbitrary rotation, applied twice with p_rot so that P(any rotation) = p (as ADA)
    p_rot = 1.0 - tf.sqrt(tf.clip_by_value(1.0 - p, 0.0, 1.0))
    for _ in range(2):
        angle = _uniform((n,), seed, -1.0, 1.0) * (math.pi * s["rotate_max"])
        angle = tf.where(_chosen(p_rot, n, seed), angle, 0.0)
        m = m @ _rotation(angle)
    # anisotropic scaling
    aniso = tf.pow(2.0, keras.random.normal((n,), seed=seed) * s["aniso_std"])
    aniso = tf.where(_chosen(p, n, seed), aniso, 1.0)
    m = m @ _scale(aniso, 1.0 / aniso)
    # fractional translation
    t = keras.random.normal((n, 2), seed=seed) * s["xfrac_std"]
    chosen = _chosen(p, n, seed)
    m = m @ _translation(tf.where(chosen, t[:, 0] * size_w, 0.0), tf.where(chosen, t[:, 1] * size_h, 0.0))
    return m


def _color_matrices(n, p, channels: int, seed):
    """Per-image 4x4 colour matrices (homogeneous RGB; grey images use the top-left + offset)."""
    s = ADA_STRENGTH
    eye = tf.eye(4, batch_shape=[n])
    one, zero = tf.ones((n,)), tf.zeros((n,))

    def affine(rows):
        return tf.stack([tf.stack(r, axis=-1) for r in rows], axis=-2)

    c = eye
    b = tf.where(_chosen(p, n, seed), keras.random.normal((n,), seed=seed) * s["brightness_std"], 0.0)
    c = affine([[one, zero, zero, b], [zero, one, zero, b], [zero, zero, one, b], [zero, zero, zero, one]]) @ c
    k = tf.where(_chosen(p, n, seed), tf.pow(2.0, keras.random.normal((n,), seed=seed) * s["contrast_std"]), 1.0)
    c = affine([[k, zero, zero, zero], [zero, k, zero, zero], [zero, zero, k, zero], [zero, zero, zero, one]]) @ c
    if channels == 3:
        a = 1.0 / math.sqrt(3.0)  # the luma axis of ADA: (1, 1, 1) / sqrt(3)
        outer = tf.fill([3, 3], a * a)  # axis axis^T
        cross = tf.constant([[0.0, -a, a], [a, 0.0, -a], [-a, a, 0.0]])  # [axis]_x
        theta = tf.where(_chosen(p, n, seed), _uniform((n,), seed, -1.0, 1.0) * (math.pi * s["hue_max"]), 0.0)
        cos, sin = tf.cos(theta)[:, None, None], tf.sin(theta)[:, None, None]
        # Rodrigues: rotation about the luma axis (hue rotation).
        rot3 = cos * tf.eye(3) + sin * cross + (1.0 - cos) * outer
        c = _embed3(rot3) @ c
        sat = tf.where(_chosen(p, n, seed), tf.pow(2.0, keras.random.normal((n,), seed=seed) * s["saturation_std"]), 1.0)
        sat = sat[:, None, None]
        c = _embed3(outer + (tf.eye(3) - outer) * sat) @ c
    return c


def _embed3(m3):
    """(n, 3, 3) -> (n, 4, 4) homogeneous."""
    n = tf.shape(m3)[0]
    top = tf.concat([m3, tf.zeros([n, 3, 1])], axis=2)
    bottom = tf.tile(tf.constant([[[0.0, 0.0, 0.0, 1.0]]]), [n, 1, 1])
    return tf.concat([top, bottom], axis=1)


def ada_augment(images, p, seed=None):
    """The ADA pipeline at probability ``p`` (a float or scalar tensor in [0, 1]): one affine
    warp (reflection padding), then one colour matrix (output clipped to [-1, 1])."""
    x = tf.convert_to_tensor(images)
    n = _batch(x)
    p = tf.cast(p, tf.float32)
    height, width, channels = int(x.shape[1]), int(x.shape[2]), int(x.shape[3])
    x = warp_images(x, _geometric_matrices(n, p, height, width, seed), fill="reflect")
    c = tf.cast(_color_matrices(n, p, channels, seed), x.dtype)
    if channels == 3:
        x = tf.einsum("nij,nhwj->nhwi", c[:, :3, :3], x) + c[:, None, None, :3, 3]
    else:  # grey: brightness and contrast act on the one channel as on each of R, G, B
        x = x * c[:, None, None, 0:1, 0] + c[:, None, None, 0:1, 3]
    return tf.clip_by_value(x, -1.0, 1.0)


def ada_adjustment(sign_mean, target: float, batch_images: int, kimg: float):
    """ADA's step of ``p``: ``sign(r_t - target) * batch_images / (kimg * 1000)``, where
    ``batch_images`` is the number of real images over which ``r_t`` was measured."""
    images = tf.cast(batch_images, tf.float32)
    return tf.sign(tf.cast(sign_mean, tf.float32) - target) * images / (float(kimg) * 1000.0)


@keras.saving.register_keras_serializable(package="ganzoo")
class AugmentPipeline(keras.layers.Layer):
    """The discriminator's augmentation: DiffAugment (``policy``) and/or ADA (``ada=True``).

    The model calls :meth:`apply` on every image batch it gives the discriminator, and with
    ADA :meth:`observe` on the discriminator's logits of (augmented) real images after each
    D step; every ``interval`` observed minibatches ``p`` moves by
    ``sign(r_t - target) * images / (kimg * 1000)`` and is clamped to [0, 1].

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
            x = ada_augment(x, self.p, seed=seed)
        return x

    def observe(self, real_logits):
        """ADA: accumulate ``sign(D(real))`` of one D minibatch; every ``interval`` minibatches
        adjust ``p`` (no-op without ADA). Summed over replicas under tf.distribute."""
        if not self.ada:
            return
        logits = tf.reshape(tf.cast(real_logits, tf.float32), [-1])
        total = tf.reduce_sum(tf.sign(logits))
        count = tf.cast(tf.size(logits), tf.float32)
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            total, count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [total, count])
        self.sign_sum.assign_add(total)
        self.sign_count.assign_add(count)
        self.batches.assign_add(1)

        def adjust():
            rt = self.sign_sum / tf.maximum(self.sign_count, 1.0)
            step = ada_adjustment(rt, self.target, self.sign_count, self.kimg)
            self.p.assign(tf.clip_by_value(self.p + step, 0.0, 1.0))
            self.rt.assign(rt)
            self.sign_sum.assign(0.0)
            self.sign_count.assign(0.0)
            return tf.constant(0)

        tf.cond(self.batches % self.interval == 0, adjust, lambda: tf.constant(0))

    def logs(self) -> dict:
        """Values for the training logs: ``augment_p`` and ``augment_rt`` (ADA only)."""
        if not self.ada:
            return {}
        return {"augment_p": tf.convert_to_tensor(self.p), "augment_rt": tf.convert_to_tensor(self.rt)}


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
