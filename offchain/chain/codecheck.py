"""Are the contracts at these addresses Attestia's? Compare each one's on-chain runtime code
with the runtime code this checkout compiles.

Two parts of deployed code legitimately differ from the build, and nothing else may:

* immutables: the compiler leaves zeros where each ``immutable`` goes (their offsets are the
  artifact's ``immutableReferences``) and the constructor writes the values there; those
  bytes are masked on both sides (the build's must be zeros, or the artifact is not what it
  claims);
* the metadata trailer: a CBOR map (hash of the metadata JSON, compiler version) whose length
  is the last two bytes. It changes with source paths and comments, not with behaviour, so
  the code is compared without it and whether it is equal too is reported on its own.

Pure but for the one ``eth_getCode`` per contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from offchain.build import Artifact


@dataclass(frozen=True)
class CodeCheck:
    """One contract's comparison: ``matches`` is the verdict, ``detail`` says why."""

    name: str
    address: str
    matches: bool
    metadata_equal: bool
    detail: str


def split_metadata(code: bytes) -> tuple[bytes, bytes]:
    """(code without the CBOR metadata trailer, the trailer with its length); the trailer is
    empty when the last two bytes do not frame a CBOR map."""
    if len(code) < 2:
        return code, b""
    length = int.from_bytes(code[-2:], "big")
    start = len(code) - 2 - length
    if length == 0 or start < 0 or not 0xA0 <= code[start] <= 0xBF:  # a CBOR map's head
        return code, b""
    return code[:start], code[start:]


def mask_immutables(code: bytes, references: dict[str, list[dict[str, int]]]) -> bytes:
    """``code`` with every immutable's bytes set to zero."""
    out = bytearray(code)
    for spans in references.values():
        for span in spans:
            start, length = int(span["start"]), int(span["length"])
            out[start:start + length] = bytes(min(length, max(0, len(out) - start)))
    return bytes(out)


def compare_code(name: str, address: str, onchain: bytes, artifact: Artifact) -> CodeCheck:
    """The verdict for one contract from its on-chain runtime code and its artifact."""
    built = bytes.fromhex(artifact.deployed_bytecode.removeprefix("0x"))
    refs = artifact.immutable_references
    if not onchain:
        return CodeCheck(name, address, False, False, "no code at this address")
    if mask_immutables(built, refs) != built:
        return CodeCheck(name, address, False, False,
                         "the build's artifact has non-zero bytes at its immutables: rebuild "
                         "with `attestia build --force`")
    if len(onchain) != len(built):
        return CodeCheck(name, address, False, False,
                         f"code size {len(onchain):,} bytes, the build's is {len(built):,}")
    code, trailer = split_metadata(mask_immutables(onchain, refs))
    want, want_trailer = split_metadata(built)
    if code != want:
        differs = next(i for i, (a, b) in enumerate(zip(code, want, strict=False)) if a != b) \
            if len(code) == len(want) else min(len(code), len(want))
        return CodeCheck(name, address, False, trailer == want_trailer,
                         f"runtime code differs from the build at byte {differs:,}")
    immutables = sum(len(spans) for spans in refs.values())
    metadata_equal = trailer == want_trailer
    detail = (f"runtime code equals the build ({len(built):,} bytes, {immutables} immutable "
              f"slot(s) masked; metadata hash "
              f"{'equal too' if metadata_equal else 'differs (other source paths or comments)'})")
    return CodeCheck(name, address, True, metadata_equal, detail)


def check_contracts(attestia: Any, artifacts: dict[str, Artifact]) -> list[CodeCheck]:
    """Each contract the handle knows (its deployment's names) against the build."""
    from web3 import Web3

    w3 = attestia.chain.w3
    checks = []
    for name, entry in attestia.deployment.contracts.items():
        address = Web3.to_checksum_address(entry["address"])
        artifact = artifacts.get(name)
        if artifact is None:
            checks.append(CodeCheck(name, address, False, False,
                                    "this checkout builds no contract of that name"))
            continue
        checks.append(compare_code(name, address, bytes(w3.eth.get_code(address)), artifact))
    return checks
