"""Contributor shares: from per-point values to the on-chain ``Share[]`` list and its hash.

design.md fixes the list: ``(address account, uint16 bps)`` entries sorted by ascending address,
no zero-bps entries, bps summing to exactly ``BPS`` (10,000), and
``attributionHash = keccak256(abi.encode(Share[]))``. Everything here is a pure function of its
inputs and uses exact arithmetic where rounding could differ between machines, so anyone who
recomputes a list from the same values gets the same bytes:

* a contributor's total is ``math.fsum`` of its points' values (correctly rounded, so the order
  of the points does not matter); negative totals are clipped to 0;
* totals become basis points by the largest-remainder method on exact fractions; equal
  remainders go to the lower address (addresses compared as 20-byte integers);
* if every total is 0 (nobody helped, or every helper hurt) the declared policy applies: an
  equal split over the roster, the remainder handed out by the same rule.

The list's rules and its hash belong to the protocol: :func:`offchain.protocol.check_shares`
(the registry's ``_checkShares``), ``protocol.encode_shares`` and ``protocol.attribution_hash``
(both check first).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError

from offchain.attribution.errors import InvalidInputError, InvalidSharesError
from offchain.protocol import (
    BPS,
    SHARES_ABI_TYPE,
    Share,
    address_key,
    canonical_address,
    check_shares,
)

if TYPE_CHECKING:
    import numpy as np


class ContributorMap:
    """Which contributor owns each training point, prepared for per-query aggregation.

    Built once per dataset from one address per training point (any valid case; mixed case must
    carry a valid EIP-55 checksum). ``roster`` is every contributor, ascending by address.
    """

    def __init__(self, point_owners: Sequence[str]) -> None:
        import numpy as np  # here, not at the top: reading shares needs no numpy

        if len(point_owners) == 0:
            raise InvalidInputError("point_owners is empty: every training point needs an owner")
        canonical = {raw: canonical_address(raw) for raw in dict.fromkeys(point_owners)}
        self.roster: tuple[str, ...] = tuple(sorted(set(canonical.values()), key=address_key))
        slot = {address: i for i, address in enumerate(self.roster)}
        owner = np.fromiter((slot[canonical[raw]] for raw in point_owners), dtype=np.intp,
                            count=len(point_owners))
        # Points grouped by owner once, so each query's totals are one gather and n fsums.
        self._order = np.argsort(owner, kind="stable")
        self._bounds = np.searchsorted(owner[self._order], np.arange(len(self.roster) + 1))

    @property
    def n_points(self) -> int:
        """Number of training points covered."""
        return len(self._order)

    def totals(self, point_values: np.ndarray) -> dict[str, float]:
        """Sum of the point values of each contributor (``math.fsum``: order-independent)."""
        import numpy as np

        values = np.asarray(point_values, dtype=np.float64)
        if values.shape != (self.n_points,):
            raise InvalidInputError(
                f"point_values must have shape ({self.n_points},); got {values.shape}"
            )
        # fsum straight off the buffer: a memoryview yields the very same floats a list
        # would, without building a list of N Python objects first (~40% of the time).
        grouped = memoryview(np.ascontiguousarray(values[self._order]).data)
        bounds = self._bounds.tolist()
        return {address: math.fsum(grouped[bounds[i]:bounds[i + 1]])
                for i, address in enumerate(self.roster)}

    def shares(self, point_values: np.ndarray) -> list[Share]:
        """The share list for one inference from its per-point values (all-zero: equal split)."""
        return shares_from_totals(self.totals(point_values), roster=self.roster)


def shares_from_totals(totals: Mapping[str, float],
                       roster: Iterable[str] | None = None) -> list[Share]:
    """Basis-point shares from per-contributor totals.

    Negative totals count as 0. If no total is positive, the equal split over ``roster``
    applies (default: the contributors in ``totals``). Returns a valid list: ascending
    addresses, positive bps, sum 10,000.
    """
    weights: dict[str, float] = {}
    for raw, value in totals.items():
        address = canonical_address(raw)
        if address in weights:
            raise InvalidInputError(f"contributor {address} appears twice in totals")
        number = float(value)
        if not math.isfinite(number):
            raise InvalidInputError(f"total for {address} is {number}; values must be finite")
        weights[address] = max(number, 0.0)
    if any(weights.values()):
        return _largest_remainder(weights)
    policy = list(weights) if roster is None else [canonical_address(a) for a in roster]
    if not policy:
        raise InvalidInputError(
            "all totals are zero and the roster is empty: there is nobody to split among"
        )
    if len(set(policy)) != len(policy):
        raise InvalidInputError("roster lists a contributor twice")
    return _largest_remainder(dict.fromkeys(policy, 1.0))


def _largest_remainder(weights: Mapping[str, float]) -> list[Share]:
    """Largest remainder on the exact values of the (finite, non-negative) float weights.

    Every float is an integer over a power of two, so scaling all of them to the largest
    denominator gives exact integers ``a_i``, apportioned by :func:`apportion`. Same result
    as exact fractions, without allocating any. Entries ascend by address.
    """
    addresses = sorted(weights, key=address_key)
    ratios = [weights[a].as_integer_ratio() for a in addresses]
    denominator = max(d for _, d in ratios)
    bps = apportion([n * (denominator // d) for n, d in ratios])
    return [Share(a, b) for a, b in zip(addresses, bps, strict=True) if b > 0]


def apportion(weights: Sequence[int]) -> list[int]:
    """Basis points of non-negative integer weights (not all zero) by largest remainder:
    quota_i = w_i * 10,000 / sum(w), its floor and remainder integer divisions (remainders
    share one denominator); the leftover points go to the largest remainders, ties to the
    lower position (callers order positions by address)."""
    whole = sum(weights)
    scaled = [w * BPS for w in weights]
    bps = [v // whole for v in scaled]
    leftover = BPS - sum(bps)
    if leftover:
        remainders = [v - b * whole for v, b in zip(scaled, bps, strict=True)]
        for i in sorted(range(len(bps)), key=lambda i: -remainders[i])[:leftover]:
            bps[i] += 1
    return bps


def decode_shares(data: bytes) -> list[Share]:
    """Inverse of :func:`offchain.protocol.encode_shares`; rejects bytes that do not hold a
    valid list."""
    try:
        (entries,) = decode([SHARES_ABI_TYPE], data)
    except (DecodingError, ValueError, TypeError) as exc:
        raise InvalidSharesError(f"bytes are not an ABI-encoded Share[]: {exc}") from exc
    shares = check_shares([(address, bps) for address, bps in entries])
    if encode([SHARES_ABI_TYPE], [shares]) != bytes(data):
        raise InvalidSharesError("bytes are not the canonical ABI encoding of their Share[]")
    return shares
