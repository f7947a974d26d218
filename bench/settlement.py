"""Benchmark settlement's pure core at scale: contributor pools -> cumulative amounts -> the
reward tree a settler proposes and every claimant proves against. Prints ONE JSON object on
stdout; progress goes to stderr.

    .venv/bin/python bench/settlement.py [--contributors 10000 100000 1000000] [--repeats 1]

Data: for N contributors, ceil(N / 1,024) records of 1,024 shares each (the registry's
MAX_CONTRIBUTORS), every contributor in exactly one record, basis points summing to 10,000
per record, one epoch; addresses random, given lowercase as records carry them.

Per N, wall and CPU seconds of:
* ``cumulative_s``: ``cumulative_rewards`` (each account checksummed once, amounts summed);
* ``build_s``: ``build_tree`` (the OpenZeppelin StandardMerkleTree over (address, uint256)
  leaves: encoding, double keccak per leaf, sort, inner nodes): the figure issue 20 bounds at
  10 s for 1,000,000 contributors on a quiet machine;
* ``dump_s``: the tree's JSON dump written to a file (what ``rewards settle`` publishes), with
  its size;
* ``proof_s``: ``proof_for`` one contributor (what ``rewards claim`` does), with the proof's
  length in hashes, checked with ``verify_proof`` against the root.
The load average is part of the output: on a 2-core machine other processes move the figures
a lot; compare figures only within one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offchain.merkle import verify_proof  # noqa: E402
from offchain.protocol import BPS, CLAIM_LEAF_TYPES, MAX_CONTRIBUTORS  # noqa: E402
from offchain.rewards.settlement import (  # noqa: E402
    PoolShare,
    build_tree,
    cumulative_rewards,
    proof_for,
)

GOAL_1M_BUILD_S = 10.0


def _records(n: int, rng: random.Random) -> list[PoolShare]:
    accounts = ["0x" + rng.randbytes(20).hex() for _ in range(n)]
    records = []
    for start in range(0, n, MAX_CONTRIBUTORS):
        group = accounts[start:start + MAX_CONTRIBUTORS]
        weights = [rng.randint(1000, 2000) for _ in group]  # every share >= 1 bps
        total = sum(weights)
        bps = [w * BPS // total for w in weights]
        bps[0] += BPS - sum(bps)
        records.append(PoolShare(epoch=1, pool=10**18, shares=tuple(zip(group, bps,
                                                                          strict=True))))
    return records


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def measure(n: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    records = _records(n, rng)
    cumulative, cum_s, cum_cpu = _timed(lambda: cumulative_rewards(records, 1))
    tree, build_s, build_cpu = _timed(lambda: build_tree(cumulative))
    with tempfile.TemporaryDirectory(prefix="attestia-bench-settle-") as tmp:
        path = Path(tmp) / "tree.json"
        _, dump_s, _ = _timed(lambda: path.write_text(json.dumps(tree.dump())))
        dump_bytes = path.stat().st_size
    account = rng.choice(list(cumulative))
    (amount, proof), proof_s, _ = _timed(lambda: proof_for(tree, account.lower()))
    assert amount == cumulative[account]
    assert verify_proof(tree.root, CLAIM_LEAF_TYPES, [account, amount], proof)
    return {"contributors": len(cumulative), "records": len(records),
            "cumulativeS": round(cum_s, 3), "cumulativeCpuS": round(cum_cpu, 3),
            "buildS": round(build_s, 3), "buildCpuS": round(build_cpu, 3),
            "dumpS": round(dump_s, 3), "dumpBytes": dump_bytes,
            "proofS": round(proof_s, 3), "proofHashes": len(proof),
            "expectedProofHashes": math.ceil(math.log2(len(cumulative)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contributors", type=int, nargs="+",
                        default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    results = []
    for n in args.contributors:
        print(f"settling {n:,} contributors", file=sys.stderr)
        result = measure(n, args.seed)
        results.append(result)
        print(f"  build {result['buildS']:.2f} s (cpu {result['buildCpuS']:.2f} s), "
              f"cumulative {result['cumulativeS']:.2f} s, proof {result['proofHashes']} "
              f"hashes", file=sys.stderr)
    million = next((r for r in results if r["contributors"] == 1_000_000), None)
    print(json.dumps({
        "cpus": os.cpu_count(), "loadAverageAtStart": load_at_start,
        "loadAverageAtEnd": [round(x, 2) for x in os.getloadavg()],
        "goalBuildS1M": GOAL_1M_BUILD_S,
        "buildS1M": million["buildS"] if million else None,
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
