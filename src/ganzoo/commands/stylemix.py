"""``ganzoo stylemix NAME_OR_RUN --rows 1,2,3 --cols 4,5,6 [--layers coarse] [--truncation 0.7] -o mix.png``

The style-mixing grid of a StyleGAN model (Karras et al. 2019, fig. 3): the column seeds'
images along the top, the row seeds' images down the left, and in each cell the row image
with the ``--layers`` styles taken from the column image.
"""

from pathlib import Path

from ganzoo.commands.common import (add_raw_option, choose_generator, default_weights, load_source,
                                   parse_int_ranges)

LAYER_HELP = ("style layers copied from the column images: coarse (4-8 px: pose, shape), middle, fine "
              "(colour, texture), all, or indices into ws such as 0-3 or 0,2,4 (default coarse)")


def add_parser(sub):
    """Register ``ganzoo stylemix`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser("stylemix", help="write a StyleGAN style-mixing grid",
                       description="Write the style-mixing grid of a StyleGAN model: top row = --cols seeds, "
                                   "left column = --rows seeds, cells = row image with the --layers styles of "
                                   "the column image.")
    p.add_argument("source", help="entry name (pretrained weights), run folder or .keras file")
    p.add_argument("--rows", required=True, help="row seeds (source A), e.g. 1,2,3 or 1-3")
    p.add_argument("--cols", required=True, help="column seeds (source B), e.g. 4,5,6")
    p.add_argument("--layers", default="coarse", help=LAYER_HELP)
    p.add_argument("--truncation", type=float, help="truncation psi in [0, 2] towards the average w")
    p.add_argument("--noise", default="const", choices=("const", "random", "none"),
                   help="noise inputs: fixed per layer (default), random, or none")
    p.add_argument("--weights", help="for an entry name: 'pretrained' (default), a weights file or 'untrained'")
    add_raw_option(p)
    p.add_argument("-o", "--output", default="stylemix.png", help="output PNG (default stylemix.png)")
    p.set_defaults(func=run)


def parse_ints(text: str, option: str) -> list:
    """``"1,2,3"``, ``"0-3"`` or ``"0-2,7"`` -> a list of non-negative ints."""
    values = parse_int_ranges(text, option, "1,2,3 or 0-3")
    if not values or min(values) < 0:
        raise ValueError(f"{option} needs at least one non-negative integer, got '{text}'")
    return values


def run(args) -> int:
    """Run ``ganzoo stylemix`` with the parsed ``args``; return the exit status (0 on success)."""
    from ganzoo.art import style_mix  # noqa: PLC0415
    from ganzoo.images import save_grid  # noqa: PLC0415

    rows, cols = parse_ints(args.rows, "--rows"), parse_ints(args.cols, "--cols")
    layers = args.layers if args.layers in ("coarse", "middle", "fine", "all") else parse_ints(args.layers, "--layers")
    output = Path(args.output)
    if output.suffix.lower() != ".png":
        raise ValueError(f"-o must name a .png file, got '{args.output}'")
    model, provenance = load_source(args.source, default_weights(args.source, args.weights), command="stylemix")
    choice = choose_generator(model, provenance, args.raw)
    print(f"sampling from the {choice}")
    grid = style_mix(model, rows, cols, layers=layers, truncation=args.truncation, noise=args.noise,
                     use_ema=choice.ema)
    meta = dict(provenance, generator=choice.description, rows=rows, cols=cols, layers=args.layers, style_indices=model.style_layers(layers),
                truncation=args.truncation, noise=args.noise)
    save_grid(grid.reshape((-1,) + grid.shape[2:]), output, nrow=len(cols) + 1, metadata=meta)
    print(f"wrote a {len(rows) + 1}x{len(cols) + 1} style-mixing grid to {output}")
    return 0
