"""The explorer shows a record's output dispute (issue 18) beside its attribution dispute: the
indexer projects the three output-dispute events into the disputes table under the output
dispute id, the record's page finds them from its own id, and the disputes list says which
kind each is. No chain needed."""

from __future__ import annotations

from offchain.explorer.queries import get_record, list_disputes
from offchain.indexer import schema as S
from offchain.indexer.project import Context, rows_of
from offchain.protocol import (
    PROOF_SIGNED,
    ZERO32,
    DisputeState,
    Inference,
    OutputFraud,
    leaf_dispute_id,
    leaf_hash,
    output_dispute_id,
)

BATCH = "0x" + "ba" * 32
WORKER = "0x" + "11" * 20
CHALLENGER = "0x" + "22" * 20


def _event(**args) -> dict:
    return {"args": args}


def test_a_records_output_dispute_is_shown_with_its_neuron(tmp_path) -> None:
    engine = S.open_engine(f"sqlite:///{tmp_path / 'index.sqlite'}")
    leaf = Inference(b"\x01" * 32, b"\x0d" * 32, b"\x01" * 32, b"\x02" * 32, b"\x03" * 32,
                     PROOF_SIGNED, ZERO32, WORKER, 1_800_000_000, ZERO32)
    record_id = leaf_dispute_id(bytes.fromhex(BATCH[2:]), leaf_hash(leaf))
    did = output_dispute_id(record_id)
    events = [
        ("OutputDisputeOpened", _event(disputeId=did, recordId=record_id, worker=WORKER,
                                       challenger=CHALLENGER, bond=10, input=[1, 2],
                                       logits=[3, -4], respondBy=100)),
        ("OutputResponded", _event(disputeId=did, responder=WORKER, hidden=[[5, 6]],
                                   proveBy=200)),
        ("OutputDisputeResolved", _event(disputeId=did, recordId=record_id,
                                         outcome=int(DisputeState.FRAUD),
                                         kind=int(OutputFraud.NEURON), layer=2, neuron=1,
                                         by=CHALLENGER, slashed=7)),
    ]
    with engine.begin() as conn:
        conn.execute(S.batches.insert(), [{
            "batch_id": BATCH, "model_id": "0x" + "0d" * 32, "worker": WORKER,
            "root": "0x" + "cc" * 32, "count": 1, "epoch": 3, "deposit": "10",
            "data_uri": "file:///b.json", "data_hash": "0x" + "dd" * 32, "timestamp": 1,
            "tx_hash": "0x" + "ee" * 32, "block": 7, "log_index": 0}])
        conn.execute(S.leaves.insert(), [{
            "batch_id": BATCH, "leaf_index": 0, "request_id": "0x" + leaf.requestId.hex(),
            "model_id": "0x" + leaf.modelId.hex(), "worker": WORKER,
            "attribution_hash": "0x" + leaf.attributionHash.hex(), "proof_kind": PROOF_SIGNED,
            "timestamp": leaf.timestamp, "fee": "5", "pool": "5", "inference": leaf.to_json(),
            "block": 7}])
        for index, (name, event) in enumerate(events):
            context = Context(8 + index, 0, "0x" + "ab" * 32, 50 + index, lambda _: None)
            for table, row in rows_of("Slasher", name, event, context):
                conn.execute(table.insert(), [row])
    with engine.connect() as conn:
        shown = get_record(conn, "0x" + leaf.requestId.hex())
        assert shown["dispute"] is None and shown["status"] == "disputed"
        d = shown["outputDispute"]
        assert d["type"] == "output" and d["state"] == "fraud" and d["fraud"] == "neuron"
        assert d["neuron"] == {"layer": 2, "neuron": 1} and d["slashed"] == "7"
        assert d["disputeId"] == "0x" + did.hex() and d["requestId"] == "0x" + record_id.hex()
        assert d["proveBy"] == 200 and d["challenger"] == CHALLENGER
        (listed,) = list_disputes(conn).items
        assert listed["type"] == "output" and listed["requestId"] == "0x" + record_id.hex()


def test_a_single_record_under_an_output_dispute_is_listed_as_disputed(tmp_path) -> None:
    """The records list's status filter counts output disputes too (they are keyed by their
    own id; the opening row names the record)."""
    from offchain.explorer.queries import list_records

    engine = S.open_engine(f"sqlite:///{tmp_path / 'index.sqlite'}")
    ids = [bytes([n]) * 32 for n in (1, 2)]
    with engine.begin() as conn:
        conn.execute(S.records.insert(), [{
            "request_id": "0x" + rid.hex(), "model_id": "0x" + "0d" * 32, "worker": WORKER,
            "requester": None, "input_commitment": "0x" + "01" * 32,
            "output_commitment": "0x" + "02" * 32, "attribution_hash": "0x" + "03" * 32,
            "proof_kind": PROOF_SIGNED, "proof_hash": "0x" + ZERO32.hex(),
            "timestamp": 1_800_000_000, "result_hash": "0x" + ZERO32.hex(),
            "digest": "0x" + "04" * 32, "epoch": 3, "worker_cut": "1", "owner_cut": "1",
            "contributor_cut": "1", "block": 5 + n, "log_index": 0,
            "tx_hash": "0x" + "ee" * 32} for n, rid in enumerate(ids)])
        opened = _event(disputeId=output_dispute_id(ids[0]), recordId=ids[0], worker=WORKER,
                        challenger=CHALLENGER, bond=10, input=[1], logits=[3, -4],
                        respondBy=100)
        context = Context(9, 0, "0x" + "ab" * 32, 50, lambda _: None)
        for table, row in rows_of("Slasher", "OutputDisputeOpened", opened, context):
            conn.execute(table.insert(), [row])
    with engine.connect() as conn:
        disputed = list_records(conn, status="disputed").items
        valid = list_records(conn, status="valid").items
        everything = list_records(conn).items
    assert [r["requestId"] for r in disputed] == ["0x" + ids[0].hex()]
    assert [r["requestId"] for r in valid] == ["0x" + ids[1].hex()]
    assert {r["requestId"]: r["status"] for r in everything} == {
        "0x" + ids[0].hex(): "disputed", "0x" + ids[1].hex(): "valid"}
