"""Attestia: verifiable and attributable AI inference on EVM chains.

The package mirrors the on-chain concepts: ``chain`` (transport, transactions, EIP-712,
deployment), ``models`` (packages, canonical encoding, ONNX runtime), ``attribution``
(KNN-Shapley and contributor shares), ``proofs`` (TEE attestation, zk), ``worker``,
``rewards`` and ``cli``.
"""

__version__ = "0.1.0"

import os as _os

# eth-hash (under web3, eth-utils, eth-account) picks its keccak backend at the first hash:
# pycryptodome when installed (it is: eth-keyfile needs it), else pysha3. Its documented
# switch, ETH_HASH_BACKEND, selects pysha3 (safe-pysha3, a C extension already pinned for the
# Merkle trees): about 2.5x faster per hash, and a CLI read no longer imports pycryptodome's
# cffi keccak. A value the user set is kept.
_os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
