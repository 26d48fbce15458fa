"""Deprecated: the UCI digits source moved to :mod:`ganzoo.data.digits`; import from there."""

import warnings

from ganzoo.data.digits import (UCI_DIGITS_SPLIT_SEED, UCI_DIGITS_SPLITS, load_uci_digits, load_uci_domain_b,
                                uci_digit_grids, uci_domain_b_framing)

__all__ = ["UCI_DIGITS_SPLITS", "UCI_DIGITS_SPLIT_SEED", "load_uci_digits", "load_uci_domain_b", "uci_digit_grids",
           "uci_domain_b_framing"]

warnings.warn("ganzoo.data_digits is deprecated and will be removed: import from ganzoo.data.digits "
              "(or ganzoo.data)", DeprecationWarning, stacklevel=2)
