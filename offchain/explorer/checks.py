"""The ``attestia verify`` checklist of a record, as the explorer runs it: in this process or,
as ``attestia explorer`` serves, in a few child processes (``ProcessChecks``).

The checklist is tens of ms of chain reads and ABI decoding a record (~0.2 s through web3;
the children read through ``offchain.chain.light``, ~4x less CPU), all of it Python holding
the GIL: run on threads of the web server's process, it delays every other request of that
process (each waits for the GIL between its database reads). In child processes it costs
the pages nothing but a share of the CPU the scheduler divides fairly. Each child connects to
the chain and reads the home's packages once; a child that dies is replaced at the next
check.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from offchain.errors import ChainError
from offchain.registry import Attestia
from offchain.storage.uri import FetchPolicy, fetch_policy

VERIFY_PROCESSES = 1
"""Child processes running the checklist per server process of ``attestia explorer``: at
most a core's worth of checks each, so a flood of uncached records cannot take every core
from the pages."""
VERIFY_FETCH_TIMEOUT = 10.0
"""Seconds each document the checklist reads may take (under the service's policy)."""


def verify_record(attestia: Attestia, fetch: FetchPolicy, data_dir: Path | None,
                  record: dict[str, Any]) -> dict[str, Any]:
    """The checklist of an indexed record (single or batch leaf) as JSON, reading documents
    only as ``fetch`` allows."""
    from offchain.verify import RecordRef, VerifyOptions, verify

    rid = bytes.fromhex(record["requestId"][2:])
    batch = bytes.fromhex(record["batchId"][2:]) if record["batchId"] else None
    with fetch_policy(dataclasses.replace(fetch, timeout=VERIFY_FETCH_TIMEOUT)):
        report = verify(attestia, RecordRef(request_id=rid, batch_id=batch),
                        VerifyOptions(data_dir=data_dir, local_roots=fetch.publish_dirs))
    return report.to_json()


_child: tuple[Attestia, FetchPolicy, Path | None] | None = None


def _start_child(home: str, rpc_url: str, deployment: dict[str, Any], fetch: FetchPolicy,
                 data_dir: str | None) -> None:
    from offchain.chain.connection import connect
    from offchain.chain.plan import Deployment
    from offchain.config import load_settings

    global _child
    chain = connect(load_settings(home=home, rpc_url=rpc_url), start=False, light=True)
    data = dict(deployment)
    attestia = Attestia(chain, Deployment(chain_id=int(data.pop("chainId")), **data))
    _child = (attestia, fetch, None if data_dir is None else Path(data_dir))


def _check_in_child(record: dict[str, Any]) -> dict[str, Any]:
    assert _child is not None, "the child process was not started by ProcessChecks"
    return verify_record(*_child, record)


class ProcessChecks:
    """``processes`` children that run :func:`verify_record` (spawned, not forked: the web
    server's threads hold locks and connections a fork would copy)."""

    def __init__(self, attestia: Attestia, fetch: FetchPolicy, data_dir: Path | None,
                 processes: int) -> None:
        self._args = (str(attestia.chain.settings.home), str(attestia.chain.url),
                      attestia.deployment.to_json(), dataclasses.replace(fetch, resolver=None),
                      None if data_dir is None else str(data_dir))
        self.processes = processes
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context(
            "spawn"), initializer=_start_child, initargs=self._args)

    def verify(self, record: dict[str, Any]) -> dict[str, Any]:
        pool = self._pool
        try:
            return pool.submit(_check_in_child, record).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = self._new_pool()
            raise ChainError("the checks' process died (it is restarted): retry in a few "
                             "seconds") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
