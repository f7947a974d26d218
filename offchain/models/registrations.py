"""Which on-chain model id a package has: recorded at registration, resolved later.

A registration is keyed by its owner: ``modelId = keccak256(abi.encode(owner, contentHash))``
(``offchain.protocol.model_id``), where the content hash is the package's ModelSpec hash
(``model.onnx`` and its integer weights). One package can therefore be registered under several
ids (its owner's, and whoever else registered the same file: a front-runner only ever gets its
own id). Users meet the id in three places:

- ``attestia model register PACKAGE`` prints it and records it here, in the project's data
  directory (``<data dir>/model-ids.json``), keyed by chain id and registry address, then
  content hash (so a chain reset or another deployment never reuses a stale id: a recorded id
  is only used while the chain still holds that content under it);
- ``attestia model show`` / ``infer --model`` / ``worker run --model-id`` take the id itself;
- a worker or client given only a PACKAGE resolves it (:func:`resolve_model_id`):

  1. an id the user named (``--model-id``), which must be registered with this content;
  2. the id this project recorded at registration (still registered with this content);
  3. the registration by the configured account, ``model_id(account, contentHash)``;
  4. the only ``ModelRegistered`` event for this content hash (the hash is indexed);

  otherwise :class:`ModelIdUnknown`, naming every candidate and asking for
  ``--model-id 0x...``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from offchain.errors import ConfigError
from offchain.models.package import ModelPackage
from offchain.protocol import Model, model_id
from offchain.registry import Attestia
from offchain.storage.atomic import atomic_write_json

STORE_NAME = "model-ids.json"
STORE_FORMAT = "attestia-model-ids/1"


class ModelIdUnknown(ConfigError):
    """A package's on-chain model id cannot be told (not registered, or registered by several
    owners and none named): the message says which, and asks for ``--model-id``."""


@dataclass(frozen=True)
class ResolvedModel:
    """A package's on-chain id, its registration, and how the id was found."""

    model_id: bytes
    model: Model
    how: str
    """'given', 'recorded', 'owner' or 'event'."""

    @property
    def hex(self) -> str:
        return "0x" + self.model_id.hex()


def _deployment_key(chain_id: int, registry: str) -> str:
    return f"{int(chain_id)}/{to_checksum_address(registry)}"


def store_path(data_dir: Path) -> Path:
    return Path(data_dir) / STORE_NAME


def _read_store(data_dir: Path) -> dict[str, Any]:
    path = store_path(data_dir)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {"format": STORE_FORMAT, "registrations": {}}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a readable model-id record ({exc}): fix or delete it "
                          "(re-run attestia model register to write it again)") from None
    if not isinstance(data, dict) or data.get("format") != STORE_FORMAT or \
            not isinstance(data.get("registrations"), dict):
        raise ConfigError(f"{path} is not a {STORE_FORMAT} file: fix or delete it")
    return data


def record_model_id(data_dir: Path, chain_id: int, registry: str, content_hash: bytes,
                    model_id_: bytes, owner: str, package: Path | None = None) -> Path:
    """Remember that this project registered ``content_hash`` as ``model_id_`` (by ``owner``)
    on this chain and registry. Returns the record file."""
    data = _read_store(data_dir)
    by_content = data["registrations"].setdefault(_deployment_key(chain_id, registry), {})
    by_content["0x" + content_hash.hex()] = {
        "modelId": "0x" + model_id_.hex(), "owner": to_checksum_address(owner),
        "package": str(Path(package).resolve()) if package is not None else None,
    }
    path = store_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_json(path, data, indent=1)


def find_package(data_dir: Path | None, content_hash: bytes) -> ModelPackage | None:
    """This project's package with this content hash: one it registered
    (the path ``record_model_id`` kept, wherever it lives), else one under ``<data
    dir>/models``; None if neither. Contributor names come from it."""
    from offchain.errors import AttestiaError
    from offchain.models.package import load_package

    if data_dir is None:
        return None
    try:
        store = _read_store(data_dir)
    except ConfigError:
        store = {"registrations": {}}
    wanted = "0x" + content_hash.hex()
    registered = [entry.get("package") for by_content in store["registrations"].values()
                  if isinstance(by_content, dict)
                  for key, entry in by_content.items() if key == wanted and isinstance(entry, dict)]
    models = data_dir / "models"
    local = sorted(models.iterdir()) if models.is_dir() else []
    for path in [*(Path(p) for p in registered if isinstance(p, str)), *local]:
        if not (path / "manifest.json").is_file():
            continue
        try:
            package = load_package(path)
        except AttestiaError:
            continue
        if package.content_hash == content_hash:
            return package
    return None


def recorded_model_id(data_dir: Path, chain_id: int, registry: str,
                      content_hash: bytes) -> bytes | None:
    """The id recorded for this content on this chain and registry, if any (unchecked)."""
    entry = _read_store(data_dir)["registrations"].get(
        _deployment_key(chain_id, registry), {}).get("0x" + content_hash.hex())
    if not isinstance(entry, dict):
        return None
    try:
        raw = bytes.fromhex(str(entry["modelId"]).removeprefix("0x"))
    except (KeyError, ValueError):
        return None
    return raw if len(raw) == 32 else None


def registrations_of(attestia: Attestia, content_hash: bytes) -> list[tuple[bytes, str]]:
    """(model id, owner) of every registration of this content, oldest first (from the
    indexed ``ModelRegistered`` events since the deployment)."""
    return [(e.model_id, e.owner)
            for e in attestia.registry.models_registered(content_hash=content_hash)]


def _registered_with(attestia: Attestia, candidate: bytes, content_hash: bytes) -> Model | None:
    model = attestia.registry.model(candidate)
    return model if model is not None and model.contentHash == content_hash else None


def resolve_model_id(
    attestia: Attestia, package: ModelPackage, *, given: Iterable[bytes] = (),
    data_dir: Path | None = None, account: str | None = None,
) -> ResolvedModel:
    """The on-chain model id serving ``package`` (see the module docstring for the order).

    ``given``: ids the user named (``--model-id``); the one registered with this package's
    content is used, and if none is, that is an error (another package's id, or a typo).
    """
    content = package.content_hash
    label = f"{package.manifest.name} ({package.path}, content 0x{content.hex()[:12]}…)"
    given = list(given)
    if given:
        for candidate in given:
            model = _registered_with(attestia, candidate, content)
            if model is not None:
                return ResolvedModel(candidate, model, "given")
        shown = ", ".join("0x" + g.hex() for g in given)
        raise ModelIdUnknown(f"--model-id {shown} is not a registration of {label} on chain "
                             f"{attestia.chain.chain_id}")
    chain_id, registry = attestia.chain.chain_id, attestia.registry.address
    if data_dir is not None:
        recorded = recorded_model_id(data_dir, chain_id, registry, content)
        if recorded is not None:
            model = _registered_with(attestia, recorded, content)
            if model is not None:
                return ResolvedModel(recorded, model, "recorded")
    if account is not None:
        own = model_id(account, content)
        model = _registered_with(attestia, own, content)
        if model is not None:
            return ResolvedModel(own, model, "owner")
    found = registrations_of(attestia, content)
    if len(found) == 1:
        [(only, _)] = found
        model = _registered_with(attestia, only, content)
        if model is not None:
            return ResolvedModel(only, model, "event")
    if not found:
        raise ModelIdUnknown(f"{label} is not registered on chain {chain_id} (registry "
                             f"{registry}): run attestia model register {package.path}")
    choices = "; ".join(f"0x{mid.hex()} (owner {owner})" for mid, owner in found)
    raise ModelIdUnknown(f"{label} is registered {len(found)} times on chain {chain_id}, by "
                         f"different owners: {choices}; name the one to use with "
                         "--model-id 0x...")
