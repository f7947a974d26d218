// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice The forge cheatcodes this suite uses (forge 1.7.1), at the standard cheatcode address.
///         forge-std is not installable offline, so we declare only what we call.
interface Vm {
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest)
        external
        pure
        returns (uint8 v, bytes32 r, bytes32 s);
    function deal(address account, uint256 newBalance) external;
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;
    function warp(uint256 newTimestamp) external;
    function roll(uint256 newHeight) external;
    function assume(bool condition) external pure;
    function expectRevert() external;
    function expectRevert(bytes4 revertData) external;
    function expectRevert(bytes calldata revertData) external;
    function label(address account, string calldata newLabel) external;
    function toString(uint256 value) external pure returns (string memory);
    function toString(address value) external pure returns (string memory);
    function toString(bytes32 value) external pure returns (string memory);
}

/// @dev The cheatcode handle for libraries and non-test contracts (handlers).
Vm constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

/// @notice Minimal test base: cheatcodes, assertions that revert with the values, bound(), and
///         the invariant-target plumbing forge reads (targetContracts(), targetSelectors();
///         forge treats every other target/exclude getter it probes as empty when absent).
abstract contract Base {
    Vm internal constant vm = VM;

    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetContracts;
    FuzzSelector[] private _targetSelectors;

    // ------------------------------------------------------------------ invariant targets

    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetSelectors;
    }

    function targetContract(address target) internal {
        _targetContracts.push(target);
    }

    function targetSelector(address target, bytes4[] memory selectors) internal {
        _targetSelectors.push(FuzzSelector(target, selectors));
    }

    // ------------------------------------------------------------------ assertions

    function fail(string memory message) internal pure {
        revert(message);
    }

    function assertTrue(bool condition, string memory message) internal pure {
        if (!condition) revert(message);
    }

    function assertEq(uint256 actual, uint256 expected, string memory message) internal pure {
        if (actual != expected) {
            revert(
                string.concat(message, ": ", vm.toString(actual), " != expected ", vm.toString(expected))
            );
        }
    }

    function assertEq(address actual, address expected, string memory message) internal pure {
        if (actual != expected) {
            revert(
                string.concat(message, ": ", vm.toString(actual), " != expected ", vm.toString(expected))
            );
        }
    }

    function assertEq(bytes32 actual, bytes32 expected, string memory message) internal pure {
        if (actual != expected) {
            revert(
                string.concat(message, ": ", vm.toString(actual), " != expected ", vm.toString(expected))
            );
        }
    }

    function assertEq(bool actual, bool expected, string memory message) internal pure {
        if (actual != expected) revert(string.concat(message, ": bool mismatch"));
    }

    function assertLe(uint256 a, uint256 b, string memory message) internal pure {
        if (a > b) revert(string.concat(message, ": ", vm.toString(a), " > ", vm.toString(b)));
    }

    function assertGe(uint256 a, uint256 b, string memory message) internal pure {
        if (a < b) revert(string.concat(message, ": ", vm.toString(a), " < ", vm.toString(b)));
    }

    // ------------------------------------------------------------------ inputs

    /// @dev Maps x into [min, max] (inclusive), keeping x when it is already inside, so the
    ///      fuzzer's edge values (0, 1, max) still reach the edges of the range.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + x % (size + 1);
    }

    /// @dev A funded EOA with a label (and its key, for signing).
    function makeAccount(string memory name) internal returns (address account, uint256 key) {
        key = uint256(keccak256(bytes(name)));
        account = vm.addr(key);
        vm.label(account, name);
    }

    function makeAddr(string memory name) internal returns (address account) {
        (account,) = makeAccount(name);
    }
}
