"""Where the real attestation test vectors live (shared/testvectors beside the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def attestation_vectors() -> Path:
    """``<shared>/testvectors/attestation``; ATTESTIA_TESTVECTORS overrides the base."""
    env = os.environ.get("ATTESTIA_TESTVECTORS")
    repo = Path(__file__).resolve().parents[2]
    base = Path(env) if env else repo.parent / "shared" / "testvectors"
    if not (base / "attestation").is_dir():
        pytest.skip(f"attestation test vectors not found at {base} (set ATTESTIA_TESTVECTORS)")
    return base / "attestation"
