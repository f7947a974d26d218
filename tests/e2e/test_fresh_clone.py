"""From nothing: clone the repository and run ``make demo`` (new venv, npm ci, chain, demo)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from offchain.chain.anvil import free_port
from offchain.config import REPO_ROOT


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_make_demo_from_a_fresh_clone(tmp_path) -> None:
    if not (REPO_ROOT / ".git").exists() or shutil.which("make") is None:
        pytest.skip("needs a git checkout and make")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ATTESTIA_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env["ATTESTIA_PORT"] = str(free_port())
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if ".venv" not in p)
    try:
        result = subprocess.run(["make", "demo"], cwd=clone, env=env, capture_output=True,
                                text=True, timeout=1100)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "InferenceRegistry" in result.stdout
        assert "inferences recorded: 50" in result.stdout
        # Idempotent: with everything in place, set-up adds only timestamp checks.
        again = subprocess.run(["make", "-q", ".venv/.attestia-installed",
                                "node_modules/.attestia-installed"], cwd=clone, env=env)
        assert again.returncode == 0
    finally:
        subprocess.run([str(clone / ".venv" / "bin" / "attestia"), "chain", "down"], cwd=clone,
                       env=env, capture_output=True)
