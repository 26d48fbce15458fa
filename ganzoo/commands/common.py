"""Helpers shared by subcommands: loading a model from a run, parsing labels."""

from __future__ import annotations

from pathlib import Path
from typing import Optional


def parse_labels(text: Optional[str]):
    """``"3"`` -> 3 (all images), ``"0-9"`` / ``"1,5,7"`` / ``"0-4,9"`` -> a list cycled over the images."""
    if text is None:
        return None
    values = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                a, b = part.split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                values.extend(range(lo, hi + 1))
            else:
                values.append(int(part))
        except ValueError:
            raise ValueError(f"--labels takes integers, ranges and commas such as 3, 0-9 or 1,5,7; got '{text}'") from None
    if not values:
        raise ValueError(f"--labels is empty: '{text}'")
    return values[0] if len(values) == 1 else values


def cycle_labels(labels, n: int):
    if labels is None or isinstance(labels, int):
        return labels
    return [labels[i % len(labels)] for i in range(n)]


def find_model_file(path: Path) -> Path:
    """A run folder's final ``model.keras``, else its newest checkpoint; or the file itself."""
    if path.is_file():
        return path
    if not path.exists():
        raise FileNotFoundError(f"'{path}' is neither a run folder nor a .keras file")
    final = path / "model.keras"
    if final.is_file():
        return final
    checkpoints = sorted((path / "checkpoints").glob("*.keras"))
    if checkpoints:
        return checkpoints[-1]
    raise FileNotFoundError(f"run folder '{path}' has no model.keras and no checkpoints/*.keras yet; "
                            f"train with `ganzoo train NAME --out {path}` first")


def load_model_or_entry(source: str, weights: Optional[str] = None):
    """A trained model from a run folder / .keras file, or a zoo entry by name."""
    path = Path(source).expanduser()
    if path.exists() or source.endswith(".keras") or "/" in source:
        import keras  # noqa: PLC0415

        import ganzoo.models  # noqa: F401,PLC0415  (registers the classes for deserialisation)

        return keras.saving.load_model(str(find_model_file(path)))
    from ganzoo.builders import load  # noqa: PLC0415

    return load(source, weights=weights)
