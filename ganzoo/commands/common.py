"""Helpers shared by subcommands: loading a model from a run, parsing labels."""

from __future__ import annotations

from pathlib import Path
from typing import Optional


def parse_int_ranges(text: str, option: str, examples: str) -> list:
    """``"1,2,3"``, ``"0-3"`` or ``"0-2,7"`` -> a list of ints (empty parts skipped; may be empty).

    A part that is not an integer or an ascending ``lo-hi`` range raises ``ValueError`` naming
    ``option`` and ``examples`` (e.g. ``"3, 0-9 or 1,5,7"``).
    """
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
            raise ValueError(f"{option} takes integers, ranges and commas such as {examples}; got '{text}'") from None
    return values


def parse_labels(text: Optional[str]):
    """``"3"`` -> 3 (all images), ``"0-9"`` / ``"1,5,7"`` / ``"0-4,9"`` -> a list cycled over the images."""
    if text is None:
        return None
    values = parse_int_ranges(text, "--labels", "3, 0-9 or 1,5,7")
    if not values:
        raise ValueError(f"--labels is empty: '{text}'")
    return values[0] if len(values) == 1 else values


def cycle_labels(labels, n: int):
    """Labels for ``n`` images: a list is repeated cyclically to length ``n``; None or one int is returned as is."""
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
    from ganzoo.checkpoint import CheckpointManager  # noqa: PLC0415

    # ckpt-<step>.keras by step (never a hidden temporary of an unfinished write), else older names.
    checkpoints = CheckpointManager(path / "checkpoints").paths() or sorted(
        p for p in (path / "checkpoints").glob("*.keras") if not p.name.startswith("."))
    if checkpoints:
        return checkpoints[-1]
    raise FileNotFoundError(f"run folder '{path}' has no model.keras and no checkpoints/*.keras yet; "
                            f"train with `ganzoo train NAME --out {path}` first")


def load_source(source: str, weights: Optional[str] = None):
    """``(model, provenance)`` for a run folder / ``.keras`` file, or a zoo entry by name
    (with ``weights``: ``"pretrained"`` for the bundled weights, or a weights file)."""
    from ganzoo.evaluation.paths import sha256_file  # noqa: PLC0415  (SciPy: not for `ganzoo --help`)

    path = Path(source).expanduser()
    if path.exists() or source.endswith(".keras") or "/" in source:
        import keras  # noqa: PLC0415

        import ganzoo.models  # noqa: F401,PLC0415  (registers the classes for deserialisation)

        model_file = find_model_file(path)
        model = keras.saving.load_model(str(model_file))
        return model, {"model": model.name, "source": str(model_file), "weights_sha256": sha256_file(model_file)}
    from ganzoo.builders import load  # noqa: PLC0415
    from ganzoo.weights import pretrained_path  # noqa: PLC0415

    model = load(source, weights=weights, compile=False)
    weights_file = pretrained_path(model.name) if weights == "pretrained" else (Path(weights) if weights else None)
    return model, {"model": model.name, "source": f"{source} ({weights or 'untrained'} weights)",
                   "weights_sha256": sha256_file(weights_file) if weights_file else None}


def load_model_or_entry(source: str, weights: Optional[str] = None):
    """A trained model from a run folder / .keras file, or a zoo entry by name."""
    return load_source(source, weights)[0]


def default_weights(source: str, weights: Optional[str]) -> Optional[str]:
    """Entry names default to the bundled pretrained weights (there is nothing to see in an
    untrained generator); say so clearly when an entry has none."""
    if weights is not None or Path(source).expanduser().exists() or source.endswith(".keras") or "/" in source:
        return weights
    return "pretrained"
