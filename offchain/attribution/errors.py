"""Errors raised by attribution: bad inputs to KNN-Shapley and malformed share lists.

Defined in ``offchain.errors``, because the protocol's share rules
(:func:`offchain.protocol.check_shares`) raise them too and the protocol imports nothing above it.
"""

from offchain.errors import AttributionError, InvalidInputError, InvalidSharesError

__all__ = ["AttributionError", "InvalidInputError", "InvalidSharesError"]
