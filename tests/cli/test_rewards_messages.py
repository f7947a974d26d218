"""``rewards settle|claim|status|verify`` say what state rewards are in, with amounts in ETH,
ISO 8601 dates in the local time zone and what to do next (issue 10, "Rewards messages").

Nothing to settle and nothing to claim (no root yet, a root in its timelock, everything
claimed) exit 0 and send nothing; ``rewards verify`` of an epoch with no root exits 3 ("not
settled yet"), never FAIL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from offchain.config import REPO_ROOT
from tests.cli.test_readme_walk import run_in_process

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"
ALICE = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"  # the demo's biggest contributor


def test_rewards_messages_through_an_epoch(attestia, served_model, demo_package,
                                           demo_package_dir: Path, attestia_home: Path,
                                           anvil, tmp_path: Path) -> None:
    from offchain.rewards.chain import Clock
    from tests.worker.helpers import make_worker, send_demo_requests

    home = tmp_path / "home"
    home.mkdir()
    (home / "build").symlink_to(REPO_ROOT / "build", target_is_directory=True)
    (home / "deployments").mkdir()
    shutil.copy(attestia_home / "deployments" / "31337.json", home / "deployments")
    env = {"ATTESTIA_HOME": str(home), "ATTESTIA_RPC_URL": anvil.url, "COLUMNS": "200",
           "PATH": os.environ.get("PATH", "")}
    w3 = attestia.chain.w3

    def cli(*args: str) -> tuple[object, str]:
        return run_in_process(list(args), env, home)

    def advance(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])

    code, out = cli("rewards", "verify")
    assert code == 3 and out.startswith("no epoch settled yet (no root proposed)"), out
    code, out = cli("rewards", "claim", "--account", ALICE)
    assert code == 0, out
    assert re.fullmatch(rf"{ALICE}: nothing to claim now; nothing earned yet \(current epoch "
                        rf"\d+ ends {ISO}\)\n", out), out

    node = make_worker(attestia, demo_package_dir, tmp_path / "worker")
    send_demo_requests(attestia, demo_package, tmp_path / "client", 2,
                       worker=node.signer.address)
    assert node.run(until_idle=True, max_seconds=60).recorded == 2
    node.journal.close()
    epoch = Clock.of(attestia).epoch

    block = w3.eth.block_number
    code, out = cli("rewards", "settle")
    assert code == 0 and out.startswith("nothing to settle: "), out
    assert re.search(rf"; 0\.001200 ETH earned so far \(epoch {epoch} now\) can be settled "
                     rf"from {ISO}, once its records' challenge windows have closed and their "
                     r"epoch has ended; on this local chain: attestia chain advance \d+[mh]",
                     out), out
    assert w3.eth.block_number == block  # nothing sent
    code, out = cli("rewards", "claim", "--account", ALICE)
    assert code == 0 and "nothing to claim now; " in out, out
    assert re.search(rf"\d\.\d{{6}} ETH earned, not settled yet: it can be settled from {ISO}; "
                     r"on this local chain: attestia chain advance", out), out
    code, out = cli("rewards", "verify", str(epoch))
    assert code == 3, out
    assert out.startswith(f"epoch {epoch}: not settled yet (no root proposed): nothing to "
                          "check;"), out

    advance(2 * 86_400)  # the records' challenge windows closed inside an ended epoch
    code, out = cli("rewards", "claim", "--account", ALICE, "--json")
    assert code == 0, out
    assert json.loads(out)["state"] == "unsettled" and json.loads(out)["claimedNowWei"] == "0"
    code, out = cli("rewards", "settle")
    assert code == 0, out
    assert re.search(r"epoch \d+: root 0x[0-9a-f]{64} proposed: 0\.001200 ETH to \d "
                     rf"contributors, pending until {ISO}, then claimable; on this local "
                     r"chain: attestia chain advance \d+[mh]", out), out
    code, again = cli("rewards", "settle")
    assert code == 0 and "already proposed" in again, again
    code, out = cli("rewards", "claim", "--account", ALICE)
    assert code == 0, out
    assert re.search(rf"nothing to claim now; \d\.\d{{6}} ETH pending under epoch \d+'s "
                     rf"root, claimable from {ISO}", out), out
    code, out = cli("rewards", "status", "--account", ALICE, "--json")
    assert code == 0, out
    status = json.loads(out)
    assert status["roots"][-1]["state"] == "pending" and \
        re.fullmatch(ISO, status["roots"][-1]["claimableAt"])
    assert status["account"]["state"] == "pending" and int(status["account"]["pendingWei"]) > 0

    advance(attestia.distributor.timelock() + 1)
    code, out = cli("rewards", "status", "--account", ALICE)
    assert code == 0 and " claimable " in out and f"{ALICE}: claimable; " in out, out
    balance = w3.eth.get_balance(ALICE)
    code, out = cli("rewards", "claim", "--account", ALICE, "--json")
    assert code == 0, out
    claimed = json.loads(out)
    assert int(claimed["claimedNowWei"]) > 0 and claimed["state"] == "claimed"
    assert w3.eth.get_balance(ALICE) - balance == int(claimed["claimedNowWei"])
    block = w3.eth.block_number
    code, out = cli("rewards", "claim", "--account", ALICE)
    assert code == 0 and out.startswith(f"{ALICE}: nothing to claim now; "), out
    assert re.search(r"\d\.\d{6} ETH claimed so far", out) and w3.eth.block_number == block
    code, out = cli("rewards", "verify")
    assert code == 0 and re.match(r"epoch \d+: PASS", out), out
