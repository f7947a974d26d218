"""Bad input is harmless everywhere (issue 10, acceptance): for every case, ONE ``error: ...``
line on stderr, a non-zero exit, no traceback, no transaction sent and no file or key left
behind.

Most cases run the CLI in-process (``offchain.cli.main.main`` under typer's CliRunner
isolation: fast); a handful run the real entry point in a subprocess. Cases that reach a chain
use the suite's Anvil with the session deployment copied into a fresh home, so an unwanted
deployment, registration or payment shows up as a new block.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offchain.config import REPO_ROOT

SOME_ID = "0x" + "ab" * 32
NOT_A_KEYSTORE = "this is not a keystore\n"
# a key that holds no ETH on the test chain (not one of Anvil's funded dev keys)
UNFUNDED_KEY = "0x" + "42" * 32
DEV_WORKER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # dev account 1: a case's record worker
GOOD_INPUT = json.dumps({"features": [0.5] * 30})  # the demo model has 30 features


@dataclass(frozen=True)
class Case:
    """One bad invocation. ``args`` may use {pkg} (the demo package), {model} (its
    registration's id, registered for the case when ``model`` is set), {home} and {file}
    (a plain text file in the case's scratch directory)."""

    args: tuple[str, ...]
    needle: str = ""  # a phrase the error line must contain
    env: dict[str, str] = field(default_factory=dict)
    model: bool = False  # register the demo model first (inside the test's chain snapshot)
    record: bool = False  # ...and make one recorded inference, id {record}, before the run
    setup: Callable[[Path], None] | None = None  # prepares the home before the run
    subprocess: bool = False


def _request_file(home: Path, text: str) -> None:
    """The local request file of the case's recorded inference (its id in RECORD.txt)."""
    request_id = (home.parent / "RECORD.txt").read_text()
    requests = home / ".attestia" / "requests"
    requests.mkdir(parents=True)
    (requests / f"{request_id}.json").write_text(text)


def _corrupt_request(home: Path) -> None:
    _request_file(home, "{not json")


def _wrong_request(home: Path) -> None:
    _request_file(home, '{"requestId": 5, "salt": []}')


def _ok_input(home: Path) -> None:
    (home / "ok.json").write_text(GOOD_INPUT)


def _inputs(home: Path) -> None:
    (home / "notjson.json").write_text("mean radius = 3\n")
    (home / "wrong.json").write_text('{"features": {"mean radius": 14.1}}')


def _zero_roster(home: Path) -> None:
    (home / "roster.json").write_text(json.dumps([
        {"name": "alice", "address": DEV_WORKER},
        {"name": "nobody", "address": "0x" + "00" * 20}]))


def _keystore(home: Path) -> None:
    """A real keystore whose password is not the case's ATTESTIA_KEYSTORE_PASSWORD ("x")."""
    from eth_account import Account

    keystore = Account.encrypt(UNFUNDED_KEY, "not x", kdf="pbkdf2", iterations=2)
    (home / "key.json").write_text(json.dumps(keystore))


def C(*args: str, **kw) -> Case:  # noqa: N802 (a table constructor)
    return Case(tuple(args), **kw)


CASES: dict[str, Case] = {
    # usage errors: unknown options and commands, missing or ill-typed arguments
    "root-unknown-option": C("--bogus", needle="No such option"),
    "unknown-command": C("frobnicate", needle="No such command"),
    "model-unknown-subcommand": C("model", "frobnicate", needle="No such command"),
    "infer-unknown-option": C("infer", "--bogus", needle="No such option"),
    "infer-missing-model": C("infer", needle="Missing option '--model'"),
    "model-register-missing-package": C("model", "register", needle="Missing argument"),
    "model-show-missing-id": C("model", "show", needle="Missing argument"),
    "rewards-status-bad-account": C("rewards", "status", "--account", "0x12",
                                    needle="--account"),
    "rewards-verify-epoch-not-int": C("rewards", "verify", "abc", needle="epoch"),
    "rewards-claim-missing-account": C("rewards", "claim", needle="--account"),
    "worker-run-missing-model": C("worker", "run", needle="--model"),
    "revoke-worker-missing-signer": C("governance", "revoke-worker", needle="Missing argument"),
    "chain-advance-missing-duration": C("chain", "advance", needle="Missing argument"),
    "verify-missing-id": C("verify", needle="Missing argument"),
    "demo-requests-not-int": C("demo", "--requests", "abc", needle="--requests"),
    "deploy-unknown-option": C("deploy", "--bogus", needle="No such option"),
    "build-unknown-option": C("build", "--bogus", needle="No such option"),
    "attribution-unknown-option": C("attribution", "--bogus", needle="No such option"),
    "rewards-settle-extra-argument": C("rewards", "settle", "7", needle="unexpected extra"),
    "chain-up-port-not-int": C("chain", "up", "--port", "abc", needle="--port"),
    # bad addresses
    "attribution-contributor-short": C("attribution", "--contributor", "0x123",
                                       needle="--contributor"),
    "attribution-contributor-not-hex": C("attribution", "--contributor", "alice",
                                         needle="--contributor"),
    "rewards-claim-account-short": C("rewards", "claim", "--account", "0x123",
                                     needle="--account"),
    "rewards-claim-account-not-hex": C("rewards", "claim", "--account", "0x" + "zz" * 20,
                                       needle="--account"),
    "infer-worker-short": C("infer", "--model", "{pkg}", "--input", "{home}/ok.json",
                            "--worker", "0x12", model=True, needle="--worker",
                            setup=_ok_input),
    "revoke-worker-bad-address": C("governance", "revoke-worker", "0x12", needle="address"),
    "revoke-worker-not-hex": C("governance", "revoke-worker", "bob", needle="address"),
    # fees, splits, proof kinds
    "register-fee-negative": C("model", "register", "{pkg}", "--fee", "-1", needle="--fee"),
    "register-fee-huge": C("model", "register", "{pkg}", "--fee", "1e30", needle="--fee"),
    "register-fee-not-number": C("model", "register", "{pkg}", "--fee", "abc", needle="--fee"),
    "register-fee-nan": C("model", "register", "{pkg}", "--fee", "nan", needle="--fee"),
    "register-split-short": C("model", "register", "{pkg}", "--split", "1,2", needle="--split"),
    "register-proofs-unknown": C("model", "register", "{pkg}", "--proofs", "magic",
                                 needle="--proofs"),
    "set-terms-fee-negative": C("model", "set-terms", SOME_ID, "--fee", "-1", needle="--fee"),
    "set-terms-fee-huge": C("model", "set-terms", SOME_ID, "--fee", "1e30", needle="--fee"),
    "set-terms-fee-not-number": C("model", "set-terms", SOME_ID, "--fee", "abc", needle="--fee"),
    "set-terms-nothing": C("model", "set-terms", SOME_ID, needle="at least one"),
    "set-terms-not-owner": C("model", "set-terms", "{model}", "--fee", "0.002",
                             "--dev-account", "3", model=True, needle="owner"),
    # epochs
    "rewards-verify-epoch-huge": C("rewards", "verify", str(10**30), needle="epoch"),
    "rewards-verify-epoch-2-256": C("rewards", "verify", str(2**256), needle="epoch"),
    "rewards-verify-epoch-negative": C("rewards", "verify", "--", "-1", needle="epoch"),
    # ports
    "root-port-99999": C("--port", "99999", "chain", "status", needle="port"),
    "chain-up-port-99999": C("chain", "up", "--port", "99999", needle="port"),
    "chain-status-port-negative": C("chain", "status", "--port", "-1", needle="port"),
    "env-port-99999": C("chain", "status", env={"ATTESTIA_PORT": "99999"}, needle="port"),
    "env-port-not-int": C("chain", "down", env={"ATTESTIA_PORT": "eighty"}, needle="port"),
    # ATTESTIA_HOME pointing at a file
    "home-file-deploy": C("deploy", env={"ATTESTIA_HOME": "{file}"}, needle="ATTESTIA_HOME"),
    "home-file-chain-status": C("chain", "status", env={"ATTESTIA_HOME": "{file}"},
                                needle="ATTESTIA_HOME"),
    "home-file-model-show": C("model", "show", SOME_ID, env={"ATTESTIA_HOME": "{file}"},
                              needle="ATTESTIA_HOME"),
    # keys
    "keystore-text-file": C("rewards", "settle", env={"ATTESTIA_KEYSTORE": "{file}"},
                            needle="keystore"),
    "keystore-json-not-keystore": C("model", "register", "{pkg}",
                                    env={"ATTESTIA_KEYSTORE": "{home}/k.json"},
                                    setup=lambda h: (h / "k.json").write_text('{"a": 1}'),
                                    needle="keystore"),
    "keystore-missing": C("governance", "allow-measurement", "--simulated",
                          env={"ATTESTIA_KEYSTORE": "{home}/nope.json"}, needle="keystore"),
    "private-key-short": C("rewards", "settle", env={"ATTESTIA_PRIVATE_KEY": "0x12"},
                           needle="ATTESTIA_PRIVATE_KEY"),
    # corrupt local request files
    "verify-corrupt-request-file": C("verify", "{record}", model=True, record=True,
                                     setup=_corrupt_request, needle="is corrupt"),
    "verify-request-file-wrong-shape": C("verify", "{record}", model=True, record=True,
                                         setup=_wrong_request, needle="is corrupt"),
    # malformed ids
    "model-show-short-id": C("model", "show", "0x12", needle="model id"),
    "model-show-not-id": C("model", "show", "nothex", needle="package directory"),
    "attribution-short-id": C("attribution", "0x1234", needle="inference id"),
    "verify-short-id": C("verify", "0x1234", needle="0x1234"),
    "verify-batch-short-id": C("verify", "batch:0x12:3", needle="batch"),
    "verify-batch-bad-leaf": C("verify", f"batch:{SOME_ID}:abc", needle="leaf index"),
    "verify-batch-option-short": C("verify", SOME_ID, "--batch", "0x12", needle="batch"),
    "verify-salt-not-hex": C("verify", SOME_ID, "--salt", "zz", needle="--salt"),
    "allow-measurement-short": C("governance", "allow-measurement", "0x12",
                                 needle="measurement"),
    "allow-measurement-neither": C("governance", "allow-measurement", needle="--simulated"),
    "revoke-measurement-not-hex": C("governance", "revoke-measurement", "zz",
                                    needle="measurement"),
    "worker-run-model-id-short": C("worker", "run", "--model", "{pkg}", "--model-id", "0x12",
                                   needle="model id"),
    "zk-setup-model-id-short": C("model", "zk-setup", "{pkg}", "--model-id", "0x12",
                                 needle="model id"),
    "model-show-unregistered": C("model", "show", SOME_ID, needle="not registered"),
    # infer: nothing is paid for a request that cannot succeed
    "infer-timeout-negative": C("infer", "--model", "{pkg}", "--input", "{home}/ok.json",
                                "--timeout", "-5", model=True, needle="--timeout",
                                setup=_ok_input),
    "infer-input-not-json": C("infer", "--model", "{pkg}", "--input", "{home}/notjson.json",
                              model=True, setup=_inputs, needle="JSON"),
    "infer-input-wrong-names": C("infer", "--model", "{pkg}", "--input", "{home}/wrong.json",
                                 model=True, setup=_inputs, needle="mean_radius"),
    "infer-input-missing": C("infer", "--model", "{pkg}", "--input", "{home}/none.json",
                             needle="none.json"),
    "infer-model-missing-dir": C("infer", "--model", "{home}/nopkg", "--input",
                                 "{home}/ok.json", setup=_ok_input, needle="nopkg"),
    "infer-unregistered-model": C("infer", "--model", SOME_ID, "--input", "{home}/ok.json",
                                  setup=_ok_input, needle="not registered"),
    # worker run: validate everything before the first write or transaction
    "worker-run-tee-unknown": C("worker", "run", "--model", "{pkg}", "--tee", "sgx",
                                model=True, needle="--tee"),
    "worker-run-batch-size-negative": C("worker", "run", "--model", "{pkg}", "--batch-size",
                                        "-1", model=True, needle="--batch-size"),
    "worker-run-max-latency-negative": C("worker", "run", "--model", "{pkg}", "--batch-size",
                                         "4", "--max-latency", "-1", model=True,
                                         needle="--max-latency"),
    "worker-run-package-missing": C("worker", "run", "--model", "{home}/nopkg",
                                    needle="nopkg"),
    "worker-run-unregistered": C("worker", "run", "--model", "{pkg}", needle="register"),
    "worker-run-tee-measurement-not-allowed": C(
        "worker", "run", "--model", "{pkg}", "--tee", "simulated", model=True,
        needle="attestia governance allow-measurement --simulated"),
    # chain advance durations
    "chain-advance-not-duration": C("chain", "advance", "soon", needle="duration"),
    "chain-advance-zero": C("chain", "advance", "0", needle="duration"),
    "chain-advance-negative": C("chain", "advance", "-1d", needle="duration"),
    "chain-advance-too-far": C("chain", "advance", "9999w", needle="duration"),
    "chain-advance-unit": C("chain", "advance", "3y", needle="duration"),
    # packages
    "register-package-missing": C("model", "register", "{home}/nopkg", needle="nopkg"),
    "register-package-empty-dir": C("model", "register", "{home}/empty",
                                    setup=lambda h: (h / "empty").mkdir(), needle="empty"),
    "zk-setup-package-missing": C("model", "zk-setup", "{home}/nopkg", needle="nopkg"),
    "model-show-package-missing": C("model", "show", "{home}/nopkg", needle="nopkg"),
    "infer-package-option-missing": C("infer", "--model", "{model}", "--input",
                                      "{home}/ok.json", "--package", "{home}/nopkg",
                                      model=True, needle="nopkg",
                                      setup=_ok_input),
    # request, model list, worker list; the global contract options
    "request-status-short-id": C("request", "status", "0x12", needle="request id"),
    "request-wait-timeout-negative": C("request", "wait", SOME_ID, "--timeout", "-5",
                                       needle="--timeout"),
    "request-cancel-short-id": C("request", "cancel", "nothex", needle="request id"),
    "request-cancel-unknown": C("request", "cancel", SOME_ID, needle=SOME_ID[:10]),
    "request-list-bad-state": C("request", "list", "--state", "lost", needle="--state"),
    "request-missing-subcommand-arg": C("request", "status", needle="Missing argument"),
    "model-list-unknown-option": C("model", "list", "--bogus", needle="No such option"),
    "worker-list-unknown-option": C("worker", "list", "--bogus", needle="No such option"),
    "registry-bad-address": C("--registry", "0x12", "model", "list", needle="--registry"),
    "registry-no-contract": C("--registry", "0x" + "11" * 20, "rewards", "status",
                              needle="no contract"),
    "deployment-file-missing": C("--deployment", "{home}/nope.json", "model", "list",
                                 needle="nope.json"),
    "deployment-file-not-json": C("--deployment", "{file}", "worker", "list",
                                  needle="plain.txt"),
    "lens-without-registry": C("--lens", "0x" + "11" * 20, "model", "list", needle="--lens"),
    # more of every command
    "attribution-nothing": C("attribution", needle="INFERENCE_ID or --contributor"),
    "dev-account-out-of-range": C("rewards", "settle", "--dev-account", "99",
                                  needle="dev-account"),
    "infer-dev-account-negative": C("infer", "--model", "{pkg}", "--input", "{home}/ok.json",
                                    "--dev-account", "-1", model=True, setup=_ok_input,
                                    needle="dev-account"),
    "chain-down-port-99999": C("chain", "down", "--port", "99999", needle="port"),
    "build-home-file": C("build", env={"ATTESTIA_HOME": "{file}"}, needle="ATTESTIA_HOME"),
    "demo-requests-negative": C("demo", "--requests", "-1", needle="--requests"),
    "set-terms-split-bad": C("model", "set-terms", SOME_ID, "--split", "a,b,c", needle="--split"),
    "register-proofs-empty": C("model", "register", "{pkg}", "--proofs", ",", needle="--proofs"),
    "worker-run-name-escapes": C("worker", "run", "--model", "{pkg}", "--name", "../../evil",
                                 model=True, needle="--name"),
    "verify-record-input-not-json": C("verify", "{record}", "--input", "{file}", "--salt",
                                      SOME_ID, "--package", "{pkg}", model=True, record=True,
                                      needle="plain.txt"),
    "verify-tee-root-missing": C("verify", "{record}", "--tee-root", "{home}/root.pem",
                                 model=True, record=True, needle="root.pem"),
    # money and admin
    "withdraw-dev-account-out-of-range": C("withdraw", "--dev-account", "11",
                                           needle="dev-account"),
    "stake-add-bad-amount": C("worker", "stake", "add", "lots", "--signer", "0x" + "11" * 20,
                              needle="AMOUNT"),
    "stake-add-bad-signer": C("worker", "stake", "add", "0.1", "--signer", "0x12",
                              needle="--signer"),
    "stake-add-unregistered": C("worker", "stake", "add", "0.1", "--signer", "0x" + "11" * 20,
                                needle="not registered"),
    "stake-unbond-unregistered": C("worker", "stake", "unbond", "--signer", "0x" + "11" * 20,
                                   needle="not registered"),
    "stake-withdraw-missing-signer": C("worker", "stake", "withdraw", needle="--signer"),
    "model-deprecate-unknown": C("model", "deprecate", SOME_ID, needle="not registered"),
    "model-deprecate-not-owner": C("model", "deprecate", "{model}", "--dev-account", "3",
                                   model=True, needle="Unauthorized"),
    "model-revoke-without-yes": C("model", "revoke", "{model}", model=True, needle="--yes"),
    "cancel-root-not-proposed": C("rewards", "cancel-root", "5", needle="RootNotProposed"),
    "cancel-root-epoch-too-big": C("rewards", "cancel-root", str(2**64), needle="epoch"),
    "measurements-unknown-option": C("governance", "measurements", "--bogus",
                                     needle="No such option"),
    # infer pays only a live worker
    "infer-no-live-worker": C("infer", "--model", "{model}", "--package", "{pkg}", "--input",
                              "{home}/ok.json", model=True, setup=_ok_input,
                              needle="no live worker serves model"),
    "infer-worker-unregistered": C("infer", "--model", "{model}", "--package", "{pkg}",
                                   "--input", "{home}/ok.json", "--worker", "0x" + "11" * 20,
                                   model=True, setup=_ok_input,
                                   needle="is not a registered worker"),
    # zk-setup: registration, ownership and the SRS are checked before EZKL writes anything
    "zk-setup-not-registered": C("model", "zk-setup", "{pkg}", needle="is not registered by"),
    "zk-setup-not-owner": C("model", "zk-setup", "{pkg}", "--dev-account", "3", model=True,
                            needle="is not registered by"),
    "zk-setup-srs-not-an-srs": C("model", "zk-setup", "{pkg}", "--srs", "{file}",
                                 needle="is not a KZG SRS file"),
    "zk-setup-srs-missing": C("model", "zk-setup", "{pkg}", "--srs", "{home}/none.srs",
                              needle="SRS file not found"),
    # model schema
    "model-schema-missing-dir": C("model", "schema", "{home}/nopkg", needle="nopkg"),
    "model-schema-unregistered-id": C("model", "schema", SOME_ID, needle="not registered"),
    "model-schema-id-no-package": C("model", "schema", "{model}", model=True,
                                    needle="--package PATH"),
    # off-chain requests to a batching worker
    "request-submit-no-batching-worker": C("request", "submit", "--model", "{model}",
                                           "--package", "{pkg}", "--input", "{home}/ok.json",
                                           model=True, setup=_ok_input,
                                           needle="no batching worker serving model"),
    "request-submit-id-without-package": C("request", "submit", "--model", "{model}",
                                           "--input", "{home}/ok.json", model=True,
                                           setup=_ok_input, needle="--package"),
    "request-submit-timeout-zero": C("request", "submit", "--model", "{pkg}", "--input",
                                     "{home}/ok.json", "--timeout", "0", setup=_ok_input,
                                     needle="--timeout"),
    "request-submit-worker-short": C("request", "submit", "--model", "{pkg}", "--input",
                                     "{home}/ok.json", "--worker", "0x12", setup=_ok_input,
                                     needle="--worker"),
    "request-submit-input-not-json": C("request", "submit", "--model", "{pkg}", "--input",
                                       "{home}/notjson.json", setup=_inputs,
                                       needle="is not JSON"),
    "request-submit-named-worker-not-running": C(
        "request", "submit", "--model", "{model}", "--package", "{pkg}", "--input",
        "{home}/ok.json", "--worker", "0x" + "11" * 20, model=True, setup=_ok_input,
        needle="is not running in this home"),
    # issue 19: what still hurt after issue 10
    "package-roster-zero-address": C("model", "package", "{pkg}/model.onnx", "--data", "{file}",
                                     "--roster", "{home}/roster.json", "--out", "{home}/out",
                                     setup=_zero_roster, needle="zero address"),
    "register-path-too-long": C("model", "register", "{home}/" + "p" * 5000,
                                needle="too long"),
    "infer-input-path-too-long": C("infer", "--model", "{pkg}", "--input",
                                   "{home}/" + "i" * 5000 + ".json", needle="too long"),
    "infer-unfunded-key": C("infer", "--model", "{model}", "--package", "{pkg}", "--input",
                            "{home}/ok.json", "--worker", DEV_WORKER, "--force", model=True,
                            record=True, setup=_ok_input,
                            env={"ATTESTIA_PRIVATE_KEY": UNFUNDED_KEY}, needle="not enough"),
    "register-unfunded-key": C("model", "register", "{pkg}",
                               env={"ATTESTIA_PRIVATE_KEY": UNFUNDED_KEY}, needle="not enough"),
    "dispute-status-unknown-request": C("dispute", "status", SOME_ID, needle="no request"),
    "infer-private-key-broken": C("infer", "--model", "{model}", "--package", "{pkg}",
                                  "--input", "{home}/ok.json", model=True, setup=_ok_input,
                                  env={"ATTESTIA_PRIVATE_KEY": "0x" + "zz" * 32},
                                  needle="ATTESTIA_PRIVATE_KEY"),
    "worker-run-private-key-broken": C("worker", "run", "--model", "{pkg}", model=True,
                                       env={"ATTESTIA_PRIVATE_KEY": "0x" + "00" * 32},
                                       needle="ATTESTIA_PRIVATE_KEY"),
    "worker-run-keystore-broken": C("worker", "run", "--model", "{pkg}", model=True,
                                    env={"ATTESTIA_KEYSTORE": "{file}"}, needle="keystore"),
    "worker-run-keystore-wrong-password": C("worker", "run", "--model", "{pkg}", model=True,
                                            setup=_keystore, env={"ATTESTIA_KEYSTORE":
                                                                  "{home}/key.json"},
                                            needle="wrong password"),
    "request-submit-keystore-broken": C("request", "submit", "--model", "{model}", "--package",
                                        "{pkg}", "--input", "{home}/ok.json", model=True,
                                        setup=_ok_input, env={"ATTESTIA_KEYSTORE": "{file}"},
                                        needle="keystore"),
    # the real entry point
    "subprocess-unknown-option": C("rewards", "settle", "--bogus", subprocess=True,
                                   needle="No such option"),
    "subprocess-bad-account": C("rewards", "claim", "--account", "0x123", subprocess=True,
                                needle="--account"),
    "subprocess-port-99999": C("--port", "99999", "chain", "status", subprocess=True,
                               needle="port"),
    "subprocess-home-is-file": C("chain", "status", env={"ATTESTIA_HOME": "{file}"},
                                 subprocess=True, needle="ATTESTIA_HOME"),
    "subprocess-missing-argument": C("model", "show", subprocess=True,
                                     needle="Missing argument"),
    "subprocess-fee-huge": C("model", "register", "{pkg}", "--fee", "1e30", subprocess=True,
                             needle="--fee"),
}


def test_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60


@dataclass
class Outcome:
    code: int | str | None
    stdout: str
    stderr: str


def run_in_process(args: list[str], env: dict[str, str | None]) -> Outcome:
    from offchain.cli.main import main

    runner = CliRunner()
    with runner.isolation(env=env) as (out, err, _):
        code: int | str | None
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code
        except BaseException:  # noqa: BLE001 -- the test reports it as a traceback
            sys.stderr.write(traceback.format_exc())
            code = "exception"
        sys.stdout.flush()
        sys.stderr.flush()
        return Outcome(code, out.getvalue().decode(), err.getvalue().decode())


def run_subprocess(args: list[str], env: dict[str, str | None]) -> Outcome:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    full |= {k: v for k, v in env.items() if v is not None}
    full["COLUMNS"] = "200"
    done = subprocess.run([sys.executable, "-m", "offchain.cli.main", *args], cwd=REPO_ROOT,
                          env=full, capture_output=True, text=True, timeout=60)
    return Outcome(done.returncode, done.stdout, done.stderr)


def tree(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every path under the roots with its size and modification time."""
    found: dict[str, tuple[int, int]] = {}
    for root in roots:
        if root.is_file():
            st = root.stat()
            found[str(root)] = (st.st_size, st.st_mtime_ns)
            continue
        for path in root.rglob("*"):
            if path.is_symlink():
                found[str(path)] = (0, 0)
                continue
            st = path.stat()
            found[str(path)] = (st.st_size if path.is_file() else 0, st.st_mtime_ns)
    return found


def _recorded_inference(attestia, package_dir: Path, scratch: Path) -> str:
    """One paid request served by a worker (dev account 1) until recorded: its id."""
    from offchain.models import load_package
    from tests.worker.helpers import make_worker, send_demo_requests

    node = make_worker(attestia, package_dir, scratch / "worker")
    [local] = send_demo_requests(attestia, load_package(package_dir), scratch / "client", 1,
                                 worker=node.signer.address)
    node.run(until_idle=True, max_seconds=60)
    node.journal.close()
    return "0x" + local.request_id.hex()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name: str, request: pytest.FixtureRequest, tmp_path: Path, anvil,
                   attestia_home: Path, session_attestia, chain, demo_package_dir: Path
                   ) -> None:
    case = CASES[name]
    home = tmp_path / "home"
    home.mkdir()
    (home / "build").symlink_to(REPO_ROOT / "build", target_is_directory=True)
    (home / "deployments").mkdir()
    shutil.copy(attestia_home / "deployments" / f"{chain.chain_id}.json", home / "deployments")
    plain = tmp_path / "plain.txt"
    plain.write_text(NOT_A_KEYSTORE)
    model = SOME_ID
    if case.model:
        model = "0x" + request.getfixturevalue("served_model").model_id.hex()
    record = SOME_ID
    if case.record:
        record = _recorded_inference(request.getfixturevalue("attestia"), demo_package_dir,
                                     tmp_path / "scratch")
        (tmp_path / "RECORD.txt").write_text(record)
    if case.setup is not None:
        case.setup(home)
    values = {"pkg": str(demo_package_dir), "model": model, "home": str(home),
              "file": str(plain), "record": record}
    args = [a.format(**values) for a in case.args]
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ATTESTIA_")}
    env |= {"ATTESTIA_HOME": str(home), "ATTESTIA_RPC_URL": anvil.url,
            "ATTESTIA_KEYSTORE_PASSWORD": "x"}
    env |= {k: v.format(**values) for k, v in case.env.items()}

    w3 = chain.w3
    block = w3.eth.block_number
    before = tree(tmp_path, demo_package_dir)
    outcome = (run_subprocess if case.subprocess else run_in_process)(args, env)

    report = f"{name}: exit {outcome.code}\nstdout:\n{outcome.stdout}\nstderr:\n{outcome.stderr}"
    assert "Traceback" not in outcome.stdout + outcome.stderr, report
    assert outcome.code not in (0, None), report
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, report
    assert lines[0].startswith("error: "), report
    assert case.needle in lines[0], report
    assert w3.eth.block_number == block, f"{name}: a transaction was sent\n{report}"
    assert tree(tmp_path, demo_package_dir) == before, f"{name}: files changed\n{report}"
