"""Ranges of a single setting, written where the setting is declared: in a model class's
constructor signature with :data:`typing.Annotated`::

    def __init__(self, generator, discriminator,
                 n_critic: Annotated[int, Positive()] = 5,
                 style_mixing_prob: Annotated[float, Interval(0, 1)] = 0.9, **kwargs): ...

``ganzoo.config.Config.validate`` checks every setting an entry's class reads against its
constraints (``model.n_critic: must be > 0, got 0``), and every construction of a zoo model
class checks its arguments against them
(:func:`ganzoo.model_registry.check_constructor_arguments`: ``WassersteinGAN argument n_critic:
must be > 0, got 0``), so a range is written once, in the signature; rules that join several keys live in the
class's ``check_config`` (see :mod:`ganzoo.model_registry`). Nothing here imports TensorFlow:
:mod:`ganzoo.model_registry` reads the annotations of a class from its module's source, before
the module (and TensorFlow) is imported, so only literal arguments (numbers, strings, tuples,
or module-level constants holding them) may be passed to a constraint in a signature.

A constraint's :meth:`~Constraint.problem` says what is wrong with a value (or None); ``None``
values pass (an optional setting left unset), and ``message`` replaces the text
(``{value}`` is the value).
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any, Optional

__all__ = ["Constraint", "Positive", "NonNegative", "AtLeast", "Interval", "OneOf", "first_problem", "split_annotated"]


@dataclasses.dataclass(frozen=True)
class Constraint:
    """Base of the constraints: :meth:`problem` returns what is wrong with a value, or None."""

    #: Replaces the default text of the problem; ``{value}`` is the value.
    message: Optional[str] = dataclasses.field(default=None, kw_only=True)

    def problem(self, value) -> Optional[str]:
        """What is wrong with ``value`` (``"must be > 0, got 0"``), or None if it is valid or None."""
        if value is None or self.holds(value):
            return None
        return self.message.format(value=value) if self.message else self.describe(value)

    def holds(self, value) -> bool:  # pragma: no cover - every constraint overrides it
        """Whether ``value`` (not None) satisfies the constraint."""
        raise NotImplementedError

    def describe(self, value) -> str:  # pragma: no cover - every constraint overrides it
        """The default text of the problem with ``value``."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Positive(Constraint):
    """``> 0``."""

    def holds(self, value) -> bool:
        return value > 0

    def describe(self, value) -> str:
        return f"must be > 0, got {value}"


@dataclasses.dataclass(frozen=True)
class NonNegative(Constraint):
    """``>= 0``."""

    def holds(self, value) -> bool:
        return value >= 0

    def describe(self, value) -> str:
        return f"must be >= 0, got {value}"


@dataclasses.dataclass(frozen=True)
class AtLeast(Constraint):
    """``>= minimum``."""

    minimum: Any = 0

    def holds(self, value) -> bool:
        return value >= self.minimum

    def describe(self, value) -> str:
        return f"must be >= {self.minimum}, got {value}"


@dataclasses.dataclass(frozen=True)
class Interval(Constraint):
    """``low <= value <= high``; ``open_low`` / ``open_high`` exclude an end
    (``Interval(0, 1, open_high=True)`` is [0, 1))."""

    low: Any = 0
    high: Any = 1
    open_low: bool = False
    open_high: bool = False

    def holds(self, value) -> bool:
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return above and below

    def describe(self, value) -> str:
        return (f"must be in {'(' if self.open_low else '['}{self.low}, {self.high}{')' if self.open_high else ']'}, "
                f"got {value}")


@dataclasses.dataclass(frozen=True)
class OneOf(Constraint):
    """One of ``options`` (a tuple of names); the problem suggests the closest one.

    Choices are checked before the other rules: which keys an entry reads may depend on them
    (``content_loss: vgg`` reads ``vgg_layer``)."""

    options: tuple = ()

    def holds(self, value) -> bool:
        return value in self.options

    def describe(self, value) -> str:
        close = difflib.get_close_matches(str(value), [str(o) for o in self.options], n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"'{value}' is not one of {', '.join(map(str, self.options))}{hint}"


def first_problem(limits, value) -> Optional[str]:
    """The problem (:meth:`Constraint.problem`) of the first of ``limits`` that ``value``
    breaks, or None: what a config key and a constructor argument are both checked with."""
    return next((problem for problem in (limit.problem(value) for limit in limits) if problem), None)


def split_annotated(tp) -> tuple:
    """``(type, constraints)`` of an annotation: ``Annotated[float, Interval(0, 1)]`` gives
    ``(float, (Interval(0, 1),))``, a plain type ``(type, ())``. Metadata that is no
    :class:`Constraint` is refused (a typo would otherwise disable a check silently)."""
    if typing.get_origin(tp) is not typing.Annotated:
        return tp, ()
    base, *extras = typing.get_args(tp)
    for extra in extras:
        if not isinstance(extra, Constraint):
            raise TypeError(f"Annotated[{base!r}, {extra!r}]: a setting's annotation takes ganzoo.constraints "
                            f"objects ({', '.join(__all__[1:-2])}), got {extra!r}")
    return base, tuple(extras)
