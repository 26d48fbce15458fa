"""PSNR and SSIM of super-resolved images, against the ground truth and next to bicubic
upscaling (the baseline every SR paper reports).

Protocol of the SR literature (Ledig et al. 2017 sec. 3.1, after Timofte et al. / Huang et al.):
each HR test image is cropped to a multiple of the scale, downscaled with (antialiased)
bicubic interpolation, upscaled by the model and by bicubic interpolation, and compared on
the luma channel (ITU-R BT.601 Y) after shaving ``scale`` pixels off each border. ``ganzoo
eval`` calls :func:`super_resolution_scores` for SR entries, e.g. on
:func:`ganzoo.zoo_eval.hr_evaluation_images` (an entry's held-out HR images: TFDS div2k
``validation``, or its folder)::

    from ganzoo.evaluation.sr_metrics import super_resolution_scores
    from ganzoo.zoo_eval import hr_evaluation_images
    scores = super_resolution_scores(model, hr_evaluation_images(config, limit=10))
    # {'psnr': ..., 'ssim': ..., 'bicubic_psnr': ..., 'bicubic_ssim': ..., 'images': 10}
"""

from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from ganzoo.evaluation import legacy
from ganzoo.images import bicubic_downscale

__all__ = ["psnr", "ssim", "rgb_to_luma", "bicubic_upscale", "super_resolution_scores", "hr_evaluation_images"]


def _unit(images) -> np.ndarray:
    """uint8 [0, 255] or float [-1, 1] images -> float32 [0, 1]."""
    arr = np.asarray(images)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    return (np.clip(arr.astype(np.float32), -1.0, 1.0) + 1.0) / 2.0


def rgb_to_luma(images) -> np.ndarray:
    """RGB in [0, 1] -> BT.601 luma Y in [16/255, 235/255] (MATLAB ``rgb2ycbcr``), shape (..., 1)."""
    rgb = np.asarray(images, np.float32)
    y = (16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0
    return y[..., None]


def _prepare(reference, test, y_channel: bool, border: int):
    ref, out = _unit(reference), _unit(test)
    if ref.shape != out.shape:
        raise ValueError(f"images to compare have different shapes: {ref.shape} and {out.shape}")
    if y_channel and ref.shape[-1] == 3:
        ref, out = rgb_to_luma(ref), rgb_to_luma(out)
    if border:
        ref, out = ref[..., border:-border, border:-border, :], out[..., border:-border, border:-border, :]
    return ref, out


def psnr(reference, test, y_channel: bool = False, border: int = 0) -> np.ndarray:
    """Peak signal-to-noise ratio in dB per image (``tf.image.psnr``, peak 1 on [0, 1] images).
    Images: uint8 or float [-1, 1], (H, W, C) or (N, H, W, C)."""
    import tensorflow as tf

    ref, out = _prepare(reference, test, y_channel, border)
    return tf.image.psnr(ref, out, max_val=1.0).numpy()


def ssim(reference, test, y_channel: bool = False, border: int = 0) -> np.ndarray:
    """Structural similarity per image (``tf.image.ssim``, 11x11 Gaussian window, sigma 1.5;
    images must be at least 11 pixels on each side after shaving ``border``)."""
    import tensorflow as tf

    ref, out = _prepare(reference, test, y_channel, border)
    if min(ref.shape[-3:-1]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels (after a {border}px border), got "
                         f"{ref.shape[-3]}x{ref.shape[-2]}")
    return tf.image.ssim(ref, out, max_val=1.0).numpy()


def bicubic_upscale(lr, scale: int) -> np.ndarray:
    """uint8 LR image(s) ``(..., h, w, c)`` -> uint8 ``(..., h * scale, w * scale, c)``: the bicubic
    baseline of the SR literature (plain bicubic interpolation, rounded like a saved file)."""
    import tensorflow as tf

    lr = np.asarray(lr)
    size = (lr.shape[-3] * scale, lr.shape[-2] * scale)
    up = tf.image.resize(lr.astype(np.float32), size, method="bicubic")
    return np.round(tf.clip_by_value(up, 0.0, 255.0).numpy()).astype(np.uint8)


def super_resolution_scores(model, hr_images: Iterable, y_channel: bool = True, border: Optional[int] = None,
                            tile: Optional[int] = 128, overlap: int = 32) -> dict:
    """Mean PSNR/SSIM of ``model.upscale`` and of bicubic upscaling over HR images.

    Args:
        model: an SRGAN (anything with ``upscale(images)`` and ``scale``).
        hr_images: uint8 RGB HR images (H, W, 3) of any sizes.
        y_channel: compare luma only (the literature's protocol) or all RGB channels.
        border: pixels shaved off each side before comparing (default: the scale).
    """
    scale = int(model.scale)
    border = scale if border is None else border
    rows = []
    for hr in hr_images:
        hr = np.asarray(hr)
        if hr.dtype != np.uint8 or hr.ndim != 3:
            raise ValueError(f"HR images must be uint8 arrays (height, width, channels), got {hr.dtype} {hr.shape}")
        h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
        hr = hr[:h, :w]
        lr = bicubic_downscale(hr, scale).numpy()
        sr = model.upscale(lr, tile=tile, overlap=overlap)
        bicubic = bicubic_upscale(lr, scale)
        rows.append([float(psnr(hr, sr, y_channel, border)), float(ssim(hr, sr, y_channel, border)),
                     float(psnr(hr, bicubic, y_channel, border)), float(ssim(hr, bicubic, y_channel, border))])
    if not rows:
        raise ValueError("no HR images to evaluate")
    mean = np.mean(rows, axis=0)
    return {"psnr": float(mean[0]), "ssim": float(mean[1]), "bicubic_psnr": float(mean[2]),
            "bicubic_ssim": float(mean[3]), "images": len(rows)}


def hr_evaluation_images(config, split: str = "validation", limit: Optional[int] = 10,
                         data_dir: Optional[str] = None) -> list:
    """Deprecated here: :func:`ganzoo.zoo_eval.hr_evaluation_images` (it reads the entry's data)."""
    return legacy.forward("hr_evaluation_images", "ganzoo.evaluation.sr_metrics.hr_evaluation_images")(
        config, split, limit, data_dir)
