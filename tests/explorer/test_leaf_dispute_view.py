"""The explorer shows a batch leaf's dispute where a record's is shown: the leaf's page finds
its dispute by the leaf dispute id (``keccak256(abi.encode(batchId, leafHash))``), not by
the leaf's request id, which a single record's dispute may carry. No chain needed."""

from __future__ import annotations

from offchain.explorer.queries import get_record
from offchain.indexer import schema as S
from offchain.protocol import PROOF_SIGNED, ZERO32, Inference, leaf_dispute_id, leaf_hash

BATCH = "0x" + "ba" * 32
WORKER = "0x" + "11" * 20


def _leaf(index: int) -> Inference:
    return Inference(bytes([index + 1]) * 32, b"\x0d" * 32, b"\x01" * 32, b"\x02" * 32,
                     b"\x03" * 32, PROOF_SIGNED, ZERO32, WORKER, 1_800_000_000, ZERO32)


def test_a_leaf_page_shows_its_own_dispute_only(tmp_path) -> None:
    engine = S.open_engine(f"sqlite:///{tmp_path / 'index.sqlite'}")
    at = {"block": 7, "log_index": 0}
    disputed, quiet = _leaf(0), _leaf(1)
    dispute_id = "0x" + leaf_dispute_id(bytes.fromhex(BATCH[2:]), leaf_hash(disputed)).hex()
    with engine.begin() as conn:
        conn.execute(S.batches.insert(), [{
            "batch_id": BATCH, "model_id": "0x" + "0d" * 32, "worker": WORKER,
            "root": "0x" + "cc" * 32, "count": 2, "epoch": 3, "deposit": "10",
            "data_uri": "file:///b.json", "data_hash": "0x" + "dd" * 32, "timestamp": 1,
            "tx_hash": "0x" + "ee" * 32, **at}])
        conn.execute(S.leaves.insert(), [{
            "batch_id": BATCH, "leaf_index": i, "request_id": "0x" + leaf.requestId.hex(),
            "model_id": "0x" + leaf.modelId.hex(), "worker": WORKER,
            "attribution_hash": "0x" + leaf.attributionHash.hex(), "proof_kind": PROOF_SIGNED,
            "timestamp": leaf.timestamp, "fee": "5", "pool": "5", "inference": leaf.to_json(),
            "block": 7} for i, leaf in enumerate((disputed, quiet))])
        conn.execute(S.disputes.insert(), [
            {"request_id": dispute_id, "state": "open", "data": {}, "timestamp": 2,
             "block": 8, "log_index": 0},
            # A single record's dispute under the quiet leaf's request id is not the leaf's.
            {"request_id": "0x" + quiet.requestId.hex(), "state": "fraud", "data": {},
             "timestamp": 2, "block": 8, "log_index": 1}])
    with engine.connect() as conn:
        shown = get_record(conn, "0x" + disputed.requestId.hex())
        assert shown["kind"] == "batch-leaf" and shown["status"] == "disputed"
        assert shown["dispute"]["state"] == "open"
        assert shown["dispute"]["disputeId"] == dispute_id
        other = get_record(conn, "0x" + quiet.requestId.hex())
        assert other["dispute"] is None and other["status"] == "valid"
