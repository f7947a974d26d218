"""Reward settlement: from on-chain records to a Merkle root of cumulative claims."""
