"""``attestia model zk-setup`` as a user runs it, and a running worker after it (issue 10,
zk-setup confusions).

* EZKL's own output (calibration tables) goes to ``PACKAGE/zk/ezkl.log``: stdout is only the
  command's JSON, stderr only its own lines;
* a bad ``--srs`` is refused before anything is written, and a setup that fails later (an
  SRS too small for the circuit) leaves the existing artifacts byte for byte as they were;
* a worker started before ``zk-setup`` serves the next zk request with a proof (no restart).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ezkl
import pytest

from offchain.chain.accounts import dev_account
from offchain.config import REPO_ROOT
from offchain.protocol import PROOF_ZK
from tests.cli.test_cli_errors import assert_one_line_error


def _files(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.iterdir()) if p.is_file()}


def _cli(home: Path, anvil, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env |= {"ATTESTIA_HOME": str(home), "ATTESTIA_RPC_URL": anvil.url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "offchain.cli.main", *args], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_zk_setup_json_is_clean_and_ezkl_output_goes_to_its_log(
    project_home: Path, anvil, chain, demo_package_dir: Path, tmp_path: Path
) -> None:
    package = Path(shutil.copytree(demo_package_dir, tmp_path / "pkg"))
    assert _cli(project_home, anvil, "model", "register", str(package)).returncode == 0
    done = _cli(project_home, anvil, "model", "zk-setup", str(package), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)  # nothing but the JSON on stdout
    assert "zk" in data["proofKinds"] and data["newVerifier"] and data["testOnlySrs"]
    assert "Fidelity" not in done.stdout + done.stderr and "Traceback" not in done.stderr
    assert "Numerical Fidelity Report" in (package / "zk" / "ezkl.log").read_text()
    assert not [p for p in package.iterdir() if p.name.startswith(".")]  # no temp dir left


def test_a_bad_srs_leaves_the_artifacts_as_they_were(
    project_home: Path, anvil, chain, zk_package_dir: Path, tmp_path: Path
) -> None:
    from offchain.cli.model import calibration_sample
    from offchain.models import load_package
    from offchain.proofs import zk

    package = Path(shutil.copytree(zk_package_dir, tmp_path / "pkg"))
    before = _files(package / "zk")
    junk = tmp_path / "junk.srs"
    junk.write_bytes(b"\xff\xff\xff\x7f" + b"not an srs" * 10)
    block = chain.w3.eth.block_number
    bad = _cli(project_home, anvil, "model", "zk-setup", str(package), "--srs", str(junk))
    assert_one_line_error(bad, "is not a KZG SRS file")
    assert chain.w3.eth.block_number == block and _files(package / "zk") == before

    small = tmp_path / "k8.srs"  # a real SRS, too small for the circuit: found after compiling
    ezkl.gen_srs(str(small), 8)
    loaded = load_package(package)
    with pytest.raises(zk.SrsError, match=r"has 2\^8 points"):
        zk.zk_setup(loaded.onnx_path, package / "zk", srs_path=small, chain_id=31337,
                    sample_input=calibration_sample(loaded))
    assert _files(package / "zk") == before
    assert not [p for p in package.iterdir() if p.name.startswith(".")]
    zk.load_artifacts(package / "zk")  # still whole


def test_a_running_worker_makes_zk_records_after_zk_setup(
    attestia, demo_package_dir: Path, zk_package_dir: Path, tmp_path: Path, caplog
) -> None:
    from offchain.models import load_package
    from offchain.models.onchain import enable_zk, register_model
    from offchain.proofs.zk import load_artifacts
    from offchain.request.client import wait_for_outcomes
    from tests.worker.helpers import make_worker, send_demo_requests

    package_dir = Path(shutil.copytree(demo_package_dir, tmp_path / "pkg"))
    package = load_package(package_dir)
    registration = register_model(attestia, package, fee=10**15, kinds=["signed"],
                                  account=dev_account(0))
    node = make_worker(attestia, package_dir, tmp_path / "worker")
    [first] = send_demo_requests(attestia, package, tmp_path, 1, worker=node.signer.address,
                                 model_id=registration.model_id)
    assert node.run(until_idle=True, max_seconds=60).recorded == 1
    # zk-setup while the worker runs (the same artifacts as `model zk-setup` makes)
    shutil.copytree(zk_package_dir / "zk", package_dir / "zk")
    enable_zk(attestia, package, load_artifacts(package_dir / "zk"), account=dev_account(0))
    [second] = send_demo_requests(attestia, package, tmp_path, 1, worker=node.signer.address,
                                  model_id=registration.model_id, offset=1)
    with caplog.at_level("INFO", logger="attestia.worker"):
        assert node.run(until_idle=True, max_seconds=120).recorded == 2
    node.journal.close()
    outcomes = wait_for_outcomes(attestia, [first, second], timeout=10)
    assert outcomes[first.request_id].inference.proofKind != PROOF_ZK
    assert outcomes[second.request_id].inference.proofKind == PROOF_ZK
    assert "zk artifacts found in" in caplog.text and "making zk proofs from now on" in \
        caplog.text
