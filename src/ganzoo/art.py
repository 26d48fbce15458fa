"""The creative side: latent walks, class morphs and latent directions.

All functions take a trained ganzoo model and return float images in [-1, 1] (use
:mod:`ganzoo.images` to write them). Latents come from ``model.latents(1, seed=s)``, so
a walk through seeds 1, 2, 3 passes exactly through ``generate(1, seed=1)`` etc.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

__all__ = ["slerp", "latent_walk", "class_morph", "latent_direction", "apply_direction", "style_mix",
           "noise_variations", "project"]


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
                loop: bool = False, use_ema: Optional[bool] = None) -> np.ndarray:
    """Images of a spherical walk through the latents of ``seeds``; the first and last frames
    (and frames landing on a seed) are exactly that seed's ``generate`` image. Conditional
    models draw every frame with ``labels`` (an int; default 0). ``use_ema`` as in ``generate``."""
    z = walk_latents(model, seeds, frames, truncation=truncation, loop=loop)
    if getattr(model, "conditional", False):
        labels = 0 if labels is None else labels
    return model.generate_from_latents(z, labels, use_ema=use_ema)


def class_morph(model, start_label: int, end_label: int, frames: int = 30, seed: int = 0,
                use_ema: Optional[bool] = None) -> np.ndarray:
    """A conditional model's image morphing from one class into another for a fixed latent."""
    if not getattr(model, "conditional", False):
        raise ValueError("class interpolation needs a conditional model (e.g. cgan_mnist); walk through seeds "
                         "instead (--seeds 1,2,3)")
    if not hasattr(model, "interpolate_classes"):
        raise ValueError(f"class interpolation needs a ConditionalGAN (label embedding -> trunk); a conditional "
                         f"{type(model).__name__} has none: walk through seeds with --label instead")
    return model.interpolate_classes(start_label, end_label, steps=frames, seed=seed, use_ema=use_ema)


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


# ---------------------------------------------------------------------- StyleGAN tools

def _require_stylegan(model, what: str):
    if not all(hasattr(model, a) for a in ("seed_styles", "synthesize", "style_layers")):
        raise ValueError(f"{what} needs a StyleGAN model (e.g. stylegan_mnist), got {type(model).__name__}")


def style_mix(model, seeds_a: Sequence[int], seeds_b: Sequence[int], layers="coarse",
              truncation: Optional[float] = None, noise: str = "const",
              use_ema: Optional[bool] = None) -> np.ndarray:
    """The style-mixing grid of Karras et al. 2019 (fig. 3), float32 in [-1, 1] of shape
    ``(len(seeds_a) + 1, len(seeds_b) + 1, H, W, C)``.

    Row 0 holds the B images (``generate(1, seed=b)``), column 0 the A images; cell
    ``[i + 1, j + 1]`` is A_i with the style layers ``layers`` (``"coarse"`` 4-8 px: pose,
    shape; ``"middle"``: features; ``"fine"``: colour, texture; ``"all"``; or a list of
    indices into ws) copied from B_j. The top-left cell is white. ``noise`` as in
    ``model.generate`` (the default "const" keeps noise fixed, so copying no layer
    reproduces A exactly and copying all reproduces B). ``use_ema`` as in ``model.generate``.
    """
    _require_stylegan(model, "style mixing")
    indices = model.style_layers(layers)
    ws_a = model.seed_styles(seeds_a, truncation=truncation, use_ema=use_ema)
    ws_b = model.seed_styles(seeds_b, truncation=truncation, use_ema=use_ema)
    mixed = np.repeat(ws_a[:, None], len(ws_b), axis=1)  # (a, b, num_ws, w_dim)
    mixed[:, :, indices] = ws_b[None, :, indices]
    images = model.synthesize(np.concatenate([ws_a, ws_b, mixed.reshape((-1,) + ws_a.shape[1:])]), noise=noise,
                              use_ema=use_ema)
    a, b = len(ws_a), len(ws_b)
    grid = np.ones((a + 1, b + 1) + images.shape[1:], np.float32)
    grid[1:, 0] = images[:a]
    grid[0, 1:] = images[a:a + b]
    grid[1:, 1:] = images[a + b:].reshape((a, b) + images.shape[1:])
    return grid


def noise_variations(model, seed: int, n: int = 8, truncation: Optional[float] = None,
                     noise_seed: int = 0):
    """Stochastic variation (Karras et al. 2019, fig. 4): one latent's image under ``n`` fresh
    noise draws, and the per-pixel standard deviation over them scaled to [-1, 1] (bright
    where the noise changes the image: hair, edges; dark where the styles fix it).

    Returns ``(images (n, H, W, C), std_image (H, W, C))``.
    """
    _require_stylegan(model, "noise resampling")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2 (variations to compare), got {n!r}")
    ws = np.repeat(model.seed_styles([seed], truncation=truncation), n, axis=0)
    images = model.synthesize(ws, noise="random", noise_seed=noise_seed)
    std = images.std(axis=0)
    std_image = 2.0 * std / max(float(std.max()), 1e-8) - 1.0
    return images, std_image.astype(np.float32)


def project(model, target, steps: int = 300, learning_rate: float = 0.05, w_plus: bool = False,
            noise: str = "const", verbose: bool = False):
    """Find styles that reconstruct ``target`` (one image, float in [-1, 1], shape of the
    model's images): Adam on the pixel MSE, starting from ``w_avg`` (a simplified form of the
    StyleGAN2 projector, sec. 5, without its perceptual loss and noise optimisation).

    ``w_plus`` optimises one w per style layer (closer fits, less editable). Returns
    ``(ws (1, num_ws, w_dim), image (H, W, C), losses per step)``.
    """
    import keras  # noqa: PLC0415
    from keras import ops  # noqa: PLC0415

    from ganzoo import seam  # noqa: PLC0415

    _require_stylegan(model, "projection")
    target = np.asarray(target, np.float32)
    if target.shape != tuple(model.image_shape):
        raise ValueError(f"the target must be one image of shape {tuple(model.image_shape)} in [-1, 1], got "
                         f"{target.shape}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    synthesis = model.synthesis(model.sampling_generator())
    noises = [ops.convert_to_tensor(x) for x in model.noise_inputs(1, noise)]
    start = np.asarray(ops.convert_to_numpy(model.w_avg), np.float32)[None, None]
    w = keras.Variable(np.repeat(start, model.num_ws if w_plus else 1, axis=1), name="projected_w")
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build([w])
    goal = ops.convert_to_tensor(target[None])

    def loss_fn():
        ws = w.value if w_plus else ops.repeat(w.value, model.num_ws, axis=1)
        return ops.mean(ops.square(synthesis([ws] + noises, training=False) - goal))

    def step():
        loss, _, grads = seam.gradients(loss_fn, [w])  # the backend seam (eagerly on JAX)
        optimizer.apply(grads, [w])
        return loss

    if seam.BACKEND == "tensorflow":
        import tensorflow as tf  # noqa: PLC0415
        step = tf.function(step)

    history = []
    for i in range(steps):
        history.append(float(step()))
        if verbose and (i % 50 == 0 or i == steps - 1):
            print(f"projection step {i}: mse {history[-1]:.5f}")
    found = ops.convert_to_numpy(w)
    ws = found if w_plus else np.repeat(found, model.num_ws, axis=1)
    return ws.astype(np.float32), model.synthesize(ws, noise=noise)[0], history
