"""Attestia: verifiable and attributable AI inference on EVM chains.

The package mirrors the on-chain concepts: ``chain`` (transport, transactions, EIP-712,
deployment), ``models`` (packages, canonical encoding, ONNX runtime), ``attribution``
(KNN-Shapley and contributor shares), ``proofs`` (TEE attestation, zk), ``worker``,
``rewards`` and ``cli``.
"""

__version__ = "0.1.0"
