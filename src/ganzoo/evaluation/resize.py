"""Image resizes that reproduce, to float rounding, the ones the published FID/KID/IS tools use.

Where the numbers come from matters: the resize in front of the Inception network moves FID by
whole points (clean-fid, Parmar et al. 2022), so ganzoo names each resize after the reference
implementation it reproduces, and tests each one against that implementation.

Every kind is *separable* and *linear*: resizing an (H, W) channel to (h, w) is
``A_h @ channel @ A_w.T`` with ``A_h = resize_matrix(H, h, kind)`` of shape (h, H). The
matrices are built once in NumPy (float64, cached) and applied with ``keras.ops.einsum`` in
float32, so :func:`resize` runs on any Keras backend and traces inside ``tf.function`` and
``jax.jit``. The kinds (:data:`RESIZE_KINDS`):

``"bilinear"``
    Half-pixel-centre bilinear interpolation without antialiasing: output pixel ``i`` samples
    the source at ``(i + 0.5) * in / out - 0.5``, a coordinate below 0 is clamped to 0 and the
    upper neighbour is clamped to the last pixel. Exactly
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=False)``,
    which pytorch-fid's ``InceptionV3(resize_input=True)`` and StudioGAN apply before the
    network (and clean-fid's ``mode="legacy_pytorch"``): the weights are torch's bit
    for bit, float32 coordinate rounding included (torch computes the coordinate with one
    fused multiply-add). TF2's ``tf.image.resize(method="bilinear", antialias=False)`` is the
    same formula, but its CPU kernel rounds the coordinate twice, so for a few output pixels
    its weights differ from torch's (and these) by one float32 step of the coordinate (<= 4e-6
    for 512 -> 299); on [0, 255] images torch and TF2 then differ by up to ~1e-3.
    When shrinking it does not antialias: every output pixel reads at most 2x2 input pixels.

``"tf1-bilinear"``
    TF1's ``tf.compat.v1.image.resize_bilinear(align_corners=False, half_pixel_centers=False)``:
    output pixel ``i`` samples the source at ``i * in / out`` (the grid is anchored at the
    top-left corner, so the image shifts by half an output pixel against ``"bilinear"``), and
    the upper neighbour is clamped to the last pixel. This is the ``ResizeBilinear`` op inside
    the 2015 Inception graph that TTUR (Heusel et al.'s FID code) and TF-GAN feed with
    images of any size (clean-fid's ``mode="legacy_tensorflow"`` leaves the resize to that op;
    torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x``, which torchmetrics' FID
    uses too, emulates it). No antialiasing.

``"clean"``
    clean-fid's default ``mode="clean"``: ``cleanfid.resize.build_resizer("clean")``, i.e.
    ``make_resizer("PIL", quantize_after=False, filter="bicubic", output_size=(299, 299))``,
    which resizes each channel of the [0, 255] image as a PIL float image,
    ``Image.fromarray(channel.astype(np.float32), mode="F").resize((w, h), Image.BICUBIC)``,
    and clips the result to [0, 255] (clean-fid clips since its March 2022 release; earlier
    releases did not). PIL's float path computes the weights in double precision with the
    Keys bicubic kernel (a = -0.5, support 2) stretched by the downscale factor when shrinking
    (so it antialiases), normalised to sum to 1 for every output pixel (Pillow's
    ``precompute_coeffs`` in ``libImaging/Resample.c``); this module computes the same weights.

``"pil-bilinear"``
    StudioGAN's ``--post_resizer friendly`` for its ``InceptionV3_tf`` backbone (the setting of
    its CIFAR-10 benchmark commands): each channel resized as a PIL float image with
    ``Image.BILINEAR`` (the triangle filter, support 1, stretched by the downscale factor when
    shrinking), not clipped. When enlarging (CIFAR-10's 32 -> 299) its weights equal
    ``"bilinear"``'s up to float32 rounding; when shrinking it antialiases and ``"bilinear"``
    does not.

Value range: the kinds are linear and do not care, except for clipping. ``clip=None`` means
each kind's reference behaviour: ``"clean"`` clips to [0, 255] as clean-fid does, so it
expects [0, 255] images (ganzoo quantises to uint8 before the network, as the references do);
the bilinear kinds stay in the input range up to float rounding (non-negative weights summing
to 1), so they do not clip. Pass ``clip=(lo, hi)`` for other ranges or ``clip=False`` for none.
"""

from __future__ import annotations

import functools
from typing import Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["RESIZE_KINDS", "resize_matrix", "resize", "resize_numpy"]

#: name -> what it reproduces (see the module docstring for the formulas and which tools use it).
RESIZE_KINDS = {
    "bilinear": "half-pixel-centre bilinear, no antialiasing: torch F.interpolate(mode='bilinear', "
                "align_corners=False) as in pytorch-fid and StudioGAN (TF2 tf.image.resize(bilinear) up to "
                "float32 coordinate rounding)",
    "tf1-bilinear": "TF1 tf.compat.v1.image.resize_bilinear(align_corners=False, half_pixel_centers=False): "
                    "the ResizeBilinear op of the 2015 Inception graph that TTUR and TF-GAN feed",
    "clean": "clean-fid's default mode='clean': PIL float ('F') bicubic resize per channel "
             "(antialiased when shrinking), clipped to [0, 255]",
    "pil-bilinear": "StudioGAN's --post_resizer friendly (InceptionV3_tf): PIL float ('F') bilinear resize per "
                    "channel (antialiased when shrinking), not clipped",
}

#: clip range each kind applies when ``clip=None`` (None: no clipping).
_DEFAULT_CLIP = {"bilinear": None, "tf1-bilinear": None, "clean": (0.0, 255.0), "pil-bilinear": None}


def _check_kind(kind: str) -> str:
    if kind not in RESIZE_KINDS:
        raise ValueError(
            f"unknown resize kind {kind!r}; choose one of: "
            + "; ".join(f"{name!r} ({text})" for name, text in RESIZE_KINDS.items()))
    return kind


def _check_size(value, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"resize: {what} must be a positive integer, got {value!r}")
    return int(value)


def _bilinear_from_coords(src: np.ndarray, in_size: int) -> np.ndarray:
    """Rows of linear-interpolation weights for float32 source coordinates ``src`` (already >= 0),
    as torch's ``guard_index_and_lambda`` and TF's ``compute_interpolation_weights`` form them:
    lower neighbour ``floor(src)`` (at most the last pixel), upper ``min(lower + 1, in_size - 1)``,
    weight ``lam = src - lower`` (float32) on the upper one and ``1 - lam`` rounded to float32
    on the lower one (torch stores ``lambda0 = 1 - lambda1`` in float32; TF's
    ``top + (bottom - top) * lerp`` weighs the top pixel by the same float32 ``1 - lerp``)."""
    src = src.astype(np.float32)
    lower = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    lam = np.clip(src - lower.astype(np.float32), np.float32(0.0), np.float32(1.0)).astype(np.float32)
    upper = np.minimum(lower + 1, in_size - 1)
    rows = np.arange(src.shape[0])
    matrix = np.zeros((src.shape[0], in_size), dtype=np.float64)
    np.add.at(matrix, (rows, lower), (np.float32(1.0) - lam).astype(np.float64))
    np.add.at(matrix, (rows, upper), lam.astype(np.float64))
    return matrix


def _bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    # torch's area_pixel_compute_source_index in float32: scale = in / out,
    # src = scale * (i + 0.5) - 0.5, clamped at 0. torch's CPU kernels (built for AVX2/AVX-512,
    # which contract a * b + c into one fused multiply-add) and CUDA kernels round this once (an
    # FMA); the float64 product of two float32 numbers is exact, so computing it in float64 and
    # rounding to float32 reproduces the FMA (up to a double rounding that needs a float64 result
    # within 2^-53 of a float32 tie). TF2's CPU kernel rounds the product and the difference
    # separately, so tf.image.resize can differ in the last bit of the coordinate (see the module
    # docstring).
    scale = np.float32(in_size) / np.float32(out_size)
    half = np.arange(out_size, dtype=np.float32) + np.float32(0.5)
    src = (np.float64(scale) * half.astype(np.float64) - 0.5).astype(np.float32)
    return _bilinear_from_coords(np.maximum(src, np.float32(0.0)), in_size)


def _tf1_bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    # TF's LegacyScaler in float32: src = i * (in / out) (one rounding; never negative).
    scale = np.float32(in_size) / np.float32(out_size)
    src = np.arange(out_size, dtype=np.float32) * scale
    return _bilinear_from_coords(src, in_size)


def _keys_bicubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """The Keys cubic convolution kernel with PIL's a = -0.5 (support 2)."""
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _triangle(x: np.ndarray) -> np.ndarray:
    """PIL's BILINEAR filter (support 1)."""
    x = np.abs(x)
    return np.where(x < 1.0, 1.0 - x, 0.0)


def _pil_bicubic_matrix(in_size: int, out_size: int) -> np.ndarray:
    return _pil_matrix(in_size, out_size, _keys_bicubic, 2.0)


def _pil_bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    return _pil_matrix(in_size, out_size, _triangle, 1.0)


def _pil_matrix(in_size: int, out_size: int, kernel, kernel_support: float) -> np.ndarray:
    """Pillow's ``precompute_coeffs`` over the whole image (box = (0, in_size)), double
    precision: the kernel is stretched by ``max(in/out, 1)``, taps span ``[center - support,
    center + support]`` rounded to whole pixels and cut at the borders, and each row is
    normalised to sum 1 (which is what makes the cut-off borders behave)."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = kernel_support * filterscale
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    for out in range(out_size):
        center = (out + 0.5) * scale
        # Pillow truncates toward zero (C int cast) and then clamps at 0 / in_size.
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        taps = np.arange(lo, hi)
        weights = kernel((taps - center + 0.5) / filterscale)
        total = weights.sum()
        if total != 0.0:
            weights = weights / total
        matrix[out, lo:hi] = weights
    return matrix


_BUILDERS = {"bilinear": _bilinear_matrix, "tf1-bilinear": _tf1_bilinear_matrix, "clean": _pil_bicubic_matrix,
             "pil-bilinear": _pil_bilinear_matrix}


@functools.lru_cache(maxsize=64)
def _cached_matrix(in_size: int, out_size: int, kind: str) -> np.ndarray:
    matrix = _BUILDERS[kind](in_size, out_size)
    matrix.setflags(write=False)  # shared by every caller through the cache
    return matrix


def resize_matrix(in_size: int, out_size: int, kind: str) -> np.ndarray:
    """The (out_size, in_size) float64 matrix that resizes one axis of length ``in_size`` to
    ``out_size`` by ``kind`` (one of :data:`RESIZE_KINDS`): ``resized = A @ signal``.

    Cached and read-only (copy it to modify). For ``in_size == out_size`` every kind gives the
    identity."""
    _check_kind(kind)
    return _cached_matrix(_check_size(in_size, "in_size"), _check_size(out_size, "out_size"), kind)


def _target_size(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, (bool, np.bool_)):
        side = _check_size(size, "size")
        return side, side
    try:
        height, width = size
    except (TypeError, ValueError):
        raise ValueError(f"resize: size must be an int or a (height, width) pair, got {size!r}") from None
    return _check_size(height, "size[0] (height)"), _check_size(width, "size[1] (width)")


def _clip_range(kind: str, clip) -> Optional[Tuple[float, float]]:
    if clip is None:
        return _DEFAULT_CLIP[kind]
    if clip is False:
        return None
    try:
        lo, hi = (float(v) for v in clip)
    except (TypeError, ValueError):
        raise ValueError(f"resize: clip must be None (the kind's default), False or a (low, high) pair, "
                         f"got {clip!r}") from None
    if not lo < hi:
        raise ValueError(f"resize: clip=(low, high) needs low < high, got {clip!r}")
    return lo, hi


def resize(images, size: Union[int, Sequence[int]], kind: str, clip=None):
    """Resize a batch of NHWC images to ``size`` (an int for a square, or ``(height, width)``) as
    ``kind`` (one of :data:`RESIZE_KINDS`) does; returns float32 on the backend of
    ``keras.ops`` (a backend tensor, also for a NumPy input).

    ``images``: a 4-D array or tensor (N, H, W, C) of any real dtype (uint8 is cast to float32),
    with H and W known when traced (inside ``tf.function``/``jax.jit``). ``clip``: None for the
    kind's reference behaviour (``"clean"`` clips to [0, 255], the others do not), False for no
    clipping, or ``(low, high)``.
    """
    from keras import ops

    _check_kind(kind)
    out_h, out_w = _target_size(size)
    bounds = _clip_range(kind, clip)
    if not hasattr(images, "shape"):
        images = np.asarray(images)
    shape = tuple(images.shape)
    if len(shape) != 4:
        raise ValueError(f"resize: images must be a 4-D NHWC batch (N, H, W, C), got shape {shape}")
    in_h, in_w = shape[1], shape[2]
    if in_h is None or in_w is None:
        raise ValueError(f"resize: the image height and width must be static (known when traced), got "
                         f"shape {shape}; give the input a fixed spatial size")
    x = ops.cast(images, "float32")
    if (in_h, in_w) != (out_h, out_w):
        a_h = ops.convert_to_tensor(resize_matrix(in_h, out_h, kind).astype(np.float32))
        a_w = ops.convert_to_tensor(resize_matrix(in_w, out_w, kind).astype(np.float32))
        # Contract the axis that shrinks the work most first (same result up to float rounding).
        rows_first = out_h * in_h * in_w + out_h * in_w * out_w
        cols_first = out_w * in_w * in_h + out_w * in_h * out_h
        if rows_first <= cols_first:
            x = ops.einsum("oh,nhwc->nowc", a_h, x)
            x = ops.einsum("pw,nowc->nopc", a_w, x)
        else:
            x = ops.einsum("pw,nhwc->nhpc", a_w, x)
            x = ops.einsum("oh,nhpc->nopc", a_h, x)
    if bounds is not None:
        x = ops.clip(x, bounds[0], bounds[1])
    return x


def resize_numpy(images: np.ndarray, size: Union[int, Sequence[int]], kind: str, clip=None) -> np.ndarray:
    """:func:`resize` in NumPy (float64 matrices and arithmetic, float32 result): for data
    pipelines outside a backend, and the reference the backend path is tested against."""
    _check_kind(kind)
    out_h, out_w = _target_size(size)
    bounds = _clip_range(kind, clip)
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"resize: images must be a 4-D NHWC batch (N, H, W, C), got shape {images.shape}")
    x = images.astype(np.float64)
    x = np.einsum("oh,nhwc->nowc", resize_matrix(images.shape[1], out_h, kind), x)
    x = np.einsum("pw,nowc->nopc", resize_matrix(images.shape[2], out_w, kind), x)
    if bounds is not None:
        x = np.clip(x, bounds[0], bounds[1])
    return x.astype(np.float32)
