"""Subcommands of the ``ganzoo`` CLI (see ``ganzoo.cli.COMMANDS``)."""
