// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {
    Share,
    AttributionSpec,
    BPS,
    FEATURE_FRAC_BITS,
    QUANT_SHIFT,
    Z_LIMIT,
    MAX_ATTRIBUTION_FEATURES,
    VALUE_SCALE,
    MAX_MU,
    MAX_RHO
} from "../Common.sol";

/// @title IntegerAttribution
/// @notice The pure arithmetic of the integer KNN-Shapley attribution (design.md "Integer
///         attribution"): the query's quantisation from the canonical input tensor, the label a
///         committed output states, one step of the value recursion, and the basis points that
///         follow from contributor totals. offchain.attribution.integer computes the same bits.
library IntegerAttribution {
    /// @notice The canonical tensor bytes are malformed (header, shape, length or a non-finite
    ///         value), or do not have the expected shape.
    error BadTensor();
    /// @notice The attribution spec is out of its declared bounds.
    error BadSpec();

    // BN254 scalar field: ZK output instances are elements of it.
    uint256 private constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    // "ATTN", format 1, dtype float32 (1), ndim 2, reserved 0, then dims (1, n) big-endian.
    uint256 private constant HEADER = 0x4154544e01010200;

    /// @notice Checks a spec's bounds: 1 <= d <= MAX_ATTRIBUTION_FEATURES, k >= 1, n >= 1,
    ///         |mu| < MAX_MU, 1 <= rho < MAX_RHO. Returns d.
    function checkSpec(AttributionSpec calldata spec) internal pure returns (uint256 d) {
        d = spec.mu.length;
        if (d == 0 || d > MAX_ATTRIBUTION_FEATURES || spec.rho.length != d) revert BadSpec();
        if (spec.n == 0 || spec.k == 0) revert BadSpec();
        for (uint256 j; j < d; ++j) {
            int256 mu = spec.mu[j];
            int256 rho = spec.rho[j];
            if (mu <= -MAX_MU || mu >= MAX_MU || rho < 1 || rho >= MAX_RHO) revert BadSpec();
        }
    }

    /// @notice The quantised query: z_j = clamp(floor((floor(x_j * 2^16) - mu_j) * rho_j /
    ///         2^32), +-Z_LIMIT) for the float32 features x of a (1, d) input tensor.
    function quantize(bytes calldata input, AttributionSpec calldata spec)
        internal
        pure
        returns (int256[] memory z)
    {
        uint256 d = checkSpec(spec);
        _checkHeader(input, d);
        z = new int256[](d);
        for (uint256 j; j < d; ++j) {
            int256 x = _fixedPoint(_float32At(input, j));
            int256 q = floorDiv((x - spec.mu[j]) * spec.rho[j], int256(1 << QUANT_SHIFT));
            if (q > Z_LIMIT) q = Z_LIMIT;
            if (q < -Z_LIMIT) q = -Z_LIMIT;
            z[j] = q;
        }
    }

    /// @notice The label a (1, L) float32 logits tensor states: its argmax, ties to the lowest.
    function labelOfTensor(bytes calldata output) internal pure returns (uint256 label) {
        uint256 count = _checkHeader(output, 0);
        int256 best = type(int256).min;
        for (uint256 i; i < count; ++i) {
            uint256 bits = _float32At(output, i);
            if ((bits >> 23) & 0xff == 0xff) revert BadTensor();
            // IEEE-754 sign-magnitude to an order-preserving integer (+0 and -0 both map to 0).
            int256 key = bits >> 31 == 1 ? -int256(bits & 0x7fffffff) : int256(bits);
            if (key > best) {
                best = key;
                label = i;
            }
        }
    }

    /// @notice The label a ZK record's instances state: the argmax of instances[1..] read as
    ///         signed field elements (v > p/2 is v - p), ties to the lowest index.
    /// @param packed abi.encodePacked(uint256[] instances): the preimage of outputCommitment.
    function labelOfInstances(bytes calldata packed) internal pure returns (uint256 label) {
        if (packed.length % 32 != 0 || packed.length < 64) revert BadTensor();
        uint256 count = packed.length / 32 - 1;
        int256 best = type(int256).min;
        for (uint256 i; i < count; ++i) {
            uint256 v = uint256(bytes32(packed[32 * (i + 1):32 * (i + 2)]));
            if (v >= FIELD_MODULUS) revert BadTensor();
            int256 key = v > FIELD_MODULUS / 2 ? -int256(FIELD_MODULUS - v) : int256(v);
            if (key > best) {
                best = key;
                label = i;
            }
        }
    }

    /// @notice Exact squared Euclidean distance of two quantised vectors of equal length.
    function squaredDistance(int256[] calldata a, int256[] calldata b)
        internal
        pure
        returns (uint256 sum)
    {
        for (uint256 j; j < a.length; ++j) {
            int256 diff = a[j] - b[j];
            sum += uint256(diff * diff);
        }
    }

    /// @notice s_N = floorDiv(a_N * min(K, N) * VALUE_SCALE, N * K).
    function farValue(bool matches, uint256 n, uint256 k) internal pure returns (int256) {
        if (!matches) return 0;
        return floorDiv(int256(_min(k, n)) * VALUE_SCALE, int256(n * k));
    }

    /// @notice s_r - s_{r+1} = floorDiv((a_r - a_{r+1}) * min(K, r) * VALUE_SCALE, K * r).
    function stepDelta(bool matches, bool nextMatches, uint256 rank, uint256 k)
        internal
        pure
        returns (int256)
    {
        int256 diff = (matches ? int256(1) : int256(0)) - (nextMatches ? int256(1) : int256(0));
        return floorDiv(diff * int256(_min(k, rank)) * VALUE_SCALE, int256(k * rank));
    }

    /// @notice Whether `shares` is exactly the list the largest-remainder rule derives from
    ///         `totals` (one per roster contributor, in roster order; clipped at 0; all zero:
    ///         equal split; equal remainders to the lower address). O(C), no sorting: every
    ///         contributor gets floor or floor + 1, as many + 1 as the rounding leaves, and the
    ///         weakest of those beats the strongest of the rest.
    function sharesFollow(int256[] calldata totals, address[] calldata roster, Share[] calldata shares)
        internal
        pure
        returns (bool)
    {
        uint256 c = totals.length;
        if (c == 0 || roster.length != c) return false;
        Rounding memory r = Rounding({
            whole: 0,
            equal: false,
            floors: 0,
            bumped: 0,
            weakRem: type(uint256).max,
            weakSlot: 0,
            strongRem: 0,
            strongSlot: type(uint256).max,
            anyUnbumped: false
        });
        for (uint256 i; i < c; ++i) {
            if (totals[i] > 0) r.whole += uint256(totals[i]);
        }
        r.equal = r.whole == 0;
        if (r.equal) r.whole = c;
        uint256 next = 0; // the next share not yet matched to a roster contributor
        for (uint256 i; i < c; ++i) {
            uint256 bps = 0;
            if (next < shares.length && shares[next].account == roster[i]) {
                bps = shares[next].bps;
                ++next;
            }
            if (!_take(r, i, r.equal ? 1 : (totals[i] > 0 ? uint256(totals[i]) : 0), bps)) {
                return false;
            }
        }
        if (next != shares.length || r.floors + r.bumped != BPS) return false;
        if (r.bumped != 0 && r.anyUnbumped) {
            return r.weakRem > r.strongRem || (r.weakRem == r.strongRem && r.weakSlot < r.strongSlot);
        }
        return true;
    }

    // Largest-remainder bookkeeping: the weakest bumped entry (smallest remainder; among
    // equals the highest slot) and the strongest unbumped one (largest remainder; among
    // equals the lowest slot).
    struct Rounding {
        uint256 whole;
        bool equal;
        uint256 floors;
        uint256 bumped;
        uint256 weakRem;
        uint256 weakSlot;
        uint256 strongRem;
        uint256 strongSlot;
        bool anyUnbumped;
    }

    function _take(Rounding memory r, uint256 slot, uint256 weight, uint256 bps)
        private
        pure
        returns (bool)
    {
        uint256 quota = weight * BPS / r.whole;
        uint256 rem = weight * BPS % r.whole;
        r.floors += quota;
        if (bps == quota + 1) {
            ++r.bumped;
            if (rem < r.weakRem || (rem == r.weakRem && slot > r.weakSlot)) {
                r.weakRem = rem;
                r.weakSlot = slot;
            }
            return true;
        }
        if (bps != quota) return false;
        if (!r.anyUnbumped || rem > r.strongRem) {
            r.strongRem = rem;
            r.strongSlot = slot;
        }
        r.anyUnbumped = true;
        return true;
    }

    /// @notice a / b rounded toward minus infinity (b > 0).
    function floorDiv(int256 a, int256 b) internal pure returns (int256 q) {
        q = a / b;
        if (a % b != 0 && (a < 0) != (b < 0)) --q;
    }

    function _checkHeader(bytes calldata tensor, uint256 expectedCount)
        private
        pure
        returns (uint256 count)
    {
        if (tensor.length < 16) revert BadTensor();
        uint256 head = uint256(uint64(bytes8(tensor[0:8])));
        uint256 rows = uint32(bytes4(tensor[8:12]));
        count = uint32(bytes4(tensor[12:16]));
        if (head != HEADER || rows != 1 || count == 0) revert BadTensor();
        if (expectedCount != 0 && count != expectedCount) revert BadTensor();
        if (tensor.length != 16 + 4 * count) revert BadTensor();
    }

    // The i-th float32 value (little-endian) after a 16-byte header, as its bit pattern.
    function _float32At(bytes calldata tensor, uint256 i) private pure returns (uint256 bits) {
        uint256 offset = 16 + 4 * i;
        bits = uint256(uint8(tensor[offset])) | uint256(uint8(tensor[offset + 1])) << 8
            | uint256(uint8(tensor[offset + 2])) << 16 | uint256(uint8(tensor[offset + 3])) << 24;
    }

    // floor(x * 2^FEATURE_FRAC_BITS) of a finite float32, exactly.
    function _fixedPoint(uint256 bits) private pure returns (int256) {
        uint256 exponent = (bits >> 23) & 0xff;
        if (exponent == 0xff) revert BadTensor();
        uint256 mantissa = bits & 0x7fffff;
        if (exponent == 0) exponent = 1;
        else mantissa |= 1 << 23;
        // value = mantissa * 2^(exponent - 150); times 2^16: shift by exponent - 134.
        uint256 shift = 150 - FEATURE_FRAC_BITS;
        bool negative = bits >> 31 == 1;
        if (exponent >= shift) {
            int256 up = int256(mantissa << (exponent - shift));
            return negative ? -up : up;
        }
        uint256 down = shift - exponent;
        if (!negative) return int256(mantissa >> down);
        return -int256((mantissa + (uint256(1) << down) - 1) >> down);
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
