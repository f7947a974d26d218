// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IRewardDistributor
/// @notice Holds the data contributors' rewards of one asset (ETH or one ERC-20) and pays
///         cumulative Merkle claims. A SETTLER proposes, per epoch, a root over
///         (address account, uint256 cumulative) leaves (StandardMerkleTree) with the total of
///         the cumulative amounts; a GUARDIAN can cancel it during the timelock; after the
///         timelock anyone can activate it, and claim activates the newest proposal lazily.
///         Each root supersedes the previous one: an account is paid cumulative - claimed.
interface IRewardDistributor {
    /// @notice Life cycle of an epoch's proposed root.
    enum RootStatus {
        None,
        Proposed,
        Cancelled,
        Activated
    }

    /// @notice An epoch's proposed root. Two storage slots.
    struct EpochRoot {
        bytes32 root;
        uint128 total;
        uint64 readyAt;
        RootStatus status;
    }

    /// @notice Funds arrived (a registry sweep, or fund() for a token distributor).
    /// @param from Who sent the funds.
    /// @param amount The amount counted.
    /// @param totalFunded Everything ever funded, now.
    event Funded(address indexed from, uint256 amount, uint256 totalFunded);

    /// @notice The settler proposed an epoch's root; it can be activated from readyAt on.
    /// @param epoch The epoch.
    /// @param root The Merkle root over (account, cumulative).
    /// @param total The sum of the cumulative amounts.
    /// @param readyAt When it may be activated.
    event RootProposed(uint64 indexed epoch, bytes32 root, uint256 total, uint64 readyAt);

    /// @notice The guardian cancelled a proposed root during its timelock.
    /// @param epoch The epoch.
    /// @param root The cancelled root.
    event RootCancelled(uint64 indexed epoch, bytes32 root);

    /// @notice A root became the claimable one.
    /// @param epoch The epoch.
    /// @param root The root now claimable.
    /// @param total Its total.
    event RootActivated(uint64 indexed epoch, bytes32 root, uint256 total);

    /// @notice An account was paid (to itself, whoever called).
    /// @param account Who was paid.
    /// @param epoch The epoch of the root claimed against.
    /// @param amount What was paid now.
    /// @param cumulative The account's cumulative amount under that root.
    event Claimed(address indexed account, uint64 indexed epoch, uint256 amount, uint256 cumulative);

    /// @notice A zero amount was funded.
    error ZeroAmount();
    /// @notice msg.value is wrong for this asset (must equal amount for ETH, 0 for a token).
    /// @param expected The msg.value required.
    /// @param sent The msg.value sent.
    error IncorrectValue(uint256 expected, uint256 sent);
    /// @notice The root is zero.
    error EmptyRoot();
    /// @notice The epoch is not after the active root's epoch.
    /// @param epoch The epoch proposed.
    /// @param activeEpoch The active root's epoch.
    error EpochNotAfterActive(uint64 epoch, uint64 activeEpoch);
    /// @notice A root for this epoch is already proposed or activated.
    /// @param epoch The epoch.
    error RootAlreadyProposed(uint64 epoch);
    /// @notice The proposed total exceeds everything ever funded.
    /// @param total The total proposed.
    /// @param totalFunded Everything ever funded.
    error TotalExceedsFunded(uint256 total, uint256 totalFunded);
    /// @notice The total is below the active root's total (amounts are cumulative).
    /// @param total The total proposed.
    /// @param activeTotal The active root's total.
    error TotalDecreased(uint256 total, uint256 activeTotal);
    /// @notice The epoch's root is not in the Proposed state.
    /// @param epoch The epoch.
    error RootNotProposed(uint64 epoch);
    /// @notice The timelock has not elapsed (activate) or has elapsed (cancel).
    /// @param readyAt When it elapses.
    error TimelockNotElapsed(uint64 readyAt);
    /// @notice The timelock has elapsed; the root can no longer be cancelled.
    /// @param readyAt When it elapsed.
    error TimelockElapsed(uint64 readyAt);
    /// @notice No root is active yet.
    error NoActiveRoot();
    /// @notice The proof does not prove (account, cumulative) under the active root.
    error InvalidProof();
    /// @notice The account has already claimed this cumulative amount.
    /// @param cumulative The cumulative amount claimed for.
    /// @param claimed What the account was already paid.
    error NothingToClaim(uint256 cumulative, uint256 claimed);
    /// @notice Paying would exceed the active root's total.
    /// @param totalClaimed Everything paid, with this claim.
    /// @param total The active root's total.
    error ExceedsRootTotal(uint256 totalClaimed, uint256 total);

    /// @notice Adds `amount` to the rewards: ETH (msg.value == amount) or the token (pulled
    ///         from msg.sender with SafeERC20; the amount actually received is counted).
    /// @param amount The amount (wei or token units).
    function fund(uint256 amount) external payable;

    /// @notice Proposes the root of cumulative amounts for `epoch` (SETTLER_ROLE).
    /// @param epoch After the active root's epoch.
    /// @param root The StandardMerkleTree root over (address account, uint256 cumulative).
    /// @param total Sum of the cumulative amounts in the tree: <= totalFunded(), >= the
    ///        active root's total.
    function proposeRoot(uint64 epoch, bytes32 root, uint256 total) external;

    /// @notice Cancels a proposed root before its timelock elapses (GUARDIAN_ROLE).
    /// @param epoch The epoch.
    function cancelRoot(uint64 epoch) external;

    /// @notice Makes a proposed root claimable once its timelock has elapsed (anyone).
    /// @param epoch The epoch.
    function activateRoot(uint64 epoch) external;

    /// @notice Pays `account` cumulative - claimed(account) under the active root (anyone
    ///         may call; funds go to account). Activates the newest ready proposal first.
    /// @param account Who is paid.
    /// @param cumulative Its cumulative amount in the tree.
    /// @param proof The Merkle proof of (account, cumulative).
    /// @return amount The amount paid.
    function claim(address account, uint256 cumulative, bytes32[] calldata proof)
        external
        returns (uint256 amount);

    /// @notice The asset paid out: address(0) for ETH, else the ERC-20 token.
    /// @return The asset.
    function asset() external view returns (address);

    /// @notice Seconds between a proposal and its activation.
    /// @return Seconds.
    function timelock() external view returns (uint64);

    /// @notice Everything ever funded.
    /// @return The amount.
    function totalFunded() external view returns (uint256);

    /// @notice Everything ever paid out.
    /// @return The amount.
    function totalClaimed() external view returns (uint256);

    /// @notice What an account has been paid so far (its cumulative claimed amount).
    /// @param account The account.
    /// @return The amount.
    function claimed(address account) external view returns (uint256);

    /// @notice The proposal for an epoch.
    /// @param epoch The epoch.
    /// @return The proposal (status None if none).
    function epochRoot(uint64 epoch) external view returns (EpochRoot memory);

    /// @notice The root a claim made now would be checked against (after lazy activation).
    /// @return exists False if no root is active or activatable.
    /// @return epoch Its epoch.
    /// @return root Its root.
    /// @return total Its total.
    function claimableRoot()
        external
        view
        returns (bool exists, uint64 epoch, bytes32 root, uint256 total);

    /// @notice The role that proposes roots.
    /// @return keccak256("SETTLER_ROLE").
    function SETTLER_ROLE() external view returns (bytes32);

    /// @notice The role that cancels roots during the timelock.
    /// @return keccak256("GUARDIAN_ROLE").
    function GUARDIAN_ROLE() external view returns (bytes32);
}
