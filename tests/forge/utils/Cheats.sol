// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Cheatcodes beyond Base.sol's Vm that the issue-9 tests use (forge 1.7.1), at the same
///         standard address.
interface VmLogs {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
}

VmLogs constant LOGS = VmLogs(address(uint160(uint256(keccak256("hevm cheat code")))));

/// @dev The data of the last log `emitter` emitted with `topic0` among `logs` (reverts if none).
function lastLog(VmLogs.Log[] memory logs, address emitter, bytes32 topic0) pure returns (bytes memory) {
    for (uint256 i = logs.length; i > 0; --i) {
        VmLogs.Log memory log = logs[i - 1];
        if (log.emitter == emitter && log.topics.length > 0 && log.topics[0] == topic0) return log.data;
    }
    revert("no such log");
}
