"""The ``ganzoo`` command line.

Each subcommand lives in ``ganzoo/commands/<name>.py`` with ``add_parser(subparsers)`` and
``run(args) -> int``; ``COMMANDS`` lists them (explicit, greppable). Command modules import
nothing heavy at module level (TensorFlow, Keras, SciPy are imported inside ``run``), so
``ganzoo --help``, ``ganzoo list`` and ``ganzoo info NAME`` answer without TensorFlow
(``benchmarks/cli_latency.py``; ``tests/test_cli_quiet.py`` checks the imports). Errors that are the
user's to fix (bad config key, missing data, unwritable path) print one clear line and
exit with status 2; a crash prints a traceback.
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
}


def build_parser() -> argparse.ArgumentParser:
    """The ``ganzoo`` argument parser with one subcommand per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="ganzoo", description="A Keras 3 model zoo of GANs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in COMMANDS.items():
        importlib.import_module(module).add_parser(sub)
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
