"""The version of ganzoo (``ganzoo.__version__``), in a module of its own so that any layer
can record it (``ganzoo eval``'s protocol) without importing the package facade."""

__version__ = "0.1.0"
