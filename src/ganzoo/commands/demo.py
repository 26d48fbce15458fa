"""``ganzoo demo [--out DIR]``: the main job, offline, from the weights bundled with ganzoo.

Writes a grid of every digit, a latent walk and a class morph made by the pretrained
``cgan_mnist`` generator, and says where they are.
"""

from pathlib import Path


def add_parser(sub):
    """Register ``ganzoo demo`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser("demo", help="make pictures from the bundled pretrained weights (offline)")
    p.add_argument("--out", default="ganzoo_demo", help="output folder (default ganzoo_demo)")
    p.add_argument("--entry", default="cgan_mnist", help="a conditional entry with bundled weights")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``ganzoo demo`` with the parsed ``args``; return the exit status (0 on success)."""
    from ganzoo import art  # noqa: PLC0415
    from ganzoo.commands.common import load_source  # noqa: PLC0415
    from ganzoo.images import ensure_writable_dir, save_gif, save_grid, to_uint8  # noqa: PLC0415

    out = ensure_writable_dir(Path(args.out), "output folder", "--out")
    model, provenance = load_source(args.entry, "pretrained", command="demo")
    classes = model.num_classes or 1
    n = 10 * classes
    labels = [i % classes for i in range(n)] if model.conditional else None
    grid = save_grid(model.generate(n, labels=labels, seed=args.seed), out / "digits.png", nrow=classes,
                     metadata=dict(provenance, seed=args.seed, labels=labels))
    seeds = [args.seed + i for i in range(4)]
    walk_frames = art.latent_walk(model, seeds, frames=48, labels=3 if model.conditional else None, loop=True)
    walk = save_gif(list(_enlarge(to_uint8(walk_frames))), out / "walk.gif", duration_ms=60,
                    metadata=dict(provenance, kind="latent walk (slerp)", seeds=seeds, labels=3))
    written = [grid, walk]
    if model.conditional:
        morph_frames = art.class_morph(model, 1, 5, frames=24, seed=args.seed)
        written.append(save_gif(list(_enlarge(to_uint8(morph_frames))), out / "morph_1_to_5.gif", duration_ms=80,
                                metadata=dict(provenance, kind="class interpolation", classes=[1, 5],
                                              seed=args.seed)))
    print(f"ganzoo demo: {args.entry} with its bundled pretrained weights (offline)")
    for path in written:
        print(f"  wrote {path}")
    print("next: `ganzoo generate cgan_mnist --labels 0-9 -n 100 -o more.png`, `ganzoo list`, "
          "`ganzoo train dcgan_mnist --out runs/mine`")
    return 0


def _enlarge(frames, factor: int = 4):
    return frames.repeat(factor, axis=1).repeat(factor, axis=2)
