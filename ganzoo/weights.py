"""Loading weights into a built model: a user's file, or the bundled pretrained ones."""

from __future__ import annotations

from pathlib import Path

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


def pretrained_path(name: str) -> Path:
    return PRETRAINED_DIR / f"{name}.weights.h5"


def load_weights(model, weights: str, config) -> None:
    """``weights`` is ``"pretrained"`` or a path to ``.weights.h5`` (full model or generator)."""
    if weights == "pretrained":
        path = pretrained_path(config.name)
        if not path.is_file():
            available = sorted(p.name.split(".")[0] for p in PRETRAINED_DIR.glob("*.weights.h5"))
            raise FileNotFoundError(
                f"no pretrained weights are bundled for '{config.name}'"
                + (f"; entries with weights: {', '.join(available)}" if available else "")
                + ". Train it with `ganzoo train " + config.name + "` and load the run's model.keras.")
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"weights file '{weights}' does not exist")
    try:
        model.load_weights(str(path))
    except Exception as full_err:  # a generator-only file
        try:
            model.generator.load_weights(str(path))
            if getattr(model, "ema_generator", None) is not None:
                model.ema_generator.load_weights(str(path))
        except Exception:
            raise ValueError(f"the weights in {path} do not fit '{config.name}' ({full_err}); "
                             f"they were saved from a different architecture") from None
