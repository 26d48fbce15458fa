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


def is_path_source(source: str) -> bool:
    """Whether ``source`` names a run folder / ``.keras`` file rather than a zoo entry."""
    return Path(source).expanduser().exists() or source.endswith(".keras") or "/" in source


def saved_step(model_file: Path) -> Optional[int]:
    """The training step a checkpoint or a run's ``model.keras`` was saved at (its
    ``ganzoo_state.json``), or None for a ``.keras`` file saved another way."""
    import json  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    from ganzoo.checkpoint import STATE_MEMBER  # noqa: PLC0415

    try:
        with zipfile.ZipFile(model_file) as archive:
            return int(json.loads(archive.read(STATE_MEMBER).decode("utf-8"))["step"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


# ---------------------------------------------------------------------- which command fits which model

# A model's kind is its class's ``data_kind`` (ganzoo.model_registry.DATA_KINDS): ``latent``
# GANs draw images from random latents, ``paired_lr_hr`` models upscale (super-resolution),
# ``unpaired_ab`` models translate between two domains. ``style_mixing`` is a capability
# (a class with ``style_layers``, StyleGAN's), not a kind.

#: What each kind of model is, in a few words.
_KIND_TEXT = {
    "latent": "a {cls} (it draws new images from random latents)",
    "paired_lr_hr": "an {cls} (super-resolution: a picture in, a larger picture out; nothing to sample from noise)",
    "unpaired_ab": "a {cls} (it translates pictures between two domains; nothing to sample from noise)",
}
#: The commands each kind of model is for (the first is suggested to a user who ran another).
_KIND_COMMANDS = {
    "latent": ("sample {src} -n 64 -o grid.png", "interpolate {src} -o walk.gif"),
    "paired_lr_hr": ("upscale {src} PICTURE -o big.png", "eval {src}"),
    "unpaired_ab": ("stylize {src} PICTURE --direction DIRECTION -o out.png",),
}
#: command -> (kinds it works on, what it needs in words)
COMMAND_KINDS = {
    "sample": (("latent",), "needs a GAN that draws images from random latents"),
    "generate": (("latent",), "needs a GAN that draws images from random latents"),
    "interpolate": (("latent",), "walks through the latent space of a GAN that draws images from random latents"),
    "demo": (("latent",), "needs a GAN that draws images from random latents"),
    "export": (("latent",), "exports latent-to-image generators (z in, images out)"),
    "stylemix": (("style_mixing",), "needs a StyleGAN (e.g. stylegan_mnist)"),
    "eval": (("latent", "paired_lr_hr"), "scores GAN samples (FID, FCD, ...) and SRGAN upscaling (PSNR/SSIM); a "
                                         "CycleGAN has no ground truth to score against here"),
    "upscale": (("paired_lr_hr",), "needs a super-resolution model (e.g. srgan_div2k)"),
    "stylize": (("unpaired_ab",), "needs a CycleGAN (e.g. cyclegan_monet2photo)"),
}


def kind_of_class(cls: str) -> str:
    """The kind of a ``model.cls``: its registered ``data_kind`` (no TensorFlow needed)."""
    from ganzoo.model_registry import model_class_info  # noqa: PLC0415

    return model_class_info(cls).data_kind


def _kind_of_model(model) -> tuple[str, str]:
    """``(kind, class name)`` of a loaded model: the ``data_kind`` its class declares."""
    return getattr(type(model), "data_kind", None) or "latent", type(model).__name__


def _mixes_styles(cls) -> bool:
    """Whether a class (or a registered ``model.cls`` name) has StyleGAN's per-layer styles."""
    if isinstance(cls, str):
        from ganzoo.model_registry import model_class  # noqa: PLC0415

        cls = model_class(cls)
    return callable(getattr(cls, "style_layers", None))


def check_command_fits(command: str, kind: str, cls, source: str) -> None:
    """ValueError (one line: what the model is, what the command needs, what to run instead)
    when ``command`` does not apply to a model of ``kind`` / class ``cls`` (a class, or its
    registered name)."""
    kinds, needs = COMMAND_KINDS[command]
    fits = kind in kinds or ("style_mixing" in kinds and kind == "latent" and _mixes_styles(cls))
    if fits:
        return
    cls = cls if isinstance(cls, str) else cls.__name__
    instead = [c.format(src=source) for c in _KIND_COMMANDS[kind] if c.split()[0] != command]
    raise ValueError(f"'{source}' is {_KIND_TEXT[kind].format(cls=cls)}; `ganzoo {command}` {needs}. "
                     f"Use `ganzoo {instead[0]}`" + (f" (also: {', '.join(f'ganzoo {c.split()[0]}' for c in instead[1:])})"
                                                      if len(instead) > 1 else ""))


def check_entry_fits(command: str, source: str) -> None:
    """:func:`check_command_fits` for a zoo entry by name, before anything is loaded (unknown
    names fail here with the closest entries)."""
    from ganzoo.registry import get_config  # noqa: PLC0415

    cls = get_config(source).model.cls
    check_command_fits(command, kind_of_class(cls), cls, source)


def load_source(source: str, weights: Optional[str] = None, command: Optional[str] = None):
    """``(model, provenance)`` for a run folder / ``.keras`` file, or a zoo entry by name
    (``weights``: ``"pretrained"`` for the bundled weights, a weights file, ``"untrained"`` or
    None for the random initial weights).

    ``provenance`` says which weights these are: ``weights`` is ``"run"`` (with the ``step``
    the file was saved at when known), ``"bundled"``, ``"file"`` or ``"untrained"``. With
    ``command``, a model that the command does not apply to is refused (see
    :func:`check_command_fits`), for an entry before any loading.
    """
    from ganzoo.evaluation.paths import sha256_file  # noqa: PLC0415  (SciPy: not for `ganzoo --help`)

    if is_path_source(source):
        import keras  # noqa: PLC0415

        import ganzoo.models  # noqa: F401,PLC0415  (registers the classes for deserialisation)

        model_file = find_model_file(Path(source).expanduser())
        model = keras.saving.load_model(str(model_file))
        if command:
            check_command_fits(command, _kind_of_model(model)[0], type(model), source)
        step = saved_step(model_file)
        return model, {"model": model.name, "source": str(model_file), "weights": "run", "step": step,
                       "weights_sha256": sha256_file(model_file)}
    if command:
        check_entry_fits(command, source)
    from ganzoo.builders import load  # noqa: PLC0415
    from ganzoo.weights import pretrained_path  # noqa: PLC0415

    untrained = weights in (None, "untrained")
    model = load(source, weights=None if untrained else weights, compile=False)
    weights_file = pretrained_path(model.name) if weights == "pretrained" else (None if untrained else Path(weights))
    kind = "untrained" if untrained else "bundled" if weights == "pretrained" else "file"
    text = {"untrained": "untrained weights", "bundled": "bundled pretrained weights"}.get(kind, f"weights {weights}")
    return model, {"model": model.name, "source": f"{source} ({text})", "weights": kind,
                   "weights_sha256": sha256_file(weights_file) if weights_file else None}


def describe_weights(provenance: dict) -> str:
    """Which weights, in words: ``runs/x/model.keras (step 2,340)``, ``cgan_mnist (bundled
    pretrained weights)``, ``dcgan_mnist (UNTRAINED: random initial weights)``."""
    if provenance.get("weights") == "run":
        step = provenance.get("step")
        return f"{provenance['source']} ({'step ' + format(step, ',') if step is not None else 'step unknown'})"
    if provenance.get("weights") == "untrained":
        return f"{provenance['model']} (UNTRAINED: random initial weights)"
    return provenance["source"]


def choose_generator(model, provenance: dict, raw: bool = False):
    """The :class:`ganzoo.models.base.SamplingChoice` of a command: the raw generator with
    ``--raw``, else the EMA generator once warm (``model.sampling_choice``). Bundled weights
    are one generator (the EMA generator of the run that trained them), so ``--raw`` is refused."""
    from ganzoo.models.base import SamplingChoice  # noqa: PLC0415

    if provenance.get("weights") == "bundled":
        if raw:
            raise ValueError(f"--raw: the bundled weights of {model.name} are one generator (the EMA generator of "
                             "the run that trained them), there is no raw one; use a run folder or .keras file")
        return SamplingChoice(model.ema_generator is not None,
                              "bundled generator (the EMA generator of the run that trained it)")
    return model.sampling_choice(False if raw else None)


def load_model_or_entry(source: str, weights: Optional[str] = None):
    """A trained model from a run folder / .keras file, or a zoo entry by name."""
    return load_source(source, weights)[0]


def default_weights(source: str, weights: Optional[str]) -> Optional[str]:
    """Entry names default to the bundled pretrained weights (there is nothing to see in an
    untrained generator); say so clearly when an entry has none."""
    if weights is not None or is_path_source(source):
        return weights
    return "pretrained"


def add_raw_option(parser) -> None:
    """``--raw``: sample from the raw generator instead of the EMA generator."""
    parser.add_argument("--raw", action="store_true",
                        help="use the raw generator G, not its EMA (default: the EMA generator once it is warm, "
                             "see README 'EMA generator')")
