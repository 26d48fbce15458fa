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
    """Register ``ganzoo train`` and its options on the subcommand parsers ``sub``."""
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
    p.add_argument("--nearest-every", type=int, default=None, metavar="N",
                   help="folder (or data.limit) data: every N epochs write nearest/epoch_NNNN.png, each sample next to its "
                        "nearest training image, to see whether the model copies them (default: as "
                        "--samples-every; 0: never)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--raw", action="store_true", help="sample grids from the raw generator G (default: from the "
                                                     "EMA generator once it is warm)")
    p.set_defaults(func=run)


def config_from_args(args):
    """The entry's config with the command line's overrides: ``--set`` values first, then the
    flags that were given (``--epochs``, ``--batch-size``, ...), then ``--data-path``.
    """
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


#: Below this many images a collection counts as small: without discriminator augmentation
#: the discriminator memorises it (Karras et al. 2020 see it below ~10k; MNIST 1k here).
SMALL_COLLECTION = 5000


def check_folder(config) -> list[str]:
    """Scan a folder source before training: print its report (files, readable/unreadable,
    modes, sizes, duplicates, images smaller than the training size) and return warnings.

    Raises :class:`ganzoo.data.DataError` (what to do) when no image is readable or there are
    fewer readable images than one batch.
    """
    from ganzoo.data import DataError, scan_folder  # noqa: PLC0415

    data, augment = config.data, config.augment
    report = scan_folder(data.path, image_size=data.image_size - 2 * data.pad, crop=data.crop)
    print("checking the training folder:")
    print(report.summary())
    if report.readable == 0:
        raise DataError(f"none of the {report.files} image files in {report.path} could be read; check that "
                        "they are valid images (PNG, JPEG, ...)")
    if data.limit is not None:
        usable = min(report.readable, data.limit)
    else:
        usable = report.readable
    if usable < config.train.batch_size:
        raise DataError(f"{report.path} has {usable} usable images, fewer than one batch of "
                        f"{config.train.batch_size}; add images or lower the batch size (--batch-size)")
    warnings = []
    if report.unreadable:
        warnings.append(f"{len(report.unreadable)} file(s) cannot be read and are skipped; fix or remove them")
    if report.duplicates:
        extra = sum(len(g) - 1 for g in report.duplicates)
        warnings.append(f"{extra} duplicate file(s): each copy counts as another training image (more weight, "
                        "easier to memorise); remove the copies")
    if report.too_small:
        warnings.append(f"{report.too_small} image(s) are smaller than {data.image_size}px and get upscaled "
                        "(blurry); use larger originals or a smaller data.image_size")
    odd_modes = sorted(set(report.modes) - {"RGB", "L"})
    if odd_modes:
        warnings.append(f"images in mode(s) {', '.join(odd_modes)} are converted to "
                        f"{'RGB' if data.channels == 3 else 'grayscale'} (transparency on white)")
    if data.channels == 3 and report.modes and set(report.modes) <= {"L", "1", "I", "I;16", "F"}:
        warnings.append("every image is grayscale: set data.channels=1 (--set data.channels=1) to train on one channel")
    if usable < SMALL_COLLECTION and not (augment.ada or augment.policy):
        warnings.append(f"only {usable} images: without augmentation the discriminator memorises them and the "
                        "generator collapses; turn on ADA (--set augment.ada=true) or DiffAugment "
                        "(--set augment.policy=color,translation,cutout)")
    for warning in warnings:
        print(f"  warning: {warning}")
    return warnings


def nearest_panel(config, out: Path, every: int, data_dir=None):
    """The :class:`ganzoo.callbacks.NearestNeighbourPanel` of a run (samples beside their
    nearest training images in ``out/nearest``), or None when ``every`` is 0."""
    from ganzoo.callbacks import NearestNeighbourPanel, training_images  # noqa: PLC0415

    if every <= 0:
        return None
    return NearestNeighbourPanel(out / "nearest", training_images(config, data_dir=data_dir), every=every,
                                 seed=config.train.seed)


def _precision_and_threads(config) -> None:
    """Size TensorFlow's CPU thread pools now (checking a folder or drawing nearest-image panels
    would start them) and say what the run computes in."""
    from ganzoo.precision import configure_cpu_threads, resolve_precision  # noqa: PLC0415

    t = config.train
    layout = configure_cpu_threads(t.cpu_threads, t.precision, t.jit_compile)
    policy = resolve_precision(t.precision)
    if policy != "float32" or layout:
        print(f"precision: {policy}" + (f" ({t.precision})" if t.precision != policy else "")
              + (f"; TensorFlow CPU threads: {layout[0]} per op, {layout[1]} ops at a time (train.cpu_threads)"
                 if layout else ""))


def run(args) -> int:
    """Train (or resume) as the arguments say; returns the exit status (see the module docstring)."""
    from ganzoo.checkpoint import CheckpointWriteError  # noqa: PLC0415
    from ganzoo.config import IMAGE_TO_IMAGE_CLASSES  # noqa: PLC0415
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
    _precision_and_threads(config)
    extra_callbacks = []
    nearest_every = args.samples_every if args.nearest_every is None else args.nearest_every
    if nearest_every < 0 or args.samples_every <= 0:
        raise ValueError("--samples-every must be > 0 and --nearest-every >= 0 (0: no nearest-image panels)")
    small_data = config.data.source == "folder" or config.data.limit is not None
    if small_data and config.model.cls not in IMAGE_TO_IMAGE_CLASSES:
        if config.data.source == "folder" and not args.resume:
            check_folder(config)
        panel = nearest_panel(config, out, nearest_every, data_dir=args.data_dir)
        if panel is not None:
            extra_callbacks.append(panel)
            print(f"every {nearest_every} epoch(s): samples beside their nearest training images in {out / 'nearest'}")
    try:
        train(config, out=out, data_dir=args.data_dir, verbose=2 if args.quiet else "auto",
              samples_every=args.samples_every, strategy=args.strategy, resume=bool(args.resume),
              checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints,
              deterministic=args.deterministic, extra_callbacks=extra_callbacks,
              samples_use_ema=False if args.raw else None)
    except TrainingDiverged as err:
        print(f"ganzoo train: {err}", file=sys.stderr)
        return EXIT_DIVERGED
    except CheckpointWriteError as err:
        print(f"ganzoo train: error: {err.strerror or err}", file=sys.stderr)
        return EXIT_CHECKPOINT_WRITE
    except FileExistsError as err:
        print(f"ganzoo train: error: {err}", file=sys.stderr)
        return 2
    print(f"done: {out / 'model.keras'}; samples in {out / 'samples'}; {next_step_hint(config, out)}")
    return 0


def next_step_hint(config, out) -> str:
    """What to run next on a finished run of ``config``: the command that fits its model class."""
    if config.model.cls == "SRGAN":
        return f"upscale a picture with `ganzoo upscale {out} picture.png -o big.png`"
    if config.model.cls == "CycleGAN":
        a, b = config.model.domains
        return f"translate a picture with `ganzoo stylize {out} picture.png --direction {b}2{a} -o out.png`"
    return f"sample more with `ganzoo sample {out} -n 64 -o grid.png`"
