"""The 0.1 forms of evaluation functions that took a zoo entry name or a config.

Evaluation computes on arrays, datasets (:class:`~ganzoo.evaluation.real.RealData`) and
generators; joining it to the registry, configs and data loaders is :mod:`ganzoo.zoo_eval`'s
job. The forms that took an entry or a config (``evaluate(model)``,
``load_classifier("cgan_mnist")``, ``reference_statistics(config, ...)``, ...) keep working:
they warn (DeprecationWarning) and run the function of the same name in
:mod:`ganzoo.zoo_eval`. This module is the only place evaluation imports from a higher layer
(``ALLOWED_BACK_EDGES`` in tests/integration/test_layering.py); it goes away with those forms.
"""

from __future__ import annotations

import warnings

__all__ = ["forward"]


def forward(name: str, old: str):
    """Warn that ``old`` (e.g. ``"ganzoo.evaluation.evaluate.evaluate(model)"``) is deprecated
    and return ``ganzoo.zoo_eval.<name>``, which serves it."""
    warnings.warn(f"{old} with a zoo entry or config is deprecated: call ganzoo.zoo_eval.{name} (evaluation "
                  "itself takes arrays, ganzoo.evaluation.real.RealData and generators)",
                  DeprecationWarning, stacklevel=3)
    from ganzoo import zoo_eval  # noqa: PLC0415 (the one allowed back-edge, see the module docstring)

    return getattr(zoo_eval, name)
