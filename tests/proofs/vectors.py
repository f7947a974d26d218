"""Where the real attestation test vectors live: ``tests/vectors/attestation`` in the repository.

The vectors are part of the repository (see their README for source, licence and the pinned
verification time of each), so a clone alone runs every test that uses them. A missing
directory is a test failure, never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

IN_REPO = Path(__file__).resolve().parents[1] / "vectors" / "attestation"


def attestation_vectors() -> Path:
    """``tests/vectors/attestation``, or ``$ATTESTIA_TESTVECTORS/attestation`` when that is set."""
    env = os.environ.get("ATTESTIA_TESTVECTORS")
    path = Path(env) / "attestation" if env else IN_REPO
    if not path.is_dir():
        pytest.fail(f"attestation test vectors missing at {path}", pytrace=False)
    return path
