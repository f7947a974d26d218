"""The requester's side of a worker's HTTP gateway (``attestia gateway``): the wire format, the
three signed messages, and a small HTTP client.

A requester anywhere (no shared home, no heartbeat file) submits an off-chain request over
HTTP. The input never travels in clear: it is sealed (:mod:`offchain.sealing`, as for on-chain
requests) to the encryption key the worker published *on chain* (never the key a gateway
names: a gateway that lied about it could read the input), with the commitment salt and a
one-time reply key. The body::

    {"requestId": "0x..", "modelId": "0x..", "requester": "0x<address>", "worker": "0x..",
     "fee": "<wei, decimal string>", "inputCommitment": "0x..", "sealed": "0x<ECIES blob>",
     "signature": "0x<65 bytes: EIP-191, the requester's key over submission_message(...)>"}

``requestId`` is :func:`offchain.protocol.request_id` (requester, model, input commitment), as
on chain, so nobody can submit under another requester's id without its key, and a replay of
the same body is the same request (the gateway answers it again, queues nothing twice).

Three EIP-191 (``personal_sign``) messages, each naming the chain id and the registry, so a
signature for one deployment is worthless on another; this module is their one encoder:

* :func:`submission_message`: the requester's consent to this exact request (its fields and
  ``keccak256(sealed)``);
* :func:`receipt_message`: the worker key's receipt: it took the request for the model and
  promises its batch is committed by ``commitBy`` (unix seconds);
* :func:`read_message`: the requester's read authorisation for one request id. It does not
  expire: it only lets its holder read the request's state (public once committed) and its
  sealed result (which only the reply key opens). A client signs it once and keeps it.

TLS is a reverse proxy's job (the gateway speaks plain HTTP); the client sends to the URL it
was given and follows no redirect.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak, to_checksum_address

from offchain.errors import AttestiaError
from offchain.protocol import request_id as request_id_of
from offchain.sealing import MAX_PAYLOAD_BYTES
from offchain.timefmt import iso

API = "/v1"
FIELDS = ("requestId", "modelId", "requester", "worker", "fee", "inputCommitment", "sealed",
          "signature")
MAX_SEALED_BYTES = MAX_PAYLOAD_BYTES
"""A sealed payload the worker would refuse to open is refused at the door."""
MAX_BODY_BYTES = 2 * MAX_SEALED_BYTES + 4096
"""The JSON body of the largest acceptable request (the blob is hex: twice its bytes)."""
READ_HEADER = "X-Attestia-Signature"
"""The header carrying the requester's read signature (:func:`read_message`)."""


class GatewayError(AttestiaError):
    """The gateway refused a request or could not be reached; the message says which."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BadSubmission(AttestiaError):
    """A submission body that is malformed or inconsistent; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# -- the signed messages (pure) ---------------------------------------------------------------

def _where(chain_id: int, registry: str) -> str:
    return f"chain {int(chain_id)} registry {to_checksum_address(registry)}"


def submission_message(chain_id: int, registry: str, request: Submitted) -> str:
    """What the requester signs to submit ``request`` (its fields and its sealed blob's hash)."""
    return (f"Attestia off-chain request\n{_where(chain_id, registry)}\n"
            f"request 0x{request.request_id.hex()}\nmodel 0x{request.model_id.hex()}\n"
            f"worker {request.worker}\nfee {request.fee} wei\n"
            f"input commitment 0x{request.input_commitment.hex()}\n"
            f"sealed input 0x{keccak(request.sealed).hex()}")


def receipt_message(chain_id: int, registry: str, request_id: bytes, model_id: bytes,
                    worker: str, commit_by: int) -> str:
    """What the worker key signs when its gateway accepts a request."""
    return (f"Attestia gateway receipt\n{_where(chain_id, registry)}\n"
            f"request 0x{request_id.hex()}\nmodel 0x{model_id.hex()}\n"
            f"worker {to_checksum_address(worker)}\n"
            f"batch committed by {int(commit_by)} ({iso(int(commit_by))})")


def read_message(chain_id: int, registry: str, request_id: bytes) -> str:
    """What the requester signs to read its request's state and sealed result."""
    return (f"Attestia gateway: read request 0x{request_id.hex()}\n"
            f"{_where(chain_id, registry)}")


def sign_message(account: Any, message: str) -> bytes:
    return bytes(account.sign_message(encode_defunct(text=message)).signature)


def signer_of(message: str, signature: bytes) -> str | None:
    """The address that signed ``message`` (EIP-191), or None for a malformed signature."""
    if len(signature) != 65:
        return None
    try:
        return str(Account.recover_message(encode_defunct(text=message), signature=signature))
    except Exception:  # noqa: BLE001 - eth-keys raises several types for junk signatures
        return None


# -- the body ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Submitted:
    """A submission body, parsed and structurally checked (not yet its signature)."""

    request_id: bytes
    model_id: bytes
    requester: str
    worker: str
    fee: int
    input_commitment: bytes
    sealed: bytes
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        """The body in its canonical form (what the queue keeps and compares on replay)."""
        return {"requestId": "0x" + self.request_id.hex(), "modelId": "0x" + self.model_id.hex(),
                "requester": self.requester, "worker": self.worker, "fee": str(self.fee),
                "inputCommitment": "0x" + self.input_commitment.hex(),
                "sealed": "0x" + self.sealed.hex(), "signature": "0x" + self.signature.hex()}

    def canonical(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    def body_hash(self) -> str:
        """Two bodies are the same request iff these are equal (whitespace, key order and
        hex case do not count)."""
        return "0x" + keccak(self.canonical()).hex()


def _hex(body: dict[str, Any], name: str, size: int | None, limit: int | None = None) -> bytes:
    value = body.get(name)
    if not isinstance(value, str) or value[:2].lower() != "0x":
        raise BadSubmission(f"{name} must be a 0x-hex string")
    if limit is not None and len(value) > 2 + 2 * limit:
        raise BadSubmission(f"{name} is larger than {limit} bytes", 413)
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise BadSubmission(f"{name} is not valid hex") from None
    if size is not None and len(raw) != size:
        raise BadSubmission(f"{name} must be {size} bytes, got {len(raw)}")
    return raw


def _address(body: dict[str, Any], name: str) -> str:
    raw = _hex(body, name, 20)
    return to_checksum_address(raw)


def parse_submission(body: Any) -> Submitted:
    """A JSON body -> :class:`Submitted`; :class:`BadSubmission` (400, or 413 for a blob over
    the limit) naming the first field that is wrong. The request id must be the one the
    requester, model and input commitment derive."""
    if not isinstance(body, dict):
        raise BadSubmission("the body must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise BadSubmission(f"unknown field(s): {', '.join(unknown)[:200]}")
    missing = [f for f in FIELDS if f not in body]
    if missing:
        raise BadSubmission(f"missing field(s): {', '.join(missing)}")
    fee = body["fee"]
    if not isinstance(fee, str) or not fee.isdigit() or len(fee) > 78:
        raise BadSubmission("fee must be a decimal string of wei")
    sub = Submitted(_hex(body, "requestId", 32), _hex(body, "modelId", 32),
                    _address(body, "requester"), _address(body, "worker"), int(fee),
                    _hex(body, "inputCommitment", 32),
                    _hex(body, "sealed", None, MAX_SEALED_BYTES), _hex(body, "signature", 65))
    if not sub.sealed:
        raise BadSubmission("sealed is empty")
    if request_id_of(sub.requester, sub.model_id, sub.input_commitment) != sub.request_id:
        raise BadSubmission("requestId is not requestIdOf(requester, modelId, inputCommitment)")
    return sub


def make_submission(account: Any, *, chain_id: int, registry: str, model_id: bytes,
                    worker: str, fee: int, input_commitment: bytes, sealed: bytes) -> Submitted:
    """A signed body for ``account``'s request."""
    rid = request_id_of(account.address, model_id, input_commitment)
    unsigned = Submitted(rid, model_id, to_checksum_address(account.address),
                         to_checksum_address(worker), int(fee), input_commitment, sealed, b"")
    signature = sign_message(account, submission_message(chain_id, registry, unsigned))
    return Submitted(**{**unsigned.__dict__, "signature": signature})


# -- the HTTP client -----------------------------------------------------------------------------

class GatewayClient:
    """Talks to one gateway (``base`` is its URL, e.g. ``http://127.0.0.1:8700``). Never follows
    a redirect, never uses a proxy from the environment; every call has a time limit."""

    def __init__(self, base: str, timeout: float = 15.0) -> None:
        if not base.startswith(("http://", "https://")):
            raise GatewayError(f"--gateway must be an http:// or https:// URL, got {base!r}")
        self.base = base.rstrip("/")
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                   _NoRedirect())

    def _call(self, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.base + path, data=body, method=method,
                                         headers={"Accept": "application/json",
                                                  **({"Content-Type": "application/json"}
                                                     if body is not None else {}),
                                                  **(headers or {})})
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status, data = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read()
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GatewayError(f"gateway {self.base} cannot be reached ({reason})") from None
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            raise GatewayError(f"gateway {self.base} answered {status} with a body that is "
                               "not JSON", status) from None

    @staticmethod
    def _error(status: int, data: Any) -> GatewayError:
        message = data.get("error") if isinstance(data, dict) else None
        return GatewayError(f"the gateway answered {status}: {message or 'no reason given'}",
                            status)

    def info(self) -> dict[str, Any]:
        status, data = self._call("GET", f"{API}/info")
        if status != 200 or not isinstance(data, dict):
            raise self._error(status, data)
        return data

    def submit(self, submission: Submitted) -> tuple[int, dict[str, Any]]:
        """(status, answer) for a 200 (a replay) or 202 (accepted); GatewayError otherwise."""
        status, data = self._call("POST", f"{API}/requests", submission.canonical())
        if status not in (200, 202) or not isinstance(data, dict):
            raise self._error(status, data)
        return status, data

    def status(self, request_id: bytes, read_signature: bytes) -> dict[str, Any]:
        status, data = self._call("GET", f"{API}/requests/0x{request_id.hex()}",
                                  headers={READ_HEADER: "0x" + read_signature.hex()})
        if status != 200 or not isinstance(data, dict):
            raise self._error(status, data)
        return data

    def batch_file(self, batch_id: bytes) -> bytes:
        """A batch file's bytes as the gateway has them (check them against the chain's
        ``dataHash`` before use: the gateway is trusted for availability only)."""
        request = urllib.request.Request(f"{self.base}{API}/batches/0x{batch_id.hex()}")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return bytes(response.read(64 * 1024 * 1024 + 1))
        except urllib.error.HTTPError as exc:
            raise GatewayError(f"the gateway has no batch file 0x{batch_id.hex()} "
                               f"({exc.code})", exc.code) from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise GatewayError(f"gateway {self.base} cannot be reached ({exc})") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
