"""`verify` against the issue-9 ABI, on records built by hand on the suite's Anvil: the
attribution line FAILs on a payee outside the registered roster (class 1, batch leaves),
batch lines check the committed dataHash (also inside a relayed commit's signature), the
record line checks the sealed result against resultHash, the model line checks
modelIdOf(owner, contentHash)."""

from __future__ import annotations

import json
from dataclasses import replace

from offchain.chain.accounts import dev_account
from offchain.chain.eip712 import sign_digest
from offchain.protocol import Batch, batch_digest, data_uri_hash, sorted_roster
from offchain.verify import ChainOracle, RecordRef, Status, VerifyOptions, gather, recompute
from offchain.verify import run_checks as _run
from tests.rewards.helpers import OUTSIDER, ROSTER, WORKER, Market, shares_of

RELAYER = dev_account(5)


def checks(attestia, evidence):
    return _run(evidence, ChainOracle(attestia), recompute(evidence, VerifyOptions()), None)


def line(report, name: str):
    return report.check(name)


def test_a_batch_leaf_paying_outside_the_roster_fails_the_attribution_line(
    attestia, tmp_path
) -> None:
    """(e) The leaf is in the committed tree, its list is valid and hashes to its record: only
    the roster says it is theft, and the attribution line says so."""
    market = Market.open(attestia)
    lists = [shares_of(ROSTER[:2])] * 4
    lists[2] = shares_of([ROSTER[1], OUTSIDER])
    batch = market.batch(4, shares=lists)
    written = market.publish(batch, tmp_path)
    event = market.commit(batch, written.path.as_uri(), written.data_hash)
    ref = f"batch:0x{event.batch_id.hex()}"

    bad = checks(attestia, gather(attestia, RecordRef.parse(f"{ref}:2")))

    result = line(bad, "attribution")
    assert not bad.ok and result.status is Status.FAIL
    assert OUTSIDER in result.reason and "not in the model's registered contributor roster" \
        in result.reason
    for name in ("record", "model", "worker", "signature", "inclusion"):
        assert line(bad, name).status is Status.PASS, line(bad, name)
    assert "committed dataHash" in line(bad, "record").reason
    good = checks(attestia, gather(attestia, RecordRef.parse(f"{ref}:0")))
    assert good.ok and line(good, "attribution").status is Status.PASS
    assert "registered roster (5 contributors)" in line(good, "attribution").reason
    # The roster read from ModelRegistered must be the one whose hash the model stores.
    ev = gather(attestia, RecordRef.parse(f"{ref}:0"))
    forged = replace(ev, roster=tuple(sorted_roster([*ev.roster, OUTSIDER])))
    assert "contributorsHash" in line(checks(attestia, forged), "attribution").reason


def test_batch_lines_check_the_data_hash(attestia, tmp_path) -> None:
    market = Market.open(attestia)
    batch = market.batch(3)
    written = market.publish(batch, tmp_path)
    uri = written.path.as_uri()
    reg = attestia.registry
    epoch = reg.current_epoch()
    signed = Batch(batch.root, batch.count, batch.model_id, epoch, data_uri_hash(uri),
                   written.data_hash, WORKER.address, batch.deposit)
    signature = sign_digest(WORKER, batch_digest(signed, attestia.chain.chain_id, reg.address))
    attestia.send(reg.commit_batch_by_sig(batch.root, batch.count, batch.model_id, epoch, uri,
                                          written.data_hash, WORKER.address, signature,
                                          batch.deposit), account=RELAYER)
    ref = RecordRef.parse(f"batch:0x{batch.batch_id.hex()}:1")
    ev = gather(attestia, ref)
    report = checks(attestia, ev)
    assert report.ok, [c for c in report.checks if c.status is Status.FAIL]
    assert "EIP-712 Batch signature" in line(report, "signature").reason
    # The worker signed the dataHash: another hash in the evidence breaks its signature.
    other = replace(ev, batch=replace(ev.batch, data_hash=b"\x01" * 32))
    assert "recovers to" in line(checks(attestia, other), "signature").reason
    # The published bytes change (the same document, re-serialised): not the committed file.
    original = written.path.read_bytes()
    written.path.write_text(json.dumps(json.loads(original), indent=1))
    tampered = gather(attestia, ref)
    written.path.write_bytes(original)
    assert not tampered.found and "its bytes hash to" in tampered.batch.file_error
    record = line(checks(attestia, tampered), "record")
    assert record.status is Status.FAIL and "not the committed batch" in record.reason


def test_the_record_line_checks_the_sealed_result_and_the_model_line_its_id(attestia) -> None:
    market = Market.open(attestia)
    recorded = market.single(shares_of(ROSTER[:3]))
    ev = gather(attestia, RecordRef(request_id=recorded.request_id))
    report = checks(attestia, ev)
    assert report.ok, [c for c in report.checks if c.status is Status.FAIL]
    assert "hashes to its resultHash" in line(report, "record").reason
    assert "modelIdOf(owner, contentHash)" in line(report, "model").reason
    swapped = replace(ev, sealed_result=b"another answer")
    result = line(checks(attestia, swapped), "record")
    assert result.status is Status.FAIL and "resultHash" in result.reason
    unread = replace(ev, sealed_result=None, sealed_result_error="undecodable")
    assert "cannot read the sealed result" in line(checks(attestia, unread), "record").reason
    squatted = replace(ev, model=replace(ev.model, owner=OUTSIDER))
    result = line(checks(attestia, squatted), "model")
    assert result.status is Status.FAIL and "is not modelIdOf" in result.reason
