"""``ganzoo train NAME [--epochs --steps --batch-size --out --data-dir --set key=value ...]``
and ``ganzoo train --resume RUN [--epochs E]``.

Exit status: 0 done; 2 bad input (config, data, paths, no checkpoint to resume) or out of
memory (the batch size to lower is named); 3 training diverged (a NaN/Inf loss; the last good
checkpoint is kept); 4 a checkpoint could not be written (e.g. disk full; the previous
checkpoint is intact); 130 Ctrl-C (the resume command is printed).

**Run options** (how a run is driven, not what it learns: checkpoint cadence, checkpoints
kept, sample and nearest-image cadence, --quiet, --raw, --deterministic, --strategy, --data-dir,
the Keras backend) are
stored in ``RUN/run_options.json``; ``--resume`` reuses them, and one given again on the
command line wins and is stored. A run folder is created only once the data has loaded, and a
run that fails through the user's doing (out of memory, Ctrl-C, bad data) before its first
checkpoint removes the folder it created.
"""

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

from ganzoo.model_registry import model_class_info

EXIT_DIVERGED = 3
EXIT_CHECKPOINT_WRITE = 4
EXIT_INTERRUPTED = 130

#: Run options and their defaults (None: the option's "not set" meaning, e.g. a checkpoint
#: per epoch, nearest panels as often as samples, the default strategy).
RUN_OPTIONS = {"checkpoint_every": None, "keep_checkpoints": 3, "samples_every": 1, "nearest_every": None,
               "quiet": False, "deterministic": False, "strategy": None, "data_dir": None,
               "raw": False, "backend": None}
RUN_OPTIONS_FILE = "run_options.json"


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
                                                   "with its config and run options (checkpoint and sample cadence, "
                                                   "--quiet, ...; one given again wins); of the config only --epochs "
                                                   "may change")
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
    p.add_argument("--strategy", choices=STRATEGIES,
                   help="devices: none (default), mirrored (all local GPUs: tf.distribute.MirroredStrategy, "
                        "on JAX keras.distribution.DataParallel), multiworker (needs TF_CONFIG) and tpu "
                        "(TensorFlow backend only)")
    p.add_argument("--precision", choices=PRECISIONS, help="dtype policy (sets train.precision; default float32)")
    p.add_argument("--checkpoint-every", type=int, metavar="N",
                   help="write a checkpoint every N steps (default, or 0: at the end of every epoch); always at the end")
    p.add_argument("--keep-checkpoints", type=int, metavar="K", help="keep the newest K checkpoints (default 3)")
    p.add_argument("--deterministic", action=argparse.BooleanOptionalAction,
                   help="TensorFlow op determinism: bitwise-reproducible runs and resumes (slower)")
    p.add_argument("--samples-every", type=int, help="write a sample grid every N epochs (default 1)")
    p.add_argument("--nearest-every", type=int, default=None, metavar="N",
                   help="folder (or data.limit) data: every N epochs write nearest/epoch_NNNN.png, each sample next to its "
                        "nearest training image, to see whether the model copies them (default: as "
                        "--samples-every; 0: never)")
    p.add_argument("--quiet", action=argparse.BooleanOptionalAction, help="no progress bar (one line per epoch)")
    p.add_argument("--raw", action=argparse.BooleanOptionalAction,
                   help="sample grids from the raw generator G (default: from the EMA generator once it is warm)")
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


def run_options(args, stored: dict | None = None) -> dict:
    """The run options in force: the command line's where given, else ``stored`` (a resumed
    run's ``run_options.json``), else the defaults of :data:`RUN_OPTIONS`."""
    given = {key: getattr(args, key) for key in RUN_OPTIONS if getattr(args, key, None) is not None}
    if given.get("data_dir"):
        given["data_dir"] = str(Path(given["data_dir"]).expanduser().resolve())
    options = {**RUN_OPTIONS, **{k: v for k, v in (stored or {}).items() if k in RUN_OPTIONS}, **given}
    if options["checkpoint_every"] == 0:
        options["checkpoint_every"] = None  # 0: back to one checkpoint per epoch
    if options["checkpoint_every"] is not None and options["checkpoint_every"] < 0:
        raise ValueError(f"--checkpoint-every must be a positive number of steps (0: every epoch), got "
                         f"{options['checkpoint_every']}")
    if options["keep_checkpoints"] < 1:
        raise ValueError(f"--keep-checkpoints must be at least 1, got {options['keep_checkpoints']}")
    return options


def read_run_options(run_dir: Path) -> dict:
    """A run folder's stored run options ({} for a run from before they were stored)."""
    path = Path(run_dir) / RUN_OPTIONS_FILE
    if not path.is_file():
        return {}
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} is not readable JSON ({err}); delete it to resume with the default run options "
                         "(and give them on the command line)") from None
    return stored if isinstance(stored, dict) else {}


def resume_command(out: Path) -> str:
    """The command that continues the run in ``out`` (its run options are stored in it)."""
    return f"ganzoo train --resume {shlex.quote(str(out))}"


def _is_out_of_memory(err: BaseException) -> bool:
    if isinstance(err, MemoryError):
        return True
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(err, tf.errors.ResourceExhaustedError)


def _newest_step(out: Path):
    """The step of the newest checkpoint in ``out`` (None when there is none)."""
    from ganzoo.checkpoint import CheckpointManager  # noqa: PLC0415

    paths = CheckpointManager(out / "checkpoints").paths()
    return CheckpointManager.step_of(paths[-1]) if paths else None


def _discard_if_unstarted(out: Path, created: bool) -> bool:
    """Remove the run folder this command created when it holds no checkpoint; True if removed."""
    if created and out.is_dir() and _newest_step(out) is None:
        shutil.rmtree(out, ignore_errors=True)
        return True
    return False


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


def _lower_batch_hint(config, resumed: bool, out: Path) -> str:
    half = max(1, config.train.batch_size // 2)
    if resumed:
        return (f"A resumed run keeps its batch size: free memory on the device (other processes), or start a new "
                f"run with a smaller one (e.g. --batch-size {half}) instead of `{resume_command(out)}`")
    return f"Lower it, e.g. halve it: --batch-size {half}"


def run(args) -> int:
    """Train (or resume) as the arguments say; returns the exit status (see the module docstring)."""
    from ganzoo.checkpoint import CheckpointWriteError  # noqa: PLC0415
    from ganzoo.guard import TrainingDiverged  # noqa: PLC0415
    from ganzoo.training import train  # noqa: PLC0415

    import keras  # noqa: PLC0415  (after ganzoo.cli has chosen the backend)

    backend = keras.backend.backend()
    if args.resume:
        config, out = resume_config(args)
        stored = read_run_options(out)
        options = run_options(args, stored)
        print(f"resuming {config.name} in {out} (to {config.train.epochs} epoch(s))")
        if stored.get("backend") and stored["backend"] != backend:
            print(f"note: the run trained on the {stored['backend']} backend and continues on {backend}: its "
                  "checkpoint loads on either, but the continuation is not bitwise the one "
                  f"{stored['backend']} would compute (pass --backend {stored['backend']} to keep it)")
    else:
        if not args.name:
            raise ValueError("name the entry to train (see `ganzoo list`), or give --resume RUN")
        config = config_from_args(args)
        out = Path(args.out or Path("runs") / config.name)
        options = run_options(args)
        print(f"training {config.name} ({config.model.cls}, {config.model.loss} loss) for {config.train.epochs} "
              f"epoch(s) on {backend}; run folder: {out}")
    options["backend"] = backend
    _precision_and_threads(config)
    extra_callbacks = []
    samples_every = options["samples_every"]
    nearest_every = samples_every if options["nearest_every"] is None else options["nearest_every"]
    if nearest_every < 0 or samples_every <= 0:
        raise ValueError("--samples-every must be > 0 and --nearest-every >= 0 (0: no nearest-image panels)")
    small_data = config.data.source == "folder" or config.data.limit is not None
    if small_data and not model_class_info(config.model.cls).image_to_image:
        if config.data.source == "folder" and not args.resume:
            check_folder(config)
        panel = nearest_panel(config, out, nearest_every, data_dir=options["data_dir"])
        if panel is not None:
            extra_callbacks.append(panel)
            print(f"every {nearest_every} epoch(s): samples beside their nearest training images in {out / 'nearest'}")
    created = not out.exists()
    try:
        train(config, out=out, data_dir=options["data_dir"], verbose=2 if options["quiet"] else "auto",
              samples_every=samples_every, strategy=options["strategy"] or "none", resume=bool(args.resume),
              checkpoint_every=options["checkpoint_every"], keep_checkpoints=options["keep_checkpoints"],
              deterministic=options["deterministic"], extra_callbacks=extra_callbacks,
              run_options=options, samples_use_ema=False if options["raw"] else None)
    except KeyboardInterrupt:
        step = _newest_step(out) if out.is_dir() else None
        if step is not None:
            print(f"\ninterrupted; the newest checkpoint is at step {step}. Continue with:\n  {resume_command(out)}",
                  file=sys.stderr)
        else:
            removed = _discard_if_unstarted(out, created)
            print("\ninterrupted before the first checkpoint: nothing to resume"
                  + (f" ({out} removed)" if removed else "") + "; run the same command again to start over",
                  file=sys.stderr)
        return EXIT_INTERRUPTED
    except TrainingDiverged as err:
        print(f"ganzoo train: {err}", file=sys.stderr)
        return EXIT_DIVERGED
    except CheckpointWriteError as err:
        print(f"ganzoo train: error: {err.strerror or err}", file=sys.stderr)
        return EXIT_CHECKPOINT_WRITE
    except FileExistsError as err:
        print(f"ganzoo train: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        if _is_out_of_memory(err):
            removed = _discard_if_unstarted(out, created)
            print(f"ganzoo train: error: out of memory with a batch of {config.train.batch_size} images "
                  f"(train.batch_size). {_lower_batch_hint(config, bool(args.resume), out)}"
                  + (f" ({out} removed: it held no checkpoint)" if removed else ""), file=sys.stderr)
            return 2
        from ganzoo.cli import user_errors  # noqa: PLC0415

        if isinstance(err, user_errors()):
            _discard_if_unstarted(out, created)
        raise
    print(f"done: {out / 'model.keras'}; samples in {out / 'samples'}; {next_step_hint(config, out)}")
    return 0


def next_step_hint(config, out) -> str:
    """What to run next on a finished run of ``config``: the command that fits its model class."""
    kind = model_class_info(config.model.cls).data_kind
    if kind == "paired_lr_hr":
        return f"upscale a picture with `ganzoo upscale {out} picture.png -o big.png`"
    if kind == "unpaired_ab":
        a, b = config.model.domains
        return f"translate a picture with `ganzoo stylize {out} picture.png --direction {b}2{a} -o out.png`"
    return f"sample more with `ganzoo sample {out} -n 64 -o grid.png`"
