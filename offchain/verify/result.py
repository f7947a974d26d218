"""What a verification returns: one CheckResult per checklist line, and the whole report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """PASS: checked and holds. FAIL: checked and does not. SKIPPED: not applicable, or the
    data it needs was not given (the reason says which)."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    reason: str

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status.value, "reason": self.reason}


def passed(name: str, reason: str) -> CheckResult:
    return CheckResult(name, Status.PASS, reason)


def failed(name: str, reason: str) -> CheckResult:
    return CheckResult(name, Status.FAIL, reason)


def skipped(name: str, reason: str) -> CheckResult:
    return CheckResult(name, Status.SKIPPED, reason)


@dataclass
class Report:
    """The checklist for one record, in a fixed order (see ``offchain.verify.CHECKS``)."""

    record_id: str
    chain_id: int
    registry: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no line FAILed (SKIPPED lines do not fail a record)."""
        return all(c.status is not Status.FAIL for c in self.checks)

    def check(self, name: str) -> CheckResult:
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_json(self) -> dict:
        return {"recordId": self.record_id, "chainId": self.chain_id,
                "registry": self.registry, "ok": self.ok,
                "checks": [c.to_json() for c in self.checks]}


def utc(timestamp: int) -> str:
    """A chain timestamp as a readable UTC date."""
    return dt.datetime.fromtimestamp(int(timestamp), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
