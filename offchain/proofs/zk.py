"""Zero-knowledge proofs of inference with EZKL (Halo2 + KZG on BN254), verified on-chain.

A ZK record says "this model, on the input whose Poseidon hash is h, produced these logits",
and anyone can check it with the model's own verifier contract. The circuit is set up once per
model (:func:`zk_setup`), then every inference is proved (:func:`prove`).

Why the circuit looks the way it does:

- input visibility ``hashed``: the first public instance is Poseidon(quantized input), so the
  proof is bound to one input without revealing it; whoever later sees the input recomputes
  the hash (:func:`input_hash_instance`).
- param visibility ``fixed``: the weights live in the verification key, so a proof made for
  any other model (same shape, other weights) fails on this model's verifier.
- output visibility ``public``: the quantized logits are instances, so
  ``outputCommitment = keccak256(abi.encodePacked(uint256[] instances))`` (design.md,
  :func:`output_binding`) commits to input hash and outputs at once.
- one verifier contract per model: measured on Anvil for the demo 30-16-2 MLP, a per-model
  verifier costs ~540k gas per verify (3.35M to deploy, 15.2 KB runtime), EZKL's reusable
  verifier ~720k per verify plus ~187k per ``registerVka``; per-model pays for itself after
  ~18 proofs and returns a plain ABI ``bool``.
- ``num_inner_cols=1, decomp_base=1024, decomp_legs=2``: fits the 30-16-2 MLP (and the
  Poseidon hash of its 30 inputs) into 2^11 rows with fewer columns; two inner columns cost
  ~650k gas per verify for the same proving time.

EZKL needs an SRS (structured reference string). A locally generated one is TEST-ONLY:
whoever generated it can forge proofs, so it is allowed on the Anvil chain (31337) only and
every artifact made with it says so. Real chains need a ceremony SRS (``srs_path``).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak

from offchain.build import EVM_VERSION, SHIM, SOLC_VERSION
from offchain.config import ANVIL_CHAIN_ID, REPO_ROOT
from offchain.errors import AttestiaError, CompileError, ToolchainError
from offchain.protocol import FIELD_MODULUS
from offchain.protocol import ZkProof as OnchainZkProof
from offchain.storage.atomic import atomic_write_json, replacing_dir

log = logging.getLogger(__name__)

FORMAT = "attestia-zk/2"  # /2: "content_hash" (sha-256 of the ONNX file) replaced "model_id"
MANIFEST_NAME = "zk.json"
EZKL_VERSION = "23.0.5"
LOCAL_SRS_NOTICE = "LOCAL TEST-ONLY SRS — NOT SECURE"
EIP170_LIMIT = 24_576
VERIFIER_CONTRACT = "Halo2Verifier"
VERIFY_SIGNATURE = "verifyProof(bytes,uint256[])"
VERIFY_SELECTOR = keccak(text=VERIFY_SIGNATURE)[:4]
VISIBILITY = {"input": "hashed", "params": "fixed", "output": "public"}
CIRCUIT_ARGS: dict[str, Any] = {"num_inner_cols": 1, "decomp_base": 1024, "decomp_legs": 2}
SOLC_OPTIMIZER = {"enabled": True, "runs": 200}

# Artifact files inside the setup directory (names are part of the format).
FILES = {
    "onnx": "model.onnx",
    "settings": "settings.json",
    "calibration": "calibration.json",
    "compiled": "model.compiled",
    "srs": "kzg.srs",
    "vk": "vk.key",
    "pk": "pk.key",
    "verifier_sol": "Verifier.sol",
}


class ZkError(AttestiaError):
    """Base of every error raised by ``offchain.proofs.zk``."""


class SrsError(ZkError):
    """No acceptable SRS: a local test SRS on a real chain, or a file that is unusable."""


class ZkSetupError(ZkError):
    """The circuit, keys or verifier for a model could not be built."""


class ZkArtifactsError(ZkError):
    """A setup directory is incomplete or its files differ from what its manifest records."""


class ZkInputError(ZkError):
    """An input cannot be proved: wrong size, NaN/inf, or outside the calibrated range."""


class ZkProveError(ZkError):
    """EZKL failed to produce or encode a proof for an acceptable input."""


@dataclass(frozen=True)
class ZkArtifacts:
    """A model's circuit, keys and verifier, as recorded in ``<directory>/zk.json``."""

    directory: Path
    manifest: dict[str, Any]

    def path(self, kind: str) -> Path:
        """Absolute path of one artifact file (``kind`` is a key of :data:`FILES`)."""
        return self.directory / self.manifest["files"][kind]["path"]

    @property
    def content_hash(self) -> bytes:
        """sha-256 of the circuit's ONNX file: the package's ``onnx_sha256`` (its registered
        content hash is the ModelSpec over it and the integer weights; the on-chain model id
        is per owner; the circuit is per file)."""
        return bytes.fromhex(self.manifest["content_hash"][2:])

    @property
    def logrows(self) -> int:
        return int(self.manifest["logrows"])

    @property
    def input_scale(self) -> int:
        return int(self.manifest["scales"]["input"])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.manifest["input_shape"])

    @property
    def test_only_srs(self) -> bool:
        return bool(self.manifest["srs_test_only"])

    @property
    def verifier_abi(self) -> list[dict[str, Any]]:
        return self.manifest["verifier"]["abi"]

    @property
    def verifier_bytecode(self) -> bytes:
        """Creation bytecode of the model's verifier contract."""
        return bytes.fromhex(self.manifest["verifier"]["bytecode"][2:])


@dataclass(frozen=True)
class ZkProof:
    """A proof as the on-chain verifier takes it: ``verifyProof(proof, instances)``.

    ``instances`` are canonical field elements (``0 <= v < FIELD_MODULUS``) as uint256, in
    the verifier's order: Poseidon hash of the input, then the quantized outputs (negative
    values wrap to ``FIELD_MODULUS - |v|``). ``outputs`` are those outputs dequantized.
    """

    proof: bytes
    instances: tuple[int, ...]
    outputs: np.ndarray
    prove_s: float

    @property
    def input_hash(self) -> int:
        return self.instances[0]

    @property
    def proof_hash(self) -> bytes:
        """``keccak256(proof bytes)``: the record's proofHash for kind ZK (design.md)."""
        return bytes(keccak(self.proof))

    @property
    def output_commitment(self) -> bytes:
        return output_binding(self.instances)

    def calldata(self) -> bytes:
        """Transaction data for ``verifyProof(bytes,uint256[])`` on the model's verifier."""
        return verifier_calldata(self.proof, self.instances)

    def onchain(self) -> OnchainZkProof:
        """The ``ZkProof{proof, instances}`` a ZK record carries (``fulfillZk``)."""
        return OnchainZkProof(self.proof, tuple(self.instances))


# ----------------------------------------------------------------------------- pure core


def output_binding(instances: Sequence[int]) -> bytes:
    """``keccak256(abi.encodePacked(uint256[] instances))``: the ZK outputCommitment."""
    words = []
    for value in instances:
        if not isinstance(value, int) or not 0 <= value < 2**256:
            raise ValueError(f"instance {value!r} is not a uint256")
        words.append(value.to_bytes(32, "big"))
    return bytes(keccak(b"".join(words)))


def felt_to_uint(felt_hex: str) -> int:
    """EZKL writes field elements as 32-byte little-endian hex; the EVM takes uint256."""
    raw = bytes.fromhex(felt_hex.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"field element must be 32 bytes, got {len(raw)}")
    return int.from_bytes(raw, "little")


def uint_to_felt(value: int) -> str:
    """Inverse of :func:`felt_to_uint`; rejects values outside the BN254 scalar field."""
    if not 0 <= value < FIELD_MODULUS:
        raise ValueError(f"{value} is not a BN254 field element")
    return value.to_bytes(32, "little").hex()


def dequantize(values: Sequence[int], scale: int) -> np.ndarray:
    """Field elements that encode signed fixed-point numbers at ``2**scale`` -> floats."""
    half = FIELD_MODULUS // 2
    signed = [v - FIELD_MODULUS if v > half else v for v in values]
    return np.asarray(signed, dtype=np.float64) / float(2**scale)


def verifier_calldata(proof: bytes, instances: Sequence[int]) -> bytes:
    """ABI-encoded ``verifyProof(bytes proof, uint256[] instances)`` call."""
    return VERIFY_SELECTOR + abi_encode(["bytes", "uint256[]"], [bytes(proof), list(instances)])


def decode_verifier_calldata(data: bytes) -> tuple[bytes, tuple[int, ...]]:
    """(proof, instances) from ``verifyProof`` calldata (as ``encode_evm_calldata`` writes)."""
    if data[:4] != VERIFY_SELECTOR:
        raise ValueError(f"calldata selector 0x{data[:4].hex()} is not {VERIFY_SIGNATURE}")
    proof, instances = abi_decode(["bytes", "uint256[]"], data[4:])
    return bytes(proof), tuple(int(v) for v in instances)


def srs_logrows(header: bytes) -> int:
    """log2 of an SRS file's size: halo2's KZG params start with ``k`` as a u32 LE."""
    if len(header) < 4:
        raise ValueError("SRS file is shorter than its 4-byte header")
    return int.from_bytes(header[:4], "little")


def require_secure_srs(artifacts: ZkArtifacts, chain_id: int) -> None:
    """Refuse to use artifacts built on a local test SRS anywhere but the Anvil chain."""
    if artifacts.test_only_srs and chain_id != ANVIL_CHAIN_ID:
        raise SrsError(
            f"{artifacts.directory} was set up with a {LOCAL_SRS_NOTICE} (its maker can forge "
            f"proofs) and chain {chain_id} is not the local dev chain ({ANVIL_CHAIN_ID}): "
            "run the ZK setup again with --srs PATH to a ceremony SRS"
        )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- EZKL calls


def _ezkl() -> Any:
    try:
        import ezkl
    except ImportError as exc:
        raise ToolchainError(
            f"ezkl is not installed: pip install 'attestia[zk]' (ezkl=={EZKL_VERSION})"
        ) from exc
    return ezkl


def _call(error: type[ZkError], name: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``ezkl.<name>``, awaiting it if it is async, and turn failures into ``error``.

    Some EZKL functions (create_evm_verifier, create_evm_vka) return awaitables that need a
    running event loop at call time, so every call runs inside a coroutine; from a thread
    that already runs a loop, a private thread gets its own. Rust panics surface as
    ``pyo3_runtime.PanicException``, a BaseException, hence the wide catch.
    """
    fn: Callable[..., Any] = getattr(_ezkl(), name)
    args = tuple(str(a) if isinstance(a, Path) else a for a in args)  # some take str only
    kwargs = {k: str(v) if isinstance(v, Path) else v for k, v in kwargs.items()}

    async def run() -> Any:
        result = fn(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(run())
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, run()).result()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: B036 (PanicException derives from BaseException)
        raise error(f"ezkl.{name} failed: {str(exc).strip() or type(exc).__name__}") from exc


def _input_shape(onnx_path: Path) -> tuple[int, ...]:
    import onnx

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:
        raise ZkSetupError(f"{onnx_path} is not a readable ONNX model: {exc}") from exc
    weights = {tensor.name for tensor in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    if len(inputs) != 1:
        raise ZkSetupError(f"{onnx_path}: expected one graph input, found {len(inputs)}")
    dims = inputs[0].type.tensor_type.shape.dim
    return tuple(d.dim_value if d.dim_value > 0 else 1 for d in dims)


def _as_rows(values: np.ndarray, width: int, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float32)
    if array.size == 0 or array.size % width:
        raise ZkInputError(
            f"{what} has {array.size} values; the model takes rows of {width} values"
        )
    if not np.all(np.isfinite(array)):
        raise ZkInputError(f"{what} contains NaN or infinity")
    return array.reshape(-1, width)


def _write_json(path: Path, data: Any) -> None:
    atomic_write_json(path, data, indent=1)


# ----------------------------------------------------------------------------- setup


EZKL_LOG = "ezkl.log"
"""Where EZKL's own output (calibration tables, progress) goes, beside the artifacts."""
MAX_SRS_K = 28


def check_srs_file(srs_path: str | Path) -> int:
    """``k`` of a KZG SRS file, checked before anything is written: the file exists, starts
    with a plausible ``k`` and holds at least 2^k points. SrsError otherwise."""
    path = Path(srs_path)
    if not path.is_file():
        raise SrsError(f"SRS file not found: {srs_path}")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            header = handle.read(4)
    except OSError as exc:
        raise SrsError(f"cannot read the SRS file {srs_path}: {exc.strerror}") from None
    try:
        k = srs_logrows(header)
    except ValueError as exc:
        raise SrsError(f"{srs_path} is not a KZG SRS file: {exc}") from None
    if not 1 <= k <= MAX_SRS_K or size < 4 + 32 * 2**k:
        raise SrsError(f"{srs_path} is not a KZG SRS file (its header says 2^{k} points, the "
                       f"file has {size} bytes): pass a ceremony SRS such as EZKL's kzg<k>.srs")
    return k


@contextmanager
def quiet_ezkl(log_path: Path) -> Iterator[None]:
    """Send what EZKL's native code writes to file descriptors 1 and 2 (its calibration
    tables, progress lines) to ``log_path`` instead of the terminal, so that ``--json`` output
    stays parseable; Python's own ``sys.stdout``/``sys.stderr`` keep writing where they did."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    python_streams = sys.stdout, sys.stderr
    own_out = os.fdopen(os.dup(saved[1]), "w", buffering=1, encoding="utf-8")
    own_err = os.fdopen(os.dup(saved[2]), "w", buffering=1, encoding="utf-8")
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("ab")
    except OSError:  # a read-only package: EZKL's chatter is dropped, never the work
        log = open(os.devnull, "ab")  # noqa: SIM115 (closed by the with below)
    root = logging.getLogger()
    kept_handlers = list(root.handlers)
    log_text = open(log.fileno(), "w", encoding="utf-8", buffering=1,  # noqa: SIM115
                    closefd=False)
    to_file = logging.StreamHandler(log_text)  # EZKL's Python logging

    class Route(logging.Handler):
        """Attestia's own log records go where they went; EZKL's (``ezkl.*``, ``tract_*``,
        ``halo2*``: its Rust crates log through Python) go to the file."""

        def emit(self, record: logging.LogRecord) -> None:
            if not record.name.startswith(("offchain", "attestia")):
                to_file.handle(record)
                return
            fallback = [logging.lastResort] if logging.lastResort is not None else []
            for handler in kept_handlers or fallback:
                if record.levelno >= handler.level:
                    handler.handle(record)

    with log:
        try:
            sys.stdout, sys.stderr = own_out, own_err
            root.handlers = [Route()]
            for fd in (1, 2):
                os.dup2(log.fileno(), fd)
            yield
        finally:
            root.handlers = kept_handlers
            log_text.flush()
            for stream in (own_out, own_err):
                stream.flush()
            for fd in (1, 2):
                os.dup2(saved[fd], fd)
                os.close(saved[fd])
            sys.stdout, sys.stderr = python_streams
            own_out.close()
            own_err.close()


def zk_setup(
    onnx_path: str | Path,
    out_dir: str | Path,
    *,
    srs_path: str | Path | None = None,
    chain_id: int,
    sample_input: np.ndarray,
) -> ZkArtifacts:
    """Build the circuit, keys and per-model verifier for an ONNX model; write ``zk.json``.

    ``sample_input`` (rows of the model's input) calibrates the fixed-point scales: inputs far
    outside its range may not fit the circuit. Without ``srs_path`` a local TEST-ONLY SRS is
    generated, which is allowed only for ``chain_id`` 31337.

    Everything is built in a temporary directory beside ``out_dir`` and moved in place only
    when complete: a failure (a bad or too small SRS, an EZKL error) leaves an existing
    ``out_dir`` as it was. EZKL's own output goes to ``out_dir/ezkl.log``.
    """
    if srs_path is None and chain_id != ANVIL_CHAIN_ID:
        raise SrsError(
            f"chain {chain_id} needs a ceremony SRS: a locally generated SRS lets whoever made "
            f"it forge proofs, so it is only allowed on the local dev chain ({ANVIL_CHAIN_ID}). "
            "Pass --srs PATH (a KZG SRS from a public ceremony, e.g. EZKL's kzg<k>.srs files)"
        )
    source = Path(onnx_path)
    if not source.is_file():
        raise ZkSetupError(f"ONNX model not found: {source}")
    srs_k = check_srs_file(srs_path) if srs_path is not None else None
    input_shape = _input_shape(source)
    rows = _as_rows(sample_input, int(np.prod(input_shape)), "sample_input")
    target = Path(out_dir)
    with replacing_dir(target) as out, quiet_ezkl(out / EZKL_LOG):
        manifest = _setup_in(out, source, rows, input_shape, srs_path=srs_path,
                             srs_k=srs_k, chain_id=chain_id)
    log.log(logging.WARNING if srs_path is None else logging.INFO,
            "ZK setup for %s done: logrows %d, verifier %d bytes, %.1f s, SRS: %s", source,
            manifest["logrows"], manifest["verifier"]["runtime_bytes"], manifest["setup_s"],
            manifest["srs"])
    return ZkArtifacts(target, manifest)


def _setup_in(out: Path, source: Path, rows: np.ndarray, input_shape: tuple[int, ...], *,
              srs_path: str | Path | None, srs_k: int | None, chain_id: int
              ) -> dict[str, Any]:
    """The EZKL steps of :func:`zk_setup`, writing into the (new, empty) ``out``."""
    started = time.perf_counter()
    path = {kind: out / name for kind, name in FILES.items()}
    shutil.copyfile(source, path["onnx"])
    _write_json(path["calibration"], {"input_data": [rows.reshape(-1).tolist()]})

    ezkl = _ezkl()
    run_args = ezkl.PyRunArgs()
    run_args.input_visibility = VISIBILITY["input"]
    run_args.param_visibility = VISIBILITY["params"]
    run_args.output_visibility = VISIBILITY["output"]
    for name, value in CIRCUIT_ARGS.items():
        setattr(run_args, name, value)
    _call(ZkSetupError, "gen_settings", path["onnx"], path["settings"], py_run_args=run_args)
    _call(ZkSetupError, "calibrate_settings", path["calibration"], path["onnx"],
          path["settings"], "resources")
    _call(ZkSetupError, "compile_circuit", path["onnx"], path["compiled"], path["settings"])
    settings = json.loads(path["settings"].read_text())
    logrows = int(settings["run_args"]["logrows"])

    if srs_path is None:
        log.warning("%s: generating a local SRS for chain %d; whoever holds it can forge "
                    "proofs. Never use these artifacts on a real chain.",
                    LOCAL_SRS_NOTICE, chain_id)
        _call(ZkSetupError, "gen_srs", path["srs"], logrows)
    else:
        assert srs_k is not None
        if srs_k < logrows:
            raise SrsError(f"SRS {srs_path} has 2^{srs_k} points; this circuit needs "
                           f"2^{logrows}: pass an SRS with k >= {logrows}")
        shutil.copyfile(srs_path, path["srs"])
    _call(ZkSetupError, "setup", path["compiled"], path["vk"], path["pk"],
          srs_path=path["srs"])

    abi, bytecode, runtime_size = _build_verifier(path)
    setup_s = time.perf_counter() - started
    manifest = _manifest(out, settings, input_shape, abi, bytecode, runtime_size,
                         srs_path=srs_path, chain_id=chain_id, setup_s=setup_s)
    _write_json(out / MANIFEST_NAME, manifest)
    return manifest


def _build_verifier(path: dict[str, Path]) -> tuple[list[dict[str, Any]], str, int]:
    """Render the verifier with EZKL, compile it with solc-js; (abi, bytecode, runtime size).

    EZKL writes the .sol and then tries to download solc to compile it, which fails offline;
    that failure is expected, a missing .sol is not.
    """
    sol = path["verifier_sol"]
    sol.unlink(missing_ok=True)
    abi_path = sol.with_suffix(".ezkl-abi.json")
    try:
        _call(ZkSetupError, "create_evm_verifier", path["vk"], path["settings"], sol, abi_path,
              srs_path=path["srs"], reusable=False)
    except ZkSetupError as exc:
        if not sol.is_file() or f"contract {VERIFIER_CONTRACT}" not in sol.read_text():
            raise ZkSetupError(f"EZKL wrote no Solidity verifier: {exc}") from exc
        log.debug("create_evm_verifier wrote %s, then failed as expected offline: %s", sol, exc)
    abi_path.unlink(missing_ok=True)
    contract = compile_verifier(sol)
    runtime_size = len(contract["evm"]["deployedBytecode"]["object"]) // 2
    if runtime_size > EIP170_LIMIT:
        raise ZkSetupError(
            f"the verifier's runtime code is {runtime_size} bytes, over the EIP-170 limit of "
            f"{EIP170_LIMIT}: the circuit has too many columns for one contract"
        )
    return contract["abi"], "0x" + contract["evm"]["bytecode"]["object"], runtime_size


def compile_verifier(sol_path: Path, contract: str = VERIFIER_CONTRACT) -> dict[str, Any]:
    """Compile EZKL's verifier with solc-js (shanghai, optimizer 200); the contract's output."""
    if shutil.which("node") is None:
        raise ToolchainError("node is not installed: install Node.js 20 (needed by solc-js)")
    standard_input = {
        "language": "Solidity",
        "sources": {sol_path.name: {"content": sol_path.read_text()}},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": SOLC_OPTIMIZER,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object",
                                            "evm.deployedBytecode.object"]}},
        },
    }
    try:
        done = subprocess.run(
            ["node", str(SHIM), "contracts", "node_modules"], input=json.dumps(standard_input),
            capture_output=True, text=True, cwd=REPO_ROOT, timeout=300, check=False,
        )
        output = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        raise ToolchainError(f"solc-js could not compile {sol_path}: {exc}") from exc
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    try:
        return output["contracts"][sol_path.name][contract]
    except KeyError as exc:
        raise CompileError(f"{sol_path} does not define contract {contract}") from exc


def _manifest(
    out: Path, settings: dict[str, Any], input_shape: tuple[int, ...], abi: list, bytecode: str,
    runtime_size: int, *, srs_path: str | Path | None, chain_id: int, setup_s: float,
) -> dict[str, Any]:
    output_shapes = [list(shape) for shape in settings["model_instance_shapes"]]
    output_scales = [int(s) for s in settings["model_output_scales"]]
    layout: list[dict[str, Any]] = [{"index": 0, "name": "input_hash",
                                     "meaning": "Poseidon hash of the quantized input"}]
    for number, (shape, scale) in enumerate(zip(output_shapes, output_scales, strict=True)):
        for flat in range(int(np.prod(shape))):
            layout.append({"index": len(layout), "name": f"output{number}[{flat}]",
                           "meaning": "quantized output", "scale": scale})
    files = {kind: {"path": name, "sha256": _sha256_file(out / name)}
             for kind, name in FILES.items()}
    test_only = srs_path is None
    return {
        "format": FORMAT,
        "ezkl_version": EZKL_VERSION,
        "content_hash": "0x" + files["onnx"]["sha256"],
        "chain_id": chain_id,
        "srs": LOCAL_SRS_NOTICE if srs_path is None else f"provided: {Path(srs_path).resolve()}",
        "srs_test_only": test_only,
        "logrows": int(settings["run_args"]["logrows"]),
        "scales": {"input": int(settings["run_args"]["input_scale"]),
                   "params": int(settings["run_args"]["param_scale"]),
                   "outputs": output_scales},
        "visibility": VISIBILITY,
        "circuit_args": {name: settings["run_args"][name] for name in CIRCUIT_ARGS},
        "input_shape": list(input_shape),
        "output_shapes": output_shapes,
        "instance_layout": layout,
        "files": files,
        "verifier": {
            "kind": "per-model",
            "contract": VERIFIER_CONTRACT,
            "function": VERIFY_SIGNATURE,
            "abi": abi,
            "bytecode": bytecode,
            "runtime_bytes": runtime_size,
            "compiler": {"solc": SOLC_VERSION, "evmVersion": EVM_VERSION,
                         "optimizer": SOLC_OPTIMIZER},
        },
        "setup_s": round(setup_s, 3),
    }


def load_artifacts(directory: str | Path) -> ZkArtifacts:
    """Read ``zk.json`` and check every file it lists against its sha-256."""
    root = Path(directory)
    manifest_path = root / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise ZkArtifactsError(f"{manifest_path} is missing: run the ZK setup") from None
    except ValueError as exc:
        raise ZkArtifactsError(f"{manifest_path} is not valid JSON: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise ZkArtifactsError(
            f"{manifest_path} has format {manifest.get('format')!r}, expected {FORMAT!r}: "
            "run the ZK setup again"
        )
    for kind in FILES:
        entry = manifest["files"].get(kind)
        file = root / entry["path"] if entry else None
        if file is None or not file.is_file():
            raise ZkArtifactsError(f"{root}: the {kind} file is missing: run the ZK setup again")
        if _sha256_file(file) != entry["sha256"]:
            raise ZkArtifactsError(
                f"{file} does not match the sha-256 in {manifest_path}: the artifacts were "
                "altered; run the ZK setup again"
            )
    return ZkArtifacts(root, manifest)


# ----------------------------------------------------------------------------- prove/verify


def prove(artifacts: ZkArtifacts, x: np.ndarray) -> ZkProof:
    """Prove one inference on ``x`` (one row of the model's input); ``prove_s`` is wall time."""
    width = int(np.prod(artifacts.input_shape))
    row = _as_rows(x, width, "input")
    if len(row) != 1:
        raise ZkInputError(f"prove takes one input row of {width} values, got {len(row)} rows")
    with tempfile.TemporaryDirectory(prefix="attestia-zk-") as tmp, \
            quiet_ezkl(artifacts.directory / EZKL_LOG):
        work = Path(tmp)
        _write_json(work / "input.json", {"input_data": [row[0].tolist()]})
        started = time.perf_counter()
        try:
            _call(ZkProveError, "gen_witness", work / "input.json", artifacts.path("compiled"),
                  work / "witness.json")
        except ZkProveError as exc:
            raise ZkInputError(
                f"the input does not fit the circuit (values far outside the calibration "
                f"sample overflow its fixed-point range): {exc}"
            ) from exc
        _call(ZkProveError, "prove", work / "witness.json", artifacts.path("compiled"),
              artifacts.path("pk"), work / "proof.json", srs_path=artifacts.path("srs"))
        prove_s = time.perf_counter() - started
        calldata = _call(ZkProveError, "encode_evm_calldata", work / "proof.json",
                         work / "calldata.bin")
        snark = json.loads((work / "proof.json").read_text())
    proof, instances = decode_verifier_calldata(bytes(calldata))
    # The proof file's own instances (one column, LE felts) must be what the EVM receives.
    columns = snark["instances"]
    if len(columns) != 1 or tuple(felt_to_uint(f) for f in columns[0]) != instances:
        raise ZkProveError("EZKL's calldata instances differ from the proof's instances")
    expected = len(artifacts.manifest["instance_layout"])
    if len(instances) != expected:
        raise ZkProveError(f"the proof has {len(instances)} instances; the layout has {expected}")
    return ZkProof(proof, instances, _outputs(artifacts, instances), prove_s)


def _outputs(artifacts: ZkArtifacts, instances: Sequence[int]) -> np.ndarray:
    scales = artifacts.manifest["scales"]["outputs"]
    shapes = artifacts.manifest["output_shapes"]
    parts, offset = [], 1
    for shape, scale in zip(shapes, scales, strict=True):
        size = int(np.prod(shape))
        parts.append(dequantize(instances[offset:offset + size], scale).reshape(shape))
        offset += size
    return parts[0] if len(parts) == 1 else np.concatenate([p.reshape(-1) for p in parts])


def verify_local(artifacts: ZkArtifacts, proof: ZkProof) -> bool:
    """Check ``proof`` with the model's verification key off-chain (what the contract checks)."""
    try:
        felts = [uint_to_felt(v) for v in proof.instances]
    except ValueError:
        return False
    snark = {"protocol": None, "instances": [felts], "proof": list(proof.proof),
             "hex_proof": "0x" + proof.proof.hex(), "split": None,
             "pretty_public_inputs": None, "timestamp": None, "version": EZKL_VERSION}
    with tempfile.TemporaryDirectory(prefix="attestia-zk-") as tmp:
        proof_path = Path(tmp) / "proof.json"
        _write_json(proof_path, snark)
        try:
            return bool(_call(ZkProveError, "verify", proof_path, artifacts.path("settings"),
                              artifacts.path("vk"), srs_path=artifacts.path("srs")))
        except ZkProveError as exc:  # malformed proof bytes fail inside the transcript
            log.info("proof rejected: %s", exc)
            return False


def zk_input_hash(artifacts: ZkArtifacts, x: np.ndarray) -> bytes:
    """:func:`input_hash_instance` as a request's ``zkInputHash`` (bytes32, big-endian)."""
    return input_hash_instance(artifacts, x).to_bytes(32, "big")


def input_hash_instance(artifacts: ZkArtifacts, x: np.ndarray) -> int:
    """The first instance a proof on ``x`` must carry: Poseidon of the quantized input.

    Lets anyone who is shown the input tie it to a recorded proof without re-proving.
    """
    width = int(np.prod(artifacts.input_shape))
    row = _as_rows(x, width, "input")
    if len(row) != 1:
        raise ZkInputError(f"expected one input row of {width} values, got {len(row)} rows")
    ezkl = _ezkl()
    felts = [ezkl.float_to_felt(float(v), artifacts.input_scale, ezkl.PyInputType.F32)
             for v in row[0]]
    (digest,) = _call(ZkProveError, "poseidon_hash", felts)
    return felt_to_uint(digest)
