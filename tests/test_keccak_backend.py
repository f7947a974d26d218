"""The keccak backend eth-hash uses under Attestia (offchain/__init__.py): pysha3 unless the
user chose one with ETH_HASH_BACKEND."""

from __future__ import annotations

import os
import subprocess
import sys

from offchain.config import REPO_ROOT

PROBE = ("import offchain; from eth_utils import keccak; import sys; "
         "assert keccak(b'').hex() == "
         "'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'; "
         "print('Crypto.Hash.keccak' in sys.modules, 'sha3' in sys.modules)")


def _probe(backend: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ETH_HASH_BACKEND"}
    if backend is not None:
        env["ETH_HASH_BACKEND"] = backend
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout.strip()


def test_attestia_hashes_with_pysha3_by_default() -> None:
    assert _probe(None) == "False True"


def test_a_backend_the_user_chose_is_kept() -> None:
    assert _probe("pycryptodome") == "True False"
