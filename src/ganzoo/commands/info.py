"""``ganzoo info NAME``: a zoo entry (paper, architecture, data, bundled weights and how they
were trained and scored); ``ganzoo info FILE.png``: the provenance ganzoo wrote into an image
or GIF.

Both read files only (the entry's YAML, ``ganzoo/pretrained/NAME.json``, the image's text
chunks): no TensorFlow, so the answer comes at once.
"""

import json
from pathlib import Path


def add_parser(sub):
    """Register ``ganzoo info`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser("info", help="describe a zoo entry, or show the provenance stored in a PNG/GIF ganzoo wrote",
                       description="With an entry name: its paper, networks, data, training recipe and bundled "
                                   "weights (how they were trained and scored). With a PNG/GIF file: the "
                                   "provenance ganzoo stored in it (model, weights, seed, labels, ...).")
    p.add_argument("target", metavar="NAME_OR_FILE", help="entry name (see `ganzoo list`) or your YAML config, or a PNG/GIF ganzoo wrote")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _print_table(meta: dict) -> None:
    width = max(len(k) for k in meta)
    for key, value in meta.items():
        print(f"{key.ljust(width)}  {value}")


def entry_info(name: str) -> dict:
    """What ``ganzoo info NAME`` prints, as a dict (config facts, then the bundled weights' metadata)."""
    from ganzoo.registry import get_config  # noqa: PLC0415
    from ganzoo.weights import pretrained_path  # noqa: PLC0415

    c = get_config(name)
    data = (f"TFDS {c.data.name}" if c.data.source == "tfds" else f"{c.data.source} {c.data.path or ''}".strip())
    info = {
        "entry": c.name,
        "description": c.description,
        "paper": c.paper,
        "model": f"{c.model.cls} ({c.model.loss} loss)",
        "networks": f"G {c.generator.arch}, D {c.discriminator.arch}",
        "data": f"{data}, {c.data.image_size}x{c.data.image_size}x{c.data.channels}",
        "training": f"{c.train.epochs} epoch(s) at batch {c.train.batch_size}, lr {c.train.learning_rate}",
        "source": " ".join(c.source.split()),
    }
    weights = pretrained_path(c.name)
    meta_file = weights.with_name(f"{c.name}.json")
    if weights.is_file() and meta_file.is_file():
        meta = json.loads(meta_file.read_text())
        trained = [f"{meta[k]} {label}" for k, label in (("epochs", "epochs"), ("steps", "steps"),
                                                           ("batch_size", "per batch")) if k in meta]
        if "training_seconds" in meta:
            trained.append(f"{meta['training_seconds'] / 60:.0f} min on {meta.get('machine', '?')}")
        info["pretrained"] = f"{weights.name} ({', '.join(trained)})"
        metrics = meta.get("evaluation", {}).get("metrics", {})
        if metrics:
            info["scores"] = ", ".join(f"{k} {v}" for k, v in metrics.items())
        info["try"] = f"ganzoo sample {c.name} -n 64 -o grid.png"
    else:
        info["pretrained"] = "none bundled"
        info["try"] = f"ganzoo train {c.name} --out runs/{c.name}"
    return {k: v for k, v in info.items() if v not in ("", None)}


def run(args) -> int:
    """Run ``ganzoo info`` with the parsed ``args``; return the exit status (0 on success)."""
    path = Path(args.target).expanduser()
    if not path.is_file() or path.suffix.lower() in (".yaml", ".yml"):
        if path.suffix.lower() in (".png", ".gif"):
            raise FileNotFoundError(f"{args.target}: does not exist")
        meta = entry_info(args.target)  # an unknown name: UnknownModelError with the closest entries
        if args.json:
            print(json.dumps(meta, indent=2))
        else:
            _print_table(meta)
        return 0
    from ganzoo.images import read_metadata  # noqa: PLC0415

    meta = read_metadata(path)
    if not meta:
        print(f"{args.target}: no ganzoo metadata (not written by ganzoo, or stripped)")
        return 1
    if args.json:
        print(json.dumps(meta, indent=2))
    else:
        _print_table(meta)
    return 0
