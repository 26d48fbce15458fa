"""``ganzoo stylize MODEL_OR_RUN photo.jpg --direction photo2painting -o painting.png``: CycleGAN translation.

Any size works (sides are reflect-padded to a multiple of 4 and cropped back); the picture
runs whole by default, ``--tile N`` bounds memory for very large ones.
"""

from ganzoo.commands.image2image_common import load_image_to_image_model, output_path, picture_for, positive_tile


def add_parser(sub):
    """Register ``ganzoo stylize`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser("stylize", help="translate a picture with a trained CycleGAN (photo -> painting, ...)",
                       description="Translate an image with a trained CycleGAN (a run folder or .keras file from "
                                   "`ganzoo train cyclegan_monet2photo`, or your own two folders).")
    p.add_argument("source", help="run folder or .keras file of a trained CycleGAN (or an entry with bundled weights)")
    p.add_argument("image", help="the picture to translate (PNG, JPEG, WebP, TIFF, ...)")
    p.add_argument("--direction", help="e.g. photo2painting, painting2photo, horse2zebra, a2b, b2a "
                                       "(default: photo2painting when the model knows it)")
    p.add_argument("-o", "--output", help="output PNG (default: IMAGE_DIRECTION.png next to the input)")
    p.add_argument("--tile", type=int, help="process in tiles of this many pixels (default: the whole picture)")
    p.add_argument("--overlap", type=int, default=64, help="pixels shared by neighbouring tiles (default 64)")
    p.add_argument("--weights", help="for an entry name: 'pretrained' or a weights file")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``ganzoo stylize`` with the parsed ``args``; return the exit status (0 on success)."""
    from ganzoo.data.folder import read_image_file  # noqa: PLC0415
    from ganzoo.images import save_image  # noqa: PLC0415

    positive_tile(args.tile, args.overlap)
    picture = read_image_file(args.image)  # a missing or unreadable picture fails before the model loads
    model, provenance = load_image_to_image_model(args.source, args.weights, "stylize")
    picture = picture_for(model, args.image, picture)
    direction = args.direction
    if direction is None:
        if "photo2painting" not in model.directions:
            raise ValueError(f"say which way to translate with --direction: one of {', '.join(model.directions)}")
        direction = "photo2painting"
    model.generator_for(direction)  # unknown directions fail before any work
    output = output_path(args.output, args.image, direction)
    result = model.translate(picture, direction=direction, tile=args.tile, overlap=args.overlap)
    save_image(result, output, metadata=dict(provenance, task="stylize", input=str(args.image), direction=direction,
                                             tile=args.tile, overlap=args.overlap))
    h, w = picture.shape[:2]
    print(f"wrote {output}: {w}x{h}, {direction}")
    return 0
