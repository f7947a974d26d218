"""Check the optional Ape workflow end to end: `ape compile` and `ape run deploy` on a fresh Anvil.

Run with the MAIN venv's python (`make ape-check`); Ape itself runs in .venv-ape as a
subprocess. Steps: link the solc-js shim where py-solc-x looks for solc, start a throwaway
Anvil on a free port (private HOME), compile and deploy with Ape, then confirm over raw
JSON-RPC that every address Ape printed holds code, that Ape ran every wiring step of the plan
(``offchain.chain.plan.WIRING``), and that the wiring took: the registry's ``slasher()`` is the
Slasher Ape deployed. Exit 0 on success; on failure print one ``ape-check: error: ...`` line
and exit non-zero. Works offline.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eth_utils import keccak, to_checksum_address

from offchain.build import EVM_VERSION, SHIM, SOLC_VERSION
from offchain.chain.anvil import anvil_binary, port_in_use, rpc_call
from offchain.chain.deploy import PLAN
from offchain.chain.plan import WIRING
from offchain.errors import AttestiaError, ChainError, ConfigError, ToolchainError

REPO_ROOT = Path(__file__).resolve().parent.parent
APE_VENV = REPO_ROOT / ".venv-ape"
APE_CONFIG = REPO_ROOT / "ape-config.yaml"
PORT_RANGE = (20000, 29999)
ANVIL_READY_S = 15.0
STEP_TIMEOUT_S = 600.0
ADDRESS_LINE = re.compile(r"^([A-Za-z_]\w*) (0x[0-9a-fA-F]{40})$")
WIRING_LINE = re.compile(r"^([A-Za-z_]\w*\.[A-Za-z_]\w*)$")


class ApeCheckError(AttestiaError):
    """The Ape workflow did not compile, deploy or leave code where it said it did."""


# ---------------------------------------------------------------- pure helpers


def parse_addresses(output: str) -> dict[str, str]:
    """``<Contract> <0xaddress>`` lines of deploy output, in order; other lines are logs."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        match = ADDRESS_LINE.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def parse_wiring(output: str) -> list[str]:
    """``<Contract>.<function>`` lines of deploy output (one per wiring call made), in order."""
    return [m.group(1) for line in output.splitlines()
            if (m := WIRING_LINE.match(line.strip()))]


def wiring_steps(wiring: list[tuple[str, str, object]] = WIRING) -> list[str]:
    """``<Contract>.<function>`` of every step of offchain.chain.plan.WIRING, in order."""
    return [f"{name}.{function}" for name, function, _ in wiring]


def check_wiring(done: list[str], expected: list[str]) -> None:
    """Ape must have made exactly the wiring calls of the plan, in order."""
    if done != expected:
        raise ApeCheckError(
            f"`ape run deploy` made the wiring calls {done or 'none'}, expected {expected} "
            "(offchain.chain.plan.WIRING): see its output above"
        )


def slasher_of(url: str, registry: str) -> str:
    """The registry's ``slasher()`` on the chain at ``url`` (raw eth_call)."""
    data = "0x" + keccak(text="slasher()")[:4].hex()
    word = str(rpc_call(url, "eth_call", [{"to": registry, "data": data}, "latest"]))
    if len(word) != 66:
        raise ApeCheckError(f"InferenceRegistry.slasher() at {registry} answered {word!r}")
    return to_checksum_address("0x" + word[-40:])


def check_slasher(url: str, addresses: dict[str, str]) -> None:
    """The registry names the Slasher Ape deployed (setSlasher took)."""
    if "InferenceRegistry" not in addresses or "Slasher" not in addresses:
        return
    actual = slasher_of(url, addresses["InferenceRegistry"])
    if actual.lower() != addresses["Slasher"].lower():
        raise ApeCheckError(
            f"InferenceRegistry.slasher() is {actual}, not the Slasher Ape deployed "
            f"({addresses['Slasher']}): the setSlasher wiring did not take"
        )


def plan_names(plan: list[tuple[str, object]] = PLAN) -> list[str]:
    """Contract names of offchain.chain.deploy.PLAN, which both deploy paths follow."""
    if not plan:
        raise ConfigError("offchain.chain.deploy.PLAN is empty: there is nothing to check")
    return [name for name, _ in plan]


def check_deployed_names(found: dict[str, str], expected: list[str]) -> None:
    """Ape must report exactly the contracts of PLAN, in PLAN order."""
    if list(found) != expected:
        raise ApeCheckError(
            f"`ape run deploy` reported {list(found) or 'no contracts'}, expected {expected} "
            "(offchain.chain.deploy.PLAN): see its output above"
        )


def check_config(text: str, version: str = SOLC_VERSION, evm: str = EVM_VERSION) -> None:
    """ape-config.yaml must compile like offchain/build: same solc version and EVM target."""
    for key, want in (("version", version), ("evm_version", evm)):
        match = re.search(rf"^\s+{key}:\s*[\"']?([\w.]+)", text, re.MULTILINE)
        got = match.group(1) if match else None
        if got != want:
            raise ConfigError(
                f"ape-config.yaml has solidity {key} {got!r} but offchain/build uses {want!r}: "
                "make them agree"
            )
    if "${ATTESTIA_APE_PORT}" not in text:
        raise ConfigError(
            "ape-config.yaml must set `foundry: host: http://127.0.0.1:${ATTESTIA_APE_PORT}` "
            "so this check can point Ape at its own Anvil"
        )


def failure_line(text: str) -> str:
    """The line of a failed tool's output that says what went wrong.

    A Python traceback ends with the exception; Ape logs its own errors as ``ERROR: ...``
    followed by solc's `` --> file:line:col`` location; otherwise the last line.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "(no output)"
    if "Traceback (most recent call last)" in text:
        return lines[-1]
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("ERROR:"):
            message = " ".join(lines[index].removeprefix("ERROR:").split())
            if index + 1 < len(lines) and lines[index + 1].startswith("-->"):
                message += f" (at {lines[index + 1].removeprefix('-->').strip()})"
            return message
    return lines[-1]


# ---------------------------------------------------------------- shell


def link_solc(solcx_dir: Path, version: str = SOLC_VERSION, shim: Path = SHIM) -> Path:
    """Make ``solcx_dir/solc-v<version>`` a symlink to the solc-js shim (py-solc-x's layout)."""
    solcx_dir.mkdir(parents=True, exist_ok=True)
    link = solcx_dir / f"solc-v{version}"
    target = Path(os.path.relpath(shim, solcx_dir))
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return link
    if link.exists() or link.is_symlink():
        link.unlink()
    link.symlink_to(target)
    return link


def free_port(low: int = PORT_RANGE[0], high: int = PORT_RANGE[1], tries: int = 50) -> int:
    """A random port in [low, high] that nothing listens on."""
    for port in random.sample(range(low, high + 1), k=min(tries, high - low + 1)):
        if not port_in_use(port):
            return port
    raise ChainError(f"no free port found in {low}-{high} after {tries} tries")


@contextmanager
def throwaway_anvil(port: int) -> Iterator[str]:
    """Run Anvil on ``port`` with a private HOME for the duration; yield its URL."""
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="ape-check-anvil-") as home:
        log_path = Path(home) / "anvil.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "HOME": home}, start_new_session=True,
            )
        try:
            deadline = time.monotonic() + ANVIL_READY_S
            while True:
                if proc.poll() is not None:
                    raise ChainError(
                        f"anvil exited at start-up (code {proc.returncode}): "
                        f"{failure_line(log_path.read_text(errors='replace'))}"
                    )
                try:
                    rpc_call(url, "eth_chainId", timeout=0.5)
                    break
                except (OSError, ChainError, ValueError):
                    if time.monotonic() > deadline:
                        raise ChainError(
                            f"anvil did not answer on {url} within {ANVIL_READY_S:.0f} s"
                        ) from None
                    time.sleep(0.01)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_ape(args: list[str], env: dict[str, str]) -> str:
    """Run ``.venv-ape/bin/ape ARGS`` in the repository; stdout, or ApeCheckError on failure."""
    ape = APE_VENV / "bin" / "ape"
    try:
        done = subprocess.run(
            [str(ape), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
            timeout=STEP_TIMEOUT_S, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise ApeCheckError(f"`ape {' '.join(args)}` took over {STEP_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        output = f"{done.stdout}\n{done.stderr}"
        sys.stderr.write(output)  # the full log above, the one-line summary below
        raise ApeCheckError(
            f"`ape {' '.join(args)}` failed (exit {done.returncode}): {failure_line(output)}"
        )
    return done.stdout


def check_code(url: str, addresses: dict[str, str]) -> None:
    """Every address must hold contract code on the chain at ``url``."""
    for name, address in addresses.items():
        code = str(rpc_call(url, "eth_getCode", [address, "latest"]))
        if code in ("0x", "0x0", ""):
            raise ApeCheckError(f"{name} at {address} has no code on {url}")


def link_ape_solc() -> Path:
    """What Ape needs beside its venv to compile offline: ``.venv-ape/solcx/solc-v<version>``
    linked to the solc-js shim (``make ape-setup`` and ``make ape-check`` make it, so the
    README's by-hand commands work from a fresh clone). Returns the solcx directory."""
    solcx_dir = APE_VENV / "solcx"
    link_solc(solcx_dir)
    return solcx_dir


def parse_args(argv: list[str]) -> tuple[int | None, bool]:
    """``[--port N] [--link]`` -> (port or None, link only?); ConfigError otherwise."""
    port: int | None = None
    link_only = False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--link":
            link_only = True
        elif arg == "--port" and args:
            text = args.pop(0)
            if not text.isdecimal() or not 1 <= int(text) <= 65535:
                raise ConfigError(f"--port (APE_PORT) must be a TCP port 1-65535, got {text!r}")
            port = int(text)
        else:
            raise ConfigError(f"unknown argument {arg!r}: usage ape_check.py [--port N] [--link]")
    return port, link_only


def ape_check(port: int | None = None) -> str:
    """The whole check; returns a one-line summary. Raises AttestiaError subclasses.
    ``port``: the Anvil port to use (``make ape-check APE_PORT=N``), else a free one."""
    started = time.monotonic()
    if port is not None and port_in_use(port):
        raise ChainError(f"port {port} is in use: pick another APE_PORT (or leave it out for a "
                         "free port)")
    ape = APE_VENV / "bin" / "ape"
    if not ape.exists():
        raise ToolchainError(
            f"{ape} is missing: create the Ape venv with `make ape-check` "
            "(python3 -m venv .venv-ape && .venv-ape/bin/pip install -r requirements/ape.lock)"
        )
    if not APE_CONFIG.exists():
        raise ConfigError(f"{APE_CONFIG} is missing: restore it from git")
    check_config(APE_CONFIG.read_text())
    expected = plan_names()
    solcx_dir = link_ape_solc()
    anvil = anvil_binary()
    env = {
        **os.environ,
        "SOLCX_BINARY_PATH": str(solcx_dir),
        # Ape's global config and caches stay in the project, away from the user's ~/.ape.
        "APE_DATA_FOLDER": str(APE_VENV / "ape-data"),
        # ape-foundry looks for `anvil` on PATH.
        "PATH": f"{anvil.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    t0 = time.monotonic()
    run_ape(["compile"], env)
    compile_s = time.monotonic() - t0
    # Chosen only now so nothing else can take the port during the compile.
    if port is None:
        port = free_port()
    elif port_in_use(port):
        raise ChainError(f"port {port} was taken during the compile: pick another APE_PORT")
    env["ATTESTIA_APE_PORT"] = str(port)  # ape-config.yaml: foundry host
    with throwaway_anvil(port) as url:
        t0 = time.monotonic()
        output = run_ape(["run", "deploy", "--network", "ethereum:local:foundry"], env)
        deploy_s = time.monotonic() - t0
        found = parse_addresses(output)
        wired = parse_wiring(output)
        if list(found) != expected or wired != wiring_steps():
            sys.stderr.write(output)
        check_deployed_names(found, expected)
        check_wiring(wired, wiring_steps())
        check_code(url, found)
        check_slasher(url, found)
    total_s = time.monotonic() - started
    return (
        f"ape-check: ok: {len(found)} contracts deployed by Ape hold code on Anvil "
        f"({', '.join(found)}) and are wired ({', '.join(wired) or 'nothing to wire'}; "
        f"compile {compile_s:.1f} s, deploy {deploy_s:.1f} s, total {total_s:.1f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    try:
        port, link_only = parse_args(sys.argv[1:] if argv is None else argv)
        if link_only:
            solcx_dir = link_ape_solc()
            print(f"ape-setup: {solcx_dir}/solc-v{SOLC_VERSION} -> solc-js; by hand: export "
                  f"SOLCX_BINARY_PATH={solcx_dir} APE_DATA_FOLDER={APE_VENV / 'ape-data'} "
                  "ATTESTIA_APE_PORT=<port of your chain>")
            return 0
        print(ape_check(port))
    except AttestiaError as exc:
        print(f"ape-check: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
