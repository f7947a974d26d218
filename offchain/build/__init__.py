"""Compile the contracts: py-solc-x drives solc (native if installed, else solc-js via a shim).

Artifacts land in ``build/`` and are cached by a hash of the sources, the compiler settings
and the npm lock file, so a build with nothing changed reads JSON and never starts Node.

The same key names an entry of a per-user cache (``shared_cache_dir``), so a second home (a
stranger's, a test's) copies the artifacts instead of compiling for a minute. An entry carries
the SHA-256 of each of its files and is checked on every read: a damaged entry is removed and
the contracts compiled again, never loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from offchain.config import REPO_ROOT
from offchain.errors import CompileError, ToolchainError
from offchain.storage.atomic import atomic_write_bytes, atomic_write_json

SOLC_VERSION = "0.8.37"
EVM_VERSION = "shanghai"  # runs on Anvil, Ganache (newest hardfork: shanghai), py-evm and L2s
SHIM = Path(__file__).with_name("solc_driver.js")
CONTRACTS_DIR = REPO_ROOT / "contracts"
COMPILER_SETTINGS: dict = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": EVM_VERSION,
    "remappings": ["@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"],
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.deployedBytecode.object",
                "evm.deployedBytecode.immutableReferences",
                "evm.methodIdentifiers",
                "metadata",
                "storageLayout",
            ]
        }
    },
}


@dataclass(frozen=True)
class Artifact:
    """One compiled contract, as written to build/<name>.json."""

    name: str
    source: str
    abi: list
    bytecode: str
    deployed_bytecode: str
    # AST id -> [{"start": byte offset, "length": n}] of each immutable in deployed_bytecode:
    # the constructor writes their values there, so on-chain code differs at these bytes.
    immutable_references: dict = field(default_factory=dict)

    @property
    def artifact_hash(self) -> str:
        return "0x" + hashlib.sha256(bytes.fromhex(self.bytecode)).hexdigest()

    @classmethod
    def from_json(cls, data: dict) -> Artifact:
        return cls(
            name=data["contractName"],
            source=data["sourceName"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            immutable_references=data.get("immutableReferences", {}),
        )


def solc_binary() -> Path:
    """A native solc installed by py-solc-x when one exists for our version, else the shim."""
    import solcx

    try:
        return Path(solcx.install.get_executable(SOLC_VERSION))
    except Exception:  # not installed: the normal case offline
        pass
    if shutil.which("node") is None:
        raise ToolchainError("node is not installed: install Node.js 20 (needed by solc-js)")
    if not (REPO_ROOT / "node_modules" / "solc").is_dir():
        raise ToolchainError("npm package solc is missing: run `npm ci` in the repository")
    return SHIM


def _sources(contracts_dir: Path) -> dict[str, str]:
    files = sorted(contracts_dir.rglob("*.sol"))
    if not files:
        raise CompileError(f"no Solidity sources under {contracts_dir}")
    return {f"contracts/{p.relative_to(contracts_dir).as_posix()}": p.read_text() for p in files}


def cache_key(sources: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(SOLC_VERSION.encode())
    digest.update(json.dumps(COMPILER_SETTINGS, sort_keys=True).encode())
    digest.update(json.dumps(SERVED_BY_FALLBACK, sort_keys=True).encode())  # merged ABIs
    lock = REPO_ROOT / "package-lock.json"
    if lock.exists():
        digest.update(lock.read_bytes())
    for name, text in sources.items():
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, max(offset, 0)) + 1


def _format_diagnostic(diag: dict, sources: dict[str, str]) -> str:
    loc = diag.get("sourceLocation") or {}
    file = loc.get("file", "")
    text = sources.get(file)
    where = f"{file}:{_line_of(text, loc.get('start', 0))}" if text is not None else file or "solc"
    return f"{where}: {diag.get('type', 'Error')}: {diag.get('message', '').strip()}"


def shared_cache_dir() -> Path:
    """The per-user build cache: ``ATTESTIA_CACHE_DIR``, else ``$XDG_CACHE_HOME/attestia``,
    else ``~/.cache/attestia`` (its ``build/<cache key>/`` entries)."""
    override = os.environ.get("ATTESTIA_CACHE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "attestia"


def compile_contracts(
    build_dir: Path, *, contracts_dir: Path = CONTRACTS_DIR, force: bool = False,
    publish: bool = False,
) -> tuple[dict[str, Artifact], list[str], bool]:
    """Compile every contract; return (artifacts by name, warnings, cached?).

    Cached means no compiler ran: build_dir was current, or the shared cache held the key
    (its files are copied into build_dir). A compile stores its output in the shared cache;
    ``publish`` also stores a current build_dir there (``attestia build`` does, so the home
    that built first serves every later one)."""
    sources = _sources(contracts_dir)
    key = cache_key(sources)
    manifest_path = build_dir / "manifest.json"
    if not force and manifest_path.exists():
        manifest = _read_json(manifest_path)
        if manifest is not None and manifest.get("cacheKey") == key:
            artifacts = _load_artifacts(build_dir, manifest["contracts"])
            if publish:
                _share(build_dir, key, manifest["contracts"])
            return artifacts, [], True
    if not force:
        names = _restore_shared(key, build_dir)
        if names is not None:
            return _load_artifacts(build_dir, names), [], True

    import solcx
    from solcx.exceptions import SolcError

    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": COMPILER_SETTINGS,
    }
    try:
        output = solcx.compile_standard(
            standard_input,
            solc_binary=solc_binary(),
            base_path=str(REPO_ROOT),
            allow_paths=str(REPO_ROOT),
        )
    except SolcError as exc:
        diags = [d for d in (exc.error_dict or []) if d.get("severity") == "error"]
        lines = [_format_diagnostic(d, sources) for d in diags] or [str(exc).splitlines()[0]]
        raise CompileError("\n".join(lines)) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ToolchainError(f"the Solidity compiler could not run: {exc}") from None
    warnings = [
        _format_diagnostic(d, sources)
        for d in output.get("errors", [])
        if d.get("severity") == "warning" and d.get("sourceLocation", {}).get("file") in sources
    ]
    artifacts = _write_artifacts(build_dir, output, key, sources)
    _share(build_dir, key, sorted(artifacts))
    return artifacts, warnings, False


# Contracts whose fallback serves another contract's functions at their own address (by
# DELEGATECALL): their artifact ABI lists those functions too, so every client binds one ABI.
# DisputeProofs' own fallback serves OutputDisputes, so the Slasher's ABI lists both.
SERVED_BY_FALLBACK = {"InferenceRegistry": "RegistryViews", "Slasher": "DisputeProofs",
                      "DisputeProofs": "OutputDisputes"}


def _abi_with_served(name: str, contracts: dict) -> list:
    abi = list(contracts[name]["abi"])
    served = SERVED_BY_FALLBACK.get(name)
    while served is not None:
        have = {item.get("name") for item in abi if item["type"] in ("function", "event", "error")}
        abi += [item for item in contracts[served]["abi"]
                if item["type"] in ("function", "event", "error") and item["name"] not in have]
        served = SERVED_BY_FALLBACK.get(served)
    return abi


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _entry_files(names: list[str]) -> list[str]:
    return [f"{name}.json" for name in names] + ["manifest.json"]


def _share(build_dir: Path, key: str, names: list[str]) -> None:
    """Store build_dir's artifacts as the shared cache's entry for key (if it has none).
    The entry appears at once (a rename) or not at all; a cache that cannot be written (a
    read-only home directory) only costs the next home a compile."""
    root = shared_cache_dir() / "build"
    entry = root / key
    if entry.exists():
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        try:
            sums = {}
            for name in _entry_files(names):
                data = (build_dir / name).read_bytes()
                (staging / name).write_bytes(data)
                sums[name] = hashlib.sha256(data).hexdigest()
            (staging / "checksums.json").write_text(json.dumps(sums, indent=1))
            os.rename(staging, entry)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # left only if the rename failed
    except OSError:
        pass


def _restore_shared(key: str, build_dir: Path) -> list[str] | None:
    """Copy the shared cache's entry for key into build_dir; the contract names, or None when
    there is no sound entry (a damaged one is removed, so the compile that follows replaces
    it)."""
    entry = shared_cache_dir() / "build" / key
    sums = _read_json(entry / "checksums.json")
    if sums is None:
        if entry.exists():
            shutil.rmtree(entry, ignore_errors=True)
        return None
    manifest = _read_json(entry / "manifest.json")
    files: dict[str, bytes] = {}
    sound = manifest is not None and manifest.get("cacheKey") == key
    if sound and manifest is not None:
        wanted = _entry_files(manifest.get("contracts", []))
        sound = set(wanted) == set(sums)
        for name in wanted if sound else []:
            try:
                data = (entry / name).read_bytes()
            except OSError:
                sound = False
                break
            if hashlib.sha256(data).hexdigest() != sums[name]:
                sound = False
                break
            files[name] = data
    if not sound or manifest is None:
        shutil.rmtree(entry, ignore_errors=True)
        return None
    build_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():  # the manifest last: until it lands, no cache hit here
        if name != "manifest.json":
            atomic_write_bytes(build_dir / name, data)
    atomic_write_bytes(build_dir / "manifest.json", files["manifest.json"])
    return list(manifest["contracts"])


def _write_artifacts(
    build_dir: Path, output: dict, key: str, sources: dict[str, str]
) -> dict[str, Artifact]:
    build_dir.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    by_name = {name: data for contracts in output["contracts"].values()
               for name, data in contracts.items()}
    artifacts: dict[str, Artifact] = {}
    for source_name, contracts in output["contracts"].items():
        if source_name not in sources:
            continue  # library dependencies (OpenZeppelin) are not deployable artifacts
        for name, data in contracts.items():
            if not data["evm"]["bytecode"]["object"]:
                continue  # interfaces and abstract contracts
            doc = {
                "contractName": name,
                "sourceName": source_name,
                "abi": _abi_with_served(name, by_name),
                "bytecode": data["evm"]["bytecode"]["object"],
                "deployedBytecode": data["evm"]["deployedBytecode"]["object"],
                "immutableReferences": data["evm"]["deployedBytecode"].get(
                    "immutableReferences", {}),
                "methodIdentifiers": data["evm"].get("methodIdentifiers", {}),
                "metadata": data.get("metadata", ""),
                "storageLayout": data.get("storageLayout", {}),
                "compiler": {"version": SOLC_VERSION, "settings": COMPILER_SETTINGS},
            }
            atomic_write_json(build_dir / f"{name}.json", doc, indent=1)
            names.append(name)
            artifacts[name] = Artifact.from_json(doc)
    # Errors ABI of every contract, so revert data from any of them can be decoded.
    manifest = {"cacheKey": key, "contracts": sorted(names), "solc": SOLC_VERSION}
    atomic_write_json(build_dir / "manifest.json", manifest, indent=1)
    return artifacts


def _load_artifacts(build_dir: Path, names: list[str]) -> dict[str, Artifact]:
    return {
        name: Artifact.from_json(json.loads((build_dir / f"{name}.json").read_text()))
        for name in names
    }


def load_artifact(build_dir: Path, name: str) -> Artifact:
    path = build_dir / f"{name}.json"
    if not path.exists():
        raise CompileError(f"no artifact for {name} in {build_dir}: run `attestia build`")
    return Artifact.from_json(json.loads(path.read_text()))
