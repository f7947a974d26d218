"""Poison does not stop the indexer (issue 17, attack 9): a worker rejects a request with a
reason that is not UTF-8 (the contract takes any bytes as a string), then records another
request. The indexer says one line about the event it cannot decode, keeps it raw, and indexes
the record after it; a client reading rejections (``reg.rejected``, which web3 decodes a page
at a time) skips that one event with one line and still sees the others of its page."""

from __future__ import annotations

import logging

from eth_utils.abi import get_abi_input_types
from hexbytes import HexBytes
from sqlalchemy import select

from offchain.chain.accounts import dev_account
from offchain.chain.tx import Call
from offchain.indexer import Indexer, IndexerConfig, open_engine
from offchain.indexer import schema as S
from tests.worker.helpers import make_worker, send_demo_requests

POISON = b"\xff\xfe not utf-8"


def test_an_undecodable_event_is_one_line_and_the_record_after_it_is_indexed(
        attestia, served_model, demo_package, demo_package_dir, tmp_path, caplog) -> None:
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    poisoned, honest = send_demo_requests(attestia, demo_package, tmp_path, 2,
                                          worker=node.signer.address)
    (requested,) = attestia.registry.requested(request_id=poisoned.request_id)
    fn = attestia.registry.contract.functions.rejectRequest(requested.request.as_tuple(), "")
    types = ["bytes" if t == "string" else t for t in get_abi_input_types(fn.abi)]
    data = bytes(HexBytes(fn.selector)) + attestia.chain.w3.codec.encode(
        types, [requested.request.as_tuple(), POISON])
    attestia.send(Call(to=attestia.registry.address, data=data, label="rejectRequest"),
                  account=dev_account(1))
    (other,) = send_demo_requests(attestia, demo_package, tmp_path, 1, offset=7,
                                  worker=node.signer.address)
    (asked,) = attestia.registry.requested(request_id=other.request_id)
    attestia.send(attestia.registry.reject_request(asked.request, "a readable reason"),
                  account=dev_account(1))
    node.run(until_idle=True)  # records the second request (the first and third are closed)
    assert len(attestia.registry.recorded(request_id=honest.request_id)) == 1

    with caplog.at_level(logging.WARNING, logger="attestia.chain"):
        seen = attestia.registry.rejected(poisoned.block)
    assert [(r.request_id, r.reason) for r in seen] == [(other.request_id,
                                                         "a readable reason")]
    assert [r.getMessage()[:31] for r in caplog.records] == ["cannot decode RequestRejected a"]
    assert attestia.registry.rejected(poisoned.block, request_id=poisoned.request_id) == []
    caplog.clear()

    engine = open_engine(f"sqlite:///{tmp_path / 'index.sqlite'}")
    with caplog.at_level(logging.WARNING, logger="attestia"):
        Indexer(attestia, engine, IndexerConfig(fetch_batches=False)).run(once=True)
    lines = [r.getMessage() for r in caplog.records if "cannot decode" in r.getMessage()]
    assert len(lines) == 1 and "RequestRejected" in lines[0], lines
    with engine.connect() as conn:
        recorded = {r for (r,) in conn.execute(select(S.records.c.request_id))}
        kept = conn.execute(select(S.events.c.args).where(
            S.events.c.name == "RequestRejected")).all()
    assert "0x" + honest.request_id.hex() in recorded
    assert any("undecodable" in args for (args,) in kept), kept
