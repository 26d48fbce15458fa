"""Loading weights into a built model: the bundled pretrained generators, or a user's file."""

from __future__ import annotations

import warnings
from pathlib import Path

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


def pretrained_path(name: str) -> Path:
    """Where the bundled generator weights of entry ``name`` are (or would be): ``ganzoo/pretrained/<name>.weights.h5``."""
    return PRETRAINED_DIR / f"{name}.weights.h5"


def available_pretrained() -> list[str]:
    """Entries with bundled generator weights."""
    return sorted(p.name[: -len(".weights.h5")] for p in PRETRAINED_DIR.glob("*.weights.h5"))


def _load_generator(model, path: Path) -> None:
    if getattr(model, "task", None) == "image2image" and hasattr(model, "sampling_generator"):
        # CycleGAN: both generators in one file (an SRGAN has one generator, loaded below)
        model.sampling_generator().load_weights(str(path))
        return
    model.generator.load_weights(str(path))
    if getattr(model, "ema_generator", None) is not None:
        model.ema_generator.load_weights(str(path))
    if hasattr(model, "mark_fully_grown"):  # a growing model: generator weights alone are shipped fully grown
        model.mark_fully_grown()


def load_weights(model, weights: str, config) -> None:
    """``weights`` is ``"pretrained"`` (the bundled generator of ``config.name``) or a path to a
    ``.weights.h5`` file holding the whole model's weights or the generator's alone."""
    if weights == "pretrained":
        path = pretrained_path(config.name)
        if not path.is_file():
            available = available_pretrained()
            raise FileNotFoundError(
                f"no pretrained weights are bundled for '{config.name}'"
                + (f" (entries with weights: {', '.join(available)})" if available else "")
                + f". Train it with `ganzoo train {config.name} --out runs/{config.name}` and use the run folder.")
        try:
            _load_generator(model, path)
        except Exception as err:
            raise ValueError(f"the bundled weights {path.name} do not fit '{config.name}' as configured ({err}); "
                             "pretrained weights need the entry's own architecture: drop the overrides") from None
        return
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file '{weights}' does not exist")
    try:
        with warnings.catch_warnings():
            # Keras only warns when a file lacks some layers: a partial load must not pass silently.
            warnings.simplefilter("error")
            model.load_weights(str(path))
    except Exception as full_err:
        try:
            _load_generator(model, path)
        except Exception:
            raise ValueError(f"the weights in {path} fit neither the whole '{config.name}' model nor its generator "
                             f"({full_err}); they were saved from a different architecture") from None
