"""The published batch file: the writer's format and content hash, and the one loader refusing
every lie with the check that caught it (dataHash, root, count, model, worker, attribution,
roster), in that order."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address

from offchain.merkle import verify_proof
from offchain.protocol import (
    INFERENCE_ABI_TYPES,
    PROOF_SIGNED,
    Inference,
    Share,
    attribution_hash_unchecked,
    batch_id,
)
from offchain.record import batch_file
from offchain.record.batch_file import (
    CHECKS,
    FORMAT,
    AttributionMismatch,
    BatchFile,
    BatchFileError,
    BatchLeaf,
    Commitment,
    CountMismatch,
    DataHashMismatch,
    ForeignModel,
    ForeignWorker,
    MalformedBatchFile,
    NotInRoster,
    RootMismatch,
    data_hash,
    write_batch_file,
)
from offchain.storage.uri import UriNotFound
from tests.http_server import serving

MODEL = keccak(text="model")
WORKER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
A, B, C = (to_checksum_address("0x" + c * 20) for c in ("aa", "bb", "cc"))
OUTSIDER = to_checksum_address("0x" + "dd" * 20)
ROSTER = (A, B, C)


def shares_for(i: int) -> tuple[Share, ...]:
    return (Share(A, 5_000 + i), Share(B, 3_000 - i), Share(C, 2_000))


def leaf(i: int, *, model: bytes = MODEL, worker: str = WORKER,
         shares: tuple[Share, ...] | None = None) -> BatchLeaf:
    shares = shares_for(i) if shares is None else shares
    record = Inference(keccak(text=f"request {i}"), model, keccak(text=f"in {i}"),
                       keccak(text=f"out {i}"), attribution_hash_unchecked(shares), PROOF_SIGNED,
                       bytes(32), worker, 1_700_000_000 + i)
    return BatchLeaf(record, shares, 10**15 + i)


def make(leaves: list[BatchLeaf] | None = None) -> BatchFile:
    leaves = [leaf(i) for i in range(5)] if leaves is None else leaves
    return BatchFile.of(leaves, model_id=MODEL, worker=WORKER, epoch=3, deposit=12_345)


def committed(batch: BatchFile, **changes) -> Commitment:
    """What the chain committed for ``batch`` (no dataHash unless given: the tests of the
    later checks edit the file, and the dataHash check would stop them first)."""
    return replace(Commitment(batch.root, batch.count, batch.model_id, batch.worker), **changes)


def load(uri: str, commitment: Commitment, roster: tuple[str, ...] | None = ROSTER
         ) -> BatchFile:
    return batch_file.load(uri, commitment, roster=roster)


def publish(tmp_path: Path, batch: BatchFile, edit=None) -> str:
    path = tmp_path / f"{batch.tree.root}.json"
    write_batch_file(path, batch)
    if edit is not None:
        doc = json.loads(path.read_text())
        edit(doc)
        path.write_text(json.dumps(doc))
    return path.as_uri()


def test_written_file_has_the_documented_format_and_loads_back(tmp_path: Path) -> None:
    batch = make()
    uri = publish(tmp_path, batch)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
    doc = json.loads(Path(uri.removeprefix("file://")).read_text())
    assert list(doc) == ["format", "root", "batchId", "modelId", "worker", "count", "epoch",
                         "deposit", "tree", "leaves"]
    assert doc["format"] == FORMAT and doc["root"] == batch.tree.root
    assert doc["batchId"] == "0x" + batch_id(batch.root, MODEL, WORKER).hex()
    assert (doc["count"], doc["epoch"], doc["deposit"]) == (5, 3, 12_345)
    assert doc["tree"]["leafEncoding"] == list(INFERENCE_ABI_TYPES)
    for i, (entry, value) in enumerate(zip(doc["leaves"], doc["tree"]["values"], strict=True)):
        assert list(entry) == ["inference", "shares", "fee"]
        assert entry["inference"] == leaf(i).inference.to_json()
        assert [str(v).lower() for v in value["value"]] == [
            str(v).lower() for v in entry["inference"].values()]
        assert entry["shares"] == [[a, b] for a, b in shares_for(i)]

    loaded = load(uri, committed(batch))
    assert (loaded.root, loaded.count, loaded.model_id, loaded.worker, loaded.epoch,
            loaded.deposit) == (batch.root, 5, MODEL, WORKER, 3, 12_345)
    assert loaded.leaves == batch.leaves and loaded.batch_id == batch.batch_id
    for i, entry in enumerate(loaded.leaves):
        assert verify_proof(batch.root, INFERENCE_ABI_TYPES, list(entry.inference.as_tuple()),
                            loaded.proof(i))
    assert loaded.index_of(leaf(3).inference.requestId) == 3
    assert loaded.index_of(bytes(32)) is None
    assert loaded.with_epoch(4).to_json()["epoch"] == 4


def test_the_same_file_loads_over_http(tmp_path: Path) -> None:
    batch = make()
    publish(tmp_path, batch)
    with serving(tmp_path) as server:
        loaded = load(server.url(f"{batch.tree.root}.json"), committed(batch))
        assert loaded.leaves == batch.leaves
        with pytest.raises(UriNotFound):  # not published: not a lie, a different remedy
            load(server.url("elsewhere.json"), committed(batch))


def test_each_check_has_its_error_in_documented_order() -> None:
    kinds = (DataHashMismatch, RootMismatch, CountMismatch, ForeignModel, ForeignWorker,
             AttributionMismatch, NotInRoster)
    assert tuple(k.check for k in kinds) == CHECKS
    assert all(issubclass(k, BatchFileError) for k in kinds)
    assert MalformedBatchFile.check == "format"


def test_the_written_bytes_are_what_the_data_hash_names(tmp_path: Path) -> None:
    batch = make()
    written = write_batch_file(tmp_path / "b.json", batch)
    data = written.path.read_bytes()
    assert data == batch.encode() and written.size == len(data)
    assert written.data_hash == data_hash(data) == keccak(data)
    loaded = load(written.path.as_uri(), committed(batch, data_hash=written.data_hash))
    assert loaded.leaves == batch.leaves
    # A cached copy of the same bytes is the same file.
    assert batch_file.load_bytes(data, committed(batch, data_hash=written.data_hash),
                                roster=ROSTER, source="cache").root == batch.root


def test_other_bytes_fail_data_hash_before_anything_is_parsed(tmp_path: Path) -> None:
    batch = make()
    written = write_batch_file(tmp_path / "b.json", batch)
    expected = committed(batch, data_hash=written.data_hash)
    # The same document, re-serialised (indented): the same content, other bytes.
    same = tmp_path / "same.json"
    same.write_text(json.dumps(json.loads(written.path.read_bytes()), indent=1))
    with pytest.raises(DataHashMismatch, match="its bytes hash to") as caught:
        load(same.as_uri(), expected)
    assert caught.value.check == "dataHash"
    assert "0x" + written.data_hash.hex() in str(caught.value)
    # Checked first: garbage, or a file failing every later check, fails dataHash.
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\xff not json")
    with pytest.raises(DataHashMismatch):
        load(garbage.as_uri(), expected)
    other = make([leaf(i, model=bytes(32)) for i in range(3)])
    with pytest.raises(DataHashMismatch):
        load(publish(tmp_path, other), expected)


def test_a_payee_outside_the_roster_fails_roster(tmp_path: Path) -> None:
    leaves = [leaf(i) for i in range(5)]
    leaves[3] = leaf(3, shares=(Share(A, 6_000), Share(OUTSIDER, 4_000)))
    batch = make(leaves)
    uri = publish(tmp_path, batch)
    with pytest.raises(NotInRoster, match=f"leaf 3 pays {OUTSIDER}") as caught:
        load(uri, committed(batch))
    assert caught.value.check == "roster"
    assert (caught.value.account, caught.value.index) == (OUTSIDER, 3)
    # Every other check passes: without a roster (the worker's own re-read) it loads.
    assert load(uri, committed(batch), roster=None).leaves == batch.leaves
    assert load(uri, committed(batch), roster=(*ROSTER, OUTSIDER)).count == 5
    lower = tuple(a.lower() for a in (*ROSTER, OUTSIDER))  # any spelling of the addresses
    assert load(uri, committed(batch), roster=lower).count == 5


def test_another_batchs_root_fails_root(tmp_path: Path) -> None:
    batch = make()
    other = make([leaf(i) for i in range(5, 10)])
    uri = publish(tmp_path, other)
    with pytest.raises(RootMismatch, match="its leaves give root") as caught:
        load(uri, committed(batch, count=5))
    assert caught.value.check == "root" and batch.tree.root in str(caught.value)


def test_a_tampered_record_fails_root(tmp_path: Path) -> None:
    batch = make()

    def later(doc: dict) -> None:  # the leaf list only: the dump still has the original
        doc["leaves"][2]["inference"]["timestamp"] += 1

    with pytest.raises(RootMismatch, match="its leaves give root"):
        load(publish(tmp_path, batch, later), committed(batch))

    def header(doc: dict) -> None:
        doc["root"] = "0x" + "11" * 32
        doc["batchId"] = "0x" + batch_id(b"\x11" * 32, MODEL, WORKER).hex()

    with pytest.raises(RootMismatch, match="its header says root 0x1111"):
        load(publish(tmp_path, batch, header), committed(batch))


def test_a_count_other_than_committed_fails_count(tmp_path: Path) -> None:
    batch = make()
    uri = publish(tmp_path, batch)
    with pytest.raises(CountMismatch, match="it has 5 leaves, the chain committed 6"):
        load(uri, committed(batch, count=6))

    def header(doc: dict) -> None:
        doc["count"] = 4

    with pytest.raises(CountMismatch, match="its header says 4 leaves"):
        load(publish(tmp_path, batch, header), committed(batch))


def test_a_leaf_of_another_model_fails_model(tmp_path: Path) -> None:
    leaves = [leaf(i) for i in range(5)]
    leaves[2] = leaf(2, model=keccak(text="another model"))
    batch = make(leaves)
    with pytest.raises(ForeignModel, match="leaf 2 is a record of model") as caught:
        load(publish(tmp_path, batch), committed(batch))
    assert caught.value.check == "model"
    with pytest.raises(ForeignModel, match="its header names model"):  # a file for another
        load(publish(tmp_path, make()), committed(make(), model_id=bytes(32)))


def test_a_leaf_of_another_worker_fails_worker(tmp_path: Path) -> None:
    leaves = [leaf(i) for i in range(5)]
    leaves[4] = leaf(4, worker=OTHER)
    batch = make(leaves)
    with pytest.raises(ForeignWorker, match=f"leaf 4 was made by {OTHER}") as caught:
        load(publish(tmp_path, batch), committed(batch))
    assert caught.value.check == "worker"


def test_a_tampered_attribution_list_fails_attribution(tmp_path: Path) -> None:
    batch = make()

    def shift(doc: dict) -> None:  # one bps from A to B: still a valid list, another hash
        doc["leaves"][1]["shares"][0][1] -= 1
        doc["leaves"][1]["shares"][1][1] += 1

    with pytest.raises(AttributionMismatch, match="leaf 1's attribution list hashes to"
                       ) as caught:
        load(publish(tmp_path, batch, shift), committed(batch))
    assert caught.value.check == "attribution"
    # A list the worker hashed honestly but that pays out more than the pool is refused too:
    # settlement would promise contributors more than the deposit.
    double = (Share(A, 10_000), Share(B, 10_000))
    greedy = make([leaf(0, shares=double), leaf(1)])
    with pytest.raises(AttributionMismatch, match="leaf 0's attribution list is invalid"):
        load(publish(tmp_path, greedy), committed(greedy))


def test_the_first_failing_check_is_the_one_raised(tmp_path: Path) -> None:
    leaves = [leaf(i) for i in range(5)]
    leaves[0] = leaf(0, model=bytes(32), worker=OTHER)
    batch = make(leaves)
    uri = publish(tmp_path, batch)
    with pytest.raises(CountMismatch):  # count comes before model and worker
        load(uri, committed(batch, count=9))
    with pytest.raises(ForeignModel):  # model comes before worker
        load(uri, committed(batch))


@pytest.mark.parametrize(("edit", "message"), [
    (lambda doc: doc.update(format="attestia-batch-v0"), "not an Attestia batch file"),
    (lambda doc: doc.pop("tree"), "KeyError"),
    (lambda doc: doc["leaves"][0].pop("fee"), "KeyError"),
    (lambda doc: doc["leaves"][0]["inference"].update(modelId="0x12"), "expected 32 bytes"),
    (lambda doc: doc["leaves"][0].update(fee=1.5), "expected an integer"),
    (lambda doc: doc["leaves"][0].update(fee=-1), "non-negative"),
    (lambda doc: doc.update(deposit=-1), "non-negative"),
    (lambda doc: doc.update(leaves=[]), "has no leaves"),
    (lambda doc: doc.update(batchId="0x" + "00" * 32), "batchId"),
    (lambda doc: doc["tree"]["values"].reverse(), "does not list its leaves in order"),
])
def test_a_malformed_file_is_refused(tmp_path: Path, edit, message: str) -> None:
    batch = make()
    with pytest.raises(MalformedBatchFile, match=message):
        load(publish(tmp_path, batch, edit), committed(batch))


def test_a_file_that_is_not_json_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    path.write_bytes(b"\xff not json")
    with pytest.raises(MalformedBatchFile, match="is not JSON"):
        load(path.as_uri(), committed(make()))
