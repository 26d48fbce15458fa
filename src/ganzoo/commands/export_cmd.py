"""``ganzoo export RUN_DIR_OR_FILE --format savedmodel|tflite|keras -o DIR``."""

from pathlib import Path


from ganzoo.commands.common import add_raw_option


def add_parser(sub):
    """Register ``ganzoo export`` and its options on the subcommand parsers ``sub``."""
    from ganzoo.export import FORMATS  # noqa: PLC0415  (no TensorFlow import)

    p = sub.add_parser("export", help="export a trained generator (SavedModel, TFLite or .keras)",
                       description="Export the sampling generator of a run (the EMA generator once it is warm, "
                                   "else the raw one; --raw: the raw one) with a serving signature: latents (and labels) in, uint8 "
                                   "images out. See ganzoo/export.py for the formats.")
    p.add_argument("source", help="run folder (from `ganzoo train --out`) or a .keras file")
    p.add_argument("--format", choices=FORMATS, default="savedmodel", help="default savedmodel")
    p.add_argument("-o", "--output", required=True, help="output folder")
    add_raw_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``ganzoo export`` with the parsed ``args``; return the exit status (0 on success)."""
    from ganzoo.commands.common import choose_generator, load_source  # noqa: PLC0415

    path = Path(args.source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"'{path}' is neither a run folder nor a .keras file")
    from ganzoo.export import export_generator  # noqa: PLC0415

    model, provenance = load_source(str(path), command="export")
    choice = choose_generator(model, provenance, args.raw)
    print(f"exporting the {choice}")
    from ganzoo.export import needs_tensorflow_process  # noqa: PLC0415

    if needs_tensorflow_process(args.format):
        import keras  # noqa: PLC0415

        print(f"this process runs Keras on {keras.backend.backend()}: the {args.format} export is written by a "
              "TensorFlow subprocess from the same weights")
    written = export_generator(model, Path(args.output), args.format, use_ema=choice.ema)
    print(f"wrote {args.format} export of {model.name} to {written}")
    return 0
