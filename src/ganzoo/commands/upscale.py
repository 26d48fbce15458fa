"""``ganzoo upscale MODEL_OR_RUN in.png -o out.png [--tile 128 --overlap 32]``: super-resolve a picture.

Any size works: pictures larger than the tile are upscaled in overlapping tiles blended
without seams (ganzoo.tiling). RGBA / grayscale / palette pictures are converted to what the
model takes: RGB, or grey for a grayscale model (srgan_mnist).
"""

from ganzoo.commands.image2image_common import load_image_to_image_model, output_path, picture_for, positive_tile


def add_parser(sub):
    """Register ``ganzoo upscale`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser("upscale", help="upscale a picture with a trained SRGAN (any size)",
                       description="Upscale an image with a trained super-resolution model (a run folder or "
                                   ".keras file from `ganzoo train srgan_div2k`).")
    p.add_argument("source", help="run folder or .keras file of a trained SRGAN (or an entry with bundled weights)")
    p.add_argument("image", help="the picture to upscale (PNG, JPEG, WebP, TIFF, ...)")
    p.add_argument("-o", "--output", help="output PNG (default: IMAGE_x4.png next to the input)")
    p.add_argument("--tile", type=int, default=128, help="tile side in input pixels (default 128)")
    p.add_argument("--overlap", type=int, default=32, help="pixels shared by neighbouring tiles (default 32)")
    p.add_argument("--weights", help="for an entry name: 'pretrained' or a weights file")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``ganzoo upscale`` with the parsed ``args``; return the exit status (0 on success)."""
    from ganzoo.data.folder import read_image_file  # noqa: PLC0415
    from ganzoo.images import save_image  # noqa: PLC0415

    positive_tile(args.tile, args.overlap)
    picture = read_image_file(args.image)
    model, provenance = load_image_to_image_model(args.source, args.weights, "upscale")
    output = output_path(args.output, args.image, f"x{model.scale}")
    picture = picture_for(model, args.image, picture)
    result = model.upscale(picture, tile=args.tile, overlap=args.overlap)
    save_image(result, output, metadata=dict(provenance, task="upscale", input=str(args.image), scale=model.scale,
                                             tile=args.tile, overlap=args.overlap))
    h, w = picture.shape[:2]
    print(f"wrote {output}: {w}x{h} -> {result.shape[1]}x{result.shape[0]} (x{model.scale})")
    return 0
