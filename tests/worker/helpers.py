"""Builders shared by the worker tests: a client that sends demo requests, a worker node."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from offchain.chain.accounts import dev_account
from offchain.models.demo import holdout
from offchain.models.encoding import encode_tensor
from offchain.models.registrations import resolve_model_id
from offchain.protocol import BPS, Share
from offchain.request.client import LocalRequest, build_requests, send_requests
from offchain.worker.node import WorkerNode, WorkerOptions
from offchain.worker.service import build_worker

CLIENT = 2


def demo_inputs(count: int, offset: int = 0) -> list[np.ndarray]:
    X, _ = holdout()
    return [X[(offset + i) % len(X)][None, :].astype(np.float32) for i in range(count)]


def send_demo_requests(attestia, package, data_dir: Path, count: int, *, worker: str,
                       offset: int = 0, model_id: bytes | None = None,
                       inputs: list[np.ndarray] | None = None) -> list[LocalRequest]:
    """Paid requests from the client account for ``package``'s registration (its only one
    unless ``model_id`` names it), zk input hashes included when the model takes ZK."""
    client = dev_account(CLIENT)
    if model_id is None:
        model_id = resolve_model_id(attestia, package).model_id
    built = build_requests(attestia, model_id,
                           inputs if inputs is not None else demo_inputs(count, offset),
                           requester=client.address, worker=worker, package=package)
    return send_requests(attestia, built, client, data_dir)


def make_worker(attestia, package_dir: Path, data_dir: Path, operator_index: int = 1,
                **kwargs) -> WorkerNode:
    setup = build_worker(attestia, operator=dev_account(operator_index),
                         packages=[package_dir], data_dir=data_dir,
                         options=WorkerOptions(poll_interval=0.01), **kwargs)
    return setup.node


def lying_engine(node: WorkerNode, model_id: bytes) -> None:
    """The worker's engine answers honestly but gives every basis point to the contributor
    its own attribution ranks lowest (the dispute issue's attack)."""
    engine = node.engines[model_id]
    honest = engine.evaluate

    def evaluate(raw):
        evaluation = honest(raw)
        ranked = sorted(engine.roster, key=lambda a: dict(evaluation.shares).get(a, 0))
        return replace(evaluation, shares=(Share(ranked[0], BPS),))

    engine.evaluate = evaluate  # type: ignore[method-assign]


def challenge_record(attestia, package, local: LocalRequest, timeout: float = 5) -> bytes:
    """The client challenges its recorded request's attribution (input, salt and output
    revealed; the dispute bond posted): the dispute is open. Returns the request id."""
    from offchain.dispute import game
    from offchain.models.encoding import encode_tensor
    from offchain.protocol import DisputeState
    from offchain.request.client import wait_for_outcomes

    outcome = wait_for_outcomes(attestia, [local], timeout=timeout)[local.request_id]
    assert outcome.output is not None
    game.open_challenge(attestia, outcome.inference, local.input_bytes, local.salt,
                        encode_tensor(outcome.output), package.attribution_spec(),
                        account=dev_account(CLIENT))
    assert attestia.slasher.dispute(local.request_id).state == DisputeState.OPEN
    return local.request_id


def wrong_answer_engine(node: WorkerNode, model_id: bytes) -> None:
    """The worker's engine states the wrong label: its integer logits with the top two
    swapped (a consistent record: the attribution is the honest one for that label)."""
    engine = node.engines[model_id]
    honest = engine.evaluate

    def evaluate(raw, **kwargs):
        evaluation = honest(raw, **kwargs)
        integer = np.array(evaluation.integer_logits, copy=True)
        top = np.argsort(-integer, kind="stable")[:2]
        integer[top[0]], integer[top[1]] = integer[top[1]], integer[top[0]]
        logits = engine.package.output_tensor(integer)
        label = int(np.argmax(integer))
        return replace(evaluation, logits=logits, label=label,
                       output_bytes=encode_tensor(logits), integer_logits=integer,
                       shares=engine.attribute(raw, label))

    engine.evaluate = evaluate  # type: ignore[method-assign]
