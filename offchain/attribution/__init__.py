"""Attribution: who deserves credit for an inference.

``integer`` is the attribution workers record and disputes check (design.md "Integer
attribution"): quantised features, exact integer distances, Theorem 1 in fixed point; ``trace``
is the trace a challenged worker commits to and the one-step fraud a challenger proves.
``knn_shapley`` is the float64 reference (Jia et al., 2019); ``shares`` turns point values into
the on-chain ``Share[]`` list (basis points per contributor); the list's rules and its
``attributionHash`` are ``offchain.protocol.check_shares`` / ``attribution_hash``.
"""

from __future__ import annotations

import importlib
import sys
import types
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
        decode_shares,
        shares_from_totals,
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
    "ContributorMap": "shares", "Share": "shares", "decode_shares": "shares",
    "shares_from_totals": "shares",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """The package keeps the function ``knn_shapley`` under its name even once the submodule
    of the same name is imported (the import system binds a submodule as an attribute of its
    package: without this, ``from offchain.attribution import knn_shapley`` would give the
    module after any import of ``offchain.attribution.knn_shapley``)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _HOME.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
