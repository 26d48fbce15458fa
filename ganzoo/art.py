"""The creative side: latent walks, class morphs and latent directions.

All functions take a trained ganzoo model and return float images in [-1, 1] (use
:mod:`ganzoo.images` to write them). Latents come from ``model.latents(1, seed=s)``, so
a walk through seeds 1, 2, 3 passes exactly through ``generate(1, seed=1)`` etc.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

__all__ = ["slerp", "latent_walk", "class_morph", "latent_direction", "apply_direction"]


def slerp(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Spherical interpolation between latent vectors ``a`` and ``b`` (White 2016).

    Gaussian latents concentrate near a sphere; a straight line between two of them passes
    through low-norm regions the generator rarely saw, a great-circle arc does not.
    ``t`` may be a scalar or an array of weights in [0, 1]; falls back to linear
    interpolation for (anti)parallel vectors.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    t = np.asarray(t, np.float64)[..., None]
    a_n = a / max(np.linalg.norm(a), 1e-12)
    b_n = b / max(np.linalg.norm(b), 1e-12)
    omega = np.arccos(np.clip(np.dot(a_n, b_n), -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return ((1.0 - t) * a + t * b).astype(np.float32)
    return ((np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype(np.float32)


def _check_frames(frames: int, segments: int) -> None:
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < segments + 1:
        raise ValueError(f"frames must be an integer of at least {segments + 1} for {segments} segment(s), got {frames!r}")


def walk_latents(model, seeds: Sequence[int], frames: int, truncation: Optional[float] = None,
                 loop: bool = False) -> np.ndarray:
    """Latents of a spherical walk through the seeds' latents (``frames`` in total)."""
    seeds = list(seeds)
    if len(seeds) < 2:
        raise ValueError("a latent walk needs at least two seeds, e.g. --seeds 1,2")
    keys = [model.latents(1, seed=s, truncation=truncation)[0] for s in seeds]
    if loop:
        keys.append(keys[0])
    segments = len(keys) - 1
    _check_frames(frames, segments)
    # Distribute frames over segments; each segment ends where the next starts.
    positions = np.linspace(0.0, segments, frames)
    out = []
    for p in positions:
        i = min(int(np.floor(p)), segments - 1)
        out.append(slerp(keys[i], keys[i + 1], p - i))
    return np.stack(out).astype(np.float32)


def latent_walk(model, seeds: Sequence[int], frames: int = 60, labels=None, truncation: Optional[float] = None,
                loop: bool = False) -> np.ndarray:
    """Images of a spherical walk through the latents of ``seeds``; the first and last frames
    (and frames landing on a seed) are exactly that seed's ``generate`` image. Conditional
    models draw every frame with ``labels`` (an int; default 0)."""
    z = walk_latents(model, seeds, frames, truncation=truncation, loop=loop)
    if getattr(model, "conditional", False):
        labels = 0 if labels is None else labels
    return model.generate_from_latents(z, labels)


def class_morph(model, start_label: int, end_label: int, frames: int = 30, seed: int = 0) -> np.ndarray:
    """A conditional model's image morphing from one class into another for a fixed latent."""
    if not getattr(model, "conditional", False):
        raise ValueError("class interpolation needs a conditional model (e.g. cgan_mnist)")
    return model.interpolate_classes(start_label, end_label, steps=frames, seed=seed)


def latent_direction(model, classify: Callable[[np.ndarray], np.ndarray], target: int, source: int,
                     n: int = 2000, seed: int = 0, labels=None) -> np.ndarray:
    """Average latent of samples classified as ``target`` minus that of ``source``.

    ``classify`` maps images in [-1, 1] to predicted class ids (e.g. the MNIST reference
    classifier of :mod:`ganzoo.evaluation`). Adding the direction to a latent pushes an
    unconditional model's image from ``source`` towards ``target`` (the attribute-vector
    trick of Radford et al. 2016, sec. 6.3).
    """
    z = model.latents(n, seed=seed)
    images = model.generate_from_latents(z, labels if not getattr(model, "conditional", False) else
                                         (0 if labels is None else labels))
    predicted = np.asarray(classify(images)).reshape(-1)
    counts = {c: int(np.sum(predicted == c)) for c in (target, source)}
    missing = [c for c, k in counts.items() if k == 0]
    if missing:
        raise ValueError(f"none of {n} samples was classified as {missing}; raise n or pick other classes")
    return (z[predicted == target].mean(axis=0) - z[predicted == source].mean(axis=0)).astype(np.float32)


def apply_direction(model, seed: int, direction: np.ndarray, strengths: Sequence[float] = (0.0, 0.5, 1.0, 1.5),
                    labels=None) -> np.ndarray:
    """Images of ``z(seed) + s * direction`` for each strength ``s``."""
    z0 = model.latents(1, seed=seed)[0]
    z = np.stack([z0 + s * np.asarray(direction, np.float32) for s in strengths])
    if getattr(model, "conditional", False) and labels is None:
        labels = 0
    return model.generate_from_latents(z, labels)
