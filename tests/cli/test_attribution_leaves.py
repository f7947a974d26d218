"""The CLI counts a contributor's records as the explorer does (issue 19): single records and
the leaves of batches whose published file passes, and ``attestia attribution`` reads a batch
leaf by ``batch:0x<batchId>:<index>``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from offchain.config import REPO_ROOT
from offchain.protocol import contributors_cut, share_of
from tests.cli.test_bad_input import run_in_process
from tests.worker.test_batching import (
    CLIENT,
    FEE,
    committed_batches,
    make_node,
    published,
    requests_for,
    rows,
)


def test_contributor_totals_count_batch_leaves_and_a_leaf_reads_back(
    attestia, served_model, demo_package, demo_package_dir, tmp_path: Path, chain, attestia_home
) -> None:
    from offchain.attribution.onchain import all_recorded
    from offchain.request.client import build_requests, send_requests, wait_for_outcomes
    from offchain.request.inbox import submit_offchain
    from offchain.worker.batching import run_batch_mode

    node = make_node(attestia, demo_package_dir, tmp_path / "w")
    built = build_requests(attestia, served_model.model_id, rows(1), requester=CLIENT.address,
                           worker=node.signer.address, package=demo_package)
    sent = send_requests(attestia, built, CLIENT, tmp_path / "client")
    submit_offchain(tmp_path / "w" / "inbox", requests_for(served_model, 2, offset=3))
    stats = run_batch_mode(node, tmp_path / "w", batch_size=2, max_latency=30, until_idle=True)
    assert stats.recorded == 3 and len(wait_for_outcomes(attestia, sent, timeout=5)) == 1
    [event] = committed_batches(attestia)
    leaves = published(attestia, event).leaves
    [single] = all_recorded(attestia)

    home = tmp_path / "home"
    (home / "deployments").mkdir(parents=True)
    (home / "build").symlink_to(REPO_ROOT / "build", target_is_directory=True)
    shutil.copy(attestia_home / "deployments" / f"{chain.chain_id}.json", home / "deployments")
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ATTESTIA_")}
    env |= {"ATTESTIA_HOME": str(home), "ATTESTIA_RPC_URL": chain.url}

    contributor = demo_package.manifest.contributors[0].address
    done = run_in_process(["attribution", "--contributor", contributor, "--json"], env)
    assert done.code in (0, None), done.stderr
    totals = json.loads(done.stdout)
    pool = contributors_cut(FEE, 2_000, 2_000)  # each leaf's pool: the deposit per leaf
    bps = [dict(single.shares).get(contributor, 0)] + \
        [dict(leaf.shares).get(contributor, 0) for leaf in leaves]
    earned = share_of(single.contributor_cut, bps[0]) + sum(share_of(pool, b) for b in bps[1:])
    assert (totals["records"], totals["batchLeaves"]) == (3, 2)
    assert totals["recordsWithShare"] == sum(1 for b in bps if b)
    assert totals["totalFeeShareWei"] == str(earned) and totals["allHashesMatch"] is True
    assert totals["meanBps"] == sum(bps) / 3

    leaf_id = f"batch:0x{event.batch_id.hex()}:1"
    done = run_in_process(["attribution", leaf_id, "--json"], env)
    assert done.code in (0, None), done.stderr
    read = json.loads(done.stdout)
    assert read["requestId"] == "0x" + leaves[1].inference.requestId.hex()
    assert read["batch"] == leaf_id and read["contributorCutWei"] == str(pool)
    assert read["hashMatches"] is True
    assert [(r["contributor"], r["bps"]) for r in read["attribution"]] == \
        [tuple(s) for s in leaves[1].shares]
    text = run_in_process(["attribution", f"batch:0x{event.batch_id.hex()}:2"], env)
    assert text.code == 1 and "has 2 leaves" in text.stderr
