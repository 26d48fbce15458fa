"""``ganzoo train NAME [--epochs --steps --batch-size --out --data-dir --set key=value ...]``."""

from pathlib import Path


def add_parser(sub):
    p = sub.add_parser("train", help="train a zoo entry (or your own YAML config)",
                       description="Train an entry; writes config, checkpoints, logs, a loss plot, sample "
                                   "grids and model.keras into --out.")
    p.add_argument("name", help="entry name (see `ganzoo list`) or a YAML file")
    p.add_argument("--epochs", type=int, help="number of epochs (default: the entry's)")
    p.add_argument("--steps", type=int, help="steps per epoch (default: one pass over the data)")
    p.add_argument("--batch-size", type=int, help="images per step")
    p.add_argument("--out", help="run folder (default runs/NAME)")
    p.add_argument("--data-dir", help="TFDS data folder (default $TFDS_DATA_DIR or ~/tensorflow_datasets)")
    p.add_argument("--data-path", help="train on a folder of your own images (sets data.source=folder)")
    p.add_argument("--jit", choices=["auto", "on", "off"], help="XLA compilation (default: the entry's, auto)")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set train.learning_rate=2e-4 (repeatable)")
    p.add_argument("--samples-every", type=int, default=1, help="write a sample grid every N epochs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def config_from_args(args):
    from ganzoo.config import parse_set_option  # noqa: PLC0415
    from ganzoo.registry import get_config  # noqa: PLC0415

    overrides = dict(parse_set_option(s) for s in args.set)
    jit = {"on": True, "off": False, "auto": "auto", None: None}[args.jit]
    overrides.update({"train.epochs": args.epochs, "train.steps_per_epoch": args.steps,
                      "train.batch_size": args.batch_size, "train.jit_compile": jit, "train.seed": args.seed})
    if args.data_path:
        overrides.update({"data.source": "folder", "data.path": args.data_path})
    return get_config(args.name, **overrides)


def run(args) -> int:
    from ganzoo.training import train  # noqa: PLC0415

    config = config_from_args(args)
    out = Path(args.out or Path("runs") / config.name)
    print(f"training {config.name} ({config.model.cls}, {config.model.loss} loss) for {config.train.epochs} "
          f"epoch(s); run folder: {out}")
    train(config, out=out, data_dir=args.data_dir, verbose=2 if args.quiet else "auto",
          samples_every=args.samples_every)
    print(f"done: {out / 'model.keras'}; samples in {out / 'samples'}; "
          f"sample more with `ganzoo sample {out} -n 64 -o grid.png`")
    return 0
