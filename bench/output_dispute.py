"""Gas of a fully played output dispute (issue 18), on a private Anvil. Prints ONE JSON object
on stdout; progress goes to stderr.

    .venv/bin/python bench/output_dispute.py [--networks 30-16-2,256-256-256-2]

For each network shape (a random integer network inside the packaging bounds, registered with
its ModelSpec; the demo MLP is 30-16-2), from real receipts of a game against a lying worker:

* ``commit_finding``: the challenger's commitment, mined a block before its challenge (and
  again, the prover's, before its proof);
* ``challenge``: challengeOutput of a single record (bond, input and output revealed and
  checked, both specs hashed, the input quantised and the logits decoded on chain, two layer
  hashes stored);
* ``respond``: the worker's hidden layers as calldata (one hash stored per hidden layer, the
  values emitted);
* ``prove_first_layer`` / ``prove_last_layer``: the one-neuron check of a lie in the first
  dense layer (fan-in = the input width) and in the logits (fan-in = the last hidden width):
  both layers' values as calldata, hashed, the row proven against the weights root, the
  neuron recomputed, the slash;
* ``total_gas``: challenger commit + challenge + respond + prover commit + the dearer proof,
  over both sides. Goal (issue 18): <= 1,000,000 for the demo MLP.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.private_chain import deployed, stop_on_sigterm  # noqa: E402
from offchain.dispute import output as out  # noqa: E402
from tests.contracts.helpers import OUTSIDER, REQUESTER, WORKER, Harness  # noqa: E402
from tests.dispute import output_helpers as lies  # noqa: E402
from tests.dispute.output_helpers import OutGame  # noqa: E402

console = Console(stderr=True)


def play(g: OutGame, lie: Any) -> dict[str, int]:
    """One game against ``lie``: every move's gas."""
    attestia = g.h.attestia
    case = g.case(lie)
    slasher = attestia.slasher
    call = slasher.challenge_output(case.record, case.input_bytes, case.salt, case.output_bytes,
                                    g.attribution_spec, g.spec, slasher.dispute_bond())
    moves = {"commit_finding": int(attestia.sender(REQUESTER).commit_for(call)["gasUsed"])}
    moves["challenge"] = int(attestia.send(call, account=REQUESTER, committed=True)["gasUsed"])
    moves["respond"] = int(out.respond_output(attestia, g.net, case.dispute_id, account=WORKER,
                                              hidden=case.hidden)["gasUsed"])
    proof = out.find_wrong_neuron(attestia, g.net, case.dispute_id)
    assert proof is not None
    moves["prover_commit"] = int(attestia.sender(OUTSIDER).commit_for(proof.call)["gasUsed"])
    moves["prove"] = int(attestia.send(proof.call, account=OUTSIDER, committed=True)["gasUsed"])
    moves["layer"] = proof.layer
    return moves


def _rewind(h: Harness, snapshot: Any) -> Any:
    """Back to ``snapshot`` (the worker's stake restored); a new snapshot of that state."""
    chain = h.attestia.chain
    chain.w3.provider.make_request("evm_revert", [snapshot])
    for sender in chain._senders.values():
        sender.resync()
    return chain.w3.provider.make_request("evm_snapshot", [])["result"]


def measure(h: Harness, widths: tuple[int, ...]) -> dict[str, Any]:
    shape = "-".join(str(w) for w in widths)
    result: dict[str, Any] = {"network": shape, "dense_layers": len(widths) - 1}
    seed = len(widths) * 1000 + widths[1]
    snapshot = h.attestia.chain.w3.provider.make_request("evm_snapshot", [])["result"]
    with console.status(f"{shape}: a game with a lie in the first layer"):
        first = play(OutGame(h, widths=widths, seed=seed), lies.lie_hidden)
    _rewind(h, snapshot)  # the same model and worker again, its stake back
    with console.status(f"{shape}: a game with a lie in the logits"):
        last = play(OutGame(h, widths=widths, seed=seed), lies.lie_weight)
    assert first["layer"] == 1 and last["layer"] == len(widths) - 1
    result.update(commit_finding=first["commit_finding"], challenge=first["challenge"],
                  respond=first["respond"], prove_first_layer=first["prove"],
                  prove_last_layer=last["prove"])
    dearer = max(first["prove"], last["prove"])
    result["total_gas"] = (first["commit_finding"] + first["challenge"] + first["respond"]
                           + first["prover_commit"] + dearer)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="30-16-2,256-256-256-2",
                        help="comma-separated layer widths, input first")
    args = parser.parse_args()
    shapes = [tuple(int(w) for w in s.split("-")) for s in args.networks.split(",")]
    stop_on_sigterm()
    results = []
    with deployed(console, "attestia-output-dispute-") as (_home, attestia):
        h = Harness(attestia)
        base = attestia.chain.w3.provider.make_request("evm_snapshot", [])["result"]
        for widths in shapes:
            results.append(measure(h, widths))
            base = _rewind(h, base)
    demo = next((r for r in results if r["network"] == "30-16-2"), None)
    summary: dict[str, Any] = {"networks": results}
    if demo is not None:
        summary["demo_goal_gas"] = 1_000_000
        summary["demo_goal_met"] = demo["total_gas"] <= 1_000_000
    summary["load_average"] = [round(v, 2) for v in os.getloadavg()]
    summary["machine"] = "shared (other jobs running)"
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
