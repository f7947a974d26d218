"""The gateway's web application (FastAPI, OpenAPI at ``/docs`` served from local files, as the
explorer's).

* ``GET /v1/info``: the chain, registry, worker key and models served, the body limit and the
  commit promise.
* ``POST /v1/requests``: a sealed off-chain request (``offchain.request.gateway``); 202 with
  the request id and the worker key's signed receipt; the same body again: 200 and the same
  answer (nothing queued twice); another body under the id: 409.
* ``GET /v1/requests/{requestId}``: its state (queued, batched, committed with batch id,
  leaf, inclusion proof and commit transaction; rejected or failed with the reason) and the
  sealed result, to the requester only (``X-Attestia-Signature``).
* ``GET /v1/batches/{batchId}``: a committed batch's file, byte for byte (check it against
  the chain's ``dataHash``).

Every refusal is a 4xx JSON answer ``{"error": message, "status": code}``: 400 malformed,
401 no or bad signature, 403 another key's, 404 unknown, 409 conflicting body, 413 body
over the limit (checked on the declared length and while reading), 429 over the per-client
rate limit (``Retry-After``); 503 when the queue's database or the chain does not answer
(``Retry-After``: the gateway keeps running and answers again once they are back). Plain
HTTP: put TLS in a reverse proxy in front (and set the rate limit there too: behind a proxy
every client shares its address).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offchain import __version__
from offchain.errors import AttestiaError
from offchain.explorer.app import RateLimit
from offchain.gateway.service import Gateway, Refused
from offchain.request.gateway import READ_HEADER

log = logging.getLogger("attestia.gateway")


class SubmitBody(BaseModel):
    """A sealed off-chain request (documentation of the body; the gateway parses it itself,
    after the size check)."""

    requestId: str = Field(description="requestIdOf(requester, modelId, inputCommitment)")
    modelId: str = Field(description="0x + 64 hex digits: a model this gateway serves")
    requester: str = Field(description="the requester's address (it signs the body)")
    worker: str = Field(description="this gateway's worker key (GET /v1/info)")
    fee: str = Field(description="wei, decimal string, at least the model's fee")
    inputCommitment: str = Field(description="keccak256(salt || canonical input bytes)")
    sealed: str = Field(description="0x-hex ECIES blob: the input, its salt and a reply key, "
                        "sealed to the worker's on-chain encryption key")
    signature: str = Field(description="EIP-191 signature by the requester over "
                           "submission_message(chain, registry, request)")


_ERROR = {"content": {"application/json": {"example": {"error": "why", "status": 400}}}}


def _error(status: int, message: str, retry: float | None = None) -> JSONResponse:
    headers = {"Retry-After": str(max(1, math.ceil(retry)))} if retry else None
    return JSONResponse({"error": message, "status": status}, status_code=status,
                        headers=headers)


def create_app(gateway: Gateway, *, rate_limit: RateLimit | None = None) -> FastAPI:
    app = FastAPIOffline(
        title="Attestia gateway", version=__version__,
        description="Submit sealed off-chain inference requests to a worker fleet and follow "
        "them to a committed batch leaf. Errors are `{\"error\": message, \"status\": code}`. "
        "Plain HTTP: terminate TLS in a reverse proxy.")
    max_body = gateway.config.max_body
    app.add_middleware(_Guard, limit=rate_limit or RateLimit(), max_body=max_body)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return _error(exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        return _error(400, f"{first.get('loc', ['parameter'])[-1]}: "
                      f"{first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, "no such endpoint" if exc.status_code == 404
                      else str(exc.detail))

    @app.exception_handler(SQLAlchemyError)
    async def database(request: Request, exc: SQLAlchemyError) -> Response:
        log.warning("gateway: the queue database did not answer (%s)",
                    " ".join(str(exc).split())[:200])
        return _error(503, "the queue's database is unavailable: retry", 5)

    @app.exception_handler(AttestiaError)
    async def chain(request: Request, exc: AttestiaError) -> Response:
        log.warning("gateway: %s: %s", request.url.path, exc)
        return _error(503, f"the chain could not answer: {' '.join(str(exc).split())}", 5)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> Response:
        log.exception("gateway: %s failed", request.url.path)
        return _error(500, "internal error (logged)")

    @app.get("/v1/info", tags=["gateway"])
    def info() -> dict[str, Any]:
        """The deployment (chain id, registry), the worker key requests are sealed to (read
        its encryption key from the chain, not from here), the models served, the body
        limit and the commit promise of a receipt."""
        return gateway.info()

    @app.post("/v1/requests", tags=["requests"], status_code=202,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": SubmitBody.model_json_schema()}}}},
              responses={200: {"description": "a replay of a stored request: the same "
                               "answer, nothing queued"},
                         400: _ERROR, 401: _ERROR, 404: _ERROR, 409: _ERROR, 413: _ERROR,
                         429: _ERROR, 503: _ERROR})
    async def submit(request: Request) -> Response:
        """Queue a sealed request; the answer holds the worker key's receipt (EIP-191 over
        receipt_message: request, model, worker, chain, registry and the time its batch
        will be committed by)."""
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                return _error(413, f"the body is over {max_body} bytes")
        status, answer = await run_in_threadpool(gateway.submit, bytes(body))
        return JSONResponse(answer, status_code=status)

    @app.get("/v1/requests/{request_id}", tags=["requests"],
             responses={400: _ERROR, 401: _ERROR, 403: _ERROR, 404: _ERROR, 429: _ERROR})
    def status(request_id: str, request: Request) -> dict[str, Any]:
        """The request's state and sealed result, to its requester only: send the EIP-191
        signature of read_message(chain, registry, request id) by the requester's key in
        the X-Attestia-Signature header."""
        return gateway.status(_bytes32(request_id), request.headers.get(READ_HEADER))

    @app.get("/v1/batches/{batch_id}", tags=["batches"], responses={404: _ERROR})
    def batch(batch_id: str) -> Response:
        """A committed batch's published file, byte for byte."""
        return Response(gateway.batch_file(_bytes32(batch_id)), media_type="application/json")

    return app


class _Guard:
    """The rate limit (429) and the declared body size (413) before anything is read, and the
    response headers; plain ASGI (a request costs no extra task, as an ``@app.middleware``
    would)."""

    _HEADERS = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]

    def __init__(self, app: ASGIApp, limit: RateLimit, max_body: int) -> None:
        self.app, self.limit, self.max_body = app, limit, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.limit.wait_for(client[0] if client else "")
        declared = dict(scope["headers"]).get(b"content-length")
        if wait:
            refusal: Response | None = _error(
                429, f"too many requests from this address: retry in {wait:.1f} s", wait)
        elif declared is not None and (not declared.isdigit()
                                       or int(declared) > self.max_body):
            refusal = _error(413, f"the body is over {self.max_body} bytes")
        else:
            refusal = None

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self._HEADERS]
            await send(message)

        if refusal is not None:
            await refusal(scope, receive, with_headers)
        else:
            await self.app(scope, receive, with_headers)


def _bytes32(text: str) -> bytes:
    value = text.lower().removeprefix("0x")
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise Refused(400, f"expected 0x + 64 hex digits, got {text[:80]!r}")
    return bytes.fromhex(value)
