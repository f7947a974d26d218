"""Errors raised by attribution: bad inputs to KNN-Shapley and malformed share lists."""

from offchain.errors import AttestiaError


class AttributionError(AttestiaError):
    """Base of every attribution error."""


class InvalidInputError(AttributionError):
    """Training data, a query, labels or ``k`` are malformed (shape, finiteness, range)."""


class InvalidSharesError(AttributionError):
    """A share list breaks the on-chain rules: sorted unique addresses, positive bps, sum 10,000."""
