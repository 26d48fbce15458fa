"""Shared by ``ganzoo upscale`` and ``ganzoo stylize``: load a trained image-to-image model,
read the user's picture, write the result with provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Optional


def load_image_to_image_model(source: str, weights: Optional[str], command: str):
    """``(model, provenance)`` for a run folder / .keras file (or an entry with bundled
    weights) of the model ``command`` (``upscale``: an SRGAN, ``stylize``: a CycleGAN) needs;
    any other model is refused in one line naming the command that fits it."""
    from ganzoo.commands.common import check_entry_fits, is_path_source, load_source  # noqa: PLC0415

    if not is_path_source(source) and weights is None:
        from ganzoo.weights import pretrained_path  # noqa: PLC0415

        check_entry_fits(command, source)  # unknown names fail here with the closest entries
        if not pretrained_path(source).is_file():
            kind = "super-resolution model" if command == "upscale" else "CycleGAN"
            raise FileNotFoundError(
                f"no trained weights are bundled for '{source}', and an untrained {kind} only makes noise. Train "
                f"one first, e.g. `ganzoo train {source} --out runs/{source}` (add --data-path / --set to use "
                f"your own pictures), then run this command on runs/{source}")
        weights = "pretrained"
    return load_source(source, weights, command=command)


def picture_for(model, path, picture):
    """``picture`` (read as RGB before the model loaded, so that a bad file fails first) in the
    channels ``model`` takes: a grey model (srgan_mnist, cyclegan_mnist2uci) gets the file read
    again as grey, by the same conversion as its training data."""
    if model.channels == picture.shape[-1]:
        return picture
    from ganzoo.data.folder import read_image_file  # noqa: PLC0415

    return read_image_file(path, channels=model.channels)


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
