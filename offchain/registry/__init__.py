"""The typed clients of the deployed contracts: the only package that touches their ABI.

One client per contract, reached from the deployment handle under the contract's natural name:
``attestia.registry`` (InferenceRegistry, :mod:`.inference`), ``attestia.lens``
(RegistryLens, :mod:`.lens`), ``attestia.slasher`` (Slasher: equivocation and the
attribution-dispute game, :mod:`.slasher`) and ``attestia.distributor`` (RewardDistributor,
:mod:`.distributor`). Every read returns an :mod:`offchain.protocol` dataclass (structs mapped
by field name, never by position), every write is a named method returning an unsent
:class:`~offchain.chain.tx.Call` (send it with ``Attestia.send`` or queue it in a worker's
journal), and every event comes decoded into the dataclass of its own name (:mod:`.events`).
Worker, client, settlement, verifier and CLI all go through here; the raw web3 contracts
(:mod:`offchain.chain.contracts`) stay inside, except for the generic log follower
(:mod:`offchain.indexer.follower`) and deployment (:mod:`offchain.chain.deploy`).
"""

from offchain.registry.attestia import Attestia
from offchain.registry.distributor import ClaimableRoot, Distributor, Funding
from offchain.registry.events import (
    BatchCommitted,
    Claimed,
    DisputeOpened,
    DisputeResolved,
    DisputeResponded,
    EventMeta,
    InferenceRecorded,
    InferenceRequested,
    LeafChallenged,
    MeasurementEvent,
    ModelRegistered,
    ModelTermsUpdated,
    RequestCancelled,
    RequestRejected,
    RootProposed,
    WorkerRegistered,
    decode_batch_committed,
    decode_recorded,
    decode_requested,
)
from offchain.registry.inference import Registry, SubmittedRecord
from offchain.registry.lens import RegistryLens
from offchain.registry.slasher import RevealedInput, Slasher

__all__ = [
    "Attestia", "BatchCommitted", "ClaimableRoot", "Claimed", "DisputeOpened",
    "DisputeResolved", "DisputeResponded", "Distributor", "EventMeta", "Funding",
    "InferenceRecorded", "InferenceRequested", "LeafChallenged", "MeasurementEvent",
    "ModelRegistered", "ModelTermsUpdated", "Registry", "RegistryLens", "RequestCancelled",
    "RequestRejected",
    "RevealedInput", "RootProposed", "Slasher", "SubmittedRecord", "WorkerRegistered",
    "decode_batch_committed", "decode_recorded", "decode_requested",
]
