"""The attack tests' fixture: the contract tests' Harness over the session deployment, inside
the test's evm_snapshot (tests/conftest.py reverts it afterwards)."""

from __future__ import annotations

import pytest

from tests.contracts.helpers import Harness


@pytest.fixture
def h(attestia) -> Harness:
    return Harness(attestia)
