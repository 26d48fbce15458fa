"""``ganzoo sample RUN_DIR_OR_FILE -n 64 --seed 1 [--labels 0-9] -o grid.png``."""

from pathlib import Path

from ganzoo.commands.common import cycle_labels, load_model_or_entry, parse_labels


def add_parser(sub):
    p = sub.add_parser("sample", help="write a grid of samples from a trained run",
                       description="Generate images from a run folder, a .keras file or a zoo entry.")
    p.add_argument("source", help="run folder (from `ganzoo train --out`), .keras file or entry name")
    p.add_argument("-n", type=int, default=64, help="number of images (default 64)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same images (default 0)")
    p.add_argument("--labels", help="classes for conditional models: 3, 0-9 or 1,5,7 (cycled)")
    p.add_argument("--truncation", type=float, help="truncation psi in [0, 2]")
    p.add_argument("--nrow", type=int, help="images per row")
    p.add_argument("--weights", help="for an entry name: 'pretrained' or a weights file")
    p.add_argument("-o", "--output", default="samples.png", help="output PNG (default samples.png)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ganzoo.images import save_grid  # noqa: PLC0415

    if args.n <= 0:
        raise ValueError(f"-n must be a positive number of images, got {args.n}")
    model = load_model_or_entry(args.source, weights=args.weights)
    labels = cycle_labels(parse_labels(args.labels), args.n)
    images = model.generate(args.n, labels=labels, seed=args.seed, truncation=args.truncation)
    nrow = args.nrow
    if nrow is None and model.conditional and args.labels is None and args.n % model.num_classes == 0:
        nrow = model.num_classes
    out = save_grid(images, Path(args.output), nrow=nrow, metadata={
        "model": model.name, "source": args.source, "seed": args.seed,
        "labels": model.resolve_labels(args.n, labels) if model.conditional else None,
        "truncation": args.truncation})
    print(f"wrote {args.n} samples to {out}")
    return 0
