"""Where a paid request stands, waiting for its end, cancelling it, listing requests.

The state is read from the registry's request slot (``requestState``): zero when no such
request was paid, the request's hash while open, the record's digest once recorded, and the
sentinels :data:`~offchain.protocol.REQUEST_CANCELLED` / ``REQUEST_REJECTED`` once closed
without a record. An open request is *expired* once the chain's time is past
``createdAt + requestTimeout`` (no worker can sign a record for it any more); its fee stays
in escrow until the requester cancels, which the registry allows from
``createdAt + requestTimeout + 15 min + 1 s`` (:func:`cancellable_at`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offchain.errors import ConfigError
from offchain.protocol import (
    REQUEST_CANCELLED,
    REQUEST_REJECTED,
    TIMESTAMP_WINDOW,
    ZERO32,
    Request,
    hash_request,
)
from offchain.registry import Attestia
from offchain.timefmt import iso

if TYPE_CHECKING:  # offchain.request.client is imported where used: it costs numpy and the models
    from offchain.request.client import LocalRequest

OPEN, RECORDED, REJECTED, CANCELLED, EXPIRED = "open", "recorded", "rejected", "cancelled", \
    "expired"
STATES = (OPEN, RECORDED, REJECTED, CANCELLED, EXPIRED)
FINAL = (RECORDED, REJECTED, CANCELLED)


def cancellable_at(request: Request, request_timeout: int) -> int:
    """The first second at which the registry accepts ``cancelRequest`` (its own rule): a
    record may carry a signing time up to ``TIMESTAMP_WINDOW`` behind its block, so
    cancelling waits that much past the deadline."""
    return request.createdAt + request_timeout + TIMESTAMP_WINDOW + 1


def chain_time(attestia: Attestia) -> int:
    """The latest block's timestamp (the clock the registry judges by)."""
    return int(attestia.chain.w3.eth.get_block("latest")["timestamp"])


@dataclass(frozen=True)
class RequestStatus:
    """One paid request and where it stands."""

    request_id: bytes
    state: str
    request: Request
    tx_hash: str
    block: int
    deadline: int
    """createdAt + requestTimeout: the last signing time of a record."""
    cancellable_at: int
    record_tx: str | None = None
    reason: str | None = None
    refund: int | None = None

    def to_json(self) -> dict[str, Any]:
        r = self.request
        return {
            "requestId": "0x" + self.request_id.hex(), "state": self.state,
            "requester": r.requester, "modelId": "0x" + r.modelId.hex(), "worker": r.worker,
            "feeWei": r.fee, "createdAt": iso(r.createdAt), "deadline": iso(self.deadline),
            "cancellableAt": iso(self.cancellable_at), "txHash": self.tx_hash,
            "block": self.block, "recordTx": self.record_tx, "reason": self.reason,
            "refundWei": self.refund,
        }


def _state_of(slot: bytes, request: Request, now: int, deadline: int) -> str:
    if slot == REQUEST_CANCELLED:
        return CANCELLED
    if slot == REQUEST_REJECTED:
        return REJECTED
    if slot == hash_request(request):
        return EXPIRED if now > deadline else OPEN
    return RECORDED


def request_status(attestia: Attestia, request_id: bytes, *, now: int | None = None
                   ) -> RequestStatus:
    """Where one request stands; ConfigError when no such request was paid here."""
    slot = attestia.registry.request_state(request_id)
    requested = attestia.registry.requested(request_id=request_id) if slot != ZERO32 else []
    if not requested:
        raise ConfigError(f"no request 0x{request_id.hex()} on registry "
                          f"{attestia.registry.address} (chain {attestia.chain.chain_id})")
    event = requested[-1]
    timeout = attestia.registry.request_timeout()
    request = event.request
    deadline = request.createdAt + timeout
    now = chain_time(attestia) if now is None else now
    state = _state_of(slot, request, now, deadline)
    record_tx = reason = refund = None
    if state == RECORDED:
        recorded = attestia.registry.recorded(event.meta.block, request_id=request_id)
        record_tx = recorded[-1].tx_hash if recorded else None
    elif state == REJECTED:
        rejected = attestia.registry.rejected(event.meta.block, request_id=request_id)
        if rejected:
            reason, refund, record_tx = (rejected[-1].reason, rejected[-1].refund,
                                         rejected[-1].meta.tx_hash)
    elif state == CANCELLED:
        cancelled = attestia.registry.cancelled(event.meta.block, request_id=request_id)
        if cancelled:
            refund, record_tx = cancelled[-1].refund, cancelled[-1].meta.tx_hash
    return RequestStatus(request_id, state, request, event.meta.tx_hash, event.meta.block,
                         deadline, cancellable_at(request, timeout), record_tx, reason, refund)


def list_requests(attestia: Attestia, *, data_dir: Path | None = None,
                  requester: str | None = None) -> list[RequestStatus]:
    """Every request paid on this registry (oldest first); with ``data_dir``, only those
    this home paid for (a local request file under <data dir>/requests); with
    ``requester``, only that requester's."""
    mine: set[str] | None = None
    if data_dir is not None:
        folder = data_dir / "requests"
        mine = {p.stem.lower() for p in folder.glob("0x*.json")} if folder.is_dir() else set()
    now = chain_time(attestia)
    out = []
    seen: set[bytes] = set()
    for event in attestia.registry.requested():
        rid = event.request_id
        if rid in seen:
            continue
        if mine is not None and "0x" + rid.hex() not in mine:
            continue
        if requester is not None and event.request.requester.lower() != requester.lower():
            continue
        seen.add(rid)
        out.append(request_status(attestia, rid, now=now))
    return out


def wait_request(attestia: Attestia, request_id: bytes, *, timeout: float = 120.0,
                 poll: float = 0.5, on_poll: Callable[[RequestStatus, float], None] | None = None,
                 started: float | None = None) -> RequestStatus:
    """Poll until the request is recorded, rejected or cancelled; ``on_poll(status,
    seconds waited)`` after each poll. RequestFailed (naming the request and its state)
    when ``timeout`` seconds have passed since ``started`` (a ``time.monotonic()`` reading,
    default now: a command passes its own start, so its wall time is the timeout)."""
    start = time.monotonic() if started is None else started
    deadline = start + timeout
    while True:
        status = request_status(attestia, request_id)
        now = time.monotonic()
        waited = now - start
        if on_poll is not None:
            on_poll(status, waited)
        if status.state in FINAL:
            return status
        if now >= deadline:
            hint = (f"it expired at {iso(status.deadline)}; cancel it for a refund from "
                    f"{iso(status.cancellable_at)}: attestia request cancel "
                    f"0x{request_id.hex()}" if status.state == EXPIRED else
                    f"still {status.state}: is worker {status.request.worker} running? "
                    f"(attestia worker list)")
            from offchain.request.client import RequestFailed

            raise RequestFailed(f"request 0x{request_id.hex()} got no record within "
                                f"{timeout:.0f} s; {hint}")
        # the last poll lands on the deadline, not a whole poll interval after it
        time.sleep(max(0.0, min(poll, deadline - now)))


def local_request(data_dir: Path, request_id: bytes) -> LocalRequest:
    """The request file this home kept when it paid; ConfigError if missing or unreadable."""
    from offchain.request.client import load_local_request

    try:
        local = load_local_request(data_dir, "0x" + request_id.hex())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the local request file of 0x{request_id.hex()} is unreadable "
                          f"({type(exc).__name__}): cannot cancel") from None
    if local is None or local.request is None:
        raise ConfigError(f"no local request file for 0x{request_id.hex()} in "
                          f"{data_dir / 'requests'}: only the home that paid can cancel")
    return local


def cancel_request(attestia: Attestia, request_id: bytes, data_dir: Path, account: Any
                   ) -> RequestStatus:
    """Cancel an expired request (refunding its fee to the requester), checked first: the
    local request file exists, ``account`` is the requester, the request is still open and
    the registry's cancellable time has come. Returns the status after cancelling."""
    local = local_request(data_dir, request_id)
    assert local.request is not None
    status = request_status(attestia, request_id)
    if status.state in FINAL:
        raise ConfigError(f"request 0x{request_id.hex()} is {status.state}: nothing to cancel")
    if account.address.lower() != local.request.requester.lower():
        raise ConfigError(f"request 0x{request_id.hex()} was paid by "
                          f"{local.request.requester}, not by {account.address}")
    now = chain_time(attestia)
    if now < status.cancellable_at:
        raise ConfigError(f"request 0x{request_id.hex()} can be cancelled from "
                          f"{iso(status.cancellable_at)} (chain time now {iso(now)}, "
                          f"{status.cancellable_at - now} s to go)")
    attestia.send(attestia.registry.cancel_request(local.request), account=account)
    return request_status(attestia, request_id)
