"""Property: on random rosters and queries, every one-step check the contract can run on an
honest trace (suffix sums; skip tried with every roster item at every gap) says "not fraud".
Python's integer attribution (the trace) and Solidity's step
checks (IntegerAttribution, IndexedMerkle, the dispute game) agree on every step."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.dispute import game
from offchain.protocol import ZERO32, DataItem
from tests.contracts.helpers import OUTSIDER, REQUESTER, WORKER, Harness
from tests.dispute.helpers import Game

NOT_FRAUD = "0x" + keccak(text="NotFraud()")[:4].hex()


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(n=st.integers(1, 9), d=st.integers(1, 4), c=st.integers(1, 4), k=st.integers(1, 6),
       seed=st.integers(0, 2**32 - 1))
@pytest.mark.slow
def test_every_step_of_an_honest_trace_checks(attestia, tmp_path, n: int, d: int, c: int,
                                              k: int, seed: int) -> None:
    g = Game(Harness(attestia), n=n, d=d, c=min(c, n), k=k, seed=seed)
    case = g.case()
    game.open_challenge(attestia, case.record, case.input_bytes, case.salt, case.output_bytes,
                        g.model.spec, account=REQUESTER)
    game.respond(attestia, g.model, case.request_id, tmp_path, account=WORKER)
    fn = attestia.slasher.contract.functions
    rid = case.request_id
    trace = case.honest
    opened = [trace.opening(p).as_tuple() for p in range(trace.n)]
    none = opened[0]

    def not_fraud(call) -> None:
        with pytest.raises(Exception, match=NOT_FRAUD):
            call.call({"from": OUTSIDER.address})

    for p in range(trace.n):
        item = trace.items[p]
        data_item: DataItem = g.model.items.item(item)
        not_fraud(fn.proveItem(rid, opened[p], data_item.as_tuple(),
                               g.model.items.proof(item), list(case.query), ZERO32))
        following = opened[p + 1] if p + 1 < trace.n else none
        not_fraud(fn.proveValue(rid, opened[p], following, ZERO32))
        account, total, proof = trace.sums_before(p)
        not_fraud(fn.proveSum(rid, opened[p], following, account, total, proof, ZERO32))
        if p + 1 < trace.n:
            not_fraud(fn.proveOrder(rid, opened[p], opened[p + 1], ZERO32))
            not_fraud(fn.proveDuplicate(rid, opened[p], opened[p + 1], ZERO32))
        # No roster item lies between adjacent honest steps, nor after the last: each item
        # tried at every gap (skip), including the steps' own items.
        for other in range(trace.n):
            candidate = g.model.items.item(other)
            not_fraud(fn.proveSkip(rid, opened[p], following, candidate.as_tuple(),
                                   g.model.items.proof(other), list(case.query), ZERO32))
    not_fraud(fn.proveEnd(rid, opened[0], ZERO32))
