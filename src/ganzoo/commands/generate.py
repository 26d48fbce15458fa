"""``ganzoo generate NAME_OR_RUN -n 64 --seed 7 [--labels 0-9] [--truncation 0.7] -o art.png [--separate]``

(``ganzoo sample`` is the same command.) An entry name uses its bundled pretrained
weights; a run folder or ``.keras`` file uses the trained model in it.

A truncation sweep, ``--truncation 1,0.9,0.8,0.7,0.6,0.5``, draws one grid: a row per psi, the
same ``-n`` latents (seed) in every row, so each column shows one latent pulled towards the
average as psi falls (StyleGAN: in W towards the tracked average w; other models: z scaled).
"""

from pathlib import Path

from ganzoo.commands.common import (add_raw_option, choose_generator, cycle_labels, default_weights, load_source,
                                   parse_labels)


def add_parser(sub):
    """Register ``ganzoo generate`` and its alias ``ganzoo sample`` with their options on ``sub``."""
    for name, help_text in (("generate", "write a grid (or separate PNGs) of generated images"),
                            ("sample", "same as generate")):
        p = sub.add_parser(name, help=help_text,
                           description="Generate images from a zoo entry's pretrained weights, a run folder "
                                       "or a .keras file. The same seed gives the same images on every run.")
        p.add_argument("source", help="entry name (pretrained weights), run folder or .keras file")
        p.add_argument("-n", type=int, default=64, help="number of images (default 64)")
        p.add_argument("--seed", type=int, default=0, help="same seed, same images (default 0)")
        p.add_argument("--labels", help="classes for conditional models: 3, 0-9 or 1,5,7 (cycled over images)")
        p.add_argument("--truncation", type=parse_truncation,
                       help="truncation psi in [0, 2]: lower = less varied, cleaner; a comma list such as "
                            "1,0.8,0.6 draws a sweep: one row per psi, the same latents in every row")
        p.add_argument("--nrow", type=int, help="images per row of the grid")
        p.add_argument("--weights", help="for an entry name: 'pretrained' (default), a weights file or 'untrained'")
        add_raw_option(p)
        p.add_argument("--separate", action="store_true", help="one PNG per image: OUTPUT_STEM_0000.png, ...")
        p.add_argument("-o", "--output", default="samples.png", help="output PNG (default samples.png)")
        p.set_defaults(func=run)


def parse_truncation(text: str):
    """``"0.7"`` -> 0.7; ``"1,0.8,0.6"`` -> [1.0, 0.8, 0.6] (a sweep); the range is checked by the model."""
    import argparse  # noqa: PLC0415

    parts = [part.strip() for part in str(text).split(",")]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"truncation must be a number or a comma list of numbers such as "
                                         f"1,0.8,0.6, got '{text}'") from None
    return values[0] if len(values) == 1 else values


def _sweep(model, args, labels, choice):
    """One row of ``args.n`` images per psi of ``args.truncation`` (a list), same latents in every row."""
    import numpy as np  # noqa: PLC0415

    if args.separate:
        raise ValueError("a truncation sweep draws one grid: give --truncation a single psi with --separate, "
                         "or drop --separate")
    if args.nrow is not None and args.nrow != args.n:
        raise ValueError(f"a truncation sweep has one row of -n images per psi: drop --nrow (got {args.nrow})")
    rows = [model.generate(args.n, labels=labels, seed=args.seed, truncation=psi, use_ema=choice.ema)
            for psi in args.truncation]
    return np.concatenate(rows, axis=0)


def run(args) -> int:
    """Run ``ganzoo generate`` with the parsed ``args``; return the exit status (0 on success)."""
    from ganzoo.images import save_grid, save_image  # noqa: PLC0415

    if args.n <= 0:
        raise ValueError(f"-n must be a positive number of images, got {args.n}")
    labels = cycle_labels(parse_labels(args.labels), args.n)
    output = Path(args.output)
    if output.suffix.lower() != ".png":
        raise ValueError(f"-o must name a .png file, got '{args.output}'")
    model, provenance = load_source(args.source, default_weights(args.source, args.weights),
                                    command=getattr(args, "command", None) or "sample")
    choice = choose_generator(model, provenance, args.raw)
    print(f"sampling from the {choice}")
    sweep = isinstance(args.truncation, list)
    if sweep:
        images = _sweep(model, args, labels, choice)
    else:
        images = model.generate(args.n, labels=labels, seed=args.seed, truncation=args.truncation, use_ema=choice.ema)
    resolved = model.resolve_labels(args.n, labels)
    meta = dict(provenance, generator=choice.description, seed=args.seed, truncation=args.truncation,
                labels=None if resolved is None else resolved.tolist())
    if args.separate:
        paths = []
        for i, image in enumerate(images):
            paths.append(save_image(image, output.with_name(f"{output.stem}_{i:04d}.png"),
                                    metadata=dict(meta, index=i, labels=None if resolved is None else int(resolved[i]))))
        print(f"wrote {len(paths)} images: {paths[0]} ... {paths[-1]}")
        return 0
    if sweep:
        save_grid(images, output, nrow=args.n, metadata=dict(meta, rows="one per truncation psi, top to bottom"))
        print(f"wrote a truncation sweep ({len(args.truncation)} rows of {args.n} images, psi "
              f"{', '.join(f'{psi:g}' for psi in args.truncation)}) to {output}")
        return 0
    nrow = args.nrow
    if nrow is None and model.conditional:  # one class per column when the labels cycle evenly
        asked = parse_labels(args.labels)
        period = model.num_classes if asked is None else len(asked) if isinstance(asked, list) else 1
        if period > 1 and args.n % period == 0:
            nrow = period
    save_grid(images, output, nrow=nrow, metadata=meta)
    print(f"wrote {args.n} images to {output}")
    return 0
