// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IRewardDistributor} from "./interfaces/IRewardDistributor.sol";
import {ZeroAddress} from "./Common.sol";

/// @title RewardDistributor
/// @notice Data contributors' rewards in one asset, paid by cumulative Merkle claims against
///         timelocked per-epoch roots.
/// @dev The active root is cached in three slots (root; total | totalClaimed; epochs and
///      flags) so a claim reads no per-epoch mapping unless a newer proposal is waiting.
contract RewardDistributor is IRewardDistributor, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @inheritdoc IRewardDistributor
    bytes32 public constant SETTLER_ROLE = keccak256("SETTLER_ROLE");
    /// @inheritdoc IRewardDistributor
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /// @inheritdoc IRewardDistributor
    address public immutable asset;
    /// @inheritdoc IRewardDistributor
    uint64 public immutable timelock;

    /// @inheritdoc IRewardDistributor
    uint256 public totalFunded;
    /// @inheritdoc IRewardDistributor
    mapping(address account => uint256) public claimed;

    bytes32 private _activeRoot;
    uint128 private _activeTotal;
    uint128 private _totalClaimed;
    uint64 private _activeEpoch;
    uint64 private _latestEpoch;
    bool private _hasActive;
    bool private _hasLatest;
    mapping(uint64 epoch => EpochRoot) private _roots;

    /// @param asset_ address(0) for ETH (the registry sweeps into it), else the ERC-20 paid out.
    /// @param timelock_ Seconds between a proposal and its activation.
    /// @param admin Gets DEFAULT_ADMIN_ROLE (grants and revokes the other roles).
    /// @param settler Gets SETTLER_ROLE (skipped if address(0)).
    /// @param guardian Gets GUARDIAN_ROLE (skipped if address(0)).
    constructor(address asset_, uint64 timelock_, address admin, address settler, address guardian) {
        if (admin == address(0)) revert ZeroAddress();
        asset = asset_;
        timelock = timelock_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (settler != address(0)) _grantRole(SETTLER_ROLE, settler);
        if (guardian != address(0)) _grantRole(GUARDIAN_ROLE, guardian);
    }

    /// @inheritdoc IRewardDistributor
    function fund(uint256 amount) external payable nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 received = amount;
        if (asset == address(0)) {
            if (msg.value != amount) revert IncorrectValue(amount, msg.value);
        } else {
            if (msg.value != 0) revert IncorrectValue(0, msg.value);
            IERC20 token = IERC20(asset);
            uint256 before = token.balanceOf(address(this));
            token.safeTransferFrom(msg.sender, address(this), amount);
            received = token.balanceOf(address(this)) - before;
        }
        uint256 funded = totalFunded + received;
        totalFunded = funded;
        emit Funded(msg.sender, received, funded);
    }

    /// @inheritdoc IRewardDistributor
    function proposeRoot(uint64 epoch, bytes32 root, uint256 total)
        external
        onlyRole(SETTLER_ROLE)
    {
        if (root == bytes32(0)) revert EmptyRoot();
        // A ready proposal must not be left behind by the newer one taking its place.
        _activateLatestIfReady();
        if (_hasActive && epoch <= _activeEpoch) revert EpochNotAfterActive(epoch, _activeEpoch);
        EpochRoot storage proposal = _roots[epoch];
        RootStatus status = proposal.status;
        if (status == RootStatus.Proposed || status == RootStatus.Activated) {
            revert RootAlreadyProposed(epoch);
        }
        if (total > totalFunded) revert TotalExceedsFunded(total, totalFunded);
        if (total < _activeTotal) revert TotalDecreased(total, _activeTotal);

        uint64 readyAt = uint64(block.timestamp) + timelock;
        proposal.root = root;
        proposal.total = SafeCast.toUint128(total);
        proposal.readyAt = readyAt;
        proposal.status = RootStatus.Proposed;
        if (!_hasLatest || epoch > _latestEpoch) {
            _latestEpoch = epoch;
            _hasLatest = true;
        }
        emit RootProposed(epoch, root, total, readyAt);
    }

    /// @inheritdoc IRewardDistributor
    function cancelRoot(uint64 epoch) external onlyRole(GUARDIAN_ROLE) {
        EpochRoot storage proposal = _roots[epoch];
        if (proposal.status != RootStatus.Proposed) revert RootNotProposed(epoch);
        if (block.timestamp >= proposal.readyAt) revert TimelockElapsed(proposal.readyAt);
        proposal.status = RootStatus.Cancelled;
        emit RootCancelled(epoch, proposal.root);
    }

    /// @inheritdoc IRewardDistributor
    function activateRoot(uint64 epoch) external {
        EpochRoot storage proposal = _roots[epoch];
        if (proposal.status != RootStatus.Proposed) revert RootNotProposed(epoch);
        if (block.timestamp < proposal.readyAt) revert TimelockNotElapsed(proposal.readyAt);
        if (_hasActive && epoch <= _activeEpoch) revert EpochNotAfterActive(epoch, _activeEpoch);
        if (proposal.total < _activeTotal) revert TotalDecreased(proposal.total, _activeTotal);
        _activate(epoch, proposal);
    }

    /// @inheritdoc IRewardDistributor
    function claim(address account, uint256 cumulative, bytes32[] calldata proof)
        external
        nonReentrant
        returns (uint256 amount)
    {
        _activateLatestIfReady();
        if (!_hasActive) revert NoActiveRoot();
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulative))));
        if (!MerkleProof.verifyCalldata(proof, _activeRoot, leaf)) revert InvalidProof();
        uint256 already = claimed[account];
        if (cumulative <= already) revert NothingToClaim(cumulative, already);
        amount = cumulative - already;
        uint256 newTotalClaimed = _totalClaimed + amount;
        if (newTotalClaimed > _activeTotal) revert ExceedsRootTotal(newTotalClaimed, _activeTotal);

        claimed[account] = cumulative;
        _totalClaimed = uint128(newTotalClaimed);
        emit Claimed(account, _activeEpoch, amount, cumulative);
        if (asset == address(0)) {
            Address.sendValue(payable(account), amount);
        } else {
            IERC20(asset).safeTransfer(account, amount);
        }
    }

    /// @inheritdoc IRewardDistributor
    function totalClaimed() external view returns (uint256) {
        return _totalClaimed;
    }

    /// @inheritdoc IRewardDistributor
    function epochRoot(uint64 epoch) external view returns (EpochRoot memory) {
        return _roots[epoch];
    }

    /// @inheritdoc IRewardDistributor
    function claimableRoot()
        external
        view
        returns (bool exists, uint64 epoch, bytes32 root, uint256 total)
    {
        (bool ready, EpochRoot storage proposal) = _readyLatest();
        if (ready) return (true, _latestEpoch, proposal.root, proposal.total);
        return (_hasActive, _activeEpoch, _activeRoot, _activeTotal);
    }

    /// @dev Activates the newest proposal if its timelock has elapsed and it may follow the
    ///      active root; otherwise leaves everything as is (claims never fail because of it).
    function _activateLatestIfReady() private {
        (bool ready, EpochRoot storage proposal) = _readyLatest();
        if (ready) _activate(_latestEpoch, proposal);
    }

    function _readyLatest() private view returns (bool ready, EpochRoot storage proposal) {
        uint64 latest = _latestEpoch;
        proposal = _roots[latest];
        if (!_hasLatest || (_hasActive && latest <= _activeEpoch)) return (false, proposal);
        ready = proposal.status == RootStatus.Proposed && block.timestamp >= proposal.readyAt
            && proposal.total >= _activeTotal;
    }

    function _activate(uint64 epoch, EpochRoot storage proposal) private {
        proposal.status = RootStatus.Activated;
        bytes32 root = proposal.root;
        uint128 total = proposal.total;
        _activeRoot = root;
        _activeTotal = total;
        _activeEpoch = epoch;
        _hasActive = true;
        emit RootActivated(epoch, root, total);
    }
}
