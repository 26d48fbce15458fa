"""``ganzoo export RUN_DIR_OR_FILE --format savedmodel|tflite|keras -o DIR``."""

from pathlib import Path


def add_parser(sub):
    """Register ``ganzoo export`` and its options on the subcommand parsers ``sub``."""
    from ganzoo.export import FORMATS  # noqa: PLC0415  (no TensorFlow import)

    p = sub.add_parser("export", help="export a trained generator (SavedModel, TFLite or .keras)",
                       description="Export the sampling generator of a run (the EMA generator if the model "
                                   "keeps one) with a serving signature: latents (and labels) in, uint8 "
                                   "images out. See ganzoo/export.py for the formats.")
    p.add_argument("source", help="run folder (from `ganzoo train --out`) or a .keras file")
    p.add_argument("--format", choices=FORMATS, default="savedmodel", help="default savedmodel")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``ganzoo export`` with the parsed ``args``; return the exit status (0 on success)."""
    from ganzoo.commands.common import find_model_file  # noqa: PLC0415

    path = Path(args.source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"'{path}' is neither a run folder nor a .keras file")
    import keras  # noqa: PLC0415

    import ganzoo.models  # noqa: F401,PLC0415  (registers the classes for deserialisation)
    from ganzoo.export import export_generator  # noqa: PLC0415

    model = keras.saving.load_model(str(find_model_file(path)))
    written = export_generator(model, Path(args.output), args.format)
    print(f"wrote {args.format} export of {model.name} to {written}")
    return 0
