"""Proofs of what a worker ran: TEE attestation (``tee``) and zero-knowledge proofs."""
