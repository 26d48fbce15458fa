"""Shared by ``ganzoo upscale`` and ``ganzoo stylize``: load a trained image-to-image model,
read the user's picture, write the result with provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Optional


def load_image_to_image_model(source: str, weights: Optional[str], method: str, kind: str, example_entry: str):
    """``(model, provenance)`` for a run folder / .keras file (or an entry with bundled
    weights); the model must have ``method`` (``upscale`` or ``translate``)."""
    from ganzoo.commands.common import load_source  # noqa: PLC0415

    path = Path(source).expanduser()
    is_file = path.exists() or source.endswith(".keras") or "/" in source
    if not is_file and weights is None:
        from ganzoo.registry import get_config  # noqa: PLC0415
        from ganzoo.weights import pretrained_path  # noqa: PLC0415

        get_config(source)  # unknown names fail here with the closest entries
        if not pretrained_path(source).is_file():
            raise FileNotFoundError(
                f"no trained weights are bundled for '{source}', and an untrained {kind} only makes noise. Train "
                f"one first, e.g. `ganzoo train {source} --out runs/{source}` (add --data-path / --set to use "
                f"your own pictures), then run this command on runs/{source}")
        weights = "pretrained"
    model, provenance = load_source(source, weights)
    if not callable(getattr(model, method, None)):
        raise ValueError(f"'{source}' holds a {type(model).__name__} model, not {kind}; use a model trained "
                         f"from an entry such as {example_entry}")
    return model, provenance


def output_path(output: Optional[str], image: str, suffix: str) -> Path:
    """The PNG to write: ``output``, or ``IMAGE_<suffix>.png`` next to the input; ValueError for other extensions."""
    path = Path(output) if output else Path(image).with_name(f"{Path(image).stem}_{suffix}.png")
    if path.suffix.lower() != ".png":
        raise ValueError(f"-o must name a .png file, got '{output}'")
    return path


def positive_tile(tile: Optional[int], overlap: int) -> None:
    """Check ``--tile`` (positive or None) and ``--overlap`` (>= 0 and smaller than the tile); ValueError otherwise."""
    if tile is not None and tile <= 0:
        raise ValueError(f"--tile must be a positive number of pixels, got {tile}")
    if overlap < 0 or (tile is not None and overlap >= tile):
        raise ValueError(f"--overlap must be >= 0 and smaller than --tile, got {overlap}")
