"""Run a fully convolutional image network on an image of any size, tile by tile.

Large images do not fit through a network at once (memory), so :func:`tiled_apply` cuts the
input into overlapping tiles, runs each, and blends the outputs with a window that is 0 on a
tile's outer ``margin`` (where the network saw the tile's artificial border instead of the
neighbouring pixels), rises linearly across the rest of the overlap and is 1 inside. The
windows of two neighbours sum to 1 across their overlap, so the output is seamless: where
the network's receptive field is within the margin, tiled and untiled outputs agree exactly
(up to float error); beyond it the two tiles' slightly different values are cross-faded.
Sides that lie on the image border keep weight 1 (there the network sees the same border
as on the whole image).
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

__all__ = ["tiled_apply", "tile_starts", "blend_window"]


def tile_starts(length: int, tile: int, overlap: int, multiple: int = 1) -> list:
    """Start offsets of tiles of size ``tile`` covering ``length`` with at least ``overlap``
    pixels in common (the last tile ends at ``length``); starts are multiples of ``multiple``
    when ``length`` is."""
    if length <= tile:
        return [0]
    stride = max(multiple, (tile - overlap) // multiple * multiple)
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return sorted(set(starts))


def blend_window(size: int, fade_in: bool, fade_out: bool, overlap: int, margin: int) -> np.ndarray:
    """1-D weights of a tile of ``size`` output pixels: 0 for ``margin``, then a linear ramp to 1
    over ``overlap - 2 * margin`` pixels at each faded side."""
    w = np.ones(size, np.float64)
    ramp_len = max(overlap - 2 * margin, 1)
    ramp = (np.arange(ramp_len) + 0.5) / ramp_len
    side = np.concatenate([np.zeros(margin), ramp])[:size]
    if fade_in:
        w[:len(side)] = np.minimum(w[:len(side)], side)
    if fade_out:
        w[size - len(side):] = np.minimum(w[size - len(side):], side[::-1])
    return w


def tiled_apply(fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray, tile: Optional[int] = 128,
                overlap: int = 32, scale: int = 1, multiple: int = 1, min_size: int = 1,
                margin: Optional[int] = None, batch_size: int = 4) -> np.ndarray:
    """Apply ``fn`` (a batch ``(n, h, w, c)`` -> ``(n, h * scale, w * scale, c_out)``) to one
    float image ``(H, W, c)``, tile by tile, and return ``(H * scale, W * scale, c_out)``.

    Args:
        tile: tile side in input pixels (None: the whole image at once).
        overlap: input pixels shared by neighbouring tiles (blended).
        scale: output pixels per input pixel (4 for x4 super-resolution).
        multiple: the network needs sides divisible by this (4 for the CycleGAN generator):
            the image is reflect-padded up to a multiple and the output cropped back.
        min_size: smaller images are padded (mirrored) up to this side first.
        margin: input pixels of each overlap given weight 0 (default ``overlap // 4``).
        batch_size: tiles per call of ``fn``.
    """
    image = np.asarray(image, np.float32)
    if image.ndim != 3:
        raise ValueError(f"expected one image of shape (height, width, channels), got {image.shape}")
    height, width = image.shape[:2]
    if height < 1 or width < 1:
        raise ValueError(f"the image is empty: {image.shape}")
    pad_h = max(height, min_size) + (-max(height, min_size)) % multiple - height
    pad_w = max(width, min_size) + (-max(width, min_size)) % multiple - width
    if pad_h or pad_w:
        mode = "reflect" if height > pad_h and width > pad_w else "symmetric"
        image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode=mode)
    full_h, full_w = image.shape[:2]
    if tile is None or (full_h <= tile and full_w <= tile):
        return np.asarray(fn(image[None]))[0, :height * scale, :width * scale]
    if tile <= 0 or tile % multiple:
        raise ValueError(f"tile must be a positive multiple of {multiple}, got {tile}")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile), got overlap={overlap} with tile={tile}")
    margin = overlap // 4 if margin is None else margin
    if not 0 <= 2 * margin < max(overlap, 1):
        raise ValueError(f"margin must be below half the overlap, got margin={margin} with overlap={overlap}")

    ys = tile_starts(full_h, tile, overlap, multiple)
    xs = tile_starts(full_w, tile, overlap, multiple)
    th, tw = min(tile, full_h), min(tile, full_w)
    boxes = [(y, x) for y in ys for x in xs]
    out = None
    weight = np.zeros((full_h * scale, full_w * scale, 1), np.float64)
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start:start + batch_size]
        tiles = np.stack([image[y:y + th, x:x + tw] for y, x in chunk])
        results = np.asarray(fn(tiles), np.float64)
        if out is None:
            out = np.zeros((full_h * scale, full_w * scale, results.shape[-1]), np.float64)
        for (y, x), result in zip(chunk, results):
            wy = blend_window(th * scale, y > 0, y + th < full_h, overlap * scale, margin * scale)
            wx = blend_window(tw * scale, x > 0, x + tw < full_w, overlap * scale, margin * scale)
            w = (wy[:, None] * wx[None, :])[..., None]
            ys_, xs_ = slice(y * scale, (y + th) * scale), slice(x * scale, (x + tw) * scale)
            out[ys_, xs_] += w * result
            weight[ys_, xs_] += w
    out /= np.maximum(weight, 1e-12)
    return out[:height * scale, :width * scale].astype(np.float32)
