"""Shared by the gateway and fleet tests: a fleet worker in-process, the gateway served on a
loopback port, signed bodies."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn

from offchain.chain.accounts import dev_account
from offchain.chain.anvil import free_port
from offchain.explorer.app import RateLimit
from offchain.gateway.app import create_app
from offchain.gateway.service import Gateway, GatewayConfig
from offchain.models.demo import holdout
from offchain.models.encoding import commit, encode_tensor, new_salt
from offchain.queue.store import Queue
from offchain.queue.worker import QueueWorker
from offchain.request.gateway import Submitted, make_submission
from offchain.sealing import EncryptionKey, RequestPayload, seal_request
from offchain.worker.batching import BatchOptions
from offchain.worker.node import WorkerNode, WorkerOptions
from offchain.worker.service import build_worker

OPERATOR = dev_account(1)
CLIENT = dev_account(2)


def rows(count: int, offset: int = 0) -> list[np.ndarray]:
    X, _ = holdout()
    return [X[(offset + i) % len(X)][None, :].astype(np.float32) for i in range(count)]


def fleet_node(attestia: Any, package_dir: Path, data_dir: Path) -> WorkerNode:
    """A worker node of the fleet key (dev account 1), its encryption key shared."""
    return build_worker(attestia, operator=OPERATOR, packages=[package_dir], data_dir=data_dir,
                        options=WorkerOptions(poll_interval=0.01),
                        fleet_key=data_dir.parent / ".fleet" / "key").node


def queue_worker(node: WorkerNode, data_dir: Path, queue: Queue, *, batch_size: int = 16,
                 lease: float = 30.0) -> QueueWorker:
    return QueueWorker(node, data_dir, queue, data_dir.parent / "published",
                       BatchOptions(batch_size=batch_size, max_latency=0.0, poll_interval=0.01,
                                    onchain=False), lease)


def gateway_of(attestia: Any, queue: Queue, model_id: bytes, **config: Any) -> Gateway:
    return Gateway(attestia, queue, OPERATOR, GatewayConfig(models=(model_id,), **config))


@contextlib.contextmanager
def served(gateway: Gateway, rate_limit: RateLimit | None = None) -> Iterator[str]:
    """The gateway's app on a loopback port, in a thread: its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(gateway, rate_limit=rate_limit),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def sealed_body(attestia: Any, model_id: bytes, raw: np.ndarray, *, account: Any = CLIENT,
                fee: int = 10**15, worker: str | None = None, sealed: bytes | None = None
                ) -> tuple[Submitted, bytes, EncryptionKey]:
    """A signed submission for ``raw`` sealed to the worker's on-chain key: (body, salt,
    reply key)."""
    worker = worker or OPERATOR.address
    slot = attestia.registry.worker(OPERATOR.address)
    input_bytes = encode_tensor(raw)
    salt, reply = new_salt(), EncryptionKey.generate()
    blob = sealed if sealed is not None else seal_request(
        slot.encryptionKey, RequestPayload(input_bytes, salt, reply.public))
    body = make_submission(account, chain_id=attestia.chain.chain_id,
                           registry=attestia.registry.address, model_id=model_id,
                           worker=worker, fee=fee, input_commitment=commit(salt, input_bytes),
                           sealed=blob)
    return body, salt, reply
