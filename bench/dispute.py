"""Gas of an attribution dispute and the worker's off-chain cost, on a private Anvil. Prints
ONE JSON object on stdout; progress goes to stderr.

    .venv/bin/python bench/dispute.py [--sizes 489:5,100000:5,100000:1024] [--d 30]

For each roster size N (with C contributors, d = 30 features, K = 5: the demo's shape at
N = 489, C = 5), from real receipts:

* ``challenge``: challenge of a single record (bond, input and output revealed and checked,
  the spec hashed, the query quantised on chain);
* ``respond``: the worker's response (roster and shares checked, the bps derived from C
  totals, the zero and final sums roots built over C leaves);
* ``prove_<kind>``: one fraud proof of each kind against a lying trace (item, order, value,
  sum, end, duplicate): log2(N)-deep step proofs, plus an item or sums proof;
* ``challenge_leaf`` (once, at the first size): challengeLeaf of a leaf of a committed
  1,000-leaf batch (the same checks as ``challenge``, plus the batch slot read and a
  10-node inclusion proof in place of the registry's record check), beside ``challenge`` of
  a single record of the same shape; the rest of a leaf's game is a record's;
* ``commit_finding``: the commitment every challenge and proof reveals, mined a block before
  it (design.md "Rewards bound to their finder"); the figures above are the reveals alone;
* ``trace_build_s``: building the honest trace (N steps, running sums over C slots, the trace
  root) off chain, one core; ``trace_file_mb``: its published JSON.

The lying traces are the test suite's (tests/dispute/helpers.py): each breaks exactly one
kind of one-step check.

``descent`` (issue 17, attack 1; ``--descent N:C``, default 100000:5): a fully played dispute
against a liar that WITHHOLDS its trace and lies at one position (a value two thirds of the
way in): the challenge (and its commitment), the response, the challenger's descent (bond),
every reveal of the responder side and pick of the challenger, the revealed step and the
one-step proof (and its commitment), each with its gas; ``rounds`` counts the responder side's
moves paired with the challenger's (challenge + respond is round 1), ``total_gas`` sums both
sides. Goal: total_gas <= 2,000,000 and rounds <= ceil(log2 N) + 3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.private_chain import deployed  # noqa: E402
from offchain.dispute import game  # noqa: E402
from tests.contracts.helpers import OUTSIDER, REQUESTER, WORKER, Harness  # noqa: E402
from tests.dispute import helpers  # noqa: E402
from tests.dispute.helpers import Game  # noqa: E402

console = Console(stderr=True)

LIES = {
    "item": helpers.lie_distance,
    "order": helpers.lie_order,
    "value": helpers.lie_value,
    "sum": helpers.lie_sum,
    "duplicate": helpers.lie_duplicate,
}


def measure(h: Harness, publish: Path, n: int, c: int, d: int) -> dict[str, Any]:
    attestia = h.attestia
    with console.status(f"N = {n:,}: roster items, spec and model"):
        started = time.perf_counter()
        g = Game(h, n=n, d=d, c=c, k=5, seed=n)
        prepare_s = time.perf_counter() - started
    out: dict[str, Any] = {"n": n, "contributors": c, "features": d, "k": 5,
                           "prepare_model_s": round(prepare_s, 2)}

    with console.status(f"N = {n:,}: an honest record, challenged and answered"):
        case = g.case()
        started = time.perf_counter()
        trace = g.model.trace(case.query, case.label)
        out["trace_build_s"] = round(time.perf_counter() - started, 3)
        out["trace_file_mb"] = round(len(trace.dumps()) / 1e6, 2)
        call = attestia.slasher.challenge(case.record, case.input_bytes, case.salt,
                                          case.output_bytes, g.model.spec,
                                          attestia.slasher.dispute_bond())
        out["commit_finding"] = int(attestia.sender(REQUESTER).commit_for(call)["gasUsed"])
        receipt = attestia.send(call, account=REQUESTER, committed=True)
        out["challenge"] = int(receipt["gasUsed"])
        receipt = game.respond(attestia, g.model, case.request_id, publish, account=WORKER,
                               trace=trace)
        out["respond"] = int(receipt["gasUsed"])
    console.log(f"N = {n:,}: challenge {out['challenge']:,} gas, respond {out['respond']:,} "
                f"gas, trace built in {out['trace_build_s']} s")

    def lying(forge: Any) -> tuple[Any, Any]:
        made: dict[str, Any] = {}

        def shares(honest: Any) -> Any:
            made["trace"] = forge(honest)
            return g.shares_of(made["trace"])

        lie_case = g.case(shares=shares)
        game.open_challenge(attestia, lie_case.record, lie_case.input_bytes, lie_case.salt,
                            lie_case.output_bytes, g.model.spec, account=REQUESTER)
        game.respond(attestia, g.model, lie_case.request_id, publish, account=WORKER,
                     trace=made["trace"])
        return lie_case, made["trace"]

    lies = {**LIES, "end": lambda t: helpers.lie_totals(t, [t.totals[0] + 1, *t.totals[1:]])}
    for kind, forge in lies.items():
        with console.status(f"N = {n:,}: a {kind} lie, proven"):
            # Each proof slashes the worker: measure it inside a snapshot, then revert.
            snapshot = h.w3.provider.make_request("evm_snapshot", [])["result"]
            lie_case, _ = lying(forge)
            proof, receipt = game.prove(attestia, g.model, lie_case.request_id,
                                        account=OUTSIDER)
            assert proof is not None and proof.fraud.kind.name.lower() == kind, proof
            out[f"prove_{kind}"] = int(receipt["gasUsed"])
            h.w3.provider.make_request("evm_revert", [snapshot])
            for sender in attestia.chain._senders.values():  # nonces used inside are unused
                sender.resync()
    console.log(f"N = {n:,}: proofs " + ", ".join(f"{k} {out['prove_' + k]:,}" for k in lies))
    return out


BATCH_LEAVES = 1_000


def measure_leaf(h: Harness, n: int, c: int, d: int) -> dict[str, Any]:
    """challengeLeaf of one real leaf (its input and output committed as a worker commits
    them) among 999 others in a committed batch, and challenge of a single record of the same
    model, both from real receipts."""
    import numpy as np

    from offchain.attribution.integer import label_of_output, quantize, shares_from_int_totals
    from offchain.merkle import StandardMerkleTree
    from offchain.models.encoding import commit, encode_tensor, new_salt
    from offchain.protocol import INFERENCE_ABI_TYPES, PROOF_SIGNED, ZERO32, Inference
    from offchain.protocol import attribution_hash as hash_of
    from offchain.sealing import output_salt

    attestia = h.attestia
    g = Game(h, n=n, d=d, c=c, k=5, seed=n + 1)
    x = g.rng.normal(size=(1, d)).astype(np.float32)
    logits = g.rng.normal(size=(1, 2)).astype(np.float32)
    salt = new_salt()
    input_bytes, output_bytes = encode_tensor(x), encode_tensor(logits)
    honest = g.model.trace(tuple(int(v) for v in quantize(x, g.mu, g.rho)[0]),
                           label_of_output(logits[0]))
    shares = hash_of(shares_from_int_totals(honest.totals, g.roster))
    leaves = [Inference(h.unique("leaf"), g.model_id, commit(salt, input_bytes),
                        commit(output_salt(salt), output_bytes), shares, PROOF_SIGNED, ZERO32,
                        WORKER.address, h.now(), ZERO32)]
    leaves += [Inference(h.unique("leaf"), g.model_id, h.unique("in"), h.unique("out"), shares,
                         PROOF_SIGNED, ZERO32, WORKER.address, h.now(), ZERO32)
               for _ in range(BATCH_LEAVES - 1)]
    tree = StandardMerkleTree.of([leaf.as_tuple() for leaf in leaves], list(INFERENCE_ABI_TYPES))
    root = bytes.fromhex(tree.root[2:])
    batch = h.commit_batch(g.model_id, root, BATCH_LEAVES)
    proof = [bytes.fromhex(p[2:]) for p in tree.get_proof(0)]
    bond = attestia.slasher.dispute_bond()
    call = attestia.slasher.challenge_leaf(batch, leaves[0], proof, input_bytes, salt,
                                           output_bytes, g.model.spec, bond)
    attestia.sender(REQUESTER).commit_for(call)
    leaf_gas = int(attestia.send(call, account=REQUESTER, committed=True)["gasUsed"])
    case = g.case()
    call = attestia.slasher.challenge(case.record, case.input_bytes, case.salt,
                                      case.output_bytes, g.model.spec, bond)
    attestia.sender(REQUESTER).commit_for(call)
    single_gas = int(attestia.send(call, account=REQUESTER, committed=True)["gasUsed"])
    console.log(f"N = {n:,}: challengeLeaf {leaf_gas:,} gas (1,000-leaf batch), challenge "
                f"{single_gas:,} gas")
    return {"n": n, "contributors": c, "features": d, "batch_leaves": BATCH_LEAVES,
            "proof_nodes": len(proof), "challenge_leaf": leaf_gas, "challenge": single_gas}


def measure_descent(h: Harness, n: int, c: int, d: int) -> dict[str, Any]:
    attestia = h.attestia
    slasher = attestia.slasher
    with console.status(f"descent, N = {n:,}: roster items, spec and model"):
        g = Game(h, n=n, d=d, c=c, k=5, seed=n + 1)
    position = 2 * n // 3
    made: dict[str, Any] = {}

    def shares(honest: Any) -> Any:
        values = list(honest.values)
        values[position] += 12_345
        made["trace"] = helpers.rebuilt(honest, values=values)
        return g.shares_of(made["trace"])

    moves: list[dict[str, Any]] = []

    def note(side: str, receipts: list[Any], what: str | None = None) -> None:
        for receipt in receipts:
            label = what or attestia.chain.w3.eth.get_transaction(
                receipt["transactionHash"])["input"][:4].hex()
            moves.append({"side": side, "call": label, "gas": int(receipt["gasUsed"])})

    with console.status(f"descent, N = {n:,}: a lying record, challenged, trace withheld"):
        case = g.case(shares=shares)
        call = slasher.challenge(case.record, case.input_bytes, case.salt, case.output_bytes,
                                 g.model.spec, slasher.dispute_bond())
        note("challenger", [attestia.sender(REQUESTER).commit_for(call)], "commitFinding")
        note("challenger", [attestia.send(call, account=REQUESTER, committed=True)],
             "challenge")
        trace = made["trace"]
        note("responder", [attestia.send(slasher.respond(
            case.request_id, trace.root, "file:///withheld.json", trace.totals,
            list(trace.roster), case.shares), account=WORKER)], "respond")
    names = {"descended": "descend", "picked": "pick", "proved": "prove"}
    with console.status(f"descent, N = {n:,}: played"):
        while slasher.dispute(case.request_id).state.name == "RESPONDED":
            receipts: list[Any] = []
            did = game.play_descent(attestia, g.model, case.request_id, account=REQUESTER,
                                    receipts=receipts)
            if did == "proved":  # the proof's commitment, mined a block before it
                moves.append({"side": "challenger", "call": "commitFinding",
                              "gas": moves[0]["gas"]})
            note("challenger", receipts, names.get(did, did))
            receipts = []
            game.answer_reveals(attestia, case.request_id, trace, account=WORKER,
                                receipts=receipts)
            descent = slasher.descent(case.request_id, REQUESTER.address)
            note("responder", receipts, "revealStep" if descent.height == 0 and receipts
                 and descent.challengerTurn else "revealNodes")
    dispute = slasher.dispute(case.request_id)
    responder_moves = sum(1 for m in moves if m["side"] == "responder")
    import math

    out = {"n": n, "contributors": c, "features": d, "lie_position": position,
           "outcome": dispute.state.name.lower(), "kind": dispute.kind.name.lower(),
           "moves": moves, "rounds": responder_moves,
           "rounds_bound": math.ceil(math.log2(n)) + 3,
           "total_gas": sum(m["gas"] for m in moves),
           "challenger_gas": sum(m["gas"] for m in moves if m["side"] == "challenger"),
           "responder_gas": sum(m["gas"] for m in moves if m["side"] == "responder")}
    console.log(f"descent, N = {n:,}: {out['outcome']} ({out['kind']}), {out['rounds']} "
                f"rounds, {out['total_gas']:,} gas")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="489:5,100000:5,100000:1024",
                        help="N:C pairs (roster items : contributors)")
    parser.add_argument("--d", type=int, default=30)
    parser.add_argument("--descent", default="100000:5",
                        help="N:C of the fully played descent (empty: skip)")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in pair.split(":")) for pair in args.sizes.split(",") if pair]
    started = time.monotonic()
    result: dict[str, Any] = {"sizes": []}
    with deployed(console, "attestia-dispute-") as (home, attestia):
        h = Harness(attestia)
        result["challenge_leaf"] = measure_leaf(h, *sizes[0], args.d)
        for n, c in sizes:
            result["sizes"].append(measure(h, home / "traces", n, c, args.d))
        if args.descent:
            n, c = (int(v) for v in args.descent.split(":"))
            result["descent"] = measure_descent(h, n, c, args.d)
    result["seconds"] = round(time.monotonic() - started, 1)
    result["load_average"] = [round(v, 2) for v in os.getloadavg()]
    result["cpus"] = os.cpu_count()
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
