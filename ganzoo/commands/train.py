"""``ganzoo train NAME [--epochs --steps --batch-size --out --data-dir --set key=value ...]``
and ``ganzoo train --resume RUN [--epochs E]``.

Exit status: 0 done; 2 bad input (config, data, paths, no checkpoint to resume); 3 training
diverged (a NaN/Inf loss; the last good checkpoint is kept); 4 a checkpoint could not be
written (e.g. disk full; the previous checkpoint is intact).
"""

import sys
from pathlib import Path

EXIT_DIVERGED = 3
EXIT_CHECKPOINT_WRITE = 4


def add_parser(sub):
    from ganzoo.config import PRECISIONS  # noqa: PLC0415
    from ganzoo.distribute import STRATEGIES  # noqa: PLC0415

    p = sub.add_parser("train", help="train a zoo entry (or your own YAML config), or resume a run",
                       description="Train an entry; writes config, checkpoints, logs, a loss plot, sample "
                                   "grids and model.keras into --out. `--resume RUN` continues a run from its "
                                   "newest good checkpoint.")
    p.add_argument("name", nargs="?", help="entry name (see `ganzoo list`) or a YAML file")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its newest good checkpoint "
                                                   "(with its config; only --epochs may change)")
    p.add_argument("--epochs", type=int, help="number of epochs (default: the entry's)")
    p.add_argument("--steps", type=int, help="steps per epoch (default: one pass over the data)")
    p.add_argument("--batch-size", type=int, help="images per step (the global batch under --strategy)")
    p.add_argument("--out", help="run folder (default runs/NAME)")
    p.add_argument("--data-dir", help="TFDS data folder (default $TFDS_DATA_DIR or ~/tensorflow_datasets)")
    p.add_argument("--data-path", help="train on a folder of your own images (sets data.source=folder)")
    p.add_argument("--jit", choices=["auto", "on", "off"], help="XLA compilation (default: the entry's, auto)")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set train.learning_rate=2e-4 (repeatable)")
    p.add_argument("--strategy", choices=STRATEGIES, default="none",
                   help="tf.distribute strategy: mirrored (local GPUs), multiworker (needs TF_CONFIG), tpu")
    p.add_argument("--precision", choices=PRECISIONS, help="dtype policy (sets train.precision; default float32)")
    p.add_argument("--checkpoint-every", type=int, metavar="N",
                   help="write a checkpoint every N steps (default: at the end of every epoch); always at the end")
    p.add_argument("--keep-checkpoints", type=int, default=3, metavar="K", help="keep the newest K checkpoints")
    p.add_argument("--deterministic", action="store_true",
                   help="TensorFlow op determinism: bitwise-reproducible runs and resumes (slower)")
    p.add_argument("--samples-every", type=int, default=1, help="write a sample grid every N epochs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def config_from_args(args):
    from ganzoo.config import parse_set_option  # noqa: PLC0415
    from ganzoo.registry import get_config  # noqa: PLC0415

    overrides = dict(parse_set_option(s) for s in args.set)
    jit = {"on": True, "off": False, "auto": "auto", None: None}[args.jit]
    flags = {"train.epochs": args.epochs, "train.steps_per_epoch": args.steps, "train.batch_size": args.batch_size,
             "train.jit_compile": jit, "train.seed": args.seed, "train.precision": getattr(args, "precision", None)}
    # A flag given wins over --set; a flag not given must not erase the --set value.
    overrides.update({key: value for key, value in flags.items() if value is not None})
    if args.data_path:
        overrides.update({"data.source": "folder", "data.path": args.data_path})
    return get_config(args.name, **overrides)


def resume_config(args):
    """The run's own config.yaml; only ``--epochs`` (and ``--precision`` equal to the run's) may be given."""
    from ganzoo.config import Config, apply_overrides  # noqa: PLC0415

    run_dir = Path(args.resume).expanduser()
    if args.name:
        raise ValueError(f"give either an entry name or --resume RUN, not both (got '{args.name}' and "
                         f"--resume {args.resume})")
    changing = [flag for flag, value in (("--steps", args.steps), ("--batch-size", args.batch_size),
                                         ("--seed", args.seed), ("--jit", args.jit), ("--data-path", args.data_path),
                                         ("--set", args.set or None), ("--out", args.out)) if value]
    if changing:
        raise ValueError(f"{', '.join(changing)} cannot change a run being resumed (its checkpoints hold that "
                         f"config); only --epochs may, to extend it. Start a new run to change anything else")
    if not run_dir.is_dir():
        raise FileNotFoundError(f"--resume {run_dir}: no such run folder")
    config_file = run_dir / "config.yaml"
    if not config_file.is_file():
        raise FileNotFoundError(f"--resume {run_dir}: the folder has no config.yaml, so it is not a ganzoo run "
                                "folder (or its training never started)")
    config = Config.from_yaml(config_file)
    if args.precision and args.precision != config.train.precision:
        raise ValueError(f"--precision {args.precision}: the run trains in {config.train.precision}; a resumed "
                         "run keeps its precision")
    if args.epochs is not None:
        config = apply_overrides(config, {"train.epochs": args.epochs}, origin="--epochs")
    return config, run_dir


def run(args) -> int:
    from ganzoo.checkpoint import CheckpointWriteError  # noqa: PLC0415
    from ganzoo.guard import TrainingDiverged  # noqa: PLC0415
    from ganzoo.training import train  # noqa: PLC0415

    if args.resume:
        config, out = resume_config(args)
        print(f"resuming {config.name} in {out} (to {config.train.epochs} epoch(s))")
    else:
        if not args.name:
            raise ValueError("name the entry to train (see `ganzoo list`), or give --resume RUN")
        config = config_from_args(args)
        out = Path(args.out or Path("runs") / config.name)
        print(f"training {config.name} ({config.model.cls}, {config.model.loss} loss) for {config.train.epochs} "
              f"epoch(s); run folder: {out}")
    try:
        train(config, out=out, data_dir=args.data_dir, verbose=2 if args.quiet else "auto",
              samples_every=args.samples_every, strategy=args.strategy, resume=bool(args.resume),
              checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints,
              deterministic=args.deterministic)
    except TrainingDiverged as err:
        print(f"ganzoo train: {err}", file=sys.stderr)
        return EXIT_DIVERGED
    except CheckpointWriteError as err:
        print(f"ganzoo train: error: {err.strerror or err}", file=sys.stderr)
        return EXIT_CHECKPOINT_WRITE
    except FileExistsError as err:
        print(f"ganzoo train: error: {err}", file=sys.stderr)
        return 2
    print(f"done: {out / 'model.keras'}; samples in {out / 'samples'}; "
          f"sample more with `ganzoo sample {out} -n 64 -o grid.png`")
    return 0
