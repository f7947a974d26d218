"""Attribution: who deserves credit for an inference.

``integer`` is the attribution workers record and disputes check (design.md "Integer
attribution"): quantised features, exact integer distances, Theorem 1 in fixed point; ``trace``
is the trace a challenged worker commits to and the one-step fraud a challenger proves.
``knn_shapley`` is the float64 reference (Jia et al., 2019); ``shares`` turns point values into
the on-chain ``Share[]`` list (basis points per contributor) and its ``attributionHash``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from offchain.attribution.errors import AttributionError, InvalidInputError, InvalidSharesError
    from offchain.attribution.integer import (
        IntegerContributors,
        IntegerKnnShapley,
        label_of_instances,
        label_of_output,
        quantization,
        quantize,
        shares_from_int_totals,
    )
    from offchain.attribution.knn_shapley import KnnShapley, knn_shapley, knn_shapley_batch
    from offchain.attribution.shares import (
        ContributorMap,
        Share,
        attribution_hash,
        decode_shares,
        encode_shares,
        shares_from_totals,
        validate_shares,
    )

# Where each name lives: imported on first use, so a command that only reads shares or
# hashes (attestia attribution, rewards status) does not pay for numpy.
_HOME = {
    "AttributionError": "errors", "InvalidInputError": "errors", "InvalidSharesError": "errors",
    "IntegerContributors": "integer", "IntegerKnnShapley": "integer",
    "label_of_instances": "integer", "label_of_output": "integer", "quantization": "integer",
    "quantize": "integer", "shares_from_int_totals": "integer",
    "KnnShapley": "knn_shapley", "knn_shapley": "knn_shapley",
    "knn_shapley_batch": "knn_shapley",
    "ContributorMap": "shares", "Share": "shares", "attribution_hash": "shares",
    "decode_shares": "shares", "encode_shares": "shares", "shares_from_totals": "shares",
    "validate_shares": "shares",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AttributionError",
    "ContributorMap",
    "IntegerContributors",
    "IntegerKnnShapley",
    "InvalidInputError",
    "InvalidSharesError",
    "KnnShapley",
    "Share",
    "attribution_hash",
    "decode_shares",
    "encode_shares",
    "knn_shapley",
    "knn_shapley_batch",
    "label_of_instances",
    "label_of_output",
    "quantization",
    "quantize",
    "shares_from_int_totals",
    "shares_from_totals",
    "validate_shares",
]
