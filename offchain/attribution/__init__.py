"""Attribution: who deserves credit for an inference.

``integer`` is the attribution workers record and disputes check (design.md "Integer
attribution"): quantised features, exact integer distances, Theorem 1 in fixed point; ``trace``
is the trace a challenged worker commits to and the one-step fraud a challenger proves.
``knn_shapley`` is the float64 reference (Jia et al., 2019); ``shares`` turns point values into
the on-chain ``Share[]`` list (basis points per contributor); the list's rules and its
``attributionHash`` are ``offchain.protocol.check_shares`` / ``attribution_hash``.
"""

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
    decode_shares,
    shares_from_totals,
)

__all__ = [
    "AttributionError",
    "ContributorMap",
    "IntegerContributors",
    "IntegerKnnShapley",
    "InvalidInputError",
    "InvalidSharesError",
    "KnnShapley",
    "Share",
    "decode_shares",
    "knn_shapley",
    "knn_shapley_batch",
    "label_of_instances",
    "label_of_output",
    "quantization",
    "quantize",
    "shares_from_int_totals",
    "shares_from_totals",
]
