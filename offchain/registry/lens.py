"""The typed client of ``RegistryLens``: the registry's views that live beside it (for the
registry's bytecode size)."""

from __future__ import annotations

from collections.abc import Sequence

from offchain.protocol import Inference, RecordStatus, from_abi
from offchain.registry.base import ContractClient


class RegistryLens(ContractClient):
    """Record and batch status, and batch inclusion, as the chain sees them."""

    def record_status(self, request_id: bytes, inference: Inference) -> RecordStatus:
        return from_abi(RecordStatus, self._fn.recordStatus(
            request_id, inference.as_tuple()).call())

    def batch_status(self, root: bytes, model_id: bytes, worker: str) -> RecordStatus:
        return from_abi(RecordStatus, self._fn.batchStatus(root, model_id, worker).call())

    def verify_inclusion(self, batch_id: bytes, inference: Inference,
                         proof: Sequence[bytes]) -> bool:
        return bool(self._fn.verifyInclusion(batch_id, inference.as_tuple(),
                                             list(proof)).call())

    def registry_address(self) -> str:
        """The registry this lens reads."""
        return str(self._fn.registry().call())
