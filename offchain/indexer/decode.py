"""Logs -> events with arguments by name: the decoder lives in :mod:`offchain.chain.abi`
(eth_abi only, shared with the light read path); this module keeps the indexer's names."""

from __future__ import annotations

from offchain.chain.abi import EventType, checksum

__all__ = ["EventType", "checksum"]
