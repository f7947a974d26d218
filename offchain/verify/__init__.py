"""Verify an Attestia record as a stranger: only an RPC URL, the public package, and data the
requester reveals; nothing the worker says is trusted. ``verify`` returns a ``Report``: one
``CheckResult`` per checklist line (``CHECKS``), PASS / FAIL / SKIPPED with a reason.
"""

from offchain.verify.checks import CHECKS, Revealed
from offchain.verify.evidence import ChainOracle, Evidence, RecordRef, VerifyError, gather
from offchain.verify.result import CheckResult, Report, Status
from offchain.verify.run import VerifyOptions, recompute, run_checks, verify

__all__ = [
    "CHECKS", "ChainOracle", "CheckResult", "Evidence", "RecordRef", "Report", "Revealed",
    "Status", "VerifyError", "VerifyOptions", "gather", "recompute", "run_checks", "verify",
]
