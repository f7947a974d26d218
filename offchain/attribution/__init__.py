"""Attribution: who deserves credit for an inference.

``knn_shapley`` values every training point for one query exactly (Jia et al., 2019); ``shares``
turns point values into the on-chain ``Share[]`` list (basis points per contributor) and its
``attributionHash``.
"""

from offchain.attribution.errors import AttributionError, InvalidInputError, InvalidSharesError
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

__all__ = [
    "AttributionError",
    "ContributorMap",
    "InvalidInputError",
    "InvalidSharesError",
    "KnnShapley",
    "Share",
    "attribution_hash",
    "decode_shares",
    "encode_shares",
    "knn_shapley",
    "knn_shapley_batch",
    "shares_from_totals",
    "validate_shares",
]
