"""The ``ganzoo`` command line.

Each subcommand lives in ``ganzoo/commands/<name>.py`` with ``add_parser(subparsers)`` and
``run(args) -> int``; ``COMMANDS`` lists them (explicit, greppable). Command modules import
nothing heavy at module level (TensorFlow, Keras, SciPy are imported inside ``run``), so
``ganzoo --help``, ``ganzoo list`` and ``ganzoo info NAME`` answer without TensorFlow
(``benchmarks/cli_latency.py``; ``tests/test_cli_quiet.py`` checks the imports). Errors that are the
user's to fix (bad config key, missing data, unwritable path) print one clear line and
exit with status 2; a crash prints a traceback.

**Backend.** Every command that runs a model takes ``--backend tensorflow|jax``: it sets
``KERAS_BACKEND`` before anything imports Keras (Keras picks its backend once per process, at
import). Without it ``KERAS_BACKEND`` decides (default TensorFlow), and ``train --resume RUN``
keeps the backend the run trained on (stored in its ``run_options.json``). A process that has
already imported Keras with another backend (``main`` called from a notebook) is refused with
the command to run instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# TensorFlow's C++ start-up chatter hides the CLI's own output; users can still set their own level
# (set before anything imports TensorFlow; ganzoo.quiet also filters what absl prints regardless).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: subcommand -> module in ganzoo.commands
COMMANDS = {
    "list": "ganzoo.commands.list_cmd",
    "train": "ganzoo.commands.train",
    "generate": "ganzoo.commands.generate",  # also registers "sample"
    "interpolate": "ganzoo.commands.interpolate",
    "info": "ganzoo.commands.info",
    "demo": "ganzoo.commands.demo",
    "eval": "ganzoo.commands.eval_cmd",
    "stylemix": "ganzoo.commands.stylemix",
    "export": "ganzoo.commands.export_cmd",
    "upscale": "ganzoo.commands.upscale",
    "stylize": "ganzoo.commands.stylize",
    "fid-weights": "ganzoo.commands.fid_weights_cmd",
}


#: Keras backends ganzoo runs on (``--backend``).
BACKENDS = ("tensorflow", "jax")
#: Subcommands that never load a model: no ``--backend`` (they import neither Keras nor TensorFlow).
FILE_ONLY_COMMANDS = ("list", "info")


def add_backend_option(parser) -> None:
    """``--backend``: the Keras backend of this process."""
    parser.add_argument("--backend", choices=BACKENDS,
                        help="Keras backend to run on (default: $KERAS_BACKEND, else tensorflow; "
                             "`train --resume` keeps the run's). Set before Keras is imported")


def _stored_backend(args):
    """The backend a resumed run trained on (its ``run_options.json``), or None."""
    run_dir = getattr(args, "resume", None)
    if not run_dir:
        return None
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    try:
        stored = json.loads((Path(run_dir).expanduser() / "run_options.json").read_text())
    except (OSError, ValueError):
        return None
    backend = stored.get("backend") if isinstance(stored, dict) else None
    return backend if backend in BACKENDS else None


def choose_backend(args) -> None:
    """Set ``KERAS_BACKEND`` for ``args`` before Keras is imported: ``--backend``, else an
    exported ``KERAS_BACKEND``, else (``train --resume``) the run's own backend.

    Raises ValueError when Keras is already imported in this process with another backend
    (it cannot switch) or ``KERAS_BACKEND`` names a backend ganzoo does not run on.
    """
    wanted = getattr(args, "backend", None)
    origin = f"--backend {wanted}"
    if wanted is None and not os.environ.get("KERAS_BACKEND"):
        wanted = _stored_backend(args)
        origin = f"the run's backend ({wanted}, from its run_options.json; --backend overrides it)"
    if wanted is None:
        env = os.environ.get("KERAS_BACKEND")
        if env and env not in BACKENDS and args.command not in FILE_ONLY_COMMANDS:
            raise ValueError(f"KERAS_BACKEND={env}: ganzoo runs on {' or '.join(BACKENDS)}; set "
                             f"KERAS_BACKEND=tensorflow or jax (or pass --backend)")
        return
    keras = sys.modules.get("keras")
    if keras is not None:
        current = keras.backend.backend()
        if current != wanted:
            raise ValueError(f"{origin}: Keras is already imported in this process with the {current} backend, "
                             "and Keras chooses its backend once per process. Run the command in a new process "
                             f"(`ganzoo {args.command} --backend {wanted} ...` in a shell), or set "
                             f"KERAS_BACKEND={wanted} before anything imports Keras")
        return
    os.environ["KERAS_BACKEND"] = wanted


def build_parser() -> argparse.ArgumentParser:
    """The ``ganzoo`` argument parser with one subcommand per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="ganzoo", description="A Keras 3 model zoo of GANs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in COMMANDS.items():
        importlib.import_module(module).add_parser(sub)
    for name, command in sub.choices.items():  # "sample" too (an alias parser of generate)
        if name not in FILE_ONLY_COMMANDS:
            add_backend_option(command)
    return parser


def user_errors() -> tuple:
    """Exceptions that mean "fix your input", printed without a traceback."""
    from ganzoo.config import ConfigError  # noqa: PLC0415
    from ganzoo.registry import UnknownModelError  # noqa: PLC0415

    errors = [ConfigError, UnknownModelError, FileNotFoundError, PermissionError, IsADirectoryError, ValueError]
    try:
        from ganzoo.data import DataError  # noqa: PLC0415

        errors.append(DataError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def main(argv=None) -> int:
    """Run ``ganzoo`` with ``argv`` (default ``sys.argv[1:]``) and return the exit status: the
    subcommand's, 2 for an error that is the user's to fix (printed in one line), 130 on Ctrl-C.
    """
    from ganzoo.quiet import filter_native_logs  # noqa: PLC0415

    args = build_parser().parse_args(argv)
    try:
        choose_backend(args)
        with filter_native_logs():
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ganzoo list | head`: the reader has gone, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except user_errors() as err:
        print(f"ganzoo {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
